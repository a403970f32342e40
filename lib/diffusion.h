/* Gaussian diffusion (methods.md 1.2): noise schedules, forward noising, the DDPM
 * target, DDIM steps and classifier-free guidance, as short pure functions.
 * Timesteps are indices 0..T-1 (index i is DDPM's t = i + 1); abar[i] = prod_{j<=i} (1 - beta_j). */
#ifndef MS_DIFFUSION_H
#define MS_DIFFUSION_H

#include "ms.h"

enum { MS_SCHED_LINEAR, MS_SCHED_COSINE };

typedef struct {
	int kind, T;
	double *beta, *abar;          /* T values each */
} ms_sched;

/* linear: beta = linspace(1e-4, 0.02, T); cosine (Nichol and Dhariwal 2021):
 * f(t) = cos((t/T + 0.008) / 1.008 * pi/2)^2, beta_i = min(1 - f(i+1)/f(i), 0.999) */
int ms_sched_init(ms_sched *s, int kind, int T);
void ms_sched_free(ms_sched *s);
const char *ms_sched_name(int kind);
int ms_sched_parse(const char *s);        /* -1 if unknown */

/* x_t = sqrt(abar) x0 + sqrt(1 - abar) eps on n floats */
void ms_q_sample(const float *x0, const float *eps, size_t n, double abar, float *xt);
/* the DDPM loss mean((pred - eps)^2) and its gradient d (NULL for none) */
double ms_ddpm_loss(const float *pred, const float *eps, size_t n, float *d);

/* S timesteps of DDIM, from T-1 down to 0: seq[i] = floor((T-1) (S-1-i) / (S-1))
 * (torch.linspace(T-1, 0, S).long() of ref_unet.py); S = 1 gives T-1 */
void ms_ddim_timesteps(int T, int S, int *seq);
/* one DDIM step on n floats, from abar ab to ab_prev (1 after the last step):
 * x0 = clip((x - sqrt(1-ab) eps) / sqrt(ab), -1, 1) (clip when clip is set),
 * sigma = eta sqrt((1-ab_prev)/(1-ab)) sqrt(1 - ab/ab_prev),
 * x <- sqrt(ab_prev) x0 + sqrt(1 - ab_prev - sigma^2) eps + sigma z.
 * z (n standard normals) is used only when sigma > 0 and may be NULL otherwise. */
void ms_ddim_step(float *x, const float *eps, size_t n, double ab, double ab_prev, double eta,
                  const float *z, int clip);
double ms_ddim_sigma(double ab, double ab_prev, double eta);
/* classifier-free guidance: out = eu + w (ec - eu); out may alias eu or ec */
void ms_cfg_combine(const float *eu, const float *ec, size_t n, double w, float *out);

#endif
