/* Segmentor augmentation: exact flips and rotations, masks stay binary, draw
 * frequencies, intensity changes against hand-computed values, determinism. */
#include <string.h>

#include "core/ms.h"
#include "image/augment.h"
#include "test.h"

enum { H = 6, W = 6 };

static void ramp(float *p)
{
	for (int i = 0; i < H * W; i++)
		p[i] = (float)(i % 7) / 7 + (float)i / 100;
}

static void test_flips(void)
{
	ms_aug_opt o;
	ms_aug_level(&o, MS_AUG_NONE);
	float src[H * W], dst[H * W];
	ramp(src);
	for (int f = 0; f < 4; f++) {
		ms_rng r;
		ms_aug_draw d;
		ms_rng_init(&r, 1, f);
		ms_aug_sample(&o, f & 1, f >> 1, H, W, &r, &d);
		CHECK(!d.affine);
		ms_aug_warp(&d, 1, H, W, src, dst, 0);
		int ok = 1;
		for (int y = 0; y < H; y++)
			for (int x = 0; x < W; x++)
				ok &= dst[y * W + x] == src[(f >> 1 ? H - 1 - y : y) * W + (f & 1 ? W - 1 - x : x)];
		CHECK(ok);
		/* the affine path with the same matrix gives the same pixels */
		d.affine = 1;
		float dst2[H * W];
		ms_aug_warp(&d, 1, H, W, src, dst2, 0);
		CHECK(!memcmp(dst, dst2, sizeof dst));
		ms_aug_intensity(&d, 1, H, W, dst2, NULL);   /* nothing drawn: unchanged */
		CHECK(!memcmp(dst, dst2, sizeof dst));
	}
}

/* a quarter turn maps pixel centres onto pixel centres: the warp is an exact rotation */
static void test_rotation(void)
{
	float src[H * W], dst[H * W];
	ramp(src);
	ms_aug_draw d = { .affine = 1, .a = { 0, -1, (W - 1) / 2.0, 1, 0, (H - 1) / 2.0 },
	                  .bright = 1, .contrast = 1, .gamma = 1 };
	ms_aug_warp(&d, 1, H, W, src, dst, 0);
	int ok = 1;
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++)   /* in = (u, v) = (-dy + cx, dx + cy) */
			ok &= fabsf(dst[y * W + x] - src[x * W + (W - 1 - y)]) < 1e-6f;
	CHECK(ok);
	/* a half-pixel shift averages two neighbours; outside is zero */
	ms_aug_draw s = { .affine = 1, .a = { 1, 0, (W - 1) / 2.0 + 0.5, 0, 1, (H - 1) / 2.0 },
	                  .bright = 1, .contrast = 1, .gamma = 1 };
	ms_aug_warp(&s, 1, H, W, src, dst, 0);
	CHECK_NEAR(dst[2 * W + 1], (src[2 * W + 1] + src[2 * W + 2]) / 2, 1e-6);
	CHECK_NEAR(dst[2 * W + W - 1], src[2 * W + W - 1] / 2, 1e-6);
}

static void test_mask_binary(void)
{
	ms_aug_opt o;
	ms_aug_level(&o, MS_AUG_STRONG);
	o.p_scale = o.p_rot = o.p_shift = 1;
	float m[H * W], out[H * W];
	for (int i = 0; i < H * W; i++)
		m[i] = (i / W >= 2 && i / W < 5 && i % W >= 1 && i % W < 4);
	int some = 0;
	for (int k = 0; k < 50; k++) {
		ms_rng r;
		ms_aug_draw d;
		ms_rng_init(&r, 7, k);
		ms_aug_sample(&o, 0, 0, H, W, &r, &d);
		CHECK(d.affine);
		ms_aug_warp(&d, 1, H, W, m, out, 1);
		int ok = 1;
		for (int i = 0; i < H * W; i++) {
			ok &= out[i] == 0 || out[i] == 1;
			some += out[i] == 1;
		}
		CHECK(ok);
	}
	CHECK(some > 0);
}

