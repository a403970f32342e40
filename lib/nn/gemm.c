/* Single-precision GEMM for the convolutions' shapes (a few dozen rows, thousands of
 * columns, or the reverse for the weight gradients), so that their speed does not depend
 * on the kernel OpenBLAS picks. One loop nest for every path (GotoBLAS/BLIS): blocks of
 * KC of k, then slivers of MR rows of C, each against panels of NR columns, in a
 * micro-kernel that keeps an MR x NR block of C in vector registers (8 x 48 for AVX-512,
 * 6 x 16 for AVX2, 4 x 16 portable; fewer rows for the last sliver). A is read in place
 * (op(A) = A: a pointer a row; A^T: consecutive floats a k); B is copied into column
 * panels when it is transposed or when enough slivers of rows reuse it, else read in
 * place with masked loads at the edge. A product of a few columns and many rows is
 * computed transposed, C^T = op(B)^T op(A)^T, into a buffer, the same bytes.
 * Every element of C is its own sum over k in order (fused multiply-adds on the vector
 * paths), added to C once per block of k; the blocks depend on K only, so the result
 * does not depend on M, N, the panels or how a caller splits C.
 * Only the AVX-512 path beats OpenBLAS here (tests/bench/results/gemm-*.log; the AVX2
 * one reached 0.70x of OpenBLAS's Haswell kernels): a CPU without AVX-512 gets
 * OpenBLAS's cblas_sgemm (path "blas"); the AVX2 and portable paths are taken only when
 * MS_ISA names them. On the AVX-512 path, precision bf16 (MS_PRECISION, --precision)
 * rounds op(A) and op(B) to bfloat16 and sums their products in single precision with
 * AVX512_BF16 (block_bf below), the same loop nest; a B that comes as bfloat16 pairs
 * already (ms_gemm_pairs: Winograd's transformed input) is read in place, unpacked. */
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/util.h"
#include "gemm.h"
#include "vec.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define MS_GEMM_X86 1
#endif

#define GEMM_KC 256        /* most k per block */
#define GEMM_NC 768        /* most columns of B per packed panel */
#define GEMM_PACK_ROWS 128 /* op(B) = B: copied when M has more rows than this */
#define GEMM_SWAP_COLS 4   /* at most this many columns: computed transposed */

enum { BLAS, SCALAR, AVX2, AVX512 };
static const char *isa_names[] = { "blas", "scalar", "avx2", "avx512" };

/* micro-kernel of mr rows (a compile-time constant in each): C[0:mr, 0:n] = alpha acc +
 * beta C (beta 0: C not read), acc the sum over kc of op(A) (at: a[k*lda + r], else
 * a[r*lda + k]) times the rows of B at b + k*ldb (n columns, n <= NR) */
typedef void kernel(long kc, const float *a, long lda, const float *b, long ldb, float *c,
                    long ldc, int n, float alpha, float beta);

typedef struct {
	int mr, vw, nvmax;        /* rows, floats a vector, most vectors a row */
	kernel *k[2][4][3];       /* [at][rows: mr, 4, 2, 1][vectors - 1] */
} isa_desc;

/* the rows of the next sliver of C with left rows to go: a full one of mr, else 4, 2
 * or 1; returns the kernels' row index (0: mr, 1: 4, 2: 2, 3: 1) */
static int sliver(int left, int mr, int *m)
{
	int ri = left >= mr ? 0 : left >= 4 ? 1 : left >= 2 ? 2 : 3;
	*m = ri ? 8 >> ri : mr;
	return ri;
}

#define ARGS long kc, const float *a, long lda, const float *b, long ldb, float *c, long ldc, \
             int n, float alpha, float beta
#define PASS kc, a, lda, b, ldb, c, ldc, n, alpha, beta

/* ---- portable: 16-float vectors (vec.h), multiply and add unfused */
VINLINE void kern_s(int at, int mr, ARGS)
{
	vf acc[4] = { 0 };
	for (long k = 0; k < kc; k++, b += ldb) {
		vf bv = vload(b, n);
		for (int r = 0; r < mr; r++)
			acc[r] += (at ? a[k * lda + r] : a[r * lda + k]) * bv;
	}
	for (int r = 0; r < mr; r++) {
		vf x = acc[r] * alpha;
		if (beta != 0)
			x += beta * vload(c + r * ldc, n);
		vstore(c + r * ldc, x, n);
	}
}

#define KS(at, mr) static void ks_##at##mr(ARGS) { kern_s(at, mr, PASS); }
KS(0, 4) KS(0, 2) KS(0, 1) KS(1, 4) KS(1, 2) KS(1, 1)

