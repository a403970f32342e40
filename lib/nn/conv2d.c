/* 2-D convolution: im2col + sgemm per image; 1x1 stride 1 multiplies directly.
 * Backward: dW += dY col^T, dcol = W^T dY, col2im. On the thread pool, the forward pass
 * splits (image, tile of output rows) pairs, the backward pass input channels: each
 * thread owns its rows of dW and its channels of dx, so nothing needs a reduction. */
#include <math.h>
#include <string.h>

#include <cblas.h>

#include "nn.h"
#include "vec.h"

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

/* dW transposed [K,cout], then a tile of col per thread */
size_t ms_conv2d_ws(const ms_conv2d *c, int H, int W)
{
	if (direct(c))
		return 0;
	return (size_t)c->cin * c->k * c->k * c->cout + ms_nthreads() * col_floats(c, H, W);
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
 * are zeroed */
static void s1_range(int H, int W, int r0, int r1, long d, long *lo, long *hi)
{
	long n = (long)H * W, a = d < 0 ? -d : 0, b = d > 0 ? n - d : n;
	long n0 = (long)r0 * W, n1 = (long)r1 * W;
	*lo = a < n0 ? n0 : a > n1 ? n1 : a;
	*hi = b > n1 ? n1 : b < *lo ? *lo : b;
}

static void im2col_s1(const ms_conv2d *c, int H, int W, const float *x, float *col, int r0,
                      int r1, int c0, int c1)
{
	int k = c->k, p = c->pad;
	long n = (long)H * W, n0 = (long)r0 * W, len = (long)(r1 - r0) * W, lo, hi;
	x += c0 * n;
	for (int ci = c0; ci < c1; ci++, x += n)
		for (int kh = 0; kh < k; kh++)
			for (int kw = 0; kw < k; kw++, col += len) {
				long d = (long)(kh - p) * W + kw - p;
				s1_range(H, W, r0, r1, d, &lo, &hi);
				memset(col, 0, (lo - n0) * sizeof *col);
				memcpy(col + lo - n0, x + lo + d, (hi - lo) * sizeof *col);
				memset(col + hi - n0, 0, (n0 + len - hi) * sizeof *col);
				zero_cols(c, W, kw, col, len);
			}
}

/* its adjoint, x += col2im(col); destroys col */
static void col2im_s1(const ms_conv2d *c, int H, int W, float *col, float *x, int r0, int r1,
                      int c0, int c1)
{
	int k = c->k, p = c->pad;
	long n = (long)H * W, n0 = (long)r0 * W, len = (long)(r1 - r0) * W, lo, hi;
	x += c0 * n;
	for (int ci = c0; ci < c1; ci++, x += n)
		for (int kh = 0; kh < k; kh++)
			for (int kw = 0; kw < k; kw++, col += len) {
				long d = (long)(kh - p) * W + kw - p;
				zero_cols(c, W, kw, col, len);
				s1_range(H, W, r0, r1, d, &lo, &hi);
				vadd(x + lo + d, col + lo - n0, hi - lo, 1);
			}
}

/* col [(c1-c0)*k*k, (r1-r0)*Wo] from channels [c0,c1) of one image x [cin,H,W], output
 * rows [r0,r1) */
static void im2col(const ms_conv2d *c, int H, int W, const float *x, float *col, int r0,
                   int r1, int c0, int c1)
{
	if (c->stride == 1) {
		im2col_s1(c, H, W, x, col, r0, r1, c0, c1);
		return;
	}
	int k = c->k, s = c->stride, p = c->pad, Wo = ms_conv2d_out(c, W);
	for (int ci = c0; ci < c1; ci++)
		for (int kh = 0; kh < k; kh++)
			for (int kw = 0; kw < k; kw++) {
				const float *xc = x + (size_t)ci * H * W;
				/* valid output columns: 0 <= ow*s - p + kw < W */
				int lo = 0, hi = Wo;
				while (lo < Wo && lo * s - p + kw < 0)
					lo++;
				while (hi > lo && (hi - 1) * s - p + kw >= W)
					hi--;
				for (int oh = r0; oh < r1; oh++, col += Wo) {
					int ih = oh * s - p + kh;
					if (ih < 0 || ih >= H) {
						memset(col, 0, Wo * sizeof *col);
						continue;
					}
					const float *row = xc + (size_t)ih * W - p + kw;
					for (int ow = 0; ow < lo; ow++)
						col[ow] = 0;
					for (int ow = lo; ow < hi; ow++)
						col[ow] = row[ow * s];
					for (int ow = hi; ow < Wo; ow++)
						col[ow] = 0;
				}
			}
}

/* channels [c0,c1) of x [cin,H,W] += col2im(col), output rows [r0,r1) */
static void col2im(const ms_conv2d *c, int H, int W, float *col, float *x, int r0, int r1,
                   int c0, int c1)
{
	if (c->stride == 1) {
		col2im_s1(c, H, W, col, x, r0, r1, c0, c1);
		return;
	}
	int k = c->k, s = c->stride, p = c->pad, Wo = ms_conv2d_out(c, W);
	for (int ci = c0; ci < c1; ci++)
		for (int kh = 0; kh < k; kh++)
			for (int kw = 0; kw < k; kw++) {
				float *xc = x + (size_t)ci * H * W;
				int lo = 0, hi = Wo;
				while (lo < Wo && lo * s - p + kw < 0)
					lo++;
				while (hi > lo && (hi - 1) * s - p + kw >= W)
					hi--;
				for (int oh = r0; oh < r1; oh++, col += Wo) {
					int ih = oh * s - p + kh;
					if (ih < 0 || ih >= H)
						continue;
					float *row = xc + (size_t)ih * W - p + kw;
					for (int ow = lo; ow < hi; ow++)
						row[ow * s] += col[ow];
				}
			}
}

typedef struct {
	const ms_conv2d *c;
	int N, H, W, acc;
	const float *x, *dy, *cbias;
	size_t xs, ys, dys, dxs;
	float *y, *dx, *ws;
} job;

static void forward_part(void *arg, int tid, int nt)
{
	const job *j = arg;
	const ms_conv2d *c = j->c;
	int Ho = ms_conv2d_out(c, j->H), Wo = ms_conv2d_out(c, j->W), L = Ho * Wo;
	int K = c->cin * c->k * c->k, rows = tile_rows(c, j->H, j->W), tiles = (Ho + rows - 1) / rows;
	float *col = direct(c) ? NULL : j->ws + (size_t)K * c->cout + tid * col_floats(c, j->H, j->W);
	long lo, hi;
	ms_range((long)j->N * tiles, tid, nt, &lo, &hi);
	for (long i = lo; i < hi; i++) {
		int n = (int)(i / tiles), r0 = (int)(i % tiles) * rows, r1 = r0 + rows < Ho ? r0 + rows : Ho;
		int Lt = (r1 - r0) * Wo;
		float *yt = j->y + n * j->ys + (size_t)r0 * Wo;
		for (int o = 0; o < c->cout; o++) {           /* y (+)= bias */
			float b = c->b->w[o] + (j->cbias ? j->cbias[(size_t)n * c->cout + o] : 0);
			vfill(yt + (size_t)o * L, b, Lt, j->acc);
		}
		const float *xn = j->x + n * j->xs;
		if (direct(c)) {     /* y[cout,tile] += W[cout,cin] x[cin,tile] */
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->cout, Lt, K, 1.0f,
			            c->w->w, K, xn + (size_t)r0 * Wo, L, 1.0f, yt, L);
			continue;
		}
		im2col(c, j->H, j->W, xn, col, r0, r1, 0, c->cin);   /* y[:,tile] += W col */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->cout, Lt, K, 1.0f, c->w->w,
		            K, col, Lt, 1.0f, yt, L);
	}
}

