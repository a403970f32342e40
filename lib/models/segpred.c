/* The segmentor's prediction (segment.h): a checkpoint opened once, batches of any size
 * padded by reflection to a multiple the U-Net accepts, logits cropped back; over a
 * stream, samples queued until a batch of images of one size is full. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "image/image.h"
#include "io/sample.h"
#include "io/stream.h"
#include "metrics/mask.h"
#include "metrics/stats.h"
#include "models/segment.h"

int ms_seg_pred_open(ms_seg_pred *p, const char *model)
{
	ms_rec m;
	char kind[64] = "";
	memset(p, 0, sizeof *p);
	ms_rec_init(&m);
	if (!(p->u = ms_unet_load(model, NULL, &m)))
		return -1;
	ms_meta_get(&m, "kind", kind, sizeof kind);
	ms_rec_free(&m);
	const ms_unet_cfg *c = ms_unet_cfg_of(p->u);
	int out = c->out_ch, temb = c->temb;
	if (out != 1 || temb) {
		ms_unet_free(p->u);
		p->u = NULL;
		if (temb)           /* a refiner's or generator's U-Net takes a timestep */
			return ms_error("%s: not a segmentor (a diffusion model%s%s)", model,
			                *kind ? ", kind=" : "", kind);
		return ms_error("%s: model has %d outputs, a segmentor has 1", model, out);
	}
	p->mult = 1 << (c->nmult - 1);
	return 0;
}

void ms_seg_pred_close(ms_seg_pred *p)
{
	ms_unet_free(p->u);
	free(p->x);
	memset(p, 0, sizeof *p);
}

int ms_seg_pred_run(ms_seg_pred *p, int N, int H, int W, const float *x, float *out)
{
	int C = ms_unet_cfg_of(p->u)->in_ch;
	int Hp = (H + p->mult - 1) / p->mult * p->mult, Wp = (W + p->mult - 1) / p->mult * p->mult;
	if (N > p->N || Hp != p->Hp || Wp != p->Wp) {
		free(p->x);
		p->N = 0;
		if (!(p->x = ms_calloc((size_t)N * C * Hp, (size_t)Wp * sizeof(float))) ||
		    ms_unet_plan(p->u, N, Hp, Wp, 0) < 0)
			return -1;
		p->N = N;
		p->Hp = Hp;
		p->Wp = Wp;
	}
	size_t php = (size_t)Hp * Wp;
	for (int n = 0; n < p->N; n++)
		for (int c = 0; c < C; c++) {
			float *dst = p->x + ((size_t)n * C + c) * php;
			if (n >= N) {
				memset(dst, 0, php * sizeof *dst);
				continue;
			}
			const float *src = x + ((size_t)n * C + c) * H * W;
			for (int y = 0; y < Hp; y++) {
				const float *row = src + (size_t)ms_mirror(y, H) * W;
				for (int i = 0; i < Wp; i++)
					dst[(size_t)y * Wp + i] = row[ms_mirror(i, W)];
			}
		}
	const float *o = ms_unet_forward(p->u, p->x, NULL, NULL);
	for (int n = 0; n < N; n++)
		for (int y = 0; y < H; y++)
			memcpy(out + ((size_t)n * H + y) * W, o + n * php + (size_t)y * Wp,
			       W * sizeof *out);
	return 0;
}

/* ---- judging synthetic samples */
/* Dice of the judge on samples idx[0..n) of d into out */
static int judge_dice(ms_seg_pred *p, const ms_seg_data *d, const int *idx, int n, int B,
                      float *x, float *l, double *out)
{
	size_t hw = (size_t)d->H * d->W, chw = (size_t)d->C * hw;
	for (int i0 = 0; i0 < n; i0 += B) {
		int k = n - i0 < B ? n - i0 : B;
		for (int b = 0; b < k; b++)
			memcpy(x + b * chw, d->s[idx[i0 + b]].img, chw * sizeof *x);
		if (ms_seg_pred_run(p, k, d->H, d->W, x, l) < 0)
			return -1;
		for (int b = 0; b < k; b++) {
			const ms_seg_sample *s = &d->s[idx[i0 + b]];
			const float *m = s->mask ? s->mask : d->s[s->real].mask;
			out[i0 + b] = ms_dice_above(l + b * hw, 0, m, 0.5f, hw);
		}
	}
	return 0;
}

