/* 2-D convolution. 1x1 stride 1 multiplies directly. 3x3 stride 1 with 16+ channels on
 * both sides (not 16 on both) and 32+ columns goes by Winograd's way (winograd.c),
 * forward and dW: by F(4x4,3x3) from 64 columns on with single-precision products (2.25
 * multiply-adds per output and input channel in place of 9), else by F(2x2,3x3) (4);
 * else, with 16+ input channels and 32+ columns, without im2col: the input tile is
 * copied once with a zero border (with bf16 products: as bfloat16 pairs of channels,
 * rounded once and not again by each GEMM) and nine GEMMs (one per kernel tap) read it
 * shifted. dx of a 3x3 stride 1 convolution that qualifies either way with its channels
 * swapped is that forward pass of dy with the flipped kernel. The rest: im2col + GEMM;
 * backward dW += dY col^T, dcol = W^T dY, col2im. On the thread pool, the forward pass splits
 * (image, tile of output rows) pairs (Winograd: runs of tile rows of the batch), the
 * backward pass input channels: each thread owns its rows of dW and its channels of dx,
 * so nothing needs a reduction. The products are ms_gemm's (gemm.c), not OpenBLAS's,
 * whose speed depends on OPENBLAS_CORETYPE. */
#include <math.h>
#include <string.h>

#include "core/threads.h"
#include "core/util.h"
#include "gemm.h"
#include "nn.h"
#include "vec.h"
#include "winograd.h"

