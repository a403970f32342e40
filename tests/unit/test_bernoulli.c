/* BBDM: posterior against brute-force Bayes, marginal by sampling, loss gradients
 * against central differences, schedules, sampler steps. */
#include <string.h>

#include "core/ms.h"
#include "diffusion/bbdm.h"
#include "test.h"

/* q(y_t = v | y_{t-1} = u): B(alpha u + (1 - alpha) p) */
static double trans(double alpha, int u, int v, double p)
{
	double q = alpha * u + (1 - alpha) * p;
	return v ? q : 1 - q;
}

static double bern(double q, int v)
{
	return v ? q : 1 - q;
}

static void test_schedule(void)
{
	ms_bbdm b;
	CHECK(ms_bbdm_init(&b, 10, MS_BBDM_LINEAR) == 0);
	for (int t = 0; t <= 10; t++)
		CHECK_NEAR(b.ab[t], 1 - t / 10.0, 1e-15);
	CHECK(ms_bbdm_init(&b, 7, MS_BBDM_COSINE) == 0);
	CHECK(b.ab[0] == 1 && b.ab[7] == 0);
	for (int t = 1; t <= 7; t++)
		CHECK(b.ab[t] < b.ab[t - 1]);
	CHECK(ms_bbdm_init(&b, 0, MS_BBDM_LINEAR) < 0);
	CHECK(ms_bbdm_init(&b, 10, 5) < 0);
	CHECK(ms_bbdm_schedule_parse("cosine") == MS_BBDM_COSINE);
	CHECK(ms_bbdm_schedule_parse("cos") == -1);
	int ts[10];
	CHECK(ms_bbdm_timesteps(&b, 99, ts) == 7 && ts[0] == 7 && ts[6] == 1);
	CHECK(ms_bbdm_timesteps(&b, 3, ts) == 3 && ts[0] == 7 && ts[1] == 4 && ts[2] == 1);
	CHECK(ms_bbdm_timesteps(&b, 1, ts) == 1 && ts[0] == 7);
}

/* brute-force Bayes over y_{t-1} in {0,1} from the transition definitions */
static void test_posterior(void)
{
	const double ps[] = { 0.01, 0.2, 0.5, 0.77, 0.999 };
	for (int k = 0; k < 2; k++) {
		ms_bbdm b;
		ms_bbdm_init(&b, 10, k);
		for (int t = 1; t <= 10; t++)
			for (int yt = 0; yt < 2; yt++)
				for (int y0 = 0; y0 < 2; y0++)
					for (int i = 0; i < 5; i++) {
						double p = ps[i], a = b.ab[t] / b.ab[t - 1], j[2];
						for (int u = 0; u < 2; u++)
							j[u] = trans(a, u, yt, p) *
							       bern(ms_bbdm_marginal(&b, t - 1, y0, p), u);
						/* the normaliser is the marginal q(y_t | y_0) */
						CHECK_NEAR(j[0] + j[1], bern(ms_bbdm_marginal(&b, t, y0, p), yt),
						           1e-12);
						CHECK_NEAR(ms_bbdm_posterior(&b, t, t - 1, yt, y0, p, NULL, NULL),
						           j[1] / (j[0] + j[1]), 1e-12);
					}
	}
	/* a skip from t to s < t is the Bayes posterior of the composed transition */
	ms_bbdm b;
	ms_bbdm_init(&b, 10, MS_BBDM_LINEAR);
	double p = 0.3, j[2];
	for (int u = 0; u < 2; u++)
		j[u] = trans(b.ab[8] / b.ab[3], u, 1, p) * bern(ms_bbdm_marginal(&b, 3, 0, p), u);
	CHECK_NEAR(ms_bbdm_posterior(&b, 8, 3, 1, 0, p, NULL, NULL), j[1] / (j[0] + j[1]), 1e-12);
	/* t = 1: the posterior is y_0 */
	CHECK_NEAR(ms_bbdm_posterior(&b, 1, 0, 0, 1, 0.4, NULL, NULL), 1, 1e-12);
	/* derivatives by central differences, soft y_0 */
	for (int yt = 0; yt < 2; yt++) {
		double d0, dp, h = 1e-6, y0 = 0.37, q = 0.61;
		ms_bbdm_posterior(&b, 6, 5, yt, y0, q, &d0, &dp);
		CHECK_NEAR(d0, (ms_bbdm_posterior(&b, 6, 5, yt, y0 + h, q, NULL, NULL) -
		                ms_bbdm_posterior(&b, 6, 5, yt, y0 - h, q, NULL, NULL)) / (2 * h), 1e-7);
		CHECK_NEAR(dp, (ms_bbdm_posterior(&b, 6, 5, yt, y0, q + h, NULL, NULL) -
		                ms_bbdm_posterior(&b, 6, 5, yt, y0, q - h, NULL, NULL)) / (2 * h), 1e-7);
	}
}

