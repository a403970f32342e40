/* Paired statistics against scipy 1.10 (values printed by stats.t.ppf, stats.wilcoxon,
 * stats.ttest_rel(b, a).confidence_interval(0.95) on the vectors below). */
#include "metrics/stats.h"
#include "test.h"

static void t_quantiles(void)
{
	CHECK_NEAR(ms_t_quantile(0.975, 1), 12.706204736432095, 1e-9);
	CHECK_NEAR(ms_t_quantile(0.975, 2), 4.302652729911275, 1e-8);
	CHECK_NEAR(ms_t_quantile(0.975, 9), 2.2621571627409915, 1e-8);
	CHECK_NEAR(ms_t_quantile(0.975, 89), 1.9869786993737677, 1e-8);
	CHECK_NEAR(ms_t_quantile(0.6, 5), 0.2671808657039658, 1e-8);
	CHECK_NEAR(ms_t_quantile(0.999, 3), 10.214531852405331, 1e-8);
	CHECK_NEAR(ms_t_quantile(0.025, 9), -2.2621571627409915, 1e-8);
	CHECK(isnan(ms_t_quantile(1, 3)) && isnan(ms_t_quantile(0.5, 0)));
}

static void wilcoxon_exact(void)   /* n = 12, no ties: the exact distribution */
{
	double d[] = { 0.30123, 0.598746, 0.025862, -0.590592, -0.154671, -0.691647, 0.360144,
		       1.640215, -0.192207, -0.320475, 0.789842, 0.656887 };
	CHECK_NEAR(ms_wilcoxon_p(d, 12), 0.38037109375, 1e-12);
	double all[] = { 1, 2, 3, 4, 5 };   /* every sign +: 2 / 2^5 */
	CHECK_NEAR(ms_wilcoxon_p(all, 5), 2.0 / 32, 1e-15);
	double none[] = { 0, 0, 0 };
	CHECK(ms_wilcoxon_p(none, 3) == 1);
	CHECK(isnan(ms_wilcoxon_p(none, 0)));
}

static void wilcoxon_approx(void)  /* n = 60 with ties and two zeros: normal approximation */
{
	double d[] = { 0.2, -0.8, 0.1, 0.8, -1.2, -0.4, -1.8, -1.2, -1.7, -0.1, -1.2, 0.4, 0.3,
		       -0.1, -2.4, -0.4, 0.1, 0.2, -1.4, -0.4, -0.9, -0.7, 1.2, -0.7, 0.1, 1.0,
		       -0.5, -0.0, 0.2, 0.2, -1.1, 0.2, 1.5, -1.4, 1.0, 0.2, -0.5, 2.1, 0.9, -1.1,
		       0.2, 0.7, -0.1, 0.8, 0.0, 0.8, 1.5, -0.6, 0.3, -0.4, 0.2, -1.1, -0.5, -0.1,
		       1.0, 1.2, -1.2, -0.7, 0.7, -1.9 };
	CHECK_NEAR(ms_wilcoxon_p(d, 60), 0.3081843221607936, 1e-12);
}

static void paired(void)
{
	double a[] = { 0.6622, 0.1316, 0.8451, 0.9449, 0.9039, 0.5697, 0.1455, 0.1925, 0.9279,
		       0.5523, 0.1806, 0.8841, 0.6416, 0.5697, 0.3763, 0.411, 0.2395, 0.0381,
		       0.8762, 0.4677, NAN, 0.5 };
	double b[] = { 0.6782, 0.2868, 0.8945, 1.0533, 0.8248, 0.6544, 0.0266, 0.0389, 0.9475,
		       0.5123, 0.247, 1.1585, 0.6084, 0.5573, 0.4468, 0.5103, 0.2718, 0.0675,
		       0.9965, 0.5697, 0.7, INFINITY };
	ms_paired r;
	CHECK(ms_paired_compute(a, b, 22, &r) == 0);
	CHECK(r.n == 20);   /* the pairs with a NaN or an Inf are left out */
	CHECK_NEAR(r.diff, 0.039535, 1e-12);
	CHECK_NEAR(r.lo, -0.006395423463898577, 1e-8);
	CHECK_NEAR(r.hi, 0.0854654234638986, 1e-8);
	CHECK_NEAR(r.p, 0.08969497680664062, 1e-12);
	CHECK_NEAR(r.mean_b - r.mean_a, r.diff, 1e-15);
	CHECK(ms_paired_compute(a, b, 1, &r) == 0 && r.n == 1 && isnan(r.lo) && isnan(r.hi));
	CHECK(ms_paired_compute(a + 20, b + 20, 2, &r) == 0 && r.n == 0 && isnan(r.diff) &&
	      isnan(r.p));
}

int main(void)
{
	RUN(t_quantiles);
	RUN(wilcoxon_exact);
	RUN(wilcoxon_approx);
	RUN(paired);
	return test_summary("test_stats");
}