/* the synthetic samples syn[j0 .. j0+n) whose Dice sd[] reaches med, moved to syn[*k ..]
 * (*k advanced); returns how many */
static int keep_passed(ms_seg_data *d, const double *sd, double med, int j0, int n, int *k)
{
	int first = *k;
	for (int j = j0; j < j0 + n; j++)
		if (sd[j] >= med)
			d->syn[(*k)++] = d->syn[j];
		else
			d->nsyn_judged++;
	return *k - first;
}

int ms_seg_judge(ms_seg_data *d, const char *model, int batch, double *median)
{
	ms_seg_pred p;
	if (!d->nval)
		return ms_error("the judge needs validation samples (--val or --val-fraction)");
	if (ms_seg_pred_open(&p, model) < 0)
		return -1;
	int ret = -1, B = batch > 0 ? batch : 1, in = ms_unet_cfg_of(p.u)->in_ch;
	size_t hw = (size_t)d->H * d->W;
	float *x = ms_reallocarray(NULL, (size_t)B * d->C, hw * sizeof *x);
	float *l = ms_reallocarray(NULL, B, hw * sizeof *l);
	double *vd = ms_reallocarray(NULL, d->nval + d->nsyn + 1, sizeof *vd);
	double *sd = vd ? vd + d->nval : NULL;
	if (in != d->C) {
		ms_error("%s: the judge takes %d channels, the images have %d", model, in, d->C);
		goto out;
	}
	if (!x || !l || !vd || judge_dice(&p, d, d->val, d->nval, B, x, l, vd) < 0 ||
	    judge_dice(&p, d, d->syn, d->nsyn, B, x, l, sd) < 0)
		goto out;
	*median = ms_quantile(vd, d->nval, 0.5);
	/* keep the synthetic samples that pass, in their groups, then the orphan pairs */
	int k = 0;
	for (int i = 0; i < d->n; i++) {
		ms_seg_sample *r = &d->s[i];
		if (r->of || r->val)
			continue;
		int first = k;
		r->nsyn = keep_passed(d, sd, *median, r->syn0, r->nsyn, &k);
		r->syn0 = first;
	}
	d->norphan = keep_passed(d, sd, *median, d->nsyn - d->norphan, d->norphan, &k);
	d->nsyn = k;
	ret = 0;
out:
	ms_seg_pred_close(&p);
	free(x);
	free(l);
	free(vd);
	return ret;
}

/* ---- over a stream */
typedef struct {
	ms_sample s;
	float *x;                     /* image as the model's channels, NULL if none */
	int h, w;
	ms_rec meta;                  /* the image record's metadata */
} pending;

typedef struct {
	ms_seg_pred *p;
	FILE *out;
	double threshold;
	pending *q;
	int nq, qcap, nimg, inch, batch;
	float *logits;
	size_t logits_cap;
} queue;

static void pending_free(pending *p)
{
	ms_sample_free(&p->s);
	free(p->x);
	ms_rec_free(&p->meta);
}

static int emit(queue *Q, pending *p, const float *l)
{
	int ret = ms_sample_write(Q->out, &p->s);
	if (ret == 0 && p->x) {
		size_t n = (size_t)p->h * p->w;
		float *prob = ms_reallocarray(NULL, n, sizeof *prob);
		uint8_t *pr = ms_malloc(n);
		ms_rec a, b;
		ms_rec_init(&a);
		ms_rec_init(&b);
		if (!prob || !pr) {
			ret = -1;
		} else {
			for (size_t i = 0; i < n; i++) {
				prob[i] = 1 / (1 + expf(-l[i]));
				pr[i] = prob[i] > Q->threshold;
			}
			ms_tensor tp = { MS_F32, 3, { 1, p->h, p->w }, prob };
			ms_tensor tm = { MS_U8, 3, { 1, p->h, p->w }, pr };
			/* the records own the planes once set */
			if (ms_rec_set(&a, "prob", &tp) == 0)
				prob = NULL;
			if (ms_rec_set(&b, "pred", &tm) == 0)
				pr = NULL;
			if (prob || pr || ms_meta_copy(&a, &p->meta) < 0 || ms_rec_write(Q->out, &a) < 0 ||
			    ms_meta_copy(&b, &p->meta) < 0 || ms_rec_write(Q->out, &b) < 0)
				ret = -1;
		}
		ms_rec_free(&a);
		ms_rec_free(&b);
		free(prob);
		free(pr);
	}
	pending_free(p);
	return ret;
}

