/* The segmentor: options stored in its checkpoint, training with augmentation, BCE + soft
 * Dice, the random merging mask on logits (in the loop of models/train), validation.
 * Its data set and validation split: segdata.c; prediction: segpred.c. */
#define _GNU_SOURCE
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/dist.h"
#include "core/outfile.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "core/util.h"
#include "image/augment.h"
#include "image/image.h"
#include "image/merge.h"
#include "io/stream.h"
#include "metrics/mask.h"
#include "models/segment.h"
#include "models/train.h"

static const char *synth_name(int k)
{
	return ms_seg_synth_names[k == MS_SYN_MIX || k == MS_SYN_EXTRA ? k - MS_SYN_MIX : 2];
}

/* ---- options stored in the checkpoint */
enum { T_LONG, T_INT, T_DBL, T_U64 };
static const struct {
	const char *key;
	int type;
	size_t off;
} keys[] = {
	[MS_SEG_K_STEPS] = { "steps", T_LONG, offsetof(ms_seg_opt, steps) },
	[MS_SEG_K_BATCH] = { "batch", T_INT, offsetof(ms_seg_opt, batch) },
	[MS_SEG_K_LR] = { "lr", T_DBL, offsetof(ms_seg_opt, lr) },
	[MS_SEG_K_WD] = { "wd", T_DBL, offsetof(ms_seg_opt, wd) },
	[MS_SEG_K_SCHEDULE] = { "schedule", T_INT, offsetof(ms_seg_opt, schedule) },
	[MS_SEG_K_SEED] = { "seed", T_U64, offsetof(ms_seg_opt, seed) },
	[MS_SEG_K_WIDTH] = { "train_width", T_INT, offsetof(ms_seg_opt, width) },
	[MS_SEG_K_VAL] = { "val_fraction", T_DBL, offsetof(ms_seg_opt, val_fraction) },
	[MS_SEG_K_PATCH] = { "merge_patch", T_INT, offsetof(ms_seg_opt, merge_patch) },
	[MS_SEG_K_ALPHA] = { "merge_alpha", T_DBL, offsetof(ms_seg_opt, merge_alpha) },
	[MS_SEG_K_SYNTH] = { "synthetic", T_INT, offsetof(ms_seg_opt, synth) },
	[MS_SEG_K_SPROB] = { "synthetic_prob", T_DBL, offsetof(ms_seg_opt, synth_prob) },
	[MS_SEG_K_WARMUP] = { "warmup", T_LONG, offsetof(ms_seg_opt, warmup) },
	[MS_SEG_K_TIME] = { "time", T_DBL, offsetof(ms_seg_opt, time) },
	[MS_SEG_K_USED] = { "time_used", T_DBL, offsetof(ms_seg_opt, time_used) },
	[MS_SEG_K_AUGMENT] = { "augment", T_INT, offsetof(ms_seg_opt, augment) },
};
#define NKEYS (int)(sizeof keys / sizeof keys[0])

void ms_seg_opt_default(ms_seg_opt *o)
{
	memset(o, 0, sizeof *o);
	o->steps = 0;
	o->epochs = 0;
	o->batch = 8;
	o->width = 32;
	o->schedule = MS_LR_COSINE;
	o->synth = MS_SYN_AUTO;
	o->lr = 1e-3;
	o->val_fraction = 0.1;
	o->merge_alpha = 0.6;
	o->synth_prob = 0.5;
	o->seed = 1;
	o->save_every = 500;
	o->augment = MS_AUG_STRONG;
}

/* the checkpoint's metadata: options, size, the last validation Dice and (bstep >= 0)
 * the best of the run (ms_train_best_meta) */
