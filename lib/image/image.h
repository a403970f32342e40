/* Image operations on one-channel float planes (image.c).
 * Planes are row-major h x w floats; "reflect" borders repeat the edge pixel
 * (d c b a | a b c d, numpy 'symmetric', scipy.ndimage 'reflect'). */
#ifndef MS_IMAGE_H
#define MS_IMAGE_H

#include "core/tensor.h"

/* ITU-R BT.601 luma, as OpenCV's cvtColor RGB2GRAY */
#define MS_LUMA_R 0.299f
#define MS_LUMA_G 0.587f
#define MS_LUMA_B 0.114f

/* size of an image tensor [C,H,W] or [H,W]; -1 unless h, w >= 1 and c h w and
 * (h + 2)(w + 2) (a padded plane) are below 2^31 */
int ms_image_dims(const ms_tensor *t, int *c, int *h, int *w);
/* luma of an image [C,H,W] (C = 1: the plane itself, C = 3: RGB, BT.601 weights);
 * u8 and u16 values are scaled to [0,1], f32 and i32 taken as they are */
int ms_image_luma(const ms_tensor *img, float *out);
/* index i mirrored into 0..n-1 with the reflect rule, any i */
int ms_mirror(int i, int n);
/* Gaussian: radius r = ceil(3 sigma) (0 for sigma = 0), taps exp(-x^2 / 2 sigma^2)
 * for x = -r..r normalised to sum 1; k holds 2r+1 floats */
int ms_gauss_radius(double sigma);
void ms_gauss_kernel(double sigma, float *k);
/* one output row y of the separable Gaussian (vertical pass, then horizontal), reflect
 * borders; tmp holds w + 2r floats; in and out must not overlap */
void ms_gauss_row(const float *in, int h, int w, int y, const float *k, int r,
                  float *tmp, float *out);
/* whole plane; in != out; -1 on allocation failure */
int ms_image_gauss(const float *in, float *out, int h, int w, double sigma);
/* gradient magnitude sqrt(gx^2 + gy^2) with a 3x3 Sobel (scharr = 0: smoothing 1,2,1)
 * or Scharr (scharr = 1: 3,10,3) pair, borders repeated */
void ms_image_gradmag(const float *in, int h, int w, int scharr, float *out);
/* divide by the maximum (nothing when the maximum is not positive) */
void ms_image_normmax(float *a, size_t n);
/* mask band: 1 where the label map convolved with the complex Scharr kernel
 * [[-3-3j,-10j,3-3j],[-10,0,10],[-3+3j,10j,3+3j]] (symmetric padding) is nonzero,
 * else 0; label is [1,H,W] or [H,W] of any dtype */
int ms_mask_band(const ms_tensor *label, float *out);

#endif
