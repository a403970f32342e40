/* Ranks of a data-parallel run (dist.h). With -DMS_MPI the calls are MPI's; the rest of
 * the library never includes mpi.h. Without it (or not launched by MPI) one rank. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/dist.h"
#include "core/util.h"

#ifdef MS_MPI
#include <mpi.h>
#endif

static int rank, size = 1;
static double seconds;         /* in MPI calls */

int ms_dist_rank(void)
{
	return rank;
}

int ms_dist_size(void)
{
	return size;
}

double ms_dist_seconds(void)
{
	return seconds;
}

/* the sum of the parts of one chunk: dst = src[0] + src[1] + ... (k parts, stride
 * apart), left to right: one rank and many give the same bits */
static void add_parts(float *dst, const float *src, int k, size_t stride, size_t len)
{
	memcpy(dst, src, len * sizeof *dst);
	for (int q = 1; q < k; q++) {
		const float *s = src + q * stride;
		for (size_t i = 0; i < len; i++)
			dst[i] += s[i];
	}
}

#ifdef MS_MPI
static int joined;
static float *sbuf, *rbuf;
static size_t scap, rcap;

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static int mpi_fail(const char *what, int rc)
{
	char s[MPI_MAX_ERROR_STRING];
	int len = 0;
	if (MPI_Error_string(rc, s, &len) != MPI_SUCCESS)
		snprintf(s, sizeof s, "error %d", rc);
	return ms_error("%s: %s", what, s);
}

int ms_dist_init(void)
{
	long n = ms_dist_launched();
	int provided, ok;
	if (joined || !n)
		return 0;
	MPI_Initialized(&ok);
	if (!ok && MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
		return ms_error("cannot start MPI");
	MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	joined = 1;
	return 0;
}

void ms_dist_end(void)
{
	int done;
	if (!joined)
		return;
	free(sbuf);
	free(rbuf);
	sbuf = rbuf = NULL;
	scap = rcap = 0;
	MPI_Finalized(&done);
	if (!done)
		MPI_Finalize();
	joined = 0;
	rank = 0;
	size = 1;
}

int ms_dist_max(double *v, int n)
{
	if (size == 1)
		return 0;
	double t = now();
	int rc = MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
	seconds += now() - t;
	return rc == MPI_SUCCESS ? 0 : mpi_fail("MPI_Allreduce", rc);
}

int ms_dist_bcast(void *buf, size_t n)
{
	double t = now();
	for (size_t o = 0; size > 1 && o < n;) {
		int k = n - o > (1u << 30) ? 1 << 30 : (int)(n - o);
		int rc = MPI_Bcast((char *)buf + o, k, MPI_BYTE, 0, MPI_COMM_WORLD);
		if (rc != MPI_SUCCESS)
			return mpi_fail("MPI_Bcast", rc);
		o += k;
	}
	seconds += now() - t;
	return 0;
}

static int grow(float **b, size_t *cap, size_t n)
{
	if (n <= *cap)
		return 0;
	float *p = ms_reallocarray(*b, n, sizeof *p);
	if (!p)
		return -1;
	*b = p;
	*cap = n;
	return 0;
}

/* chunk c of n floats over the ranks */
static void chunk(size_t n, int c, size_t *lo, size_t *len)
{
	*lo = n * c / size;
	*len = n * (c + 1) / size - *lo;
}

int ms_dist_sum_parts(float *part, int local, size_t n, float *out)
{
	if (size == 1) {
		add_parts(out, part, local, n, n);
		return 0;
	}
	if ((size_t)local * (n + size) > INT_MAX)   /* MPI's counts and offsets are int */
		return ms_error("gradient of %d x %zu floats too large for one message", local, n);
	int sc[size], sd[size], rc[size], rd[size], ret;
	size_t lo, len, mlo, mlen;
	chunk(n, rank, &mlo, &mlen);
	if (grow(&sbuf, &scap, (size_t)local * n) < 0 || grow(&rbuf, &rcap, (size_t)size * local * mlen + 1) < 0)
		return -1;
	/* to rank c: chunk c of every local part, in part order */
	size_t o = 0;
	for (int c = 0; c < size; c++) {
		chunk(n, c, &lo, &len);
		sd[c] = (int)o;
		sc[c] = (int)(local * len);
		for (int q = 0; q < local; q++, o += len)
			memcpy(sbuf + o, part + q * n + lo, len * sizeof *sbuf);
		rc[c] = (int)(local * mlen);
		rd[c] = (int)(c * local * mlen);
	}
	double t = now();
	ret = MPI_Alltoallv(sbuf, sc, sd, MPI_FLOAT, rbuf, rc, rd, MPI_FLOAT, MPI_COMM_WORLD);
	seconds += now() - t;
	if (ret != MPI_SUCCESS)
		return mpi_fail("MPI_Alltoallv", ret);
	/* rbuf holds the parts of ranks 0, 1, ... in order: part order */
	add_parts(out + mlo, rbuf, size * local, mlen, mlen);
	for (int c = 0; c < size; c++) {
		chunk(n, c, &lo, &len);
		rc[c] = (int)len;
		rd[c] = (int)lo;
	}
	t = now();
	ret = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, out, rc, rd, MPI_FLOAT, MPI_COMM_WORLD);
	seconds += now() - t;
	return ret == MPI_SUCCESS ? 0 : mpi_fail("MPI_Allgatherv", ret);
}

