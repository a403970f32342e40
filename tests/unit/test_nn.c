/* Neural core: every layer's and loss's backward against central finite differences,
 * Adam against known values, the U-Net's gradient, overfitting, checkpoints.
 * Tolerance: the loss is sum(r * y) for a random r, evaluated with double
 * accumulation; with eps 1e-3 in float32 the difference between analytic and numeric
 * gradients, relative to the largest gradient entry, stays below 2e-3 (measured about
 * 1e-4 .. 5e-4); the U-Net, deeper, uses eps 1e-2 and tolerance 1e-2. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/ms.h"
#include "io/stream.h"
#include "nn/gemm.h"
#include "nn/nn.h"
#include "nn/winograd.h"
#include "test.h"

static ms_rng rng;

static float *randv(size_t n, float scale)
{
	float *v = malloc(n * sizeof *v);
	for (size_t i = 0; i < n; i++)
		v[i] = scale * ms_rng_normal(&rng);
	return v;
}

/* ---- generic finite-difference check */
typedef struct gc gc;
struct gc {
	void (*fwd)(gc *);
	void (*bwd)(gc *, const float *dy);
	float *y;
	size_t ny;
	void *ctx;
};

static double lossof(gc *g, const float *r)
{
	g->fwd(g);
	double s = 0;
	for (size_t i = 0; i < g->ny; i++)
		s += (double)r[i] * g->y[i];
	return s;
}

/* relative error of the analytic gradient grad (filled by bwd) of variable v[0..n) */
static double fd(gc *g, float *v, const float *grad, size_t n, const float *r, float eps,
                 size_t maxcheck)
{
	double maxd = 0, maxg = 1e-6;
	size_t step = n > maxcheck ? n / maxcheck : 1;
	for (size_t i = 0; i < n; i += step) {
		float keep = v[i];
		v[i] = keep + eps;
		double lp = lossof(g, r);
		v[i] = keep - eps;
		double lm = lossof(g, r);
		v[i] = keep;
		double num = (lp - lm) / (2 * eps);
		maxd = fmax(maxd, fabs(num - grad[i]));
		maxg = fmax(maxg, fmax(fabs(num), fabs(grad[i])));
	}
	return maxd / maxg;
}

/* check input x (dx from bwd) and every parameter of ps */
static void check_all(gc *g, const char *what, float *x, float *dx, size_t nx, ms_params *ps,
                      float eps, double tol)
{
	float *r = randv(g->ny, 1);
	if (ps)
		ms_params_zero_grad(ps);
	g->fwd(g);
	g->bwd(g, r);
	float *dxc = NULL;
	if (x) {
		dxc = malloc(nx * sizeof *dxc);
		memcpy(dxc, dx, nx * sizeof *dxc);
		double e = fd(g, x, dxc, nx, r, eps, 400);
		if (!(e < tol))
			fprintf(stderr, "%s: input gradient relative error %.3g\n", what, e);
		CHECK(e < tol);
	}
	for (int k = 0; ps && k < ps->n; k++) {
		ms_param *p = ps->p[k];
		float *gcopy = malloc(p->n * sizeof *gcopy);
		memcpy(gcopy, p->g, p->n * sizeof *gcopy);
		double e = fd(g, p->w, gcopy, p->n, r, eps, 200);
		if (!(e < tol))
			fprintf(stderr, "%s: %s gradient relative error %.3g\n", what, p->name, e);
		CHECK(e < tol);
		free(gcopy);
	}
	free(dxc);
	free(r);
}

/* ---- conv2d, with input and output as channel slices of larger buffers */
typedef struct {
	ms_conv2d c;
	int N, H, W;
	size_t xs, ys;
	float *x, *dx, *ws, *yb;
} convctx;

static void conv_fwd(gc *g)
{
	convctx *c = g->ctx;
	ms_conv2d_forward(&c->c, c->N, c->H, c->W, c->x, c->xs, c->yb, c->ys, 0, NULL, c->ws);
	int Ho = ms_conv2d_out(&c->c, c->H), Wo = ms_conv2d_out(&c->c, c->W);
	for (int n = 0; n < c->N; n++)   /* gather the slices */
		memcpy(g->y + (size_t)n * c->c.cout * Ho * Wo, c->yb + n * c->ys,
		       (size_t)c->c.cout * Ho * Wo * sizeof(float));
}

static void conv_bwd(gc *g, const float *dy)
{
	convctx *c = g->ctx;
	int Ho = ms_conv2d_out(&c->c, c->H), Wo = ms_conv2d_out(&c->c, c->W);
	size_t per = (size_t)c->c.cout * Ho * Wo;
	float *dyb = calloc(c->N * c->ys, sizeof *dyb);
	for (int n = 0; n < c->N; n++)
		memcpy(dyb + n * c->ys, dy + n * per, per * sizeof *dyb);
	/* acc=0 over stale values, then acc=1 onto 1 (subtracted after): the same dx */
	size_t nx = c->N * c->xs;
	float *over = malloc(nx * sizeof *over);
	for (size_t i = 0; i < nx; i++)
		c->dx[i] = 7;
	ms_conv2d_backward(&c->c, c->N, c->H, c->W, c->x, c->xs, dyb, c->ys, c->dx, c->xs, 0,
	                   c->ws);
	memcpy(over, c->dx, nx * sizeof *over);
	memset(c->c.w->g, 0, c->c.w->n * sizeof(float));
	memset(c->c.b->g, 0, c->c.b->n * sizeof(float));
	for (size_t i = 0; i < nx; i++)
		c->dx[i] = 1;
	ms_conv2d_backward(&c->c, c->N, c->H, c->W, c->x, c->xs, dyb, c->ys, c->dx, c->xs, 1,
	                   c->ws);
	int same = 1;                  /* inside the slices; the rest is not dx's */
	for (int n = 0; n < c->N; n++)
		for (size_t i = n * c->xs; i < n * c->xs + (size_t)c->c.cin * c->H * c->W; i++)
			same &= fabsf(c->dx[i] - 1 - over[i]) <= 1e-5f * (1 + fabsf(over[i]));
	CHECK(same);
	for (size_t i = 0; i < nx; i++)
		c->dx[i] -= 1;
	free(over);
	free(dyb);
}

