/* Gaussian diffusion: schedules, zero terminal SNR, q_sample, DDPM loss, v-prediction,
 * DDIM step, guidance. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "diffusion/diffusion.h"

const char *const ms_sched_names[] = { "linear", "cosine", NULL };

const char *ms_sched_name(int kind)
{
	return kind >= 0 && kind < 2 ? ms_sched_names[kind] : NULL;
}

int ms_sched_parse(const char *s)
{
	return ms_name_index(s, ms_sched_names, 2);
}

static double cosine_f(double t, int T)
{
	double c = cos((t / T + 0.008) / 1.008 * M_PI / 2);
	return c * c;
}

int ms_sched_init(ms_sched *s, int kind, int T)
{
	memset(s, 0, sizeof *s);
	if (T < 2 || T > 100000 || !ms_sched_name(kind))
		return ms_error("diffusion: bad schedule (T = %d)", T);
	if (!(s->beta = ms_calloc(2 * (size_t)T, sizeof(double))))
		return -1;
	s->abar = s->beta + T;
	s->kind = kind;
	s->T = T;
	double ab = 1;
	for (int i = 0; i < T; i++) {
		double b = kind == MS_SCHED_LINEAR ? 1e-4 + (0.02 - 1e-4) * i / (T - 1)
		                                   : fmin(1 - cosine_f(i + 1, T) / cosine_f(i, T), 0.999);
		ab *= 1 - b;
		s->beta[i] = b;
		s->abar[i] = ab;
	}
	return 0;
}

void ms_sched_zero_snr(ms_sched *s)
{
	double a0 = s->abar[0], s0 = sqrt(a0), sT = sqrt(s->abar[s->T - 1]);
	for (int i = 0; i < s->T; i++) {
		double r = (sqrt(s->abar[i]) - sT) / (s0 - sT);    /* 1 at 0, 0 at T-1 */
		s->abar[i] = a0 * r * r;
		if (i)
			s->beta[i] = 1 - s->abar[i] / s->abar[i - 1];
	}
}

void ms_sched_free(ms_sched *s)
{
	if (s) {
		free(s->beta);
		s->beta = s->abar = NULL;
	}
}

void ms_q_sample(const float *x0, const float *eps, size_t n, double abar, float *xt)
{
	float a = (float)sqrt(abar), b = (float)sqrt(1 - abar);
	for (size_t i = 0; i < n; i++)
		xt[i] = a * x0[i] + b * eps[i];
}

double ms_ddpm_loss(const float *pred, const float *eps, size_t n, float *d)
{
	double s = 0;
	float k = 2.0f / (float)n;
	for (size_t i = 0; i < n; i++) {
		float e = pred[i] - eps[i];
		s += (double)e * e;
		if (d)
			d[i] = k * e;
	}
	return s / (double)n;
}

void ms_v_target(const float *x0, const float *eps, size_t n, double abar, float *v)
{
	float a = (float)sqrt(abar), b = (float)sqrt(1 - abar);
	for (size_t i = 0; i < n; i++)
		v[i] = a * eps[i] - b * x0[i];
}

/* eps of one value x_t from v, a = sqrt(abar), b = sqrt(1 - abar) (x0: ms_x0_hat) */
static float v_eps(float xt, float v, float a, float b)
{
	return b * xt + a * v;
}

void ms_v_split(const float *xt, const float *v, size_t n, double abar, float *x0, float *eps)
{
	float a = (float)sqrt(abar), b = (float)sqrt(1 - abar);
	for (size_t i = 0; i < n; i++) {
		x0[i] = ms_x0_hat(xt[i], v[i], MS_PRED_V, a, b, 0, 0);
		eps[i] = v_eps(xt[i], v[i], a, b);
	}
}

void ms_ddim_timesteps(int T, int S, int *seq)
{
	for (int i = 0; i < S; i++)
		seq[i] = S == 1 ? T - 1 : (int)((long long)(T - 1) * (S - 1 - i) / (S - 1));
}

double ms_ddim_sigma(double ab, double ab_prev, double eta)
{
	if (eta <= 0)
		return 0;
	double v = (1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev);
	return v > 0 ? eta * sqrt(v) : 0;
}

void ms_ddim_step(float *x, const float *y, int pred, size_t n, double ab, double ab_prev,
                  double eta, const float *z, int clip)
{
	double sigma = ms_ddim_sigma(ab, ab_prev, eta);
	double dir = 1 - ab_prev - sigma * sigma;
	float a = (float)sqrt(ab), rb = (float)sqrt(1 - ab);
	float ra = pred == MS_PRED_V ? 0 : (float)(1 / sqrt(ab));
	float pa = (float)sqrt(ab_prev), pd = (float)sqrt(dir > 0 ? dir : 0), ps = (float)sigma;
	for (size_t i = 0; i < n; i++) {
		float x0 = ms_x0_hat(x[i], y[i], pred, a, rb, ra, clip);
		float eps = pred == MS_PRED_V ? v_eps(x[i], y[i], a, rb) : y[i];
		float xp = pa * x0 + pd * eps;
		if (sigma > 0)
			xp += ps * z[i];
		x[i] = xp;
	}
}

void ms_cfg_combine(const float *eu, const float *ec, size_t n, double w, float *out)
{
	float k = (float)w;
	for (size_t i = 0; i < n; i++)
		out[i] = eu[i] + k * (ec[i] - eu[i]);
}