/* the prior's own flip logit: brute-force Bayes over y_0 ~ B(p), derivative, clamp */
static void test_prior_logit(void)
{
	const double ps[] = { 0.01, 0.2, 0.5, 0.77, 0.9995 };
	ms_bbdm b;
	ms_bbdm_init(&b, 10, MS_BBDM_COSINE);
	for (int t = 1; t <= 10; t++)
		for (int yt = 0; yt < 2; yt++)
			for (int i = 0; i < 5; i++) {
				double p = ps[i], j[2], d, h = 1e-7;
				for (int y0 = 0; y0 < 2; y0++)
					j[y0] = bern(p, y0) * bern(ms_bbdm_marginal(&b, t, y0, p), yt);
				double e = j[!yt] / (j[0] + j[1]), z = ms_bbdm_prior_logit(&b, t, yt, p, &d);
				if (e < MS_BBDM_PRIOR_CLAMP || e > 1 - MS_BBDM_PRIOR_CLAMP) {
					CHECK(d == 0);
					CHECK_NEAR(fabs(z), log(1 / MS_BBDM_PRIOR_CLAMP - 1), 1e-12);
					continue;
				}
				CHECK_NEAR(1 / (1 + exp(-z)), e, 1e-12);
				CHECK_NEAR(d, (ms_bbdm_prior_logit(&b, t, yt, p + h, NULL) -
				               ms_bbdm_prior_logit(&b, t, yt, p - h, NULL)) / (2 * h),
				           1e-5 * (1 + fabs(d)));
			}
	/* at t = T the flip leaves y0_hat = p whatever y_T is */
	double z = ms_bbdm_prior_logit(&b, 10, 1, 0.3, NULL);
	CHECK_NEAR(1 - 1 / (1 + exp(-z)), 0.3, 1e-12);
}

/* y_t ~ B(q(y_t | y_0, p)) drawn by chaining the one-step transitions from y_0 */
static void test_marginal(void)
{
	ms_bbdm b;
	ms_rng r;
	ms_bbdm_init(&b, 10, MS_BBDM_LINEAR);
	ms_rng_init(&r, 7, 0);
	const int n = 20000;
	for (int t = 1; t <= 10; t += 3)
		for (int y0 = 0; y0 < 2; y0++) {
			double p = 0.3;
			int ones = 0;
			for (int i = 0; i < n; i++) {
				int y = y0;
				for (int s = 1; s <= t; s++)
					y = ms_rng_uniform(&r) < trans(b.ab[s] / b.ab[s - 1], y, 1, p);
				ones += y;
			}
			double q = ms_bbdm_marginal(&b, t, y0, p), sd = sqrt(q * (1 - q) / n);
			CHECK(fabs((double)ones / n - q) <= 4.5 * sd + 1e-12);
		}
}

