/* The conditional diffusion generator: model, checkpoints, training step, DDIM sampling
 * with classifier-free guidance (its training set: gendata.c).
 *
 * The prompt's gradient: ms_unet adds cond to its time embedding (temb = time_mlp.2(h) +
 * cond) but does not export d loss / d cond. Summed over the batch it equals the
 * gradient of time_mlp.2.bias, which is exact for the text embedding when every image
 * of a batch has the same prompt: so training batches share one prompt (and its
 * dropout), see ms_gen_data_batch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/tensor.h"
#include "core/util.h"
#include "diffusion/generator.h"
#include "io/stream.h"

struct ms_gen {
	ms_gen_cfg cfg;
	ms_unet *u;
	ms_text text;
	ms_sched sched;
	ms_param *tbias;              /* time_mlp.2.bias */
	int tdim;
	/* plan */
	int N, H, W, train;
	size_t bytes;
	float *xin, *tf, *tv, *tp, *eps, *d, *dtv;
	const char **pp;
	/* a training batch's draws: [B,in,H,W] input, [B,G,H,W] target, [B] t */
	int B, BH, BW, drop;
	float *bx, *beps, *btf;
	const char *prompt;
	/* sampling state */
	size_t scap;
	float *xs, *es, *z, *ds;        /* ds: DPM-Solver++'s last x0 of each state */
};

/* ---- construction */
ms_gen *ms_gen_new(const ms_gen_cfg *c, uint64_t seed)
{
	ms_gen *g = ms_calloc(1, sizeof *g);
	if (!g)
		return NULL;
	g->cfg = *c;
	g->cfg.unet.in_ch = ms_gen_channels(c) + ms_gen_cond_channels(c);
	g->cfg.unet.out_ch = ms_gen_channels(c);
	g->cfg.unet.temb = 1;
	if (!(g->u = ms_unet_new(&g->cfg.unet, seed)) || ms_sched_init(&g->sched, c->sched, c->T) < 0)
		goto fail;
	if (c->zero_snr)
		ms_sched_zero_snr(&g->sched);
	g->tdim = ms_unet_tdim(g->u);
	if (ms_text_init(&g->text, ms_unet_params(g->u), "text", c->buckets, c->text_dim,
	                 g->tdim) < 0)
		goto fail;
	g->tbias = ms_params_find(ms_unet_params(g->u), "time_mlp.2.bias");
	MS_ASSERT(g->tbias && (int)g->tbias->n == g->tdim);
	return g;
fail:
	ms_gen_free(g);
	return NULL;
}

static void unplan(ms_gen *g)
{
	float **p[] = { &g->xin, &g->tf, &g->tv, &g->tp, &g->eps, &g->d, &g->dtv, &g->xs,
	                &g->es, &g->z, &g->ds };
	ms_free_floats(p, sizeof p / sizeof *p);
	free(g->pp);
	g->pp = NULL;
	ms_text_free(&g->text);
	g->N = 0;
	g->scap = 0;
	g->bytes = 0;
}

void ms_gen_free(ms_gen *g)
{
	if (!g)
		return;
	unplan(g);
	free(g->bx);
	ms_unet_free(g->u);
	ms_sched_free(&g->sched);
	free(g);
}

const ms_gen_cfg *ms_gen_cfg_of(const ms_gen *g)
{
	return &g->cfg;
}

ms_params *ms_gen_params(ms_gen *g)
{
	return ms_unet_params(g->u);
}

size_t ms_gen_planned_bytes(const ms_gen *g)
{
	return g->bytes + ms_unet_planned_bytes(g->u);
}

static int get(ms_gen *g, float **p, size_t n)
{
	g->bytes += n * sizeof(float);
	return (*p = ms_floats(n)) ? 0 : -1;
}

static int plan(ms_gen *g, int N, int H, int W, int train)
{
	if (g->N == N && g->H == H && g->W == W && g->train == train)
		return 0;
	unplan(g);
	size_t hw = (size_t)H * W, c = (size_t)ms_gen_channels(&g->cfg) * hw;
	if (ms_unet_plan(g->u, N, H, W, train) < 0 || ms_text_plan(&g->text, N < 2 ? 2 : N) < 0 ||
	    get(g, &g->xin, (size_t)N * g->cfg.unet.in_ch * hw) < 0 || get(g, &g->tf, N) < 0 ||
	    get(g, &g->tv, (size_t)N * g->tdim) < 0 || get(g, &g->tp, 2 * (size_t)g->tdim) < 0 ||
	    !(g->pp = ms_calloc(N, sizeof *g->pp)))
		goto fail;
	if (train && (get(g, &g->eps, N * c) < 0 || get(g, &g->d, N * c) < 0 ||
	              get(g, &g->dtv, (size_t)N * g->tdim) < 0))
		goto fail;
	g->N = N;
	g->H = H;
	g->W = W;
	g->train = train;
	return 0;
fail:
	unplan(g);
	return -1;
}

