/* Diffusion, prompt embedding and the ms-sample generator: schedules, DDIM timesteps,
 * the DDIM step and the guidance formula against tests/ref/sample_diffusion.py (numpy,
 * float64); DDIM's consistency with q_sample; the zero terminal SNR schedule against its
 * formula, v <-> (x0, eps) and the DDIM step on v against the one on eps; prompt buckets
 * against a Python FNV-1a;
 * the text embedding's and the prompt path's gradients against finite differences;
 * checkpoints, conditions, bounded sampling memory, ms-sample's training items and
 * synthetic samples (synth.c), and a tiny model that overfits
 * one image. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/ms.h"
#include "diffusion/generator.h"
#include "io/stream.h"
#include "test.h"

/* ---- reference values: "key v1 v2 ..." lines */
#define MAXREF 32
static struct {
	char key[32];
	double v[64];
	int n;
} ref[MAXREF];
static int nref;

static int load_ref(void)
{
	FILE *p = popen("/usr/bin/python3 tests/ref/sample_diffusion.py", "r");
	char line[4096];
	if (!p)
		return -1;
	while (nref < MAXREF && fgets(line, sizeof line, p)) {
		char *s = line, *e;
		int k = 0;
		while (*s && *s != ' ' && *s != '\n' && k < 31)
			ref[nref].key[k++] = *s++;
		ref[nref].key[k] = '\0';
		for (ref[nref].n = 0; ref[nref].n < 64; ref[nref].n++, s = e) {
			ref[nref].v[ref[nref].n] = strtod(s, &e);
			if (e == s)
				break;
		}
		nref++;
	}
	return pclose(p) == 0 && nref > 0 ? 0 : -1;
}

static const double *get(const char *key, int *n)
{
	for (int i = 0; i < nref; i++)
		if (!strcmp(ref[i].key, key)) {
			*n = ref[i].n;
			return ref[i].v;
		}
	fprintf(stderr, "reference value %s missing\n", key);
	*n = 0;
	return NULL;
}

/* ---- schedules and steps */
static void test_schedules(void)
{
	int ni, n;
	const double *idx = get("idx", &ni);
	for (int kind = 0; kind < 2; kind++) {
		ms_sched s;
		CHECK(ms_sched_init(&s, kind, 1000) == 0);
		const double *v = get(ms_sched_name(kind), &n);
		CHECK(v && n == ni);
		for (int i = 0; v && i < n; i++)
			CHECK_NEAR(s.abar[(int)idx[i]] / v[i], 1, 1e-10);
		for (int i = 1; i < 1000; i++)
			CHECK(s.abar[i] < s.abar[i - 1]);
		ms_sched_free(&s);
	}
	CHECK(ms_sched_parse("cosine") == MS_SCHED_COSINE && ms_sched_parse("x") < 0);
	ms_sched s;
	CHECK(ms_sched_init(&s, MS_SCHED_LINEAR, 1) < 0);
}

/* Lin et al. 2024: s = sqrt(abar), s' = (s - s_T) s_0 / (s_0 - s_T), abar' = s'^2 */
static void test_zero_snr(void)
{
	for (int kind = 0; kind < 2; kind++) {
		ms_sched s, z;
		CHECK(ms_sched_init(&s, kind, 1000) == 0 && ms_sched_init(&z, kind, 1000) == 0);
		ms_sched_zero_snr(&z);
		double s0 = sqrt(s.abar[0]), sT = sqrt(s.abar[999]);
		CHECK(z.abar[0] == s.abar[0] && z.beta[0] == s.beta[0]);
		CHECK(z.abar[999] == 0 && z.beta[999] == 1);
		int mid[] = { 1, 500, 998 };
		for (int k = 0; k < 3; k++) {
			double sp = (sqrt(s.abar[mid[k]]) - sT) * s0 / (s0 - sT);
			CHECK_NEAR(z.abar[mid[k]], sp * sp, 1e-12 * sp * sp);
		}
		/* the betas give the new abar back; abar decreases; 0 < beta <= 1 */
		double ab = 1, maxr = 0;
		int ok = 1;
		for (int i = 0; i < 1000; i++) {
			ab *= 1 - z.beta[i];
			if (i < 999)
				maxr = fmax(maxr, fabs(ab / z.abar[i] - 1));
			ok &= z.beta[i] > 0 && z.beta[i] <= 1 && (!i || z.abar[i] < z.abar[i - 1]);
		}
		CHECK(ok && ab == 0 && maxr < 1e-12);
		ms_sched_free(&s);
		ms_sched_free(&z);
	}
	/* numpy float64 on the linear schedule: abar[500] 0.07780 -> 0.07525 */
	ms_sched z;
	ms_sched_init(&z, MS_SCHED_LINEAR, 1000);
	ms_sched_zero_snr(&z);
	CHECK_NEAR(z.abar[500], 0.0752462157043267, 1e-14);
	ms_sched_free(&z);
}

