/* HiDiff's refiner: a U-Net with time embedding on concat(image, y_t, prior) whose
 * sigmoid output is eps_hat = P(pixel flipped), trained with the BBDM loss and run as
 * a reverse Bernoulli diffusion from the segmentor's prior (methods.md section 3).
 * Output direct: eps_hat = sigmoid(net); residual: eps_hat = sigmoid(net + the flip
 * logit of the prior alone, ms_bbdm_prior_logit), with the last layer zeroed at the
 * start, so that an untrained refiner samples y_0 ~ B(p) and training learns where to
 * depart from the segmentor. refdata.c: ms-refine's samples, refinement of one sample
 * and its training run. */
#ifndef MS_REFINE_H
#define MS_REFINE_H

#include "core/rng.h"
#include "diffusion/bbdm.h"
#include "io/sample.h"
#include "io/stream.h"
#include "models/train.h"
#include "nn/nn.h"

enum { MS_REFINE_DIRECT, MS_REFINE_RESIDUAL };    /* outputs */

typedef struct {
	ms_unet *net;
	ms_bbdm bb;
	int C, flip;                  /* image channels (net input C + 2), MS_BBDM_FOCAL/BCE */
	int output;                   /* MS_REFINE_DIRECT/RESIDUAL */
	int posterior;                /* the model's posterior in the loss and by default in
	                               * sampling: MS_BBDM_ANCESTRAL or MS_BBDM_MIXTURE */
	/* plan */
	int N, H, W, train;
	float *x, *tf, *yt, *eps, *dz, *z; /* [N,C+2,H,W], [N], [N,HW] x4 */
	float *sp;                    /* [3,N,HW] (train 2): --alternate's segmentor prior, the
	                               * gradient of its loss, d loss / d p */
} ms_refiner;

/* a training set held in memory: n images [C,H,W], masks y0 [HW] 0/1, priors p [HW] */
typedef struct {
	int n, cap, C, H, W;
	float *img, *y0, *p;
} ms_refine_set;

ms_refiner *ms_refiner_new(int C, int width, int T, int schedule, int flip, int output,
                           uint64_t seed);
/* the names of the flip losses (MS_BBDM_FOCAL/BCE) and the outputs by index,
 * NULL-terminated (ms-refine's option table; loss= and output= of a checkpoint) */
extern const char *const ms_refine_loss_names[];
extern const char *const ms_refine_output_names[];
int ms_refine_output_parse(const char *s);          /* -1 if unknown */
/* checkpoint: ms_unet_save with kind=refine T= schedule= channels= loss= output=
 * posterior= prior=sigmoid (a checkpoint without output= is direct, without posterior=
 * ancestral)
 * plus extra ("key=value\n" lines or NULL); load checks kind=refine. model (may be NULL)
 * receives the "model" record */
int ms_refiner_save(ms_refiner *r, const char *path, const ms_adam *opt, long step,
                    const char *extra);
ms_refiner *ms_refiner_load(const char *path, ms_adam *opt, ms_rec *model);
void ms_refiner_free(ms_refiner *r);
/* buffers for N images [H,W]: train 0 refines, 1 trains, 2 trains with --alternate (its
 * prior maps, sp) */
int ms_refiner_plan(ms_refiner *r, int N, int H, int W, int train);

/* draws for each of N images [H,W] (r's plan) t ~ U{1..T} into t[N] and the uniforms
 * of y_t into u[N,HW] */
void ms_refiner_draw(const ms_refiner *r, int N, ms_rng *rng, int *t, double *u);
/* r->yt = [u < ab_t y0 + (1 - ab_t) p], y_t ~ B(...), at times t[N], for r->N images */
void ms_refiner_noisy(ms_refiner *r, const int *t, const double *u, const float *y0,
                      const float *p);
/* forward on (img, r->yt, p) at times t[N] and the loss of methods.md (bits per pixel);
 * backward accumulates parameter gradients when set; dp (may be NULL) receives
 * w d loss / d p through the posterior formulas and the residual's prior logit, and, in
 * a plan for alternate training (train 2), through the network's input channel p as
 * well (a backward pass that also accumulates the refiner's parameter gradients) */
double ms_refiner_loss(ms_refiner *r, const int *t, const float *img, const float *y0,
                       const float *p, int backward, float *dp, float w);
/* K reverse runs of n steps from y_T ~ B(p) on one image [C,H,W] (plans N = K); prob:
 * mean of the K final y0_hat maps, unc: their standard deviation (may be NULL) */
int ms_refiner_run(ms_refiner *r, int H, int W, const float *img, const float *p, int K,
                   int steps, int sampler, ms_rng *rng, float *prob, float *unc);

/* mean Dice (threshold 0.5, both empty = 1) over the n samples of v of K reverse runs
 * of all T steps (ancestral, noise from seed and the sample's index, so that two calls
 * are paired), and in *prior (may be NULL) that of the prior itself; keeps r's plan */
double ms_refiner_validate(ms_refiner *r, const ms_refine_set *v, int K, uint64_t seed,
                           double *prior);

/* training set: append one sample (copies), free */
int ms_refine_set_add(ms_refine_set *d, int C, int H, int W, const float *img,
                      const uint8_t *mask, const float *p);
