/* Records as pictures: pixels for image files, contact sheets (picture.c). */
#ifndef MS_PICTURE_H
#define MS_PICTURE_H

#include "core/tensor.h"
#include "io/stream.h"

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
