/* ms-refine's side of the refiner (refine.h): the records of a sample it reads and
 * writes, refining one sample, and the training run: its data sets, setup, step and
 * checkpoints with their metadata. */
#include <stdlib.h>
#include <string.h>

#include "core/dist.h"
#include "core/outfile.h"
#include "core/rng.h"
#include "core/util.h"
#include "io/sample.h"
#include "models/refine.h"
#include "models/segment.h"
#include "models/train.h"

/* ---- samples (io/sample.h) */

/* the index of the record it uses as data, decoded, non-finite values refused
 * (ms-stream(5)); -1 if none, -2 with the reason */
static int find(ms_sample *s, const char *name)
{
	if (ms_sample_get(s, name))
		return ms_sample_find(s, name);
	return *ms_errmsg() ? -2 : -1;
}

/* image [C,H,W] f32 and a [1,H,W] record of dtype dt at index k: 0, or -1 with the
 * reason */
static int shaped(const ms_sample *s, int k, int dt, const ms_tensor *im, const char *what)
{
	const ms_tensor *t = &s->rec[k].t;
	if (t->dtype != dt || t->rank != 3 || t->shape[0] != 1 || t->shape[1] != im->shape[1] ||
	    t->shape[2] != im->shape[2])
		return ms_error("sample '%s': %s must be %s [1,%lld,%lld] like the image", s->id,
		                what, ms_dtype_name(dt), (long long)im->shape[1],
		                (long long)im->shape[2]);
	return 0;
}

/* the image as f32 into *im (NULL if none), then the indices of records a and, unless b
 * is NULL, b (find): 0, or -1 with the reason */
static int lookup(ms_sample *s, const ms_tensor **im, const char *a, int *ka, const char *b,
                  int *kb)
{
	int k = find(s, "image");
	*im = NULL;
	if (k < -1)
		return -1;
	ms_tensor *t = k >= 0 ? &s->rec[k].t : NULL;
	if (t && (t->rank != 3 || t->shape[0] < 1 || t->shape[0] > 8 || t->shape[1] % 4 ||
	          t->shape[2] % 4 || !t->shape[1] || !t->shape[2] || ms_tensor_to_f32(t, 1) < 0))
		return ms_error("sample '%s': image must be [C,H,W], C 1..8, H and W multiples "
		                "of 4", s->id);
	*im = t;
	if ((*ka = find(s, a)) < -1)
		return -1;
	return b && (*kb = find(s, b)) < -1 ? -1 : 0;
}

/* ---- refining */

/* into r a new record NAME with src's metadata, taking t's data over */
static int put(ms_rec *r, const ms_rec *src, const char *name, ms_tensor *t)
{
	ms_rec_init(r);
	if (ms_meta_copy(r, src) < 0 || ms_rec_set_name(r, name) < 0 || ms_rec_set(r, name, t) < 0) {
		ms_rec_free(r);
		return -1;
	}
	t->data = NULL;
	return 0;
}

/* renamed, appended */
static int add_as(ms_sample *s, ms_rec *r, const char *name)
{
	if (ms_rec_set_name(r, name) < 0 || ms_sample_add(s, r) < 0) {
		ms_rec_free(r);
		return -1;
	}
	return 0;
}

