/* Metrics: EDT, boundary distances and quantiles against brute force; overlap scores and
 * empty-mask rules on small cases; PSNR, SSIM and MS-SSIM identities and scale counts.
 * (Agreement with scipy/skimage on real data: tests/32-score.bats.) */
#include <string.h>

#include "core/ms.h"
#include "metrics/mask.h"
#include "metrics/scratch.h"
#include "metrics/ssim.h"
#include "metrics/stats.h"
#include "test.h"

static ms_rng rng;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* random blobs: a few filled rectangles and discs, or sparse dots */
static void random_mask(uint8_t *m, int h, int w, int dots)
{
	memset(m, 0, (size_t)h * w);
	if (dots) {
		for (int i = 0; i < h * w; i++)
			m[i] = ms_rng_uniform(&rng) < 0.05 ? (uint8_t)(1 + ms_rng_below(&rng, 255)) : 0;
		return;
	}
	int nb = 1 + (int)ms_rng_below(&rng, 3);
	for (int k = 0; k < nb; k++) {
		int cy = (int)ms_rng_below(&rng, h), cx = (int)ms_rng_below(&rng, w);
		int r = 1 + (int)ms_rng_below(&rng, h / 3 + 1);
		for (int y = 0; y < h; y++)
			for (int x = 0; x < w; x++)
				if ((y - cy) * (y - cy) + (x - cx) * (x - cx) <= r * r ||
				    (k == 0 && abs(y - cy) < r / 2 + 1 && abs(x - cx) < r))
					m[y * w + x] = 1;
	}
}

static int boundary_px(const uint8_t *m, int h, int w, int y, int x)
{
	if (!m[y * w + x])
		return 0;
	return y == 0 || y == h - 1 || x == 0 || x == w - 1 || !m[(y - 1) * w + x] ||
	       !m[(y + 1) * w + x] || !m[y * w + x - 1] || !m[y * w + x + 1];
}

/* brute-force HD95 and ASSD from the definitions */
static void brute(const uint8_t *a, const uint8_t *b, int h, int w, double sy, double sx,
                  double *hd95, double *assd)
{
	double *d = malloc(2 * (size_t)h * w * sizeof *d);
	size_t n = 0;
	for (int dir = 0; dir < 2; dir++) {
		const uint8_t *p = dir ? b : a, *q = dir ? a : b;
		for (int y = 0; y < h; y++)
			for (int x = 0; x < w; x++) {
				if (!boundary_px(p, h, w, y, x))
					continue;
				double best = INFINITY;
				for (int v = 0; v < h; v++)
					for (int u = 0; u < w; u++)
						if (boundary_px(q, h, w, v, u)) {
							double dy = sy * (v - y), dx = sx * (u - x);
							best = fmin(best, dy * dy + dx * dx);
						}
				d[n++] = sqrt(best);
			}
	}
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += d[i];
	qsort(d, n, sizeof *d, cmp_double);
	double pos = 0.95 * (n - 1);
	size_t k = (size_t)pos;
	*hd95 = k + 1 < n ? d[k] + (d[k + 1] - d[k]) * (pos - k) : d[k];
	*assd = sum / n;
	free(d);
}

static void test_edt(void)
{
	enum { H = 23, W = 37 };
	uint8_t m[H * W];
	double d2[H * W];
	for (int t = 0; t < 20; t++) {
		double sy = t % 2 ? 0.7 : 1, sx = t % 3 ? 1.3 : 1;
		random_mask(m, H, W, t % 4 == 0);
		CHECK(ms_edt_sq(m, H, W, sy, sx, d2) == 0);
		double err = 0;
		for (int y = 0; y < H; y++)
			for (int x = 0; x < W; x++) {
				double best = INFINITY;
				for (int v = 0; v < H; v++)
					for (int u = 0; u < W; u++)
						if (m[v * W + u])
							best = fmin(best, sy * sy * (v - y) * (v - y) +
							                  sx * sx * (u - x) * (u - x));
				err = fmax(err, fabs(best - d2[y * W + x]));
			}
		CHECK_NEAR(err, 0, 1e-9);
	}
	memset(m, 0, sizeof m);
	CHECK(ms_edt_sq(m, H, W, 1, 1, d2) == 0);
	CHECK(isinf(d2[0]) && isinf(d2[H * W - 1]));
}

