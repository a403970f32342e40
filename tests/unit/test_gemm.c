/* ms_gemm (lib/nn/gemm.c) on every path against a double-precision reference: all four
 * transpose combinations, odd sizes, leading dimensions wider than the matrices, alpha
 * and beta; the bytes of C outside the product left alone; determinism and independence
 * of how C is split. */
#include <float.h>
#include <string.h>

#include "core/rng.h"
#include "nn/gemm.h"
#include "test.h"

/* our three paths, then OpenBLAS (what a CPU without AVX-512 runs) */
static const char *paths[] = { "scalar", "avx2", "avx512", "blas" };

static void fill(float *p, size_t n, ms_rng *r)
{
	for (size_t i = 0; i < n; i++)
		p[i] = ms_rng_uniform(r) * 2 - 1;
}

/* the bf16 path: the reference rounds the operands as it does */
static int bf;

/* op(X)(i,k) of row-major X with leading dimension ld */
static double at(const float *x, int t, int ld, int i, int k)
{
	float v = t ? x[(size_t)k * ld + i] : x[(size_t)i * ld + k];
	return bf ? ms_gemm_bf16(v) : v;
}

static void one(int ta, int tb, int M, int N, int K, float alpha, float beta, int pad,
                ms_rng *r)
{
	int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
	size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb,
	       nc = (size_t)M * ldc;
	float *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b), *c = malloc(nc * sizeof *c),
	      *c0 = malloc(nc * sizeof *c);
	fill(a, na, r);
	fill(b, nb, r);
	fill(c0, nc, r);
	if (beta == 0)          /* beta 0 must not read C: NaN there must not show */
		for (int i = 0; i < M; i++)
			for (int j = 0; j < N; j++)
				c0[(size_t)i * ldc + j] = NAN;
	memcpy(c, c0, nc * sizeof *c);
	ms_gemm(ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
	int bad = 0;
	for (int i = 0; i < M; i++)
		for (int j = 0; j < ldc; j++) {
			size_t o = (size_t)i * ldc + j;
			if (j >= N) {        /* outside the product: untouched */
				bad += memcmp(&c[o], &c0[o], sizeof *c) != 0;
				continue;
			}
			double s = 0, sa = 0;
			for (int k = 0; k < K; k++) {
				double p = at(a, ta, lda, i, k) * at(b, tb, ldb, k, j);
				s += p;
				sa += fabs(p);
			}
			double ref = alpha * s + (beta == 0 ? 0 : beta * (double)c0[o]);
			double tol = 1e-6 * (fabs(alpha) * sa + fabs(beta * (beta == 0 ? 0 : c0[o]))) + 1e-30;
			if (!(fabs(c[o] - ref) <= tol * 4)) {
				if (!bad)
					fprintf(stderr, "%s %c%c M=%d N=%d K=%d alpha=%g beta=%g pad=%d: C[%d,%d] = %.9g, "
					        "reference %.9g\n", bf ? "bf16" : ms_gemm_isa(), ta ? 'T' : 'N', tb ? 'T' : 'N', M,
					        N, K, alpha, beta, pad, i, j, c[o], ref);
				bad++;
			}
		}
	CHECK(bad == 0);
	free(a);
	free(b);
	free(c);
	free(c0);
}

static void test_sizes(void)
{
	static const int sz[] = { 1, 7, 17, 33, 100 };
	static const float ab[][2] = { { 1, 0 }, { 1, 1 }, { -0.5f, 2 }, { 2, -1 } };
	ms_rng r;
	ms_rng_init(&r, 7, 0);
	for (int p = 0; p < 4; p++) {
		ms_gemm_use(paths[p]);
		for (int t = 0; t < 4; t++)
			for (int i = 0; i < 5; i++)
				for (int j = 0; j < 5; j++)
					for (int k = 0; k < 5; k++) {
						int s = i + 2 * j + 3 * k;
						one(t & 1, t >> 1, sz[i], sz[j], sz[k], ab[s % 4][0], ab[s % 4][1],
						    s % 3 ? 0 : 5, &r);
					}
	}
}