static void test_timesteps(void)
{
	int S[] = { 1, 20, 50 }, seq[50], n;
	for (int k = 0; k < 3; k++) {
		char key[16];
		snprintf(key, sizeof key, "seq%d", S[k]);
		const double *v = get(key, &n);
		CHECK(v && n == S[k]);
		ms_ddim_timesteps(1000, S[k], seq);
		for (int i = 0; v && i < n; i++)
			CHECK(seq[i] == (int)v[i]);
		CHECK(seq[0] == 999);         /* DDIM starts at T: abar = 0 under zero SNR */
	}
}

#define NIN 12
static void inputs(float *x, float *eps, float *z)
{
	for (int i = 0; i < NIN; i++) {
		x[i] = (float)(1.3 * sin(i + 1));
		eps[i] = (float)cos(2 * i + 0.5);
		z[i] = (float)(0.7 * sin(3 * i));
	}
}

static void test_ddim_step(void)
{
	ms_sched s;
	float x[NIN], eps[NIN], z[NIN];
	struct { const char *key; int t, tp; double eta; } c[] = {
		{ "ddim_a", 999, 946, 0 }, { "ddim_b", 500, 400, 1 }, { "ddim_c", 52, 0, 0.3 },
		{ "ddim_last", 0, -1, 0 }
	};
	int n;
	ms_sched_init(&s, MS_SCHED_LINEAR, 1000);
	for (int k = 0; k < 4; k++) {
		inputs(x, eps, z);
		ms_ddim_step(x, eps, MS_PRED_EPS, NIN, s.abar[c[k].t], c[k].tp < 0 ? 1 : s.abar[c[k].tp],
		             c[k].eta, c[k].eta > 0 ? z : NULL, 1);
		const double *v = get(c[k].key, &n);
		CHECK(v && n == NIN);
		for (int i = 0; v && i < n; i++)
			CHECK_NEAR(x[i], v[i], 2e-5 * (1 + fabs(v[i])));
	}
	/* with the true noise, eta 0 moves x_t exactly to x_prev of the same x0 and eps */
	float x0[NIN], xt[NIN], xp[NIN];
	inputs(x0, eps, z);
	for (int i = 0; i < NIN; i++)
		x0[i] *= 0.7f;
	ms_q_sample(x0, eps, NIN, s.abar[700], xt);
	ms_q_sample(x0, eps, NIN, s.abar[300], xp);
	ms_ddim_step(xt, eps, MS_PRED_EPS, NIN, s.abar[700], s.abar[300], 0, NULL, 1);
	for (int i = 0; i < NIN; i++)
		CHECK_NEAR(xt[i], xp[i], 1e-4);
	float a = 0.5f, e = -1, y;
	ms_q_sample(&a, &e, 1, 0.25, &y);
	CHECK_NEAR(y, 0.25 - sqrt(0.75), 1e-7);
	CHECK_NEAR(ms_ddim_sigma(0.5, 0.8, 0), 0, 0);
	CHECK_NEAR(ms_ddim_sigma(0.5, 0.8, 1), sqrt(0.2 / 0.5 * (1 - 0.5 / 0.8)), 1e-12);
	ms_sched_free(&s);
}

/* v = sqrt(ab) eps - sqrt(1-ab) x0 and back from x_t */
static void test_v(void)
{
	float x0[NIN], eps[NIN], z[NIN], xt[NIN], v[NIN], x0h[NIN], eh[NIN];
	double abv[] = { 0, 0.3, 0.9999 };
	inputs(x0, eps, z);
	for (int k = 0; k < 3; k++) {
		double ab = abv[k];
		ms_q_sample(x0, eps, NIN, ab, xt);
		ms_v_target(x0, eps, NIN, ab, v);
		ms_v_split(xt, v, NIN, ab, x0h, eh);
		for (int i = 0; i < NIN; i++) {
			CHECK_NEAR(v[i], sqrt(ab) * eps[i] - sqrt(1 - ab) * x0[i], 1e-6);
			CHECK_NEAR(x0h[i], x0[i], 1e-5);
			CHECK_NEAR(eh[i], eps[i], 1e-5);
		}
	}
	/* at abar = 0 (zero terminal SNR): v = -x0, x0 = -v and eps = x_t exactly */
	ms_v_target(x0, eps, NIN, 0, v);
	ms_v_split(eps, v, NIN, 0, x0h, eh);
	for (int i = 0; i < NIN; i++)
		CHECK(v[i] == -x0[i] && x0h[i] == x0[i] && eh[i] == eps[i]);
	/* in place, as the training step does */
	memcpy(v, eps, sizeof v);
	ms_v_target(x0, v, NIN, 0.3, v);
	CHECK_NEAR(v[5], sqrt(0.3) * eps[5] - sqrt(0.7) * x0[5], 1e-6);
}

/* DDIM on v = DDIM on eps for the same x0 and eps (x0 partly beyond [-1,1]: clipped);
 * from abar = 0 it is finite and moves to sqrt(ab') clip(x0) + ... */