static char *opts_extra(const ms_seg_opt *o, const ms_seg_data *d, double vdice,
                        double bval, long bstep)
{
	size_t cap = 1024, len = 0;
	char *s = ms_malloc(cap);
	if (!s)
		return NULL;
	for (int k = 0; k < NKEYS; k++) {
		const char *p = (const char *)o + keys[k].off;
		const char *key = keys[k].key;
		if (k == MS_SEG_K_USED && o->time <= 0)
			continue;     /* keeps runs without a budget byte-identical */
		switch (keys[k].type) {
		case T_LONG: len += snprintf(s + len, cap - len, "%s=%ld\n", key, *(const long *)p); break;
		case T_INT: len += snprintf(s + len, cap - len, "%s=%d\n", key, *(const int *)p); break;
		case T_DBL: len += snprintf(s + len, cap - len, "%s=%.17g\n", key, *(const double *)p); break;
		default:
			len += snprintf(s + len, cap - len, "%s=%llu\n", key,
			                (unsigned long long)*(const uint64_t *)p);
		}
	}
	len += snprintf(s + len, cap - len, "size=%dx%d\nchannels=%d\n", d->W, d->H, d->C);
	if (vdice >= 0)
		len += snprintf(s + len, cap - len, "val_dice=%.6f\n", vdice);
	ms_train_best_meta(s + len, cap - len, bval, bstep);
	return s;
}

/* options not given on the command line are taken from the checkpoint; a value that is
 * not a number, or not one of its enumeration, is an error (absent: the default) */
static int opts_restore(ms_seg_opt *o, const ms_rec *model)
{
	char v[128], *end;
	if (!(o->given >> MS_SEG_K_AUGMENT & 1) && !ms_meta_get(model, "augment", v, sizeof v))
		o->augment = MS_AUG_FLIPS;    /* checkpoints from before augmentation */
	for (int k = 0; k < NKEYS; k++) {
		char *p = (char *)o + keys[k].off;
		long lo = k == MS_SEG_K_SCHEDULE ? MS_LR_CONSTANT : k == MS_SEG_K_SYNTH ? MS_SYN_AUTO :
		          k == MS_SEG_K_AUGMENT ? MS_AUG_NONE : INT_MIN;
		long hi = k == MS_SEG_K_SCHEDULE ? MS_LR_POLY : k == MS_SEG_K_SYNTH ? MS_SYN_IGNORE :
		          k == MS_SEG_K_AUGMENT ? MS_AUG_STRONG : INT_MAX;
		long x;
		double y;
		if (!keys[k].key || (o->given >> k & 1) || !ms_meta_get(model, keys[k].key, v, sizeof v))
			continue;
		if (k == MS_SEG_K_STEPS && (o->given >> MS_SEG_K_EPOCHS & 1))
			continue;
		int bad = 0;
		switch (keys[k].type) {
		case T_LONG:
			if (!(bad = ms_parse_int(v, LONG_MIN, LONG_MAX, &x) < 0))
				*(long *)p = x;
			break;
		case T_INT:
			if (!(bad = ms_parse_int(v, lo, hi, &x) < 0))
				*(int *)p = (int)x;
			break;
		case T_DBL:
			if (!(bad = ms_parse_double(v, -DBL_MAX, DBL_MAX, &y) < 0))
				*(double *)p = y;
			break;
		default:
			errno = 0;
			*(uint64_t *)p = strtoull(v, &end, 10);
			bad = !*v || *end || errno || *v == '-';
		}
		if (bad)
			return ms_error("checkpoint has an invalid %s=%s", keys[k].key, v);
	}
	return 0;
}

int ms_seg_opts_resume(ms_seg_opt *o, ms_opt *opts)
{
	static const char *const common[][2] = { MS_CKPT_PRECISION };
	ms_rec model;
	FILE *f = ms_ckpt_open(o->out, &model);
	if (!f)
		return -1;
	fclose(f);
	int ret = opts_restore(o, &model) < 0 || ms_ckpt_opts(opts, &model, common, 1) < 0 ? -1 : 0;
	if (ret < 0)
		ms_error("%s: %s", o->out, ms_errmsg());
	ms_rec_free(&model);
	return ret;
}

/* signals held while saving: see ms_stop_hold */
static int save(ms_unet *u, const char *path, const ms_seg_opt *o, const ms_seg_data *d,
                const ms_adam *a, long step, double vdice, double bval, long bstep)
{
	ms_stop_hold();
	char *extra = opts_extra(o, d, vdice, bval, bstep);
	int ret = extra ? ms_unet_save(u, path, a, step, extra) : -1;
	free(extra);
	ms_stop_release();
	return ret;
}