#ifdef MS_GEMM_X86
/* ---- AVX-512: up to 8 rows x 3 vectors of 16, 24 accumulators */
#define T512 __attribute__((target("avx512f,fma")))

/* C[0:mr, 0:16 nv] = alpha acc + beta C (beta 0: C not read), the last vector masked */
static inline __attribute__((always_inline)) T512 void store_512(__m512 acc[8][3], int mr,
                                                                  int nv, __mmask16 last,
                                                                  float *c, long ldc,
                                                                  float alpha, float beta)
{
	__m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 8
	for (int r = 0; r < mr; r++)
#pragma GCC unroll 3
		for (int v = 0; v < nv; v++) {
			__mmask16 k = v == nv - 1 ? last : 0xffff;
			float *cp = c + r * ldc + 16 * v;
			__m512 x = _mm512_mul_ps(acc[r][v], va);
			if (beta != 0)
				x = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(k, cp), x);
			_mm512_mask_storeu_ps(cp, k, x);
		}
}

static inline __attribute__((always_inline)) T512 void kern_512(int at, int mr, int nv, ARGS)
{
	__m512 acc[8][3];
	int tail = n - 16 * (nv - 1);
	__mmask16 last = tail >= 16 ? 0xffff : (__mmask16)((1u << tail) - 1);
	const float *ap[8];
#pragma GCC unroll 8
	for (int r = 0; r < mr; r++) {
		ap[r] = a + (at ? r : r * lda);
#pragma GCC unroll 3
		for (int v = 0; v < 3; v++)
			acc[r][v] = _mm512_setzero_ps();
	}
	for (long k = 0; k < kc; k++, b += ldb) {
		__m512 bv[3];
#pragma GCC unroll 3
		for (int v = 0; v < nv; v++)
			bv[v] = v == nv - 1 ? _mm512_maskz_loadu_ps(last, b + 16 * v) :
			                      _mm512_loadu_ps(b + 16 * v);
#pragma GCC unroll 8
		for (int r = 0; r < mr; r++) {
			__m512 x = _mm512_set1_ps(at ? a[k * lda + r] : ap[r][k]);
#pragma GCC unroll 3
			for (int v = 0; v < nv; v++)
				acc[r][v] = _mm512_fmadd_ps(x, bv[v], acc[r][v]);
		}
	}
	store_512(acc, mr, nv, last, c, ldc, alpha, beta);
}

#define K512(at, mr, nv) static T512 void k512_##at##mr##nv(ARGS) { kern_512(at, mr, nv, PASS); }
#define K512R(at, mr) K512(at, mr, 1) K512(at, mr, 2) K512(at, mr, 3)
K512R(0, 8) K512R(0, 4) K512R(0, 2) K512R(0, 1) K512R(1, 8) K512R(1, 4) K512R(1, 2) K512R(1, 1)

/* ---- AVX2: up to 6 rows x 2 vectors of 8, 12 accumulators */
#define T256 __attribute__((target("avx2,fma")))

static inline __attribute__((always_inline)) T256 __m256i mask256(int n)
{
	static const int32_t m[16] = { -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0 };
	return _mm256_loadu_si256((const __m256i *)(m + 8 - (n > 8 ? 8 : n)));
}

/* part: the last vector is partial (masked loads and stores); else no mask in the loop,
 * which the 16 registers of AVX2 have no room for beside 12 accumulators */
static inline __attribute__((always_inline)) T256 void kern_256(int at, int mr, int nv,
                                                                 int part, ARGS)
{
	__m256 acc[6][2];
	__m256i last = mask256(n - 8 * (nv - 1)), all = mask256(8);
	const float *ap[6];
#pragma GCC unroll 6
	for (int r = 0; r < mr; r++) {
		ap[r] = a + (at ? r : r * lda);
#pragma GCC unroll 2
		for (int v = 0; v < 2; v++)
			acc[r][v] = _mm256_setzero_ps();
	}
	for (long k = 0; k < kc; k++, b += ldb) {
		__m256 bv[2];
#pragma GCC unroll 2
		for (int v = 0; v < nv; v++)
			bv[v] = part && v == nv - 1 ? _mm256_maskload_ps(b + 8 * v, last) :
			                              _mm256_loadu_ps(b + 8 * v);
#pragma GCC unroll 6
		for (int r = 0; r < mr; r++) {
			__m256 x = _mm256_set1_ps(at ? a[k * lda + r] : ap[r][k]);
#pragma GCC unroll 2
			for (int v = 0; v < nv; v++)
				acc[r][v] = _mm256_fmadd_ps(x, bv[v], acc[r][v]);
		}
	}
	__m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
#pragma GCC unroll 6
	for (int r = 0; r < mr; r++)
#pragma GCC unroll 2
		for (int v = 0; v < nv; v++) {
			__m256i k = v == nv - 1 ? last : all;
			float *cp = c + r * ldc + 8 * v;
			__m256 x = _mm256_mul_ps(acc[r][v], va);
			if (beta != 0)
				x = _mm256_fmadd_ps(vb, _mm256_maskload_ps(cp, k), x);
			_mm256_maskstore_ps(cp, k, x);
		}
}

