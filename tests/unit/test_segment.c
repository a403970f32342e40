/* Segmentor: validation split by id, synthetic linking and leakage, channel conversion,
 * the merging mask path (identical synthetic images change nothing), prediction batches. */
#include <string.h>
#include <unistd.h>

#include "core/ms.h"
#include "models/segment.h"
#include "models/train.h"
#include "test.h"

static void test_is_val(void)
{
	char id[32];
	int n = 0, n0 = 0, n1 = 0;
	for (int i = 0; i < 20000; i++) {
		snprintf(id, sizeof id, "case_%d", i);
		n += ms_seg_is_val(id, 0.1);
		n0 += ms_seg_is_val(id, 0);
		n1 += ms_seg_is_val(id, 1);
	}
	CHECK(n > 2000 - 130 && n < 2000 + 130);   /* 3 sigma */
	CHECK(n0 == 0 && n1 == 20000);
	CHECK(ms_seg_is_val("benign_1", 0.3) == ms_seg_is_val("benign_1", 0.3));
}

static ms_tensor plane(int C, int H, int W, float v)
{
	ms_tensor t;
	int64_t s[3] = { C, H, W };
	ms_tensor_alloc(&t, MS_F32, 3, s);
	for (int64_t i = 0; i < C * H * W; i++)
		((float *)t.data)[i] = v + 0.01f * (float)(i % 7);
	return t;
}

/* 8 real samples r0..r7 with 2 synthetic each (the same pixels when same is set),
 * and one synthetic sample of a missing id */
static void make_data(ms_seg_data *d, int same)
{
	char id[32], of[32];
	ms_seg_data_init(d);
	for (int i = 0; i < 8; i++) {
		ms_tensor img = plane(1, 8, 8, 0.1f * i), m;
		int64_t s[3] = { 1, 8, 8 };
		ms_tensor_alloc(&m, MS_U8, 3, s);
		for (int p = 0; p < 64; p++)
			((uint8_t *)m.data)[p] = (p * 7 + i) % 5 < 2;
		snprintf(id, sizeof id, "r%d", i);
		CHECK(ms_seg_data_add(d, id, NULL, &img, &m) == 0);
		for (int k = 0; k < 2; k++) {
			ms_tensor syn = same ? img : plane(1, 8, 8, 0.5f - 0.05f * i * k);
			snprintf(of, sizeof of, "r%d.s%d", i, k);
			CHECK(ms_seg_data_add(d, of, id, &syn, k ? &m : NULL) == 0);
			if (!same)
				ms_tensor_free(&syn);
		}
		ms_tensor_free(&img);
		ms_tensor_free(&m);
	}
	ms_tensor x = plane(1, 8, 8, 0);
	CHECK(ms_seg_data_add(d, "x.s0", "missing", &x, NULL) == 0);
	ms_tensor_free(&x);
}

static void test_split(void)
{
	ms_seg_data d;
	make_data(&d, 0);
	CHECK(ms_seg_data_split(&d, 0.4) == 0);
	int nval = 0;
	for (int i = 0; i < d.n; i++)
		if (!d.s[i].of)
			nval += ms_seg_is_val(d.s[i].id, 0.4);
	CHECK(d.nval == nval && d.ntrain == 8 - nval);
	CHECK(d.nsyn_dropped == 1 && d.nsyn_leak == 2 * nval && d.nsyn == 16 - 2 * nval);
	for (int k = 0; k < d.ntrain; k++) {
		const ms_seg_sample *r = &d.s[d.train[k]];
		CHECK(r->nsyn == 2);
		for (int j = 0; j < r->nsyn; j++)
			CHECK(d.s[d.syn[r->syn0 + j]].real == d.train[k]);
	}
	ms_seg_data_free(&d);
	/* errors: sizes, duplicate ids, everything held out */
	ms_seg_data_init(&d);
	ms_tensor a = plane(1, 8, 8, 0), b = plane(1, 8, 12, 0), c = plane(1, 6, 8, 0);
	CHECK(ms_seg_data_add(&d, "a", NULL, &a, &a) == 0);
	CHECK(ms_seg_data_add(&d, "b", NULL, &b, &b) < 0 && strstr(ms_errmsg(), "differs"));
	CHECK(ms_seg_data_add(&d, "c", NULL, &c, &c) < 0 && strstr(ms_errmsg(), "multiples of 4"));
	CHECK(ms_seg_data_add(&d, "a", NULL, &a, &a) == 0);
	CHECK(ms_seg_data_split(&d, 0.1) < 0 && strstr(ms_errmsg(), "'a' occurs twice"));
	ms_seg_data_free(&d);
	ms_seg_data_init(&d);
	CHECK(ms_seg_data_add(&d, "a", NULL, &a, &a) == 0);
	CHECK(ms_seg_data_split(&d, 1) < 0 && strstr(ms_errmsg(), "no real training samples"));
	ms_seg_data_free(&d);
	ms_tensor_free(&a);
	ms_tensor_free(&b);
	ms_tensor_free(&c);
}

