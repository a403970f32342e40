/* Shared by the C benches of tests/bench: a clock in seconds and the qsort comparison of
 * doubles (for medians). */
#ifndef MS_BENCH_H
#define MS_BENCH_H

#include <time.h>

/* seconds on clock ID (CLOCK_MONOTONIC: wall; CLOCK_PROCESS_CPUTIME_ID: all threads' CPU) */
static inline double bench_clock(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

#endif
