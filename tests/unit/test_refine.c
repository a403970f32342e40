/* The refiner: reverse runs (ranges, determinism, K = 1), checkpoint round trip, a few
 * of ms-refine train's steps (one part) lower the loss, its alternate iteration moves
 * both networks; ms-refine's records of a refined sample, its training set and
 * checkpoint metadata. */
#include <string.h>
#include <unistd.h>

#include "core/ms.h"
#include "io/stream.h"
#include "models/refine.h"
#include "models/train.h"
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

/* ms-refine train's run (refdata.c) on n copies of the fixture, a batch of n in one
 * part, options set in t before */
static void train_open(ms_refine_train *t, int n)
{
	float img[HW], y0[HW], p[HW];
	uint8_t m[HW];
	fixture(img, y0, p);
	for (int i = 0; i < HW; i++)
		m[i] = y0[i] > 0.5f;
	for (int k = 0; k < n; k++)
		CHECK(ms_refine_set_add(&t->d, 1, H, H, img, m, p) == 0);
	t->out = "refine-test";
	t->batch = n;
	t->parts = 1;
	t->width = 8;
	CHECK(ms_refine_train_check(t) == 0 && ms_refine_train_open(t) == 0 &&
	      ms_refine_train_setup(t) == 0);
	CHECK(t->g.P == 1);
}

static void test_train(void)
{
	ms_refine_train t;
	ms_refine_train_default(&t);
	t.flip = MS_BBDM_FOCAL;
	t.wd = 0;
	t.seed = 5;
	train_open(&t, 4);
	double first = 0, last = 0;
	for (int s = 0; s < 60; s++) {
		double l, aux;
		CHECK(ms_refine_train_step(&t, s, 3e-3, &l, &aux) == 0);
		CHECK(isfinite(l) && isnan(aux));
		first += s < 10 ? l : 0;
		last += s >= 50 ? l : 0;
	}
	CHECK(last < 0.8 * first);
	ms_refine_train_free(&t);
}

/* the central difference of the refiner's loss in the prior's pixel i (step 1e-3) */
static double loss_dp(ms_refiner *r, const int *t, const float *img, const float *y0,
                      float *p, int i)
{
	float v = p[i], hi = v + 1e-3f, lo = v - 1e-3f;
	p[i] = hi;
	double lp = ms_refiner_loss(r, t, img, y0, p, 0, NULL, 1);
	p[i] = lo;
	double lm = ms_refiner_loss(r, t, img, y0, p, 0, NULL, 1);
	p[i] = v;
	return (lp - lm) / ((double)hi - lo);
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
	int t[B];
	static double u[B * HW];
	CHECK(ms_refiner_plan(r, B, H, H, 1) == 0);
	ms_rng g;
	ms_rng_init(&g, 4, 4);
	ms_refiner_draw(r, B, &g, t, u);
	ms_refiner_noisy(r, t, u, by, bp);
	ms_params_zero_grad(ms_unet_params(r->net));
	ms_refiner_loss(r, t, bi, by, bp, 0, dp, 1);
	double worst = 0;
	for (int i = 0; i < B * HW; i += 5) {
		double fd = loss_dp(r, t, bi, by, bp, i), e = fabs(fd - dp[i]) / (1e-3 + fabs(fd));
		worst = e > worst ? e : worst;
	}
	CHECK(worst < 1e-2);
	ms_refiner_free(r);
}

/* the diffusion loss's d/dp in a plan for alternate training (what the segmentor learns
 * from) matches differences with a network whose output depends on its input, through
 * the posteriors and the input channel p alike; a training plan without the input's
 * gradient misses the second path */