static void test_convert(void)
{
	int64_t s[3] = { 3, 1, 2 };
	ms_tensor t;
	ms_tensor_alloc(&t, MS_U8, 3, s);
	uint8_t *p = t.data;
	p[0] = 255, p[1] = 0, p[2] = 0, p[3] = 255, p[4] = 51, p[5] = 0;
	float out[6];
	CHECK(ms_seg_convert(&t, 1, out) == 0);
	CHECK_NEAR(out[0], 0.299 + 0.114 * 0.2, 1e-6);
	CHECK_NEAR(out[1], 0.587, 1e-6);
	CHECK(ms_seg_convert(&t, 3, out) == 0);
	CHECK_NEAR(out[4], 0.2, 1e-6);
	t.shape[0] = 1;
	t.shape[2] = 6;      /* grey 1x6 */
	float rgb[18];
	CHECK(ms_seg_convert(&t, 3, rgb) == 0);
	CHECK(rgb[4] == rgb[10] && rgb[10] == rgb[16] && rgb[4] > 0.19f && rgb[4] < 0.21f);
	t.shape[0] = 2;
	t.shape[2] = 3;
	CHECK(ms_seg_convert(&t, 1, out) < 0 && strstr(ms_errmsg(), "2 channels"));
	ms_tensor_free(&t);
}

/* trains 3 steps in mode, returns the checkpoint's weights (first 50 floats of each
 * parameter but biases: those before a GroupNorm have a zero gradient, whose rounding
 * noise Adam turns into full steps) */
static int train(ms_seg_data *d, int mode, double alpha, const char *path, float *w, int nw)
{
	ms_seg_opt o;
	ms_seg_opt_default(&o);
	o.steps = 3;
	o.batch = 3;
	o.width = 8;
	o.synth = mode;
	o.merge_alpha = alpha;
	o.merge_patch = 4;
	o.out = path;
	o.report = 100;
	if (ms_seg_train(d, &o) != 0)
		return -1;
	ms_unet *u = ms_unet_load(path, NULL, NULL);
	if (!u)
		return -1;
	ms_params *ps = ms_unet_params(u);
	int k = 0;
	for (int i = 0; i < ps->n && k < nw; i++)
		for (size_t j = 0; !strstr(ps->p[i]->name, "bias") && j < ps->p[i]->n && j < 50 &&
		                   k < nw; j++)
			w[k++] = ps->p[i]->w[j];
	ms_unet_free(u);
	return k;
}

static void test_mix(void)
{
	char path[] = "/tmp/test_segment.XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	enum { NW = 2000 };
	static float a[NW], b[NW], c[NW];
	ms_seg_data d;
	/* synthetic images equal to their real ones: mixing their logits changes nothing */
	make_data(&d, 1);
	CHECK(ms_seg_data_split(&d, 0) == 0);
	int n = train(&d, MS_SYN_IGNORE, 0.6, path, a, NW);
	CHECK(n > 500 && train(&d, MS_SYN_MIX, 0.6, path, b, NW) == n);
	/* rounding differs (two halves of the gradient summed): compare with lr = 1e-3 */
	double worst = 0;
	for (int i = 0; i < n; i++)
		worst = fmax(worst, fabs(a[i] - b[i]));
	CHECK(worst < 1e-4);
	ms_seg_data_free(&d);
	/* different synthetic images: alpha 1 takes only the real logits, alpha 0.6 does not */
	make_data(&d, 0);
	CHECK(ms_seg_data_split(&d, 0) == 0);
	train(&d, MS_SYN_MIX, 1, path, b, NW);
	train(&d, MS_SYN_MIX, 0.6, path, c, NW);
	double e1 = 0, e2 = 0;
	for (int i = 0; i < n; i++) {
		e1 = fmax(e1, fabs(a[i] - b[i]) / (fabs(a[i]) + 1e-3));
		e2 = fmax(e2, fabs(a[i] - c[i]) / (fabs(a[i]) + 1e-3));
	}
	CHECK(e1 < 1e-3);
	CHECK(e2 > 1e-2);   /* relative */
	/* pairs (synthetic samples with masks of their own) are never merged: alpha 1 no
	 * longer hides them */
	for (int i = 0; i < d.n; i++)
		d.s[i].pair = d.s[i].of && d.s[i].mask;
	train(&d, MS_SYN_MIX, 1, path, c, NW);
	double e3 = 0;
	for (int i = 0; i < n; i++)
		e3 = fmax(e3, fabs(b[i] - c[i]) / (fabs(b[i]) + 1e-3));
	CHECK(e3 > 1e-2);
	/* when every synthetic sample is a pair, the default is extra */
	for (int i = 0; i < d.n; i++)
		d.s[i].pair = d.s[i].of != NULL;
	train(&d, MS_SYN_AUTO, 1, path, b, NW);
	train(&d, MS_SYN_EXTRA, 1, path, c, NW);
	CHECK(!memcmp(b, c, n * sizeof *b));
	ms_seg_data_free(&d);
	unlink(path);
}

