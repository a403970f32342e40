/* HiDiff's refiner network: training loss, reverse runs, checkpoints, training set. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/util.h"
#include "io/stream.h"
#include "metrics/mask.h"
#include "models/refine.h"

const char *const ms_refine_loss_names[] = { "focal", "bce", NULL };
const char *const ms_refine_output_names[] = { "direct", "residual", NULL };

int ms_refine_output_parse(const char *s)
{
	return ms_name_index(s, ms_refine_output_names, 2);
}

ms_refiner *ms_refiner_new(int C, int width, int T, int schedule, int flip, int output,
                           uint64_t seed)
{
	ms_unet_cfg cfg;
	ms_unet_cfg_default(&cfg);
	cfg.in_ch = C + 2;
	cfg.width = width;
	cfg.temb = 1;
	ms_refiner *r = ms_calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->C = C;
	r->flip = flip;
	r->output = output;
	if (C < 1 || C > 8 || (flip != MS_BBDM_FOCAL && flip != MS_BBDM_BCE) ||
	    (output != MS_REFINE_DIRECT && output != MS_REFINE_RESIDUAL)) {
		ms_error("refiner: %d image channels, loss %d or output %d out of range", C, flip,
		         output);
		goto fail;
	}
	if (ms_bbdm_init(&r->bb, T, schedule) < 0 || !(r->net = ms_unet_new(&cfg, seed)))
		goto fail;
	if (output == MS_REFINE_RESIDUAL) {
		ms_params *ps = ms_unet_params(r->net);
		ms_param_fill(ms_params_find(ps, "conv_out.weight"), 0);
		ms_param_fill(ms_params_find(ps, "conv_out.bias"), 0);
	}
	return r;
fail:
	ms_refiner_free(r);
	return NULL;
}

static void unplan(ms_refiner *r)
{
	float **p[] = { &r->x, &r->tf, &r->yt, &r->eps, &r->dz, &r->z, &r->sp };
	ms_free_floats(p, sizeof p / sizeof *p);
	r->N = 0;
}

void ms_refiner_free(ms_refiner *r)
{
	if (!r)
		return;
	unplan(r);
	ms_unet_free(r->net);
	free(r);
}

int ms_refiner_plan(ms_refiner *r, int N, int H, int W, int train)
{
	if (r->N == N && r->H == H && r->W == W && r->train == train)
		return 0;
	unplan(r);
	size_t hw = (size_t)H * W, n = (size_t)N * hw;
	if (ms_unet_plan(r->net, N, H, W, train == 2 ? MS_UNET_TRAIN_DX : train) < 0 ||
	    !(r->x = ms_floats(n * (r->C + 2))) || !(r->tf = ms_floats(N)) ||
	    !(r->yt = ms_floats(n)) || !(r->eps = ms_floats(n)) || !(r->dz = ms_floats(n)) ||
	    !(r->z = ms_floats(n)) || (train == 2 && !(r->sp = ms_floats(3 * n)))) {
		unplan(r);
		return -1;
	}
	r->N = N;
	r->H = H;
	r->W = W;
	r->train = train;
	return 0;
}

/* x[n] = concat(img, y, p) for every n; img and p of stride 0 (one image) or one image */
static void input(ms_refiner *r, const float *img, size_t is, const float *y, const float *p,
                  size_t ps)
{
	size_t hw = (size_t)r->H * r->W, ci = (size_t)r->C * hw;
	for (int n = 0; n < r->N; n++) {
		float *x = r->x + n * (ci + 2 * hw);
		memcpy(x, img + n * is, ci * sizeof *x);                  /* [C,H,W] image */
		memcpy(x + ci, y + n * hw, hw * sizeof *x);               /* [1,H,W] y_t */
		memcpy(x + ci + hw, p + n * ps, hw * sizeof *x);          /* [1,H,W] prior */
	}
}

void ms_refiner_draw(const ms_refiner *r, int N, ms_rng *rng, int *t, double *u)
{
	for (int n = 0; n < N; n++)
		t[n] = 1 + (int)ms_rng_below(rng, (uint32_t)r->bb.T);
	for (size_t i = 0; i < N * (size_t)r->H * r->W; i++)
		u[i] = ms_rng_uniform(rng);
}

void ms_refiner_noisy(ms_refiner *r, const int *t, const double *u, const float *y0,
                      const float *p)
{
	size_t hw = (size_t)r->H * r->W;
	for (int n = 0; n < r->N; n++)
		for (size_t i = n * hw; i < (n + 1) * hw; i++)
			r->yt[i] = u[i] < ms_bbdm_marginal(&r->bb, t[n], y0[i], p[i]);
}