/* the shapes of the convolutions, K past a block, N past a panel, M past the packing
 * threshold */
static void test_shapes(void)
{
	static const int sh[][3] = { { 16, 4224, 16 }, { 64, 256, 576 }, { 576, 256, 64 },
	                             { 576, 64, 256 }, { 16, 16, 4224 }, { 32, 1088, 96 },
	                             { 3, 1000, 300 }, { 40, 50, 1153 }, { 9, 2000, 9 } };
	ms_rng r;
	ms_rng_init(&r, 8, 0);
	for (int p = 0; p < 4; p++) {
		ms_gemm_use(paths[p]);
		for (int s = 0; s < 9; s++)
			for (int t = 0; t < 4; t++)
				one(t & 1, t >> 1, sh[s][0], sh[s][1], sh[s][2], 1, t == 1 ? 0 : 1, 3, &r);
	}
}

/* the same bytes for C computed in pieces of rows and columns (the whole with B packed,
 * M past the packing threshold; pieces of 13 rows read it in place), and in pieces of a
 * few columns (computed transposed), on the path in use */
static void split_check(void)
{
	int M = 150, N = 150, K = 300;
	ms_rng r;
	ms_rng_init(&r, 9, 0);
	float *a = malloc(sizeof(float) * M * K), *b = malloc(sizeof(float) * K * N),
	      *c1 = calloc((size_t)M * N, sizeof(float)), *c2 = calloc((size_t)M * N, sizeof(float));
	fill(a, (size_t)M * K, &r);
	fill(b, (size_t)K * N, &r);
	for (int t = 0; t < 4; t++) {
		int ta = t & 1, tb = t >> 1, lda = ta ? M : K, ldb = tb ? K : N;
		ms_gemm(ta, tb, M, N, K, 1, a, lda, b, ldb, 0, c1, N);
		for (int i0 = 0; i0 < M; i0 += 13)
			for (int j0 = 0; j0 < N; j0 += 37) {
				int m = M - i0 < 13 ? M - i0 : 13, n = N - j0 < 37 ? N - j0 : 37;
				ms_gemm(ta, tb, m, n, K, 1, ta ? a + i0 : a + (size_t)i0 * K, lda,
				        tb ? b + (size_t)j0 * K : b + j0, ldb, 0, c2 + (size_t)i0 * N + j0, N);
			}
		CHECK(memcmp(c1, c2, sizeof(float) * M * N) == 0);
		/* pieces of 3 columns are computed transposed: the same bytes */
		memset(c2, 0, sizeof(float) * M * N);
		for (int j0 = 0; j0 < N; j0 += 3)
			ms_gemm(ta, tb, M, 3, K, 1, a, lda, tb ? b + (size_t)j0 * K : b + j0, ldb, 0,
			        c2 + j0, N);
		CHECK(memcmp(c1, c2, sizeof(float) * M * N) == 0);
	}
	free(a);
	free(b);
	free(c1);
	free(c2);
}

static void test_split(void)
{
	for (int p = 0; p < 3; p++) {
		ms_gemm_use(paths[p]);
		split_check();
	}
}

/* the bf16 products (where the CPU has them): every size and shape above against the
 * reference on rounded operands, the same bytes however C is split; the rounding on
 * special values; K = 1 exactly the product of the rounded operands, whichever way
 * they were packed */
