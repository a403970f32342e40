/* Classical data augmentation for training a segmentor, in the spirit of nnU-Net's
 * defaults (Isensee et al., Nature Methods 2021): image and mask go through one affine
 * map (flips, scaling, rotation, translation), the image alone through brightness,
 * contrast, gamma, Gaussian noise and Gaussian blur. Every draw comes from the caller's
 * generator, so a seed and a step give the same batch on any number of threads. */
#ifndef MS_AUGMENT_H
#define MS_AUGMENT_H

#include "core/rng.h"

enum { MS_AUG_NONE, MS_AUG_FLIPS, MS_AUG_STRONG };
/* the levels' names, NULL-terminated (a tool's option table takes them) */
extern const char *const ms_aug_names[];
int ms_aug_parse(const char *s);          /* "none" "flips" "strong"; -1 if unknown */
const char *ms_aug_name(int level);

/* probabilities and ranges; ms_aug_level fills them for a level */
typedef struct {
	double p_scale, scale_lo, scale_hi;
	double p_rot, rot_deg;        /* angle uniform in [-rot_deg, rot_deg] */
	double p_shift, shift;        /* each axis, uniform in [-shift, shift] of the size */
	double p_bright, bright_lo, bright_hi;    /* multiply */
	double p_contrast, contrast_lo, contrast_hi;
	double p_gamma, gamma_lo, gamma_hi;
	double p_noise, noise_hi;     /* sigma uniform in [0, noise_hi] */
	double p_blur, blur_lo, blur_hi;
} ms_aug_opt;
void ms_aug_level(ms_aug_opt *o, int level);

/* one draw: out(y, x) = in(a[0] dx + a[1] dy + a[2], a[3] dx + a[4] dy + a[5]) with
 * dx = x - (W-1)/2, dy = y - (H-1)/2; the intensity factors are 1 (or 0) when not drawn */
typedef struct {
	int affine;                   /* 0: a is a pure flip (exact copy) */
	double a[6];
	double bright, contrast, gamma, noise, blur;
	uint64_t noise_seed;
} ms_aug_draw;
/* fh, fv: flip horizontally, vertically (drawn by the caller: 0.5 each in ms-segment) */
void ms_aug_sample(const ms_aug_opt *o, int fh, int fv, int H, int W, ms_rng *r,
                   ms_aug_draw *d);

/* warps C planes H x W from src to dst (no overlap): bilinear, zero outside; mask = 1
 * thresholds the result at 0.5 (a 0/1 mask stays 0/1) */
void ms_aug_warp(const ms_aug_draw *d, int C, int H, int W, const float *src, float *dst,
                 int mask);
/* the intensity changes on an image [C,H,W] in place; tmp holds H W + W + 16 floats */
void ms_aug_intensity(const ms_aug_draw *d, int C, int H, int W, float *img, float *tmp);

#endif