/* r->z = the flip logits of the network's output net [N,HW] at times t[N] with priors p
 * [N,HW] or (ps = 0) at time t[0] with one prior p [HW] (residual: plus the prior's
 * own); dp (may be NULL) += dz times their derivative in p */
static const float *logits(ms_refiner *r, const float *net, const int *t, const float *p,
                           size_t ps, const float *dz, float *dp)
{
	size_t hw = (size_t)r->H * r->W;
	if (r->output == MS_REFINE_DIRECT)
		return net;
	for (int n = 0; n < r->N; n++)
		for (size_t i = 0; i < hw; i++) {
			size_t j = n * hw + i;
			double d;
			r->z[j] = net[j] + (float)ms_bbdm_prior_logit(&r->bb, t[ps ? n : 0],
			                                              r->yt[j] > 0.5f, p[n * ps + i],
			                                              dz ? &d : NULL);
			if (dz && dp)
				dp[j] += (float)(dz[j] * d);
		}
	return r->z;
}

double ms_refiner_loss(ms_refiner *r, const int *t, const float *img, const float *y0,
                       const float *p, int backward, float *dp, float w)
{
	size_t hw = (size_t)r->H * r->W;
	MS_ASSERT(r->N > 0 && (!backward || r->train));
	input(r, img, (size_t)r->C * hw, r->yt, p, hw);
	for (int n = 0; n < r->N; n++)
		r->tf[n] = (float)t[n];
	const float *net = ms_unet_forward(r->net, r->x, r->tf, NULL);     /* [N,1,H,W] */
	const float *z = logits(r, net, t, p, hw, NULL, NULL);
	double loss = ms_bbdm_loss_map(&r->bb, t, r->N, hw, r->yt, y0, p, z, r->flip,
	                               r->posterior, r->dz, dp, w);
	if (dp)
		logits(r, net, t, p, hw, r->dz, dp);
	/* the prior's path through the network's input, where the plan keeps its gradient */
	const float *dx = dp ? ms_unet_dx(r->net) : NULL;
	if (backward || dx)
		ms_unet_backward(r->net, r->dz);
	if (dx) {
		size_t ci = (size_t)(r->C + 2) * hw;
		for (int n = 0; n < r->N; n++)
			for (size_t i = 0; i < hw; i++)
				dp[n * hw + i] += dx[n * ci + (r->C + 1) * hw + i];
	}
	return loss;
}

int ms_refiner_run(ms_refiner *r, int H, int W, const float *img, const float *p, int K,
                   int steps, int sampler, ms_rng *rng, float *prob, float *unc)
{
	int ts[MS_BBDM_TMAX];
	size_t hw = (size_t)H * W;
	if (ms_refiner_plan(r, K, H, W, 0) < 0)
		return -1;
	int n = ms_bbdm_timesteps(&r->bb, steps, ts);
	for (size_t i = 0; i < K * hw; i++)                                   /* y_T ~ B(p) */
		r->yt[i] = ms_rng_uniform(rng) < p[i % hw];
	memset(prob, 0, hw * sizeof *prob);
	if (unc)
		memset(unc, 0, hw * sizeof *unc);
	for (int s = 0; s < n; s++) {
		input(r, img, 0, r->yt, p, 0);
		for (int k = 0; k < K; k++)
			r->tf[k] = (float)ts[s];
		const float *z = ms_unet_forward(r->net, r->x, r->tf, NULL);
		z = logits(r, z, ts + s, p, 0, NULL, NULL);
		ms_sigmoid_forward(z, r->eps, K * hw);                          /* eps_hat */
		for (int k = 0; k < K && s + 1 < n; k++)
			ms_bbdm_step(&r->bb, sampler, ts[s], ts[s + 1], hw, r->yt + k * hw,
			             r->eps + k * hw, p, rng);
	}
	/* y0_hat = |y_t - eps_hat| at the last step; mean and std over the K runs */
	for (size_t i = 0; i < hw; i++) {
		double s1 = 0, s2 = 0;
		for (int k = 0; k < K; k++) {
			double v = fabs(r->yt[k * hw + i] - r->eps[k * hw + i]);
			s1 += v;
			s2 += v * v;
		}
		double m = s1 / K, var = s2 / K - m * m;
		prob[i] = (float)m;
		if (unc)
			unc[i] = (float)sqrt(var > 0 ? var : 0);
	}
	return 0;
}