/* ---- training */
typedef struct {
	ms_unet *u;
	int B, Bp, N, C, H, W;        /* batch, its part (ms_grads), N = Bp or 2 Bp (mixing) */
	size_t hw;
	float *x, *y, *d, *dout, *mix, *tmp;   /* a part's batch; tmp: augmentation scratch */
	uint8_t *m, *pair;            /* the batch's merging masks; slots holding a pair */
	int *real, *used;             /* the batch's real samples and those used (synthetic) */
	ms_aug_draw *ad;              /* the batch's augmentation */
	ms_aug_opt aug;
	int *perm, perm_epoch;
	ms_grads g;
} trainer;

/* an image [C,H,W] (mask = 0) or a mask (mask = 1) into its batch slot, augmented */
static void put(const trainer *t, const ms_aug_draw *ad, const float *src, int C, float *dst,
                int mask)
{
	ms_aug_warp(ad, C, t->H, t->W, src, dst, mask);
	if (!mask)
		ms_aug_intensity(ad, C, t->H, t->W, dst, t->tmp);
}

/* the real training sample at position pos of the endless sequence of epoch permutations */
static int real_at(trainer *t, const ms_seg_data *d, uint64_t seed, long pos)
{
	long e = pos / d->ntrain;
	if (e != t->perm_epoch) {
		ms_rng r;
		ms_rng_init(&r, seed, (1ull << 62) | (uint64_t)e);
		for (int i = 0; i < d->ntrain; i++)
			t->perm[i] = d->train[i];
		for (int i = d->ntrain - 1; i > 0; i--) {
			int j = (int)ms_rng_below(&r, (uint32_t)i + 1), k = t->perm[i];
			t->perm[i] = t->perm[j];
			t->perm[j] = k;
		}
		t->perm_epoch = (int)e;
	}
	return t->perm[pos % d->ntrain];
}

/* the draws of step s for the whole batch, the same on every rank: samples,
 * augmentation, merging masks */
static void draw(trainer *t, const ms_seg_data *d, const ms_seg_opt *o, int mode, long s)
{
	ms_rng r;
	ms_rng_init(&r, o->seed, (2ull << 62) | (uint64_t)s);
	for (int b = 0; b < t->B; b++) {
		/* the same draws in every mode, so that modes differ only where they must */
		int i = real_at(t, d, o->seed, s * t->B + b), j = i;
		int fh = ms_rng_below(&r, 2), fv = ms_rng_below(&r, 2);
		double u = ms_rng_uniform(&r);
		uint64_t k = ms_rng_u32(&r);
		if (mode == MS_SYN_EXTRA && d->nsyn && u < o->synth_prob)
			j = d->syn[k * d->nsyn >> 32];
		if (mode == MS_SYN_MIX && d->s[i].nsyn)
			j = d->syn[d->s[i].syn0 + (k * d->s[i].nsyn >> 32)];
		t->real[b] = i;
		t->used[b] = j;
		t->pair[b] = d->s[j].pair;
		ms_rng ar;             /* a stream of its own: flips-only runs stay as they were */
		ms_rng_init(&ar, o->seed, (3ull << 62) | (uint64_t)(s * t->B + b));
		if (o->augment == MS_AUG_NONE)
			fh = fv = 0;
		ms_aug_sample(&t->aug, fh, fv, t->H, t->W, &ar, &t->ad[b]);
	}
	int P = o->merge_patch > 0 ? o->merge_patch : ms_merge_patch_default(t->H, t->W);
	for (int b = 0; mode == MS_SYN_MIX && b < t->B; b++) {
		ms_merge_grid(t->m + b * t->hw, t->H, t->W, P, o->merge_alpha, &r);
		if (t->pair[b])           /* a pair alone: all synthetic */
			memset(t->m + b * t->hw, 0, t->hw);
	}
}

