/* The segmentor of ms-segment(1): a data set held in memory with a fixed validation split,
 * training of the default U-Net with BCE + soft Dice, DiffBoost's random merging mask on
 * the output logits for synthetic images, checkpoints and prediction. */
#ifndef MS_SEGMENT_H
#define MS_SEGMENT_H

#include <stdio.h>

#include "core/rng.h"
#include "core/tensor.h"
#include "nn/nn.h"

/* how synthetic samples (image metadata of=<real id>) are used; auto: mix, or extra
 * when every synthetic sample is a pair */
enum { MS_SYN_AUTO, MS_SYN_MIX, MS_SYN_EXTRA, MS_SYN_IGNORE };
/* the names of MS_SYN_MIX, _EXTRA, _IGNORE in order, NULL-terminated */
extern const char *const ms_seg_synth_names[];
int ms_seg_synth_parse(const char *s);   /* "mix" "extra" "ignore", -1 if unknown */

/* ---- the data set: every image the same size; masks 0/1 as floats */
typedef struct {
	char *id, *of;                /* of: the real sample's id (synthetic), else NULL */
	float *img, *mask;            /* [C,H,W], [H,W]; a synthetic mask may be NULL */
	int real;                     /* synthetic: index of its real sample, -1 if absent */
	int val;                      /* real: held out for validation */
	int held;                     /* real: always validation (ms-segment train --val) */
	int nsyn, syn0;               /* real: its synthetic samples, syn[syn0 .. syn0+nsyn) */
	int pair;                     /* synthetic with a mask of its own (mask record
	                               * synthetic=1, ms-sample with a joint model): never
	                               * merged with its real sample */
} ms_seg_sample;

typedef struct {
	int C, H, W;
	int n, cap;
	ms_seg_sample *s;
	/* set by ms_seg_data_split */
	int *train, ntrain;           /* real training samples */
	int *val, nval;               /* real validation samples */
	int *syn, nsyn;               /* usable synthetic samples, grouped by real sample,
	                               * then the norphan pairs whose real sample is not in
	                               * the stream (made from unlabelled images) */
	int norphan;
	int nsyn_dropped, nsyn_leak;  /* dropped: no real sample (not a pair; or any, when
	                               * ms_seg_train mixes) / real one held out */
	int nsyn_judged;              /* dropped by ms_seg_judge */
} ms_seg_data;

void ms_seg_data_init(ms_seg_data *d);
void ms_seg_data_free(ms_seg_data *d);
/* adds a sample (copies img and mask; mask may be NULL only when of is set) */
int ms_seg_data_add(ms_seg_data *d, const char *id, const char *of, const ms_tensor *img,
                    const ms_tensor *mask);
/* validation: real samples marked held, and those whose id hashes below frac; links
 * synthetic samples */
int ms_seg_data_split(ms_seg_data *d, double frac);
/* 1 when sample id falls in the validation fraction */
int ms_seg_is_val(const char *id, double frac);

/* ---- training */
typedef struct {
	long steps;                   /* 0: from epochs */
	double epochs;
	int batch, width, schedule, synth, merge_patch, threads;
	int parts;                    /* the batch's gradient in parts (models/train.h's
	                               * ms_grads; 0: one per rank) */
	int augment;                  /* MS_AUG_* (augment.h), default strong */
	double lr, wd, val_fraction, merge_alpha, synth_prob;
	uint64_t seed;
	long warmup;                  /* linear learning-rate warmup steps */
	double time, time_used;       /* wall-clock budget (0: none) and seconds spent */
	long save_every, report;      /* 0: none / default interval */
	const char *out;
	const char *best;             /* weights of the best validation Dice go there */
	const char *log;              /* TSV training log (models/train.h), NULL: none */
	int resume;
	unsigned given;               /* 1 << MS_SEG_K_* for options set by the user */
} ms_seg_opt;

/* option keys stored in the checkpoint (a resumed run takes those not given) */
enum { MS_SEG_K_STEPS, MS_SEG_K_BATCH, MS_SEG_K_LR, MS_SEG_K_WD, MS_SEG_K_SCHEDULE,
       MS_SEG_K_SEED, MS_SEG_K_WIDTH, MS_SEG_K_VAL, MS_SEG_K_PATCH, MS_SEG_K_ALPHA,
       MS_SEG_K_SYNTH, MS_SEG_K_SPROB, MS_SEG_K_WARMUP, MS_SEG_K_TIME,
       MS_SEG_K_USED, MS_SEG_K_AUGMENT, MS_SEG_K_EPOCHS };

void ms_seg_opt_default(ms_seg_opt *o);
/* --resume: the options not given (o->given), from the checkpoint o->out, and those of
 * the tool's table opts that every training checkpoint keeps (MS_CKPT_PRECISION); before
 * the data are split, since the validation fraction is one of them */
int ms_seg_opts_resume(ms_seg_opt *o, ms_opt *opts);
/* trains (data already split with o->val_fraction; with o->resume, after
 * ms_seg_opts_resume); returns 0 when done, the signal number
 * when SIGINT/SIGTERM stopped it (after writing the checkpoint), -1 on error */
int ms_seg_train(ms_seg_data *d, ms_seg_opt *o);

/* ---- prediction: logits of N images [N,C,H,W] of any size (padded by reflection to
 * a multiple the net accepts, cropped back) into out [N,H,W] */
typedef struct {
	ms_unet *u;
	int N, Hp, Wp, mult;          /* current plan */
	float *x;                     /* padded batch */
	ms_shard shard;               /* ms_seg_pred_stream: only these samples (n = 0: all) */
} ms_seg_pred;
int ms_seg_pred_open(ms_seg_pred *p, const char *model);
void ms_seg_pred_close(ms_seg_pred *p);
int ms_seg_pred_run(ms_seg_pred *p, int N, int H, int W, const float *x, float *out);
/* an image [C,H,W] (any dtype) as want channels of floats: equal, grey repeated to RGB,
 * RGB to grey by BT.601 luma; out holds want*H*W floats */
int ms_seg_convert(const ms_tensor *img, int want, float *out);

/* a judge of synthetic samples (segpred.c; GenSeg's feedback in its cheap form): the
 * segmentor in model (trained on real images) segments d's validation samples and its
 * usable synthetic ones (d split already); a synthetic sample stays when the Dice of
 * the judge's mask (logit > 0) against its own mask (else its real sample's) reaches
 * the judge's median Dice on the validation samples (*median), else it leaves d->syn
 * (counted in nsyn_judged). batch images per forward. -1 with the reason. */
int ms_seg_judge(ms_seg_data *d, const char *model, int batch, double *median);

/* prediction over a stream (segpred.c): every sample of in (named name in messages) goes
 * to out as it came, followed, when it has an image, by "prob" (f32 [1,H,W], the
 * sigmoid of the logits) and "pred" (u8, prob > threshold), both with the image
 * record's metadata. Up to batch consecutive images of one size share a forward pass.
 * 0, or -1 with the reason (naming the sample) */
int ms_seg_pred_stream(ms_seg_pred *p, FILE *in, const char *name, FILE *out, int batch,
                       double threshold);

#endif