static void check_conv(int cin, int cout, int k, int s, int H, int W)
{
	ms_params ps = { 0 };
	convctx c = { 0 };
	char what[64];
	snprintf(what, sizeof what, "conv %dx%d s%d %d->%d", k, k, s, cin, cout);
	ps.seed = 7;
	CHECK(ms_conv2d_init(&c.c, &ps, "c", cin, cout, k, s) == 0);
	c.N = 2;
	c.H = H;
	c.W = W;
	int Ho = ms_conv2d_out(&c.c, H), Wo = ms_conv2d_out(&c.c, W);
	c.xs = (size_t)(cin + 1) * H * W;        /* slices of a larger tensor */
	c.ys = (size_t)(cout + 2) * Ho * Wo;
	c.x = randv(c.N * c.xs, 1);
	c.dx = calloc(c.N * c.xs, sizeof(float));
	c.yb = calloc(c.N * c.ys, sizeof(float));
	c.ws = calloc(ms_conv2d_ws(&c.c, H, W) + 1, sizeof(float));
	gc g = { conv_fwd, conv_bwd, calloc((size_t)c.N * cout * Ho * Wo, sizeof(float)),
	         (size_t)c.N * cout * Ho * Wo, &c };
	/* the convolution is linear in x and W: a central difference is exact at any step, and
	 * a long one (0.1) keeps the forward pass's rounding (Winograd's F(4x4,3x3): 1e-5) out
	 * of the estimate */
	check_all(&g, what, c.x, c.dx, c.N * c.xs, &ps, 0.1f, 2e-3);
	/* forward against a direct loop in double, every output: within 4e-5 for outputs of
	 * about 1 (the larger Winograd tile's rounding; the others' within 1e-5) */
	conv_fwd(&g);
	double worst = 0;
	for (int n = 0; n < c.N; n++)
		for (int o = 0; o < cout; o++)
			for (int oh = 0; oh < Ho; oh++)
				for (int ow = 0; ow < Wo; ow++) {
					double ref = c.c.b->w[o];
					for (int ci = 0; ci < cin; ci++)
						for (int kh = 0; kh < k; kh++)
							for (int kw = 0; kw < k; kw++) {
								int ih = oh * s - k / 2 + kh, iw = ow * s - k / 2 + kw;
								if (ih >= 0 && ih < H && iw >= 0 && iw < W)
									ref += (double)c.c.w->w[((o * cin + ci) * k + kh) * k + kw] *
									       c.x[n * c.xs + ((size_t)ci * H + ih) * W + iw];
							}
					double e = fabs(g.y[(((size_t)n * cout + o) * Ho + oh) * Wo + ow] - ref);
					worst = e > worst ? e : worst;
				}
	if (getenv("SHOWW") || !(worst <= 4e-5))
		printf("%s: %dx%d, worst difference from the direct sum %g\n", what, H, W, worst);
	CHECK(worst <= 4e-5);
	free(c.x);
	free(c.dx);
	free(c.yb);
	free(c.ws);
	free(g.y);
	ms_params_free(&ps);
}

/* the forward pass and dx of a Winograd convolution are the same bytes on 1 and 3
 * threads, in one work item or one tile row each, dW on 1 and 3 threads (its sums over
 * the tiles run in the work items' order); without Winograd (out[4]) they differ by
 * rounding only, and do differ (the Winograd path ran). With bf16 products (where the
 * CPU has them), the operands written as bfloat16 pairs (ms_conv2d_pairs: out[5], 3
 * threads) and in single precision (out[6], one thread) give the same bytes, not
 * fp32's; so without Winograd (out[7], out[8]: the shifted way where the channels and
 * columns allow it). With force, Winograd's way is taken for any channels
 * (ms_conv2d_winograd(2)). */
static void check_conv_same(int cin, int cout, int H, int W, int force)
{
	int bf = !strcmp(ms_gemm_use_precision("bf16"), "bf16");
	ms_gemm_use_precision("fp32");
	ms_params ps = { 0 };
	ms_conv2d c;
	ps.seed = 5;
	CHECK(ms_conv2d_init(&c, &ps, "c", cin, cout, 3, 1) == 0);
	int N = 3;
	size_t nx = (size_t)N * cin * H * W, ny = (size_t)N * cout * H * W, nw = c.w->n;
	float *x = randv(nx, 1), *dy = randv(ny, 1), *out[9] = { 0 };
	long old = ms_conv2d_tile(0);
	int th = ms_nthreads();
	for (int k = 0; k < (bf ? 9 : 5); k++) {
		ms_threads(k % 2 ? 3 : 1);
		ms_conv2d_tile(k / 2 == 1 ? 1 : old);
		ms_conv2d_winograd(k == 4 || k > 6 ? 0 : force ? 2 : 1);
		ms_gemm_use_precision(k < 5 ? "fp32" : "bf16");
		ms_conv2d_pairs(k == 5 || k == 7);
		float *ws = calloc(ms_conv2d_ws(&c, H, W), sizeof(float));
		out[k] = malloc((ny + nx + nw) * sizeof(float));
		memset(c.w->g, 0, nw * sizeof(float));
		ms_conv2d_forward(&c, N, H, W, x, (size_t)cin * H * W, out[k], (size_t)cout * H * W,
		                  0, NULL, ws);
		ms_conv2d_backward(&c, N, H, W, x, (size_t)cin * H * W, dy, (size_t)cout * H * W,
		                   out[k] + ny, (size_t)cin * H * W, 0, ws);
		memcpy(out[k] + ny + nx, c.w->g, nw * sizeof(float));
		free(ws);
	}
	ms_gemm_use_precision("fp32");
	ms_conv2d_pairs(1);
	for (int k = 1; k < 4; k++)
		CHECK(!memcmp(out[0], out[k], (ny + nx) * sizeof(float)) &&
		      !memcmp(out[k & 2] + ny + nx, out[k] + ny + nx, nw * sizeof(float)));
	if (bf)
		CHECK(!memcmp(out[5], out[6], (ny + nx + nw) * sizeof(float)) &&
		      memcmp(out[0], out[5], ny * sizeof(float)) &&
		      !memcmp(out[7], out[8], (ny + nx + nw) * sizeof(float)) &&
		      memcmp(out[4], out[7], ny * sizeof(float)));
	double worst = 0, wworst = 0, wbig = 0;
	for (size_t i = 0; i < ny + nx; i++)
		worst = fmax(worst, fabs(out[0][i] - out[4][i]));
	for (size_t i = ny + nx; i < ny + nx + nw; i++) {   /* dW sums N H W terms */
		wworst = fmax(wworst, fabs(out[0][i] - out[4][i]));
		wbig = fmax(wbig, fabs(out[4][i]));
	}
	CHECK(memcmp(out[0], out[4], (ny + nx) * sizeof(float)) && worst < 4e-5);
	CHECK(memcmp(out[0] + ny + nx, out[4] + ny + nx, nw * sizeof(float)) &&
	      wworst < 1e-5 * wbig);
	if (getenv("SHOWW"))
		printf("winograd %d->%d %dx%d: y, dx within %g, dW within %g of %g\n", cin, cout, H,
		       W, worst, wworst, wbig);
	ms_conv2d_winograd(1);
	ms_conv2d_tile(old);
	ms_threads(th);
	for (int k = 0; k < 9; k++)
		free(out[k]);
	free(x);
	free(dy);
	ms_params_free(&ps);
}