/* samples [b0, b1) of the drawn batch: forward, loss (times w), backward */
static double part(trainer *t, const ms_seg_data *d, int mode, int b0, int b1, float w)
{
	size_t chw = (size_t)d->C * t->hw;
	int n = b1 - b0;
	for (int b = b0; b < b1; b++) {
		int i = t->real[b], j = t->used[b], k = b - b0;
		const ms_seg_sample *sj = &d->s[j];
		const float *mask = sj->mask ? sj->mask : d->s[sj->of ? sj->real : j].mask;
		if (mode == MS_SYN_MIX) {   /* both images get the same draw */
			put(t, &t->ad[b], d->s[i].img, d->C, t->x + k * chw, 0);
			put(t, &t->ad[b], sj->img, d->C, t->x + (n + k) * chw, 0);
			if (!sj->pair)
				mask = d->s[i].mask;   /* the target is the real mask */
		} else {
			put(t, &t->ad[b], sj->img, d->C, t->x + k * chw, 0);
		}
		put(t, &t->ad[b], mask, 1, t->y + k * t->hw, 1);
	}
	float *out = ms_unet_forward(t->u, t->x, NULL, NULL), *logit = out, *d1 = t->dout;
	if (mode == MS_SYN_MIX) {
		for (int k = 0; k < n; k++)
			ms_merge_mix(t->mix + k * t->hw, out + k * t->hw, out + (n + k) * t->hw,
			             t->m + (b0 + k) * t->hw, 1, t->hw);
		logit = t->mix;
		d1 = t->d;
	}
	double loss = ms_loss_bce(logit, t->y, (size_t)n * t->hw, d1, w, 0);
	loss += ms_loss_dice(logit, t->y, n, t->hw, d1, w, 1);
	if (mode == MS_SYN_MIX)
		for (int k = 0; k < n; k++)
			ms_merge_mix_backward(t->d + k * t->hw, t->m + (b0 + k) * t->hw, 1, t->hw,
			                      t->dout + k * t->hw, t->dout + (n + k) * t->hw);
	ms_unet_backward(t->u, t->dout);
	return loss * w;
}

/* mean Dice (threshold 0.5, both empty = 1) over the validation images */
static double validate(trainer *t, const ms_seg_data *d)
{
	if (!d->nval)
		return -1;
	size_t chw = (size_t)d->C * t->hw;
	double sum = 0;
	for (int i0 = 0; i0 < d->nval; i0 += t->N) {
		int k = d->nval - i0 < t->N ? d->nval - i0 : t->N;
		memset(t->x, 0, t->N * chw * sizeof(float));
		for (int b = 0; b < k; b++)
			memcpy(t->x + b * chw, d->s[d->val[i0 + b]].img, chw * sizeof(float));
		const float *out = ms_unet_forward(t->u, t->x, NULL, NULL);
		for (int b = 0; b < k; b++)
			sum += ms_dice_above(out + b * t->hw, 0, d->s[d->val[i0 + b]].mask, 0, t->hw);
	}
	return sum / d->nval;
}

static void trainer_free(trainer *t)
{
	free(t->x);
	free(t->y);
	free(t->d);
	free(t->dout);
	free(t->mix);
	free(t->m);
	free(t->pair);
	free(t->perm);
	free(t->tmp);
	free(t->real);
	free(t->used);
	free(t->ad);
	ms_grads_free(&t->g);
}

/* the training framework's callbacks (models/train.h) */
typedef struct {
	trainer *t;
	ms_seg_data *d;
	ms_seg_opt *o;
	ms_adam *a;
	int mode;
	double vbest;
	long sbest;
	const ms_train *tr;
} run;

static int run_part(void *ctx, int b0, int b1, double w, double *loss, double *aux)
{
	run *r = ctx;
	(void)aux;
	*loss = part(r->t, r->d, r->mode, b0, b1, (float)w);
	return 0;
}