static void test_surface_distances(void)
{
	ms_scratch ws = { 0 };
	/* sizes not multiples of 8; spacings; blobs (column scans) and dots (EDT fallback) */
	static const int sizes[][2] = { { 31, 45 }, { 17, 9 }, { 64, 61 }, { 5, 70 } };
	for (int t = 0; t < 40; t++) {
		int h = sizes[t % 4][0], w = sizes[t % 4][1];
		uint8_t *a = malloc((size_t)h * w), *b = malloc((size_t)h * w);
		double sy = t % 2 ? 0.5 : 1, sx = t % 5 ? 1 : 2.5, hd, assd;
		random_mask(a, h, w, t % 3 == 0);
		random_mask(b, h, w, 0);
		if (t % 7 == 6)   /* a far from b: a dotted left strip, b one pixel at the right */
			for (int y = 0; y < h; y++)
				for (int x = 0; x < w; x++) {
					a[y * w + x] = x < w / 4 && (x + y) % 2;
					b[y * w + x] = y == h / 2 && x == w - 1;
				}
		ms_mask_score s;
		CHECK(ms_mask_compare(a, b, h, w, sy, sx, t % 2 ? &ws : NULL, &s) == 0);
		brute(a, b, h, w, sy, sx, &hd, &assd);
		CHECK_NEAR(s.hd95, hd, 1e-9);
		CHECK_NEAR(s.assd, assd, 1e-9);
		free(a);
		free(b);
	}
	ms_scratch_free(&ws);
}

static void test_overlap(void)
{
	enum { H = 4, W = 10 };
	uint8_t a[H * W] = { 0 }, b[H * W] = { 0 };
	ms_mask_score s;
	/* a: 6 pixels, b: 4 pixels (255 counts as foreground), 3 shared */
	a[0] = a[1] = a[2] = a[10] = a[11] = a[39] = 1;
	b[1] = b[2] = 255;
	b[11] = 7;
	b[20] = 1;
	CHECK(ms_mask_compare(a, b, H, W, 1, 1, NULL, &s) == 0);
	CHECK(s.tp == 3 && s.fp == 3 && s.fn == 1 && s.tn == 33);
	CHECK_NEAR(s.dice, 6.0 / 10, 1e-15);
	CHECK_NEAR(s.iou, 3.0 / 7, 1e-15);
	CHECK_NEAR(s.precision, 0.5, 1e-15);
	CHECK_NEAR(s.recall, 0.75, 1e-15);
	CHECK_NEAR(s.specificity, 33.0 / 36, 1e-15);
	CHECK_NEAR(s.accuracy, 36.0 / 40, 1e-15);
	/* empty-mask rules: 0/0 is 1 when prediction equals reference, else 0 */
	memset(a, 0, sizeof a);
	memset(b, 0, sizeof b);
	CHECK(ms_mask_compare(a, b, H, W, 1, 1, NULL, &s) == 0);
	CHECK(s.dice == 1 && s.iou == 1 && s.precision == 1 && s.recall == 1);
	CHECK(s.specificity == 1 && s.accuracy == 1 && s.hd95 == 0 && s.assd == 0);
	b[5] = 1;
	CHECK(ms_mask_compare(a, b, H, W, 1, 1, NULL, &s) == 0);
	CHECK(s.dice == 0 && s.iou == 0 && s.precision == 0 && s.recall == 0);
	CHECK(s.specificity == 1 && isnan(s.hd95) && isnan(s.assd));
	CHECK(ms_mask_compare(b, a, H, W, 1, 1, NULL, &s) == 0);
	CHECK(s.precision == 0 && s.recall == 0 && isnan(s.hd95));
	memset(a, 1, sizeof a);
	memset(b, 1, sizeof b);
	CHECK(ms_mask_compare(a, b, H, W, 1, 1, NULL, &s) == 0);
	CHECK(s.dice == 1 && s.specificity == 1 && s.hd95 == 0 && s.assd == 0);
	b[0] = 0;
	CHECK(ms_mask_compare(a, b, H, W, 1, 1, NULL, &s) == 0);
	CHECK(s.specificity == 0 && s.recall == 1);
	CHECK(ms_mask_compare(a, b, H, W, 0, 1, NULL, &s) < 0);
}

/* thresholded float maps: the same counts as the byte masks above (a: 6, b: 4, 3 shared),
 * strict thresholds, both empty = 1 */
static void test_dice_above(void)
{
	float a[8] = { 0.9f, 0.6f, 0.51f, 0.7f, 0.8f, 0.55f, 0.5f, 0.1f };
	float b[8] = { 1, 0, 1, 0, 1, 0, 1, 0 };   /* above 0: 0, 2, 4, 6 */
	CHECK_NEAR(ms_dice_above(a, 0.5f, b, 0, 8), 6.0 / 10, 1e-15);   /* a: 0-5, shared 0, 2, 4 */
	CHECK_NEAR(ms_dice_above(a, 0.65f, b, 0.5f, 8), 2 * 2.0 / 7, 1e-15);   /* a: 0, 3, 4 */
	CHECK(ms_dice_above(a, 1, b, 1, 8) == 1);
	CHECK(ms_dice_above(a, 1, b, 0, 8) == 0);
}

