/* Resampling and intensity clipping of tensors (resize.c). */
#ifndef MS_RESIZE_H
#define MS_RESIZE_H

#include <stddef.h>
#include <stdint.h>
#include "core/tensor.h"

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

#endif
