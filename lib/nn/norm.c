/* GroupNorm: per (image, group) mean and variance over the group's channels and pixels. */
#include <math.h>
#include <stdlib.h>

#include "core/threads.h"
#include "core/util.h"
#include "nn.h"
#include "vec.h"

int ms_groupnorm_init(ms_groupnorm *g, ms_params *ps, const char *name, int c, int groups)
{
	if (groups < 1 || c % groups)
		return ms_error("groupnorm %s: %d channels not divisible into %d groups", name, c,
		                groups);
	g->c = c;
	g->groups = groups;
	g->eps = 1e-5f;
	g->cap = 0;
	g->stats = NULL;
	int64_t s[1] = { c };
	if (!(g->w = ms_param_add(ps, name, "weight", 1, s)) ||
	    !(g->b = ms_param_add(ps, name, "bias", 1, s)))
		return -1;
	ms_param_fill(g->w, 1);
	return 0;
}

int ms_groupnorm_plan(ms_groupnorm *g, int N)
{
	if (N <= g->cap)
		return 0;
	free(g->stats);
	if (!(g->stats = ms_calloc((size_t)2 * N * g->groups, sizeof(float))))
		return -1;
	g->cap = N;
	return 0;
}

void ms_groupnorm_free(ms_groupnorm *g)
{
	free(g->stats);
	g->stats = NULL;
	g->cap = 0;
}

/* sums of (x - shift) and (x - shift)^2 over n floats */
MS_CLONES static void sums(const float *x, size_t n, float shift, double *s1, double *s2)
{
	vf a = { 0 }, b = { 0 };
	size_t i = 0;
	for (; i + VL <= n; i += VL) {
		vf d = vload(x + i, VL) - shift;
		a += d;
		b += d * d;
	}
	float ta = vsum(a), tb = vsum(b);
	for (; i < n; i++) {
		ta += x[i] - shift;
		tb += (x[i] - shift) * (x[i] - shift);
	}
	*s1 = ta;
	*s2 = tb;
}

/* the gradient of GN(x) from that of silu(GN(x)), d, at x: GN(x) = x a + b recomputed as
 * the forward pass computes it, then vsilu_grad as ms_silu_backward: the same bytes */
VINLINE vf dsilu(vf d, vf x, float a, float b)
{
	return vsilu_grad(d, x * a + b);
}

/* sums of dy and dy * (x - mu); with da (silu; dy is da), dy = dsilu(da, x, ga, gb)
 * first, written over da */
VINLINE void dsums(const float *dy, float *da, const float *x, size_t n, float mu, float ga,
                   float gb, float *sd, float *sdx)
{
	vf a = { 0 }, b = { 0 };
	size_t i = 0;
	for (; i + VL <= n; i += VL) {
		vf xv = vload(x + i, VL), d = vload(dy + i, VL);
		if (da) {
			d = dsilu(d, xv, ga, gb);
			vstore(da + i, d, VL);
		}
		a += d;
		b += d * (xv - mu);
	}
	*sd = vsum(a);
	*sdx = vsum(b);
	if (da && i < n)
		vstore(da + i, dsilu(vload(da + i, n - i), vload(x + i, n - i), ga, gb), n - i);
	for (; i < n; i++) {
		*sd += dy[i];
		*sdx += dy[i] * (x[i] - mu);
	}
}

typedef struct {
	ms_groupnorm *g;
	int N, HW, acc, cg;   /* cg channels per group */
	size_t m;             /* values per group of one image, cg HW */
	const float *x, *dy;
	float *da;            /* backward with silu: the gradient of silu(GN(x)), dy after */
	size_t xs, ys, dys, dxs;
	float *y, *act, *dx;
} job;

/* (image, group) pairs */
MS_CLONES static void forward_part(void *arg, int tid, int nt)
{
	const job *j = arg;
	ms_groupnorm *g = j->g;
	int HW = j->HW, cg = j->cg;
	long lo, hi;
	ms_range((long)j->N * g->groups, tid, nt, &lo, &hi);
	for (long it = lo; it < hi; it++) {
		int n = (int)(it / g->groups), k = (int)(it % g->groups);
		const float *xg = j->x + n * j->xs + (size_t)k * j->m;
		double s = 0, s2 = 0;
		for (int cc = 0; cc < cg; cc++) {   /* per channel, shifted by its first value */
			const float *xc = xg + (size_t)cc * HW;
			double a, b, x0 = xc[0];
			sums(xc, HW, xc[0], &a, &b);
			s += a + HW * x0;
			s2 += b + 2 * x0 * a + HW * x0 * x0;
		}
		double mean = s / j->m, var = s2 / j->m - mean * mean;
		float mu = (float)mean, rs = (float)(1 / sqrt((var > 0 ? var : 0) + g->eps));
		g->stats[2 * it] = mu;
		g->stats[2 * it + 1] = rs;
		for (int cc = 0; cc < cg; cc++) {
			int ch = k * cg + cc;
			float a = rs * g->w->w[ch], b = g->b->w[ch] - mu * a;
			const float *xc = xg + (size_t)cc * HW;
			float *yc = j->y ? j->y + n * j->ys + (size_t)ch * HW : NULL;
			float *ac = j->act ? j->act + n * j->ys + (size_t)ch * HW : NULL;
			for (size_t i = 0; i < (size_t)HW; i += VL) {
				size_t l = vlen(i, HW);
				vf v = vload(xc + i, l) * a + b;
				if (yc)
					vstore(yc + i, v, l);
				if (ac)
					vstore(ac + i, v * vsigmoid(v), l);
			}
		}
	}
}