#define K256(at, mr, nv) \
	static T256 void k256_##at##mr##nv(ARGS) \
	{ \
		if (n < 8 * nv) \
			kern_256(at, mr, nv, 1, PASS); \
		else \
			kern_256(at, mr, nv, 0, PASS); \
	}
#define K256R(at, mr) K256(at, mr, 1) K256(at, mr, 2)
K256R(0, 6) K256R(0, 4) K256R(0, 2) K256R(0, 1) K256R(1, 6) K256R(1, 4) K256R(1, 2) K256R(1, 1)
#endif

static const isa_desc isas[] = {
	[SCALAR] = { 4, VL, 1, { { { ks_04 }, { ks_04 }, { ks_02 }, { ks_01 } },
	                         { { ks_14 }, { ks_14 }, { ks_12 }, { ks_11 } } } },
#ifdef MS_GEMM_X86
	[AVX2] = { 6, 8, 2, { { { k256_061, k256_062 }, { k256_041, k256_042 },
	                        { k256_021, k256_022 }, { k256_011, k256_012 } },
	                      { { k256_161, k256_162 }, { k256_141, k256_142 },
	                        { k256_121, k256_122 }, { k256_111, k256_112 } } } },
	[AVX512] = { 8, 16, 3, { { { k512_081, k512_082, k512_083 },
	                           { k512_041, k512_042, k512_043 },
	                           { k512_021, k512_022, k512_023 },
	                           { k512_011, k512_012, k512_013 } },
	                         { { k512_181, k512_182, k512_183 },
	                           { k512_141, k512_142, k512_143 },
	                           { k512_121, k512_122, k512_123 },
	                           { k512_111, k512_112, k512_113 } } } },
#endif
};

static int cpu_has(int isa)
{
#ifdef MS_GEMM_X86
	if (isa == AVX512)
		return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
	if (isa == AVX2)
		return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
	return isa == SCALAR || isa == BLAS;
}

static int isa = -1;

/* the path named e, or the next one down the CPU has; NULL or unknown: AVX-512 if the
 * CPU has it, else OpenBLAS */
static int isa_named(const char *e)
{
	int i = -1;
	for (int j = 0; e && *e && j <= AVX512; j++)
		if (!strcasecmp(e, isa_names[j]))
			i = j;
	if (i < 0)
		return cpu_has(AVX512) ? AVX512 : BLAS;
	while (!cpu_has(i))
		i--;
	return i;
}

static int isa_pick(void)
{
	int i = __atomic_load_n(&isa, __ATOMIC_RELAXED);
	if (i < 0) {
		i = isa_named(getenv("MS_ISA"));
		__atomic_store_n(&isa, i, __ATOMIC_RELAXED);
	}
	return i;
}

const char *ms_gemm_isa(void)
{
	return isa_names[isa_pick()];
}

const char *ms_gemm_use(const char *name)
{
	__atomic_store_n(&isa, isa_named(name), __ATOMIC_RELAXED);
	return ms_gemm_isa();
}

/* precision: 1 where bf16 is asked for (MS_PRECISION or ms_gemm_use_precision) and the
 * CPU has AVX512_BF16, 0 not, -1 not read yet; bf16 is used where it is 1 and the path
 * is avx512 */
static int prec = -1;

/* whether name asks for bf16 and the CPU has it */
static int bf16_named(const char *name)
{
	int on = name && !strcasecmp(name, "bf16");
#ifdef MS_GEMM_X86
	return on && __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw");
#else
	return (void)on, 0;
#endif
}

static int bf16_on(int isa)
{
	int p = __atomic_load_n(&prec, __ATOMIC_RELAXED);
	if (p < 0) {
		p = bf16_named(getenv("MS_PRECISION"));
		__atomic_store_n(&prec, p, __ATOMIC_RELAXED);
	}
	return p && isa == AVX512;
}

const char *ms_gemm_precision(void)
{
	return bf16_on(isa_pick()) ? "bf16" : "fp32";
}

const char *ms_gemm_use_precision(const char *name)
{
	__atomic_store_n(&prec, bf16_named(name), __ATOMIC_RELAXED);
	return ms_gemm_precision();
}

