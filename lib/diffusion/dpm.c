/* DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++: Fast Solver for Guided Sampling of
 * Diffusion Probabilistic Models", Algorithm 2): the probability-flow ODE in the
 * data-prediction form, multistep second order, on DDIM's grid of timesteps. */
#include <math.h>

#include "core/util.h"
#include "diffusion/diffusion.h"

const char *const ms_sampler_names[] = { "ddim", "dpm++2m", NULL };

const char *ms_sampler_name(int kind)
{
	return kind >= 0 && kind < 2 ? ms_sampler_names[kind] : NULL;
}

int ms_sampler_parse(const char *s)
{
	return ms_name_index(s, ms_sampler_names, 2);
}

/* lambda = log(alpha / sigma), alpha = sqrt(abar), sigma = sqrt(1 - abar) */
static double lambda(double ab)
{
	return 0.5 * (log(ab) - log1p(-ab));
}

double ms_dpm2m_coef(double ab_last, double ab, double ab_next)
{
	if (ab_last <= 0 || ab_next >= 1)
		return 0;
	double h = lambda(ab_next) - lambda(ab), h1 = lambda(ab) - lambda(ab_last);
	return h1 > 0 ? h / (2 * h1) : 0;
}

void ms_dpm2m_step(float *x, const float *y, float *d, int pred, size_t n, double ab,
                   double ab_next, double c, int clip)
{
	double s = sqrt(1 - ab), s1 = sqrt(1 - ab_next);
	/* x <- (s1 / s) x + alpha1 (1 - e^-h) D, alpha1 (1 - e^-h) = a1 - s1 a / s */
	float kx = (float)(s1 / s), kd = (float)(sqrt(ab_next) - s1 * sqrt(ab) / s);
	float a = (float)sqrt(ab), rb = (float)s, ra = pred == MS_PRED_V ? 0 : (float)(1 / sqrt(ab));
	float k = (float)c;
	for (size_t i = 0; i < n; i++) {
		float x0 = ms_x0_hat(x[i], y[i], pred, a, rb, ra, clip);
		float D = c != 0 ? x0 + k * (x0 - d[i]) : x0;
		d[i] = x0;
		x[i] = kx * x[i] + kd * D;
	}
}

int ms_dpm2m(const ms_reverse_opt *o, int cnt, size_t n, float *x, float *y, float *d,
             ms_denoise_fn f, void *ctx)
{
	int S = o->steps, seq[1000];
	if (S < 1 || S > 1000 || S > o->sched->T)
		return ms_error("dpm++2m: %d steps (1..%d)", S, o->sched->T < 1000 ?
		                o->sched->T : 1000);
	if (o->known)
		return ms_error("dpm++2m cannot inpaint: RePaint needs DDIM's stochastic steps");
	if (o->eta != 0)
		return ms_error("dpm++2m is deterministic: eta must be 0");
	ms_ddim_timesteps(o->sched->T, S, seq);
	const double *abar = o->sched->abar;
	for (int i = 0; i < S; i++) {
		double ab = abar[seq[i]], ab1 = i + 1 < S ? abar[seq[i + 1]] : 1;
		/* first order: the first step, the step into the last timestep (0, where
		 * lambda jumps) and the step from it to clean data */
		double c = i + 2 < S ? ms_dpm2m_coef(i ? abar[seq[i - 1]] : -1, ab, ab1) : 0;
		if (f(ctx, seq[i], cnt, x, y) < 0)
			return -1;
		for (int j = 0; j < cnt; j++)
			ms_dpm2m_step(x + j * n, y + j * n, d + j * n, o->pred, n, ab, ab1, c, o->clip);
	}
	return 0;
}