static int run_step(void *ctx, long s, double lr, double *loss, double *aux)
{
	run *r = ctx;
	r->a->lr = lr;
	draw(r->t, r->d, r->o, r->mode, s);
	if (ms_grads_step(&r->t->g, run_part, r, loss, aux) < 0)
		return -1;
	ms_adam_step(r->a, ms_unet_params(r->t->u));
	return 0;
}

static int run_validate(void *ctx, long s, double *metric)
{
	run *r = ctx;
	(void)s;
	*metric = validate(r->t, r->d);
	return 0;
}

/* --best: the weights of a validation Dice above every earlier one of the run (resumed
 * runs included) go there */
static int run_keep(void *ctx, long s, double metric)
{
	run *r = ctx;
	return save(r->t->u, r->o->best, r->o, r->d, NULL, s, metric, -1, -1);
}

static int run_save(void *ctx, long s, double metric)
{
	run *r = ctx;
	r->o->time_used = r->tr->time_used;        /* stored in the checkpoint */
	return save(r->t->u, r->o->out, r->o, r->d, r->a, s, metric, r->vbest,
	            r->o->best ? r->sbest : -1);
}

int ms_seg_train(ms_seg_data *d, ms_seg_opt *o)
{
	ms_unet *u = NULL;
	ms_adam a;
	long s0 = 0, sbest = -1;
	double vbest = -1;
	trainer t;
	int ret = -1;
	memset(&t, 0, sizeof t);
	if (o->resume) {
		ms_rec model;
		char v[64];
		ms_rec_init(&model);
		ms_adam_init(&a, o->lr, o->wd, o->wd > 0);
		if (!(u = ms_unet_load(o->out, &a, &model)))
			return -1;
		int bad = !ms_meta_get(&model, "step", v, sizeof v) ||
		          ms_parse_int(v, 0, 1L << 40, &s0) < 0;
		int badbest = ms_train_best_read(&model, &vbest, &sbest) < 0;
		ms_rec_free(&model);
		if (bad || badbest) {
			ms_error("%s: %s", o->out, bad ? "no step= in the model record: cannot resume"
			                                : ms_errmsg());
			goto out;
		}
		const ms_unet_cfg *c = ms_unet_cfg_of(u);
		if (c->in_ch != d->C || c->out_ch != 1) {
			ms_error("%s: model takes %d channels, the images have %d", o->out, c->in_ch, d->C);
			goto out;
		}
		o->width = c->width;
	} else {
		ms_unet_cfg c;
		ms_unet_cfg_default(&c);
		c.in_ch = d->C;
		c.width = o->width;
		if (ms_unet_cfg_check(&c) < 0 || !(u = ms_unet_new(&c, o->seed)))
			return -1;
		ms_adam_init(&a, o->lr, o->wd, o->wd > 0);
	}
	a.wd = o->wd;
	a.decoupled = o->wd > 0;
	if (o->steps <= 0)
		o->steps = o->epochs > 0 ? (long)ceil(o->epochs * d->ntrain / o->batch) :
		           o->time > 0 ? LONG_MAX / 4 : 1000;
	int mode = o->synth;
	int npair = 0;
	for (int k = 0; k < d->nsyn; k++)
		npair += d->s[d->syn[k]].pair;
	if (mode == MS_SYN_AUTO)
		mode = !d->nsyn ? MS_SYN_IGNORE : npair == d->nsyn ? MS_SYN_EXTRA : MS_SYN_MIX;
	if (mode != MS_SYN_IGNORE && !d->nsyn)
		mode = MS_SYN_IGNORE;
	o->synth = mode;          /* stored as used */
	if (mode != MS_SYN_EXTRA && d->norphan) {
		/* mixing draws from a real sample's own group: the orphan pairs (last) go */
		d->nsyn -= d->norphan;
		d->nsyn_dropped += d->norphan;
		npair -= d->norphan;
		d->norphan = 0;
	}
	char plan[64], pairs[96] = "";
	if (npair && mode != MS_SYN_IGNORE)
		snprintf(pairs, sizeof pairs, d->norphan ? " (%d pairs with masks of their own, "
		         "%d of them of images not in the stream)" :
		         " (%d pairs with masks of their own)", npair, d->norphan);
	if (o->time > 0)
		snprintf(plan, sizeof plan, "%.0f s budget from step %ld", o->time - o->time_used, s0);
	else
		snprintf(plan, sizeof plan, "steps %ld from %ld", o->steps, s0);
	if (!ms_dist_rank())            /* rank 0 speaks for all */
		fprintf(stderr, "%s: %d real samples (%d train, %d validation), %d synthetic used "
		        "(%d without their real sample, %d of validation samples: dropped); "
		        "synthetic %s%s; %dx%dx%d; %s\n", argv0, d->ntrain + d->nval, d->ntrain,
		        d->nval, mode == MS_SYN_IGNORE ? 0 : d->nsyn, d->nsyn_dropped, d->nsyn_leak,
		        synth_name(mode), pairs, d->C, d->W, d->H, plan);
	t.u = u;
	t.B = o->batch;
	if (ms_grads_init(&t.g, ms_unet_params(u), t.B, o->parts) < 0)
		goto out;
	t.Bp = t.B / t.g.P;
	t.N = mode == MS_SYN_MIX ? 2 * t.Bp : t.Bp;
	t.C = d->C;
	t.H = d->H;
	t.W = d->W;
	t.hw = (size_t)d->H * d->W;
	t.perm_epoch = -1;
	ms_aug_level(&t.aug, o->augment);
	size_t nx = (size_t)t.N * d->C * t.hw;
	if (ms_unet_plan(u, t.N, d->H, d->W, 1) < 0 || !(t.x = ms_calloc(nx, sizeof(float))) ||
	    !(t.y = ms_calloc((size_t)t.Bp * t.hw, sizeof(float))) ||
	    !(t.d = ms_calloc((size_t)t.Bp * t.hw, sizeof(float))) ||
	    !(t.mix = ms_calloc((size_t)t.Bp * t.hw, sizeof(float))) ||
	    !(t.dout = ms_calloc((size_t)t.N * t.hw, sizeof(float))) ||
	    !(t.m = ms_calloc((size_t)t.B * t.hw, 1)) || !(t.pair = ms_calloc(t.B, 1)) ||
	    !(t.real = ms_calloc(t.B, sizeof(int))) || !(t.used = ms_calloc(t.B, sizeof(int))) ||
	    !(t.ad = ms_calloc(t.B, sizeof *t.ad)) ||
	    !(t.perm = ms_calloc(d->ntrain, sizeof(int))) ||
	    !(t.tmp = ms_calloc(t.hw + d->W + 64, sizeof(float))))
		goto out;
	run r = { &t, d, o, &a, mode, vbest, sbest, NULL };
	ms_train tr = { .steps = o->steps, .time = o->time, .time_used = o->time_used,
	                .report = o->report, .save_every = o->save_every, .batch = t.B,
	                .log = o->log, .out = o->out, .metric = "val_dice", .schedule = o->schedule, .lr = o->lr,
	                .warmup = o->warmup, .ctx = &r, .step = run_step,
	                .validate = run_validate, .best = &r.vbest, .best_step = &r.sbest,
	                .keep = o->best ? run_keep : NULL, .save = run_save };
	long s = s0;
	double vdice;
	r.tr = &tr;
	int sig = ms_train_run(&tr, &s, &vdice);
	o->time_used = tr.time_used;
	if (sig < 0)
		goto out;
	if (sig > 0 || ms_dist_rank())
		;                         /* ms_train_run said where the checkpoint went */
	else if (vdice >= 0 && o->best)
		fprintf(stderr, "%s: done, %ld steps, validation Dice %.4f; best %.4f at step %ld "
		        "in %s\n", argv0, s, vdice, r.vbest, r.sbest, o->best);
	else if (vdice >= 0)
		fprintf(stderr, "%s: done, %ld steps, validation Dice %.4f\n", argv0, s, vdice);
	else
		fprintf(stderr, "%s: done, %ld steps, no validation samples\n", argv0, s);
	ret = sig;
out:
	trainer_free(&t);
	ms_unet_free(u);
	return ret;
}
