/* Winograd F(2x2,3x3) and F(4x4,3x3) for the 3x3 stride 1 convolutions: see winograd.h. */
#include <limits.h>
#include <string.h>

#include "core/threads.h"
#include "gemm.h"
#include "nn.h"
#include "vec.h"
#include "winograd.h"

static int wino_on = 1, pairs_on = 1, f4_on = 1;

/* a switch set to on (0, 1 or, ms_wino_f4, 2; -1: left), returning its setting before */
static int toggle(int *sw, int on)
{
	int old = *sw;
	if (on >= 0)
		*sw = on;
	return old;
}

int ms_conv2d_winograd(int on)
{
	return toggle(&wino_on, on);
}

int ms_wino_f4(int on)
{
	return toggle(&f4_on, on);
}

int ms_conv2d_pairs(int on)
{
	return toggle(&pairs_on, on);
}

/* bf16 products with V and U as bfloat16 pairs, for a part of T tiles */
static int pairs(const ms_conv2d *c, size_t T)
{
	return pairs_on && ms_gemm_pairs_ok(c->cout, (int)T, c->cin);
}

int ms_wino_m(const ms_conv2d *c, int W)
{
	if (!ms_wino(c, W))
		return 0;
	/* 4 x 4 pays from 64 columns on, 16 tiles a row (tests/bench/conv.sh 3 f4: 1.2x to
	 * 1.7x forward, 1.2x to 1.4x backward, 16 to 128 channels, sides 64 and 128); at 32,
	 * 8 tiles fill half a vector and 2 x 2 is faster (0.6x to 0.8x) */
	return f4_on && W >= 64 && (f4_on == 2 || strcmp(ms_gemm_precision(), "bf16")) ? 4 : 2;
}

int ms_wino(const ms_conv2d *c, int W)
{
	/* the transforms work along a row of tiles, 16 at a time: on narrower images, below
	 * 16 channels on either side and with 16 on both, they cost more than the products
	 * they save (tests/bench/conv.sh: 8 images, one thread, 8 to 256 channels, sides 8
	 * to 64); at side 16 only 256 channels on both sides pay. With F(4x4,3x3) too, 16 on
	 * both sides loses at sides 32 and 64 (0.68x to 0.78x forward, three runs of
	 * tests/bench/conv.sh 5 all) and is level at 128 (0.91x, 0.95x, 1.12x) */
	if (wino_on == 2)
		return c->k == 3 && c->stride == 1;
	return wino_on && c->k == 3 && c->stride == 1 && c->cin >= 16 && c->cout >= 16 &&
	       c->cin + c->cout > 32 && (W >= 32 || (W >= 16 && c->cin >= 256 && c->cout >= 256));
}

/* tile rows (of m output rows) per work item: V and M about one tile of floats */
int ms_wino_rows(const ms_conv2d *c, int W, int m)
{
	long r = ms_conv2d_tile(0) / ((m + 2L) * (m + 2) * (c->cin + c->cout) * ((W + m - 1) / m));
	return (int)(r < 1 ? 1 : r);
}

/* the row length, in pairs, of V as bfloat16 pairs of channels (bf16 products) for T
 * tiles: T rounded up to the GEMM's 16-column vectors */
static size_t pairs_ld(size_t T)
{
	return (T + 15) / 16 * 16;
}

/* a work item's workspace for output tiles of m x m (a = m + 2 input rows and columns a
 * tile, a^2 transformed points), offsets in floats: V [a^2, cin, T] (bf16, m 2: [16,
 * cin/2 rounded up, pairs_ld(T)] pairs of channels) and M [a^2, cout, T] (T up to rows
 * tw; dW: D in place of M), the m phases of the columns of the input rows of two
 * channels of one image's part (tw + 1 each), the m output rows of a tile row (m tw
 * each) or, m 2, the transforms of a tile row of two channels (16 tw each), dW's sums P
 * [a^2, cout, cin]; end: its size */
typedef struct {
	size_t v, m, eo, eo1, rb, pp, end;
} layout;

static layout wino_layout(const ms_conv2d *c, int H, int W, int m)
{
	size_t a2 = (m + 2) * (m + 2), tw = (W + m - 1) / m, th = (H + m - 1) / m;
	size_t rows = ms_wino_rows(c, W, m), seg = rows < th ? rows : th, T = rows * tw;
	size_t vf = a2 * c->cin * T, vp = m == 2 ? 16 * (size_t)(c->cin + 1) / 2 * pairs_ld(T) : 0;
	size_t eo = m * (m * seg + 2) * (tw + 1);
	layout l = { .v = 0 };
	l.m = l.v + (vf > vp ? vf : vp);
	l.eo = l.m + a2 * c->cout * T;
	l.eo1 = l.eo + eo;
	l.rb = l.eo1 + eo;
	l.pp = l.rb + (m == 2 ? 32 : m * m) * tw;
	l.end = l.pp + a2 * c->cin * c->cout;
	return l;
}

