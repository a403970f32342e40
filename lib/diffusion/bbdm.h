/* HiDiff's binary Bernoulli diffusion (BBDM, methods.md section 3): every pixel an
 * independent Bernoulli variable diffused from the truth y_0 towards a prior p.
 * ab_t = prod_{s<=t} alpha_s, ab_0 = 1, ab_T = 0 so that y_T ~ B(p). Short pure
 * functions on one pixel, and map versions over n pixels. */
#ifndef MS_BBDM_H
#define MS_BBDM_H

#include "core/rng.h"

#define MS_BBDM_TMAX 1000
enum { MS_BBDM_LINEAR, MS_BBDM_COSINE };    /* schedules */
enum { MS_BBDM_FOCAL, MS_BBDM_BCE };        /* flip losses */
enum { MS_BBDM_ANCESTRAL, MS_BBDM_DDIM, MS_BBDM_MIXTURE };   /* samplers */
#define MS_BBDM_CLAMP 1e-7
#define MS_BBDM_PRIOR_CLAMP 1e-3   /* flip probabilities of the prior alone, clamped */

typedef struct {
	int T, kind;
	double ab[MS_BBDM_TMAX + 1];
} ms_bbdm;

/* linear: ab_t = 1 - t/T; cosine: ab_t = cos(pi/2 (t/T + s)/(1 + s))^2 / (same at 0),
 * s = 0.008, ab_T = 0 exactly */
int ms_bbdm_init(ms_bbdm *b, int T, int kind);
/* the names of the schedules and the samplers by index, NULL-terminated (a tool's
 * option table takes them as they are) */
extern const char *const ms_bbdm_schedule_names[];
extern const char *const ms_bbdm_sampler_names[];
int ms_bbdm_schedule_parse(const char *s);          /* -1 if unknown */
const char *ms_bbdm_schedule_name(int kind);
int ms_bbdm_sampler_parse(const char *s);           /* -1 if unknown */
const char *ms_bbdm_sampler_name(int sampler);
/* q(y_t = 1 | y_0, p) = ab_t y_0 + (1 - ab_t) p */
double ms_bbdm_marginal(const ms_bbdm *b, int t, double y0, double p);
/* q(y_s = 1 | y_t, y_0, p) for s < t (s = t - 1: methods.md's th1 / (th0 + th1) with
 * alpha = ab_t / ab_s); y_0 may be soft. dy0, dp (may be NULL): the partial derivatives */
double ms_bbdm_posterior(const ms_bbdm *b, int t, int s, int yt, double y0, double p,
                         double *dy0, double *dp);
/* one pixel's loss in nats: KL(B(mu) || B(mu_hat)) (t > 1) or the NLL of y_0 under
 * y0_hat = |y_t - sigmoid(z)| (t = 1), plus focal (gamma 2) or BCE of sigmoid(z)
 * against eps = y_t xor y_0. mu_hat is the model's posterior by rule, as the sampler of
 * that name takes it (ms_bbdm_step_prob): MS_BBDM_ANCESTRAL (posterior(y0_hat)) or
 * MS_BBDM_MIXTURE. dz: d/d z; dp (may be NULL): d/d p with y_t held fixed */
double ms_bbdm_loss(const ms_bbdm *b, int t, int yt, int y0, double p, double z, int flip,
                    int rule, double *dz, double *dp);
/* the mean of ms_bbdm_loss over N images of per pixels (t[N]) divided by ln 2; dz (and
 * dp when not NULL) receive w times the gradient of that mean */
double ms_bbdm_loss_map(const ms_bbdm *b, const int *t, int N, size_t per, const float *yt,
                        const float *y0, const float *p, const float *z, int flip, int rule,
                        float *dz, float *dp, float w);
/* the logit of P(y_0 != y_t | y_t, p) when y_0 ~ B(p) is all one knows: the flip
 * probability (1 - ab_t) (y_t ? 1 - p : p), clamped to [c, 1 - c] (MS_BBDM_PRIOR_CLAMP).
 * dp (may be NULL): its derivative in p (0 where clamped) */
double ms_bbdm_prior_logit(const ms_bbdm *b, int t, int yt, double p, double *dp);
/* the probability that pixel y_s is 1 after a reverse step from y_t given the flip
 * probability eps_hat: ancestral clip(posterior(y0_hat)) (the soft y0_hat put in place of
 * y_0, HiDiff's released rule), mixture clip(y0_hat posterior(1) + (1 - y0_hat)
 * posterior(0)) (y_0 ~ B(y0_hat): the exact rule for a soft estimate, methods.md
 * section 3), or DDIM-like s_t y_t + (1 - s_t) y0_hat with s_t = (1 - ab_s) / (1 - ab_t) */
double ms_bbdm_step_prob(const ms_bbdm *b, int sampler, int t, int s, int yt, double eps_hat,
                         double p);
/* a reverse step over n pixels: y (0/1 floats) from y_t to y_s, u uniform draws in [0,1) */
void ms_bbdm_step(const ms_bbdm *b, int sampler, int t, int s, size_t n, float *y,
                  const float *eps_hat, const float *p, ms_rng *r);
/* the network evaluations of a reverse run of n steps: ts[0] = T > ... > ts[n-1] = 1
 * evenly spaced (n = 1: just T); n is clamped to 1..T; returns n */
int ms_bbdm_timesteps(const ms_bbdm *b, int n, int *ts);

#endif