int ms_refine_sample(ms_refiner *r, ms_sample *s, int K, int steps, int sampler,
                     uint64_t seed, long idx)
{
	const ms_tensor *im;
	int kp;
	if (lookup(s, &im, "prob", &kp, NULL, NULL) < 0)
		return -1;
	if (!im || kp < 0)
		return 0;
	if (im->shape[0] != r->C)
		return ms_error("sample '%s': image has %lld channels, the model takes %d", s->id,
		                (long long)im->shape[0], r->C);
	if (shaped(s, kp, MS_F32, im, "prob") < 0)
		return -1;
	int kq = find(s, "pred"), H = (int)im->shape[1], W = (int)im->shape[2];
	if (kq < -1 || (kq >= 0 && shaped(s, kq, MS_U8, im, "pred") < 0))
		return -1;
	ms_tensor prob, unc, pred;
	int64_t shape[3] = { 1, H, W };
	memset(&prob, 0, sizeof prob);
	unc = pred = prob;
	if (ms_tensor_alloc(&prob, MS_F32, 3, shape) < 0 || ms_tensor_alloc(&unc, MS_F32, 3, shape) < 0 ||
	    ms_tensor_alloc(&pred, MS_U8, 3, shape) < 0)
		goto fail;
	ms_rng rng;
	ms_rng_init(&rng, seed, *s->id ? ms_hash64(s->id) : (uint64_t)idx);
	if (ms_refiner_run(r, H, W, im->data, s->rec[kp].t.data, K, steps, sampler, &rng,
	                   prob.data, unc.data) < 0)
		goto fail;
	for (int i = 0; i < H * W; i++)
		((uint8_t *)pred.data)[i] = ((float *)prob.data)[i] > 0.5f;
	/* prob and pred replaced in place; earlier prior, prior_pred, uncertainty dropped;
	 * appended: pred if there was none, the uncertainty, the prior (and its pred) under
	 * new names */
	ms_rec np, nq, nu, prior, prior_pred;
	if (put(&np, &s->rec[kp], "prob", &prob) < 0)
		goto fail;
	if (put(&nq, &s->rec[kq >= 0 ? kq : kp], "pred", &pred) < 0) {
		ms_rec_free(&np);
		goto fail;
	}
	if (put(&nu, &s->rec[kp], "uncertainty", &unc) < 0) {
		ms_rec_free(&np);
		ms_rec_free(&nq);
		goto fail;
	}
	prior = s->rec[kp];
	s->rec[kp] = np;
	if (kq >= 0) {
		prior_pred = s->rec[kq];
		s->rec[kq] = nq;
	}
	for (int i = s->n - 1; i >= 0; i--) {
		const char *n = s->rec[i].name;
		if (!strcmp(n, "prior") || !strcmp(n, "prior_pred") || !strcmp(n, "uncertainty"))
			ms_sample_drop(s, i);
	}
	if (kq < 0 && ms_sample_add(s, &nq) < 0) {
		ms_rec_free(&nq);
		ms_rec_free(&nu);
		ms_rec_free(&prior);
		return -1;
	}
	if (ms_sample_add(s, &nu) < 0) {
		ms_rec_free(&nu);
		ms_rec_free(&prior);
		if (kq >= 0)
			ms_rec_free(&prior_pred);
		return -1;
	}
	if (add_as(s, &prior, "prior") < 0) {
		if (kq >= 0)
			ms_rec_free(&prior_pred);
		return -1;
	}
	if (kq >= 0 && add_as(s, &prior_pred, "prior_pred") < 0)
		return -1;
	return 1;
fail:
	ms_tensor_free(&prob);
	ms_tensor_free(&unc);
	ms_tensor_free(&pred);
	return -1;
}

/* ---- training */


void ms_refine_train_default(ms_refine_train *t)
{
	memset(t, 0, sizeof *t);
	t->batch = 8;
	t->width = 32;
	t->T = 10;
	t->lr = 1e-4;
	t->wd = 0.01;
	t->lambda = 0.1;
	t->lr_schedule = MS_LR_POLY;
	t->schedule = MS_BBDM_LINEAR;
	t->flip = MS_BBDM_BCE;
	t->output = MS_REFINE_DIRECT;
	ms_rec_init(&t->m);
	ms_rec_init(&t->segm);
	t->vbest = -1;
	t->sbest = -1;
}

void ms_refine_train_free(ms_refine_train *t)
{
	free(t->img);
	free(t->ts);
	free(t->u);
	t->img = t->y0 = t->p = NULL;
	t->ts = NULL;
	t->u = NULL;
	ms_grads_free(&t->g);
	ms_grads_free(&t->sg);
	ms_rec_free(&t->m);
	ms_rec_free(&t->segm);
	ms_unet_free(t->seg);
	ms_refiner_free(t->r);
	t->seg = NULL;
	t->r = NULL;
	ms_refine_set_free(&t->d);
	ms_refine_set_free(&t->v);
}

int ms_refine_train_add(ms_refine_train *t, ms_sample *s)
{
	const ms_tensor *im;
	int km, kp;
	if (lookup(s, &im, "mask", &km, "prob", &kp) < 0)
		return -1;
	if (!im || km < 0 || (kp < 0 && !t->alternate)) {
		t->skipped++;
		return 0;
	}
	if (shaped(s, km, MS_U8, im, "mask") < 0 || (kp >= 0 && shaped(s, kp, MS_F32, im, "prob") < 0))
		return -1;
	ms_refine_set *to = kp >= 0 && ms_seg_is_val(s->id, t->val_fraction) ? &t->v : &t->d;
	if (ms_refine_set_add(to, (int)im->shape[0], (int)im->shape[1], (int)im->shape[2],
	                      im->data, s->rec[km].t.data, kp >= 0 ? s->rec[kp].t.data : NULL) < 0)
		return ms_error("sample '%s': %s", s->id, ms_errmsg());
	return 1;
}