static void test_bf16(void)
{
	ms_gemm_use("avx512");
	if (strcmp(ms_gemm_use_precision("bf16"), "bf16")) {
		fprintf(stderr, "test_bf16: no AVX512_BF16 here, skipped\n");
		ms_gemm_use_precision("fp32");
		return;
	}
	bf = 1;
	CHECK(ms_gemm_bf16(1.0f) == 1.0f);
	CHECK(ms_gemm_bf16(1.0f + 0x1p-8f) == 1.0f);                  /* tie: to even */
	CHECK(ms_gemm_bf16(1.0f + 0x1p-7f + 0x1p-8f) == 1.0f + 0x1p-6f); /* tie: to even, up */
	CHECK(ms_gemm_bf16(1.0f + 0x1p-8f + 0x1p-12f) == 1.0f + 0x1p-7f);
	CHECK(ms_gemm_bf16(-3.0f) == -3.0f);
	CHECK(ms_gemm_bf16(0x1p-130f) == 0 && signbit(ms_gemm_bf16(-0x1p-130f)));
	CHECK(isnan(ms_gemm_bf16(NAN)) && isinf(ms_gemm_bf16(FLT_MAX)));
	ms_rng r;
	ms_rng_init(&r, 10, 0);
	static const int sz[] = { 1, 7, 17, 33, 100 };
	for (int t = 0; t < 4; t++)
		for (int i = 0; i < 5; i++)
			for (int j = 0; j < 5; j++)
				for (int k = 0; k < 5; k++)
					one(t & 1, t >> 1, sz[i], sz[j], sz[k], t == 2 ? -0.5f : 1, t == 1 ? 0 : 1,
					    (i + j + k) % 3 ? 0 : 5, &r);
	static const int sh[][3] = { { 16, 4224, 16 }, { 64, 256, 576 }, { 576, 64, 256 },
	                             { 16, 16, 4224 }, { 3, 1000, 27 }, { 40, 50, 1153 } };
	for (int s = 0; s < 6; s++)
		for (int t = 0; t < 4; t++)
			one(t & 1, t >> 1, sh[s][0], sh[s][1], sh[s][2], 1, t == 1 ? 0 : 1, 3, &r);
	float a[64], b[64], c[64 * 64];
	fill(a, 64, &r);
	fill(b, 64, &r);
	a[3] = 0x1p-140f, b[5] = -0x1p-135f, a[7] = 1.0f + 0x1p-8f;
	for (int t = 0; t < 4; t++) {
		ms_gemm(t & 1, t >> 1, 64, 64, 1, 1, a, t & 1 ? 64 : 1, b, t >> 1 ? 1 : 64, 0, c, 64);
		int bad = 0;
		for (int i = 0; i < 64; i++)
			for (int j = 0; j < 64; j++)
				bad += c[i * 64 + j] != ms_gemm_bf16(a[i]) * ms_gemm_bf16(b[j]);
		CHECK(bad == 0);
	}
	split_check();
	bf = 0;
	ms_gemm_use_precision("fp32");
	CHECK(!strcmp(ms_gemm_precision(), "fp32"));
}

/* ms_gemm_pairs: A given as pairs of its columns (ms_gemm_pairs_vec) and B as pairs of its
 * rows (ms_gemm_pairs_row) give the same bytes as ms_gemm on A and B, for K in one block
 * and in several (K 600: three of 200), ldp and lda wider than needed, alpha and beta;
 * both round as ms_gemm_bf16; a transposed shape or blocks that start at odd k are
 * refused */