size_t ms_wino_floats(const ms_conv2d *c, int H, int W)
{
	size_t f2 = wino_layout(c, H, W, 2).end, f4 = wino_layout(c, H, W, 4).end;
	return f2 > f4 ? f2 : f4;
}

/* F(4x4,3x3)'s u [36, cout, cin] = G g G^T, G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6;
 * 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1] */
static const float G4[6][3] = { { 1 / 4.0f, 0, 0 }, { -1 / 6.0f, -1 / 6.0f, -1 / 6.0f },
	{ -1 / 6.0f, 1 / 6.0f, -1 / 6.0f }, { 1 / 24.0f, 1 / 12.0f, 1 / 6.0f },
	{ 1 / 24.0f, -1 / 12.0f, 1 / 6.0f }, { 0, 0, 1 } };

/* the kernels k .. k + m - 1 (m <= VL), tap j of kernel k + l at lane l of g[j] */
VINLINE void kernel_taps(const float *w, size_t k, size_t m, vf *g)
{
	float t[9][VL] = { { 0 } };
	for (size_t l = 0; l < m; l++)
		for (int j = 0; j < 9; j++)
			t[j][l] = w[9 * (k + l) + j];
	for (int j = 0; j < 9; j++)
		g[j] = vload(t[j], VL);
}

/* F(4x4,3x3)'s U of VL kernels, g (kernel_taps), m of them stored at u, oc apart */
VINLINE void kernel4(const vf *g, float *u, size_t oc, size_t m)
{
	vf t[6][3];
	for (int r = 0; r < 6; r++)
		for (int q = 0; q < 3; q++)
			t[r][q] = G4[r][0] * g[q] + G4[r][1] * g[3 + q] + G4[r][2] * g[6 + q];
	for (int r = 0; r < 6; r++)
		for (int q = 0; q < 6; q++)
			vstore(u + (6 * r + q) * oc, t[r][0] * G4[q][0] + t[r][1] * G4[q][1] +
			                             t[r][2] * G4[q][2], m);
}

/* F(2x2,3x3)'s, G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1] */
VINLINE void kernel2(const vf *g, float *u, size_t oc, size_t m)
{
	vf t[4][3];
	for (int q = 0; q < 3; q++) {
		t[0][q] = g[q];
		t[1][q] = 0.5f * (g[q] + g[3 + q] + g[6 + q]);
		t[2][q] = 0.5f * (g[q] - g[3 + q] + g[6 + q]);
		t[3][q] = g[6 + q];
	}
	for (int r = 0; r < 4; r++) {
		vstore(u + (4 * r + 0) * oc, t[r][0], m);
		vstore(u + (4 * r + 1) * oc, 0.5f * (t[r][0] + t[r][1] + t[r][2]), m);
		vstore(u + (4 * r + 2) * oc, 0.5f * (t[r][0] - t[r][1] + t[r][2]), m);
		vstore(u + (4 * r + 3) * oc, t[r][2], m);
	}
}

typedef struct {
	const ms_conv2d *c;
	int m;
	float *u;
} kernel_job;

/* the thread's output channels: their kernels, then (bf16 pairs) their rows of U as
 * pairs */
MS_CLONES static void kernel_part(void *arg, int tid, int nt)
{
	const kernel_job *j = arg;
	const ms_conv2d *c = j->c;
	size_t oc = (size_t)c->cout * c->cin, kp = (c->cin + 1) / 2;
	long o0, o1;
	ms_range(c->cout, tid, nt, &o0, &o1);
	size_t k0 = (size_t)o0 * c->cin, k1 = (size_t)o1 * c->cin;
	for (size_t k = k0; k < k1; k += VL) {      /* VL kernels at a time */
		size_t m = vlen(k - k0, k1 - k0);
		vf g[9];
		kernel_taps(c->w->w, k, m, g);
		if (j->m == 4)
			kernel4(g, j->u + k, oc, m);
		else
			kernel2(g, j->u + k, oc, m);
	}
	if (j->m == 2 && pairs(c, INT_MAX))      /* U as bfloat16 pairs of channels, after U */
		for (int xi = 0; xi < 16; xi++)
			for (long o = o0; o < o1; o++) {
				size_t r = (size_t)xi * c->cout + o;
				ms_gemm_pairs_vec(j->u + r * c->cin, c->cin,
				                  (uint32_t *)(j->u + 16 * oc) + r * kp);
			}
}

