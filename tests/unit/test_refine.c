/* The refiner: reverse runs (ranges, determinism, K = 1), checkpoint round trip, a few
 * training steps lower the loss, the alternate step moves both networks. */
#include <string.h>
#include <unistd.h>

#include "core/ms.h"
#include "io/stream.h"
#include "models/refine.h"
#include "test.h"

enum { H = 8, HW = H * H };

static void fixture(float *img, float *y0, float *p)
{
	for (int i = 0; i < HW; i++) {
		int y = i / H, x = i % H, in = (y - 4) * (y - 4) + (x - 3) * (x - 3) < 6;
		y0[i] = (float)in;
		img[i] = 0.3f + 0.5f * in + 0.05f * (float)((i * 7) % 5) / 5;
		p[i] = in ? 0.7f : 0.2f + 0.1f * (x == 0);
	}
}

static void test_run(void)
{
	float img[HW], y0[HW], p[HW], a[HW], u[HW], b[HW], v[HW];
	fixture(img, y0, p);
	ms_refiner *r = ms_refiner_new(1, 8, 10, MS_BBDM_LINEAR, MS_BBDM_FOCAL, MS_REFINE_DIRECT, 3);
	CHECK(r != NULL);
	for (int s = 0; s < 2; s++) {
		ms_rng g, g2;
		ms_rng_init(&g, 1, 2);
		ms_rng_init(&g2, 1, 2);
		CHECK(ms_refiner_run(r, H, H, img, p, 3, 10, s, &g, a, u) == 0);
		CHECK(ms_refiner_run(r, H, H, img, p, 3, 10, s, &g2, b, v) == 0);
		CHECK(!memcmp(a, b, sizeof a) && !memcmp(u, v, sizeof u));
		int ok = 1, spread = 0;
		for (int i = 0; i < HW; i++) {
			ok &= a[i] >= 0 && a[i] <= 1 && u[i] >= 0 && u[i] <= 0.5f + 1e-6f;
			spread |= u[i] > 0;
		}
		CHECK(ok && spread);
	}
	ms_rng g;
	ms_rng_init(&g, 1, 3);
	CHECK(ms_refiner_run(r, H, H, img, p, 1, 4, MS_BBDM_DDIM, &g, a, u) == 0);
	for (int i = 0; i < HW; i++)
		CHECK(u[i] == 0);
	/* save and load: same weights, same run */
	char path[] = "/tmp/test_refine.XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	CHECK(ms_refiner_save(r, path, NULL, 0, "note=x\n") == 0);
	ms_rec m;
	ms_rec_init(&m);
	ms_refiner *l = ms_refiner_load(path, NULL, &m);
	CHECK(l && l->C == 1 && l->bb.T == 10 && l->flip == MS_BBDM_FOCAL);
	char buf[16];
	CHECK(ms_meta_get(&m, "note", buf, sizeof buf) && !strcmp(buf, "x"));
	ms_rng_init(&g, 1, 3);
	CHECK(l && ms_refiner_run(l, H, H, img, p, 1, 4, MS_BBDM_DDIM, &g, b, v) == 0);
	CHECK(!memcmp(a, b, sizeof a));
	unlink(path);
	ms_rec_free(&m);
	ms_refiner_free(l);
	ms_refiner_free(r);
}

static void test_train(void)
{
	enum { B = 4 };
	float img[B * HW], y0[B * HW], p[B * HW];
	for (int n = 0; n < B; n++)
		fixture(img + n * HW, y0 + n * HW, p + n * HW);
	ms_refiner *r = ms_refiner_new(1, 8, 10, MS_BBDM_LINEAR, MS_BBDM_FOCAL, MS_REFINE_DIRECT, 5);
	ms_adam a;
	ms_adam_init(&a, 3e-3, 0, 1);
	CHECK(ms_refiner_plan(r, B, H, H, 1) == 0);
	double first = 0, last = 0;
	for (int s = 0; s < 60; s++) {
		ms_rng g;
		ms_rng_init(&g, 1, s);
		double l = ms_refiner_step(r, &a, img, y0, p, &g);
		CHECK(isfinite(l));
		first += s < 10 ? l : 0;
		last += s >= 50 ? l : 0;
	}
	CHECK(last < 0.8 * first);
	ms_refiner_free(r);
}

/* an untrained residual refiner is the prior alone: its DDIM runs keep y_t ~ B(p) and
 * average to p (ancestral steps with a soft y0_hat do not: the posterior is not linear
 * in y_0), and its loss's d/dp (the zeroed output ignores the input) matches differences */