static void test_loss_grad(void)
{
	ms_bbdm b;
	ms_bbdm_init(&b, 10, MS_BBDM_LINEAR);
	const double zs[] = { -3.1, -0.4, 0.2, 1.7, 4.0 }, ps[] = { 0.15, 0.5, 0.85 };
	int n = 0;
	const int rules[] = { MS_BBDM_ANCESTRAL, MS_BBDM_MIXTURE };
	for (int flip = 0; flip < 4; flip++)
		for (int t = 1; t <= 10; t += 3)
			for (int yt = 0; yt < 2; yt++)
				for (int y0 = 0; y0 < 2; y0++)
					for (int i = 0; i < 5; i++)
						for (int j = 0; j < 3; j++) {
							double z = zs[i], p = ps[j], h = 1e-5, dz, dp, g;
							int f = flip % 2, ru = rules[flip / 2];
							double l = ms_bbdm_loss(&b, t, yt, y0, p, z, f, ru, &dz, &dp);
							CHECK(l >= 0);
							double lp = ms_bbdm_loss(&b, t, yt, y0, p, z + h, f, ru, &g, NULL);
							double lm = ms_bbdm_loss(&b, t, yt, y0, p, z - h, f, ru, &g, NULL);
							CHECK_NEAR(dz, (lp - lm) / (2 * h), 1e-6 * (1 + fabs(dz)));
							lp = ms_bbdm_loss(&b, t, yt, y0, p + h, z, f, ru, &g, NULL);
							lm = ms_bbdm_loss(&b, t, yt, y0, p - h, z, f, ru, &g, NULL);
							CHECK_NEAR(dp, (lp - lm) / (2 * h), 1e-6 * (1 + fabs(dp)));
							n++;
						}
	CHECK(n == 960);
	/* values: t = 1, y_t = 0, y_0 = 1, BCE: -log e + -log e (flip 1, eps_hat = e) */
	double dz, e = 1 / (1 + exp(-0.3));
	CHECK_NEAR(ms_bbdm_loss(&b, 1, 0, 1, 0.5, 0.3, MS_BBDM_BCE, 0, &dz, NULL), -2 * log(e),
	           1e-12);
	/* focal: -(1 - pt)^2 log pt */
	double l = ms_bbdm_loss(&b, 1, 0, 1, 0.5, 0.3, MS_BBDM_FOCAL, 0, &dz, NULL);
	CHECK_NEAR(l, -log(e) - (1 - e) * (1 - e) * log(e), 1e-12);
	/* KL of a perfect prediction is 0: eps_hat -> eps */
	CHECK(ms_bbdm_loss(&b, 5, 1, 0, 0.5, 30, MS_BBDM_FOCAL, 0, &dz, NULL) < 1e-9);
	/* map version: mean / ln 2 with w */
	float yt[4] = { 0, 1, 1, 0 }, y0[4] = { 1, 1, 0, 0 }, p[4] = { .2f, .4f, .6f, .8f };
	float z[4] = { .1f, -.5f, 2, -1 }, gz[4], gp[4];
	int ts[2] = { 1, 4 };
	double want = 0;
	for (int k = 0; k < 4; k++)
		want += ms_bbdm_loss(&b, ts[k / 2], yt[k], y0[k], p[k], z[k], 0, 0, &dz, NULL);
	CHECK_NEAR(ms_bbdm_loss_map(&b, ts, 2, 2, yt, y0, p, z, 0, 0, gz, gp, 2), want / 4 / M_LN2,
	           1e-6);
	ms_bbdm_loss(&b, 4, 1, 0, p[2], z[2], 0, 0, &dz, NULL);
	CHECK_NEAR(gz[2], 2 * dz / 4 / M_LN2, 1e-6);
}

/* q(y_s = 1 | y_t, y_0, p) by Bayes over the forward chain, enumerated: q(y_s | y_0) is
 * the marginal ab_s y_0 + (1 - ab_s) p, q(y_t = 1 | y_s) = a y_s + (1 - a) p, a = ab_t/ab_s */
static double bayes(const ms_bbdm *b, int t, int s, int yt, int y0, double p)
{
	double a = b->ab[t] / b->ab[s], w[2];
	for (int ys = 0; ys < 2; ys++) {
		double m = b->ab[s] * y0 + (1 - b->ab[s]) * p, fwd = a * ys + (1 - a) * p;
		w[ys] = (ys ? m : 1 - m) * (yt ? fwd : 1 - fwd);
	}
	return w[1] / (w[0] + w[1]);
}

/* mixture: y_0 ~ B(y0_hat) mixed over the exact posteriors, against the enumeration above;
 * equal to the plug-in rule at y0_hat = 0 and 1, not between */
