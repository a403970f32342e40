/* Fully connected layer: y[N,out] = x[N,in] W^T + b. */
#include <math.h>

#include "gemm.h"
#include "nn.h"

int ms_linear_init(ms_linear *l, ms_params *ps, const char *name, int in, int out)
{
	l->in = in;
	l->out = out;
	int64_t ws[2] = { out, in }, bs[1] = { out };
	if (!(l->w = ms_param_add(ps, name, "weight", 2, ws)) ||
	    !(l->b = ms_param_add(ps, name, "bias", 1, bs)))
		return -1;
	float bound = 1.0f / sqrtf((float)in);
	ms_param_uniform(ps, l->w, bound);
	ms_param_uniform(ps, l->b, bound);
	return 0;
}

void ms_linear_forward(const ms_linear *l, int N, const float *x, float *y, int acc)
{
	for (int n = 0; n < N; n++)
		for (int o = 0; o < l->out; o++)
			y[(size_t)n * l->out + o] = (acc ? y[(size_t)n * l->out + o] : 0) + l->b->w[o];
	ms_gemm(0, 1, N, l->out, l->in, 1.0f, x, l->in, l->w->w, l->in, 1.0f, y, l->out);
}

void ms_linear_backward(const ms_linear *l, int N, const float *x, const float *dy,
                        float *dx, int acc)
{
	for (int n = 0; n < N; n++)
		for (int o = 0; o < l->out; o++)
			l->b->g[o] += dy[(size_t)n * l->out + o];
	/* dW[out,in] += dy^T x */
	ms_gemm(1, 0, l->out, l->in, N, 1.0f, dy, l->out, x, l->in, 1.0f, l->w->g, l->in);
	if (dx)       /* dx[N,in] (+)= dy W */
		ms_gemm(0, 0, N, l->in, l->out, 1.0f, dy, l->out, l->w->w, l->in, acc ? 1.0f : 0.0f,
		        dx, l->in);
}