/* u [(m+2)^2, cout, cin] = G g G^T of each kernel g = W[o][ci], by output channels in
 * the thread pool */
void ms_wino_kernel(const ms_conv2d *c, int m, float *u)
{
	kernel_job j = { c, m, u };
	ms_parallel(c->cout, kernel_part, &j);
}

/* the even and odd columns of a row of W floats with a zero border in front:
 * e[k] = x[2k-1] (e[0] = 0), o[k] = x[2k], k < n1, zero past the row */
VINLINE void split_row(const float *x, int W, int n1, float *e, float *o)
{
	int k = 0;
	e[0] = 0;
	for (; 2 * k + 2 * VL <= W; k += VL) {     /* GCC 12+ and clang have shufflevector */
		vf a = vload(x + 2 * k, VL), b = vload(x + 2 * k + VL, VL);
		vstore(o + k, __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20,
		                                      22, 24, 26, 28, 30), VL);
		vstore(e + k + 1, __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19,
		                                          21, 23, 25, 27, 29, 31), VL);
	}
	for (; k < n1; k++) {
		o[k] = 2 * k < W ? x[2 * k] : 0;
		if (k + 1 < n1)
			e[k + 1] = 2 * k + 1 < W ? x[2 * k + 1] : 0;
	}
}

/* the image and tile rows [*i0, *i1) of the part of global tile rows [g, g1) in one
 * image, th tile rows an image */
static void wino_part(long g, long g1, int th, int *n, int *i0, int *i1)
{
	*n = (int)(g / th);
	*i0 = (int)(g % th);
	*i1 = g1 - g < th - *i0 ? *i0 + (int)(g1 - g) : th;
}

/* vt[xi * ps + q] = (B^T d B)[xi] of the tw tiles of a tile row, B^T = [1 0 -1 0;
 * 0 1 1 0; 0 -1 1 0; 0 1 0 -1], from its 4 input rows split at er */
VINLINE void tile_row(const float *er, int n1, int tw, float *vt, size_t ps)
{
	for (int q = 0; q < tw; q += VL) {
		size_t m = vlen(q, tw);
		vf t[4][4];
#pragma GCC unroll 4
		for (int r = 0; r < 4; r++) {
			const float *e = er + (size_t)2 * r * n1, *o = e + n1;
			vf a = vload(e + q, m), b = vload(o + q, m);
			vf c = vload(e + q + 1, m), d = vload(o + q + 1, m);
			t[r][0] = a - c;
			t[r][1] = b + c;
			t[r][2] = c - b;
			t[r][3] = b - d;
		}
#pragma GCC unroll 4
		for (int k = 0; k < 4; k++) {
			vstore(vt + (0 + k) * ps + q, t[0][k] - t[2][k], m);
			vstore(vt + (4 + k) * ps + q, t[1][k] + t[2][k], m);
			vstore(vt + (8 + k) * ps + q, t[2][k] - t[1][k], m);
			vstore(vt + (12 + k) * ps + q, t[1][k] - t[3][k], m);
		}
	}
}

/* the first and second halves of a and b interleaved: a0 b0 a1 b1 ... */
#define LO(a, b) __builtin_shufflevector(a, b, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, \
                                         22, 7, 23)
#define HI(a, b) __builtin_shufflevector(a, b, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, \
                                         29, 14, 30, 15, 31)

/* ---- F(4x4,3x3): 6x6 input tiles at a stride of 4, 36 transformed points */
#define EVEN(a, b) __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, \
                                           24, 26, 28, 30)
#define ODD(a, b) __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, \
                                          25, 27, 29, 31)

/* the four phases of the columns of a row of W floats with a zero border in front,
 * p[r n1 + k] = x[4k + r - 1] (0 outside the row), k < n1 */