static void test_ddim_v(void)
{
	ms_sched s;
	float x0[NIN], eps[NIN], z[NIN], xe[NIN], xv[NIN], v[NIN];
	struct { int t, tp; double eta; } c[] = { { 700, 300, 0 }, { 500, 400, 1 }, { 52, -1, 0 } };
	ms_sched_init(&s, MS_SCHED_LINEAR, 1000);
	ms_sched_zero_snr(&s);
	inputs(x0, eps, z);
	for (int k = 0; k < 3; k++) {
		double ab = s.abar[c[k].t], abp = c[k].tp < 0 ? 1 : s.abar[c[k].tp];
		ms_q_sample(x0, eps, NIN, ab, xe);
		memcpy(xv, xe, sizeof xv);
		ms_v_target(x0, eps, NIN, ab, v);
		ms_ddim_step(xe, eps, MS_PRED_EPS, NIN, ab, abp, c[k].eta, z, 1);
		ms_ddim_step(xv, v, MS_PRED_V, NIN, ab, abp, c[k].eta, z, 1);
		for (int i = 0; i < NIN; i++)
			CHECK_NEAR(xv[i], xe[i], 1e-5);
	}
	double abp = s.abar[946], sigma = 0.5 * sqrt(1 - abp);
	CHECK(s.abar[999] == 0);
	for (int last = 0; last < 2; last++) {
		if (last)
			abp = 1, sigma = 0;         /* one step: x = clip(x0) */
		ms_q_sample(x0, eps, NIN, 0, xv);
		ms_v_target(x0, eps, NIN, 0, v);
		ms_ddim_step(xv, v, MS_PRED_V, NIN, 0, abp, 0.5, z, 1);
		CHECK_NEAR(ms_ddim_sigma(0, abp, 0.5), sigma, 1e-12);
		for (int i = 0; i < NIN; i++) {
			double c0 = fmin(fmax(x0[i], -1), 1);
			CHECK_NEAR(xv[i], sqrt(abp) * c0 + sqrt(1 - abp - sigma * sigma) * eps[i] +
			           sigma * z[i], 1e-5);
		}
	}
	ms_sched_free(&s);
}

static void test_guidance(void)
{
	float x[NIN], eps[NIN], z[NIN], out[NIN];
	int n;
	inputs(x, eps, z);
	ms_cfg_combine(eps, x, NIN, 9, out);
	const double *v = get("cfg", &n);
	CHECK(v && n == NIN);
	for (int i = 0; v && i < n; i++)
		CHECK_NEAR(out[i], v[i], 1e-5 * (1 + fabs(v[i])));
	ms_cfg_combine(eps, x, NIN, 1, out);
	for (int i = 0; i < NIN; i++)
		CHECK_NEAR(out[i], x[i], 1e-6);
	float d[NIN];
	double l = ms_ddpm_loss(x, eps, NIN, d);
	double want = 0;
	for (int i = 0; i < NIN; i++)
		want += (x[i] - eps[i]) * (x[i] - eps[i]) / NIN;
	CHECK_NEAR(l, want, 1e-6);
	CHECK_NEAR(d[3], 2 * (x[3] - eps[3]) / NIN, 1e-6);
}

/* ---- prompt embedding */
static void test_tokens(void)
{
	const char *p[] = { "Breast, Ultrasound!", "colonoscopy  polyp", "CT/spleen 2", "", "  ..  " };
	int tok[8], n;
	for (int k = 0; k < 5; k++) {
		char key[16];
		snprintf(key, sizeof key, "tok%d", k);
		const double *v = get(key, &n);
		int m = ms_text_tokens(p[k], 1024, tok, 8);
		CHECK(v && m == (int)v[0]);
		for (int i = 0; v && i < m; i++)
			CHECK(tok[i] == (int)v[1 + i]);
	}
	CHECK(ms_text_tokens("a b c d e", 7, tok, 3) == 3);
	CHECK(ms_text_tokens(NULL, 7, tok, 3) == 0);
}

static double text_loss(ms_text *t, const char *const *pr, const float *r, float *y)
{
	double s = 0;
	ms_text_forward(t, 3, pr, y);
	for (int i = 0; i < 3 * t->out; i++)
		s += (double)r[i] * y[i];
	return s;
}

static void test_text_grad(void)
{
	ms_params ps = { 0 };
	ms_text t;
	ms_rng rng;
	ps.seed = 3;
	CHECK(ms_text_init(&t, &ps, "text", 16, 6, 5) == 0 && ms_text_plan(&t, 3) == 0);
	const char *pr[3] = { "alpha beta", "", "beta beta gamma" };
	float r[15], y[15];
	ms_rng_init(&rng, 1, 2);
	for (int i = 0; i < 15; i++)
		r[i] = ms_rng_normal(&rng);
	ms_params_zero_grad(&ps);
	text_loss(&t, pr, r, y);
	for (int i = 0; i < 5; i++)
		CHECK_NEAR(y[5 + i], t.proj.b->w[i], 1e-7);     /* empty prompt: the bias */
	ms_text_backward(&t, 3, r);
	double maxd = 0, maxg = 0;
	for (int k = 0; k < ps.n; k++) {
		ms_param *p = ps.p[k];
		for (size_t i = 0; i < p->n; i++) {
			float keep = p->w[i];
			p->w[i] = keep + 1e-2f;
			double lp = text_loss(&t, pr, r, y);
			p->w[i] = keep - 1e-2f;
			double lm = text_loss(&t, pr, r, y);
			p->w[i] = keep;
			maxd = fmax(maxd, fabs((lp - lm) / 2e-2 - p->g[i]));
			maxg = fmax(maxg, fabs(p->g[i]));
		}
	}
	printf("text gradient: max |fd - analytic| %.3g of %.3g\n", maxd, maxg);
	CHECK(maxd < 1e-3 * maxg);
	ms_text_free(&t);
	ms_params_free(&ps);
}

