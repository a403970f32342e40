/* Classical augmentation for segmentor training: one affine warp for image and mask,
 * intensity changes for the image (nnU-Net's order: noise, blur, brightness, contrast,
 * gamma). */
#include <math.h>
#include <string.h>

#include "core/rng.h"
#include "core/util.h"
#include "image/augment.h"
#include "image/image.h"

const char *const ms_aug_names[] = { "none", "flips", "strong", NULL };

int ms_aug_parse(const char *s)
{
	return ms_name_index(s, ms_aug_names, 3);
}

const char *ms_aug_name(int level)
{
	return level >= 0 && level < 3 ? ms_aug_names[level] : "?";
}

void ms_aug_level(ms_aug_opt *o, int level)
{
	memset(o, 0, sizeof *o);
	o->scale_lo = o->scale_hi = o->bright_lo = o->bright_hi = 1;
	o->contrast_lo = o->contrast_hi = o->gamma_lo = o->gamma_hi = 1;
	if (level < MS_AUG_STRONG)
		return;
	/* nnU-Net's 2D defaults, but rotation within +-30 degrees (ultrasound and endoscopy
	 * images have an upright) and a translation, which its random crops provide there */
	o->p_scale = 0.2, o->scale_lo = 0.7, o->scale_hi = 1.4;
	o->p_rot = 0.2, o->rot_deg = 30;
	o->p_shift = 0.2, o->shift = 0.1;
	o->p_bright = 0.15, o->bright_lo = 0.75, o->bright_hi = 1.25;
	o->p_contrast = 0.15, o->contrast_lo = 0.75, o->contrast_hi = 1.25;
	o->p_gamma = 0.3, o->gamma_lo = 0.7, o->gamma_hi = 1.5;
	o->p_noise = 0.1, o->noise_hi = 0.05;
	o->p_blur = 0.2, o->blur_lo = 0.5, o->blur_hi = 1.0;
}

/* a value in [lo, hi] with probability p, else off; always two draws */
static double maybe(ms_rng *r, double p, double lo, double hi, double off)
{
	double u = ms_rng_uniform(r), v = ms_rng_uniform(r);
	return u < p ? lo + (hi - lo) * v : off;
}

void ms_aug_sample(const ms_aug_opt *o, int fh, int fv, int H, int W, ms_rng *r,
                   ms_aug_draw *d)
{
	double s = maybe(r, o->p_scale, o->scale_lo, o->scale_hi, 1);
	double th = maybe(r, o->p_rot, -o->rot_deg, o->rot_deg, 0) * M_PI / 180;
	double tx = maybe(r, o->p_shift, -o->shift, o->shift, 0) * W;
	double ty = maybe(r, o->p_shift, -o->shift, o->shift, 0) * H;
	/* gamma: half the draws below 1, half above, as nnU-Net does */
	double g = maybe(r, o->p_gamma, 0, 1, -1);
	d->bright = maybe(r, o->p_bright, o->bright_lo, o->bright_hi, 1);
	d->contrast = maybe(r, o->p_contrast, o->contrast_lo, o->contrast_hi, 1);
	d->noise = maybe(r, o->p_noise, 0, o->noise_hi, 0);
	d->blur = maybe(r, o->p_blur, o->blur_lo, o->blur_hi, 0);
	d->noise_seed = ((uint64_t)ms_rng_u32(r) << 32) | ms_rng_u32(r);
	d->gamma = g < 0 ? 1 : g < 0.5 ? o->gamma_lo + (1 - o->gamma_lo) * 2 * g
	                             : 1 + (o->gamma_hi - 1) * (2 * g - 1);
	double c = cos(th) / s, sn = sin(th) / s, sx = fh ? -1 : 1, sy = fv ? -1 : 1;
	d->a[0] = c * sx, d->a[1] = -sn * sy, d->a[2] = (W - 1) / 2.0 + tx;
	d->a[3] = sn * sx, d->a[4] = c * sy, d->a[5] = (H - 1) / 2.0 + ty;
	d->affine = s != 1 || th != 0 || tx != 0 || ty != 0;
}