/* a non-finite loss (NaN pixels given to the library) stops training with an error and
 * no checkpoint, not a checkpoint full of NaN (issue 18) */
static void test_nan_loss(void)
{
	char path[] = "/tmp/test_segment.XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	unlink(path);
	ms_seg_data d;
	make_data(&d, 1);
	ms_tensor img = plane(1, 8, 8, NAN), m = plane(1, 8, 8, 1);
	CHECK(ms_seg_data_add(&d, "nan", NULL, &img, &m) == 0);
	CHECK(ms_seg_data_split(&d, 0) == 0);
	ms_seg_opt o;
	ms_seg_opt_default(&o);
	o.steps = 3;
	o.batch = 9;                /* every batch holds the NaN sample */
	o.width = 8;
	o.synth = MS_SYN_IGNORE;
	o.save_every = 1;
	o.out = path;
	CHECK(ms_seg_train(&d, &o) < 0);
	CHECK(strstr(ms_errmsg(), "step 1: loss is not finite: no checkpoint written"));
	CHECK(access(path, F_OK) < 0);
	ms_tensor_free(&img);
	ms_tensor_free(&m);
	ms_seg_data_free(&d);
	unlink(path);
}

/* the training loop tracks the best validation metric: keep is called for each new best
 * only (after validate_first too), never for a tie or a worse value, best and its step
 * follow; a resumed run's best (here 0.5) is beaten only by a higher metric */
typedef struct {
	const double *val;          /* the metric of each validation in turn */
	int nval, nkeep;
	long vstep[8], kept[8];     /* the steps validated, kept */
} fake;

static int fake_step(void *ctx, long s, double lr, double *loss, double *aux)
{
	(void)ctx, (void)s, (void)lr, (void)aux;
	*loss = 1;
	return 0;
}

static int fake_validate(void *ctx, long s, double *metric)
{
	fake *f = ctx;
	f->vstep[f->nval] = s;
	*metric = f->val[f->nval++];
	return 0;
}

static int fake_keep(void *ctx, long s, double metric)
{
	fake *f = ctx;
	(void)metric;
	f->kept[f->nkeep++] = s;
	return 0;
}

static int fake_save(void *ctx, long s, double metric)
{
	(void)ctx, (void)s, (void)metric;
	return 0;
}

static void test_best(void)
{
	static const double v[] = { 0.2, 0.1, 0.4, 0.4, 0.3, 0.6 };
	fake f = { v, 0, 0, { 0 }, { 0 } };
	double best = -1;
	long bstep = -1, s = 0;
	ms_train t = { .steps = 5, .report = 1, .batch = 1, .validate_first = 1, .ctx = &f,
	               .step = fake_step, .validate = fake_validate, .best = &best,
	               .best_step = &bstep, .keep = fake_keep, .save = fake_save };
	int ret = ms_train_run(&t, &s, NULL);
	CHECK(ret == 0 && s == 5 && f.nval == 6);
	for (int i = 0; i < 6; i++)
		CHECK(f.vstep[i] == i);
	CHECK(f.nkeep == 3 && f.kept[0] == 0 && f.kept[1] == 2 && f.kept[2] == 5);
	CHECK(best == 0.6 && bstep == 5);
	/* resumed with a best of 0.5 at step 7: only 0.6 beats it */
	fake g = { v, 0, 0, { 0 }, { 0 } };
	best = 0.5, bstep = 7, s = 0;
	t.ctx = &g;
	ret = ms_train_run(&t, &s, NULL);
	CHECK(ret == 0 && g.nkeep == 1 && g.kept[0] == 5 && best == 0.6 && bstep == 5);
	/* not tracked (best NULL): keep is never called */
	fake h = { v, 0, 0, { 0 }, { 0 } };
	t.ctx = &h;
	t.best = NULL;
	t.best_step = NULL;
	s = 0;
	ret = ms_train_run(&t, &s, NULL);
	CHECK(ret == 0 && h.nval == 6 && h.nkeep == 0);
}

int main(void)
{
	ms_threads(1);
	RUN(test_is_val);
	RUN(test_split);
	RUN(test_convert);
	RUN(test_mix);
	RUN(test_nan_loss);
	RUN(test_best);
	return test_summary("segment");
}
