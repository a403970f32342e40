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

size_t ms_conv2d_ws(const ms_conv2d *c, int H, int W)
{
	if (direct(c))
		return 0;
	size_t K = (size_t)c->cin * c->k * c->k;
	return K * ms_conv2d_out(c, H) * ms_conv2d_out(c, W) + K * c->cout;
}

/* stride 1, "same" padding: each (ci,kh,kw) plane of col is the image shifted by
 * d = (kh-p) W + (kw-p) as one flat copy; the columns that wrapped around are zeroed */
static void shift_range(int H, int W, long d, long *a, long *b)
{
	long n = (long)H * W;
	*a = d < 0 ? -d : 0;
	*b = d > 0 ? n - d : n;
}

static void im2col_s1(const ms_conv2d *c, int H, int W, const float *x, float *col)
{
	int k = c->k, p = c->pad;
	long n = (long)H * W, a, b;
	for (int ci = 0; ci < c->cin; ci++, x += n)
		for (int kh = 0; kh < k; kh++)
			for (int kw = 0; kw < k; kw++, col += n) {
				shift_range(H, W, (long)(kh - p) * W + kw - p, &a, &b);
				memset(col, 0, a * sizeof *col);
				memcpy(col + a, x + a + (long)(kh - p) * W + kw - p, (b - a) * sizeof *col);
				memset(col + b, 0, (n - b) * sizeof *col);
				for (int ow = 0; ow < W; ow++)
					if (ow + kw - p < 0 || ow + kw - p >= W)
						for (long i = ow; i < n; i += W)
							col[i] = 0;
			}
}

/* its adjoint; destroys col */
static void col2im_s1(const ms_conv2d *c, int H, int W, float *col, float *x)
{
	int k = c->k, p = c->pad;
	long n = (long)H * W, a, b;
	for (int ci = 0; ci < c->cin; ci++, x += n)
		for (int kh = 0; kh < k; kh++)
			for (int kw = 0; kw < k; kw++, col += n) {
				long d = (long)(kh - p) * W + kw - p;
				for (int ow = 0; ow < W; ow++)
					if (ow + kw - p < 0 || ow + kw - p >= W)
						for (long i = ow; i < n; i += W)
							col[i] = 0;
				shift_range(H, W, d, &a, &b);
				vadd(x + a + d, col + a, b - a, 1);
			}
}

/* col [cin*k*k, Ho*Wo] from one image x [cin,H,W] */
static void im2col(const ms_conv2d *c, int H, int W, const float *x, float *col)
{
	if (c->stride == 1) {
		im2col_s1(c, H, W, x, col);
		return;
	}
	int k = c->k, s = c->stride, p = c->pad, Ho = ms_conv2d_out(c, H), Wo = ms_conv2d_out(c, W);
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
				for (int oh = 0; oh < Ho; oh++, col += Wo) {
					int ih = oh * s - p + kh;
					if (ih < 0 || ih >= H) {
						memset(col, 0, Wo * sizeof *col);
						continue;
					}
					const float *row = xc + (size_t)ih * W - p + kw;
					for (int ow = 0; ow < lo; ow++)
						col[ow] = 0;
					if (s == 1)
						memcpy(col + lo, row + lo, (hi - lo) * sizeof *col);
					else
						for (int ow = lo; ow < hi; ow++)
							col[ow] = row[ow * s];
					for (int ow = hi; ow < Wo; ow++)
						col[ow] = 0;
				}
			}
}

/* dx [cin,H,W] += col2im(col) */
static void col2im(const ms_conv2d *c, int H, int W, float *col, float *x)
{
	if (c->stride == 1) {
		col2im_s1(c, H, W, col, x);
		return;
	}
	int k = c->k, s = c->stride, p = c->pad, Ho = ms_conv2d_out(c, H), Wo = ms_conv2d_out(c, W);
	for (int ci = 0; ci < c->cin; ci++)
		for (int kh = 0; kh < k; kh++)
			for (int kw = 0; kw < k; kw++) {
				float *xc = x + (size_t)ci * H * W;
				int lo = 0, hi = Wo;
				while (lo < Wo && lo * s - p + kw < 0)
					lo++;
				while (hi > lo && (hi - 1) * s - p + kw >= W)
					hi--;
				for (int oh = 0; oh < Ho; oh++, col += Wo) {
					int ih = oh * s - p + kh;
					if (ih < 0 || ih >= H)
						continue;
					float *row = xc + (size_t)ih * W - p + kw;
					if (s == 1)
						for (int ow = lo; ow < hi; ow++)
							row[ow] += col[ow];
					else
						for (int ow = lo; ow < hi; ow++)
							row[ow * s] += col[ow];
				}
			}
}

void ms_conv2d_forward(const ms_conv2d *c, int N, int H, int W, const float *x, size_t xs,
                       float *y, size_t ys, int acc, const float *cbias, float *ws)
{
	int Ho = ms_conv2d_out(c, H), Wo = ms_conv2d_out(c, W), L = Ho * Wo;
	int K = c->cin * c->k * c->k;
	for (int n = 0; n < N; n++) {
		const float *xn = x + n * xs;
		float *yn = y + n * ys;
		for (int o = 0; o < c->cout; o++) {           /* y (+)= bias */
			float b = c->b->w[o] + (cbias ? cbias[(size_t)n * c->cout + o] : 0);
			vfill(yn + (size_t)o * L, b, L, acc);
		}
		const float *col = xn;
		if (!direct(c)) {
			im2col(c, H, W, xn, ws);
			col = ws;
		}
		/* y[cout,L] += W[cout,K] col[K,L] */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->cout, L, K, 1.0f,
		            c->w->w, K, col, L, 1.0f, yn, L);
	}
}

void ms_conv2d_backward(const ms_conv2d *c, int N, int H, int W, const float *x, size_t xs,
                        const float *dy, size_t dys, float *dx, size_t dxs, int acc,
                        float *ws)
{
	int Ho = ms_conv2d_out(c, H), Wo = ms_conv2d_out(c, W), L = Ho * Wo;
	int K = c->cin * c->k * c->k;
	float *dwt = direct(c) ? NULL : ws + (size_t)K * L;
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
		/* dWt[K,cout] (+)= col[K,L] dy[cout,L]^T (faster in OpenBLAS than dW = dy col^T) */
		im2col(c, H, W, xn, ws);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K, c->cout, L, 1.0f, ws, L, dyn,
		            L, n ? 1.0f : 0.0f, dwt, c->cout);
		if (!dx)
			continue;
		float *dxn = dx + n * dxs;
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, L, c->cout, 1.0f, c->w->w, K,
		            dyn, L, 0.0f, ws, L);
		if (!acc)
			memset(dxn, 0, (size_t)c->cin * H * W * sizeof *dxn);
		col2im(c, H, W, ws, dxn);
	}
	if (!direct(c))
		for (int o = 0; o < c->cout; o++)
			for (int k = 0; k < K; k++)
				c->w->g[(size_t)o * K + k] += dwt[(size_t)k * c->cout + o];
}
