/* GroupNorm: per (image, group) mean and variance over the group's channels and pixels. */
#include <math.h>
#include <stdlib.h>

#include "nn.h"

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
			for (size_t i = 0; i < m; i++) {
				s += xg[i];
				s2 += (double)xg[i] * xg[i];
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
				for (int i = 0; i < HW; i++)
					yc[i] = xc[i] * a + b;
				if (act) {
					float *ac = act + n * ys + (size_t)ch * HW;
					ms_silu_forward(yc, ac, HW);
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
				const float *xc = x + n * xs + (size_t)ch * HW;
				const float *dc = dy + n * dys + (size_t)ch * HW;
				float sd = 0, sdx = 0;
				for (int i = 0; i < HW; i++) {
					float xh = (xc[i] - mu) * rs;
					sd += dc[i];
					sdx += dc[i] * xh;
				}
				g->w->g[ch] += sdx;
				g->b->g[ch] += sd;
				sg += (double)sd * g->w->w[ch];
				sgx += (double)sdx * g->w->w[ch];
			}
			float mg = (float)(sg / m), mgx = (float)(sgx / m);
			for (int cc = 0; cc < cg; cc++) {
				int ch = k * cg + cc;
				const float *xc = x + n * xs + (size_t)ch * HW;
				const float *dc = dy + n * dys + (size_t)ch * HW;
				float *o = dx + n * dxs + (size_t)ch * HW, gam = g->w->w[ch];
				for (int i = 0; i < HW; i++) {
					float xh = (xc[i] - mu) * rs;
					float d = rs * (dc[i] * gam - mg - xh * mgx);
					o[i] = acc ? o[i] + d : d;
				}
			}
		}
}
