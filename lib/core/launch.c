/* What the launcher of an MPI run says in the environment (dist.h): apart from dist.c so
 * that the thread pool's default can use it without linking MPI. */
#include <stdlib.h>

#include "core/dist.h"
#include "core/util.h"

/* the first of the launcher variables that is set, as a number (0 if none) */
static long env_num(const char *const *names)
{
	for (; *names; names++) {
		const char *e = getenv(*names);
		long v;
		if (e && *e && ms_parse_int(e, 0, 1L << 30, &v) == 0)
			return v;
	}
	return 0;
}

/* the ranks the launcher started: Open MPI, PMIx (srun --mpi=pmix), PMI (MPICH, srun) */
long ms_dist_launched(void)
{
	static const char *const n[] = { "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE", NULL };
	const char *pmix = getenv("PMIX_RANK");
	long v = env_num(n);
	return v ? v : pmix && *pmix ? 1 : 0;
}

int ms_dist_single(const char *what)
{
	long n = ms_dist_launched();
	if (n > 1)
		return ms_error("%s runs on one rank, not %ld: shards (--shard K/N) run "
		                "apart, training runs data parallel (ms-scale(7))", what, n);
	return 0;
}

int ms_dist_local_size(void)
{
	static const char *const n[] = { "OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS",
	                                 "SLURM_NTASKS_PER_NODE", NULL };
	long v = ms_dist_launched() ? env_num(n) : 0;
	return v > 0 ? (int)v : 1;
}