static void test_quantile(void)
{
	double v[101], w[101];
	for (int t = 0; t < 200; t++) {
		size_t n = 1 + ms_rng_below(&rng, 101);
		for (size_t i = 0; i < n; i++)
			v[i] = w[i] = (double)ms_rng_below(&rng, t % 2 ? 5 : 1000);
		qsort(w, n, sizeof *w, cmp_double);
		double q = t % 3 ? 0.95 : ms_rng_uniform(&rng), pos = q * (n - 1);
		size_t k = (size_t)pos;
		double want = k + 1 < n ? w[k] + (w[k + 1] - w[k]) * (pos - k) : w[k];
		CHECK_NEAR(ms_quantile(v, n, q), want, 1e-12);
	}
	CHECK(isnan(ms_quantile(v, 0, 0.5)));
	double odd[] = { 3, 1, 2 }, even[] = { 4, 1, 3, 2 };
	CHECK(ms_quantile(odd, 3, 0.5) == 2 && ms_quantile(even, 4, 0.5) == 2.5);
}

static void test_images(void)
{
	enum { C = 3, H = 40, W = 33 };
	static float a[C * H * W], b[C * H * W];
	for (int i = 0; i < C * H * W; i++) {
		a[i] = (float)ms_rng_uniform(&rng);
		b[i] = a[i] + 0.1f;
	}
	double v, v2;
	CHECK_NEAR(ms_psnr(a, b, C * H * W), 20, 1e-5);
	CHECK(isinf(ms_psnr(a, a, C * H * W)));
	CHECK(ms_ssim(a, a, C, H, W, &v) == 0);
	CHECK_NEAR(v, 1, 1e-12);
	CHECK(ms_msssim(a, a, C, H, W, &v) == 0);
	CHECK_NEAR(v, 1, 1e-12);
	CHECK(ms_ssim(a, b, C, H, W, &v) == 0 && ms_ssim(b, a, C, H, W, &v2) == 0);
	CHECK(v < 1 && v > 0.9);
	CHECK_NEAR(v, v2, 1e-12);
	CHECK(ms_ssim(a, b, 1, 10, 40, &v) < 0);
	CHECK(ms_msssim(a, b, 1, 40, 10, &v) < 0);
	CHECK(ms_msssim_scales(10, 100) == 0 && ms_msssim_scales(11, 11) == 1);
	CHECK(ms_msssim_scales(64, 64) == 3 && ms_msssim_scales(128, 128) == 4);
	CHECK(ms_msssim_scales(175, 300) == 4 && ms_msssim_scales(176, 176) == 5);
	CHECK(ms_msssim_scales(1024, 1024) == 5);
	/* a NaN pixel: nan from all three, as PSNR (MS-SSIM's clamp gave 0, issue 18) */
	b[5 * W + 7] = NAN;
	CHECK(isnan(ms_psnr(a, b, C * H * W)));
	CHECK(ms_ssim(a, b, C, H, W, &v) == 0 && isnan(v));
	CHECK(ms_msssim(a, b, C, H, W, &v) == 0 && isnan(v));
	CHECK(ms_msssim(b, b, C, H, W, &v) == 0 && isnan(v));
	b[5 * W + 7] = a[5 * W + 7] + 0.1f;
}

static void test_pairs_and_summary(void)
{
	enum { N = 5, C = 2, H = 24, W = 30 };
	static float im[N][C * H * W];
	const float *p[N];
	double out[N * (N - 1) / 2], v;
	for (int i = 0; i < N; i++) {
		for (int k = 0; k < C * H * W; k++)
			im[i][k] = (float)ms_rng_uniform(&rng) * 0.3f + 0.1f * i;
		p[i] = im[i];
	}
	CHECK(ms_msssim_pairs(p, N, C, H, W, out) == 0);
	int k = 0;
	for (int i = 0; i < N; i++)
		for (int j = i + 1; j < N; j++) {
			CHECK(ms_msssim(im[i], im[j], C, H, W, &v) == 0);
			CHECK_NEAR(out[k], v, 1e-15);
			k++;
		}
	CHECK(ms_msssim_pairs(p, N, C, 8, 8, out) < 0);
	double x[] = { 3, NAN, 1, 2, NAN, 6 };
	ms_summary s;
	CHECK(ms_summary_compute(x, 6, &s) == 0);
	CHECK(s.n == 4 && s.mean == 3 && s.median == 2.5);
	CHECK_NEAR(s.std, sqrt(14.0 / 4), 1e-15);
	CHECK(ms_summary_compute(x + 1, 1, &s) == 0);
	CHECK(s.n == 0 && isnan(s.mean) && isnan(s.std) && isnan(s.median));
}

int main(void)
{
	ms_rng_init(&rng, 42, 0);
	RUN(test_edt);
	RUN(test_surface_distances);
	RUN(test_overlap);
	RUN(test_dice_above);
	RUN(test_quantile);
	RUN(test_images);
	RUN(test_pairs_and_summary);
	return test_summary("metrics");
}