static void test_pairs(void)
{
	ms_gemm_use("avx512");
	if (strcmp(ms_gemm_use_precision("bf16"), "bf16")) {
		fprintf(stderr, "test_pairs: no AVX512_BF16 here, skipped\n");
		CHECK(!ms_gemm_pairs_ok(8, 64, 16));
		ms_gemm_use_precision("fp32");
		return;
	}
	ms_rng r;
	ms_rng_init(&r, 11, 0);
	static const int sh[][3] = { { 1, 16, 1 }, { 5, 37, 2 }, { 8, 100, 3 }, { 17, 48, 16 },
	                             { 64, 800, 33 }, { 9, 61, 256 }, { 24, 130, 600 } };
	for (int s = 0; s < 7; s++) {
		int M = sh[s][0], N = sh[s][1], K = sh[s][2], lda = K + 3, ldp = (N + 15) / 16 * 16 + 16;
		int kp = (K + 1) / 2, ldq = kp + 2;
		float *a = malloc(sizeof(float) * M * lda), *b = malloc(sizeof(float) * K * N);
		float *c0 = malloc(sizeof(float) * M * N), *c1 = malloc(sizeof(float) * M * N);
		uint32_t *p = calloc((size_t)kp * ldp, sizeof(uint32_t));
		uint32_t *q = calloc((size_t)M * ldq, sizeof(uint32_t));
		fill(a, (size_t)M * lda, &r);
		fill(b, (size_t)K * N, &r);
		for (int i = 0; i < M; i++)
			ms_gemm_pairs_vec(a + (size_t)i * lda, K, q + (size_t)i * ldq);
		for (int k = 0; k < kp; k++)
			ms_gemm_pairs_row(b + (size_t)2 * k * N, 2 * k + 1 < K ? b + (size_t)(2 * k + 1) * N : NULL,
			                  N, p + (size_t)k * ldp);
		int bad = 0;
		for (int k = 0; k < K; k++)
			for (int j = 0; j < N; j++) {
				uint32_t w = p[(size_t)k / 2 * ldp + j];
				float x, y = ms_gemm_bf16(b[(size_t)k * N + j]);
				w = k % 2 ? w & 0xffff0000u : w << 16;
				memcpy(&x, &w, sizeof x);
				bad += memcmp(&x, &y, sizeof x) != 0;
			}
		for (int i = 0; i < M; i++)
			for (int k = 0; k < 2 * kp; k++) {   /* k = K (K odd): the high half 0 */
				uint32_t w = q[(size_t)i * ldq + k / 2];
				float x, y = k < K ? ms_gemm_bf16(a[(size_t)i * lda + k]) : 0;
				w = k % 2 ? w & 0xffff0000u : w << 16;
				memcpy(&x, &w, sizeof x);
				bad += memcmp(&x, &y, sizeof x) != 0;
			}
		CHECK(bad == 0);
		CHECK(ms_gemm_pairs_ok(M, N, K));
		for (int t = 0; t < 3; t++) {
			float alpha = t == 2 ? -0.5f : 1, beta = t == 0 ? 0 : 0.75f;
			fill(c0, (size_t)M * N, &r);
			memcpy(c1, c0, sizeof(float) * M * N);
			ms_gemm(0, 0, M, N, K, alpha, a, lda, b, N, beta, c0, N);
			ms_gemm_pairs(M, N, K, alpha, q, ldq, p, ldp, beta, c1, N);
			CHECK(!memcmp(c0, c1, sizeof(float) * M * N));
		}
		free(a), free(b), free(c0), free(c1), free(p), free(q);
	}
	CHECK(!ms_gemm_pairs_ok(64, 2, 16));         /* computed transposed */
	CHECK(!ms_gemm_pairs_ok(8, 64, 536));        /* blocks of 179 k */
	CHECK(ms_gemm_pairs_ok(8, 64, 512) && ms_gemm_pairs_ok(8, 64, 255));
	ms_gemm_use_precision("fp32");
	CHECK(!ms_gemm_pairs_ok(8, 64, 16));
}

/* a path the CPU lacks falls back; an unknown name is AVX-512, or OpenBLAS without it */
static void test_use(void)
{
	CHECK(!strcmp(ms_gemm_use("scalar"), "scalar"));
	CHECK(!strcmp(ms_gemm_use("blas"), "blas"));
	const char *best = ms_gemm_use("avx512");
	CHECK(!strcmp(ms_gemm_use("nonsense"), !strcmp(best, "avx512") ? "avx512" : "blas"));
	CHECK(!strcmp(ms_gemm_use("AVX2"), "avx2") || !strcmp(best, "scalar"));
}

int main(void)
{
	RUN(test_sizes);
	RUN(test_shapes);
	RUN(test_split);
	RUN(test_bf16);
	RUN(test_pairs);
	RUN(test_use);
	return test_summary("test_gemm");
}
