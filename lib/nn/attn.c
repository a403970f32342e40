/* Single-head self-attention block (ref_unet.py AttnBlock), per image:
 * n = GN(x); q,k,v = qkv(n) [c,L] each; P = softmax_rows(q^T k / sqrt(c)) [L,L];
 * h = v P^T; y = x + proj(h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/threads.h"
#include "core/util.h"
#include "gemm.h"
#include "nn.h"
#include "vec.h"

int ms_attn_init(ms_attn *a, ms_params *ps, const char *name, int c, int groups)
{
	char buf[96];
	memset(a, 0, sizeof *a);
	a->c = c;
	snprintf(buf, sizeof buf, "%s.norm", name);
	if (ms_groupnorm_init(&a->norm, ps, buf, c, groups) < 0)
		return -1;
	snprintf(buf, sizeof buf, "%s.qkv", name);
	if (ms_conv2d_init(&a->qkv, ps, buf, c, 3 * c, 1, 1) < 0)
		return -1;
	snprintf(buf, sizeof buf, "%s.proj", name);
	return ms_conv2d_init(&a->proj, ps, buf, c, c, 1, 1);
}

static void release(ms_attn *a)
{
	float **bufs[] = { &a->n, &a->qkvb, &a->p, &a->h, &a->dn, &a->dqkv, &a->dp, &a->dh };
	ms_free_floats(bufs, sizeof bufs / sizeof *bufs);
}

void ms_attn_free(ms_attn *a)
{
	release(a);
	ms_groupnorm_free(&a->norm);
}

int ms_attn_plan(ms_attn *a, int N, int L, int train)
{
	release(a);
	a->N = N;
	a->L = L;
	size_t cl = (size_t)N * a->c * L, ll = (size_t)N * L * L;
	if (ms_groupnorm_plan(&a->norm, N) < 0 || !(a->n = ms_floats(cl)) ||
	    !(a->qkvb = ms_floats(3 * cl)) || !(a->p = ms_floats(ll)) || !(a->h = ms_floats(cl)))
		return -1;
	if (train && (!(a->dn = ms_floats(cl)) || !(a->dqkv = ms_floats(3 * cl)) ||
	              !(a->dp = ms_floats((size_t)ms_nthreads() * L * L)) ||
	              !(a->dh = ms_floats(cl))))
		return -1;
	return 0;
}

typedef struct {
	ms_attn *a;
	const float *x;
	size_t xs, ys;
	float *y;
} part;

/* attention of the thread's images */
MS_CLONES static void forward_part(void *arg, int tid, int nt)
{
	const part *pt = arg;
	ms_attn *a = pt->a;
	int C = a->c, L = a->L;
	size_t cl = (size_t)C * L, xs = pt->xs, ys = pt->ys;
	float scale = 1.0f / sqrtf((float)C), *y = pt->y;
	const float *x = pt->x;
	long lo, hi;
	ms_range(a->N, tid, nt, &lo, &hi);
	for (long n = lo; n < hi; n++) {
		const float *q = a->qkvb + n * 3 * cl, *k = q + cl, *v = k + cl;
		float *P = a->p + (size_t)n * L * L;
		ms_gemm(1, 0, L, L, C, scale, q, L, k, L, 0.0f, P, L);
		for (int i = 0; i < L; i++) {
			float *r = P + (size_t)i * L, mx = r[0];
			for (int j = 1; j < L; j++)
				mx = r[j] > mx ? r[j] : mx;
			float s = 0;
			for (int j = 0; j < L; j++)
				s += r[j] = expf(r[j] - mx);
			for (int j = 0; j < L; j++)
				r[j] /= s;
		}
		/* h[c,i] = sum_j v[c,j] P[i,j] */
		ms_gemm(0, 1, C, L, L, 1.0f, v, L, P, L, 0.0f, a->h + n * cl, L);
		memcpy(y + n * ys, x + n * xs, cl * sizeof *y);
	}
}

MS_CLONES static void backward_part(void *arg, int tid, int nt)
{
	const part *pt = arg;
	ms_attn *a = pt->a;
	int C = a->c, L = a->L;
	size_t cl = (size_t)C * L;
	float scale = 1.0f / sqrtf((float)C);
	long lo, hi;
	ms_range(a->N, tid, nt, &lo, &hi);
	for (long n = lo; n < hi; n++) {
		const float *q = a->qkvb + n * 3 * cl, *k = q + cl, *v = k + cl, *dh = a->dh + n * cl;
		const float *P = a->p + (size_t)n * L * L;
		float *dq = a->dqkv + n * 3 * cl, *dk = dq + cl, *dv = dk + cl, *dP = a->dp + (size_t)tid * L * L;
		/* dP[i,j] = sum_c dh[c,i] v[c,j]; dv[c,j] = sum_i dh[c,i] P[i,j] */
		ms_gemm(1, 0, L, L, C, 1.0f, dh, L, v, L, 0.0f, dP, L);
		ms_gemm(0, 0, C, L, L, 1.0f, dh, L, P, L, 0.0f, dv, L);
		/* dS = P (dP - rowsum(dP P)) * scale */
		for (int i = 0; i < L; i++) {
			const float *pr = P + (size_t)i * L;
			float *dr = dP + (size_t)i * L, s = 0;
			for (int j = 0; j < L; j++)
				s += pr[j] * dr[j];
			for (int j = 0; j < L; j++)
				dr[j] = pr[j] * (dr[j] - s) * scale;
		}
		/* dq[c,i] = sum_j k[c,j] dS[i,j]; dk[c,j] = sum_i q[c,i] dS[i,j] */
		ms_gemm(0, 1, C, L, L, 1.0f, k, L, dP, L, 0.0f, dq, L);
		ms_gemm(0, 0, C, L, L, 1.0f, q, L, dP, L, 0.0f, dk, L);
	}
}

void ms_attn_forward(ms_attn *a, const float *x, size_t xs, float *y, size_t ys)
{
	int C = a->c, L = a->L, N = a->N;
	size_t cl = (size_t)C * L;
	ms_groupnorm_forward(&a->norm, N, L, x, xs, a->n, cl, NULL);
	ms_conv2d_forward(&a->qkv, N, 1, L, a->n, cl, a->qkvb, 3 * cl, 0, NULL, NULL);
	part pt = { .a = a, .x = x, .xs = xs, .y = y, .ys = ys };
	ms_parallel(N, forward_part, &pt);
	ms_conv2d_forward(&a->proj, N, 1, L, a->h, cl, y, ys, 1, NULL, NULL);
}

MS_CLONES void ms_attn_backward(ms_attn *a, const float *x, size_t xs, const float *dy, size_t dys,
                                float *dx, size_t dxs, int acc)
{
	int C = a->c, L = a->L, N = a->N;
	size_t cl = (size_t)C * L;
	for (int n = 0; n < N; n++)          /* residual */
		vadd(dx + n * dxs, dy + n * dys, cl, acc);
	ms_conv2d_backward(&a->proj, N, 1, L, a->h, cl, dy, dys, a->dh, cl, 0, NULL);
	part pt = { .a = a };
	ms_parallel(N, backward_part, &pt);
	ms_conv2d_backward(&a->qkv, N, 1, L, a->n, cl, a->dqkv, 3 * cl, a->dn, cl, 0, NULL);
	ms_groupnorm_backward(&a->norm, N, L, x, xs, a->dn, cl, dx, dxs, 1);
}
