/* Image files and resampling: PNG <-> tensors, resize, intensity clipping. */
#ifndef MS_IO_H
#define MS_IO_H

#include "core/ms.h"

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

/* Resize a [C,H,W] or [H,W] tensor to h x w into out (allocated here).
 * bilinear: f32 only, pixel centres aligned ((x + 0.5) * in / out - 0.5), edges clamped,
 * no antialiasing (as OpenCV INTER_LINEAR on f32). nearest: any dtype, source pixel
 * floor((x + 0.5) * in / out) (as PyTorch's nearest-exact). */
int ms_resize_bilinear(const ms_tensor *in, int64_t h, int64_t w, ms_tensor *out);
int ms_resize_nearest(const ms_tensor *in, int64_t h, int64_t w, ms_tensor *out);
/* the source index (bilinear: i0, i1 and weight f of i1) of output index i along an
 * axis of n_in resized to n_out, as the two functions above use them */
void ms_lin_coord(int64_t i, int64_t n_in, int64_t n_out, int64_t *i0, int64_t *i1, float *f);
int64_t ms_near_coord(int64_t i, int64_t n_in, int64_t n_out);

/* The plo and phi percentiles (0..100, linear interpolation between order statistics as
 * numpy.percentile's default) of the finite values of v; -1 if there are none. */
int ms_percentiles(const float *v, size_t n, double plo, double phi, float *lo, float *hi);
/* Clip v to [lo, hi] and map it linearly to [0, 1]; non-finite values become 0, and
 * everything becomes 0 when hi <= lo. */
void ms_rescale(float *v, size_t n, float lo, float hi);

/* A record as u8 or u16 [C,H,W] pixels for an image file: f32 clipped to [0,1] and
 * scaled to 8 bits (16 with bits16), rounding to nearest; integers: max <= 1 scaled by
 * 255, max <= 255 as 8 bits, else as 16 bits; values outside 0..65535 are an error. */
int ms_tensor_to_pixels(const ms_tensor *t, int bits16, ms_tensor *out);

/* Contact sheets: a row per sample, a cell per displayable record ([H,W], [1,H,W],
 * [3,H,W]); in each row the first image, then that image with the outline of the first
 * mask, then the other records. Cells are cell x cell pixels (0: the largest record).
 * With labels, a strip above the cells names each column's records and a margin left of
 * them gives each row's sample id (ms-export(1) gives the layout). */
typedef struct ms_montage ms_montage;
ms_montage *ms_montage_new(int cell, int labels);
int ms_montage_add(ms_montage *m, const ms_rec *r, int new_row);
int ms_montage_rows(const ms_montage *m);
int ms_montage_write(ms_montage *m, const char *path);   /* PNG, atomically */
void ms_montage_free(ms_montage *m);

#endif