VINLINE void split_row4(const float *x, int W, int n1, float *p)
{
	float *p0 = p, *p1 = p + n1, *p2 = p + 2 * n1, *p3 = p + 3 * n1;
	int k = 0;
	p0[0] = 0;
	for (; 4 * k + 4 * VL <= W; k += VL) {
		const float *xk = x + 4 * k;
		vf a = vload(xk, VL), b = vload(xk + VL, VL), c = vload(xk + 2 * VL, VL);
		vf d = vload(xk + 3 * VL, VL);
		vf e0 = EVEN(a, b), o0 = ODD(a, b), e1 = EVEN(c, d), o1 = ODD(c, d);
		vstore(p1 + k, EVEN(e0, e1), VL);          /* x[4k] */
		vstore(p2 + k, EVEN(o0, o1), VL);          /* x[4k+1] */
		vstore(p3 + k, ODD(e0, e1), VL);           /* x[4k+2] */
		vstore(p0 + k + 1, ODD(o0, o1), VL);       /* x[4k+3] */
	}
	for (; k < n1; k++) {
		p1[k] = 4 * k < W ? x[4 * k] : 0;
		p2[k] = 4 * k + 1 < W ? x[4 * k + 1] : 0;
		p3[k] = 4 * k + 2 < W ? x[4 * k + 2] : 0;
		if (k + 1 < n1)
			p0[k + 1] = 4 * k + 3 < W ? x[4 * k + 3] : 0;
	}
}

/* row k of B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0;
 * 0 2 -1 -2 1 0; 0 4 0 -5 0 1] times d */
VINLINE vf bt6(int k, const vf *d)
{
	switch (k) {
	case 0: return d[0] * 4 - d[2] * 5 + d[4];
	case 1: return d[3] + d[4] - (d[1] + d[2]) * 4;
	case 2: return d[4] - d[3] + (d[1] - d[2]) * 4;
	case 3: return d[4] - d[2] + (d[3] - d[1]) * 2;
	case 4: return d[4] - d[2] + (d[1] - d[3]) * 2;
	default: return d[1] * 4 - d[3] * 5 + d[5];
	}
}

/* row k of A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1] times m */
VINLINE vf at6(int k, const vf *m)
{
	switch (k) {
	case 0: return m[0] + m[1] + m[2] + m[3] + m[4];
	case 1: return m[1] - m[2] + (m[3] - m[4]) * 2;
	case 2: return m[1] + m[2] + (m[3] + m[4]) * 4;
	default: return m[1] - m[2] + (m[3] - m[4]) * 8 + m[5];
	}
}

/* vt[xi * ps + q] = (B^T d B)[xi] of the tw tiles of a tile row, from its 6 input rows
 * split into phases at er (4 n1 floats a row): the rows first, into t (in L1), then the
 * columns, so that few vectors are live at once */
VINLINE void tile_row4(const float *er, int n1, int tw, float *vt, size_t ps)
{
	for (int q = 0; q < tw; q += VL) {
		size_t m = vlen(q, tw);
		vf t[6][6];
#pragma GCC unroll 1
		for (int r = 0; r < 6; r++) {
			const float *e = er + (size_t)4 * r * n1 + q;
			vf d[6] = { vload(e, m), vload(e + n1, m), vload(e + 2 * n1, m),
			            vload(e + 3 * n1, m), vload(e + 1, m), vload(e + n1 + 1, m) };
#pragma GCC unroll 6
			for (int k = 0; k < 6; k++)
				t[k][r] = bt6(k, d);
		}
#pragma GCC unroll 1
		for (int k = 0; k < 6; k++) {
#pragma GCC unroll 6
			for (int k2 = 0; k2 < 6; k2++)
				vstore(vt + (size_t)(6 * k2 + k) * ps + q, bt6(k2, t[k]), m);
		}
	}
}

/* rows r0 .. r0 + nr - 1 of plane xc (zero outside the image), each split into the m
 * phases of its columns at eo (m n1 floats a row: split_row, split_row4) */
VINLINE void split_rows(const float *xc, int H, int W, int m, int r0, int nr, int n1,
                        float *eo)
{
	for (int q = 0; q < nr; q++) {
		float *e = eo + (size_t)m * q * n1;
		int ih = r0 + q;
		if (ih < 0 || ih >= H)
			memset(e, 0, m * n1 * sizeof *e);
		else if (m == 4)
			split_row4(xc + (size_t)ih * W, W, n1, e);
		else
			split_row(xc + (size_t)ih * W, W, n1, e, e + n1);
	}
}

/* v [(m+2)^2, c1-c0, T] = B^T d B of channels [c0,c1) of the tiles of global tile rows
 * [g0,g1); per image part and channel, its input rows are split into the phases of
 * their columns first (at eo), so that the transform reads them in order. With vp
 * (bf16 products: m 2, all channels), V goes to vp as bfloat16 pairs of channels 2k,
 * 2k+1 (ms_gemm_pairs), [16, cin/2 rounded up, ld], its columns from T to ld zeroed:
 * each pair's tile row is transformed into v first (16 tw floats a channel), its
 * second channel split at eo1 */