double ms_refiner_validate(ms_refiner *r, const ms_refine_set *v, int K, uint64_t seed,
                           double *prior)
{
	int N = r->N, H = r->H, W = r->W, train = r->train;
	size_t hw = (size_t)v->H * v->W;
	double sum = 0, psum = 0;
	float *prob = ms_malloc(hw * sizeof *prob);
	if (!prob)
		return -1;
	for (int i = 0; i < v->n; i++) {
		ms_rng rng;
		ms_rng_init(&rng, seed, (uint64_t)i);
		const float *y0 = v->y0 + i * hw, *p = v->p + i * hw;
		if (ms_refiner_run(r, v->H, v->W, v->img + i * v->C * hw, p, K, r->bb.T,
		                   r->posterior, &rng, prob, NULL) < 0) {
			free(prob);
			return -1;
		}
		sum += ms_dice_above(prob, 0.5f, y0, 0.5f, hw);
		psum += ms_dice_above(p, 0.5f, y0, 0.5f, hw);
	}
	free(prob);
	if (prior)
		*prior = v->n ? psum / v->n : 0;
	if (N && ms_refiner_plan(r, N, H, W, train) < 0)
		return -1;
	return v->n ? sum / v->n : 0;
}

/* ---- checkpoints */
int ms_refiner_save(ms_refiner *r, const char *path, const ms_adam *opt, long step,
                    const char *extra)
{
	char head[256];
	snprintf(head, sizeof head,
	         "kind=refine\nT=%d\nschedule=%s\nchannels=%d\nloss=%s\noutput=%s\n"
	         "posterior=%s\nprior=sigmoid\n", r->bb.T, ms_bbdm_schedule_name(r->bb.kind),
	         r->C, ms_refine_loss_names[r->flip], ms_refine_output_names[r->output],
	         ms_bbdm_sampler_name(r->posterior));
	size_t n = strlen(head) + (extra ? strlen(extra) : 0) + 2;
	char *all = ms_malloc(n);
	if (!all)
		return -1;
	snprintf(all, n, "%s%s", head, extra ? extra : "");
	int ret = ms_unet_save(r->net, path, opt, step, all);
	free(all);
	return ret;
}

static int meta_int(const ms_rec *m, const char *path, const char *key, long lo, long hi,
                    long *v)
{
	char b[64];
	if (!ms_meta_get(m, key, b, sizeof b) || ms_parse_int(b, lo, hi, v) < 0)
		return ms_error("%s: refiner checkpoint lacks a valid %s=", path, key);
	return 0;
}

ms_refiner *ms_refiner_load(const char *path, ms_adam *opt, ms_rec *model)
{
	ms_rec m;
	char b[64];
	long T, C;
	int sched, flip, output = MS_REFINE_DIRECT, posterior = MS_BBDM_ANCESTRAL;
	ms_refiner *r = NULL;
	ms_rec_init(&m);
	ms_unet *u = ms_unet_load(path, opt, &m);
	if (!u)
		return NULL;
	if (!ms_meta_get(&m, "kind", b, sizeof b) || strcmp(b, "refine")) {
		ms_error("%s: not a refiner checkpoint (kind=refine missing)", path);
		goto out;
	}
	if (meta_int(&m, path, "T", 1, MS_BBDM_TMAX, &T) < 0 ||
	    meta_int(&m, path, "channels", 1, 8, &C) < 0)
		goto out;
	if (!ms_meta_get(&m, "schedule", b, sizeof b) || (sched = ms_bbdm_schedule_parse(b)) < 0) {
		ms_error("%s: refiner checkpoint lacks a known schedule=", path);
		goto out;
	}
	/* written by every refiner: missing or misspelled is an error, not focal */
	if (!ms_meta_get(&m, "loss", b, sizeof b) ||
	    (flip = ms_name_index(b, ms_refine_loss_names, 2)) < 0) {
		ms_error("%s: refiner checkpoint lacks a known loss= (focal or bce)", path);
		goto out;
	}
	if (ms_meta_get(&m, "output", b, sizeof b) && (output = ms_refine_output_parse(b)) < 0) {
		ms_error("%s: refiner checkpoint has an unknown output=%s", path, b);
		goto out;
	}
	if (ms_meta_get(&m, "posterior", b, sizeof b) &&
	    ((posterior = ms_bbdm_sampler_parse(b)) < 0 || posterior == MS_BBDM_DDIM)) {
		ms_error("%s: refiner checkpoint has an unknown posterior=%s", path, b);
		goto out;
	}
	const ms_unet_cfg *c = ms_unet_cfg_of(u);
	if (c->in_ch != C + 2 || c->out_ch != 1 || !c->temb) {
		ms_error("%s: refiner network must take %ld+2 channels, give 1, embed time", path, C);
		goto out;
	}
	if (!(r = ms_calloc(1, sizeof *r)))
		goto out;
	ms_bbdm_init(&r->bb, (int)T, sched);
	r->C = (int)C;
	r->flip = flip;
	r->output = output;
	r->posterior = posterior;
	r->net = u;
	u = NULL;
	if (model) {
		ms_rec_free(model);
		*model = m;
		ms_rec_init(&m);
	}
out:
	ms_unet_free(u);
	ms_rec_free(&m);
	return r;
}