/* the workaround in generator.c: with one cond vector v in every row, d loss / d v is the
 * gradient of time_mlp.2.bias */
static double unet_loss(ms_unet *u, const float *x, const float *t, const float *cv,
                        const float *r, size_t n)
{
	float *y = ms_unet_forward(u, x, t, cv);
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += (double)r[i] * y[i];
	return s;
}

static void test_cond_grad(void)
{
	ms_unet_cfg c;
	ms_unet_cfg_default(&c);
	c.width = 8;
	c.in_ch = 2;
	c.temb = 1;
	ms_unet *u = ms_unet_new(&c, 5);
	int N = 2, td = ms_unet_tdim(u);
	size_t n = (size_t)N * 8 * 8;
	float x[2 * 2 * 64], r[2 * 64], t[2] = { 10, 700 }, cv[2 * 32];
	ms_rng rng;
	ms_rng_init(&rng, 4, 4);
	for (size_t i = 0; i < 2 * n; i++)
		x[i] = ms_rng_normal(&rng);
	for (size_t i = 0; i < n; i++)
		r[i] = ms_rng_normal(&rng);
	for (int j = 0; j < td; j++)
		cv[j] = cv[td + j] = 0.3f * ms_rng_normal(&rng);
	CHECK(td == 32 && ms_unet_plan(u, N, 8, 8, 1) == 0);
	ms_params_zero_grad(ms_unet_params(u));
	unet_loss(u, x, t, cv, r, n);
	ms_unet_backward(u, r);
	const float *g = ms_params_find(ms_unet_params(u), "time_mlp.2.bias")->g;
	double maxd = 0, maxg = 0;
	for (int j = 0; j < td; j++) {
		float keep = cv[j];
		cv[j] = cv[td + j] = keep + 1e-2f;
		double lp = unet_loss(u, x, t, cv, r, n);
		cv[j] = cv[td + j] = keep - 1e-2f;
		double lm = unet_loss(u, x, t, cv, r, n);
		cv[j] = cv[td + j] = keep;
		maxd = fmax(maxd, fabs((lp - lm) / 2e-2 - g[j]));
		maxg = fmax(maxg, fabs(g[j]));
	}
	printf("prompt-vector gradient via time_mlp.2.bias: max |fd - analytic| %.3g of %.3g\n",
	       maxd, maxg);
	CHECK(maxg > 0 && maxd < 1e-2 * maxg);
	ms_unet_free(u);
}

/* ---- the generator */
static ms_gen *tiny_zsnr(int rgb, int optional, int zero_snr)
{
	ms_gen_cfg c;
	ms_gen_cfg_default(&c);
	c.unet.width = 8;
	c.img_ch = rgb ? 3 : 1;
	c.optional = optional;
	c.zero_snr = zero_snr;
	c.H = c.W = 16;
	c.buckets = 32;
	c.text_dim = 8;
	CHECK(ms_gen_cfg_cond(&c, "edges,mask") == 0);
	return ms_gen_new(&c, 7);
}

static ms_gen *tiny(int rgb, int optional)
{
	return tiny_zsnr(rgb, optional, 0);
}

static void test_cfg(void)
{
	ms_gen_cfg c;
	ms_gen_cfg_default(&c);
	CHECK(ms_gen_cfg_cond(&c, "edges,mask,band") == 0 && c.ncond == 3);
	CHECK(!strcmp(c.cond[2], "band"));
	CHECK(ms_gen_cfg_cond(&c, "edges,,mask") < 0);
	CHECK(ms_gen_cfg_cond(&c, "edges,edges") < 0);
	CHECK(ms_gen_cfg_cond(&c, "a,b,c,d,e,f,g,h,i") < 0);
}

