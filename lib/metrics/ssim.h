/* Image-quality metrics: PSNR, SSIM, MS-SSIM (ssim.c; ms-score(1) gives the formulas). */
#ifndef MS_SSIM_H
#define MS_SSIM_H

#include <stddef.h>

#include "metrics/scratch.h"

/* ---- images: f32 [c,h,w], data range 1 */
#define MS_SSIM_WIN 11          /* Gaussian window 11 x 11, sigma 1.5 */
#define MS_MSSSIM_SCALES 5
double ms_psnr(const float *a, const float *b, size_t n);   /* INFINITY if equal */
/* how many MS-SSIM scales an h x w image allows (at most 5, 0 if h or w < 11) */
int ms_msssim_scales(int h, int w);
/* mean SSIM over the valid window positions, averaged over channels; -1 if h or w < 11 */
int ms_ssim(const float *a, const float *b, int c, int h, int w, double *ssim);
int ms_msssim(const float *a, const float *b, int c, int h, int w, double *msssim);

/* an image prepared for many comparisons: its pyramid, local means and variances */
typedef struct {
	int c, h, w, m;       /* channels, size, MS-SSIM scales */
	double *data;
} ms_ssim_img;
int ms_ssim_img_init(ms_ssim_img *p, const float *x, int c, int h, int w);
void ms_ssim_img_free(ms_ssim_img *p);      /* NULL-safe */
size_t ms_ssim_img_bytes(int c, int h, int w);
/* SSIM and MS-SSIM (either pointer may be NULL) of two images of the same shape;
 * ws may be NULL */
int ms_ssim_compare(const ms_ssim_img *a, const ms_ssim_img *b, ms_scratch *ws, double *ssim,
                    double *msssim);
/* MS-SSIM of every pair i < j of n images of one shape, into out[n(n-1)/2] in the order
 * (0,1), (0,2) ... (0,n-1), (1,2) ...; holds at most about 256 MiB of prepared images */
int ms_msssim_pairs(const float *const *img, size_t n, int c, int h, int w, double *out);

#endif