int ms_refine_train_check(const ms_refine_train *t)
{
	const ms_refine_set *d = &t->d, *v = &t->v;
	if (!d->n)
		return ms_error("no %ssamples with image, mask%s", v->n ? "training " : "",
		                t->alternate ? "" : " and prob");
	if (v->n && (v->C != d->C || v->H != d->H || v->W != d->W))
		return ms_error("validation samples of %dx%dx%d differ from the training ones, "
		                "%dx%dx%d", v->C, v->W, v->H, d->C, d->W, d->H);
	return 0;
}

int ms_refine_train_open(ms_refine_train *t)
{
	memset(&t->a, 0, sizeof t->a);
	t->step = 0;
	if (!t->resume) {
		t->r = ms_refiner_new(t->d.C, (int)t->width, (int)t->T, t->schedule, t->flip,
		                      t->output, (uint64_t)t->seed);
		if (t->r)
			t->r->posterior = t->posterior;
		return t->r ? 0 : -1;
	}
	char sv[32];
	if (!(t->r = ms_refiner_load(t->out, &t->a, &t->m)))
		return -1;
	if (ms_meta_get(&t->m, "step", sv, sizeof sv) &&
	    ms_parse_int(sv, 0, 100000000, &t->step) < 0)
		return ms_error("%s: checkpoint has an invalid step=%s", t->out, sv);
	if (ms_train_best_read(&t->m, &t->vbest, &t->sbest) < 0)
		return ms_error("%s: %s", t->out, ms_errmsg());
	return 0;
}

int ms_refine_train_setup(ms_refine_train *t)
{
	const ms_refine_set *d = &t->d;
	long at = t->a.t;
	ms_adam_init(&t->a, t->lr, t->wd, 1);
	t->a.t = at;
	if (t->r->C != d->C)
		return ms_error("%s takes %d image channels, the samples have %d", t->out, t->r->C,
		                d->C);
	if (ms_grads_init(&t->g, ms_unet_params(t->r->net), (int)t->batch, (int)t->parts) < 0 ||
	    ms_refiner_plan(t->r, (int)t->batch / t->g.P, d->H, d->W, t->alternate ? 2 : 1) < 0)
		return -1;
	if (t->alternate) {
		if (!t->segout)
			t->segout = t->segpath;
		memset(&t->sa, 0, sizeof t->sa);
		if (!(t->seg = ms_unet_load(t->segpath, &t->sa, &t->segm)))
			return -1;
		char sv[32];
		if (ms_meta_get(&t->segm, "step", sv, sizeof sv))
			ms_parse_int(sv, 0, 1L << 40, &t->seg0);
		const ms_unet_cfg *c = ms_unet_cfg_of(t->seg);
		if (c->in_ch != d->C || c->out_ch != 1 || c->temb)
			return ms_error("%s: segmentor must take %d channels and give 1", t->segpath,
			                d->C);
		long st = t->sa.t;
		ms_adam_init(&t->sa, t->lr, t->wd, 1);
		t->sa.t = st;
		if (ms_grads_init(&t->sg, ms_unet_params(t->seg), (int)t->batch, (int)t->parts) < 0 ||
		    ms_unet_plan(t->seg, (int)t->batch / t->g.P, d->H, d->W, 1) < 0)
			return -1;
	}
	size_t hw = (size_t)d->H * d->W;
	if (!(t->img = ms_calloc(t->batch * hw, (d->C + 2) * sizeof(float))) ||
	    !(t->u = ms_calloc(t->batch * hw, sizeof(double))) ||
	    !(t->ts = ms_calloc(t->batch, sizeof(int))))
		return -1;
	t->y0 = t->img + t->batch * hw * d->C;
	t->p = t->y0 + t->batch * hw;
	return 0;
}

/* images [b0, b1) of the drawn batch (ms_grads_part): the refiner's gradient, on the
 * samples' prior or (--alternate) the segmentor's; then the segmentor's */
static int ref_part(void *ctx, int b0, int b1, double w, double *loss, double *aux)
{
	ms_refine_train *t = ctx;
	ms_refiner *r = t->r;
	size_t hw = (size_t)r->H * r->W;
	const float *img = t->img + b0 * r->C * hw, *y0 = t->y0 + b0 * hw, *p = t->p + b0 * hw;
	(void)b1;
	(void)aux;
	if (t->seg) {
		*loss = ms_refiner_alt_ref(r, t->seg, img, y0, t->ts + b0, t->u + b0 * hw, w);
		return 0;
	}
	ms_refiner_noisy(r, t->ts + b0, t->u + b0 * hw, y0, p);
	*loss = w * ms_refiner_loss(r, t->ts + b0, img, y0, p, 1, NULL, (float)w);
	return 0;
}