static void test_checkpoint(void)
{
	char path[] = "/tmp/test_diffusion.XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	ms_gen *g = tiny(1, 1);
	ms_adam a;
	ms_rec m;
	ms_adam_init(&a, 1e-3, 0, 0);
	a.t = 17;
	CHECK(ms_params_ema_enable(ms_gen_params(g)) == 0);
	ms_gen_params(g)->p[3]->ema[0] = 42;
	ms_rec_init(&m);
	ms_meta_set(&m, "seed", "5");
	CHECK(ms_gen_save(g, path, &a, 123, &m) == 0);
	ms_adam b;
	ms_adam_init(&b, 1e-3, 0, 0);
	ms_gen *h = ms_gen_load(path, &b, &m);
	CHECK(h != NULL);
	if (h) {
		char v[32];
		const ms_gen_cfg *c = ms_gen_cfg_of(h);
		CHECK(b.t == 17 && c->optional == 1 && c->ncond == 2 && c->unet.in_ch == 6);
		CHECK(c->buckets == 32 && c->text_dim == 8 && c->H == 16 && !strcmp(c->cond[1], "mask"));
		CHECK(ms_meta_get(&m, "step", v, sizeof v) && !strcmp(v, "123"));
		CHECK(ms_meta_get(&m, "seed", v, sizeof v) && !strcmp(v, "5"));
		ms_params *p = ms_gen_params(g), *q = ms_gen_params(h);
		CHECK(p->n == q->n && ms_params_find(q, "text.table") && q->p[3]->ema[0] == 42);
		for (int i = 0; i < p->n && i < q->n; i++)
			CHECK(!memcmp(p->p[i]->w, q->p[i]->w, p->p[i]->n * sizeof(float)));
	}
	ms_gen_free(h);
	/* a plain U-Net checkpoint is not a generator */
	ms_unet_cfg uc;
	ms_unet_cfg_default(&uc);
	uc.width = 8;
	ms_unet *u = ms_unet_new(&uc, 1);
	CHECK(ms_unet_save(u, path, NULL, 0, NULL) == 0);
	CHECK(ms_gen_load(path, NULL, NULL) == NULL && strstr(ms_errmsg(), "kind=sample"));
	ms_unet_free(u);
	FILE *f = fopen(path, "wb");
	fputs("not a stream", f);
	fclose(f);
	CHECK(ms_gen_load(path, NULL, NULL) == NULL && strstr(ms_errmsg(), path));
	unlink(path);
	ms_rec_free(&m);
	ms_gen_free(g);
}

static void test_cond_fill(void)
{
	ms_gen *g = tiny(0, 1);
	const ms_gen_cfg *c = ms_gen_cfg_of(g);
	uint8_t mk[16] = { 0, 1, 255, 0 };
	float ed[16], out[3 * 16];
	for (int i = 0; i < 16; i++)
		ed[i] = i / 16.0f;
	ms_tensor te = { MS_F32, 3, { 1, 4, 4 }, ed }, tm = { MS_U8, 2, { 4, 4 }, mk };
	const ms_tensor *both[2] = { &te, &tm }, *one[2] = { &te, NULL };
	CHECK(ms_gen_cond_fill(c, both, 4, 4, out) == 0);
	CHECK(out[5] == ed[5] && out[16 + 1] == 1 && out[16 + 2] == 1 && out[16 + 3] == 0);
	CHECK(out[32] == 1 && out[47] == 1);
	CHECK(ms_gen_cond_fill(c, one, 4, 4, out) == 0);
	CHECK(out[16 + 1] == 0 && out[32] == 0 && out[5] == ed[5]);
	CHECK(ms_gen_cond_fill(c, both, 4, 5, out) < 0);
	ms_gen_free(g);
	g = tiny(0, 0);
	CHECK(ms_gen_cond_fill(ms_gen_cfg_of(g), one, 4, 4, out) < 0 && strstr(ms_errmsg(), "mask"));
	ms_gen_free(g);
}

static void test_sample(void)
{
	ms_gen *g = tiny(1, 0);
	float cond[2 * 16 * 16], *out = malloc(16 * 3 * 256 * sizeof *out);
	float *out2 = malloc(16 * 3 * 256 * sizeof *out2);
	ms_rng rng[16], rng2[16];
	for (int i = 0; i < 2 * 256; i++)
		cond[i] = (i % 16) < 8;
	for (int k = 0; k < 16; k++)
		ms_rng_init(&rng[k], 1, (uint64_t)k);
	memcpy(rng2, rng, sizeof rng);
	ms_gen_sample_opt o = { .steps = 5, .batch = 4, .eta = 0.5, .guidance = 3 };
	CHECK(ms_gen_sample(g, &o, 16, 16, cond, "breast", 2, rng, out) == 0);
	size_t small = ms_gen_planned_bytes(g);
	for (int k = 0; k < 16; k++)
		ms_rng_init(&rng[k], 1, (uint64_t)k);
	CHECK(ms_gen_sample(g, &o, 16, 16, cond, "breast", 16, rng, out) == 0);
	size_t big = ms_gen_planned_bytes(g);
	printf("sampling memory: %zu bytes for 2 images, %zu for 16 (batch 4)\n", small, big);
	CHECK(big == small);
	int in = 1;
	for (int i = 0; i < 16 * 3 * 256; i++)
		in &= out[i] >= 0 && out[i] <= 1;
	CHECK(in);
	/* the same noise streams give the same images */
	CHECK(ms_gen_sample(g, &o, 16, 16, cond, "breast", 16, rng2, out2) == 0);
	CHECK(!memcmp(out, out2, 16 * 3 * 256 * sizeof *out));
	/* w = 1 uses one forward: other guidance, other images */
	o.guidance = 1;
	for (int k = 0; k < 16; k++)
		ms_rng_init(&rng2[k], 1, (uint64_t)k);
	CHECK(ms_gen_sample(g, &o, 16, 16, cond, "breast", 2, rng2, out2) == 0);
	CHECK(memcmp(out, out2, 2 * 3 * 256 * sizeof *out));
	o.steps = 0;
	CHECK(ms_gen_sample(g, &o, 16, 16, cond, "", 2, rng2, out2) < 0);
	o.steps = 5;
	CHECK(ms_gen_sample(g, &o, 15, 16, cond, "", 2, rng2, out2) < 0);
	free(out);
	free(out2);
	ms_gen_free(g);
}