int ms_gemm_precision_arg(const char *arg)
{
	if (strcmp(arg, "fp32") && strcmp(arg, "bf16"))
		return ms_error("not fp32 or bf16: '%s'", arg);
	if (strcmp(ms_gemm_use_precision(arg), arg))
		warn("--precision %s: no AVX512_BF16 on the path in use (%s); products in fp32", arg,
		     ms_gemm_isa());
	return 0;
}

/* ---- per-thread buffers: a packed panel of B, KC x NC (bf16: B's KC/2 x NC pairs, a
 * sliver of A and block_bf's scratch in the same room), and C^T of a transposed product,
 * GEMM_SWAP_COLS x NC */
#define BUF_FLOATS ((size_t)(GEMM_KC + GEMM_SWAP_COLS) * GEMM_NC)

static pthread_key_t buf_key;
static pthread_once_t buf_once = PTHREAD_ONCE_INIT;

static void buf_init(void)
{
	MS_ASSERT(pthread_key_create(&buf_key, free) == 0);
}

static float *buffer(void)
{
	pthread_once(&buf_once, buf_init);
	float *p = pthread_getspecific(buf_key);
	if (!p) {
		p = aligned_alloc(64, BUF_FLOATS * sizeof *p);
		MS_ASSERT(p && pthread_setspecific(buf_key, p) == 0);
	}
	return p;
}

/* x rounded to bfloat16 as VCVTNEPS2BF16 does: to nearest even, NaN quieted, denormal
 * inputs and outputs flushed to zero; the 16 bits */
static uint16_t bf16_bits(float x)
{
	uint32_t u;
	memcpy(&u, &x, sizeof u);
	if ((u & 0x7f800000u) == 0)
		return (uint16_t)(u >> 16 & 0x8000u);
	if ((u & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)(u >> 16 | 0x40u);
	return (uint16_t)((u + 0x7fffu + (u >> 16 & 1)) >> 16);
}

float ms_gemm_bf16(float x)
{
	uint32_t u = (uint32_t)bf16_bits(x) << 16;
	memcpy(&x, &u, sizeof x);
	return x;
}

static inline uint32_t bf_pair(float lo, float hi)
{
	return (uint32_t)bf16_bits(lo) | (uint32_t)bf16_bits(hi) << 16;
}

#ifdef MS_GEMM_X86
/* pack_b's B^T case on the AVX-512 path (vw 16): 16 x 16 blocks transposed in registers */
static T512 void pack_bt_512(const float *b, long ldb, int kc, int w, int wp, float *p)
{
	for (int k0 = 0; k0 < kc; k0 += 16) {
		int kk = kc - k0 < 16 ? kc - k0 : 16;
		__mmask16 km = kk == 16 ? 0xffff : (__mmask16)((1u << kk) - 1);
		for (int j0 = 0; j0 < wp; j0 += 16) {
			__m512 r[16], t[16];
#pragma GCC unroll 16
			for (int j = 0; j < 16; j++)
				r[j] = j0 + j < w ? _mm512_maskz_loadu_ps(km, b + (long)(j0 + j) * ldb + k0) :
				                    _mm512_setzero_ps();
#pragma GCC unroll 8
			for (int j = 0; j < 16; j += 2) {
				t[j] = _mm512_unpacklo_ps(r[j], r[j + 1]);
				t[j + 1] = _mm512_unpackhi_ps(r[j], r[j + 1]);
			}
#pragma GCC unroll 4
			for (int j = 0; j < 16; j += 4) {
				__m512d a0 = _mm512_castps_pd(t[j]), a1 = _mm512_castps_pd(t[j + 1]),
				        a2 = _mm512_castps_pd(t[j + 2]), a3 = _mm512_castps_pd(t[j + 3]);
				r[j] = _mm512_castpd_ps(_mm512_unpacklo_pd(a0, a2));
				r[j + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a0, a2));
				r[j + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(a1, a3));
				r[j + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(a1, a3));
			}
			/* r[4g + q]: lane l holds column 4l + q of rows 4g..4g+3 */
#pragma GCC unroll 4
			for (int q = 0; q < 4; q++) {
				__m512 v0 = _mm512_shuffle_f32x4(r[q], r[4 + q], 0x88),
				       v1 = _mm512_shuffle_f32x4(r[q], r[4 + q], 0xdd),
				       w0 = _mm512_shuffle_f32x4(r[8 + q], r[12 + q], 0x88),
				       w1 = _mm512_shuffle_f32x4(r[8 + q], r[12 + q], 0xdd);
				t[q] = _mm512_shuffle_f32x4(v0, w0, 0x88);
				t[8 + q] = _mm512_shuffle_f32x4(v0, w0, 0xdd);
				t[4 + q] = _mm512_shuffle_f32x4(v1, w1, 0x88);
				t[12 + q] = _mm512_shuffle_f32x4(v1, w1, 0xdd);
			}
#pragma GCC unroll 16
			for (int k = 0; k < 16; k++)
				if (k < kk)
					_mm512_storeu_ps(p + (long)(k0 + k) * wp + j0, t[k]);
		}
	}
}

