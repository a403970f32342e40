/* 2-D convolution: im2col + sgemm per image; 1x1 stride 1 multiplies directly.
 * Backward: dW += dY col^T, dcol = W^T dY, col2im. */
#include <math.h>
#include <string.h>

#include <cblas.h>

#include "nn.h"

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
	return (size_t)c->cin * c->k * c->k * ms_conv2d_out(c, H) * ms_conv2d_out(c, W);
}

/* col [cin*k*k, Ho*Wo] from one image x [cin,H,W] */
static void im2col(const ms_conv2d *c, int H, int W, const float *x, float *col)
{
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
static void col2im(const ms_conv2d *c, int H, int W, const float *col, float *x)
{
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
			float *yo = yn + (size_t)o * L;
			if (acc)
				for (int i = 0; i < L; i++)
					yo[i] += b;
			else
				for (int i = 0; i < L; i++)
					yo[i] = b;
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
	for (int n = 0; n < N; n++) {
		const float *xn = x + n * xs, *dyn = dy + n * dys;
		for (int o = 0; o < c->cout; o++) {           /* db += sum dy */
			const float *d = dyn + (size_t)o * L;
			float s = 0;
			for (int i = 0; i < L; i++)
				s += d[i];
			c->b->g[o] += s;
		}
		const float *col = xn;
		if (!direct(c)) {
			im2col(c, H, W, xn, ws);
			col = ws;
		}
		/* dW[cout,K] += dy[cout,L] col[K,L]^T */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->cout, K, L, 1.0f, dyn, L,
		            col, L, 1.0f, c->w->g, K);
		if (!dx)
			continue;
		float *dxn = dx + n * dxs;
		if (direct(c)) {      /* dx[cin,L] (+)= W^T dy */
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, L, c->cout, 1.0f,
			            c->w->w, K, dyn, L, acc ? 1.0f : 0.0f, dxn, L);
			continue;
		}
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, L, c->cout, 1.0f, c->w->w, K,
		            dyn, L, 0.0f, ws, L);
		if (!acc)
			memset(dxn, 0, (size_t)c->cin * H * W * sizeof *dxn);
		col2im(c, H, W, ws, dxn);
	}
}