static int seg_part(void *ctx, int b0, int b1, double w, double *loss, double *aux)
{
	ms_refine_train *t = ctx;
	size_t hw = (size_t)t->r->H * t->r->W;
	(void)b1;
	(void)aux;
	*loss = ms_refiner_alt_seg(t->r, t->seg, t->lambda, t->img + b0 * t->r->C * hw,
	                           t->y0 + b0 * hw, t->ts + b0, t->u + b0 * hw, w);
	return 0;
}

int ms_refine_train_step(ms_refine_train *t, long step, double lr, double *loss, double *aux)
{
	ms_rng rng;
	double none;
	ms_rng_init(&rng, (uint64_t)t->seed, (uint64_t)step);
	t->a.lr = lr;
	t->sa.lr = lr;
	ms_refine_set_batch(&t->d, (int)t->batch, &rng, t->img, t->y0, t->p);
	ms_refiner_draw(t->r, (int)t->batch, &rng, t->ts, t->u);
	if (ms_grads_step(&t->g, ref_part, t, loss, aux) < 0)
		return -1;
	ms_adam_step(&t->a, ms_unet_params(t->r->net));
	if (!t->seg)
		return 0;
	if (ms_grads_step(&t->sg, seg_part, t, aux, &none) < 0)
		return -1;
	ms_adam_step(&t->sa, ms_unet_params(t->seg));
	return 0;
}

/* the shortest of %.15g and %.17g that reads back as x */
static const char *dbl(char *b, double x)
{
	snprintf(b, 32, "%.15g", x);
	if (strtod(b, NULL) != x)
		snprintf(b, 32, "%.17g", x);
	return b;
}

char *ms_refine_train_extra(const ms_refine_train *t, int best)
{
	char *e = ms_malloc(512), b[3][32];
	if (!e)
		return NULL;
	int n = snprintf(e, 512, "batch=%ld\nlr=%s\nwd=%s\nlr_schedule=%s\nseed=%ld\nlambda=%s\n"
	                 "alternate=%d\n", t->batch, dbl(b[0], t->lr), dbl(b[1], t->wd),
	                 ms_lr_names[t->lr_schedule], t->seed, dbl(b[2], t->lambda), t->alternate);
	if (best && t->best)
		ms_train_best_meta(e + n, 512 - n, t->vbest, t->sbest);
	return e;
}

char *ms_refine_seg_extra(const ms_rec *m)
{
	static const char *const own[] = { "arch", "in", "out", "width", "mult", "nres", "attn",
	                                   "temb", "groups", "step", "adam_t" };
	char *e = ms_calloc(1, m->meta_len + 1), *o = e;
	if (!e)
		return NULL;
	for (const char *p = m->meta; p && *p;) {
		const char *nl = strchr(p, '\n'), *eq = strchr(p, '=');
		size_t len = nl ? (size_t)(nl - p) : strlen(p), skip = 0;
		for (size_t i = 0; eq && i < sizeof own / sizeof *own; i++)
			skip |= strlen(own[i]) == (size_t)(eq - p) && !strncmp(p, own[i], eq - p);
		if (!skip) {
			memcpy(o, p, len);
			o += len;
			*o++ = '\n';
		}
		p += len + (nl != NULL);
	}
	*o = '\0';
	return e;
}

/* the refiner to path (with Adam's state when a) */
static int save_refiner(ms_refine_train *t, const char *path, const ms_adam *a, long step)
{
	char *e = ms_refine_train_extra(t, path == t->out);
	int ret = e ? ms_refiner_save(t->r, path, a, step, e) : -1;
	free(e);
	return ret;
}

int ms_refine_train_save(ms_refine_train *t, long step)
{
	int ret;
	ms_stop_hold();
	ret = save_refiner(t, t->out, &t->a, step);
	if (!ret && t->seg) {
		char *e = ms_refine_seg_extra(&t->segm);
		ret = e ? ms_unet_save(t->seg, t->segout, &t->sa, t->seg0 + step - t->step, e) : -1;
		free(e);
	}
	ms_stop_release();
	return ret;
}

int ms_refine_train_best(ms_refine_train *t, long step)
{
	ms_stop_hold();
	int ret = save_refiner(t, t->best, NULL, step);
	ms_stop_release();
	return ret;
}