/* ---- bfloat16 products (precision "bf16"): op(A) and op(B) rounded to bfloat16 (8 bits
 * of mantissa, to nearest even), multiplied and summed in single precision by
 * AVX512_BF16's VDPBF16PS, two k at a time: each 32-bit lane of a vector holds the pair
 * (k, k+1) of one row of A or one column of B. A sliver of A is packed [mr][kp] (kp pairs,
 * the last one zero padded where kc is odd), a panel of B [kp][wp], then a micro-kernel of
 * up to 8 rows x 3 vectors of 16 as on the AVX-512 path. The loop nest, blocks of k and
 * the order of the sums are those of the single-precision paths, so the result is again
 * the same bytes however a caller splits C. */
#define TBF __attribute__((target("avx512f,avx512bw,avx512bf16,fma")))

static inline __attribute__((always_inline)) TBF void kern_bf(int mr, int nv, long kp,
                                                               const uint32_t *a, long lda,
                                                               const uint32_t *b, long ldb,
                                                               float *c, long ldc, int n,
                                                               float alpha, float beta)
{
	__m512 acc[8][3];
	int tail = n - 16 * (nv - 1);
	__mmask16 last = tail >= 16 ? 0xffff : (__mmask16)((1u << tail) - 1);
#pragma GCC unroll 8
	for (int r = 0; r < mr; r++)
#pragma GCC unroll 3
		for (int v = 0; v < 3; v++)
			acc[r][v] = _mm512_setzero_ps();
	for (long k = 0; k < kp; k++, b += ldb) {
		__m512bh bv[3];
#pragma GCC unroll 3
		for (int v = 0; v < nv; v++)
			bv[v] = (__m512bh)_mm512_loadu_si512(b + 16 * v);
#pragma GCC unroll 8
		for (int r = 0; r < mr; r++) {
			__m512bh x = (__m512bh)_mm512_set1_epi32((int)a[r * lda + k]);
#pragma GCC unroll 3
			for (int v = 0; v < nv; v++)
				acc[r][v] = _mm512_dpbf16_ps(acc[r][v], x, bv[v]);
		}
	}
	store_512(acc, mr, nv, last, c, ldc, alpha, beta);
}

typedef void kernel_bf(long kp, const uint32_t *a, long lda, const uint32_t *b, long ldb,
                       float *c, long ldc, int n, float alpha, float beta);
#define KBF(mr, nv) \
	static TBF void kbf_##mr##nv(long kp, const uint32_t *a, long lda, const uint32_t *b, \
	                             long ldb, float *c, long ldc, int n, float alpha, float beta) \
	{ \
		kern_bf(mr, nv, kp, a, lda, b, ldb, c, ldc, n, alpha, beta); \
	}
#define KBFR(mr) KBF(mr, 1) KBF(mr, 2) KBF(mr, 3)
KBFR(8) KBFR(4) KBFR(2) KBFR(1)
static kernel_bf *const kbf[4][3] = { { kbf_81, kbf_82, kbf_83 }, { kbf_41, kbf_42, kbf_43 },
                                      { kbf_21, kbf_22, kbf_23 }, { kbf_11, kbf_12, kbf_13 } };

/* n floats of x (n <= 32, pairs of consecutive floats) into n/2 rounded up pairs at p,
 * the last one's upper half 0 where n is odd */
static inline __attribute__((always_inline)) TBF void bf_row(const float *x, int n, uint32_t *p)
{
	__mmask16 m0 = n >= 16 ? 0xffff : (__mmask16)((1u << n) - 1),
	          m1 = n >= 32 ? 0xffff : n <= 16 ? 0 : (__mmask16)((1u << (n - 16)) - 1);
	__m512bh h = _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(m1, x + 16),
	                                 _mm512_maskz_loadu_ps(m0, x));
	int q = (n + 1) / 2;
	_mm512_mask_storeu_epi32(p, q >= 16 ? 0xffff : (__mmask16)((1u << q) - 1), (__m512i)h);
}

