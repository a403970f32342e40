/* Gaussian diffusion (methods.md 1.2): noise schedules, forward noising, the DDPM
 * target, DDIM steps and classifier-free guidance, as short pure functions; zero
 * terminal SNR and v-prediction (Lin et al., WACV 2024).
 * Timesteps are indices 0..T-1 (index i is DDPM's t = i + 1); abar[i] = prod_{j<=i} (1 - beta_j). */
#ifndef MS_DIFFUSION_H
#define MS_DIFFUSION_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"

enum { MS_SCHED_LINEAR, MS_SCHED_COSINE };
enum { MS_PRED_EPS, MS_PRED_V };          /* what the network predicts */

typedef struct {
	int kind, T;
	double *beta, *abar;          /* T values each */
} ms_sched;

/* linear: beta = linspace(1e-4, 0.02, T); cosine (Nichol and Dhariwal 2021):
 * f(t) = cos((t/T + 0.008) / 1.008 * pi/2)^2, beta_i = min(1 - f(i+1)/f(i), 0.999) */
int ms_sched_init(ms_sched *s, int kind, int T);
void ms_sched_free(ms_sched *s);
/* the schedules' names by kind, NULL-terminated (a tool's option table takes them) */
extern const char *const ms_sched_names[];
const char *ms_sched_name(int kind);
int ms_sched_parse(const char *s);        /* -1 if unknown */
/* zero terminal SNR (Lin et al. 2024): s_i = sqrt(abar_i) shifted and scaled so that it
 * is s_0 at 0 and 0 at T-1, abar_i <- abar_0 ((s_i - s_{T-1}) / (s_0 - s_{T-1}))^2;
 * beta_i = 1 - abar_i / abar_{i-1} (beta_0 unchanged, beta_{T-1} = 1) */
void ms_sched_zero_snr(ms_sched *s);

/* x_t = sqrt(abar) x0 + sqrt(1 - abar) eps on n floats */
void ms_q_sample(const float *x0, const float *eps, size_t n, double abar, float *xt);
/* the DDPM loss mean((pred - eps)^2) and its gradient d (NULL for none); eps is the
 * target, v for v-prediction */
double ms_ddpm_loss(const float *pred, const float *eps, size_t n, float *d);
/* the v-prediction target v = sqrt(abar) eps - sqrt(1 - abar) x0; v may alias x0 or eps */
void ms_v_target(const float *x0, const float *eps, size_t n, double abar, float *v);
/* v at x_t to x0 = sqrt(abar) x_t - sqrt(1 - abar) v and eps = sqrt(1 - abar) x_t +
 * sqrt(abar) v (defined at abar = 0: x0 = -v, eps = x_t) */
void ms_v_split(const float *xt, const float *v, size_t n, double abar, float *x0, float *eps);

/* S timesteps of DDIM, from T-1 down to 0: seq[i] = floor((T-1) (S-1-i) / (S-1))
 * (torch.linspace(T-1, 0, S).long() of ref_unet.py); S = 1 gives T-1 */
void ms_ddim_timesteps(int T, int S, int *seq);
/* one DDIM step on n floats, from abar ab to ab_prev (1 after the last step), with the
 * network's output y, an eps (MS_PRED_EPS) or v (MS_PRED_V) prediction: eps = y and
 * x0 = (x - sqrt(1-ab) eps) / sqrt(ab), or x0 and eps from ms_v_split (ab may be 0);
 * x0 = clip(x0, -1, 1) (when clip is set),
 * sigma = eta sqrt((1-ab_prev)/(1-ab)) sqrt(1 - ab/ab_prev),
 * x <- sqrt(ab_prev) x0 + sqrt(1 - ab_prev - sigma^2) eps + sigma z.
 * z (n standard normals) is used only when sigma > 0 and may be NULL otherwise. */
void ms_ddim_step(float *x, const float *y, int pred, size_t n, double ab, double ab_prev,
                  double eta, const float *z, int clip);
/* x0_hat of one value x of x_t from the network's y, a = sqrt(abar), rb = sqrt(1 - abar),
 * ra = 1 / sqrt(abar): a x - rb y (MS_PRED_V) or (x - rb y) ra (MS_PRED_EPS), clipped to
 * [-1, 1] when clip (the one rule of ms_ddim_step and ms_dpm2m_step) */
static inline float ms_x0_hat(float x, float y, int pred, float a, float rb, float ra,
                              int clip)
{
	float x0 = pred == MS_PRED_V ? a * x - rb * y : (x - rb * y) * ra;
	return clip ? (x0 < -1 ? -1 : x0 > 1 ? 1 : x0) : x0;
}
double ms_ddim_sigma(double ab, double ab_prev, double eta);
/* classifier-free guidance: out = eu + w (ec - eu) (eps or v); out may alias eu or ec */
void ms_cfg_combine(const float *eu, const float *ec, size_t n, double w, float *out);