/* zero_snr=1 prediction=v in the metadata, neither key in other models (which read as
 * zero_snr 0); keys that do not fit are errors; a zero-SNR model samples other images than
 * the same weights as an eps model, in [0,1], also in one step (from abar = 0) */
static void test_zero_snr_model(void)
{
	ms_gen *g = tiny_zsnr(0, 0, 1), *h = tiny(0, 0);
	ms_rec r, q;
	ms_gen_cfg c;
	char v[16];
	ms_rec_init(&r);
	ms_rec_init(&q);
	CHECK(ms_gen_cfg_to_rec(ms_gen_cfg_of(g), &r) == 0);
	CHECK(ms_gen_cfg_to_rec(ms_gen_cfg_of(h), &q) == 0);
	CHECK(ms_meta_get(&r, "zero_snr", v, sizeof v) && !strcmp(v, "1"));
	CHECK(ms_meta_get(&r, "prediction", v, sizeof v) && !strcmp(v, "v"));
	CHECK(!ms_meta_get(&q, "zero_snr", v, sizeof v) && !ms_meta_get(&q, "prediction", v, sizeof v));
	CHECK(ms_gen_cfg_from_rec(&c, &r) == 0 && c.zero_snr == 1);
	CHECK(ms_gen_cfg_from_rec(&c, &q) == 0 && c.zero_snr == 0);
	ms_meta_set(&r, "prediction", "eps");
	CHECK(ms_gen_cfg_from_rec(&c, &r) < 0 && strstr(ms_errmsg(), "prediction=eps"));
	ms_meta_set(&r, "prediction", NULL);
	CHECK(ms_gen_cfg_from_rec(&c, &r) < 0 && strstr(ms_errmsg(), "zero_snr=1"));
	ms_meta_set(&q, "prediction", "v");
	CHECK(ms_gen_cfg_from_rec(&c, &q) < 0 && strstr(ms_errmsg(), "zero_snr=0"));
	ms_meta_set(&q, "zero_snr", "2");
	CHECK(ms_gen_cfg_from_rec(&c, &q) < 0 && strstr(ms_errmsg(), "zero_snr=2"));
	ms_rec_free(&r);
	ms_rec_free(&q);
	float cond[2 * 256], a[2 * 256], b[2 * 256];
	ms_rng ra[2], rb[2];
	for (int i = 0; i < 2 * 256; i++)
		cond[i] = (i % 16) < 8;
	for (int steps = 1; steps <= 5; steps += 4) {
		ms_gen_sample_opt o = { .steps = steps, .batch = 4, .eta = 0.5, .guidance = 3 };
		for (int k = 0; k < 2; k++) {
			ms_rng_init(&ra[k], 1, (uint64_t)k);
			ms_rng_init(&rb[k], 1, (uint64_t)k);
		}
		CHECK(ms_gen_sample(g, &o, 16, 16, cond, "breast", 2, ra, a) == 0);
		CHECK(ms_gen_sample(h, &o, 16, 16, cond, "breast", 2, rb, b) == 0);
		int in = 1;
		for (int i = 0; i < 2 * 256; i++)
			in &= a[i] >= 0 && a[i] <= 1;
		CHECK(in && memcmp(a, b, sizeof a));
	}
	ms_gen_free(g);
	ms_gen_free(h);
}

/* mean loss over 16 fixed (t, noise) draws, weights unchanged (Adam with lr 0) */
static double eval_loss(ms_gen *g, ms_gen_data *d, float *x0, float *cb)
{
	ms_adam z;
	ms_gen_train_opt o = { 0, 0, 0 };
	double s = 0;
	ms_adam_init(&z, 0, 0, 0);
	for (int k = 0; k < 16; k++) {
		ms_rng r;
		ms_rng_init(&r, 99, (uint64_t)k);
		const char *p = ms_gen_data_batch(d, &r, 4, 1, x0, cb);
		s += ms_gen_train_step(g, &z, &o, 4, 16, 16, x0, cb, p, &r) / 16;
	}
	return s;
}

/* one image, random t and noise, the training step of ms-sample: the loss falls by 10x
 * (target eps, or v with zero SNR); sampled with the averaged weights, the zero-SNR
 * model keeps the image's mean intensity (methods.md 1.2; the eps model's is printed) */