/* the sliver op(A)[0:mr, 0:kc] into pairs, p[r * kp + k] */
static TBF void pack_a_bf(int ta, const float *a, long lda, int mr, int kc, uint32_t *p)
{
	int kp = (kc + 1) / 2;
	for (int r = 0; r < mr; r++) {
		uint32_t *q = p + (long)r * kp;
		if (!ta) {
			for (int k = 0; k < kc; k += 32)
				bf_row(a + (long)r * lda + k, kc - k < 32 ? kc - k : 32, q + k / 2);
			continue;
		}
		for (int k = 0; k < kp; k++)
			q[k] = bf_pair(a[(long)2 * k * lda + r], 2 * k + 1 < kc ? a[(2L * k + 1) * lda + r] : 0);
	}
}

/* n floats of x into (n + 1) / 2 pairs at p (ms_gemm_pairs_vec) */
static TBF void bf_vec(const float *x, int n, uint32_t *p)
{
	for (int k = 0; k < n; k += 32)
		bf_row(x + k, n - k < 32 ? n - k : 32, p + k / 2);
}

/* n floats of rows lo and hi (NULL: zeros) into n pairs at p, then zero pairs up to np */
static TBF void pair_rows(const float *lo, const float *hi, int n, int np, uint32_t *p)
{
	/* interleaves the 16 + 16 bfloat16 of two rows into 16 pairs */
	const __m512i mix = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9,
	                                     24, 8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1,
	                                     16, 0);
	for (int j = 0; j < np; j += 16) {
		int left = n - j < 0 ? 0 : n - j;
		__mmask16 m = left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1),
		          ms = np - j >= 16 ? 0xffff : (__mmask16)((1u << (np - j)) - 1);
		__m512 x0 = _mm512_maskz_loadu_ps(m, lo + j),
		       x1 = hi ? _mm512_maskz_loadu_ps(m, hi + j) : _mm512_setzero_ps();
		__m512i h = (__m512i)_mm512_cvtne2ps_pbh(x1, x0);
		_mm512_mask_storeu_epi32(p + j, ms, _mm512_permutexvar_epi16(mix, h));
	}
}

/* op(B)[0:kc, 0:nc] into panels of 48 columns of pairs, [kp][w rounded up to 16] each,
 * zero padded; t: scratch of 48 x kp pairs for B^T */
static TBF void pack_b_bf(int tb, const float *b, long ldb, int kc, int nc, uint32_t *p,
                          uint32_t *t)
{
	int kp = (kc + 1) / 2;
	for (int j0 = 0, w, wp; j0 < nc; j0 += 48, p += (long)kp * wp) {
		w = nc - j0 < 48 ? nc - j0 : 48, wp = (w + 15) / 16 * 16;
		if (tb) {       /* rows of B^T are columns here: pairs along them, then transposed */
			for (int j = 0; j < w; j++)
				for (int k = 0; k < kc; k += 32)
					bf_row(b + (long)(j0 + j) * ldb + k, kc - k < 32 ? kc - k : 32,
					       t + (long)j * kp + k / 2);
			pack_bt_512((const float *)t, kp, kp, w, wp, (float *)p);
			continue;
		}
		for (int k = 0; k < kp; k++) {
			const float *r0 = b + (long)2 * k * ldb + j0;
			pair_rows(r0, 2 * k + 1 < kc ? r0 + ldb : NULL, w, wp, p + (long)k * wp);
		}
	}
}

/* block() of the bf16 path: C[0:M, 0:N] over one block of kc k; with pairs (B NULL), B's
 * pairs of rows of that block are read in place, pairs[k * ldp + j], and with apairs (A
 * NULL), A's pairs of columns, apairs[i * ldap + k] */
static void block_bf(int ta, int tb, int M, int N, int kc, float alpha, const float *A,
                     long lda, const uint32_t *apairs, long ldap, const float *B, long ldb,
                     const uint32_t *pairs, long ldp, float bt, float *C, long ldc,
                     float *buf)
{
	int kp = (kc + 1) / 2;
	uint32_t *bp = (uint32_t *)buf, *ap = bp + (size_t)GEMM_KC / 2 * GEMM_NC,
	         *t = ap + 8 * GEMM_KC / 2;
	for (int j0 = 0; j0 < N; j0 += GEMM_NC) {
		int nc = N - j0 < GEMM_NC ? N - j0 : GEMM_NC;
		if (!pairs)
			pack_b_bf(tb, tb ? B + (long)j0 * ldb : B + j0, ldb, kc, nc, bp, t);
		for (int i0 = 0; i0 < M; ) {
			int m, ri = sliver(M - i0, 8, &m);
			const uint32_t *ai = apairs ? apairs + (long)i0 * ldap : ap;
			if (!apairs)
				pack_a_bf(ta, ta ? A + i0 : A + (long)i0 * lda, lda, m, kc, ap);
			const uint32_t *bj = pairs ? pairs + j0 : bp;
			for (int jr = 0; jr < nc; jr += 48) {
				int w = nc - jr < 48 ? nc - jr : 48, nv = (w + 15) / 16;
				kbf[ri][nv - 1](kp, ai, apairs ? ldap : kp, bj, pairs ? ldp : nv * 16,
				                C + (long)i0 * ldc + j0 + jr, ldc, w, alpha, bt);
				bj += pairs ? 48 : (long)kp * nv * 16;
			}
			i0 += m;
		}
	}
}

