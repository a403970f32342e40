/* Statistics (stats.c): quantiles and column summaries; the paired comparison of two
 * measurements of the same samples (a segmentor against another on the same images):
 * mean difference with its 95% t interval and the Wilcoxon signed-rank test, as
 * scipy.stats (ttest_rel's interval, wilcoxon's defaults: zero differences dropped, the
 * exact distribution for n <= 50 without zeros (the rank sum truncated where ties give
 * midranks), else the normal approximation with the tie correction, no continuity
 * correction). */
#ifndef MS_STATS_H
#define MS_STATS_H

#include <stddef.h>

typedef struct {
	size_t n;                 /* pairs with both values finite */
	double mean_a, mean_b;    /* means over those pairs */
	double diff, lo, hi;      /* mean of b - a and its 95% t interval (NaN when n < 2) */
	double p;                 /* two-sided Wilcoxon p (1 when every difference is 0; NaN n = 0) */
} ms_paired;

/* b[i] - a[i] over the i where both are finite */
int ms_paired_compute(const double *a, const double *b, size_t n, ms_paired *r);
/* quantile of Student's t with df degrees of freedom, 0 < p < 1 */
double ms_t_quantile(double p, double df);
/* two-sided Wilcoxon signed-rank p of the differences d[0..n) (zeros dropped) */
double ms_wilcoxon_p(const double *d, size_t n);

/* q-quantile (q in [0,1]) with linear interpolation between order statistics
 * (numpy's default); reorders v; NAN if n == 0 */
double ms_quantile(double *v, size_t n, double q);

/* ---- summary of a column of values: NaN values are left out (n counts the others);
 * population std; median as ms_quantile(0.5); NaN statistics when n is 0 */
typedef struct {
	double mean, std, median;
	size_t n;
} ms_summary;
int ms_summary_compute(const double *v, size_t n, ms_summary *s);

#endif
