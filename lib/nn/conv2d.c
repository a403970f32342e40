/* 2-D convolution: im2col + sgemm per image; 1x1 stride 1 multiplies directly.
 * Backward: dW += dY col^T, dcol = W^T dY, col2im. */
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
 * im2col and the GEMMs that read it: about this many floats per tile. Measured on the
 * segmentor at 128x128 (tests/bench/unet.sh): 2 MB best on one thread, 8 MB on two
 * (larger GEMM calls share better). Fixed at first use, so workspaces planned with it
 * stay valid. */
static long tile_floats;

long ms_conv2d_tile(long floats)
{
	if (!tile_floats)
		tile_floats = openblas_get_num_threads() > 1 ? 1L << 21 : 1L << 19;
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

size_t ms_conv2d_ws(const ms_conv2d *c, int H, int W)
{
	if (direct(c))
		return 0;
	size_t K = (size_t)c->cin * c->k * c->k;
	return K * tile_rows(c, H, W) * ms_conv2d_out(c, W) + K * c->cout;
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
                      int r1)
{
	int k = c->k, p = c->pad;
	long n = (long)H * W, n0 = (long)r0 * W, len = (long)(r1 - r0) * W, lo, hi;
	for (int ci = 0; ci < c->cin; ci++, x += n)
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
static void col2im_s1(const ms_conv2d *c, int H, int W, float *col, float *x, int r0, int r1)
{
	int k = c->k, p = c->pad;
	long n = (long)H * W, n0 = (long)r0 * W, len = (long)(r1 - r0) * W, lo, hi;
	for (int ci = 0; ci < c->cin; ci++, x += n)
		for (int kh = 0; kh < k; kh++)
			for (int kw = 0; kw < k; kw++, col += len) {
				long d = (long)(kh - p) * W + kw - p;
				zero_cols(c, W, kw, col, len);
				s1_range(H, W, r0, r1, d, &lo, &hi);
				vadd(x + lo + d, col + lo - n0, hi - lo, 1);
			}
}

/* col [cin*k*k, (r1-r0)*Wo] from one image x [cin,H,W], output rows [r0,r1) */
static void im2col(const ms_conv2d *c, int H, int W, const float *x, float *col, int r0,
                   int r1)
{
	if (c->stride == 1) {
		im2col_s1(c, H, W, x, col, r0, r1);
		return;
	}
	int k = c->k, s = c->stride, p = c->pad, Wo = ms_conv2d_out(c, W);
	for (int ci = 0; ci < c->cin; ci++)
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

/* x [cin,H,W] += col2im(col), output rows [r0,r1) */
static void col2im(const ms_conv2d *c, int H, int W, float *col, float *x, int r0, int r1)
{
	if (c->stride == 1) {
		col2im_s1(c, H, W, col, x, r0, r1);
		return;
	}
	int k = c->k, s = c->stride, p = c->pad, Wo = ms_conv2d_out(c, W);
	for (int ci = 0; ci < c->cin; ci++)
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

void ms_conv2d_forward(const ms_conv2d *c, int N, int H, int W, const float *x, size_t xs,
                       float *y, size_t ys, int acc, const float *cbias, float *ws)
{
	int Ho = ms_conv2d_out(c, H), Wo = ms_conv2d_out(c, W), L = Ho * Wo;
	int K = c->cin * c->k * c->k, rows = tile_rows(c, H, W);
	for (int n = 0; n < N; n++) {
		const float *xn = x + n * xs;
		float *yn = y + n * ys;
		for (int o = 0; o < c->cout; o++) {           /* y (+)= bias */
			float b = c->b->w[o] + (cbias ? cbias[(size_t)n * c->cout + o] : 0);
			vfill(yn + (size_t)o * L, b, L, acc);
		}
		if (direct(c)) {     /* y[cout,L] += W[cout,cin] x[cin,L] */
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->cout, L, K, 1.0f,
			            c->w->w, K, xn, L, 1.0f, yn, L);
			continue;
		}
		for (int r0 = 0; r0 < Ho; r0 += rows) {   /* y[:,tile] += W[cout,K] col[K,tile] */
			int r1 = r0 + rows < Ho ? r0 + rows : Ho, Lt = (r1 - r0) * Wo;
			im2col(c, H, W, xn, ws, r0, r1);
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->cout, Lt, K, 1.0f,
			            c->w->w, K, ws, Lt, 1.0f, yn + (size_t)r0 * Wo, L);
		}
	}
}

void ms_conv2d_backward(const ms_conv2d *c, int N, int H, int W, const float *x, size_t xs,
                        const float *dy, size_t dys, float *dx, size_t dxs, int acc,
                        float *ws)
{
	int Ho = ms_conv2d_out(c, H), Wo = ms_conv2d_out(c, W), L = Ho * Wo;
	int K = c->cin * c->k * c->k, rows = tile_rows(c, H, W);
	float *dwt = direct(c) ? NULL : ws + (size_t)K * rows * Wo;
	for (int n = 0; n < N; n++) {
		const float *xn = x + n * xs, *dyn = dy + n * dys;
		for (int o = 0; o < c->cout; o++)             /* db += sum dy */
			c->b->g[o] += vsumarr(dyn + (size_t)o * L, L);
		if (direct(c)) {
			/* dW[cout,cin] += dy[cout,L] x[cin,L]^T; dx[cin,L] (+)= W^T dy */
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->cout, K, L, 1.0f, dyn, L,
			            xn, L, 1.0f, c->w->g, K);
			if (dx)
				cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, L, c->cout, 1.0f,
				            c->w->w, K, dyn, L, acc ? 1.0f : 0.0f, dx + n * dxs, L);
			continue;
		}
		float *dxn = dx ? dx + n * dxs : NULL;
		if (dxn && !acc)
			memset(dxn, 0, (size_t)c->cin * H * W * sizeof *dxn);
		for (int r0 = 0; r0 < Ho; r0 += rows) {
			int r1 = r0 + rows < Ho ? r0 + rows : Ho, Lt = (r1 - r0) * Wo;
			const float *dyt = dyn + (size_t)r0 * Wo;
			/* dWt[K,cout] (+)= col[K,tile] dy[cout,tile]^T (faster in OpenBLAS than
			 * dW = dy col^T) */
			im2col(c, H, W, xn, ws, r0, r1);
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K, c->cout, Lt, 1.0f, ws, Lt,
			            dyt, L, n || r0 ? 1.0f : 0.0f, dwt, c->cout);
			if (!dxn)
				continue;
			/* dcol[K,tile] = W^T dy[:,tile]; dx += col2im(dcol) */
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, Lt, c->cout, 1.0f, c->w->w,
			            K, dyt, L, 0.0f, ws, Lt);
			col2im(c, H, W, ws, dxn, r0, r1);
		}
	}
	if (!direct(c))
		for (int o = 0; o < c->cout; o++)
			for (int k = 0; k < K; k++)
				c->w->g[(size_t)o * K + k] += dwt[(size_t)k * c->cout + o];
}
