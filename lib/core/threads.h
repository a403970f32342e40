/* The thread pool (threads.c). */
#ifndef MS_THREADS_H
#define MS_THREADS_H

#include <stdatomic.h>

/* the one thread pool: ms_threads resolves --threads / MS_THREADS (default: the CPUs
 * over the ranks of an MPI run on this machine, core/dist.h),
 * starts the pool and runs OpenBLAS single-threaded inside it; returns the threads */
int ms_threads(int requested);
int ms_nthreads(void);
/* runs f(ctx, tid, nt) on nt = min(items, threads) threads (tid 0 the caller) and waits;
 * inline with nt = 1 when nested. ms_range: the part [lo, hi) of n items that is tid's */
typedef void ms_task(void *ctx, int tid, int nt);
void ms_parallel(int items, ms_task *f, void *ctx);
void ms_range(long n, int tid, int nt, long *lo, long *hi);
/* or a dynamic share, for items whose cost varies: each thread takes the next item from
 * *next (0 before the job) until ms_take returns -1; what an item computes must not
 * depend on the thread that takes it */
long ms_take(atomic_long *next, long n);

#endif