void ms_groupnorm_forward(ms_groupnorm *g, int N, int HW, const float *x, size_t xs,
                          float *y, size_t ys, float *act)
{
	MS_ASSERT(N <= g->cap);
	job j = { .g = g, .N = N, .HW = HW, .cg = g->c / g->groups, .x = x, .xs = xs, .y = y,
	          .ys = ys, .act = act };
	j.m = (size_t)j.cg * HW;
	ms_parallel(N * g->groups, forward_part, &j);
}

/* the thread's groups, every image: the groups' parameter gradients are its own */
MS_CLONES static void backward_part(void *arg, int tid, int nt)
{
	const job *j = arg;
	ms_groupnorm *g = j->g;
	int HW = j->HW, cg = j->cg;
	long k0, k1;
	ms_range(g->groups, tid, nt, &k0, &k1);
	for (int n = 0; n < j->N; n++)
		for (long k = k0; k < k1; k++) {
			float mu = g->stats[2 * (n * g->groups + k)];
			float rs = g->stats[2 * (n * g->groups + k) + 1];
			double sg = 0, sgx = 0;       /* sums of dy*gamma and dy*gamma*xhat */
			for (int cc = 0; cc < cg; cc++) {
				int ch = (int)k * cg + cc;
				float sd, sdx, ga = rs * g->w->w[ch], gb = g->b->w[ch] - mu * ga; /* GN(x) */
				size_t at = n * j->dys + (size_t)ch * HW;
				dsums(j->dy + at, j->da ? j->da + at : NULL, j->x + n * j->xs + (size_t)ch * HW,
				      HW, mu, ga, gb, &sd, &sdx);
				sdx *= rs;
				g->w->g[ch] += sdx;
				g->b->g[ch] += sd;
				sg += (double)sd * g->w->w[ch];
				sgx += (double)sdx * g->w->w[ch];
			}
			float mg = (float)(sg / j->m), mgx = (float)(sgx / j->m);
			/* dx = rs (dy gamma - mg - xhat mgx) = A dy + B x + C */
			float B = -rs * rs * mgx, C = rs * (mu * rs * mgx - mg);
			for (int cc = 0; cc < cg; cc++) {
				int ch = (int)k * cg + cc;
				const float *xc = j->x + n * j->xs + (size_t)ch * HW;
				const float *dc = j->dy + n * j->dys + (size_t)ch * HW;
				float *o = j->dx + n * j->dxs + (size_t)ch * HW, A = rs * g->w->w[ch];
				for (size_t i = 0; i < (size_t)HW; i += VL) {
					size_t l = vlen(i, HW);
					vf d = vload(dc + i, l) * A + vload(xc + i, l) * B + C;
					vstore(o + i, j->acc ? vload(o + i, l) + d : d, l);
				}
			}
		}
}

static void backward(ms_groupnorm *g, int N, int HW, const float *x, size_t xs,
                     const float *dy, float *da, size_t dys, float *dx, size_t dxs, int acc)
{
	job j = { .g = g, .N = N, .HW = HW, .acc = acc, .cg = g->c / g->groups, .x = x,
	          .xs = xs, .dy = da ? da : dy, .da = da, .dys = dys, .dx = dx, .dxs = dxs };
	j.m = (size_t)j.cg * HW;
	ms_parallel(g->groups, backward_part, &j);
}

void ms_groupnorm_backward(ms_groupnorm *g, int N, int HW, const float *x, size_t xs,
                           const float *dy, size_t dys, float *dx, size_t dxs, int acc)
{
	backward(g, N, HW, x, xs, dy, NULL, dys, dx, dxs, acc);
}

void ms_groupnorm_silu_backward(ms_groupnorm *g, int N, int HW, const float *x, size_t xs,
                                float *dact, size_t das, float *dx, size_t dxs, int acc)
{
	backward(g, N, HW, x, xs, NULL, dact, das, dx, dxs, acc);
}
