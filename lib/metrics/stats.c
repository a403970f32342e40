/* Statistics: quantiles, the summary of a column, and the paired comparison (t interval
 * of the mean difference, Wilcoxon signed-rank test). */
#include <math.h>
#include <stdlib.h>

#include "core/util.h"
#include "metrics/stats.h"

/* regularised incomplete beta I_x(a, b) by its continued fraction (modified Lentz) */
static double betacf(double a, double b, double x)
{
	const double tiny = 1e-300;
	double c = 1, d = 1 - (a + b) * x / (a + 1), h;
	d = 1 / (fabs(d) < tiny ? tiny : d);
	h = d;
	for (int m = 1; m <= 300; m++) {
		double aa = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
		for (int k = 0; k < 2; k++) {
			d = 1 + aa * d;
			c = 1 + aa / c;
			d = 1 / (fabs(d) < tiny ? tiny : d);
			c = fabs(c) < tiny ? tiny : c;
			h *= d * c;
			aa = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
		}
		if (fabs(d * c - 1) < 1e-15)
			break;
	}
	return h;
}

static double ibeta(double a, double b, double x)
{
	if (x <= 0)
		return 0;
	if (x >= 1)
		return 1;
	double lf = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
	if (x < (a + 1) / (a + b + 2))
		return exp(lf) * betacf(a, b, x) / a;
	return 1 - exp(lf) * betacf(b, a, 1 - x) / b;
}

/* P(T <= t), Student's t with df degrees of freedom */
static double t_cdf(double t, double df)
{
	double tail = 0.5 * ibeta(df / 2, 0.5, df / (df + t * t));
	return t > 0 ? 1 - tail : tail;
}

double ms_t_quantile(double p, double df)
{
	if (!(p > 0 && p < 1 && df > 0))
		return NAN;
	if (p < 0.5)
		return -ms_t_quantile(1 - p, df);
	double lo = 0, hi = 1;
	while (t_cdf(hi, df) < p && hi < 1e300)
		hi *= 2;
	for (int i = 0; i < 200 && hi - lo > 1e-14 * hi; i++) {
		double mid = 0.5 * (lo + hi);
		*(t_cdf(mid, df) < p ? &lo : &hi) = mid;
	}
	return 0.5 * (lo + hi);
}

static int by_abs(const void *x, const void *y)
{
	double a = fabs(*(const double *)x), b = fabs(*(const double *)y);
	return (a > b) - (a < b);
}

double ms_wilcoxon_p(const double *d, size_t n)
{
	double *v = ms_malloc((n ? n : 1) * sizeof *v), rplus = 0, ties = 0;
	size_t m = 0;
	if (!v)
		return NAN;
	for (size_t i = 0; i < n; i++)
		if (d[i] != 0)
			v[m++] = d[i];
	size_t zeros = n - m;
	if (!m) {
		free(v);
		return n ? 1 : NAN;
	}
	qsort(v, m, sizeof *v, by_abs);
	for (size_t i = 0, j; i < m; i = j) {   /* midranks of tied |d| */
		for (j = i + 1; j < m && fabs(v[j]) == fabs(v[i]); j++)
			;
		double rank = 0.5 * (double)(i + 1 + j), t = (double)(j - i);
		ties += t * (t * t - 1);
		for (size_t k = i; k < j; k++)
			if (v[k] > 0)
				rplus += rank;
	}
	free(v);
	double nn = (double)m, total = nn * (nn + 1) / 2, p;
	if (m <= 50 && !zeros) {   /* exact: count subsets of 1..m by rank sum (r+ of tied
		                              * midranks truncated, as scipy 1.10) */
		int top = (int)total, r = (int)rplus;
		double *cnt = ms_calloc((size_t)top + 1, sizeof *cnt), lo = 0, hi = 0;
		if (!cnt)
			return NAN;
		cnt[0] = 1;
		for (int k = 1; k <= (int)m; k++)
			for (int s = top; s >= k; s--)
				cnt[s] += cnt[s - k];
		for (int s = 0; s <= top; s++) {
			lo += s <= r ? cnt[s] : 0;
			hi += s >= r ? cnt[s] : 0;
		}
		free(cnt);
		p = r == top / 2 && top % 2 == 0 ? 1 : 2 * fmin(lo, hi) / ldexp(1, (int)m);
		return fmin(p, 1);
	}
	/* scipy uses min(r+, r-) against the mean; symmetric, so r+ gives the same |z| */
	double se = sqrt((nn * (nn + 1) * (2 * nn + 1) - 0.5 * ties) / 24);
	double z = (rplus - total / 2) / se;
	return erfc(fabs(z) / sqrt(2));
}

int ms_paired_compute(const double *a, const double *b, size_t n, ms_paired *r)
{
	double *d = ms_malloc((n ? n : 1) * sizeof *d), sa = 0, sb = 0, ss = 0;
	size_t m = 0;
	if (!d)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (isfinite(a[i]) && isfinite(b[i])) {
			sa += a[i];
			sb += b[i];
			d[m++] = b[i] - a[i];
		}
	r->n = m;
	r->mean_a = m ? sa / m : NAN;
	r->mean_b = m ? sb / m : NAN;
	r->diff = m ? r->mean_b - r->mean_a : NAN;
	for (size_t i = 0; i < m; i++)
		ss += (d[i] - r->diff) * (d[i] - r->diff);
	double half = m > 1 ? ms_t_quantile(0.975, (double)(m - 1)) * sqrt(ss / (m - 1) / m) : NAN;
	r->lo = r->diff - half;
	r->hi = r->diff + half;
	r->p = ms_wilcoxon_p(d, m);
	free(d);
	return 0;
}

/* ---- quantiles */
/* quickselect: returns the k-th smallest; afterwards v[0..k] <= v[k] <= v[k+1..] */
static double select_k(double *v, ptrdiff_t n, ptrdiff_t k)
{
	ptrdiff_t lo = 0, hi = n - 1;
	while (lo < hi) {
		double a = v[lo], b = v[lo + (hi - lo) / 2], c = v[hi];
		double piv = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
		ptrdiff_t i = lo, j = hi;
		while (i <= j) {
			while (v[i] < piv)
				i++;
			while (v[j] > piv)
				j--;
			if (i <= j) {
				double t = v[i];
				v[i++] = v[j];
				v[j--] = t;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			break;
	}
	return v[k];
}

double ms_quantile(double *v, size_t n, double q)
{
	if (!n)
		return NAN;
	double pos = q * (double)(n - 1);
	size_t k = (size_t)pos;
	if (k >= n - 1)
		return select_k(v, (ptrdiff_t)n, (ptrdiff_t)n - 1);
	double lo = select_k(v, (ptrdiff_t)n, (ptrdiff_t)k), frac = pos - (double)k;
	if (frac == 0)
		return lo;
	double hi = v[k + 1];
	for (size_t i = k + 2; i < n; i++)
		hi = v[i] < hi ? v[i] : hi;
	return lo + (hi - lo) * frac;
}

/* ---- summaries */
int ms_summary_compute(const double *v, size_t n, ms_summary *s)
{
	double *t = ms_malloc((n ? n : 1) * sizeof *t), sum = 0, ss = 0;
	size_t m = 0;
	if (!t)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!isnan(v[i]))
			sum += t[m++] = v[i];
	s->n = m;
	s->mean = m ? sum / m : NAN;
	for (size_t i = 0; i < m; i++)
		ss += (t[i] - s->mean) * (t[i] - s->mean);
	s->std = m ? sqrt(ss / m) : NAN;
	s->median = ms_quantile(t, m, 0.5);
	free(t);
	return 0;
}
