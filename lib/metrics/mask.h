/* Segmentation and image-quality metrics (ms-score(1) gives the formulas). */
#ifndef MS_METRICS_H
#define MS_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* a growable scratch buffer a caller keeps between calls (zero-initialise it) */
typedef struct {
	void *p;
	size_t cap;
} ms_scratch;
void ms_scratch_free(ms_scratch *s);

#define MS_METRICS_MAXDIM 32767   /* largest height or width (int indices) */

/* ---- binary masks: a = prediction, b = reference, h x w bytes, nonzero = foreground */
typedef struct {
	int64_t tp, fp, fn, tn;
	double dice, iou, precision, recall, specificity, accuracy;
	double hd95, assd;   /* in units of the spacing; 0 if both empty, NAN if one is */
} ms_mask_score;

/* all metrics; sy, sx: pixel spacing (rows, columns) > 0; ws may be NULL. The boundary
 * of a mask: its foreground pixels with a 4-neighbour that is background or outside */
int ms_mask_compare(const uint8_t *a, const uint8_t *b, int h, int w, double sy, double sx,
                    ms_scratch *ws, ms_mask_score *s);
/* Dice of the masks a > ta and b > tb, n values each (1 if both are empty), for
 * validation during training where maps are thresholded on the fly */
double ms_dice_above(const float *a, float ta, const float *b, float tb, size_t n);
/* exact squared Euclidean distance from every pixel to the nearest nonzero pixel of feat
 * (INFINITY if feat is empty), spacing sy, sx (Felzenszwalb-Huttenlocher, O(hw)) */
int ms_edt_sq(const uint8_t *feat, int h, int w, double sy, double sx, double *d2);
/* q-quantile (q in [0,1]) with linear interpolation between order statistics
 * (numpy's default); reorders v; NAN if n == 0 */
double ms_quantile(double *v, size_t n, double q);

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

/* ---- summary of a column of values: NaN values are left out (n counts the others);
 * population std; median as ms_quantile(0.5); NaN statistics when n is 0 */
typedef struct {
	double mean, std, median;
	size_t n;
} ms_summary;
int ms_summary_compute(const double *v, size_t n, ms_summary *s);

#endif