int ms_dist_gather(const double *mine, int k, double *all)
{
	if (size == 1) {
		memcpy(all, mine, k * sizeof *all);
		return 0;
	}
	double t = now();
	int rc = MPI_Allgather(mine, k, MPI_DOUBLE, all, k, MPI_DOUBLE, MPI_COMM_WORLD);
	seconds += now() - t;
	return rc == MPI_SUCCESS ? 0 : mpi_fail("MPI_Allgather", rc);
}

/* ---- rank 0's stream on every rank: blocks of up to BLOCK bytes, a length first
 * (0: the end, -1: rank 0 could not read) */
enum { BLOCK = 1 << 20 };
typedef struct {
	FILE *in;
	char *buf;
	size_t len, pos;
	int end;
} bstream;

static ssize_t bs_read(void *cookie, char *dst, size_t want)
{
	bstream *b = cookie;
	if (b->pos == b->len && !b->end) {
		int64_t n = 0;
		if (rank == 0) {
			n = (int64_t)fread(b->buf, 1, BLOCK, b->in);
			if (!n && ferror(b->in))
				n = -1;
		}
		if (ms_dist_bcast(&n, sizeof n) < 0 || (n > 0 && ms_dist_bcast(b->buf, (size_t)n) < 0))
			n = -1;
		b->len = n > 0 ? (size_t)n : 0;
		b->pos = 0;
		b->end = n <= 0;
		if (n < 0) {
			errno = EIO;
			return -1;
		}
	}
	size_t k = b->len - b->pos < want ? b->len - b->pos : want;
	memcpy(dst, b->buf + b->pos, k);
	b->pos += k;
	return (ssize_t)k;
}

static int bs_close(void *cookie)
{
	bstream *b = cookie;
	int ret = b->in && b->in != stdin ? fclose(b->in) : 0;
	free(b->buf);
	free(b);
	return ret;
}

FILE *ms_dist_stream(FILE *in, const char *name)
{
	if (size == 1)
		return in;
	bstream *b = ms_calloc(1, sizeof *b);
	cookie_io_functions_t io = { .read = bs_read, .close = bs_close };
	FILE *f = NULL;
	if (b && (b->buf = ms_malloc(BLOCK)) && !(f = fopencookie(b, "r", io)))
		ms_error("%s: cannot open a stream:", name);
	if (!f && b) {
		free(b->buf);
		free(b);
	}
	if (f)
		b->in = in;
	return f;
}

#else   /* one rank */

int ms_dist_init(void)
{
	long n = ms_dist_launched();
	if (n > 1)
		return ms_error("started as one of %ld ranks, but built without MPI "
		                "(install MPI, e.g. libopenmpi-dev, and rebuild)", n);
	return 0;
}

void ms_dist_end(void)
{
}

int ms_dist_max(double *v, int n)
{
	(void)v;
	(void)n;
	return 0;
}

int ms_dist_bcast(void *buf, size_t n)
{
	(void)buf;
	(void)n;
	return 0;
}

int ms_dist_sum_parts(float *part, int local, size_t n, float *out)
{
	add_parts(out, part, local, n, n);
	return 0;
}

int ms_dist_gather(const double *mine, int k, double *all)
{
	memcpy(all, mine, k * sizeof *all);
	return 0;
}

FILE *ms_dist_stream(FILE *in, const char *name)
{
	(void)name;
	return in;
}

#endif
