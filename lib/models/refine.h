/* HiDiff's refiner: a U-Net with time embedding on concat(image, y_t, prior) whose
 * sigmoid output is eps_hat = P(pixel flipped), trained with the BBDM loss and run as
 * a reverse Bernoulli diffusion from the segmentor's prior (methods.md section 3).
 * Output direct: eps_hat = sigmoid(net); residual: eps_hat = sigmoid(net + the flip
 * logit of the prior alone, ms_bbdm_prior_logit), with the last layer zeroed at the
 * start, so that an untrained refiner samples y_0 ~ B(p) and training learns where to
 * depart from the segmentor. */
#ifndef MS_REFINE_H
#define MS_REFINE_H

#include "core/rng.h"
#include "diffusion/bbdm.h"
#include "io/stream.h"
#include "nn/nn.h"

enum { MS_REFINE_DIRECT, MS_REFINE_RESIDUAL };    /* outputs */

typedef struct {
	ms_unet *net;
	ms_bbdm bb;
	int C, flip;                  /* image channels (net input C + 2), MS_BBDM_FOCAL/BCE */
	int output;                   /* MS_REFINE_DIRECT/RESIDUAL */
	/* plan */
	int N, H, W, train;
	int *t;                       /* [N] timesteps */
	float *x, *tf, *yt, *eps, *dz, *z; /* [N,C+2,H,W], [N], [N,HW] x4 */
} ms_refiner;

/* a training set held in memory: n images [C,H,W], masks y0 [HW] 0/1, priors p [HW] */
typedef struct {
	int n, cap, C, H, W;
	float *img, *y0, *p;
} ms_refine_set;

ms_refiner *ms_refiner_new(int C, int width, int T, int schedule, int flip, int output,
                           uint64_t seed);
int ms_refine_output_parse(const char *s);          /* -1 if unknown */
/* checkpoint: ms_unet_save with kind=refine T= schedule= channels= loss= output=
 * prior=sigmoid (a checkpoint without output= is direct)
 * plus extra ("key=value\n" lines or NULL); load checks kind=refine. model (may be NULL)
 * receives the "model" record */
int ms_refiner_save(ms_refiner *r, const char *path, const ms_adam *opt, long step,
                    const char *extra);
ms_refiner *ms_refiner_load(const char *path, ms_adam *opt, ms_rec *model);
void ms_refiner_free(ms_refiner *r);
int ms_refiner_plan(ms_refiner *r, int N, int H, int W, int train);

/* draws per image t ~ U{1..T} and y_t ~ B(ab_t y0 + (1 - ab_t) p) into r->t, r->yt */
void ms_refiner_draw(ms_refiner *r, const float *y0, const float *p, ms_rng *rng);
/* forward on (img, r->yt, p) at r->t and the loss of methods.md (bits per pixel);
 * backward accumulates parameter gradients when set; dp (may be NULL) receives
 * w d loss / d p through the posterior formulas and the residual's prior logit, not
 * through the network input */
double ms_refiner_loss(ms_refiner *r, const float *img, const float *y0, const float *p,
                       int backward, float *dp, float w);
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

#endif

/* ---- training steps on a batch of r->N images (plan it with train = 1) */
/* a refiner step: draw t and y_t, loss, backward, AdamW step; returns the loss */
double ms_refiner_step(ms_refiner *r, ms_adam *opt, const float *img, const float *y0,
                       const float *p, ms_rng *rng);
/* HiDiff's alternate-collaborative iteration with a segmentor seg (planned for the same
 * batch, train): p = sigmoid(seg(img)); (1) a refiner step on p detached; (2) a segmentor
 * step on BCE + soft Dice + lambda * the diffusion loss of the updated refiner at the
 * same t and y_t. Limitation: the diffusion loss reaches p only through the posterior
 * formulas; its path through the refiner's input channel needs the U-Net's input
 * gradient, which lib/nn does not expose. Losses in *rloss, *sloss; -1 on OOM */
int ms_refiner_alt_step(ms_refiner *r, ms_adam *ropt, ms_unet *seg, ms_adam *sopt,
                        double lambda, const float *img, const float *y0, ms_rng *rng,
                        double *rloss, double *sloss);