/* each change is drawn with its documented probability; same stream, same draw */
static void test_frequencies(void)
{
	ms_aug_opt o;
	ms_aug_level(&o, MS_AUG_STRONG);
	int n = 20000, scale = 0, rot = 0, bright = 0, gam_lo = 0, gam_hi = 0, noise = 0, blur = 0;
	for (int k = 0; k < n; k++) {
		ms_rng r, r2;
		ms_aug_draw d, d2;
		ms_rng_init(&r, 3, k);
		ms_rng_init(&r2, 3, k);
		ms_aug_sample(&o, 0, 0, 64, 64, &r, &d);
		ms_aug_sample(&o, 0, 0, 64, 64, &r2, &d2);
		if (k < 100)
			CHECK(!memcmp(&d, &d2, sizeof d));
		double det = d.a[0] * d.a[4] - d.a[1] * d.a[3], s = 1 / sqrt(det);
		scale += fabs(s - 1) > 1e-12;
		rot += fabs(d.a[3]) > 1e-12;
		CHECK(s >= o.scale_lo - 1e-9 && s <= o.scale_hi + 1e-9);
		bright += d.bright != 1;
		gam_lo += d.gamma < 1;
		gam_hi += d.gamma > 1;
		noise += d.noise > 0;
		blur += d.blur > 0;
		CHECK(d.gamma >= o.gamma_lo && d.gamma <= o.gamma_hi);
		CHECK(d.noise <= o.noise_hi && (d.blur == 0 || (d.blur >= o.blur_lo && d.blur <= o.blur_hi)));
	}
	double tol = 4 * sqrt(0.25 / n);
	CHECK_NEAR((double)scale / n, o.p_scale, tol);
	CHECK_NEAR((double)rot / n, o.p_rot, tol);
	CHECK_NEAR((double)bright / n, o.p_bright, tol);
	CHECK_NEAR((double)gam_lo / n, o.p_gamma / 2, tol);
	CHECK_NEAR((double)gam_hi / n, o.p_gamma / 2, tol);
	CHECK_NEAR((double)noise / n, o.p_noise, tol);
	CHECK_NEAR((double)blur / n, o.p_blur, tol);
}

static void test_intensity(void)
{
	float img[2 * H * W], ref[2 * H * W], tmp[H * W + W + 64];
	ramp(img);
	ramp(img + H * W);
	memcpy(ref, img, sizeof img);
	float lo = ref[0], hi = ref[0];
	double mean = 0;
	for (int i = 0; i < H * W; i++) {
		lo = fminf(lo, ref[i]);
		hi = fmaxf(hi, ref[i]);
		mean += ref[i];
	}
	mean /= H * W;
	ms_aug_draw d = { .bright = 1, .contrast = 1.5, .gamma = 2 };
	ms_aug_intensity(&d, 2, H, W, img, tmp);
	int ok = 1;
	for (int i = 0; i < 2 * H * W; i++) {
		double v = (ref[i] - mean) * 1.5 + mean;
		v = v < lo ? lo : v > hi ? hi : v;
		/* the gamma uses the range after contrast, which contrast keeps */
		v = lo + (hi - lo) * pow((v - lo) / (hi - lo), 2);
		ok &= fabs(img[i] - v) < 1e-5;
	}
	CHECK(ok);
	/* brightness multiplies; blur of a constant plane is that constant (reflect borders) */
	for (int i = 0; i < H * W; i++)
		img[i] = 0.25f;
	ms_aug_draw b = { .bright = 1.2, .contrast = 1, .gamma = 1, .blur = 0.8 };
	ms_aug_intensity(&b, 1, H, W, img, tmp);
	ok = 1;
	for (int i = 0; i < H * W; i++)
		ok &= fabsf(img[i] - 0.3f) < 1e-6f;
	CHECK(ok);
	/* noise: the documented sigma, from its own stream */
	static float big[64 * 64], t2[64 * 64 + 64 + 64];
	ms_aug_draw z = { .bright = 1, .contrast = 1, .gamma = 1, .noise = 0.05, .noise_seed = 9 };
	ms_aug_intensity(&z, 1, 64, 64, big, t2);
	double s2 = 0;
	for (int i = 0; i < 64 * 64; i++)
		s2 += big[i] * big[i];
	CHECK_NEAR(sqrt(s2 / (64 * 64)), 0.05, 0.003);
}

int main(void)
{
	RUN(test_flips);
	RUN(test_rotation);
	RUN(test_mask_binary);
	RUN(test_frequencies);
	RUN(test_intensity);
	CHECK(ms_aug_parse("strong") == MS_AUG_STRONG && ms_aug_parse("flips") == MS_AUG_FLIPS &&
	      ms_aug_parse("none") == MS_AUG_NONE && ms_aug_parse("x") < 0);
	return test_summary("test_augment");
}