#endif

static void transpose(int isa, const float *b, long ldb, int kc, int w, int wp, float *p)
{
#ifdef MS_GEMM_X86
	if (isa == AVX512) {
		pack_bt_512(b, ldb, kc, w, wp, p);
		return;
	}
#endif
	for (int k = 0; k < kc; k++) {
		float *q = p + (long)k * wp;
		for (int j = 0; j < w; j++)
			q[j] = b[(long)j * ldb + k];
		memset(q + w, 0, (wp - w) * sizeof *q);
	}
}

void ms_gemm_transpose(const float *b, long ldb, int kc, int w, int wp, float *p)
{
	transpose(isa_pick(), b, ldb, kc, w, wp, p);
}

/* op(B)[0:kc, 0:nc] into panels of nr columns ([k][w rounded up to vw], zero padded) */
static void pack_b(int isa, int tb, const float *b, long ldb, int kc, int nc, int nr, int vw,
                   float *p)
{
	for (int j0 = 0, w, wp; j0 < nc; j0 += nr, p += (long)kc * wp) {
		w = nc - j0 < nr ? nc - j0 : nr, wp = (w + vw - 1) / vw * vw;
		if (tb) {
			transpose(isa, b + (long)j0 * ldb, ldb, kc, w, wp, p);
			continue;
		}
		for (int k = 0; k < kc; k++) {
			float *q = p + (long)k * wp;
			memcpy(q, b + k * ldb + j0, w * sizeof *q);
			memset(q + w, 0, (wp - w) * sizeof *q);
		}
	}
}

/* C[0:M, 0:N] over one block of kc k, op(A) and op(B) starting at that block */
static void block(const isa_desc *d, int isa, int ta, int tb, int M, int N, int kc,
                  float alpha, const float *A, long lda, const float *B, long ldb, float bt,
                  float *C, long ldc, float *bp)
{
	int mr = d->mr, nr = d->vw * d->nvmax, pack = tb || M > GEMM_PACK_ROWS;
	for (int j0 = 0; j0 < N; j0 += GEMM_NC) {
		int nc = N - j0 < GEMM_NC ? N - j0 : GEMM_NC;
		const float *bsrc = tb ? B + (long)j0 * ldb : B + j0;
		if (pack)
			pack_b(isa, tb, bsrc, ldb, kc, nc, nr, d->vw, bp);
		for (int i0 = 0; i0 < M; ) {
			int m, ri = sliver(M - i0, mr, &m);
			const float *a = ta ? A + i0 : A + (long)i0 * lda;
			const float *bj = bp;
			for (int jr = 0; jr < nc; jr += nr) {
				int w = nc - jr < nr ? nc - jr : nr, nv = (w + d->vw - 1) / d->vw;
				float *c = C + (long)i0 * ldc + j0 + jr;
				if (pack) {
					d->k[ta][ri][nv - 1](kc, a, lda, bj, nv * d->vw, c, ldc, w, alpha, bt);
					bj += (long)kc * nv * d->vw;
				} else
					d->k[ta][ri][nv - 1](kc, a, lda, bsrc + jr, ldb, c, ldc, w, alpha, bt);
			}
			i0 += m;
		}
	}
}

static void run_block(int bf, const isa_desc *d, int isa, int ta, int tb, int M, int N,
                      int kc, float alpha, const float *A, long lda, const float *B, long ldb,
                      float bt, float *C, long ldc, float *buf)
{
#ifdef MS_GEMM_X86
	if (bf) {
		block_bf(ta, tb, M, N, kc, alpha, A, lda, NULL, 0, B, ldb, NULL, 0, bt, C, ldc, buf);
		return;
	}
#endif
	(void)bf;
	block(d, isa, ta, tb, M, N, kc, alpha, A, lda, B, ldb, bt, C, ldc, buf);
}

/* C = beta C, for K = 0 or alpha = 0 */
static void scale_c(int M, int N, float beta, float *C, int ldc)
{
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++) {
			float *c = C + (long)i * ldc + j;
			*c = beta == 0 ? 0 : beta * *c;
		}
}