static void test_conv(void)
{
	check_conv_same(16, 24, 5, 35, 0);
	check_conv_same(24, 16, 4, 32, 0);
	check_conv_same(17, 33, 5, 35, 0);    /* odd channels: the last pair half empty */
	check_conv_same(20, 16, 6, 66, 0);    /* 64+ columns: F(4x4,3x3) */
	check_conv_same(3, 5, 5, 35, 1);      /* few channels (the benches' forced way) */
	check_conv_same(5, 3, 6, 66, 1);
	for (int tiled = 0; tiled < 2; tiled++) {
		/* tiled: one output row per tile */
		long old = ms_conv2d_tile(tiled ? 1 : 0);
		check_conv(3, 4, 3, 1, 5, 6);
		check_conv(3, 5, 3, 2, 7, 6);
		check_conv(2, 3, 3, 2, 8, 8);
		check_conv(4, 3, 1, 1, 5, 4);
		check_conv(16, 5, 3, 1, 3, 32);    /* 16+ channels, 32+ columns: shifted */
		check_conv(16, 20, 3, 1, 2, 33);   /* 16+ channels both sides: Winograd */
		check_conv(17, 16, 3, 1, 5, 35);   /* odd rows and columns: part tiles */
		check_conv(24, 8, 3, 1, 6, 34);    /* shifted forward, dx by Winograd */
		check_conv(4, 16, 3, 1, 3, 32);    /* im2col forward, dx by the shifted way */
		check_conv(16, 24, 3, 1, 1, 32);
		check_conv(33, 40, 3, 1, 7, 32);   /* several row tiles when tiled */
		check_conv(16, 20, 3, 1, 7, 69);   /* rows split 64 columns at a time, and the rest */
		check_conv(16, 1, 3, 1, 5, 34);    /* cin >= 4 cout: dx by the flipped im2col */
		check_conv(13, 3, 3, 1, 6, 9);
		ms_conv2d_tile(old);
	}
}

/* fused upsample + conv against the composite of the two (both ways) */
static void test_upconv(void)
{
	enum { N = 2, CI = 3, CO = 4, h = 5, w = 6 };
	ms_params ps = { .seed = 8 };
	ms_conv2d c;
	CHECK(ms_conv2d_init(&c, &ps, "up", CI, CO, 3, 1) == 0);
	size_t L = h * w, xs = CI * L, ys = CO * 4 * L;
	float *x = randv(N * xs, 1), *u = calloc(N * CI * 4 * L, sizeof(float));
	float *y1 = calloc(N * ys, sizeof(float)), *y2 = calloc(N * ys, sizeof(float));
	float *dy = randv(N * ys, 1), *du = calloc(N * CI * 4 * L, sizeof(float));
	float *dx1 = calloc(N * xs, sizeof(float)), *dx2 = calloc(N * xs, sizeof(float));
	float *ws = calloc(ms_conv2d_ws(&c, 2 * h, 2 * w) + ms_upconv_ws(&c, h, w), sizeof(float));
	float *g1 = calloc(c.w->n + CO, sizeof(float));
	ms_upsample2_forward(N, CI, h, w, x, xs, u, CI * 4 * L);
	ms_conv2d_forward(&c, N, 2 * h, 2 * w, u, CI * 4 * L, y1, ys, 0, NULL, ws);
	ms_conv2d_backward(&c, N, 2 * h, 2 * w, u, CI * 4 * L, dy, ys, du, CI * 4 * L, 0, ws);
	ms_upsample2_backward(N, CI, h, w, du, CI * 4 * L, dx1, xs, 0);
	memcpy(g1, c.w->g, c.w->n * sizeof(float));
	memcpy(g1 + c.w->n, c.b->g, CO * sizeof(float));
	ms_params_zero_grad(&ps);
	ms_upconv_forward(&c, N, h, w, x, xs, y2, ys, ws);
	for (size_t i = 0; i < N * xs; i++)
		dx2[i] = 1;          /* acc = 1 onto 1 */
	ms_upconv_backward(&c, N, h, w, x, xs, dy, ys, dx2, xs, 1, ws);
	double e = 0;
	for (size_t i = 0; i < N * ys; i++)
		e = fmax(e, fabs(y1[i] - y2[i]));
	for (size_t i = 0; i < N * xs; i++)
		e = fmax(e, fabs(dx1[i] - (dx2[i] - 1)));
	for (size_t i = 0; i < c.w->n; i++)
		e = fmax(e, fabs(g1[i] - c.w->g[i]));
	for (int i = 0; i < CO; i++)
		e = fmax(e, fabs(g1[c.w->n + i] - c.b->g[i]));
	CHECK(e < 1e-4);
	free(x), free(u), free(y1), free(y2), free(dy), free(du), free(dx1), free(dx2);
	free(ws), free(g1);
	ms_params_free(&ps);
}

/* ---- linear */
typedef struct {
	ms_linear l;
	int N;
	float *x, *dx;
} linctx;

static void lin_fwd(gc *g)
{
	linctx *c = g->ctx;
	ms_linear_forward(&c->l, c->N, c->x, g->y, 0);
}

static void lin_bwd(gc *g, const float *dy)
{
	linctx *c = g->ctx;
	ms_linear_backward(&c->l, c->N, c->x, dy, c->dx, 0);
}

static void test_linear(void)
{
	ms_params ps = { .seed = 3 };
	linctx c = { .N = 3 };
	CHECK(ms_linear_init(&c.l, &ps, "fc", 5, 4) == 0);
	c.x = randv(15, 1);
	c.dx = calloc(15, sizeof(float));
	gc g = { lin_fwd, lin_bwd, calloc(12, sizeof(float)), 12, &c };
	check_all(&g, "linear", c.x, c.dx, 15, &ps, 1e-3f, 2e-3);
	free(c.x);
	free(c.dx);
	free(g.y);
	ms_params_free(&ps);
}

/* ---- groupnorm (random affine parameters), optionally with fused SiLU output */
typedef struct {
	ms_groupnorm gn;
	int N, HW, silu;
	float *x, *dx, *n, *tmp;
} gnctx;

/* silu 1: GN's output kept and ms_silu_backward; 2: not kept, the fused backward */
static void gn_fwd(gc *g)
{
	gnctx *c = g->ctx;
	size_t cl = (size_t)c->gn.c * c->HW;
	ms_groupnorm_forward(&c->gn, c->N, c->HW, c->x, cl,
	                     c->silu == 1 ? c->n : c->silu ? NULL : g->y, cl,
	                     c->silu ? g->y : NULL);
}

static void gn_bwd(gc *g, const float *dy)
{
	gnctx *c = g->ctx;
	size_t cl = (size_t)c->gn.c * c->HW;
	const float *d = dy;
	if (c->silu == 2) {      /* it overwrites the gradient given: a copy */
		memcpy(c->tmp, dy, c->N * cl * sizeof *c->tmp);
		ms_groupnorm_silu_backward(&c->gn, c->N, c->HW, c->x, cl, c->tmp, cl, c->dx, cl, 0);
		return;
	}
	if (c->silu) {
		ms_silu_backward(c->n, dy, c->tmp, c->N * cl, 0);
		d = c->tmp;
	}
	ms_groupnorm_backward(&c->gn, c->N, c->HW, c->x, cl, d, cl, c->dx, cl, 0);
}