static void overfit(int zero_snr)
{
	ms_gen *g = tiny_zsnr(0, 0, zero_snr);
	ms_gen_data *d = ms_gen_data_new(2, 0, 16, 16);
	float img[256], cond[2 * 256], x0[4 * 256], cb[4 * 2 * 256];
	for (int i = 0; i < 256; i++) {
		int y = i / 16, x = i % 16, in = (y - 7) * (y - 7) + (x - 9) * (x - 9) < 20;
		img[i] = in ? 0.9f : 0.2f + 0.02f * (x % 3);
		cond[i] = 0;
		cond[256 + i] = (float)in;
	}
	CHECK(ms_gen_data_add(d, img, 1, NULL, cond, "a") == 0 && ms_gen_data_channels(d) == 1);
	ms_adam a;
	ms_adam_init(&a, 3e-3, 0, 0);
	ms_gen_train_opt o = { 0.1, 1, 0.99 };
	clock_t c0 = clock();
	double first = eval_loss(g, d, x0, cb);
	int steps = 400;
	for (int s = 0; s < steps; s++) {
		ms_rng r;
		ms_rng_init(&r, 1, (uint64_t)s);
		const char *p = ms_gen_data_batch(d, &r, 4, 1, x0, cb);
		CHECK(ms_gen_train_step(g, &a, &o, 4, 16, 16, x0, cb, p, &r) >= 0);
	}
	double last = eval_loss(g, d, x0, cb);
	printf("overfit one image%s: loss %.4f -> %.4f after %d steps, %.2f s CPU\n",
	       zero_snr ? " (zero SNR, v)" : "", first, last, steps,
	       (double)(clock() - c0) / CLOCKS_PER_SEC);
	CHECK(last < first / 10);
	CHECK(x0[0] == 2 * img[0] - 1 && cb[256 + 0] == cond[256]);
	/* 8 images, 20 DDIM steps, the prompt only */
	float out[8 * 256];
	ms_rng rng[8];
	ms_gen_sample_opt so = { .steps = 20, .batch = 8, .eta = 0, .guidance = 1 };
	double im = 0, sm = 0;
	for (int k = 0; k < 8; k++)
		ms_rng_init(&rng[k], 3, (uint64_t)k);
	ms_params_ema_swap(ms_gen_params(g));
	CHECK(ms_gen_sample(g, &so, 16, 16, cond, "a", 8, rng, out) == 0);
	for (int i = 0; i < 8 * 256; i++) {
		im += img[i % 256] / (8 * 256.0);
		sm += out[i] / (8 * 256.0);
	}
	printf("  mean intensity: image %.3f, samples %.3f\n", im, sm);
	if (zero_snr)
		CHECK(fabs(sm - im) < 0.05);
	ms_gen_data_free(d);
	ms_gen_free(g);
}

static void test_overfit(void)
{
	overfit(0);
	overfit(1);
}

/* a record NAME [1,16,16] of f32 v (u8 when mask) with "key=value" pairs, to f */
static void put(FILE *f, const char *name, float v, const char *const *kv)
{
	ms_rec r;
	ms_tensor t;
	int64_t shape[3] = { 1, 16, 16 };
	int u8 = !strcmp(name, "mask");
	ms_rec_init(&r);
	CHECK(ms_tensor_alloc(&t, u8 ? MS_U8 : MS_F32, 3, shape) == 0);
	for (int i = 0; i < 256; i++)
		if (u8)
			((uint8_t *)t.data)[i] = i % 3 == 0;
		else
			((float *)t.data)[i] = v * (i % 16) / 16;
	CHECK(ms_rec_set(&r, name, &t) == 0);
	for (; *kv; kv += 2)
		CHECK(ms_meta_set(&r, kv[0], kv[1]) == 0);
	CHECK(ms_rec_write(f, &r) == 0);
	ms_rec_free(&r);
}

static int synth_cb(ms_sample *s, void *ctx)
{
	void **a = ctx;
	return ms_gen_synth(a[0], a[1], s, a[2]);
}

/* synth.c: a stream as the training set (sizes, skipped samples, prompts); the synthetic
 * samples of a real one: order, ids, of=, the image's metadata, copies of mask and
 * conditions; -1 with a message (never an exit) on a bad sample */