MS_CLONES static void wino_input(const ms_conv_job *j, int m, int c0, int c1, long g0,
                                 long g1, float *v, float *eo, float *eo1, uint32_t *vp,
                                 size_t ld)
{
	int H = j->H, W = j->W, cin = c1 - c0, tw = (W + m - 1) / m, th = (H + m - 1) / m;
	int n1 = tw + 1;
	size_t T = (size_t)(g1 - g0) * tw, kp = (cin + 1) / 2, ps = vp ? (size_t)tw : cin * T;
	if (vp)
		for (size_t r = 0; r < 16 * kp; r++)
			memset(vp + r * ld + T, 0, (ld - T) * sizeof *vp);
	for (long g = g0; g < g1;) {
		int n, i0, i1;
		wino_part(g, g1, th, &n, &i0, &i1);
		for (int ci = 0; ci < cin; ci += vp ? 2 : 1) {
			const float *xc = j->x + n * j->xs + (size_t)(c0 + ci) * H * W;
			int two = vp && ci + 1 < cin;   /* a pair's second channel */
			int r0 = m * i0 - 1, nr = m * (i1 - i0) + 2;   /* with the halo */
			split_rows(xc, H, W, m, r0, nr, n1, eo);
			if (two)
				split_rows(xc + (size_t)H * W, H, W, m, r0, nr, n1, eo1);
			for (int i = i0; i < i1; i++) {
				size_t t = (size_t)(g - g0 + i - i0) * tw;   /* the row's first tile */
				for (int k = 0; k <= two; k++) {
					const float *er = (k ? eo1 : eo) + (size_t)m * m * (i - i0) * n1;
					float *vt = vp ? v + (size_t)k * 16 * tw : v + (size_t)ci * T + t;
					if (m == 4)
						tile_row4(er, n1, tw, vt, ps);
					else
						tile_row(er, n1, tw, vt, ps);
				}
				for (int xi = 0; vp && xi < 16; xi++)
					ms_gemm_pairs_row(v + xi * tw, two ? v + (16 + xi) * tw : NULL, tw,
					                  vp + (xi * kp + ci / 2) * ld + t);
			}
		}
		g += i1 - i0;
	}
}

/* the two output rows of the tw tiles of a tile row, rb (2 tw floats each) = A^T M A,
 * A^T = [1 1 1 0; 0 1 -1 -1], M at mt[xi * ps + q] */
VINLINE void tile_out(const float *mt, size_t ps, int tw, float *rb)
{
	float *r0 = rb, *r1 = rb + 2 * tw;
	for (int q = 0; q < tw; q += VL) {
		size_t m = vlen(q, tw);
		vf s0[4], s1[4];
		for (int r = 0; r < 4; r++) {
			vf a = vload(mt + (4 * r + 0) * ps + q, m);
			vf bb = vload(mt + (4 * r + 1) * ps + q, m);
			vf cc = vload(mt + (4 * r + 2) * ps + q, m);
			vf d = vload(mt + (4 * r + 3) * ps + q, m);
			s0[r] = a + bb + cc;
			s1[r] = bb - cc - d;
		}
		vf y00 = s0[0] + s0[1] + s0[2], y10 = s0[1] - s0[2] - s0[3];
		vf y01 = s1[0] + s1[1] + s1[2], y11 = s1[1] - s1[2] - s1[3];
		/* interleaved: row 2i gets y00 y01 y00 y01 ..., 2 m floats */
		size_t m0 = m < VL / 2 ? 2 * m : VL, m1 = 2 * m - m0;
		vstore(r0 + 2 * q, LO(y00, y01), m0);
		vstore(r1 + 2 * q, LO(y10, y11), m0);
		if (m1) {
			vstore(r0 + 2 * q + VL, HI(y00, y01), m1);
			vstore(r1 + 2 * q + VL, HI(y10, y11), m1);
		}
	}
}

/* the four output rows of the tw tiles of a tile row, rb (4 tw floats each) = A^T M A
 * (at6), M at mt[xi * ps + q]: the rows of M first, then the columns */