static void test_groupnorm(void)
{
	ms_rng_init(&rng, 77, 0);     /* its data not those the tests before it leave */
	for (int silu = 0; silu < 3; silu++) {
		ms_params ps = { .seed = 5 };
		gnctx c = { .N = 2, .HW = 21, .silu = silu };   /* 21: vectors and a tail */
		CHECK(ms_groupnorm_init(&c.gn, &ps, "gn", 6, 3) == 0);
		CHECK(ms_groupnorm_plan(&c.gn, 2) == 0);
		for (size_t i = 0; i < 6; i++) {
			c.gn.w->w[i] = 1 + 0.3f * ms_rng_normal(&rng);
			c.gn.b->w[i] = 0.3f * ms_rng_normal(&rng);
		}
		size_t n = 2 * 6 * 21;
		c.x = randv(n, 2);
		for (size_t i = 0; i < n; i++)
			c.x[i] += 1;
		c.dx = calloc(n, sizeof(float));
		c.n = calloc(n, sizeof(float));
		c.tmp = calloc(n, sizeof(float));
		gc g = { gn_fwd, gn_bwd, calloc(n, sizeof(float)), n, &c };
		check_all(&g, silu == 2 ? "groupnorm+silu fused" : silu ? "groupnorm+silu" :
		          "groupnorm", c.x, c.dx, n, &ps, 1e-3f, 2e-3);
		if (silu == 2) {     /* the fused backward: the bytes of the two passes */
			float *dy = randv(n, 1), *dx[2], *pg[2];
			for (int k = 0; k < 2; k++) {
				c.silu = 1 + k;
				ms_params_zero_grad(&ps);
				gn_fwd(&g);
				gn_bwd(&g, dy);
				dx[k] = malloc(n * sizeof(float));
				memcpy(dx[k], c.dx, n * sizeof(float));
				pg[k] = malloc(12 * sizeof(float));
				memcpy(pg[k], c.gn.w->g, 6 * sizeof(float));
				memcpy(pg[k] + 6, c.gn.b->g, 6 * sizeof(float));
			}
			CHECK(!memcmp(dx[0], dx[1], n * sizeof(float)) &&
			      !memcmp(pg[0], pg[1], 12 * sizeof(float)));
			for (int k = 0; k < 2; k++)
				free(dx[k]), free(pg[k]);
			free(dy);
		}
		/* normalised output: group 0 of image 0 has mean b and (affine 1,0) unit variance */
		ms_param_fill(c.gn.w, 1);
		ms_param_fill(c.gn.b, 0);
		c.silu = 0;
		gn_fwd(&g);
		double s = 0, s2 = 0;
		int m = 2 * c.HW;            /* 2 channels a group */
		for (int i = 0; i < m; i++) {
			s += g.y[i];
			s2 += (double)g.y[i] * g.y[i];
		}
		CHECK_NEAR(s / m, 0, 1e-6);
		CHECK_NEAR(s2 / m, 1, 1e-3);
		free(c.x);
		free(c.dx);
		free(c.n);
		free(c.tmp);
		free(g.y);
		ms_groupnorm_free(&c.gn);
		ms_params_free(&ps);
	}
}

/* ---- activations, upsampling, concatenation: layers without parameters */
typedef struct {
	int kind;
	float *x, *dx, *b, *db;
} elctx;

enum { E_SILU, E_RELU, E_SIGM, E_UP, E_CAT };

static void el_fwd(gc *g)
{
	elctx *c = g->ctx;
	switch (c->kind) {
	case E_SILU: ms_silu_forward(c->x, g->y, g->ny); break;
	case E_RELU: ms_relu_forward(c->x, g->y, g->ny); break;
	case E_SIGM: ms_sigmoid_forward(c->x, g->y, g->ny); break;
	case E_UP: ms_upsample2_forward(2, 3, 3, 4, c->x, 36, g->y, 144); break;
	case E_CAT: ms_concat_forward(2, 6, c->x, 3, c->b, 2, g->y); break;
	}
}

static void el_bwd(gc *g, const float *dy)
{
	elctx *c = g->ctx;
	switch (c->kind) {
	case E_SILU: ms_silu_backward(c->x, dy, c->dx, g->ny, 0); break;
	case E_RELU: ms_relu_backward(c->x, dy, c->dx, g->ny, 0); break;
	case E_SIGM: ms_sigmoid_backward(g->y, dy, c->dx, g->ny, 0); break;
	case E_UP: ms_upsample2_backward(2, 3, 3, 4, dy, 144, c->dx, 36, 0); break;
	case E_CAT: ms_concat_backward(2, 6, dy, c->dx, 3, c->db, 2, 0); break;
	}
}

static void test_elementwise(void)
{
	static const char *names[] = { "silu", "relu", "sigmoid", "upsample", "concat" };
	for (int k = E_SILU; k <= E_CAT; k++) {
		size_t nx = k == E_UP ? 72 : k == E_CAT ? 36 : 50;
		size_t ny = k == E_UP ? 288 : k == E_CAT ? 60 : 50;
		elctx c = { k, randv(nx, 2), calloc(nx, sizeof(float)), randv(24, 1),
		            calloc(24, sizeof(float)) };
		for (size_t i = 0; i < nx; i++)   /* keep relu away from its kink */
			if (fabsf(c.x[i]) < 0.01f)
				c.x[i] = 0.5f;
		gc g = { el_fwd, el_bwd, calloc(ny, sizeof(float)), ny, &c };
		check_all(&g, names[k], c.x, c.dx, nx, NULL, 1e-3f, 2e-3);
		if (k == E_CAT) {   /* the second input too */
			float *r = randv(ny, 1);
			el_fwd(&g);
			el_bwd(&g, r);
			float *dbc = malloc(24 * sizeof *dbc);
			memcpy(dbc, c.db, 24 * sizeof *dbc);
			CHECK(fd(&g, c.b, dbc, 24, r, 1e-3f, 100) < 2e-3);
			free(dbc);
			free(r);
		}
		free(c.x);
		free(c.dx);
		free(c.b);
		free(c.db);
		free(g.y);
	}
}

/* ---- attention */
typedef struct {
	ms_attn a;
	float *x, *dx;
	size_t cl;
} atctx;

static void at_fwd(gc *g)
{
	atctx *c = g->ctx;
	ms_attn_forward(&c->a, c->x, c->cl, g->y, c->cl);
}

static void at_bwd(gc *g, const float *dy)
{
	atctx *c = g->ctx;
	ms_attn_backward(&c->a, c->x, c->cl, dy, c->cl, c->dx, c->cl, 0);
}