/* ---- checkpoints */
int ms_gen_save(ms_gen *g, const char *path, const ms_adam *opt, long step,
                const ms_rec *extra)
{
	ms_rec r;
	ms_rec_init(&r);
	int ret = (extra && ms_meta_copy(&r, extra) < 0) || ms_gen_cfg_to_rec(&g->cfg, &r) < 0
	          ? -1 : ms_ckpt_save(path, &r, NULL, ms_gen_params(g), opt, step);
	ms_rec_free(&r);
	return ret;
}

static void *gen_build(const ms_rec *r)
{
	ms_gen_cfg cfg;
	return ms_gen_cfg_from_rec(&cfg, r) < 0 ? NULL : ms_gen_new(&cfg, 0);
}

static ms_params *gen_params(void *g)
{
	return ms_gen_params(g);
}

static void gen_destroy(void *g)
{
	ms_gen_free(g);
}

ms_gen *ms_gen_load(const char *path, ms_adam *opt, ms_rec *model)
{
	static const ms_ckpt_kind k = { gen_build, gen_params, gen_destroy };
	return ms_ckpt_load(path, opt, model, &k);
}

/* ---- conditions */
int ms_gen_cond_fill(const ms_gen_cfg *c, const ms_tensor *const *rec, int H, int W,
                     float *out)
{
	size_t hw = (size_t)H * W;
	int valid = 1;
	for (int k = 0; k < c->ncond; k++) {
		const ms_tensor *t = rec[k];
		float *o = out + k * hw;
		if (!t) {
			if (!c->optional)
				return ms_error("no '%s' record", c->cond[k]);
			memset(o, 0, hw * sizeof *o);
			valid = 0;
			continue;
		}
		int r = t->rank;
		if (!((r == 3 && t->shape[0] == 1) || r == 2) || t->shape[r - 2] != H ||
		    t->shape[r - 1] != W)
			return ms_error("'%s' record is not [1,%d,%d] as the image", c->cond[k], H, W);
		if (t->dtype == MS_U8) {
			const uint8_t *s = t->data;
			for (size_t i = 0; i < hw; i++)
				o[i] = s[i] != 0;
		} else if (t->dtype == MS_F32) {
			memcpy(o, t->data, hw * sizeof *o);
		} else {
			return ms_error("'%s' record is %s, not u8 or f32", c->cond[k],
			                ms_dtype_name(t->dtype));
		}
	}
	if (c->optional)
		for (size_t i = 0; i < hw; i++)
			out[c->ncond * hw + i] = (float)valid;
	return 0;
}

/* ---- training */
int ms_gen_train_draw(ms_gen *g, const ms_gen_train_opt *o, int N, int H, int W,
                      const float *x0, const float *cond, const char *prompt, ms_rng *r)
{
	int C = ms_gen_channels(&g->cfg), in = g->cfg.unet.in_ch;
	size_t hw = (size_t)H * W, chw = C * hw, khw = (in - C) * hw;
	if (N != g->B || H != g->BH || W != g->BW) {
		free(g->bx);
		g->B = 0;
		if (!(g->bx = ms_calloc((size_t)N * (in * hw + chw + 1), sizeof(float))))
			return -1;
		g->B = N;
		g->BH = H;
		g->BW = W;
		g->beps = g->bx + (size_t)N * in * hw;
		g->btf = g->beps + N * chw;
	}
	for (int n = 0; n < N; n++) {
		int t = (int)ms_rng_below(r, (uint32_t)g->sched.T);
		float *e = g->beps + n * chw, *x = g->bx + n * in * hw;
		g->btf[n] = (float)t;
		for (size_t i = 0; i < chw; i++)
			e[i] = ms_rng_normal(r);
		ms_q_sample(x0 + n * chw, e, chw, g->sched.abar[t], x);               /* [C,H,W] */
		if (khw)
			memcpy(x + chw, cond + n * khw, khw * sizeof *x);              /* [K,H,W] */
		if (g->cfg.zero_snr)                                   /* the target: v, not eps */
			ms_v_target(x0 + n * chw, e, chw, g->sched.abar[t], e);
	}
	g->drop = ms_rng_uniform(r) < o->p_uncond;
	g->prompt = prompt;
	return 0;
}