static int flush_queue(queue *Q)
{
	int ret = 0;
	if (Q->nimg) {
		int h = 0, w = 0, k = 0;
		for (int i = 0; i < Q->nq; i++)
			if (Q->q[i].x) {
				h = Q->q[i].h;
				w = Q->q[i].w;
			}
		size_t chw = (size_t)Q->inch * h * w, need = (size_t)Q->nimg * h * w;
		float *x = ms_reallocarray(NULL, (size_t)Q->nimg, chw * sizeof *x);
		if (x && need > Q->logits_cap) {
			free(Q->logits);
			Q->logits_cap = 0;
			if ((Q->logits = ms_reallocarray(NULL, need, sizeof *Q->logits)))
				Q->logits_cap = need;
		}
		for (int i = 0; x && Q->logits && i < Q->nq; i++)
			if (Q->q[i].x)
				memcpy(x + k++ * chw, Q->q[i].x, chw * sizeof *x);
		if (!x || !Q->logits || ms_seg_pred_run(Q->p, Q->nimg, h, w, x, Q->logits) < 0)
			ret = -1;
		free(x);
	}
	for (int i = 0, k = 0; i < Q->nq; i++)
		if (ret < 0)
			pending_free(&Q->q[i]);
		else if (emit(Q, &Q->q[i], Q->q[i].x ? Q->logits + (size_t)k++ * Q->q[i].h *
		              Q->q[i].w : NULL) < 0)
			ret = -1;
	Q->nq = Q->nimg = 0;
	return ret;
}

/* queues sample s (taken over) */
static int enqueue(queue *Q, ms_sample *s)
{
	pending p = { 0 };
	ms_rec *img = ms_sample_get(s, "image");
	ms_rec_init(&p.meta);
	if (!img && *ms_errmsg())
		return -1;
	if (img) {
		int c;
		if (ms_image_dims(&img->t, &c, &p.h, &p.w) < 0)
			return ms_error("sample '%s': %s", s->id, ms_errmsg());
		if (!(p.x = ms_reallocarray(NULL, (size_t)Q->inch * p.h * p.w, sizeof(float))))
			return -1;
		if (ms_seg_convert(&img->t, Q->inch, p.x) < 0) {
			free(p.x);
			return ms_error("sample '%s': %s", s->id, ms_errmsg());
		}
		if (ms_meta_copy(&p.meta, img) < 0) {
			pending_free(&p);
			return -1;
		}
		for (int i = 0; i < Q->nq; i++)  /* one batch, one size */
			if (Q->q[i].x && (Q->q[i].h != p.h || Q->q[i].w != p.w)) {
				if (flush_queue(Q) < 0) {
					pending_free(&p);
					return -1;
				}
				break;
			}
	}
	p.s = *s;
	ms_sample_init(s);
	Q->q[Q->nq++] = p;
	Q->nimg += p.x != NULL;
	if (Q->nimg == Q->batch || !Q->nimg || Q->nq == Q->qcap)
		return flush_queue(Q);
	return 0;
}

int ms_seg_pred_stream(ms_seg_pred *p, FILE *in, const char *name, FILE *out, int batch,
                       double threshold)
{
	queue Q = { .p = p, .out = out, .threshold = threshold, .batch = batch,
	            .inch = ms_unet_cfg_of(p->u)->in_ch, .qcap = batch + 64 };
	ms_reader rd;
	ms_sample s;
	int ret;
	if (!(Q.q = ms_calloc(Q.qcap, sizeof *Q.q)))
		return -1;
	ms_reader_init(&rd, in, name);
	ms_sample_init(&s);
	while ((ret = ms_sample_next(&rd, &s)) == 1)
		if (ms_shard_has(&p->shard, s.id) && enqueue(&Q, &s) < 0) {
			ret = -1;
			break;
		}
	if (ret == 0)
		ret = flush_queue(&Q);
	for (int i = 0; ret < 0 && i < Q.nq; i++)
		pending_free(&Q.q[i]);
	ms_sample_free(&s);
	ms_reader_free(&rd);
	free(Q.q);
	free(Q.logits);
	return ret < 0 ? -1 : 0;
}