int ms_conv2d_init(ms_conv2d *c, ms_params *ps, const char *name, int cin, int cout, int k,
                   int stride)
{
	MS_ASSERT((k == 1 || k == 3) && (stride == 1 || stride == 2));
	c->cin = cin;
	c->cout = cout;
	c->k = k;
	c->stride = stride;
	c->pad = k / 2;
	int64_t ws[4] = { cout, cin, k, k }, bs[1] = { cout };
	if (!(c->w = ms_param_add(ps, name, "weight", 4, ws)) ||
	    !(c->b = ms_param_add(ps, name, "bias", 1, bs)))
		return -1;
	/* PyTorch's default: kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
	float bound = 1.0f / sqrtf((float)(cin * k * k));
	ms_param_uniform(ps, c->w, bound);
	ms_param_uniform(ps, c->b, bound);
	return 0;
}

int ms_conv2d_out(const ms_conv2d *c, int size)
{
	return (size + 2 * c->pad - c->k) / c->stride + 1;
}

static int direct(const ms_conv2d *c)
{
	return c->k == 1 && c->stride == 1;
}

/* im2col works on tiles of output rows so that a tile of col stays in cache between
 * im2col and the GEMMs that read it: about this many floats per tile and thread (2 MB,
 * measured on the segmentor at 128x128 with tests/bench/unet.sh). */
static long tile_floats = 1L << 19;

long ms_conv2d_tile(long floats)
{
	long old = tile_floats;
	if (floats > 0)
		tile_floats = floats;
	return old;
}

static int tile_rows(const ms_conv2d *c, int H, int W)
{
	long tile_floats = ms_conv2d_tile(0), K = (long)c->cin * c->k * c->k, Wo = ms_conv2d_out(c, W), Ho = ms_conv2d_out(c, H);
	long r = tile_floats / (K * Wo);
	return (int)(r < 1 ? 1 : r > Ho ? Ho : r);
}

/* one thread's tile of col */
static size_t col_floats(const ms_conv2d *c, int H, int W)
{
	return (size_t)c->cin * c->k * c->k * tile_rows(c, H, W) * ms_conv2d_out(c, W);
}

/* 3x3 stride 1 with enough channels and columns skips im2col in the forward pass: a tile
 * of the input is copied once into a zero-bordered buffer P [cin, rows+2, W+2], and nine
 * GEMMs (one per kernel tap, K = cin) read P shifted by the tap, writing rows of W+2 */
static int shifted(const ms_conv2d *c, int W)
{
	/* below 32 columns the two extra columns of every row cost more than im2col does
	 * (measured on the diffusion U-Net at 64x64, whose deepest level is 16 wide) */
	return c->k == 3 && c->stride == 1 && c->cin >= 16 && W >= 32;
}

/* bf16 products (ms_conv2d_pairs): the shifted way's kernel and P as bfloat16 pairs of
 * input channels, each rounded once where ms_gemm would round and pack them again for
 * every tap and tile (the same bytes); the test's N is one row's, the fewest a tile has */
static int shift_pairs(const ms_conv2d *c, int W)
{
	return ms_conv2d_pairs(-1) && ms_gemm_pairs_ok(c->cout, W + 2, c->cin);
}

static int shift_rows(const ms_conv2d *c, int H, int W)
{
	long r = ms_conv2d_tile(0) / ((long)(c->cin + c->cout) * (W + 2));
	return (int)(r < 1 ? 1 : r > H ? H : r);
}

typedef ms_conv_job job;

/* floats at the start of the forward pass's workspace: the kernel by tap (shifted; with
 * bf16 pairs, those after it) or transformed (Winograd), room for either in a 3x3
 * stride 1 convolution */
static size_t kernel_floats(const ms_conv2d *c)
{
	return (size_t)c->cin * c->cout * (c->k == 3 && c->stride == 1 ? 36 : c->k * c->k);
}

/* n rounded up to a multiple of 16 */
static int pad16(int n)
{
	return (n + 15) / 16 * 16;
}

/* P, 2 floats of slack (the last taps read past it, into columns that are dropped), Y
 * (forward) or dy^T with its output channels rounded up to 16 (dW) */
static size_t shift_floats(const ms_conv2d *c, int H, int W)
{
	size_t rows = shift_rows(c, H, W);
	return (size_t)c->cin * (rows + 2) * (W + 2) + 2 + (size_t)pad16(c->cout) * rows * (W + 2);
}

/* dx of a 3x3 stride 1 convolution is the forward pass of dy with the flipped kernel,
 * wf[ci][o][kh][kw] = W[o][ci][2-kh][2-kw], where that goes Winograd's or the shifted way
 * (16+ output channels, 32+ columns), and where the input channels are 4 or more times
 * the output channels: its im2col then has 9 cout rows where col2im's has 9 cin (backward
 * at 128x128: 16 -> 1 11.0 -> 5.7 ms, 32 -> 4 25.1 -> 14.1 ms; tests/bench/conv.sh all,
 * results/conv-flip-few-out.log) */
static ms_conv2d flipped(const ms_conv2d *c, ms_param *wf)
{
	return (ms_conv2d){ .cin = c->cout, .cout = c->cin, .k = 3, .stride = 1, .pad = 1,
	                    .w = wf };
}

static int flips(const ms_conv2d *c, int W)
{
	ms_conv2d f = flipped(c, NULL);
	return c->k == 3 && c->stride == 1 &&
	       (ms_wino(&f, W) || shifted(&f, W) || 4 * c->cout <= c->cin);
}

/* each thread's part of the workspace: any of the tiles above, for c and its flip */
static size_t thread_floats(const ms_conv2d *c, int H, int W)
{
	size_t t = col_floats(c, H, W);
	if (c->k == 3 && c->stride == 1) {
		ms_conv2d f = flipped(c, NULL);
		size_t u[5] = { col_floats(&f, H, W), shift_floats(c, H, W), shift_floats(&f, H, W),
		                ms_wino_floats(c, H, W), ms_wino_floats(&f, H, W) };
		for (int i = 0; i < 5; i++)
			t = u[i] > t ? u[i] : t;
	}
	return t;
}

/* dW^T [K,cout] (backward) or the kernel as the forward pass reads it; the flipped kernel
 * (dx by the forward pass); a tile per thread */
size_t ms_conv2d_ws(const ms_conv2d *c, int H, int W)
{
	if (direct(c))
		return 0;
	return (flips(c, W) ? (size_t)c->cin * 9 * c->cout : 0) + kernel_floats(c) +
	       ms_nthreads() * thread_floats(c, H, W);
}

/* the invalid output columns ow of a kernel column kw: ow + kw - p outside [0, W) */
static void zero_cols(const ms_conv2d *c, int W, int kw, float *col, long len)
{
	for (int ow = 0; ow < W; ow++)
		if (ow + kw - c->pad < 0 || ow + kw - c->pad >= W)
			for (long i = ow; i < len; i += W)
				col[i] = 0;
}

/* stride 1, "same" padding: for output rows [r0,r1), each (ci,kh,kw) plane of col is the
 * image shifted by d = (kh-p) W + (kw-p) as one flat copy; columns that wrapped around
 * are zeroed; or, with add, the adjoint x += col2im(col), which destroys col */
static void s1_range(int H, int W, int r0, int r1, long d, long *lo, long *hi)
{
	long n = (long)H * W, a = d < 0 ? -d : 0, b = d > 0 ? n - d : n;
	long n0 = (long)r0 * W, n1 = (long)r1 * W;
	*lo = a < n0 ? n0 : a > n1 ? n1 : a;
	*hi = b > n1 ? n1 : b < *lo ? *lo : b;
}

MS_CLONES static void flat(const ms_conv2d *c, int H, int W, float *x, float *col, int r0, int r1,
                           int c0, int c1, int add)
{
	int k = c->k, p = c->pad;
	long n = (long)H * W, n0 = (long)r0 * W, len = (long)(r1 - r0) * W, lo, hi;
	x += c0 * n;
	for (int ci = c0; ci < c1; ci++, x += n)
		for (int kh = 0; kh < k; kh++)
			for (int kw = 0; kw < k; kw++, col += len) {
				long d = (long)(kh - p) * W + kw - p;
				s1_range(H, W, r0, r1, d, &lo, &hi);
				if (add) {
					zero_cols(c, W, kw, col, len);
					vadd(x + lo + d, col + lo - n0, hi - lo, 1);
					continue;
				}
				memset(col, 0, (lo - n0) * sizeof *col);
				memcpy(col + lo - n0, x + lo + d, (hi - lo) * sizeof *col);
				memset(col + hi - n0, 0, (n0 + len - hi) * sizeof *col);
				zero_cols(c, W, kw, col, len);
			}
}

/* strided: the valid output columns [lo,hi) of kernel column kw, 0 <= ow*s - p + kw < W */
static void valid_cols(const ms_conv2d *c, int W, int kw, int *lo, int *hi)
{
	int s = c->stride, p = c->pad, Wo = ms_conv2d_out(c, W);
	*lo = 0, *hi = Wo;
	while (*lo < Wo && *lo * s - p + kw < 0)
		++*lo;
	while (*hi > *lo && (*hi - 1) * s - p + kw >= W)
		--*hi;
}

/* stride > 1: col [(c1-c0)*k*k, (r1-r0)*Wo] from channels [c0,c1) of one image
 * x [cin,H,W], output rows [r0,r1); or, with add, its adjoint x += col2im(col) */
MS_CLONES static void strided(const ms_conv2d *c, int H, int W, float *x, float *col, int r0,
                              int r1, int c0, int c1, int add)
{
	int k = c->k, s = c->stride, p = c->pad, Wo = ms_conv2d_out(c, W), lo, hi;
	for (int ci = c0; ci < c1; ci++)
		for (int kh = 0; kh < k; kh++)
			for (int kw = 0; kw < k; kw++) {
				float *xc = x + (size_t)ci * H * W;
				valid_cols(c, W, kw, &lo, &hi);
				for (int oh = r0; oh < r1; oh++, col += Wo) {
					int ih = oh * s - p + kh;
					if (ih < 0 || ih >= H) {
						if (!add)
							memset(col, 0, Wo * sizeof *col);
						continue;
					}
					float *row = xc + (size_t)ih * W - p + kw;
					if (add) {
						for (int ow = lo; ow < hi; ow++)
							row[ow * s] += col[ow];
						continue;
					}
					for (int ow = 0; ow < lo; ow++)
						col[ow] = 0;
					for (int ow = lo; ow < hi; ow++)
						col[ow] = row[ow * s];
					for (int ow = hi; ow < Wo; ow++)
						col[ow] = 0;
				}
			}
}

/* col from channels [c0,c1) of x, output rows [r0,r1) */
static void im2col(const ms_conv2d *c, int H, int W, const float *x, float *col, int r0,
                   int r1, int c0, int c1)
{
	if (c->stride == 1)
		flat(c, H, W, (float *)x, col, r0, r1, c0, c1, 0);   /* read only */
	else
		strided(c, H, W, (float *)x, col, r0, r1, c0, c1, 0);
}

/* channels [c0,c1) of x [cin,H,W] += col2im(col), output rows [r0,r1) */
static void col2im(const ms_conv2d *c, int H, int W, float *col, float *x, int r0, int r1,
                   int c0, int c1)
{
	if (c->stride == 1)
		flat(c, H, W, x, col, r0, r1, c0, c1, 1);
	else
		strided(c, H, W, x, col, r0, r1, c0, c1, 1);
}

/* P [c1-c0, r1-r0+2, W+2]: input rows r0-1..r1 of channels [c0,c1) with a zero border,
 * then 2 zero floats */
MS_CLONES static void pad_rows(const float *x, int H, int W, int c0, int c1, int r0, int r1,
                               float *p)
{
	int Wp = W + 2;
	for (int ci = c0; ci < c1; ci++)
		for (int ih = r0 - 1; ih <= r1; ih++, p += Wp) {
			if (ih < 0 || ih >= H) {
				memset(p, 0, Wp * sizeof *p);
				continue;
			}
			p[0] = p[W + 1] = 0;
			memcpy(p + 1, x + ((size_t)ci * H + ih) * W, W * sizeof *p);
		}
	p[0] = p[1] = 0;
}

/* P as bfloat16 pairs of channels 2k, 2k+1 (0 for a 2k+1 past cin; ms_gemm_pairs_row):
 * [cin/2 rounded up, r1-r0+2, W+2] as pad_rows, then 18 zero pairs (the last taps read
 * up to 17 past it, into columns that are dropped) */
static void pad_pairs(const float *x, int H, int W, int cin, int r0, int r1, uint32_t *p)
{
	int Wp = W + 2;
	size_t L = (size_t)H * W;
	for (int ci = 0; ci < cin; ci += 2)
		for (int ih = r0 - 1; ih <= r1; ih++, p += Wp) {
			if (ih < 0 || ih >= H) {
				memset(p, 0, Wp * sizeof *p);
				continue;
			}
			const float *lo = x + ci * L + (size_t)ih * W;
			p[0] = p[W + 1] = 0;
			ms_gemm_pairs_row(lo, ci + 1 < cin ? lo + L : NULL, W, p + 1);
		}
	memset(p, 0, 18 * sizeof *p);
}

/* output rows [r0,r1) of image n, the shifted way (j->shift 2: P and the kernel by tap
 * as bfloat16 pairs, the kernel's after its floats) */
MS_CLONES static void forward_shifted(const job *j, int n, int r0, int r1, float *p)
{
	const ms_conv2d *c = j->c;
	int H = j->H, W = j->W, Wp = W + 2, rows = r1 - r0, kp = (c->cin + 1) / 2;
	size_t ps = (size_t)(rows + 2) * Wp, L = (size_t)H * W, Lp = (size_t)rows * Wp;
	size_t ks = (size_t)c->cout * c->cin;    /* the kernel of a tap */
	float *yp = p + c->cin * ps + 2;
	if (j->shift == 2) {
		uint32_t *pp = (uint32_t *)p;
		const uint32_t *up = (const uint32_t *)(j->ws + 9 * ks);
		pad_pairs(j->x + n * j->xs, H, W, c->cin, r0, r1, pp);
		for (int k = 0; k < 9; k++)
			ms_gemm_pairs(c->cout, (int)Lp, c->cin, 1.0f, up + (size_t)k * c->cout * kp, kp,
			              pp + (k / 3) * Wp + k % 3, (int)ps, k ? 1.0f : 0.0f, yp, (int)Lp);
	} else {
		pad_rows(j->x + n * j->xs, H, W, 0, c->cin, r0, r1, p);
		for (int k = 0; k < 9; k++)
			ms_gemm(0, 0, c->cout, (int)Lp, c->cin, 1.0f, j->ws + k * ks, c->cin,
			        p + (k / 3) * Wp + k % 3, (int)ps, k ? 1.0f : 0.0f, yp, (int)Lp);
	}
	for (int o = 0; o < c->cout; o++) {
		float b = (c->b ? c->b->w[o] : 0) + (j->cbias ? j->cbias[(size_t)n * c->cout + o] : 0);
		float *yo = j->y + n * j->ys + o * L + (size_t)r0 * W;
		for (int r = 0; r < rows; r++, yo += W)
			vaddb(yo, yp + o * Lp + (size_t)r * Wp, b, W, j->acc);
	}
}

/* dw[(c1-c0)*9, cout] = dW^T of channels [c0,c1) (row ci*9 + tap), the shifted way: per
 * tile, dy transposed once into pixels by output channel, in rows of width W+2 (zero in
 * the two extra columns), and nine GEMMs (one per tap) of the shifted P by it; each sums
 * over the pixels in the order the direct dW = dy P^T would */
MS_CLONES static void dw_shifted(const job *j, int c0, int c1, float *dw, float *p)
{
	const ms_conv2d *c = j->c;
	int H = j->H, W = j->W, Wp = W + 2, rows = shift_rows(c, H, W), cc = c1 - c0;
	int co = c->cout, cop = pad16(co);
	size_t L = (size_t)H * W;
	for (int n = 0; n < j->N; n++)
		for (int r0 = 0; r0 < H; r0 += rows) {
			int r1 = r0 + rows < H ? r0 + rows : H;
			size_t ps = (size_t)(r1 - r0 + 2) * Wp, Lp = (size_t)(r1 - r0) * Wp;
			float *dyt = p + cc * ps + 2;      /* [Lp, cop] */
			pad_rows(j->x + n * j->xs, H, W, c0, c1, r0, r1, p);
			for (int r = r0; r < r1; r++) {
				float *d = dyt + (size_t)(r - r0) * Wp * cop;
				ms_gemm_transpose(j->dy + n * j->dys + (size_t)r * W, (long)L, W, co, cop, d);
				memset(d + (size_t)W * cop, 0, 2 * (size_t)cop * sizeof *d);
			}
			for (int k = 0; k < 9; k++)
				ms_gemm(0, 0, cc, co, (int)Lp, 1.0f, p + (k / 3) * Wp + k % 3, (int)ps,
				        dyt, cop, n || r0 ? 1.0f : 0.0f, dw + (size_t)k * co, 9 * co);
		}
}

/* dw[(c1-c0)*k*k, cout] = dW^T of channels [c0,c1) by im2col, and with dx, their
 * channels of dx (+)= col2im(W^T dy) */
MS_CLONES static void dw_col(const job *j, int c0, int c1, float *dx, float *dwt, float *col)
{
	const ms_conv2d *c = j->c;
	int H = j->H, W = j->W, Ho = ms_conv2d_out(c, H), Wo = ms_conv2d_out(c, W), L = Ho * Wo;
	int kk = c->k * c->k, K = c->cin * kk, Kt = (c1 - c0) * kk, rows = tile_rows(c, H, W);
	for (int n = 0; n < j->N; n++) {
		const float *xn = j->x + n * j->xs, *dyn = j->dy + n * j->dys;
		float *dxn = dx ? dx + n * j->dxs : NULL;
		if (dxn && !j->acc)
			memset(dxn + c0 * H * W, 0, (size_t)(c1 - c0) * H * W * sizeof *dxn);
		for (int r0 = 0; r0 < Ho; r0 += rows) {
			int r1 = r0 + rows < Ho ? r0 + rows : Ho, Lt = (r1 - r0) * Wo;
			const float *dyt = dyn + (size_t)r0 * Wo;
			/* dWt[Kt,cout] (+)= col[Kt,tile] dy[cout,tile]^T (col read in place, only
			 * the small dy^T copied, unlike dW = dy col^T) */
			im2col(c, H, W, xn, col, r0, r1, c0, c1);
			ms_gemm(0, 1, Kt, c->cout, Lt, 1.0f, col, Lt, dyt, L, n || r0 ? 1.0f : 0.0f,
			        dwt, c->cout);
			if (!dxn)
				continue;
			/* dcol[Kt,tile] = W[:,c0:c1]^T dy[:,tile]; dx += col2im(dcol) */
			ms_gemm(1, 0, Kt, Lt, c->cout, 1.0f, c->w->w + c0 * kk, K, dyt, L, 0.0f,
			        col, Lt);
			col2im(c, H, W, col, dxn, r0, r1, c0, c1);
		}
	}
}

MS_CLONES static void forward_part(void *arg, int tid, int nt)
{
	const job *j = arg;
	(void)nt;
	const ms_conv2d *c = j->c;
	int Ho = ms_conv2d_out(c, j->H), Wo = ms_conv2d_out(c, j->W), L = Ho * Wo;
	int K = c->cin * c->k * c->k, rows = j->rows, tiles = (Ho + rows - 1) / rows;
	float *col = direct(c) ? NULL :
	             j->ws + kernel_floats(c) + tid * thread_floats(c, j->H, j->W);
	long i, G = j->win ? (long)j->N * ((Ho + j->win - 1) / j->win) : 0;  /* Winograd: the
	                                                                  * batch's tile rows */
	/* a dynamic share: the first rows of an image cost up to 6 times the others (more
	 * in some images than in others), which kept one of two threads waiting 17% */
	while ((i = ms_take(j->next, j->win ? (G + rows - 1) / rows : (long)j->N * tiles)) >= 0) {
		if (j->win) {
			ms_wino_forward(j, i * rows, (i + 1) * rows < G ? (i + 1) * rows : G, col);
			continue;
		}
		int n = (int)(i / tiles), r0 = (int)(i % tiles) * rows, r1 = r0 + rows < Ho ? r0 + rows : Ho;
		int Lt = (r1 - r0) * Wo;
		if (j->shift) {
			forward_shifted(j, n, r0, r1, col);
			continue;
		}
		float *yt = j->y + n * j->ys + (size_t)r0 * Wo;
		for (int o = 0; o < c->cout; o++) {           /* y (+)= bias */
			float b = (c->b ? c->b->w[o] : 0) +
			          (j->cbias ? j->cbias[(size_t)n * c->cout + o] : 0);
			vfill(yt + (size_t)o * L, b, Lt, j->acc);
		}
		const float *xn = j->x + n * j->xs;
		if (direct(c)) {     /* y[cout,tile] += W[cout,cin] x[cin,tile] */
			ms_gemm(0, 0, c->cout, Lt, K, 1.0f, c->w->w, K, xn + (size_t)r0 * Wo, L,
			        1.0f, yt, L);
			continue;
		}
		im2col(c, j->H, j->W, xn, col, r0, r1, 0, c->cin);   /* y[:,tile] += W col */
		ms_gemm(0, 0, c->cout, Lt, K, 1.0f, c->w->w, K, col, Lt, 1.0f, yt, L);
	}
}

void ms_conv2d_forward(const ms_conv2d *c, int N, int H, int W, const float *x, size_t xs,
                       float *y, size_t ys, int acc, const float *cbias, float *ws)
{
	int win = ms_wino_m(c, W), shift = !win && shifted(c, W) ? 1 + shift_pairs(c, W) : 0;
	int Ho = ms_conv2d_out(c, H);
	int rows = win ? ms_wino_rows(c, W, win) : shift ? shift_rows(c, H, W) : tile_rows(c, H, W);
	long G = win ? (long)N * ((Ho + win - 1) / win) : 0;  /* Winograd: the batch's tile rows */
	atomic_long next = 0;
	job j = { .c = c, .N = N, .H = H, .W = W, .acc = acc, .x = x, .cbias = cbias, .xs = xs,
	          .ys = ys, .y = y, .ws = ws, .next = &next, .win = win, .shift = shift,
	          .rows = rows };
	float *wk = ws;      /* shifted: the kernel by tap, wk[k][o][ci] = W[o][ci][k] */
	if (win)
		ms_wino_kernel(c, win, ws);
	else if (shift)
		for (int k = 0; k < 9; k++)
			for (int o = 0; o < c->cout; o++)
				for (int ci = 0; ci < c->cin; ci++)
					*wk++ = c->w->w[((size_t)o * c->cin + ci) * 9 + k];
	if (shift == 2)      /* then its rows as pairs, [9 cout, cin/2 rounded up] */
		for (int r = 0, kp = (c->cin + 1) / 2; r < 9 * c->cout; r++)
			ms_gemm_pairs_vec(ws + (size_t)r * c->cin, c->cin, (uint32_t *)wk + (size_t)r * kp);
	ms_parallel((int)(win ? (G + rows - 1) / rows : N * ((Ho + rows - 1) / rows)),
	            forward_part, &j);
}

/* the thread's input channels [c0,c1): its rows of dW and its channels of dx; and its
 * output channels of db */
MS_CLONES static void backward_part(void *arg, int tid, int nt)
{
	const job *j = arg;
	const ms_conv2d *c = j->c;
	int H = j->H, W = j->W, Ho = ms_conv2d_out(c, H), Wo = ms_conv2d_out(c, W), L = Ho * Wo;
	int kk = c->k * c->k, K = c->cin * kk;
	long c0, c1, o0, o1;
	ms_range(c->cin, tid, nt, &c0, &c1);
	ms_range(c->cout, tid, nt, &o0, &o1);
	for (long o = o0; o < o1; o++)                      /* db += sum dy */
		for (int n = 0; n < j->N; n++)
			c->b->g[o] += vsumarr(j->dy + n * j->dys + (size_t)o * L, L);
	int Kt = (int)(c1 - c0) * kk;
	if (!Kt)
		return;
	if (direct(c)) {
		for (int n = 0; n < j->N; n++) {
			/* dW[cout,c0:c1] += dy[cout,L] x[c0:c1,L]^T; dx[c0:c1,L] (+)= W[:,c0:c1]^T dy */
			const float *dyn = j->dy + n * j->dys;
			ms_gemm(0, 1, c->cout, Kt, L, 1.0f, dyn, L, j->x + n * j->xs + c0 * L, L,
			        1.0f, c->w->g + c0, K);
			if (j->dx)
				ms_gemm(1, 0, Kt, L, c->cout, 1.0f, c->w->w + c0, K, dyn, L,
				        j->acc ? 1.0f : 0.0f, j->dx + n * j->dxs + c0 * L, L);
		}
		return;
	}
	float *dx = flips(c, W) ? NULL : j->dx;                /* else a second pass makes dx */
	float *dwt = j->ws + c0 * kk * c->cout;             /* rows [c0*kk, c1*kk) of [K,cout] */
	float *col = j->ws + (size_t)K * c->cout + tid * thread_floats(c, H, W);
	if (j->win)
		ms_wino_dw(j, (int)c0, (int)c1, dwt, col);
	else if (shifted(c, W) && flips(c, W))
		dw_shifted(j, (int)c0, (int)c1, dwt, col);
	else
		dw_col(j, (int)c0, (int)c1, dx, dwt, col);
	for (int o = 0; o < c->cout; o++)
		for (int k = 0; k < Kt; k++)
			c->w->g[(size_t)o * K + c0 * kk + k] += dwt[(size_t)k * c->cout + o];
}

void ms_conv2d_backward(const ms_conv2d *c, int N, int H, int W, const float *x, size_t xs,
                        const float *dy, size_t dys, float *dx, size_t dxs, int acc,
                        float *ws)
{
	job j = { .c = c, .N = N, .H = H, .W = W, .acc = acc, .x = x, .dy = dy, .xs = xs,
	          .dys = dys, .dxs = dxs, .dx = dx, .ws = ws,
	          .win = ms_wino(c, W) && flips(c, W) ? ms_wino_m(c, W) : 0 };
	ms_parallel(c->cin > c->cout ? c->cin : c->cout, backward_part, &j);
	if (!dx || !flips(c, W))
		return;
	size_t K = (size_t)c->cin * 9;
	ms_param wf = { .w = ws };          /* over dW^T, which is added to the gradient by now */
	for (int ci = 0; ci < c->cin; ci++)
		for (int o = 0; o < c->cout; o++)
			for (int k = 0; k < 9; k++)
				wf.w[((size_t)ci * c->cout + o) * 9 + 8 - k] = c->w->w[((size_t)o * c->cin + ci) * 9 + k];
	ms_conv2d f = flipped(c, &wf);
	ms_conv2d_forward(&f, N, H, W, dy, dys, dx, dxs, acc, NULL, ws + K * c->cout);
}