void ms_refine_set_free(ms_refine_set *d);
/* batch of B indices drawn from rng; copies into img [B,C,H,W], y0, p [B,HW] */
void ms_refine_set_batch(const ms_refine_set *d, int B, ms_rng *rng, float *img, float *y0,
                         float *p);

/* ---- HiDiff's alternate-collaborative iteration with a segmentor seg, on r->N images
 * (both planned for them, train): p = sigmoid(seg(img)); (1) the refiner's gradient on
 * p detached; (2) with the refiner updated, the segmentor's gradient of BCE + soft Dice
 * + lambda * the diffusion loss at the same t and y_t. Limitation: the diffusion loss
 * reaches p only through the posterior formulas; its path through the refiner's input
 * channel needs the U-Net's input gradient, which lib/nn does not expose. From draws t,
 * u, weighted by w (ms_grads parts); each returns its loss times w */
double ms_refiner_alt_ref(ms_refiner *r, ms_unet *seg, const float *img, const float *y0,
                          const int *t, const double *u, double w);
double ms_refiner_alt_seg(ms_refiner *r, ms_unet *seg, double lambda, const float *img,
                          const float *y0, const int *t, const double *u, double w);

/* ---- ms-refine's samples, refinement and training run (refdata.c) */

/* refines one sample of a stream in place: with an image [C,H,W] (C = r->C) and a prob
 * f32 [1,H,W] (pred u8 [1,H,W] if any), K reverse runs of steps steps (noise from seed
 * and the hash of the id, or idx without one) replace prob and pred (pred appended when
 * absent), earlier prior, prior_pred and uncertainty records are dropped, and uncertainty,
 * prior (the old prob) and prior_pred (the old pred) are appended. 1 when refined, 0 when
 * the sample lacks image or prob (left as it is), -1 with the reason (naming the sample) */
int ms_refine_sample(ms_refiner *r, ms_sample *s, int K, int steps, int sampler,
                     uint64_t seed, long idx);

/* a training run of ms-refine train: its options (the tool's option table sets them),
 * then its state */
typedef struct {
	const char *out, *best;       /* checkpoint; best validation weights (may be NULL) */
	const char *segpath, *segout; /* --alternate: segmentor in and out (NULL: segpath) */
	long batch, width, T, seed;
	long parts;                   /* the batch's gradient in parts (models/train.h's
	                               * ms_grads; 0: one per rank) */
	double lr, wd, lambda, val_fraction;
	int lr_schedule, schedule, flip, output, posterior, resume, alternate;
	/* state */
	ms_refine_set d, v;           /* training and validation samples */
	int skipped;                  /* samples without image, mask (or prob) */
	ms_refiner *r;
	ms_adam a, sa;                /* the refiner's and the segmentor's optimiser */
	ms_unet *seg;                 /* --alternate */
	ms_rec m, segm;               /* the checkpoints' "model" records (resumed) */
	long step, seg0;              /* step the run starts from, the segmentor's then */
	float *img, *y0, *p;          /* one batch */
	double *u;                    /* its draws: the uniforms of y_t, t */
	int *ts;
	ms_grads g, sg;               /* the refiner's and the segmentor's gradient */
	double vbest, vprior;         /* best validation Dice (-1: none yet; a resumed run's
	                               * from its checkpoint; ms_train_run updates it), the
	                               * prior's */
	long sbest;                   /* its step (-1: none) */
} ms_refine_train;

/* the defaults of ms-refine train(1) */
void ms_refine_train_default(ms_refine_train *t);
void ms_refine_train_free(ms_refine_train *t);
/* one sample of the stream: added to d or (with prob and held out by id,
 * ms_seg_is_val) to v; samples without image, mask and (unless alternate) prob are
 * counted in skipped. 1 added, 0 skipped, -1 with the reason */
int ms_refine_train_add(ms_refine_train *t, ms_sample *s);
/* after the last sample: -1 with the reason when no training sample or validation ones
 * of another size */
int ms_refine_train_check(const ms_refine_train *t);
/* the refiner: resumed from out (its Adam state, model record and step) or new */
int ms_refine_train_open(ms_refine_train *t);
/* then (after the resumed options): optimisers, the segmentor of --alternate, the
 * batch's parts, plans for a part, the batch buffers */
int ms_refine_train_setup(ms_refine_train *t);
/* the training step at index step with learning rate lr (models/train.h's step): the
 * batch, t and y_t's uniforms drawn whole, the gradients in parts (ms_grads: the
 * refiner's, then with --alternate the segmentor's); every rank calls it */
int ms_refine_train_step(ms_refine_train *t, long step, double lr, double *loss,
                         double *aux);
/* checkpoints after step: the refiner (and the segmentor) with their optimisers; the
 * weights alone to best; signals held while writing */
int ms_refine_train_save(ms_refine_train *t, long step);
int ms_refine_train_best(ms_refine_train *t, long step);
/* the checkpoint's extra metadata, what --resume takes back ("key=value\n" lines;
 * doubles in the shortest of %.15g and %.17g that reads back; with best, and --best
 * given, the best validation Dice so far: ms_train_best_meta); the segmentor's own
 * metadata less what ms_unet_save writes. Allocated, NULL on OOM */
char *ms_refine_train_extra(const ms_refine_train *t, int best);
char *ms_refine_seg_extra(const ms_rec *m);

#endif