static float at(const float *p, int H, int W, int y, int x)
{
	return y < 0 || y >= H || x < 0 || x >= W ? 0 : p[(size_t)y * W + x];
}

void ms_aug_warp(const ms_aug_draw *d, int C, int H, int W, const float *src, float *dst,
                 int mask)
{
	size_t hw = (size_t)H * W;
	const double *a = d->a;
	for (int c = 0; c < C; c++) {
		const float *s = src + c * hw;
		float *o = dst + c * hw;
		if (!d->affine) {             /* flips only: an exact copy */
			for (int y = 0; y < H; y++) {
				const float *row = s + (size_t)(a[4] < 0 ? H - 1 - y : y) * W;
				for (int x = 0; x < W; x++)
					o[(size_t)y * W + x] = row[a[0] < 0 ? W - 1 - x : x];
			}
			continue;
		}
		for (int y = 0; y < H; y++) {
			double dy = y - (H - 1) / 2.0;
			for (int x = 0; x < W; x++) {
				double dx = x - (W - 1) / 2.0;
				double u = a[0] * dx + a[1] * dy + a[2], v = a[3] * dx + a[4] * dy + a[5];
				double fu = floor(u), fv = floor(v);
				int x0 = (int)fu, y0 = (int)fv;
				float wx = (float)(u - fu), wy = (float)(v - fv);
				float val;
				if (u < -1 || v < -1 || u > W || v > H)
					val = 0;
				else
					val = (1 - wy) * ((1 - wx) * at(s, H, W, y0, x0) + wx * at(s, H, W, y0, x0 + 1)) +
					      wy * ((1 - wx) * at(s, H, W, y0 + 1, x0) + wx * at(s, H, W, y0 + 1, x0 + 1));
				o[(size_t)y * W + x] = mask ? val >= 0.5f : val;
			}
		}
	}
}

void ms_aug_intensity(const ms_aug_draw *d, int C, int H, int W, float *img, float *tmp)
{
	size_t hw = (size_t)H * W;
	if (d->noise > 0) {
		ms_rng r;
		ms_rng_init(&r, d->noise_seed, 0);
		for (size_t i = 0; i < (size_t)C * hw; i++)
			img[i] += (float)d->noise * ms_rng_normal(&r);
	}
	if (d->blur > 0) {
		float k[64];
		int rad = ms_gauss_radius(d->blur < 10 ? d->blur : 10);
		ms_gauss_kernel(d->blur < 10 ? d->blur : 10, k);
		for (int c = 0; c < C; c++) {
			float *p = img + c * hw;
			for (int y = 0; y < H; y++)
				ms_gauss_row(p, H, W, y, k, rad, tmp + hw, tmp + (size_t)y * W);
			memcpy(p, tmp, hw * sizeof *p);
		}
	}
	if (d->bright != 1)
		for (size_t i = 0; i < (size_t)C * hw; i++)
			img[i] *= (float)d->bright;
	if (d->contrast == 1 && d->gamma == 1)
		return;
	for (int c = 0; c < C; c++) {       /* both keep each plane's range */
		float *p = img + c * hw, lo = p[0], hi = p[0];
		double mean = 0;
		for (size_t i = 0; i < hw; i++) {
			lo = p[i] < lo ? p[i] : lo;
			hi = p[i] > hi ? p[i] : hi;
			mean += p[i];
		}
		mean /= hw;
		if (d->contrast != 1)
			for (size_t i = 0; i < hw; i++) {
				float v = (float)((p[i] - mean) * d->contrast + mean);
				p[i] = v < lo ? lo : v > hi ? hi : v;
			}
		if (d->gamma != 1 && hi > lo)
			for (size_t i = 0; i < hw; i++)
				p[i] = lo + (hi - lo) * powf((p[i] - lo) / (hi - lo), (float)d->gamma);
	}
}
