/* Elementwise activations: SiLU, ReLU, sigmoid. */
#include <math.h>

#include "nn.h"

static float sigm(float x)
{
	return 1.0f / (1.0f + expf(-x));
}

void ms_silu_forward(const float *x, float *y, size_t n)
{
	for (size_t i = 0; i < n; i++)
		y[i] = x[i] * sigm(x[i]);
}

void ms_silu_backward(const float *x, const float *dy, float *dx, size_t n, int acc)
{
	for (size_t i = 0; i < n; i++) {
		float s = sigm(x[i]), d = dy[i] * s * (1 + x[i] * (1 - s));
		dx[i] = acc ? dx[i] + d : d;
	}
}

void ms_relu_forward(const float *x, float *y, size_t n)
{
	for (size_t i = 0; i < n; i++)
		y[i] = x[i] > 0 ? x[i] : 0;
}

void ms_relu_backward(const float *x, const float *dy, float *dx, size_t n, int acc)
{
	for (size_t i = 0; i < n; i++) {
		float d = x[i] > 0 ? dy[i] : 0;
		dx[i] = acc ? dx[i] + d : d;
	}
}

void ms_sigmoid_forward(const float *x, float *y, size_t n)
{
	for (size_t i = 0; i < n; i++)
		y[i] = sigm(x[i]);
}

void ms_sigmoid_backward(const float *y, const float *dy, float *dx, size_t n, int acc)
{
	for (size_t i = 0; i < n; i++) {
		float d = dy[i] * y[i] * (1 - y[i]);
		dx[i] = acc ? dx[i] + d : d;
	}
}
