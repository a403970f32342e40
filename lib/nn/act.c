/* Elementwise activations: SiLU, ReLU, sigmoid. */
#include "core/threads.h"
#include "nn.h"
#include "vec.h"

typedef struct {
	const float *x, *dy;
	float *y, *dx;
	size_t n;
	int acc;
} job;

/* a thread's part of n floats: whole vectors, and whole 64 KiB blocks when there are
 * enough of them (below that, not worth a thread) */
#define BLOCK 16384
static int parts(size_t n)
{
	return n / BLOCK > 64 ? 64 : (int)(n / BLOCK);
}

static void part(size_t n, int tid, int nt, size_t *lo, size_t *hi)
{
	long a, b, blocks = (long)((n + BLOCK - 1) / BLOCK);
	ms_range(blocks, tid, nt, &a, &b);
	*lo = (size_t)a * BLOCK;
	*hi = (size_t)b * BLOCK < n ? (size_t)b * BLOCK : n;
}

/* y = silu(x), or, with dy, dx (+)= dy silu'(x) */
MS_CLONES static void silu_part(void *arg, int tid, int nt)
{
	const job *j = arg;
	size_t lo, hi;
	part(j->n, tid, nt, &lo, &hi);
	for (size_t i = lo; i < hi; i += VL) {
		size_t m = vlen(i, hi);
		vf a = vload(j->x + i, m);
		if (!j->dy) {
			vstore(j->y + i, a * vsigmoid(a), m);
			continue;
		}
		vf d = vsilu_grad(vload(j->dy + i, m), a);
		vstore(j->dx + i, j->acc ? vload(j->dx + i, m) + d : d, m);
	}
}

void ms_silu_forward(const float *x, float *y, size_t n)
{
	job j = { .x = x, .y = y, .n = n };
	ms_parallel(parts(n), silu_part, &j);
}

/* dx may alias dy */
void ms_silu_backward(const float *x, const float *dy, float *dx, size_t n, int acc)
{
	job j = { .x = x, .dy = dy, .dx = dx, .n = n, .acc = acc };
	ms_parallel(parts(n), silu_part, &j);
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

MS_CLONES void ms_sigmoid_forward(const float *x, float *y, size_t n)
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