/* ---- the reverse process (repaint.c): DDIM over S steps, optionally RePaint */

/* RePaint's visiting order of the S respaced steps (Lugmayr et al. 2022,
 * get_schedule_jump): indices k = S-1 .. 0 of x's noise level (k: the timestep
 * seq[S-1-k] of ms_ddim_timesteps; -1: clean), down one step at a time; after reaching
 * each k = 0, L, 2L, ... below S - L it goes up L steps again and redoes them, R - 1
 * times. times[] gets the visited indices, from S-1 to -1; returns their count
 * (S + 1 when L < 1 or R < 2), or the count needed when it exceeds cap (times may be
 * NULL then). */
int ms_repaint_times(int S, int L, int R, int *times, int cap);

/* the network's output for cnt states x [cnt,n] at timestep t into y [cnt,n] (eps or v,
 * guidance applied); 0 or -1 */
typedef int (*ms_denoise_fn)(void *ctx, int t, int cnt, const float *x, float *y);

typedef struct {
	const ms_sched *sched;
	int steps;                    /* S */
	double eta;
	int pred, clip;               /* MS_PRED_*, x0 clipped to [-1,1] */
	int jump, resample;           /* RePaint's L and R (R < 2: no resampling) */
	const float *known;           /* RePaint: the known x0 [n] in [-1,1], or NULL */
	const uint8_t *keep;          /* [n] 1 = known (with known) */
} ms_reverse_opt;

/* cnt states x [cnt,n], pure noise at the first timestep, to x0 estimates. A step down
 * from level k to k-1 is ms_ddim_step with the network's y, then (with known) the
 * known values replaced by the forward-noised truth at k-1, sqrt(ab) known +
 * sqrt(1 - ab) e (the truth itself at -1); a step up from k to k+1 is
 * x <- sqrt(ab' / ab) x + sqrt(1 - ab' / ab) e. The normals of state j come from
 * rng[j], in this order: z of the DDIM step (when sigma > 0), then e. y holds cnt * n
 * floats, z n floats; times from ms_repaint_times. */
int ms_reverse(const ms_reverse_opt *o, const int *times, int ntimes, int cnt, size_t n,
               float *x, ms_rng *rng, float *y, float *z, ms_denoise_fn f, void *ctx);

/* ---- DPM-Solver++(2M) (dpm.c; Lu et al. 2022, "DPM-Solver++: Fast Solver for Guided
 * Sampling of Diffusion Probabilistic Models", Algorithm 2): the probability-flow ODE
 * solved in the data-prediction form, multistep second order, on the timesteps of
 * ms_ddim_timesteps, the last step to clean data. With alpha = sqrt(abar), sigma =
 * sqrt(1 - abar), lambda = log(alpha / sigma) and h = lambda' - lambda, the first-order
 * step is x' = (sigma' / sigma) x + alpha' (1 - e^-h) D (DDIM with eps recomputed from
 * D), D the network's x0; the second-order one takes D + c (D - D_last). */
enum { MS_SAMPLER_DDIM, MS_SAMPLER_DPM2M };
extern const char *const ms_sampler_names[];   /* by kind, NULL-terminated */
const char *ms_sampler_name(int kind);   /* "ddim", "dpm++2m" */
int ms_sampler_parse(const char *s);     /* -1 if unknown */
/* c of the step from abar ab to ab_next after the evaluation at ab_last (< 0: none):
 * h / (2 h_last), h_last = lambda(ab) - lambda(ab_last); 0 (first order) without a
 * last evaluation, after one at abar = 0 (zero terminal SNR: lambda = -inf, so c's
 * limit is 0) and on the step to clean data (ab_next = 1: lambda' = +inf) */
double ms_dpm2m_coef(double ab_last, double ab, double ab_next);
/* one step on n floats from abar ab (< 1; 0 allowed) to ab_next with the network's
 * output y at x (eps or v, as ms_ddim_step): D = x0, clipped to [-1,1] when clip;
 * x <- (sigma' / sigma) x + (alpha' - sigma' alpha / sigma) (D + c (D - d)); d holds
 * the last step's D (not read when c = 0) and gets this one's */
void ms_dpm2m_step(float *x, const float *y, float *d, int pred, size_t n, double ab,
                   double ab_next, double c, int clip);
/* cnt states x [cnt,n], pure noise at the first timestep, to x0 estimates in o->steps
 * network evaluations (o->pred, o->clip; o->eta must be 0 and o->known NULL: -1
 * otherwise); y as ms_reverse's, d cnt * n floats (the last D of each state) */
int ms_dpm2m(const ms_reverse_opt *o, int cnt, size_t n, float *x, float *y, float *d,
             ms_denoise_fn f, void *ctx);

#endif