double ms_gen_train_part(ms_gen *g, int b0, int b1, double w)
{
	int N = b1 - b0, C = ms_gen_channels(&g->cfg), in = g->cfg.unet.in_ch;
	size_t hw = (size_t)g->BH * g->BW, chw = C * hw;
	if (plan(g, N, g->BH, g->BW, 1) < 0)
		return -1;
	memcpy(g->xin, g->bx + b0 * in * hw, N * in * hw * sizeof *g->xin);
	memcpy(g->eps, g->beps + b0 * chw, N * chw * sizeof *g->eps);
	memcpy(g->tf, g->btf + b0, N * sizeof *g->tf);
	for (int n = 0; n < N; n++)
		g->pp[n] = g->drop ? "" : g->prompt;
	ms_text_forward(&g->text, N, g->pp, g->tv);                               /* [N,tdim] */
	float *y = ms_unet_forward(g->u, g->xin, g->tf, g->tv);                    /* [N,C,H,W] */
	double loss = ms_ddpm_loss(y, g->eps, N * chw, g->d);
	for (size_t i = 0; i < N * chw; i++)
		g->d[i] *= (float)w;
	ms_unet_backward(g->u, g->d);
	/* the batch shares one prompt vector: its gradient, summed, goes to row 0 */
	memset(g->dtv, 0, (size_t)N * g->tdim * sizeof *g->dtv);
	memcpy(g->dtv, g->tbias->g, g->tdim * sizeof *g->dtv);
	ms_text_backward(&g->text, N, g->dtv);
	return loss * w;
}

int ms_gen_train_update(ms_gen *g, ms_adam *opt, const ms_gen_train_opt *o)
{
	ms_params *ps = ms_gen_params(g);
	if (o->clip > 0)
		ms_params_clip(ps, o->clip);
	ms_adam_step(opt, ps);
	if (o->ema > 0) {
		if (!ps->p[0]->ema && ms_params_ema_enable(ps) < 0)
			return -1;
		/* warm-up: the average forgets its start quickly */
		double t = (double)opt->t, d = (1 + t) / (10 + t);
		ms_params_ema_update(ps, d < o->ema ? d : o->ema);
	}
	return 0;
}

double ms_gen_train_step(ms_gen *g, ms_adam *opt, const ms_gen_train_opt *o, int N, int H,
                         int W, const float *x0, const float *cond, const char *prompt,
                         ms_rng *r)
{
	if (ms_gen_train_draw(g, o, N, H, W, x0, cond, prompt, r) < 0)
		return -1;
	ms_params_zero_grad(ms_gen_params(g));
	double loss = ms_gen_train_part(g, 0, N, 1);
	return loss < 0 || ms_gen_train_update(g, opt, o) < 0 ? -1 : loss;
}

/* ---- sampling */
static int sample_buffers(ms_gen *g, size_t xs, size_t es, size_t z, size_t ds)
{
	size_t need = xs + es + z + ds;
	if (need <= g->scap && (!ds || g->ds))
		return 0;
	float **p[] = { &g->xs, &g->es, &g->z, &g->ds };
	ms_free_floats(p, 4);
	g->bytes -= g->scap * sizeof(float);
	g->scap = 0;
	if (get(g, &g->xs, xs) < 0 || get(g, &g->es, es) < 0 || get(g, &g->z, z) < 0 ||
	    (ds && get(g, &g->ds, ds) < 0))
		return -1;
	g->scap = need;
	return 0;
}

/* the guided network output of cnt states (ms_denoise_fn): rows of the U-Net batch are
 * (state, prompt) pairs, br per state; rows past the last repeat it; y has room for
 * cnt * br outputs */
typedef struct {
	ms_gen *g;
	int br, fb;
	double w;
	size_t chw, hw;
	const float *null_v, *pv;
} denoiser;