static void test_mixture(const ms_bbdm *b)
{
	const int ts[][2] = { { 6, 5 }, { 9, 4 }, { 2, 1 } };
	double most = 0;
	for (int k = 0; k < 3; k++)
		for (int yt = 0; yt < 2; yt++)
			for (double e = 0; e <= 1.0001; e += 0.125)
				for (double p = 0.1; p < 1; p += 0.4) {
					int t = ts[k][0], s = ts[k][1];
					double y0h = yt ? 1 - e : e;
					double want = y0h * bayes(b, t, s, yt, 1, p) +
					              (1 - y0h) * bayes(b, t, s, yt, 0, p);
					want = want < MS_BBDM_CLAMP ? MS_BBDM_CLAMP
					       : want > 1 - MS_BBDM_CLAMP ? 1 - MS_BBDM_CLAMP : want;
					double mix = ms_bbdm_step_prob(b, MS_BBDM_MIXTURE, t, s, yt, e, p);
					double plug = ms_bbdm_step_prob(b, MS_BBDM_ANCESTRAL, t, s, yt, e, p);
					CHECK_NEAR(mix, want, 1e-12);
					if (e == 0 || e == 1)
						CHECK_NEAR(mix, plug, 1e-12);
					else if (fabs(mix - plug) > most)
						most = fabs(mix - plug);
				}
	CHECK(most > 0.01);
	/* the loss with the mixture rule: KL(B(mu) || B(mu_hat)) with mu_hat the mixture of
	 * the enumerated posteriors, plus BCE of the flip, from the enumeration alone */
	for (int yt = 0; yt < 2; yt++)
		for (int y0 = 0; y0 < 2; y0++) {
			double z = 0.7, p = 0.35, e = 1 / (1 + exp(-z)), y0h = yt ? 1 - e : e, dz;
			double mu = bayes(b, 6, 5, yt, y0, p);
			double muh = y0h * bayes(b, 6, 5, yt, 1, p) + (1 - y0h) * bayes(b, 6, 5, yt, 0, p);
			double kl = mu * log(mu / muh) + (1 - mu) * log((1 - mu) / (1 - muh));
			double bce = -log((yt ^ y0) ? e : 1 - e);
			CHECK_NEAR(ms_bbdm_loss(b, 6, yt, y0, p, z, MS_BBDM_BCE, MS_BBDM_MIXTURE, &dz, NULL),
			           kl + bce, 1e-12);
		}
}

static void test_steps(void)
{
	ms_bbdm b;
	ms_bbdm_init(&b, 10, MS_BBDM_LINEAR);
	/* DDIM-like: s_t y_t + (1 - s_t) y0_hat, s_t = (1 - ab_{t-1}) / (1 - ab_t) */
	double s = (1 - 0.5) / (1 - 0.4);
	CHECK_NEAR(ms_bbdm_step_prob(&b, MS_BBDM_DDIM, 6, 5, 1, 0.2, 0.3), s + (1 - s) * 0.8, 1e-12);
	CHECK_NEAR(ms_bbdm_step_prob(&b, MS_BBDM_DDIM, 6, 5, 0, 0.2, 0.3), (1 - s) * 0.2, 1e-12);
	/* ancestral: the clipped posterior at y0_hat */
	CHECK_NEAR(ms_bbdm_step_prob(&b, MS_BBDM_ANCESTRAL, 6, 5, 1, 0.2, 0.3),
	           ms_bbdm_posterior(&b, 6, 5, 1, 0.8, 0.3, NULL, NULL), 1e-12);
	CHECK(ms_bbdm_step_prob(&b, MS_BBDM_ANCESTRAL, 1, 0, 0, 0, 0.3) == MS_BBDM_CLAMP);
	test_mixture(&b);
	/* a map step draws with that probability; deterministic for a seed */
	enum { N = 20000 };
	static float y[N], y2[N], e[N], p[N];
	for (int i = 0; i < N; i++) {
		y[i] = y2[i] = i % 2;
		e[i] = 0.25f;
		p[i] = 0.6f;
	}
	ms_rng r, r2;
	ms_rng_init(&r, 3, 1);
	ms_rng_init(&r2, 3, 1);
	ms_bbdm_step(&b, MS_BBDM_ANCESTRAL, 7, 6, N, y, e, p, &r);
	ms_bbdm_step(&b, MS_BBDM_ANCESTRAL, 7, 6, N, y2, e, p, &r2);
	CHECK(!memcmp(y, y2, sizeof y));
	for (int v = 0; v < 2; v++) {
		double q = ms_bbdm_step_prob(&b, MS_BBDM_ANCESTRAL, 7, 6, v, 0.25, 0.6), ones = 0;
		for (int i = v; i < N; i += 2)
			ones += y[i];
		CHECK(fabs(ones / (N / 2) - q) <= 4.5 * sqrt(q * (1 - q) / (N / 2)));
	}
}

int main(void)
{
	RUN(test_schedule);
	RUN(test_posterior);
	RUN(test_prior_logit);
	RUN(test_marginal);
	RUN(test_loss_grad);
	RUN(test_steps);
	return test_summary("bernoulli");
}