static void test_synth(void)
{
	FILE *in = tmpfile(), *out = tmpfile();
	put(in, "image", 1, (const char *const[]){ "id", "a", "source", "a.png", "prompt", "pp",
	    "foo", "bar", NULL });
	put(in, "edges", 0.5, (const char *const[]){ "id", "a", "of", "z", "k", "v", NULL });
	put(in, "mask", 0, (const char *const[]){ "id", "a", NULL });
	put(in, "image", 1, (const char *const[]){ "id", "b", NULL });   /* no conditions */
	put(in, "edges", 1, (const char *const[]){ "id", "c", NULL });   /* no image, no mask */
	rewind(in);
	ms_gen *g = tiny(0, 1);
	ms_gen_reader rd = { .cfg = ms_gen_cfg_of(g), .prompt = NULL };
	CHECK(ms_sample_each(in, "in", ms_gen_add_sample, &rd) == 0);
	CHECK(rd.data && rd.H == 16 && rd.W == 16 && rd.skipped == 1);
	CHECK(ms_gen_data_count(rd.data) == 2 && ms_gen_data_prompts(rd.data) == 2);
	ms_gen_data_free(rd.data);
	rewind(in);
	ms_gen_reader rs = { .cfg = ms_gen_cfg_of(g), .size = { 8, 8 }, .prompt = "x" };
	CHECK(ms_sample_each(in, "in", ms_gen_add_sample, &rs) == 0);
	CHECK(rs.H == 8 && rs.W == 8 && ms_gen_data_prompts(rs.data) == 1);
	/* a sample of another size: an error naming it */
	rs.size[0] = rs.size[1] = 16;
	rewind(in);
	CHECK(ms_sample_each(in, "in", ms_gen_add_sample, &rs) < 0);
	CHECK(strstr(ms_errmsg(), "sample 'a' is 16x16, the first was 8x8"));
	ms_gen_data_free(rs.data);

	/* a model of the edges only: the mask is copied, after the image */
	ms_gen_cfg c1 = *ms_gen_cfg_of(g);
	CHECK(ms_gen_cfg_cond(&c1, "edges") == 0);
	ms_gen *g1 = ms_gen_new(&c1, 7);
	ms_gen_synth_opt so = { .sample = { .steps = 2, .batch = 2, .eta = 0, .guidance = 3 },
	                        .n = 2, .seed = 5 };
	void *a[3] = { g1, &so, out };
	rewind(in);
	CHECK(ms_sample_each(in, "in", synth_cb, a) == 0);
	rewind(out);
	static const char *const want[][3] = { { "image", "a", "" }, { "edges", "a", "" },
		{ "mask", "a", "" }, { "image", "a.s0", "a" }, { "mask", "a.s0", "a" },
		{ "edges", "a.s0", "a" }, { "image", "a.s1", "a" }, { "mask", "a.s1", "a" },
		{ "edges", "a.s1", "a" }, { "image", "b", "" }, { "edges", "c", "" },
		{ "image", "c.s0", "c" }, { "edges", "c.s0", "c" }, { "image", "c.s1", "c" },
		{ "edges", "c.s1", "c" } };
	ms_rec r;
	char v[64];
	int n = 0;
	ms_rec_init(&r);
	while (n < 15 && ms_rec_read(out, &r) == 1) {
		CHECK(!strcmp(r.name, want[n][0]));
		CHECK(!strcmp(ms_meta_get(&r, "id", v, sizeof v) ? v : "", want[n][1]));
		if (*want[n][2])
			CHECK(ms_meta_get(&r, "of", v, sizeof v) && !strcmp(v, want[n][2]));
		if (n == 3) {
			CHECK(!ms_meta_get(&r, "source", v, sizeof v));
			CHECK(ms_meta_get(&r, "foo", v, sizeof v) && !strcmp(v, "bar"));
			CHECK(ms_meta_get(&r, "prompt", v, sizeof v) && !strcmp(v, "pp"));
			CHECK(ms_meta_get(&r, "seed", v, sizeof v) && !strcmp(v, "5"));
			CHECK(ms_meta_get(&r, "synthetic", v, sizeof v) && !strcmp(v, "1"));
			CHECK(r.t.dtype == MS_F32 && r.t.shape[1] == 16);
		}
		if (n == 5)
			CHECK(ms_meta_get(&r, "k", v, sizeof v) && r.t.dtype == MS_F32 &&
			      ((float *)r.t.data)[15] == 0.5f * 15 / 16);
		n++;
	}
	CHECK(n == 15 && ms_rec_read(out, &r) == 0);
	ms_rec_free(&r);
	/* a condition of another size than the first: -1 naming the sample */
	a[0] = g;
	FILE *bad = tmpfile();
	put(bad, "edges", 1, (const char *const[]){ "id", "d", NULL });
	ms_tensor t;
	int64_t shape[3] = { 1, 8, 8 };
	ms_rec_init(&r);
	CHECK(ms_tensor_alloc(&t, MS_U8, 3, shape) == 0 && ms_rec_set(&r, "mask", &t) == 0);
	CHECK(ms_meta_set(&r, "id", "d") == 0 && ms_rec_write(bad, &r) == 0);
	ms_rec_free(&r);
	rewind(bad);
	CHECK(ms_sample_each(bad, "bad", synth_cb, a) < 0 && strstr(ms_errmsg(), "sample 'd'"));
	/* the checkpoint's settings */
	ms_rec_init(&r);
	CHECK(ms_gen_ckpt_meta(&r, 3, 8, 2e-4, 0.1, 0.999) == 0);
	CHECK(ms_meta_get(&r, "lr", v, sizeof v) && !strcmp(v, "0.0002"));
	CHECK(ms_meta_get(&r, "p_uncond", v, sizeof v) && !strcmp(v, "0.1"));
	CHECK(!strcmp(ms_gen_ckpt_keys[3][0], "p-uncond"));
	ms_rec_free(&r);
	fclose(bad);
	fclose(in);
	fclose(out);
	ms_gen_free(g1);
	ms_gen_free(g);
}

int main(void)
{
	ms_threads(1);
	CHECK(load_ref() == 0);
	RUN(test_schedules);
	RUN(test_zero_snr);
	RUN(test_timesteps);
	RUN(test_ddim_step);
	RUN(test_v);
	RUN(test_ddim_v);
	RUN(test_guidance);
	RUN(test_tokens);
	RUN(test_text_grad);
	RUN(test_cond_grad);
	RUN(test_cfg);
	RUN(test_checkpoint);
	RUN(test_cond_fill);
	RUN(test_sample);
	RUN(test_synth);
	RUN(test_zero_snr_model);
	RUN(test_overfit);
	return test_summary("diffusion");
}