VINLINE void tile_out4(const float *mt, size_t ps, int tw, float *rb)
{
	for (int q = 0; q < tw; q += VL) {
		size_t m = vlen(q, tw);
		vf sr[4][6], y[4][4];   /* the rows transformed; [output row][column] */
#pragma GCC unroll 1
		for (int r = 0; r < 6; r++) {
			const float *e = mt + (size_t)6 * r * ps + q;
			vf x[6] = { vload(e, m), vload(e + ps, m), vload(e + 2 * ps, m),
			            vload(e + 3 * ps, m), vload(e + 4 * ps, m),
			            vload(e + 5 * ps, m) };
#pragma GCC unroll 4
			for (int k = 0; k < 4; k++)
				sr[k][r] = at6(k, x);
		}
#pragma GCC unroll 4
		for (int k = 0; k < 4; k++)
#pragma GCC unroll 4
			for (int r = 0; r < 4; r++)
				y[r][k] = at6(r, sr[k]);
		/* row r gets y[r][0] y[r][1] y[r][2] y[r][3] of tile 0, then of tile
		 * 1 ...: 4 m floats */
#pragma GCC unroll 4
		for (int r = 0; r < 4; r++) {
			vf lo = LO(y[r][0], y[r][1]), hi = HI(y[r][0], y[r][1]);
			vf lo2 = LO(y[r][2], y[r][3]), hi2 = HI(y[r][2], y[r][3]);
			vf z[4] = {
				__builtin_shufflevector(lo, lo2, 0, 1, 16, 17, 2, 3, 18, 19, 4,
				                        5, 20, 21, 6, 7, 22, 23),
				__builtin_shufflevector(lo, lo2, 8, 9, 24, 25, 10, 11, 26, 27,
				                        12, 13, 28, 29, 14, 15, 30, 31),
				__builtin_shufflevector(hi, hi2, 0, 1, 16, 17, 2, 3, 18, 19, 4,
				                        5, 20, 21, 6, 7, 22, 23),
				__builtin_shufflevector(hi, hi2, 8, 9, 24, 25, 10, 11, 26, 27,
				                        12, 13, 28, 29, 14, 15, 30, 31) };
			float *row = rb + (size_t)r * 4 * tw + 4 * q;
			for (int v = 0; v < 4 && 4 * m > (size_t)v * VL; v++)
				vstore(row + v * VL, z[v], vlen(v * VL, 4 * m));
		}
	}
}

/* the output rows of global tile rows [g0,g1) of m (2 or 4) rows each (+)= A^T M A +
 * bias, from mm [(m+2)^2, cout, T]; rb: m rows of m tw floats */
MS_CLONES static void wino_output(const ms_conv_job *j, int m, long g0, long g1,
                                  const float *mm, float *rb)
{
	const ms_conv2d *c = j->c;
	int H = j->H, W = j->W, tw = (W + m - 1) / m, th = (H + m - 1) / m;
	size_t T = (size_t)(g1 - g0) * tw, L = (size_t)H * W, ps = (size_t)c->cout * T;
	for (long g = g0; g < g1;) {
		int n, i0, i1;
		wino_part(g, g1, th, &n, &i0, &i1);
		for (int o = 0; o < c->cout; o++) {
			float b = (c->b ? c->b->w[o] : 0) +
			          (j->cbias ? j->cbias[(size_t)n * c->cout + o] : 0);
			float *yo = j->y + n * j->ys + o * L;
			for (int i = i0; i < i1; i++) {
				const float *mt = mm + (size_t)o * T + (size_t)(g - g0 + i - i0) * tw;
				if (m == 4)
					tile_out4(mt, ps, tw, rb);
				else
					tile_out(mt, ps, tw, rb);
				for (int r = 0; r < m && m * i + r < H; r++)
					vaddb(yo + (size_t)(m * i + r) * W, rb + (size_t)r * m * tw, b, W, j->acc);
			}
		}
		g += i1 - i0;
	}
}

/* global tile rows [g0,g1) (of j->win output rows each), Winograd's way, with the
 * transformed kernel at ws */
void ms_wino_forward(const ms_conv_job *j, long g0, long g1, float *p)
{
	const ms_conv2d *c = j->c;
	int m = j->win, a2 = (m + 2) * (m + 2);
	layout l = wino_layout(c, j->H, j->W, m);
	size_t T = (g1 - g0) * (size_t)((j->W + m - 1) / m), ld = pairs_ld(T), kp = (c->cin + 1) / 2;
	size_t uo = (size_t)c->cout * c->cin;
	float *v = p + l.v, *mm = p + l.m;
	if (m == 2 && pairs(c, T)) {
		uint32_t *vp = (uint32_t *)v, *up = (uint32_t *)(j->ws + a2 * uo);
		wino_input(j, 2, 0, c->cin, g0, g1, p + l.rb, p + l.eo, p + l.eo1, vp, ld);
		for (int xi = 0; xi < a2; xi++)
			ms_gemm_pairs(c->cout, (int)T, c->cin, 1.0f, up + xi * c->cout * kp, (int)kp,
			              vp + xi * kp * ld, (int)ld, 0.0f, mm + (size_t)xi * c->cout * T,
			              (int)T);
	} else {
		wino_input(j, m, 0, c->cin, g0, g1, v, p + l.eo, NULL, NULL, 0);
		for (int xi = 0; xi < a2; xi++)
			ms_gemm(0, 0, c->cout, (int)T, c->cin, 1.0f, j->ws + xi * uo, c->cin,
			        v + (size_t)xi * c->cin * T, (int)T, 0.0f, mm + (size_t)xi * c->cout * T,
			        (int)T);
	}
	wino_output(j, m, g0, g1, mm, p + l.rb);
}

