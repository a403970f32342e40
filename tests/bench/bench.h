/* Shared by the C benches of tests/bench: clocks in seconds (wall and CPU) and medians. */
#ifndef MS_BENCH_H
#define MS_BENCH_H

#include <stdlib.h>
#include <time.h>

/* seconds on clock ID (CLOCK_MONOTONIC: wall; CLOCK_PROCESS_CPUTIME_ID: all threads' CPU) */
static inline double bench_clock(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* wall-clock seconds */
static inline double bench_now(void)
{
	return bench_clock(CLOCK_MONOTONIC);
}

/* CPU seconds of all threads of the process: robust against a busy machine */
static inline double bench_cpu(void)
{
	return bench_clock(CLOCK_PROCESS_CPUTIME_ID);
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* the median of T[0..N-1] (sorts T) */
static inline double bench_median(double *t, int n)
{
	qsort(t, n, sizeof *t, bench_cmp_double);
	return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

#endif
