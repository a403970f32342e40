/* Single-precision matrix product of every layer (convolutions, linear, attention; gemm.c),
 * independent of which kernel OpenBLAS picks (OPENBLAS_CORETYPE) where the CPU has
 * AVX-512, OpenBLAS's cblas_sgemm where it has not (our AVX2 path is slower than
 * OpenBLAS's): chosen at run time; MS_ISA=avx512|avx2|scalar|blas in the environment
 * forces a path (one the CPU lacks falls back to the next one down: avx512, avx2,
 * scalar). */
#ifndef MS_NN_GEMM_H
#define MS_NN_GEMM_H

#include <stdint.h>

/* C[M,N] = alpha op(A)[M,K] op(B)[K,N] + beta C, row-major, op(X) = X or X^T as with
 * cblas_sgemm(CblasRowMajor, ...); beta 0 does not read C. Single-threaded (call it from
 * the thread pool's parts). On one path the result is the same bytes whatever M and N
 * and however a caller splits the rows or columns: every element sums its products in
 * order of k, in blocks of k that depend on K only. */
void ms_gemm(int transa, int transb, int M, int N, int K, float alpha, const float *A,
             int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* the transposing copy of B's panels: p[k * wp + j] = b[j * ldb + k] for j < w and
 * k < kc, 0 for w <= j < wp (rows of B^T, zero padded to wp columns) */
void ms_gemm_transpose(const float *b, long ldb, int kc, int w, int wp, float *p);

/* the path in use: "avx512", "avx2", "scalar" or "blas" */
const char *ms_gemm_isa(void);

/* uses path isa from now on (tests, benchmarks), or the next one down that the CPU has;
 * returns the path in use */
const char *ms_gemm_use(const char *isa);

/* the precision of the products: "fp32", or "bf16" where it is asked for (MS_PRECISION=bf16
 * in the environment, or ms_gemm_use_precision), the path is avx512 and the CPU has
 * AVX512_BF16: op(A) and op(B) rounded to bfloat16 (to nearest even, denormals flushed),
 * products summed in single precision, C in single precision */
const char *ms_gemm_precision(void);
/* asks for precision name ("fp32" or "bf16") from now on; returns the precision in use */
const char *ms_gemm_use_precision(const char *name);
/* x rounded to bfloat16 as the bf16 products round their operands */
float ms_gemm_bf16(float x);

/* Products whose operands are given rounded, as bfloat16 pairs (bf16 precision only; the
 * Winograd transforms write them so, and nothing is packed): a[i * lda + k/2] holds A[i][k]
 * in its low half and A[i][k+1] in its high half (0 past K; ms_gemm_pairs_vec), lda in
 * pairs; pairs[(k/2) * ldp + j] holds B[k][j] and B[k+1][j] (ms_gemm_pairs_row), ldp at
 * least N rounded up to 16 (the columns past N are read, not used). C = alpha A B + beta C
 * is then the same bytes as ms_gemm(0, 0, ...) on A and B. Only where ms_gemm_pairs_ok:
 * bf16 in use, and the shape one that ms_gemm computes untransposed in blocks of k that
 * start at even k. */
int ms_gemm_pairs_ok(int M, int N, int K);
void ms_gemm_pairs(int M, int N, int K, float alpha, const uint32_t *a, int lda,
                   const uint32_t *pairs, int ldp, float beta, float *C, int ldc);
/* n floats of rows lo and hi (NULL: zeros) into their n pairs at p, rounded as the bf16
 * products round them */
void ms_gemm_pairs_row(const float *lo, const float *hi, int n, uint32_t *p);
/* n floats of x into the (n + 1) / 2 pairs of consecutive ones at p (the last one's high
 * half 0 where n is odd), rounded so */
void ms_gemm_pairs_vec(const float *x, int n, uint32_t *p);

/* --precision P of the tools that train or run networks: "fp32" or "bf16", for
 * ms_gemm_use_precision (bf16 where the CPU lacks it: a warning, and fp32); -1 with
 * ms_error on another name */
int ms_gemm_precision_arg(const char *arg);
#define MS_OPT_PRECISION MS_OPT_CALL("precision", 0, ms_gemm_precision_arg, "P", \
	"fp32, or bf16: the networks' products in bfloat16\n(AVX512_BF16; default MS_PRECISION or fp32)")

#endif