/* dt[xi * ps + q] = (A e A^T)[xi] of the tw 2x2 blocks e of a tile row of dy, from its
 * 2 rows split at eo (2 n1 floats a row: odd columns at e + 1, even at e + n1),
 * A = [1 0; 1 1; 1 -1; 0 -1] */
VINLINE void dy_row(const float *eo, int n1, int tw, float *dt, size_t ps)
{
	const float *e0 = eo, *e1 = eo + 2 * n1;
	for (int q = 0; q < tw; q += VL) {
		size_t m = vlen(q, tw);
		vf a = vload(e0 + n1 + q, m), b = vload(e0 + 1 + q, m);
		vf cc = vload(e1 + n1 + q, m), dd = vload(e1 + 1 + q, m);
		vf r[4][2] = { { a, b }, { a + cc, b + dd }, { a - cc, b - dd }, { -cc, -dd } };
		for (int k = 0; k < 4; k++) {
			vstore(dt + (4 * k + 0) * ps + q, r[k][0], m);
			vstore(dt + (4 * k + 1) * ps + q, r[k][0] + r[k][1], m);
			vstore(dt + (4 * k + 2) * ps + q, r[k][0] - r[k][1], m);
			vstore(dt + (4 * k + 3) * ps + q, -r[k][1], m);
		}
	}
}

/* dy_row for F(4x4,3x3): the 4x4 blocks, from 4 rows split into phases at eo (4 n1
 * floats a row), A^T the output transform's [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0;
 * 0 1 -1 8 -8 1] */
VINLINE void dy_row4(const float *eo, int n1, int tw, float *dt, size_t ps)
{
	for (int q = 0; q < tw; q += VL) {
		size_t m = vlen(q, tw);
		vf u[6][4];          /* [point of the column transform][row of e] */
#pragma GCC unroll 1
		for (int r = 0; r < 4; r++) {
			/* row r of the block: columns 4q..4q+3 are phases 1, 2, 3 at q and phase
			 * 0 at q + 1 */
			const float *e = eo + (size_t)4 * r * n1 + q;
			vf x0 = vload(e + n1, m), x1 = vload(e + 2 * n1, m);
			vf x2 = vload(e + 3 * n1, m), x3 = vload(e + 1, m);
			vf row[6] = { x0, x0 + x1 + x2 + x3, x0 - x1 + x2 - x3,
			              x0 + x1 * 2 + x2 * 4 + x3 * 8, x0 - x1 * 2 + x2 * 4 - x3 * 8, x3 };
			for (int k = 0; k < 6; k++)
				u[k][r] = row[k];
		}
#pragma GCC unroll 1
		for (int k = 0; k < 6; k++) {
			vf *x = u[k];
			vf col[6] = { x[0], x[0] + x[1] + x[2] + x[3], x[0] - x[1] + x[2] - x[3],
			              x[0] + x[1] * 2 + x[2] * 4 + x[3] * 8,
			              x[0] - x[1] * 2 + x[2] * 4 - x[3] * 8, x[3] };
			for (int k2 = 0; k2 < 6; k2++)
				vstore(dt + (size_t)(6 * k2 + k) * ps + q, col[k2], m);
		}
	}
}

/* d [(m+2)^2, cout, T] = A e A^T of each m x m block e of dy (zero outside the image) of
 * global tile rows [g0,g1) (dy_row, dy_row4): dL/dU = sum over the tiles of d .* V; eo:
 * m rows of dy split into phases */
