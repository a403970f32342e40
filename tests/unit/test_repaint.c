/* The reverse process and RePaint (diffusion.h, repaint.c): the jump schedule against
 * Lugmayr et al.'s get_schedule_jump, a step that keeps the known region on the
 * forward-noised truth, an oracle network that gives back image and mask exactly, and a
 * joint generator that inpaints only inside the dilated mask. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/util.h"
#include "diffusion/diffusion.h"
#include "diffusion/generator.h"
#include "image/morph.h"
#include "test.h"

/* get_schedule_jump of RePaint's scheduler.py, transcribed */
static int reference_times(int S, int L, int R, int *ts)
{
	int jumps[1000] = { 0 }, n = 0, t = S;
	for (int j = 0; j < S - L; j += L)
		jumps[j] = R - 1;
	while (t >= 1) {
		ts[n++] = --t;
		if (jumps[t] > 0) {
			jumps[t]--;
			for (int i = 0; i < L; i++)
				ts[n++] = ++t;
		}
	}
	ts[n++] = -1;
	return n;
}

static void test_times(void)
{
	static int a[20000], b[20000];
	const int hand[] = { 5, 4, 3, 2, 3, 4, 3, 2, 1, 0, 1, 2, 1, 0, -1 };
	CHECK(ms_repaint_times(6, 2, 2, a, 20000) == 15 && !memcmp(a, hand, sizeof hand));
	const int cases[][3] = { { 200, 10, 5 }, { 250, 10, 10 }, { 20, 3, 2 }, { 7, 10, 5 },
	                         { 50, 1, 3 }, { 33, 4, 1 }, { 1, 1, 5 } };
	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
		int S = cases[c][0], L = cases[c][1], R = cases[c][2];
		int n = ms_repaint_times(S, L, R, a, 20000), m = reference_times(S, L, R, b);
		CHECK(n == m && !memcmp(a, b, n * sizeof *a));
		CHECK(ms_repaint_times(S, L, R, NULL, 0) == n);
	}
	/* no resampling: straight down */
	CHECK(ms_repaint_times(20, 0, 0, a, 20000) == 21 && a[0] == 19 && a[20] == -1);
	/* about R times the plain cost: 200 + 19 * 4 * 2 * 10 = 1720 visits */
	CHECK(ms_repaint_times(200, 10, 5, NULL, 0) == 200 + 19 * 4 * 20 + 1);
}

/* ---- the oracle: the network output that points at the truth x0 */
typedef struct {
	const ms_sched *s;
	const float *x0;
	int pred, calls;
	size_t n;
} oracle;

static int oracle_fn(void *ctx, int t, int cnt, const float *x, float *y)
{
	oracle *o = ctx;
	double ab = o->s->abar[t];
	o->calls++;
	for (int j = 0; j < cnt; j++)
		for (size_t i = 0; i < o->n; i++) {
			double xt = x[j * o->n + i], x0 = o->x0[i];
			double eps = ab < 1 ? (xt - sqrt(ab) * x0) / sqrt(1 - ab) : 0;
			y[j * o->n + i] = (float)(o->pred == MS_PRED_V ?
			                          sqrt(ab) * eps - sqrt(1 - ab) * x0 : eps);
		}
	return 0;
}

static int zero_fn(void *ctx, int t, int cnt, const float *x, float *y)
{
	size_t n = *(size_t *)ctx;
	(void)t;
	(void)x;
	memset(y, 0, cnt * n * sizeof *y);
	return 0;
}

/* one step down keeps known values at sqrt(ab') x0 + sqrt(1 - ab') e, e the state's next
 * normals (eta = 0: the DDIM step draws none) */
static void test_known_step(void)
{
	enum { N = 64, S = 10 };
	ms_sched s;
	float x0[N], x[2 * N], y[2 * N], z[N];
	uint8_t keep[N];
	ms_rng r[2], copy[2];
	size_t n = N;
	CHECK(ms_sched_init(&s, MS_SCHED_LINEAR, 1000) == 0);
	for (int i = 0; i < N; i++) {
		x0[i] = (float)sin(i);
		keep[i] = i % 3 != 0;
	}
	for (int j = 0; j < 2; j++) {
		ms_rng_init(&r[j], 5, (uint64_t)j);
		for (int i = 0; i < N; i++)
			x[j * N + i] = 0.5f;
	}
	memcpy(copy, r, sizeof r);
	int seq[S], times[2] = { 4, 3 };
	ms_ddim_timesteps(1000, S, seq);
	ms_reverse_opt o = { &s, S, 0, MS_PRED_EPS, 0, 0, 0, x0, keep };   /* no clipping */
	CHECK(ms_reverse(&o, times, 2, 2, n, x, r, y, z, zero_fn, &n) == 0);
	double ab1 = s.abar[seq[S - 1 - 3]], ab = s.abar[seq[S - 1 - 4]];
	int same = 1, moved = 1;
	for (int j = 0; j < 2; j++)
		for (int i = 0; i < N; i++) {
			float e = ms_rng_normal(&copy[j]);
			float want = (float)sqrt(ab1) * x0[i] + (float)sqrt(1 - ab1) * e;
			float ddim = (float)(sqrt(ab1) * (0.5 / sqrt(ab)));   /* eps = 0 */
			if (keep[i])
				same &= x[j * N + i] == want;
			else
				moved &= fabsf(x[j * N + i] - ddim) < 1e-5f;
		}
	CHECK(same);
	CHECK(moved);
	/* the last step puts the truth itself there */
	int last[2] = { 0, -1 };
	CHECK(ms_reverse(&o, last, 2, 2, n, x, r, y, z, zero_fn, &n) == 0);
	same = 1;
	for (int i = 0; i < N; i++)
		same &= !keep[i] || (x[i] == x0[i] && x[N + i] == x0[i]);
	CHECK(same);
	ms_sched_free(&s);
}

