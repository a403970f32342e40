/* Binary Bernoulli diffusion (HiDiff's BBDM): schedule, marginal, posterior, loss and
 * reverse steps, each a short pure function of one pixel (methods.md section 3). */
#include <math.h>
#include <string.h>

#include "core/rng.h"
#include "core/util.h"
#include "diffusion/bbdm.h"

const char *const ms_bbdm_schedule_names[] = { "linear", "cosine", NULL };
const char *const ms_bbdm_sampler_names[] = { "ancestral", "ddim", "mixture", NULL };

int ms_bbdm_schedule_parse(const char *s)
{
	return ms_name_index(s, ms_bbdm_schedule_names, 2);
}

const char *ms_bbdm_schedule_name(int kind)
{
	return kind >= 0 && kind < 2 ? ms_bbdm_schedule_names[kind] : NULL;
}

int ms_bbdm_sampler_parse(const char *s)
{
	return ms_name_index(s, ms_bbdm_sampler_names, 3);
}

const char *ms_bbdm_sampler_name(int sampler)
{
	return sampler >= 0 && sampler < 3 ? ms_bbdm_sampler_names[sampler] : NULL;
}

int ms_bbdm_init(ms_bbdm *b, int T, int kind)
{
	if (T < 1 || T > MS_BBDM_TMAX)
		return ms_error("bbdm: T=%d out of range 1..%d", T, MS_BBDM_TMAX);
	if (!ms_bbdm_schedule_name(kind))
		return ms_error("bbdm: unknown schedule %d", kind);
	b->T = T;
	b->kind = kind;
	const double s = 0.008, c0 = cos(M_PI / 2 * s / (1 + s));
	for (int t = 0; t <= T; t++) {
		double f = (double)t / T, c = cos(M_PI / 2 * (f + s) / (1 + s)) / c0;
		b->ab[t] = kind == MS_BBDM_LINEAR ? 1 - f : c * c;
	}
	b->ab[0] = 1;
	b->ab[T] = 0;
	return 0;
}

double ms_bbdm_marginal(const ms_bbdm *b, int t, double y0, double p)
{
	return b->ab[t] * y0 + (1 - b->ab[t]) * p;
}

double ms_bbdm_posterior(const ms_bbdm *b, int t, int s, int yt, double y0, double p,
                         double *dy0, double *dp)
{
	MS_ASSERT(0 <= s && s < t && t <= b->T && b->ab[s] > 0);
	double a = b->ab[t] / b->ab[s], abs = b->ab[s];
	double r = yt ? p : 1 - p, dr = yt ? 1 : -1;
	double f1 = a * yt + (1 - a) * r, m1 = abs * y0 + (1 - abs) * p;
	double f0 = a * (1 - yt) + (1 - a) * r, m0 = abs * (1 - y0) + (1 - abs) * (1 - p);
	double th1 = f1 * m1, th0 = f0 * m0, z = th0 + th1;
	if (z <= 0) {            /* impossible y_t; only with p exactly 0 or 1 */
		if (dy0)
			*dy0 = 0;
		if (dp)
			*dp = 0;
		return y0;
	}
	/* d(th1/z) = (dth1 th0 - dth0 th1) / z^2 */
	if (dy0)
		*dy0 = (f1 * abs * th0 + f0 * abs * th1) / (z * z);
	if (dp) {
		double d1 = (1 - a) * dr * m1 + f1 * (1 - abs);
		double d0 = (1 - a) * dr * m0 - f0 * (1 - abs);
		*dp = (d1 * th0 - d0 * th1) / (z * z);
	}
	return th1 / z;
}

/* clamp to [c, 1 - c]; *d is zeroed when clamped */
static double clampd(double x, double *d)
{
	if (x < MS_BBDM_CLAMP || x > 1 - MS_BBDM_CLAMP) {
		if (d)
			*d = 0;
		return x < MS_BBDM_CLAMP ? MS_BBDM_CLAMP : 1 - MS_BBDM_CLAMP;
	}
	return x;
}

/* log sigmoid(u), stable */
static double logsig(double u)
{
	return u >= 0 ? -log1p(exp(-u)) : u - log1p(exp(u));
}

/* the model's posterior q(y_s = 1 | y_t, y0_hat) by rule (ancestral: y0_hat in place of
 * y_0; mixture: y0_hat posterior(1) + (1 - y0_hat) posterior(0)); dy0, dp (may be NULL):
 * its partial derivatives */
static double model_posterior(const ms_bbdm *b, int rule, int t, int s, int yt, double y0h,
                              double p, double *dy0, double *dp)
{
	if (rule != MS_BBDM_MIXTURE)
		return ms_bbdm_posterior(b, t, s, yt, y0h, p, dy0, dp);
	double d1, d0, m1 = ms_bbdm_posterior(b, t, s, yt, 1, p, NULL, &d1),
	               m0 = ms_bbdm_posterior(b, t, s, yt, 0, p, NULL, &d0);
	if (dy0)
		*dy0 = m1 - m0;
	if (dp)
		*dp = y0h * d1 + (1 - y0h) * d0;
	return y0h * m1 + (1 - y0h) * m0;
}