/* the blocks of k: kcb k each (the last one fewer) */
static int k_block(int K)
{
	int nk = (K + GEMM_KC - 1) / GEMM_KC;
	return (K + nk - 1) / nk;
}

static int swapped(int M, int N)
{
	return N <= GEMM_SWAP_COLS && M >= 4 * N;
}

int ms_gemm_pairs_ok(int M, int N, int K)
{
	return bf16_on(isa_pick()) && !swapped(M, N) && (K <= 0 || k_block(K) % 2 == 0 ||
	                                                  k_block(K) >= K);
}

void ms_gemm_pairs_row(const float *lo, const float *hi, int n, uint32_t *p)
{
#ifdef MS_GEMM_X86
	if (bf16_on(isa_pick())) {
		pair_rows(lo, hi, n, n, p);
		return;
	}
#endif
	for (int j = 0; j < n; j++)
		p[j] = bf_pair(lo[j], hi ? hi[j] : 0);
}

void ms_gemm_pairs_vec(const float *x, int n, uint32_t *p)
{
#ifdef MS_GEMM_X86
	if (bf16_on(isa_pick())) {
		bf_vec(x, n, p);
		return;
	}
#endif
	for (int k = 0; 2 * k < n; k++)
		p[k] = bf_pair(x[2 * k], 2 * k + 1 < n ? x[2 * k + 1] : 0);
}

void ms_gemm_pairs(int M, int N, int K, float alpha, const uint32_t *a, int lda,
                   const uint32_t *pairs, int ldp, float beta, float *C, int ldc)
{
	if (M <= 0 || N <= 0)
		return;
	if (K <= 0 || alpha == 0) {
		scale_c(M, N, beta, C, ldc);
		return;
	}
	MS_ASSERT(ms_gemm_pairs_ok(M, N, K));
#ifdef MS_GEMM_X86
	int kcb = k_block(K);
	float *buf = buffer();
	for (int p0 = 0; p0 < K; p0 += kcb) {
		int kc = K - p0 < kcb ? K - p0 : kcb;
		block_bf(0, 0, M, N, kc, alpha, NULL, 0, a + p0 / 2, lda, NULL, 0,
		         pairs + (long)p0 / 2 * ldp, ldp, p0 ? 1.0f : beta, C, ldc, buf);
	}
#else
	(void)a, (void)lda, (void)pairs, (void)ldp, (void)C, (void)ldc;
#endif
}

void ms_gemm(int transa, int transb, int M, int N, int K, float alpha, const float *A,
             int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
	if (M <= 0 || N <= 0)
		return;
	if (K <= 0 || alpha == 0) {
		scale_c(M, N, beta, C, ldc);
		return;
	}
	int isa = isa_pick();
	if (isa == BLAS) {
		cblas_sgemm(CblasRowMajor, transa ? CblasTrans : CblasNoTrans,
		            transb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta,
		            C, ldc);
		return;
	}
	const isa_desc *d = &isas[isa];
	int bf = bf16_on(isa);
	int kcb = k_block(K);
	/* a few columns, many rows: C^T[N,M] = op(B)^T op(A)^T, by slices of NC rows of C,
	 * into t with alpha 1 and beta 0 (the sums exactly), then C = alpha t^T + beta C as
	 * the kernels do it */
	int swap = swapped(M, N);
	float *buf = buffer(), *t = buf + (size_t)GEMM_KC * GEMM_NC;
	for (int p0 = 0; p0 < K; p0 += kcb) {
		int kc = K - p0 < kcb ? K - p0 : kcb;
		float bt = p0 ? 1.0f : beta;
		const float *a = transa ? A + (long)p0 * lda : A + p0,
		            *b = transb ? B + p0 : B + (long)p0 * ldb;
		if (!swap) {
			run_block(bf, d, isa, transa, transb, M, N, kc, alpha, a, lda, b, ldb, bt, C, ldc,
			          buf);
			continue;
		}
		for (int i0 = 0; i0 < M; i0 += GEMM_NC) {
			int m = M - i0 < GEMM_NC ? M - i0 : GEMM_NC;
			run_block(bf, d, isa, !transb, !transa, N, m, kc, 1.0f, b, ldb,
			          transa ? a + i0 : a + (long)i0 * lda, lda, 0.0f, t, m, buf);
			for (int i = 0; i < m; i++)
				for (int j = 0; j < N; j++) {
					float *c = C + (long)(i0 + i) * ldc + j, x = alpha * t[(long)j * m + i];
					if (isa == SCALAR)
						*c = bt == 0 ? x : x + bt * *c;
					else
						*c = bt == 0 ? x : fmaf(bt, *c, x);
				}
		}
	}
}
