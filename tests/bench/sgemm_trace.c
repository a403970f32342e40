/* LD_PRELOAD shim for tests/bench/gemm.sh: prints every cblas_sgemm call's shape to
 * stderr ("GEMM NT M=.. N=.. K=.. lda=.. ldb=.. ldc=.. a=.. b=..") and calls OpenBLAS's. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>

#include <cblas.h>

typedef void sgemm_fn(const enum CBLAS_ORDER, const enum CBLAS_TRANSPOSE,
                      const enum CBLAS_TRANSPOSE, const blasint, const blasint, const blasint,
                      const float, const float *, const blasint, const float *, const blasint,
                      const float, float *, const blasint);

void cblas_sgemm(const enum CBLAS_ORDER o, const enum CBLAS_TRANSPOSE ta,
                 const enum CBLAS_TRANSPOSE tb, const blasint M, const blasint N, const blasint K,
                 const float alpha, const float *A, const blasint lda, const float *B,
                 const blasint ldb, const float beta, float *C, const blasint ldc)
{
	static sgemm_fn *real;
	if (!real)
		real = (sgemm_fn *)dlsym(RTLD_NEXT, "cblas_sgemm");
	fprintf(stderr, "GEMM %c%c M=%d N=%d K=%d lda=%d ldb=%d ldc=%d a=%g b=%g\n",
	        ta == CblasTrans ? 'T' : 'N', tb == CblasTrans ? 'T' : 'N', M, N, K, lda, ldb, ldc,
	        alpha, beta);
	real(o, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