static int denoise(void *ctx, int t, int cnt, const float *x, float *y)
{
	denoiser *d = ctx;
	ms_gen *g = d->g;
	int br = d->br, fb = d->fb, in = g->cfg.unet.in_ch, rows = cnt * br;
	size_t chw = d->chw;
	for (int r0 = 0; r0 < rows; r0 += fb) {
		int m = rows - r0 < fb ? rows - r0 : fb;
		for (int q = 0; q < fb; q++) {
			int row = r0 + (q < m ? q : m - 1), j = row / br, b = row % br;
			int uncond = br == 2 ? b == 0 : d->w == 0;
			memcpy(g->xin + (size_t)q * in * d->hw, x + j * chw, chw * sizeof(float));
			g->tf[q] = (float)t;
			memcpy(g->tv + (size_t)q * g->tdim, uncond ? d->null_v : d->pv,
			       g->tdim * sizeof(float));
		}
		float *o = ms_unet_forward(g->u, g->xin, g->tf, g->tv);           /* [fb,C,H,W] */
		memcpy(y + (size_t)r0 * chw, o, (size_t)m * chw * sizeof *o);
	}
	/* guidance, packed to [cnt,C,H,W]: state j's output lands at or below its inputs */
	for (int j = 0; j < cnt && br == 2; j++)
		ms_cfg_combine(y + 2 * j * chw, y + (2 * j + 1) * chw, chw, d->w, y + j * chw);
	return 0;
}

int ms_gen_sample(ms_gen *g, const ms_gen_sample_opt *o, int H, int W, const float *cond,
                  const char *prompt, int n, ms_rng *rng, float *out)
{
	int C = ms_gen_channels(&g->cfg), in = g->cfg.unet.in_ch, S = o->steps;
	double w = o->guidance;
	int br = w == 1 || w == 0 ? 1 : 2;          /* forwards per image and step */
	int dpm = o->sampler == MS_SAMPLER_DPM2M;
	if (n < 1)
		return 0;
	if (S < 1 || S > g->sched.T || S > 1000 || o->batch < 1)
		return ms_error("sample: %d steps (1..%d) with batch %d", S,
		                g->sched.T < 1000 ? g->sched.T : 1000, o->batch);
	int fb = o->batch < n * br ? o->batch : n * br;
	int kmax = fb >= br ? fb / br : 1;
	int nch = (n + kmax - 1) / kmax, k = (n + nch - 1) / nch;
	size_t hw = (size_t)H * W, chw = C * hw, khw = (in - C) * hw;
	int nt = ms_repaint_times(S, o->jump, o->resample, NULL, 0);
	int *times = ms_reallocarray(NULL, nt, sizeof *times);
	float *known = o->known ? ms_reallocarray(NULL, chw, sizeof *known) : NULL;
	int ret = -1;
	if (!times || (o->known && !known) || plan(g, fb, H, W, 0) < 0 ||
	    sample_buffers(g, k * chw, (size_t)k * br * chw, chw, dpm ? k * chw : 0) < 0)
		goto done;
	ms_repaint_times(S, o->jump, o->resample, times, nt);
	for (size_t i = 0; known && i < chw; i++)
		known[i] = 2 * o->known[i] - 1;
	/* text vectors: row 0 the empty prompt, row 1 the prompt; conditions in every row */
	const char *pr[2] = { "", prompt ? prompt : "" };
	ms_text_forward(&g->text, 2, pr, g->tp);
	for (int q = 0; q < fb && khw; q++)     /* cond may be NULL without conditions */
		memcpy(g->xin + (size_t)q * in * hw + chw, cond, khw * sizeof *cond);
	denoiser d = { g, br, fb, w, chw, hw, g->tp, g->tp + g->tdim };
	ms_reverse_opt ro = { &g->sched, S, o->eta, g->cfg.zero_snr ? MS_PRED_V : MS_PRED_EPS, 1,
	                      o->jump, o->resample, known, o->keep };
	for (int s0 = 0; s0 < n; s0 += k) {
		int cnt = n - s0 < k ? n - s0 : k;
		for (int j = 0; j < cnt; j++)
			for (size_t i = 0; i < chw; i++)
				g->xs[j * chw + i] = ms_rng_normal(&rng[s0 + j]);
		if (dpm ? ms_dpm2m(&ro, cnt, chw, g->xs, g->es, g->ds, denoise, &d) < 0
		        : ms_reverse(&ro, times, nt, cnt, chw, g->xs, rng + s0, g->es, g->z,
		                     denoise, &d) < 0)
			goto done;
		for (int j = 0; j < cnt; j++)
			for (size_t i = 0; i < chw; i++) {
				float v = (g->xs[j * chw + i] + 1) * 0.5f;
				out[(s0 + j) * chw + i] = v < 0 ? 0 : v > 1 ? 1 : v;
			}
	}
	ret = 0;
done:
	free(times);
	free(known);
	return ret;
}