/* ---- training set */
int ms_refine_set_add(ms_refine_set *d, int C, int H, int W, const float *img,
                      const uint8_t *mask, const float *p)
{
	size_t hw = (size_t)H * W;
	if (!d->n) {
		d->C = C;
		d->H = H;
		d->W = W;
	} else if (C != d->C || H != d->H || W != d->W) {
		return ms_error("sample of %dx%dx%d differs from the first, %dx%dx%d", C, W, H, d->C,
		                d->W, d->H);
	}
	if (d->n == d->cap) {
		int cap = d->cap ? 2 * d->cap : 16;
		float *a = ms_reallocarray(d->img, (size_t)cap * C, hw * sizeof(float));
		if (a)
			d->img = a;
		float *b = a ? ms_reallocarray(d->y0, cap, hw * sizeof(float)) : NULL;
		if (b)
			d->y0 = b;
		float *c = b ? ms_reallocarray(d->p, cap, hw * sizeof(float)) : NULL;
		if (!c)
			return -1;
		d->p = c;
		d->cap = cap;
	}
	memcpy(d->img + d->n * C * hw, img, C * hw * sizeof(float));
	for (size_t i = 0; i < hw; i++) {
		d->y0[d->n * hw + i] = mask[i] != 0;
		d->p[d->n * hw + i] = p ? p[i] : 0;
	}
	d->n++;
	return 0;
}

void ms_refine_set_free(ms_refine_set *d)
{
	free(d->img);
	free(d->y0);
	free(d->p);
	memset(d, 0, sizeof *d);
}

void ms_refine_set_batch(const ms_refine_set *d, int B, ms_rng *rng, float *img, float *y0,
                         float *p)
{
	size_t hw = (size_t)d->H * d->W, ci = d->C * hw;
	for (int b = 0; b < B; b++) {
		size_t k = ms_rng_below(rng, (uint32_t)d->n);
		memcpy(img + b * ci, d->img + k * ci, ci * sizeof *img);
		memcpy(y0 + b * hw, d->y0 + k * hw, hw * sizeof *y0);
		memcpy(p + b * hw, d->p + k * hw, hw * sizeof *p);
	}
}

/* ---- the alternate iteration */
/* p = sigmoid(seg(img)) of r->N images (r->sp), and y_t from t, u on it; returns seg's
 * logits */
static const float *alt_prior(ms_refiner *r, ms_unet *seg, const float *img, const float *y0,
                              const int *t, const double *u)
{
	float *p = r->sp;
	MS_ASSERT(r->train == 2);
	const float *z = ms_unet_forward(seg, img, NULL, NULL);             /* [N,1,H,W] */
	ms_sigmoid_forward(z, p, (size_t)r->N * r->H * r->W);
	ms_refiner_noisy(r, t, u, y0, p);
	return z;
}

double ms_refiner_alt_ref(ms_refiner *r, ms_unet *seg, const float *img, const float *y0,
                          const int *t, const double *u, double w)
{
	alt_prior(r, seg, img, y0, t, u);                                  /* detached prior */
	return w * ms_refiner_loss(r, t, img, y0, r->sp, 1, NULL, (float)w);
}

double ms_refiner_alt_seg(ms_refiner *r, ms_unet *seg, double lambda, const float *img,
                          const float *y0, const int *t, const double *u, double w)
{
	size_t n = (size_t)r->N * r->H * r->W;
	float *p = r->sp, *dl = p + n, *dp = p + 2 * n;
	const float *z = alt_prior(r, seg, img, y0, t, u);
	/* its own loss, plus lambda * d diffusion / d p * p (1 - p) */
	double loss = ms_loss_bce(z, y0, n, dl, (float)w, 0);
	loss += ms_loss_dice(z, y0, r->N, n / r->N, dl, (float)w, 1);
	loss += lambda * ms_refiner_loss(r, t, img, y0, p, 0, dp, (float)(lambda * w));
	for (size_t i = 0; i < n; i++)
		dl[i] += dp[i] * p[i] * (1 - p[i]);
	ms_unet_backward(seg, dl);
	return loss * w;
}