void ms_conv2d_forward(const ms_conv2d *c, int N, int H, int W, const float *x, size_t xs,
                       float *y, size_t ys, int acc, const float *cbias, float *ws)
{
	int Ho = ms_conv2d_out(c, H), rows = tile_rows(c, H, W);
	job j = { .c = c, .N = N, .H = H, .W = W, .acc = acc, .x = x, .cbias = cbias, .xs = xs,
	          .ys = ys, .y = y, .ws = ws };
	ms_parallel(N * ((Ho + rows - 1) / rows), forward_part, &j);
}

/* the thread's input channels [c0,c1): its rows of dW and its channels of dx; and its
 * output channels of db */
static void backward_part(void *arg, int tid, int nt)
{
	const job *j = arg;
	const ms_conv2d *c = j->c;
	int H = j->H, W = j->W, Ho = ms_conv2d_out(c, H), Wo = ms_conv2d_out(c, W), L = Ho * Wo;
	int kk = c->k * c->k, K = c->cin * kk, rows = tile_rows(c, H, W);
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
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->cout, Kt, L, 1.0f, dyn, L,
			            j->x + n * j->xs + c0 * L, L, 1.0f, c->w->g + c0, K);
			if (j->dx)
				cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Kt, L, c->cout, 1.0f,
				            c->w->w + c0, K, dyn, L, j->acc ? 1.0f : 0.0f,
				            j->dx + n * j->dxs + c0 * L, L);
		}
		return;
	}
	float *dwt = j->ws + c0 * kk * c->cout;             /* rows [c0*kk, c1*kk) of [K,cout] */
	float *col = j->ws + (size_t)K * c->cout + tid * col_floats(c, H, W);
	for (int n = 0; n < j->N; n++) {
		const float *xn = j->x + n * j->xs, *dyn = j->dy + n * j->dys;
		float *dxn = j->dx ? j->dx + n * j->dxs : NULL;
		if (dxn && !j->acc)
			memset(dxn + c0 * H * W, 0, (size_t)(c1 - c0) * H * W * sizeof *dxn);
		for (int r0 = 0; r0 < Ho; r0 += rows) {
			int r1 = r0 + rows < Ho ? r0 + rows : Ho, Lt = (r1 - r0) * Wo;
			const float *dyt = dyn + (size_t)r0 * Wo;
			/* dWt[Kt,cout] (+)= col[Kt,tile] dy[cout,tile]^T (faster in OpenBLAS than
			 * dW = dy col^T) */
			im2col(c, H, W, xn, col, r0, r1, (int)c0, (int)c1);
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Kt, c->cout, Lt, 1.0f, col, Lt,
			            dyt, L, n || r0 ? 1.0f : 0.0f, dwt, c->cout);
			if (!dxn)
				continue;
			/* dcol[Kt,tile] = W[:,c0:c1]^T dy[:,tile]; dx += col2im(dcol) */
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Kt, Lt, c->cout, 1.0f,
			            c->w->w + c0 * kk, K, dyt, L, 0.0f, col, Lt);
			col2im(c, H, W, col, dxn, r0, r1, (int)c0, (int)c1);
		}
	}
	for (int o = 0; o < c->cout; o++)
		for (int k = 0; k < Kt; k++)
			c->w->g[(size_t)o * K + c0 * kk + k] += dwt[(size_t)k * c->cout + o];
}

void ms_conv2d_backward(const ms_conv2d *c, int N, int H, int W, const float *x, size_t xs,
                        const float *dy, size_t dys, float *dx, size_t dxs, int acc,
                        float *ws)
{
	job j = { .c = c, .N = N, .H = H, .W = W, .acc = acc, .x = x, .dy = dy, .xs = xs,
	          .dys = dys, .dxs = dxs, .dx = dx, .ws = ws };
	ms_parallel(c->cin > c->cout ? c->cin : c->cout, backward_part, &j);
}