static void test_residual(void)
{
	enum { K = 256 };
	float img[HW], y0[HW], p[HW];
	static float prob[HW];
	fixture(img, y0, p);
	ms_refiner *r = ms_refiner_new(1, 8, 10, MS_BBDM_LINEAR, MS_BBDM_BCE, MS_REFINE_RESIDUAL, 5);
	CHECK(r != NULL);
	{
		ms_rng g;
		ms_rng_init(&g, 9, 0);
		double sum[2] = { 0 }, n[2] = { 0 };
		for (int k = 0; k < K / 16; k++) {
			CHECK(ms_refiner_run(r, H, H, img, p, 16, 10, MS_BBDM_DDIM, &g, prob, NULL) == 0);
			for (int i = 0; i < HW; i++)
				if (p[i] == 0.7f || p[i] == 0.2f) {
					sum[p[i] == 0.7f] += prob[i];
					n[p[i] == 0.7f]++;
				}
		}
		CHECK_NEAR(sum[0] / n[0], 0.2, 4.5 * 0.5 / sqrt(n[0] * 16));
		CHECK_NEAR(sum[1] / n[1], 0.7, 4.5 * 0.5 / sqrt(n[1] * 16));
	}
	enum { B = 2 };
	float bi[B * HW], by[B * HW], bp[B * HW], dp[B * HW];
	for (int n = 0; n < B; n++)
		fixture(bi + n * HW, by + n * HW, bp + n * HW);
	CHECK(ms_refiner_plan(r, B, H, H, 1) == 0);
	ms_rng g;
	ms_rng_init(&g, 4, 4);
	ms_refiner_draw(r, by, bp, &g);
	ms_params_zero_grad(ms_unet_params(r->net));
	ms_refiner_loss(r, bi, by, bp, 0, dp, 1);
	double worst = 0, h = 1e-3;
	for (int i = 0; i < B * HW; i += 5) {
		float v = bp[i], hi = v + (float)h, lo = v - (float)h;
		bp[i] = hi;
		double lp = ms_refiner_loss(r, bi, by, bp, 0, NULL, 1);
		bp[i] = lo;
		double lm = ms_refiner_loss(r, bi, by, bp, 0, NULL, 1);
		bp[i] = v;
		double fd = (lp - lm) / ((double)hi - lo), e = fabs(fd - dp[i]) / (1e-3 + fabs(fd));
		worst = e > worst ? e : worst;
	}
	CHECK(worst < 1e-2);
	ms_refiner_free(r);
}

/* validation Dice: an untrained residual refiner on a hard prior keeps it (Dice 1 when the
 * prior is the mask, 0 when it is its complement), the prior's own Dice exactly, the
 * same value twice (paired noise), and the training plan left as it was */
static void test_validate(void)
{
	float img[HW], y0[HW], p[HW];
	fixture(img, y0, p);
	ms_refine_set v = { 0 };
	uint8_t m[HW];
	for (int i = 0; i < HW; i++)
		m[i] = y0[i] > 0.5f;
	CHECK(ms_refine_set_add(&v, 1, H, H, img, m, y0) == 0);      /* prior = mask */
	for (int i = 0; i < HW; i++)
		p[i] = 1 - y0[i];
	CHECK(ms_refine_set_add(&v, 1, H, H, img, m, p) == 0);       /* prior = complement */
	ms_refiner *r = ms_refiner_new(1, 8, 10, MS_BBDM_LINEAR, MS_BBDM_BCE, MS_REFINE_RESIDUAL, 5);
	CHECK(r != NULL && ms_refiner_plan(r, 3, H, H, 1) == 0);
	double prior = -1, a = ms_refiner_validate(r, &v, 4, 7, &prior),
	       b = ms_refiner_validate(r, &v, 4, 7, NULL);
	CHECK_NEAR(prior, 0.5, 1e-12);
	CHECK_NEAR(a, 0.5, 0.02);
	CHECK(a == b);
	CHECK(r->N == 3 && r->train == 1);
	ms_refiner_free(r);
	ms_refine_set_free(&v);
}

static void test_alternate(void)
{
	enum { B = 2 };
	float img[B * HW], y0[B * HW], p[B * HW];
	for (int n = 0; n < B; n++)
		fixture(img + n * HW, y0 + n * HW, p + n * HW);
	ms_unet_cfg c;
	ms_unet_cfg_default(&c);
	c.width = 8;
	float w[2][2];
	for (int k = 0; k < 2; k++) {
		ms_unet *seg = ms_unet_new(&c, 7);
		ms_refiner *r = ms_refiner_new(1, 8, 10, MS_BBDM_LINEAR, MS_BBDM_FOCAL, MS_REFINE_DIRECT, 5);
		ms_adam a, sa;
		ms_adam_init(&a, 1e-3, 0.01, 1);
		ms_adam_init(&sa, 1e-3, 0.01, 1);
		CHECK(ms_unet_plan(seg, B, H, H, 1) == 0 && ms_refiner_plan(r, B, H, H, 1) == 0);
		ms_param *ps = ms_unet_params(seg)->p[0], *pr = ms_unet_params(r->net)->p[0];
		float s0 = ps->w[0], r0 = pr->w[0];
		for (int s = 0; s < 3; s++) {
			ms_rng g;
			double rl, sl;
			ms_rng_init(&g, 1, s);
			CHECK(ms_refiner_alt_step(r, &a, seg, &sa, k ? 10.0 : 0.0, img, y0, &g, &rl, &sl) == 0);
			CHECK(isfinite(rl) && isfinite(sl) && sl > 0);
		}
		CHECK(ps->w[0] != s0 && pr->w[0] != r0);
		w[k][0] = ps->w[0];
		w[k][1] = pr->w[0];
		ms_refiner_free(r);
		ms_unet_free(seg);
	}
	/* lambda reaches the segmentor */
	CHECK(w[0][0] != w[1][0]);
}

int main(void)
{
	ms_threads(1);
	RUN(test_run);
	RUN(test_train);
	RUN(test_residual);
	RUN(test_validate);
	RUN(test_alternate);
	return test_summary("refine");
}