MS_CLONES static void wino_dy(const ms_conv_job *j, int m, long g0, long g1, float *d,
                              float *eo)
{
	const ms_conv2d *c = j->c;
	int H = j->H, W = j->W, tw = (W + m - 1) / m, th = (H + m - 1) / m, n1 = tw + 1;
	size_t T = (size_t)(g1 - g0) * tw, L = (size_t)H * W, ps = (size_t)c->cout * T;
	for (long g = g0; g < g1;) {
		int n, i0, i1;
		wino_part(g, g1, th, &n, &i0, &i1);
		for (int o = 0; o < c->cout; o++) {
			const float *dyo = j->dy + n * j->dys + o * L;
			for (int i = i0; i < i1; i++) {
				float *dt = d + (size_t)o * T + (size_t)(g - g0 + i - i0) * tw;
				split_rows(dyo, H, W, m, m * i, m, n1, eo);
				if (m == 4)
					dy_row4(eo, n1, tw, dt, ps);
				else
					dy_row(eo, n1, tw, dt, ps);
			}
		}
		g += i1 - i0;
	}
}

/* dw[(c1-c0)*9, cout] = dW^T of channels [c0,c1), Winograd's way with the forward pass's
 * tile (m): per run of tile rows of the batch, V of those channels (as in the forward
 * pass) and D of dy, and (m+2)^2 GEMMs P[xi] [cout, c1-c0] (+)= D[xi] V[xi]^T over its
 * tiles; then dW = G^T P G per kernel (dL/dg = G^T dL/dU G for U = G g G^T). The runs do
 * not depend on the threads. */
void ms_wino_dw(const ms_conv_job *j, int c0, int c1, float *dw, float *p)
{
	const ms_conv2d *c = j->c;
	int cc = c1 - c0, co = c->cout, m = j->win, a2 = (m + 2) * (m + 2);
	size_t tw = (j->W + m - 1) / m, rows = ms_wino_rows(c, j->W, m);
	layout l = wino_layout(c, j->H, j->W, m);
	float *v = p + l.v, *d = p + l.m, *eo = p + l.eo, *pp = p + l.pp;
	long G = (long)j->N * ((j->H + m - 1) / m);
	for (long g0 = 0; g0 < G; g0 += rows) {
		long g1 = g0 + (long)rows < G ? g0 + (long)rows : G;
		size_t T = (g1 - g0) * tw;
		wino_input(j, m, c0, c1, g0, g1, v, eo, NULL, NULL, 0);
		wino_dy(j, m, g0, g1, d, eo);
		for (int xi = 0; xi < a2; xi++)
			ms_gemm(0, 1, co, cc, (int)T, 1.0f, d + (size_t)xi * co * T, (int)T,
			        v + (size_t)xi * cc * T, (int)T, g0 ? 1.0f : 0.0f,
			        pp + (size_t)xi * co * cc, cc);
	}
	size_t oc = (size_t)co * cc;
	if (m == 4) {
		for (int o = 0; o < co; o++)
			for (int ci = 0; ci < cc; ci++) {
				const float *pk = pp + (size_t)o * cc + ci;     /* pk[xi * oc] */
				float q[3][6];
				for (int a = 0; a < 3; a++)
					for (int k = 0; k < 6; k++) {
						float s = 0;
						for (int r = 0; r < 6; r++)
							s += G4[r][a] * pk[(6 * r + k) * oc];
						q[a][k] = s;
					}
				for (int a = 0; a < 3; a++)
					for (int b = 0; b < 3; b++) {
						float s = 0;
						for (int k = 0; k < 6; k++)
							s += q[a][k] * G4[k][b];
						dw[((size_t)ci * 9 + 3 * a + b) * co + o] = s;
					}
			}
		return;
	}
	for (int o = 0; o < co; o++)
		for (int ci = 0; ci < cc; ci++) {
			const float *pk = pp + (size_t)o * cc + ci;     /* pk[xi * oc] */
			float q[3][4];
			for (int k = 0; k < 4; k++) {
				float p0 = pk[k * oc], p1 = pk[(4 + k) * oc], p2 = pk[(8 + k) * oc];
				float p3 = pk[(12 + k) * oc];
				q[0][k] = p0 + 0.5f * (p1 + p2);
				q[1][k] = 0.5f * (p1 - p2);
				q[2][k] = 0.5f * (p1 + p2) + p3;
			}
			for (int r = 0; r < 3; r++) {
				float *w = dw + ((size_t)ci * 9 + 3 * r) * co + o;
				w[0] = q[r][0] + 0.5f * (q[r][1] + q[r][2]);
				w[co] = 0.5f * (q[r][1] - q[r][2]);
				w[2 * co] = 0.5f * (q[r][1] + q[r][2]) + q[r][3];
			}
		}
}
