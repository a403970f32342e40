/* PNG files <-> tensors (png.c). */
#ifndef MS_PNG_H
#define MS_PNG_H

#include <stddef.h>
#include <stdint.h>
#include "core/tensor.h"

#define MS_PNG_MAX_DIM 65535              /* width and height limit when reading */
#define MS_PNG_MAX_BYTES ((size_t)1 << 30) /* decoded pixel bytes limit when reading */

/* Read a PNG file into t: u8 (bit depth <= 8) or u16 (16 bits), shape [C,H,W].
 * Grey and grey+alpha give C = 1, RGB, RGBA and palette give C = 3: palettes are
 * expanded to RGB, grey below 8 bits is scaled to 8 (v * 255 / (2^bits - 1)), alpha and
 * tRNS are dropped (not composited), no gamma correction. bits gets the file's bit depth
 * (may be NULL); spacing gets "sy,sx" in mm from a pHYs chunk in metres, else {0, 0}
 * (may be NULL). -1 + ms_errmsg() on error; libpng never prints. */
int ms_png_read(const char *path, ms_tensor *t, int *bits, double spacing[2]);
/* Write a u8 or u16 tensor [H,W] or [C,H,W] (C = 1 grey, C = 3 RGB) as an 8- or 16-bit
 * PNG, atomically (ms_outfile). spacing (mm, sy,sx) may be NULL; else a pHYs chunk. */
int ms_png_write(const char *path, const ms_tensor *t, const double *spacing);

/* Reading a PNG file for import without holding it at full resolution in f32. */
typedef struct {
	int64_t h, w;      /* resize to h x w (both or neither); 0: keep the file's size */
	int mask;          /* 0: an image, f32 [C,H,W] v/255 or v/65535 (ms_tensor_to_f32),
	                    * bilinear; 1: a mask, u8 [1,H,W], 1 where any channel is not 0,
	                    * nearest */
	int clip;          /* images: ms_percentiles plo..phi of the full-resolution values,
	                    * then ms_rescale, before resizing */
	double plo, phi;
	size_t max_bytes;  /* decoded pixels (8 or 16 bits) allowed; 0: MS_PNG_MAX_BYTES */
} ms_png_opts;
/* The same values, byte for byte, as ms_png_read, the conversion, clipping and
 * ms_resize_bilinear / ms_resize_nearest in turn, but decoded row by row: only the
 * output and a few rows are held. Interlaced files, and images with clip, are held whole
 * at 8 or 16 bits.
 * size gets the file's height and width, fg (may be NULL) the foreground pixels of a
 * mask at full resolution, spacing as ms_png_read. -1 + ms_errmsg() on error, -2 when
 * the image holds more than max_bytes of pixels (nothing decoded). */
int ms_png_read_scaled(const char *path, const ms_png_opts *o, ms_tensor *t, int64_t size[2],
                       double spacing[2], int64_t *fg);

#endif
