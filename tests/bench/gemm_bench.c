/* ms_gemm against cblas_sgemm (one thread) on the shapes of a trace (tests/bench/gemm.sh,
 * lines "GEMM TT M=.. N=.. K=.. lda=.. ldb=.. ldc=.. a=.. b=.." on stdin, each one call
 * or, ending in " n=COUNT", COUNT calls): for each
 * distinct shape, its calls in the trace, then the median time of REPS rounds of each,
 * interleaved, as GFLOP/s; last, the time of the whole trace for each. With "bf16", ms_gemm
 * in single precision against ms_gemm's bf16 products instead (MS_PRECISION=bf16).
 * Usage: gemm_bench [REPS [bf16]] < trace */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "bench.h"
#include "nn/gemm.h"

typedef struct {
	char ta, tb;
	int M, N, K, lda, ldb, ldc, count;
	float alpha, beta;
} shape;

static int bf16;      /* the sides: ms_gemm fp32 and bf16, not OpenBLAS and ms_gemm */

static double run(const shape *s, int own, int calls, const float *a, const float *b, float *c)
{
	if (bf16)
		ms_gemm_use_precision(own ? "bf16" : "fp32");
	double t0 = bench_now();
	for (int i = 0; i < calls; i++)
		if (own || bf16)
			ms_gemm(s->ta == 'T', s->tb == 'T', s->M, s->N, s->K, s->alpha, a, s->lda, b,
			        s->ldb, s->beta, c, s->ldc);
		else
			cblas_sgemm(CblasRowMajor, s->ta == 'T' ? CblasTrans : CblasNoTrans,
			            s->tb == 'T' ? CblasTrans : CblasNoTrans, s->M, s->N, s->K, s->alpha, a,
			            s->lda, b, s->ldb, s->beta, c, s->ldc);
	return (bench_now() - t0) / calls;
}

int main(int argc, char **argv)
{
	int reps = argc > 1 ? atoi(argv[1]) : 7, n = 0;
	bf16 = argc > 2 && !strcmp(argv[2], "bf16");
	if (bf16 && strcmp(ms_gemm_use_precision("bf16"), "bf16")) {
		fprintf(stderr, "gemm_bench: no bf16 products here (AVX-512 path with AVX512_BF16)\n");
		return 1;
	}
	static shape sh[4096];
	char line[512];
	openblas_set_num_threads(1);
	while (fgets(line, sizeof line, stdin)) {
		shape s = { 0 };
		if (sscanf(line, "GEMM %c%c M=%d N=%d K=%d lda=%d ldb=%d ldc=%d a=%f b=%f", &s.ta, &s.tb,
		           &s.M, &s.N, &s.K, &s.lda, &s.ldb, &s.ldc, &s.alpha, &s.beta) != 10)
			continue;
		const char *cnt = strstr(line, " n=");
		int i, times = cnt ? atoi(cnt + 3) : 1;
		for (i = 0; i < n; i++)
			if (sh[i].ta == s.ta && sh[i].tb == s.tb && sh[i].M == s.M && sh[i].N == s.N &&
			    sh[i].K == s.K && sh[i].lda == s.lda && sh[i].ldb == s.ldb &&
			    sh[i].ldc == s.ldc && sh[i].alpha == s.alpha && sh[i].beta == s.beta)
				break;
		if (i == n && n < 4096)
			sh[n++] = s;
		if (i < n)
			sh[i].count += times;
	}
	printf("ms_gemm path %s, OpenBLAS %s, OPENBLAS_CORETYPE=%s OPENBLAS_L2_SIZE=%s, one thread\n",
	       ms_gemm_isa(), openblas_get_corename(), getenv("OPENBLAS_CORETYPE") ?
	       getenv("OPENBLAS_CORETYPE") : "unset", getenv("OPENBLAS_L2_SIZE") ?
	       getenv("OPENBLAS_L2_SIZE") : "unset");
	printf("%-4s %5s %5s %5s %5s %5s %5s %4s %6s %9s %9s %6s\n", "op", "M", "N", "K", "lda", "ldb",
	       "ldc", "beta", "calls", bf16 ? "fp32" : "openblas", bf16 ? "bf16" : "ms_gemm", "ratio");
	double tot[2] = { 0 }, *t[2] = { malloc(reps * sizeof(double)), malloc(reps * sizeof(double)) };
	for (int i = 0; i < n; i++) {
		shape *s = &sh[i];
		size_t na = (size_t)(s->ta == 'T' ? s->K : s->M) * s->lda,
		       nb = (size_t)(s->tb == 'T' ? s->N : s->K) * s->ldb, nc = (size_t)s->M * s->ldc;
		float *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b), *c = malloc(nc * sizeof *c);
		for (size_t j = 0; j < na; j++)
			a[j] = (float)(j % 17) / 17 - 0.5f;
		for (size_t j = 0; j < nb; j++)
			b[j] = (float)(j % 13) / 13 - 0.5f;
		for (size_t j = 0; j < nc; j++)
			c[j] = 0;
		double flop = 2.0 * s->M * s->N * s->K;
		int calls = (int)(2e7 / flop) + 1;     /* about 0.1 ms a round and side at 200 GFLOP/s */
		run(s, 0, calls, a, b, c), run(s, 1, calls, a, b, c);    /* warm */
		for (int r = 0; r < reps; r++)
			for (int own = 0; own < 2; own++)
				t[own][r] = run(s, (r & 1) ^ own, calls, a, b, c);
		/* rounds alternate which goes first; t[x][r] is side (r&1)^x: sort them back */
		for (int r = 0; r < reps; r++)
			if (r & 1) {
				double x = t[0][r];
				t[0][r] = t[1][r];
				t[1][r] = x;
			}
		double m[2] = { bench_median(t[0], reps), bench_median(t[1], reps) };
		printf("%c%c   %5d %5d %5d %5d %5d %5d %4g %6d %9.1f %9.1f %6.2f\n", s->ta, s->tb, s->M,
		       s->N, s->K, s->lda, s->ldb, s->ldc, s->beta, s->count, flop / m[0] * 1e-9,
		       flop / m[1] * 1e-9, m[0] / m[1]);
		tot[0] += m[0] * s->count;
		tot[1] += m[1] * s->count;
		free(a);
		free(b);
		free(c);
	}
	printf("trace total: %s %.1f ms, %s %.1f ms, ratio %.2f\n", bf16 ? "fp32" : "openblas",
	       tot[0] * 1e3, bf16 ? "bf16" : "ms_gemm", tot[1] * 1e3, tot[0] / tot[1]);
	free(t[0]);
	free(t[1]);
	return 0;
}
