/* GroupNorm: per (image, group) mean and variance over the group's channels and pixels. */
#include <math.h>
#include <stdlib.h>

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
static void sums(const float *x, size_t n, float shift, double *s1, double *s2)
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

/* sums of dy and dy * (x - mu) */
static void dsums(const float *dy, const float *x, size_t n, float mu, float *sd, float *sdx)
{
	vf a = { 0 }, b = { 0 };
	size_t i = 0;
	for (; i + VL <= n; i += VL) {
		vf d = vload(dy + i, VL);
		a += d;
		b += d * (vload(x + i, VL) - mu);
	}
	*sd = vsum(a);
	*sdx = vsum(b);
	for (; i < n; i++) {
		*sd += dy[i];
		*sdx += dy[i] * (x[i] - mu);
	}
}

void ms_groupnorm_forward(ms_groupnorm *g, int N, int HW, const float *x, size_t xs,
                          float *y, size_t ys, float *act)
{
	MS_ASSERT(N <= g->cap);
	int cg = g->c / g->groups;
	size_t m = (size_t)cg * HW;
	for (int n = 0; n < N; n++)
		for (int k = 0; k < g->groups; k++) {
			const float *xg = x + n * xs + (size_t)k * m;
			double s = 0, s2 = 0;
			for (int cc = 0; cc < cg; cc++) {   /* per channel, shifted by its first value */
				const float *xc = xg + (size_t)cc * HW;
				double a, b, x0 = xc[0];
				sums(xc, HW, xc[0], &a, &b);
				s += a + HW * x0;
				s2 += b + 2 * x0 * a + HW * x0 * x0;
			}
			double mean = s / m, var = s2 / m - mean * mean;
			float mu = (float)mean, rs = (float)(1 / sqrt((var > 0 ? var : 0) + g->eps));
			g->stats[2 * (n * g->groups + k)] = mu;
			g->stats[2 * (n * g->groups + k) + 1] = rs;
			for (int cc = 0; cc < cg; cc++) {
				int ch = k * cg + cc;
				float a = rs * g->w->w[ch], b = g->b->w[ch] - mu * a;
				const float *xc = xg + (size_t)cc * HW;
				float *yc = y + n * ys + (size_t)ch * HW;
				float *ac = act ? act + n * ys + (size_t)ch * HW : NULL;
				for (size_t i = 0; i < (size_t)HW; i += VL) {
					size_t l = vlen(i, HW);
					vf v = vload(xc + i, l) * a + b;
					vstore(yc + i, v, l);
					if (ac)
						vstore(ac + i, v * vsigmoid(v), l);
				}
			}
		}
}

void ms_groupnorm_backward(ms_groupnorm *g, int N, int HW, const float *x, size_t xs,
                           const float *dy, size_t dys, float *dx, size_t dxs, int acc)
{
	int cg = g->c / g->groups;
	size_t m = (size_t)cg * HW;
	for (int n = 0; n < N; n++)
		for (int k = 0; k < g->groups; k++) {
			float mu = g->stats[2 * (n * g->groups + k)];
			float rs = g->stats[2 * (n * g->groups + k) + 1];
			double sg = 0, sgx = 0;       /* sums of dy*gamma and dy*gamma*xhat */
			for (int cc = 0; cc < cg; cc++) {
				int ch = k * cg + cc;
				float sd, sdx;
				dsums(dy + n * dys + (size_t)ch * HW, x + n * xs + (size_t)ch * HW, HW, mu,
				      &sd, &sdx);
				sdx *= rs;
				g->w->g[ch] += sdx;
				g->b->g[ch] += sd;
				sg += (double)sd * g->w->w[ch];
				sgx += (double)sdx * g->w->w[ch];
			}
			float mg = (float)(sg / m), mgx = (float)(sgx / m);
			/* dx = rs (dy gamma - mg - xhat mgx) = A dy + B x + C */
			float B = -rs * rs * mgx, C = rs * (mu * rs * mgx - mg);
			for (int cc = 0; cc < cg; cc++) {
				int ch = k * cg + cc;
				const float *xc = x + n * xs + (size_t)ch * HW;
				const float *dc = dy + n * dys + (size_t)ch * HW;
				float *o = dx + n * dxs + (size_t)ch * HW, A = rs * g->w->w[ch];
				for (size_t i = 0; i < (size_t)HW; i += VL) {
					size_t l = vlen(i, HW);
					vf d = vload(dc + i, l) * A + vload(xc + i, l) * B + C;
					vstore(o + i, acc ? vload(o + i, l) + d : d, l);
				}
			}
		}
}