static void test_attention(void)
{
	ms_params ps = { .seed = 11 };
	atctx c;
	CHECK(ms_attn_init(&c.a, &ps, "attn", 8, 4) == 0);
	CHECK(ms_attn_plan(&c.a, 2, 12, 1) == 0);
	c.cl = 8 * 12;
	/* larger q/k weights so the softmax is far from uniform */
	for (size_t i = 0; i < c.a.qkv.w->n; i++)
		c.a.qkv.w->w[i] *= 3;
	c.x = randv(2 * c.cl, 1);
	c.dx = calloc(2 * c.cl, sizeof(float));
	gc g = { at_fwd, at_bwd, calloc(2 * c.cl, sizeof(float)), 2 * c.cl, &c };
	check_all(&g, "attention", c.x, c.dx, 2 * c.cl, &ps, 1e-3f, 2e-3);
	free(c.x);
	free(c.dx);
	free(g.y);
	ms_attn_free(&c.a);
	ms_params_free(&ps);
}

/* ---- losses */
typedef struct {
	int kind;
	float *x, *t, *dx;
} lossctx;

static double lossval(lossctx *c, float *d)
{
	switch (c->kind) {
	case 0: return ms_loss_bce(c->x, c->t, 40, d, 1, 0);
	case 1: return ms_loss_dice(c->x, c->t, 2, 20, d, 1, 0);
	default: return ms_loss_mse(c->x, c->t, 40, d, 1, 0);
	}
}

static void test_losses(void)
{
	static const char *names[] = { "bce", "dice", "mse" };
	for (int k = 0; k < 3; k++) {
		lossctx c = { k, randv(40, 2), randv(40, 1), calloc(40, sizeof(float)) };
		if (k < 2)
			for (int i = 0; i < 40; i++)
				c.t[i] = c.t[i] > 0.5f;
		lossval(&c, c.dx);
		double maxd = 0, maxg = 0;
		for (int i = 0; i < 40; i++) {
			float keep = c.x[i];
			c.x[i] = keep + 1e-3f;
			double lp = lossval(&c, NULL);
			c.x[i] = keep - 1e-3f;
			double lm = lossval(&c, NULL);
			c.x[i] = keep;
			double num = (lp - lm) / 2e-3;
			maxd = fmax(maxd, fabs(num - c.dx[i]));
			maxg = fmax(maxg, fabs(num));
		}
		if (!(maxd / maxg < 2e-3))
			fprintf(stderr, "%s: relative error %.3g\n", names[k], maxd / maxg);
		CHECK(maxd / maxg < 2e-3);
		free(c.x);
		free(c.t);
		free(c.dx);
	}
	/* known values */
	float x[2] = { 0, 2 }, y[2] = { 1, 0 }, d[2];
	CHECK_NEAR(ms_loss_bce(x, y, 2, d, 1, 0), (log(2) + 2 + log1p(exp(-2))) / 2, 1e-6);
	CHECK_NEAR(d[0], -0.25, 1e-6);
	float big[4] = { 20, 20, -20, -20 }, yy[4] = { 1, 1, 0, 0 };
	CHECK_NEAR(ms_loss_dice(big, yy, 1, 4, NULL, 1, 0), 0, 1e-6);
	CHECK_NEAR(ms_loss_mse(x, y, 2, d, 1, 0), (1 + 4) / 2.0, 1e-6);
}

/* ---- Adam and AdamW against torch.optim (1.13) on two steps */
static void test_adam(void)
{
	static const double want[3][2] = { { 0.810142517, -1.9494189 },
	                                   { 0.807281494, -1.86272204 },
	                                   { 0.79124254, -1.9106189 } };
	for (int v = 0; v < 3; v++) {
		ms_params ps = { 0 };
		int64_t shape[1] = { 2 };
		ms_param *p = ms_param_add(&ps, "w", "", 1, shape);
		ms_adam a;
		ms_adam_init(&a, 0.1, v ? 0.1 : 0, v == 2);
		p->w[0] = 1;
		p->w[1] = -2;
		p->g[0] = 0.5f;
		p->g[1] = -0.1f;
		ms_adam_step(&a, &ps);
		if (v == 0) {    /* by hand: the first step moves each weight by lr */
			CHECK_NEAR(p->w[0], 0.9, 1e-6);
			CHECK_NEAR(p->w[1], -1.9, 1e-6);
		}
		p->g[0] = 0.2f;
		p->g[1] = 0.3f;
		ms_adam_step(&a, &ps);
		CHECK_NEAR(p->w[0], want[v][0], 3e-6);    /* float32 rounding */
		CHECK_NEAR(p->w[1], want[v][1], 3e-6);
		ms_params_free(&ps);
	}
	/* clipping, schedules, EMA */
	ms_params ps = { 0 };
	int64_t shape[1] = { 2 };
	ms_param *p = ms_param_add(&ps, "w", "", 1, shape);
	p->g[0] = 3;
	p->g[1] = 4;
	CHECK_NEAR(ms_params_clip(&ps, 1), 5, 1e-9);
	CHECK_NEAR(p->g[0], 0.6, 1e-5);
	CHECK_NEAR(p->g[1], 0.8, 1e-5);
	CHECK_NEAR(ms_lr_at(MS_LR_CONSTANT, 0.1, 50, 100, 0), 0.1, 1e-12);
	CHECK_NEAR(ms_lr_at(MS_LR_COSINE, 0.1, 50, 100, 0), 0.05, 1e-12);
	CHECK_NEAR(ms_lr_at(MS_LR_POLY, 0.1, 50, 100, 0), 0.1 * pow(0.5, 0.9), 1e-12);
	CHECK_NEAR(ms_lr_at(MS_LR_COSINE, 0.1, 4, 100, 10), 0.05, 1e-12);
	CHECK(ms_lr_parse("poly") == MS_LR_POLY && ms_lr_parse("x") == -1);
	p->w[0] = 1;
	CHECK(ms_params_ema_enable(&ps) == 0);
	p->w[0] = 3;
	ms_params_ema_update(&ps, 0.75);
	CHECK_NEAR(p->ema[0], 1.5, 1e-6);
	ms_params_ema_swap(&ps);
	CHECK_NEAR(p->w[0], 1.5, 1e-6);
	ms_params_free(&ps);
}

/* ---- U-Net */
static void tiny_cfg(ms_unet_cfg *c, int temb, int attn)
{
	ms_unet_cfg_default(c);
	c->in_ch = 2;
	c->width = 8;
	c->groups = 4;
	c->nmult = 2;
	c->mult[0] = 1;
	c->mult[1] = 2;
	c->temb = temb;
	c->attn = attn;
}

typedef struct {
	ms_unet *u;
	float *x, *t, *cond;
} unctx;

static void un_fwd(gc *g)
{
	unctx *c = g->ctx;
	memcpy(g->y, ms_unet_forward(c->u, c->x, c->t, c->cond), g->ny * sizeof(float));
}

static void un_bwd(gc *g, const float *dy)
{
	unctx *c = g->ctx;
	ms_unet_backward(c->u, dy);
}

