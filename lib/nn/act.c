/* Elementwise activations: SiLU, ReLU, sigmoid. */
#include "nn.h"
#include "vec.h"

void ms_silu_forward(const float *x, float *y, size_t n)
{
	for (size_t i = 0; i < n; i += VL) {
		size_t m = vlen(i, n);
		vf a = vload(x + i, m);
		vstore(y + i, a * vsigmoid(a), m);
	}
}

/* dx may alias dy */
void ms_silu_backward(const float *x, const float *dy, float *dx, size_t n, int acc)
{
	for (size_t i = 0; i < n; i += VL) {
		size_t m = vlen(i, n);
		vf a = vload(x + i, m), s = vsigmoid(a);
		vf d = vload(dy + i, m) * s * (1.0f + a * (1.0f - s));
		vstore(dx + i, acc ? vload(dx + i, m) + d : d, m);
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
	for (size_t i = 0; i < n; i += VL) {
		size_t m = vlen(i, n);
		vstore(y + i, vsigmoid(vload(x + i, m)), m);
	}
}

void ms_sigmoid_backward(const float *y, const float *dy, float *dx, size_t n, int acc)
{
	for (size_t i = 0; i < n; i++) {
		float d = dy[i] * y[i] * (1 - y[i]);
		dx[i] = acc ? dx[i] + d : d;
	}
}