double ms_bbdm_loss(const ms_bbdm *b, int t, int yt, int y0, double p, double z, int flip,
                    int rule, double *dz, double *dp)
{
	double e = 1 / (1 + exp(-z)), de = e * (1 - e);     /* eps_hat, d eps_hat / dz */
	double sg = yt ? -1 : 1, y0h = yt ? 1 - e : e;       /* y0_hat = |y_t - eps_hat| */
	double loss, dl = 0, dpp = 0;                        /* dl: d loss / d y0_hat */
	if (t == 1) {
		double k = 1, q = clampd(y0h, &k);
		loss = -(y0 ? log(q) : log(1 - q));
		dl = k * (y0 ? -1 / q : 1 / (1 - q));
	} else {
		double dmu = 1, dmuh = 1, dmu_p, dmuh_y, dmuh_p;
		double mu = clampd(ms_bbdm_posterior(b, t, t - 1, yt, y0, p, NULL, &dmu_p), &dmu);
		double muh = model_posterior(b, rule, t, t - 1, yt, y0h, p, &dmuh_y, &dmuh_p);
		muh = clampd(muh, &dmuh);
		loss = mu * log(mu / muh) + (1 - mu) * log((1 - mu) / (1 - muh));
		double gh = -mu / muh + (1 - mu) / (1 - muh);   /* d KL / d mu_hat */
		double gm = log(mu / muh) - log((1 - mu) / (1 - muh));
		dl = dmuh * gh * dmuh_y;
		dpp = dmu * gm * dmu_p + dmuh * gh * dmuh_p;
	}
	/* flip loss on pt = P(the true flip value), u = logit of pt */
	double u = (yt ^ y0) ? z : -z, lp = logsig(u), pt = exp(lp), du;
	if (flip == MS_BBDM_FOCAL) {
		loss += -(1 - pt) * (1 - pt) * lp;
		du = 2 * pt * (1 - pt) * (1 - pt) * lp - (1 - pt) * (1 - pt) * (1 - pt);
	} else {
		loss += -lp;
		du = -(1 - pt);
	}
	*dz = dl * sg * de + ((yt ^ y0) ? du : -du);
	if (dp)
		*dp = dpp;
	return loss;
}

double ms_bbdm_loss_map(const ms_bbdm *b, const int *t, int N, size_t per, const float *yt,
                        const float *y0, const float *p, const float *z, int flip, int rule,
                        float *dz, float *dp, float w)
{
	double sum = 0, k = 1 / ((double)N * per * M_LN2);
	for (int n = 0; n < N; n++)
		for (size_t j = n * per; j < (n + 1) * per; j++) {
			double gz, gp;
			sum += ms_bbdm_loss(b, t[n], yt[j] > 0.5f, y0[j] > 0.5f, p[j], z[j], flip, rule,
			                    &gz, dp ? &gp : NULL);
			dz[j] = (float)(w * k * gz);
			if (dp)
				dp[j] = (float)(w * k * gp);
		}
	return sum * k;
}

double ms_bbdm_prior_logit(const ms_bbdm *b, int t, int yt, double p, double *dp)
{
	const double c = MS_BBDM_PRIOR_CLAMP;
	double k = 1 - b->ab[t], e = k * (yt ? 1 - p : p);
	if (e < c || e > 1 - c) {
		if (dp)
			*dp = 0;
		e = e < c ? c : 1 - c;
	} else if (dp) {
		*dp = (yt ? -k : k) / (e * (1 - e));
	}
	return log(e / (1 - e));
}

double ms_bbdm_step_prob(const ms_bbdm *b, int sampler, int t, int s, int yt, double eps_hat,
                         double p)
{
	double y0h = yt ? 1 - eps_hat : eps_hat;
	if (sampler == MS_BBDM_DDIM) {
		double st = (1 - b->ab[s]) / (1 - b->ab[t]);
		return st * yt + (1 - st) * y0h;
	}
	return clampd(model_posterior(b, sampler, t, s, yt, y0h, p, NULL, NULL), NULL);
}

void ms_bbdm_step(const ms_bbdm *b, int sampler, int t, int s, size_t n, float *y,
                  const float *eps_hat, const float *p, ms_rng *r)
{
	for (size_t i = 0; i < n; i++) {
		double q = ms_bbdm_step_prob(b, sampler, t, s, y[i] > 0.5f, eps_hat[i], p[i]);
		y[i] = ms_rng_uniform(r) < q ? 1.0f : 0.0f;
	}
}

int ms_bbdm_timesteps(const ms_bbdm *b, int n, int *ts)
{
	n = n < 1 ? 1 : n > b->T ? b->T : n;
	for (int i = 0; i < n; i++)
		ts[i] = n == 1 ? b->T : (int)lround(b->T - (double)(b->T - 1) * i / (n - 1));
	return n;
}