static void test_unet_grad(void)
{
	ms_unet_cfg cfg;
	for (int v = 0; v < 2; v++) {
		tiny_cfg(&cfg, v, v);
		ms_unet *u = ms_unet_new(&cfg, 42);
		CHECK(u != NULL);
		CHECK(ms_unet_plan(u, 2, 8, 8, 1) == 0 && !ms_unet_dx(u));
		CHECK(ms_unet_plan(u, 2, 8, 8, MS_UNET_TRAIN_DX) == 0 && ms_unet_dx(u));
		unctx c = { u, randv(2 * 2 * 64, 1), NULL, NULL };
		float t[2] = { 3, 700 };
		if (v) {
			c.t = t;
			c.cond = randv(2 * ms_unet_tdim(u), 0.5f);
		}
		gc g = { un_fwd, un_bwd, calloc(128, sizeof(float)), 128, &c };
		float *r = randv(128, 1);
		ms_params *ps = ms_unet_params(u);
		ms_params_zero_grad(ps);
		un_fwd(&g);
		un_bwd(&g, r);
		/* of every parameter, the 3 entries of largest gradient (best signal to noise) */
		double worst = 0;
		const char *wname = "";
		for (int k = 0; k < ps->n; k++) {
			ms_param *p = ps->p[k];
			float *gcopy = malloc(p->n * sizeof *gcopy), g3[3];
			size_t top[3] = { 0, 0, 0 };
			memcpy(gcopy, p->g, p->n * sizeof *gcopy);
			for (int j = 0; j < 3; j++) {
				for (size_t i = 0; i < p->n; i++)
					if (fabsf(gcopy[i]) > fabsf(gcopy[top[j]]))
						top[j] = i;
				g3[j] = gcopy[top[j]];
				gcopy[top[j]] = 0;
			}
			double e = 0;
			for (int j = 0; j < 3 && j < (int)p->n; j++) {
				double ej = fd(&g, &p->w[top[j]], &g3[j], 1, r, 1e-2f, 1);
				e = ej > e ? ej : e;
			}
			if (e > worst) {
				worst = e;
				wname = p->name;
			}
			free(gcopy);
		}
		{             /* d loss / d x: its 3 largest entries and 3 others, against the
			               * largest */
			ms_params_zero_grad(ps);
			un_fwd(&g);
			un_bwd(&g, r);
			float *dx = malloc(256 * sizeof *dx);
			memcpy(dx, ms_unet_dx(u), 256 * sizeof *dx);
			size_t idx[6] = { 0, 0, 0, 5, 77, 250 };
			for (int j = 0; j < 3; j++)
				for (size_t i = 0; i < 256; i++) {
					int taken = 0;
					for (int q = 0; q < j; q++)
						taken |= idx[q] == i;
					if (!taken && fabsf(dx[i]) > fabsf(dx[idx[j]]))
						idx[j] = i;
				}
			double e = 0, h = 1e-2;
			for (int j = 0; j < 6; j++) {
				float keep = c.x[idx[j]];
				c.x[idx[j]] = keep + (float)h;
				double lp = lossof(&g, r);
				c.x[idx[j]] = keep - (float)h;
				double lm = lossof(&g, r);
				c.x[idx[j]] = keep;
				e = fmax(e, fabs((lp - lm) / (2 * h) - dx[idx[j]]) / fabs(dx[idx[0]]));
			}
			printf("unet%s d/dx: relative error %.3g\n", v ? " (temb, attn)" : "", e);
			CHECK(e < 1e-2 && dx[idx[0]] != 0);
			free(dx);
		}
		if (v) {      /* d loss / d cond, from the first backward */
			ms_params_zero_grad(ps);
			un_fwd(&g);
			un_bwd(&g, r);
			float dc[2];
			dc[0] = ms_unet_dcond(u)[0];
			dc[1] = ms_unet_dcond(u)[ms_unet_tdim(u) + 5];
			double e = fmax(fd(&g, &c.cond[0], &dc[0], 1, r, 1e-2f, 1),
			                fd(&g, &c.cond[ms_unet_tdim(u) + 5], &dc[1], 1, r, 1e-2f, 1));
			printf("unet d/dcond: relative error %.3g\n", e);
			CHECK(e < 1e-2);
		}
		printf("unet%s gradient: worst relative error %.3g (%s), %d parameters\n",
		       v ? " (temb, attn)" : "", worst, wname, ps->n);
		CHECK(worst < 1e-2);
		CHECK(!v || ms_params_find(ps, "time_mlp.0.weight"));
		CHECK(!v || ms_params_find(ps, "mid_attn.qkv.weight"));
		free(r);
		free(c.x);
		free(c.cond);
		free(g.y);
		ms_unet_free(u);
	}
}

/* state-dict names of ref_unet.py's segmentor */
static void test_unet_names(void)
{
	ms_unet_cfg cfg;
	ms_unet_cfg_default(&cfg);
	ms_unet *u = ms_unet_new(&cfg, 1);
	ms_params *ps = ms_unet_params(u);
	CHECK(ms_params_count(ps) == 2329281 && ps->n == 118);   /* as PyTorch counts */
	CHECK(!strcmp(ps->p[0]->name, "conv_in.weight"));
	CHECK(ms_params_find(ps, "down.0.norm1.weight") && ms_params_find(ps, "down.1.weight"));
	CHECK(ms_params_find(ps, "down.2.skip.weight") && ms_params_find(ps, "up.5.1.weight"));
	CHECK(ms_params_find(ps, "mid2.conv2.bias") && !ms_params_find(ps, "down.0.skip.weight"));
	CHECK(!strcmp(ps->p[ps->n - 1]->name, "conv_out.bias"));
	/* determinism: same seed, same bytes; other seed, other weights */
	ms_unet *v = ms_unet_new(&cfg, 1), *w = ms_unet_new(&cfg, 2);
	int same = 1, diff = 0;
	for (int k = 0; k < ps->n; k++) {
		same &= !memcmp(ps->p[k]->w, ms_unet_params(v)->p[k]->w, ps->p[k]->n * 4);
		diff |= !!memcmp(ps->p[k]->w, ms_unet_params(w)->p[k]->w, ps->p[k]->n * 4);
	}
	CHECK(same);
	CHECK(diff);
	ms_unet_free(u);
	ms_unet_free(v);
	ms_unet_free(w);
}

