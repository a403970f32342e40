/* The one thread pool. ms_threads(n) starts n - 1 workers beside the caller and runs
 * OpenBLAS single-threaded, so that the numeric layers split their work over the pool
 * (ms_parallel) and no second pool fights this one. Its own file, so that tools without
 * numeric work neither link OpenBLAS nor start threads. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include <cblas.h>

#include "core/dist.h"
#include "core/threads.h"
#include "core/util.h"

#define MAXT 256
#define SPIN 20000            /* polls of a waiting worker before it sleeps */

static struct {
	int n;                    /* threads, the caller included */
	pthread_t th[MAXT];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	atomic_uint gen;          /* bumped for every job, and to stop the workers */
	atomic_int pending;       /* workers still in the current job */
	unsigned born;            /* gen when the workers were started */
	int stop;
	ms_task *f;
	void *ctx;
	int nt;                   /* threads taking part in the job */
} pool = { .n = 1, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static _Thread_local int inside;      /* in a job: nested ms_parallel runs inline */

static void *worker(void *arg)
{
	int tid = (int)(intptr_t)arg;
	unsigned seen = pool.born;   /* not gen now: a job may have started before us */
	inside = 1;
	for (;;) {
		unsigned g;
		for (int i = 0; (g = atomic_load_explicit(&pool.gen, memory_order_acquire)) == seen;
		     i++)
			if (i >= SPIN) {
				pthread_mutex_lock(&pool.mu);
				while ((g = atomic_load(&pool.gen)) == seen)
					pthread_cond_wait(&pool.cv, &pool.mu);
				pthread_mutex_unlock(&pool.mu);
				break;
			}
		seen = g;
		if (pool.stop)
			return NULL;
		if (tid < pool.nt)
			pool.f(pool.ctx, tid, pool.nt);
		atomic_fetch_sub_explicit(&pool.pending, 1, memory_order_release);
	}
}

static void bump(void)
{
	pthread_mutex_lock(&pool.mu);
	atomic_fetch_add_explicit(&pool.gen, 1, memory_order_release);
	pthread_cond_broadcast(&pool.cv);
	pthread_mutex_unlock(&pool.mu);
}

static void stop_workers(void)
{
	if (pool.n < 2)
		return;
	pool.stop = 1;
	bump();
	for (int i = 1; i < pool.n; i++)
		pthread_join(pool.th[i], NULL);
	pool.stop = 0;
	pool.n = 1;
}

int ms_threads(int requested)
{
	int n = requested;
	if (n <= 0) {
		const char *e = getenv("MS_THREADS");
		long v;
		if (e && *e && ms_parse_int(e, 1, 1024, &v) == 0)
			n = (int)v;
	}
	if (n <= 0) {             /* the CPUs, shared by the ranks of a run on this machine */
		long c = sysconf(_SC_NPROCESSORS_ONLN) / ms_dist_local_size();
		n = c > 0 ? (int)c : 1;
	}
	n = n > MAXT ? MAXT : n;
	openblas_set_num_threads(1);
	if (n == pool.n || inside)
		return pool.n;
	stop_workers();
	pool.born = atomic_load(&pool.gen);
	for (pool.n = 1; pool.n < n; pool.n++)
		if (pthread_create(&pool.th[pool.n], NULL, worker, (void *)(intptr_t)pool.n))
			break;                       /* fewer threads, still correct */
	return pool.n;
}

int ms_nthreads(void)
{
	return pool.n;
}

void ms_parallel(int items, ms_task *f, void *ctx)
{
	int nt = items < pool.n ? items : pool.n;
	if (nt < 2 || inside) {
		f(ctx, 0, 1);
		return;
	}
	pool.f = f;
	pool.ctx = ctx;
	pool.nt = nt;
	atomic_store(&pool.pending, pool.n - 1);
	inside = 1;
	bump();
	f(ctx, 0, nt);
	for (int i = 0; atomic_load_explicit(&pool.pending, memory_order_acquire); i++)
		if (i > 1000)
			sched_yield();
	inside = 0;
}

void ms_range(long n, int tid, int nt, long *lo, long *hi)
{
	*lo = n * tid / nt;
	*hi = n * (tid + 1) / nt;
}

long ms_take(atomic_long *next, long n)
{
	long i = atomic_fetch_add_explicit(next, 1, memory_order_relaxed);
	return i < n ? i : -1;
}