/* with the oracle, RePaint (jumps, eta = 1) gives back the truth everywhere, for eps and
 * v (zero terminal SNR) prediction; the oracle is called once per step down */
static void test_oracle(void)
{
	enum { C = 2, HW = 64, N = C * HW, S = 40 };
	float x0[N], x[3 * N], y[3 * N], z[N];
	uint8_t keep[N];
	for (int i = 0; i < N; i++) {
		x0[i] = i < HW ? (float)cos(0.3 * i) * 0.9f : (i % 8 < 4 ? 1.f : -1.f); /* image, mask */
		keep[i] = (i % HW) / 8 < 3;
	}
	for (int zsnr = 0; zsnr < 2; zsnr++) {
		ms_sched s;
		ms_rng r[3];
		CHECK(ms_sched_init(&s, MS_SCHED_LINEAR, 1000) == 0);
		if (zsnr)
			ms_sched_zero_snr(&s);
		int pred = zsnr ? MS_PRED_V : MS_PRED_EPS, times[4000];
		int nt = ms_repaint_times(S, 5, 3, times, 4000), down = 0;
		for (int i = 0; i + 1 < nt; i++)
			down += times[i + 1] < times[i];
		oracle or = { &s, x0, pred, 0, N };
		for (int j = 0; j < 3; j++) {
			ms_rng_init(&r[j], 9, (uint64_t)j);
			for (int i = 0; i < N; i++)
				x[j * N + i] = ms_rng_normal(&r[j]);
		}
		ms_reverse_opt o = { &s, S, 1, pred, 1, 5, 3, x0, keep };
		CHECK(ms_reverse(&o, times, nt, 3, N, x, r, y, z, oracle_fn, &or) == 0);
		CHECK(or.calls == down);
		double err = 0;
		for (int i = 0; i < 3 * N; i++)
			err = fmax(err, fabs(x[i] - x0[i % N]));
		printf("oracle RePaint (%s): largest error %.3g over %d steps down\n",
		       zsnr ? "v, zero SNR" : "eps", err, down);
		CHECK(err < 1e-4);
		ms_sched_free(&s);
	}
}

/* a joint generator, untrained: inpainting leaves image and mask outside the dilated
 * real mask as they were; keep is per channel: with the mask channel known everywhere
 * (ms-sample --reshape), the mask comes out as given and only the image is redrawn */
static void test_generator_inpaint(void)
{
	enum { H = 16, W = 16, HW = H * W };
	ms_gen_cfg c;
	ms_gen_cfg_default(&c);
	c.unet.width = 8;
	c.joint = 1;
	c.H = H;
	c.W = W;
	CHECK(ms_gen_cfg_cond(&c, "none") == 0 && c.ncond == 0);
	ms_gen *g = ms_gen_new(&c, 3);
	CHECK(g && ms_gen_channels(ms_gen_cfg_of(g)) == 2);
	float known[2 * HW], out[3 * 2 * HW];
	uint8_t m8[HW], dil[HW], keep[2 * HW];
	for (int i = 0; i < HW; i++) {
		int y = i / W, x = i % W;
		known[i] = (float)(x + y) / 32;
		m8[i] = (y - 8) * (y - 8) + (x - 6) * (x - 6) < 9;
		known[HW + i] = m8[i];
	}
	CHECK(ms_dilate(m8, H, W, 5, dil) == 0);
	for (int mask_known = 0; mask_known < 2; mask_known++) {
		for (int i = 0; i < 2 * HW; i++)
			keep[i] = !dil[i % HW] || (mask_known && i >= HW);
		ms_rng r[3];
		for (int j = 0; j < 3; j++)
			ms_rng_init(&r[j], 1, (uint64_t)j);
		ms_gen_sample_opt o = { .steps = 10, .batch = 2, .eta = 1, .guidance = 2,
		                        .jump = 3, .resample = 2, .known = known, .keep = keep };
		CHECK(ms_gen_sample(g, &o, H, W, NULL, "", 3, r, out) == 0);
		int same = 1, inside = 0, mask_inside = 0;
		for (int j = 0; j < 3; j++)
			for (int i = 0; i < 2 * HW; i++) {
				float v = out[j * 2 * HW + i];
				if (keep[i])
					same &= fabsf(v - known[i]) < 1e-6f;
				else
					inside += v != known[i];
				mask_inside += i >= HW && dil[i - HW] && v != known[i];
			}
		CHECK(same);
		CHECK(inside > 0);
		CHECK(mask_known ? mask_inside == 0 : mask_inside > 0);
	}
	ms_gen_free(g);
}

int main(void)
{
	RUN(test_times);
	RUN(test_known_step);
	RUN(test_oracle);
	RUN(test_generator_inpaint);
	return test_summary("test_repaint");
}