/* one 32x32 image: BCE + Dice falls tenfold */
static void test_overfit(void)
{
	ms_unet_cfg cfg;
	tiny_cfg(&cfg, 0, 0);
	cfg.in_ch = 1;
	ms_unet *u = ms_unet_new(&cfg, 9);
	CHECK(ms_unet_plan(u, 1, 32, 32, 1) == 0);
	float x[1024], y[1024], d[1024];
	for (int i = 0; i < 32; i++)
		for (int j = 0; j < 32; j++) {
			int in = (i - 14) * (i - 14) + (j - 17) * (j - 17) < 64;
			y[i * 32 + j] = in;
			x[i * 32 + j] = 0.3f * in + 0.1f * ms_rng_normal(&rng);
		}
	ms_adam a;
	ms_adam_init(&a, 1e-2, 0, 0);
	double first = 0, last = 0;
	for (int s = 0; s < 150; s++) {
		float *out = ms_unet_forward(u, x, NULL, NULL);
		double l = ms_loss_bce(out, y, 1024, d, 1, 0) + ms_loss_dice(out, y, 1, 1024, d, 1, 1);
		if (!s)
			first = l;
		last = l;
		ms_params_zero_grad(ms_unet_params(u));
		ms_unet_backward(u, d);
		ms_adam_step(&a, ms_unet_params(u));
	}
	printf("overfit: loss %.4f -> %.4f\n", first, last);
	CHECK(last < first / 10);
	ms_unet_free(u);
}

/* ---- checkpoints */
static int errhas(const char *s)
{
	if (strstr(ms_errmsg(), s))
		return 1;
	fprintf(stderr, "message '%s' lacks '%s'\n", ms_errmsg(), s);
	return 0;
}

static void write_model_rec(FILE *f, const ms_unet_cfg *cfg)
{
	ms_rec r;
	int64_t one = 1;
	ms_rec_init(&r);
	ms_tensor_alloc(&r.t, MS_I32, 0, &one);
	ms_rec_set_name(&r, "model");
	ms_unet_cfg_to_rec(cfg, &r);
	ms_rec_write(f, &r);
	ms_rec_free(&r);
}

static void test_checkpoint(void)
{
	char dir[] = "/tmp/test_nn.XXXXXX", path[64], bad[64];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/m.ms", dir);
	snprintf(bad, sizeof bad, "%s/bad.ms", dir);
	ms_unet_cfg cfg;
	tiny_cfg(&cfg, 1, 1);
	ms_unet *u = ms_unet_new(&cfg, 4);
	ms_adam a, b;
	ms_adam_init(&a, 1e-3, 0, 0);
	ms_adam_init(&b, 1e-3, 0, 0);
	CHECK(ms_unet_plan(u, 2, 8, 8, 1) == 0);
	float *x = randv(256, 1), t[2] = { 1, 2 }, d[128];
	float *out = ms_unet_forward(u, x, t, NULL);
	for (int i = 0; i < 128; i++)
		d[i] = out[i];
	ms_params_zero_grad(ms_unet_params(u));
	ms_unet_backward(u, d);
	CHECK(ms_params_ema_enable(ms_unet_params(u)) == 0);
	ms_adam_step(&a, ms_unet_params(u));
	ms_params_ema_update(ms_unet_params(u), 0.5);
	CHECK(ms_unet_save(u, path, &a, 1, "note=hello\nsize=8x8\n") == 0);
	ms_rec model;
	ms_rec_init(&model);
	ms_unet *v = ms_unet_load(path, &b, &model);
	CHECK(v != NULL);
	if (!v) {
		fprintf(stderr, "%s\n", ms_errmsg());
		return;
	}
	char buf[64];
	CHECK(ms_meta_get(&model, "step", buf, sizeof buf) && !strcmp(buf, "1"));
	CHECK(ms_meta_get(&model, "size", buf, sizeof buf) && !strcmp(buf, "8x8"));
	CHECK(b.t == 1);
	ms_params *pu = ms_unet_params(u), *pv = ms_unet_params(v);
	int same = pu->n == pv->n;
	for (int k = 0; same && k < pu->n; k++)
		same = !memcmp(pu->p[k]->w, pv->p[k]->w, pu->p[k]->n * 4) &&
		       !memcmp(pu->p[k]->m, pv->p[k]->m, pu->p[k]->n * 4) &&
		       !memcmp(pu->p[k]->v, pv->p[k]->v, pu->p[k]->n * 4) && pv->p[k]->ema &&
		       !memcmp(pu->p[k]->ema, pv->p[k]->ema, pu->p[k]->n * 4);
	CHECK(same);
	CHECK(ms_unet_plan(v, 2, 8, 8, 0) == 0);
	float *o1 = ms_unet_forward(u, x, t, NULL), *o2 = ms_unet_forward(v, x, t, NULL);
	CHECK(!memcmp(o1, o2, 128 * sizeof(float)));
	ms_rec_free(&model);
	ms_unet_free(v);

	/* wrong shape: the model record says width 16, the parameters are width 8 */
	FILE *f = fopen(bad, "wb");
	ms_unet_cfg wide = cfg;
	wide.width = 16;
	write_model_rec(f, &wide);
	ms_params_write(f, pu, 0);
	fclose(f);
	CHECK(ms_unet_load(bad, NULL, NULL) == NULL);
	CHECK(errhas("conv_in.weight has shape 8x2x3x3, expected 16x2x3x3"));
	/* missing and unexpected names */
	f = fopen(bad, "wb");
	write_model_rec(f, &cfg);
	ms_param *keep = pu->p[3];
	pu->p[3] = pu->p[4];
	snprintf(keep->name + strlen(keep->name), 8, "%s", "X");
	ms_params_write(f, pu, 0);
	keep->name[strlen(keep->name) - 1] = '\0';
	pu->p[3] = keep;
	fclose(f);
	CHECK(ms_unet_load(bad, NULL, NULL) == NULL);
	CHECK(errhas("missing time_mlp.2.bias"));
	CHECK(errhas("checkpoint does not fit"));
	/* no architecture, bad magic, truncated */
	f = fopen(bad, "wb");
	ms_params_write(f, pu, 0);
	fclose(f);
	CHECK(ms_unet_load(bad, NULL, NULL) == NULL);
	CHECK(errhas("not 'model'"));
	f = fopen(bad, "wb");
	fputs("GIF89a this is not a checkpoint at all, and long enough for a header", f);
	fclose(f);
	CHECK(ms_unet_load(bad, NULL, NULL) == NULL);
	CHECK(errhas("bad magic"));
	f = fopen(path, "rb");
	char *all = malloc(1 << 20);
	size_t n = fread(all, 1, 1 << 20, f);
	fclose(f);
	f = fopen(bad, "wb");
	fwrite(all, 1, n / 2 + 5, f);
	fclose(f);
	CHECK(ms_unet_load(bad, NULL, NULL) == NULL);
	CHECK(errhas("truncated"));
	free(all);
	CHECK(ms_unet_load("/nonexistent/m.ms", NULL, NULL) == NULL);
	CHECK(errhas("cannot open"));
	unlink(bad);
	unlink(path);
	rmdir(dir);
	free(x);
	ms_unet_free(u);
}

