/* Ranks of a data-parallel run (dist.c): MPI when the library is built with it (-DMS_MPI,
 * the Makefile does so when pkg-config finds MPI) and the tool was started by an MPI
 * launcher (mpirun, srun); otherwise one rank, and every call below is a no-op or a local
 * copy, so that tools call these without #ifdef. Only the calling (main) thread talks
 * to MPI. Everything here is collective: every rank calls it in the same order. */
#ifndef MS_DIST_H
#define MS_DIST_H

#include <stddef.h>
#include <stdio.h>

/* joins the run when launched by an MPI launcher (its environment says so); a no-op
 * otherwise and on a second call. -1 with the reason (e.g. launched with several ranks
 * by a build without MPI). ms_dist_end leaves it (at exit too, through atexit). */
int ms_dist_init(void);
void ms_dist_end(void);
int ms_dist_rank(void);                 /* 0 .. size-1; 0 without MPI */
int ms_dist_size(void);                 /* 1 without MPI */
/* launch.c, without MPI: the ranks the launcher's environment announces (0: not
 * launched by one), and those on this machine (1 if it says nothing), by which the
 * default thread count divides the CPUs */
long ms_dist_launched(void);
int ms_dist_local_size(void);
/* what runs on one rank (e.g. "prediction"): -1 with a message that says so, and what
 * to do instead, when the launcher started several */
int ms_dist_single(const char *what);

/* element-wise maximum over the ranks of v[0..n) (a stop flag, a fraction), in place */
int ms_dist_max(double *v, int n);
/* rank 0's n bytes into buf on every rank */
int ms_dist_bcast(void *buf, size_t n);

/* the sum of parts in a fixed order: every rank holds `local` consecutive parts of n
 * floats (part[i * n ...]; rank r the parts r*local .. r*local+local-1); out[0..n) gets
 * part 0 + part 1 + ... + part P-1 added left to right in part order (P = local * size),
 * on every rank: the same bits as one rank holding all P parts. Each rank sums 1/size of
 * the elements (reduce-scatter by all-to-all) and the sums are gathered: each rank sends
 * and receives (size - 1) / size * (local + 1) * n floats. part is overwritten. */
int ms_dist_sum_parts(float *part, int local, size_t n, float *out);
/* every rank's k doubles, in rank order, into all[size * k] */
int ms_dist_gather(const double *mine, int k, double *all);

/* the stream read by rank 0 from in (named name), the same bytes on every rank: rank 0
 * reads in and broadcasts it in blocks as the ranks read (all ranks must read it to the
 * same point); in itself with one rank. The stream replaces in (closing it closes in,
 * unless in is stdin; other ranks may pass NULL). Under mpirun only rank 0 gets standard
 * input. */
FILE *ms_dist_stream(FILE *in, const char *name);

/* seconds spent in the calls above (communication and waiting for other ranks) */
double ms_dist_seconds(void);

#endif