static void test_alternate_dp(void)
{
	enum { B = 2 };
	float bi[B * HW], by[B * HW], bp[B * HW], dp[B * HW], dp1[B * HW];
	for (int n = 0; n < B; n++)
		fixture(bi + n * HW, by + n * HW, bp + n * HW);
	for (int o = 0; o < 2; o++) {
		ms_refiner *r = ms_refiner_new(1, 8, 10, MS_BBDM_LINEAR, MS_BBDM_BCE,
		                               o ? MS_REFINE_RESIDUAL : MS_REFINE_DIRECT, 5);
		CHECK(r != NULL);
		if (o) {      /* a residual refiner starts at zero output: give it some */
			ms_param *w = ms_params_find(ms_unet_params(r->net), "conv_out.weight");
			for (size_t i = 0; i < w->n; i++)
				w->w[i] = 0.05f * (float)((int)(i * 37 % 11) - 5);
		}
		int t[B];
		static double u[B * HW];
		ms_rng g;
		ms_rng_init(&g, 4, 4);
		CHECK(ms_refiner_plan(r, B, H, H, 1) == 0);
		ms_refiner_draw(r, B, &g, t, u);
		ms_refiner_noisy(r, t, u, by, bp);
		memset(dp1, 0, sizeof dp1);
		ms_refiner_loss(r, t, bi, by, bp, 0, dp1, 1);
		CHECK(ms_refiner_plan(r, B, H, H, 2) == 0);
		ms_refiner_noisy(r, t, u, by, bp);
		memset(dp, 0, sizeof dp);
		ms_refiner_loss(r, t, bi, by, bp, 0, dp, 1);
		double worst = 0, worst1 = 0, big = 0;
		for (int i = 0; i < B * HW; i++)
			big = fmax(big, fabs(dp[i]));
		for (int i = 0; i < B * HW; i += 3) {
			double fd = loss_dp(r, t, bi, by, bp, i);
			worst = fmax(worst, fabs(fd - dp[i]) / big);
			worst1 = fmax(worst1, fabs(fd - dp1[i]) / big);
		}
		printf("refine (%s) alternate d/dp: relative error %.3g (without the input's "
		       "path %.3g)\n", o ? "residual" : "direct", worst, worst1);
		CHECK(big > 0 && worst < 1e-2 && worst1 > 0.05);
		ms_refiner_free(r);
	}
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

/* --alternate: both networks move, the segmentor's loss is reported, and lambda
 * reaches the segmentor */
static void test_alternate(void)
{
	char path[] = "/tmp/test_refine.XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	ms_unet_cfg c;
	ms_unet_cfg_default(&c);
	c.width = 8;
	ms_unet *seg = ms_unet_new(&c, 7);
	CHECK(seg && ms_unet_save(seg, path, NULL, 0, NULL) == 0);
	ms_unet_free(seg);
	float w[2][2];
	for (int k = 0; k < 2; k++) {
		ms_refine_train t;
		ms_refine_train_default(&t);
		t.flip = MS_BBDM_FOCAL;
		t.seed = 5;
		t.alternate = 1;
		t.segpath = path;
		t.lambda = k ? 10.0 : 0.0;
		train_open(&t, 2);
		ms_param *ps = ms_unet_params(t.seg)->p[0], *pr = ms_unet_params(t.r->net)->p[0];
		float s0 = ps->w[0], r0 = pr->w[0];
		for (int s = 0; s < 3; s++) {
			double rl, sl;
			CHECK(ms_refine_train_step(&t, s, 1e-3, &rl, &sl) == 0);
			CHECK(isfinite(rl) && isfinite(sl) && sl > 0);
		}
		CHECK(ps->w[0] != s0 && pr->w[0] != r0);
		w[k][0] = ps->w[0];
		w[k][1] = pr->w[0];
		ms_refine_train_free(&t);
	}
	CHECK(w[0][0] != w[1][0]);
	unlink(path);
}

/* a record NAME [1,H,H] of dtype dt with id=a, from f (as 0/1 bytes for u8) */
static void add_rec(ms_sample *s, const char *name, int dt, int C, const float *f)
{
	ms_rec r;
	ms_tensor t;
	int64_t shape[3] = { C, H, H };
	ms_rec_init(&r);
	CHECK(ms_tensor_alloc(&t, dt, 3, shape) == 0);
	for (int i = 0; i < C * HW; i++)
		if (dt == MS_F32)
			((float *)t.data)[i] = f[i % HW];
		else
			((uint8_t *)t.data)[i] = f[i % HW] > 0.5f;
	CHECK(ms_meta_set(&r, "id", "a") == 0 && ms_meta_set(&r, "src", name) == 0);
	CHECK(ms_rec_set(&r, name, &t) == 0);
	CHECK(ms_sample_add(s, &r) == 0);
}

static void names(const ms_sample *s, char *out)
{
	*out = '\0';
	for (int i = 0; i < s->n; i++)
		strcat(strcat(out, s->rec[i].name), " ");
}

static void test_sample(void)
{
	float img[HW], y0[HW], p[HW];
	char buf[256], src[32];
	fixture(img, y0, p);
	ms_refiner *r = ms_refiner_new(1, 8, 4, MS_BBDM_LINEAR, MS_BBDM_BCE, MS_REFINE_DIRECT, 1);
	CHECK(r != NULL);
	ms_sample s;
	ms_sample_init(&s);
	s.id = ms_strdup("a");
	add_rec(&s, "image", MS_F32, 1, img);
	add_rec(&s, "uncertainty", MS_F32, 1, p);
	add_rec(&s, "prob", MS_F32, 1, p);
	add_rec(&s, "mask", MS_U8, 1, y0);
	add_rec(&s, "prior", MS_F32, 1, y0);
	CHECK(ms_refine_sample(r, &s, 2, 4, MS_BBDM_ANCESTRAL, 3, 0) == 1);
	names(&s, buf);
	CHECK(!strcmp(buf, "image prob mask pred uncertainty prior "));
	/* the new records keep the prior's metadata; prior holds the old prob */
	CHECK(!strcmp(ms_meta_get(&s.rec[3], "src", src, sizeof src), "prob"));
	CHECK(!strcmp(ms_meta_get(&s.rec[5], "src", src, sizeof src), "prob"));
	CHECK(!memcmp(s.rec[5].t.data, p, sizeof p));
	int ok = 1;
	for (int i = 0; i < HW; i++)
		ok &= ((uint8_t *)s.rec[3].t.data)[i] == (((float *)s.rec[1].t.data)[i] > 0.5f);
	CHECK(ok);
	/* again, with pred: prior and prior_pred replaced, not doubled */
	CHECK(ms_refine_sample(r, &s, 1, 2, MS_BBDM_DDIM, 3, 0) == 1);
	names(&s, buf);
	CHECK(!strcmp(buf, "image prob mask pred uncertainty prior prior_pred "));
	ms_sample_free(&s);
	/* without prob: left as it is; another channel count: an error */
	s.id = ms_strdup("a");
	add_rec(&s, "image", MS_F32, 3, img);
	CHECK(ms_refine_sample(r, &s, 1, 2, MS_BBDM_DDIM, 3, 0) == 0 && s.n == 1);
	add_rec(&s, "prob", MS_F32, 1, p);
	CHECK(ms_refine_sample(r, &s, 1, 2, MS_BBDM_DDIM, 3, 0) == -1);
	CHECK(strstr(ms_errmsg(), "image has 3 channels, the model takes 1") != NULL);
	ms_sample_free(&s);
	/* a prob of another size */
	s.id = ms_strdup("a");
	add_rec(&s, "image", MS_F32, 1, img);
	add_rec(&s, "prob", MS_U8, 1, p);
	CHECK(ms_refine_sample(r, &s, 1, 2, MS_BBDM_DDIM, 3, 0) == -1);
	CHECK(!strcmp(ms_errmsg(), "sample 'a': prob must be f32 [1,8,8] like the image"));
	ms_sample_free(&s);
	ms_refiner_free(r);
}

static void test_train_set(void)
{
	float img[HW], y0[HW], p[HW];
	fixture(img, y0, p);
	ms_refine_train t;
	ms_refine_train_default(&t);
	CHECK(t.batch == 8 && t.width == 32 && t.T == 10 && t.vbest == -1);
	CHECK(ms_refine_train_check(&t) == -1);
	CHECK(!strcmp(ms_errmsg(), "no samples with image, mask and prob"));
	ms_sample s;
	ms_sample_init(&s);
	s.id = ms_strdup("a");
	add_rec(&s, "image", MS_F32, 1, img);
	add_rec(&s, "mask", MS_U8, 1, y0);
	CHECK(ms_refine_train_add(&t, &s) == 0 && t.skipped == 1);   /* no prob */
	add_rec(&s, "prob", MS_F32, 1, p);
	CHECK(ms_refine_train_add(&t, &s) == 1 && t.d.n == 1 && t.d.C == 1 && t.d.H == H);
	CHECK(!memcmp(t.d.p, p, sizeof p) && !memcmp(t.d.y0, y0, sizeof y0));
	CHECK(ms_refine_train_check(&t) == 0);
	ms_sample_free(&s);
	ms_refine_train_free(&t);
}

static void test_extra(void)
{
	ms_rec m0;
	ms_refine_train t;
	ms_refine_train_default(&t);
	t.lr = 0.1;
	t.wd = 1.0 / 3;
	t.lr_schedule = MS_LR_COSINE;
	t.seed = 42;
	char *e = ms_refine_train_extra(&t, 1);
	CHECK(e && !strcmp(e, "batch=8\nlr=0.1\nwd=0.33333333333333331\nlr_schedule=cosine\n"
	                      "seed=42\nlambda=0.1\nalternate=0\n"));
	free(e);
	/* with --best, the best so far, which a resumed run reads back */
	t.best = "b.ms";
	t.vbest = 0.8125;
	t.sbest = 300;
	e = ms_refine_train_extra(&t, 1);
	CHECK(e && strstr(e, "alternate=0\nbest_val=0.8125\nbest_step=300\n"));
	/* through a checkpoint and back */
	char path[] = "/tmp/test_refine.XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	ms_refiner *r = ms_refiner_new(1, 8, 10, MS_BBDM_LINEAR, MS_BBDM_FOCAL, MS_REFINE_DIRECT, 3);
	CHECK(r && e && ms_refiner_save(r, path, NULL, 0, e) == 0);
	ms_rec_init(&m0);
	ms_refiner *l = ms_refiner_load(path, NULL, &m0);
	double bv;
	long bs;
	CHECK(l && ms_train_best_read(&m0, &bv, &bs) == 0 && bv == 0.8125 && bs == 300);
	CHECK(ms_meta_set(&m0, "best_val", "1.5") == 0 && ms_train_best_read(&m0, &bv, &bs) < 0 &&
	      bv == -1 && bs == -1);
	unlink(path);
	ms_rec_free(&m0);
	ms_refiner_free(l);
	ms_refiner_free(r);
	free(e);
	e = ms_refine_train_extra(&t, 0);      /* the --best file itself: without */
	CHECK(e && !strstr(e, "best_"));
	free(e);
	/* the segmentor's own metadata less what ms_unet_save writes (keys whole) */
	ms_rec m;
	ms_rec_init(&m);
	CHECK(ms_meta_set(&m, "arch", "unet") == 0 && ms_meta_set(&m, "width", "8") == 0 &&
	      ms_meta_set(&m, "batch", "4") == 0 && ms_meta_set(&m, "step", "7") == 0 &&
	      ms_meta_set(&m, "widths", "x") == 0 && ms_meta_set(&m, "adam_t", "7") == 0 &&
	      ms_meta_set(&m, "lr", "0.001") == 0);
	e = ms_refine_seg_extra(&m);
	CHECK(e && !strcmp(e, "batch=4\nwidths=x\nlr=0.001\n"));
	free(e);
	ms_rec_free(&m);
	ms_rec_init(&m);
	e = ms_refine_seg_extra(&m);
	CHECK(e && !*e);
	free(e);
}

int main(void)
{
	ms_threads(1);
	RUN(test_run);
	RUN(test_train);
	RUN(test_residual);
	RUN(test_alternate_dp);
	RUN(test_validate);
	RUN(test_alternate);
	RUN(test_sample);
	RUN(test_train_set);
	RUN(test_extra);
	return test_summary("refine");
}