/* training 4 steps straight through = 2 steps, checkpoint, load, 2 more (bit-identical) */
static void train_steps(ms_unet *u, ms_adam *a, const float *x, const float *y, int from, int to)
{
	float d[2 * 64];
	for (int s = from; s < to; s++) {
		float t[2] = { 10.0f * s, 500 };
		float *out = ms_unet_forward(u, x, t, NULL);
		ms_loss_mse(out, y, 128, d, 1, 0);
		ms_params_zero_grad(ms_unet_params(u));
		ms_unet_backward(u, d);
		ms_params_clip(ms_unet_params(u), 1.0);
		a->lr = ms_lr_at(MS_LR_COSINE, 1e-3, s, 4, 1);
		ms_adam_step(a, ms_unet_params(u));
	}
}

static void test_resume(void)
{
	char path[] = "/tmp/test_nn_resume.XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	ms_unet_cfg cfg;
	tiny_cfg(&cfg, 1, 1);
	float *x = randv(256, 1), *y = randv(128, 1);
	ms_unet *u = ms_unet_new(&cfg, 5), *v = ms_unet_new(&cfg, 5);
	ms_adam a, b;
	ms_adam_init(&a, 1e-3, 0.01, 1);
	ms_adam_init(&b, 1e-3, 0.01, 1);
	CHECK(ms_unet_plan(u, 2, 8, 8, 1) == 0 && ms_unet_plan(v, 2, 8, 8, 1) == 0);
	train_steps(u, &a, x, y, 0, 4);
	train_steps(v, &b, x, y, 0, 2);
	CHECK(ms_unet_save(v, path, &b, 2, NULL) == 0);
	ms_unet_free(v);
	ms_adam_init(&b, 1e-3, 0.01, 1);
	v = ms_unet_load(path, &b, NULL);
	CHECK(v && b.t == 2);
	if (v) {
		CHECK(ms_unet_plan(v, 2, 8, 8, 1) == 0);
		train_steps(v, &b, x, y, 2, 4);
		ms_params *pu = ms_unet_params(u), *pv = ms_unet_params(v);
		int same = 1;
		for (int k = 0; k < pu->n; k++)
			same &= !memcmp(pu->p[k]->w, pv->p[k]->w, pu->p[k]->n * sizeof(float));
		CHECK(same);
	}
	unlink(path);
	free(x);
	free(y);
	ms_unet_free(u);
	ms_unet_free(v);
}

/* the thread pool: every item once; the U-Net's output and gradients on 1 and 3
 * threads agree (the split changes only the order of a few sums), and a thread count
 * repeats itself exactly */
static void count_part(void *arg, int tid, int nt)
{
	int *hits = arg;
	long lo, hi;
	ms_range(1000, tid, nt, &lo, &hi);
	for (long i = lo; i < hi; i++)
		hits[i]++;
}

static float *unet_run(int threads, const float *x, const float *t, const float *dy, size_t *n)
{
	ms_threads(threads);
	ms_unet_cfg cfg;
	tiny_cfg(&cfg, 1, 1);
	ms_unet *u = ms_unet_new(&cfg, 9);
	CHECK(u && ms_unet_plan(u, 3, 16, 16, 1) == 0);
	ms_params *ps = ms_unet_params(u);
	size_t np = ms_params_count(ps), no = 3 * 16 * 16, k = 0;
	float *r = malloc((no + np) * sizeof *r);
	ms_params_zero_grad(ps);
	memcpy(r, ms_unet_forward(u, x, t, NULL), no * sizeof *r);
	ms_unet_backward(u, dy);
	for (int i = 0; i < ps->n; k += ps->p[i]->n, i++)
		memcpy(r + no + k, ps->p[i]->g, ps->p[i]->n * sizeof *r);
	*n = no + np;
	ms_unet_free(u);
	return r;
}

/* the largest |a - b| over the largest |a| */
static double worst_diff(const float *a, const float *b, size_t n)
{
	double worst = 0, big = 0;
	for (size_t i = 0; i < n; i++)
		big = fmax(big, fabs(a[i]));
	for (size_t i = 0; i < n; i++)
		worst = fmax(worst, fabs(a[i] - b[i]) / big);
	return worst;
}

static void test_threads(void)
{
	int hits[1000] = { 0 }, once = 1;
	for (int th = 1; th <= 4; th++) {
		ms_threads(th);
		CHECK(ms_nthreads() == th);
		memset(hits, 0, sizeof hits);
		ms_parallel(1000, count_part, hits);
		for (int i = 0; i < 1000; i++)
			once &= hits[i] == 1;
	}
	CHECK(once);
	float *x = randv(3 * 2 * 256, 1), *dy = randv(3 * 256, 1), t[3] = { 3, 70, 500 };
	size_t n;
	float *a = unet_run(1, x, t, dy, &n), *b = unet_run(3, x, t, dy, &n),
	      *c = unet_run(3, x, t, dy, &n);
	double worst = worst_diff(a, b, n);
	printf("threads: 1 vs 3 threads, %zu outputs and gradients, worst difference %.2g of the largest\n",
	       n, worst);
	CHECK(worst < 1e-5);
	CHECK(!memcmp(b, c, n * sizeof *b));
	free(a);
	free(b);
	free(c);
	free(x);
	free(dy);
	ms_threads(0);
}

/* --precision bf16 (where the CPU has it): the U-Net's output and gradients within 3% of
 * the largest of fp32's and not equal to them, the same bytes run after run on 3 threads,
 * and the overfit test's loss still falls tenfold */
static void test_bf16(void)
{
	if (strcmp(ms_gemm_use_precision("bf16"), "bf16")) {
		fprintf(stderr, "test_bf16: no bf16 products here, skipped\n");
		ms_gemm_use_precision("fp32");
		return;
	}
	float *x = randv(3 * 2 * 256, 1), *dy = randv(3 * 256, 1), t[3] = { 3, 70, 500 };
	size_t n;
	float *b = unet_run(3, x, t, dy, &n), *c = unet_run(3, x, t, dy, &n);
	ms_gemm_use_precision("fp32");
	float *a = unet_run(3, x, t, dy, &n);
	double worst = worst_diff(a, b, n);
	printf("bf16: %zu outputs and gradients, worst difference from fp32 %.2g of the largest\n",
	       n, worst);
	CHECK(worst < 3e-2 && worst > 0);
	CHECK(!memcmp(b, c, n * sizeof *b));
	ms_gemm_use_precision("bf16");
	test_overfit();
	ms_gemm_use_precision("fp32");
	free(a);
	free(b);
	free(c);
	free(x);
	free(dy);
	ms_threads(0);
}

int main(void)
{
	ms_rng_init(&rng, 1234, 0);
	ms_threads(0);
	RUN(test_conv);
	RUN(test_upconv);
	RUN(test_linear);
	RUN(test_groupnorm);
	RUN(test_elementwise);
	RUN(test_attention);
	RUN(test_losses);
	RUN(test_adam);
	RUN(test_unet_names);
	RUN(test_unet_grad);
	RUN(test_overfit);
	RUN(test_checkpoint);
	RUN(test_resume);
	RUN(test_threads);
	RUN(test_bf16);
	return test_summary("nn");
}
