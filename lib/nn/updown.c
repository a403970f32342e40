/* Nearest 2x upsampling (alone, and fused with the 3x3 convolution after it) and channel
 * concatenation. */
#include <string.h>

#include "core/threads.h"
#include "core/util.h"
#include "gemm.h"
#include "nn.h"
#include "vec.h"

void ms_upsample2_forward(int N, int C, int H, int W, const float *x, size_t xs, float *y,
                          size_t ys)
{
	for (int n = 0; n < N; n++)
		for (int c = 0; c < C; c++) {
			const float *xc = x + n * xs + (size_t)c * H * W;
			float *yc = y + n * ys + (size_t)c * 4 * H * W;
			for (int i = 0; i < H; i++) {
				float *r0 = yc + (size_t)2 * i * 2 * W, *r1 = r0 + 2 * W;
				for (int j = 0; j < W; j++)
					r0[2 * j] = r0[2 * j + 1] = xc[(size_t)i * W + j];
				memcpy(r1, r0, 2 * W * sizeof *r1);
			}
		}
}

void ms_upsample2_backward(int N, int C, int H, int W, const float *dy, size_t dys,
                           float *dx, size_t dxs, int acc)
{
	for (int n = 0; n < N; n++)
		for (int c = 0; c < C; c++) {
			const float *dc = dy + n * dys + (size_t)c * 4 * H * W;
			float *xc = dx + n * dxs + (size_t)c * H * W;
			for (int i = 0; i < H; i++) {
				const float *r0 = dc + (size_t)2 * i * 2 * W, *r1 = r0 + 2 * W;
				for (int j = 0; j < W; j++) {
					float d = r0[2 * j] + r0[2 * j + 1] + r1[2 * j] + r1[2 * j + 1];
					float *o = xc + (size_t)i * W + j;
					*o = acc ? *o + d : d;
				}
			}
		}
}

void ms_concat_forward(int N, int HW, const float *a, int ca, const float *b, int cb,
                       float *y)
{
	size_t na = (size_t)ca * HW, nb = (size_t)cb * HW;
	for (int n = 0; n < N; n++) {
		memcpy(y + n * (na + nb), a + n * na, na * sizeof *y);
		memcpy(y + n * (na + nb) + na, b + n * nb, nb * sizeof *y);
	}
}

static void add_or_copy(float *d, const float *s, size_t n, int acc)
{
	if (!acc) {
		memcpy(d, s, n * sizeof *d);
		return;
	}
	for (size_t i = 0; i < n; i++)
		d[i] += s[i];
}

void ms_concat_backward(int N, int HW, const float *dy, float *da, int ca, float *db, int cb,
                        int acc)
{
	size_t na = (size_t)ca * HW, nb = (size_t)cb * HW;
	for (int n = 0; n < N; n++) {
		add_or_copy(da + n * na, dy + n * (na + nb), na, acc);
		add_or_copy(db + n * nb, dy + n * (na + nb) + na, nb, acc);
	}
}

/* ---- nearest 2x upsampling followed by a 3x3 stride-1 convolution, computed at the
 * low resolution: output pixel (2i+a, 2j+b) sees low-res rows i+a-1+r and columns
 * j+b-1+s (r, s in 0,1) only, so each of the 4 phases (a,b) is a 2x2 convolution whose
 * taps are sums of the 3x3 taps: 16/36 of the multiplications of conv(upsample(x)). */

/* which tap r of phase a the 3x3 row kh falls on */
static int tap(int a, int k)
{
	return a == 0 ? k > 0 : k == 2;
}

static void phase_weights(const ms_conv2d *c, const float *w, float *wp)
{
	size_t n = (size_t)c->cout * c->cin;
	memset(wp, 0, 16 * n * sizeof *wp);
	for (int a = 0; a < 2; a++)
		for (int b = 0; b < 2; b++)
			for (size_t oc = 0; oc < n; oc++)   /* (co, ci) pairs */
				for (int kh = 0; kh < 3; kh++)
					for (int kw = 0; kw < 3; kw++)
						wp[((a * 2 + b) * n + oc) * 4 + tap(a, kh) * 2 + tap(b, kw)] +=
						        w[oc * 9 + kh * 3 + kw];
}

/* out = x shifted by (dy, dx), zero outside; or, with add, x += in shifted back */
MS_CLONES static void shift_plane(const float *in, int h, int w, int dy, int dx, float *out,
                                  int add)
{
	int lo = dx < 0 ? -dx : 0, hi = dx > 0 ? w - dx : w;
	for (int i = 0; i < h; i++) {
		int si = i + dy;
		if (si < 0 || si >= h) {
			if (!add)
				memset(out + (size_t)i * w, 0, w * sizeof *out);
			continue;
		}
		if (add) {     /* in is the col plane, out the image */
			vadd(out + (size_t)si * w + lo + dx, in + (size_t)i * w + lo, hi - lo, 1);
			continue;
		}
		float *o = out + (size_t)i * w;
		memset(o, 0, lo * sizeof *o);
		memcpy(o + lo, in + (size_t)si * w + lo + dx, (hi - lo) * sizeof *o);
		memset(o + hi, 0, (w - hi) * sizeof *o);
	}
}

/* col [(c1-c0)*4, h*w] of phase (a,b) from channels [c0,c1) of one image */
MS_CLONES static void phase_col(int h, int w, int a, int b, const float *x, float *col, int c0,
                                int c1)
{
	size_t L = (size_t)h * w;
	for (int ci = c0; ci < c1; ci++)
		for (int r = 0; r < 2; r++)
			for (int s = 0; s < 2; s++)
				shift_plane(x + ci * L, h, w, a - 1 + r, b - 1 + s,
				            col + ((size_t)(ci - c0) * 4 + r * 2 + s) * L, 0);
}

/* phase weights and their gradient [4,cout,cin*4] each, then per thread a col
 * [cin*4,L] and a phase of y or dy [cout,L] */
static size_t part_floats(const ms_conv2d *c, size_t L)
{
	return 4 * (size_t)c->cin * L + (size_t)c->cout * L;
}

size_t ms_upconv_ws(const ms_conv2d *c, int h, int w)
{
	return 32 * (size_t)c->cout * c->cin + ms_nthreads() * part_floats(c, (size_t)h * w);
}

typedef struct {
	const ms_conv2d *c;
	int N, h, w, acc;
	const float *x, *dy;
	size_t xs, ys, dys, dxs;
	float *y, *dx, *ws;
} job;

/* (image, phase) pairs */
MS_CLONES static void forward_part(void *arg, int tid, int nt)
{
	const job *j = arg;
	const ms_conv2d *c = j->c;
	int h = j->h, w = j->w;
	size_t L = (size_t)h * w, K = 4 * (size_t)c->cin, pk = (size_t)c->cout * K;
	float *wp = j->ws, *col = wp + 8 * pk + tid * part_floats(c, L), *yp = col + K * L;
	long lo, hi;
	ms_range(4L * j->N, tid, nt, &lo, &hi);
	for (long i = lo; i < hi; i++) {
		int n = (int)(i / 4), a = (int)(i % 4) / 2, b = (int)(i % 2);
		phase_col(h, w, a, b, j->x + n * j->xs, col, 0, c->cin);
		ms_gemm(0, 0, c->cout, L, K, 1.0f, wp + (a * 2 + b) * pk, K, col, L, 0.0f, yp, L);
		for (int o = 0; o < c->cout; o++) {
			float *yo = j->y + n * j->ys + (size_t)o * 4 * L, bias = c->b->w[o];
			const float *p = yp + o * L;
			for (int i = 0; i < h; i++)
				for (int k = 0; k < w; k++)
					yo[(size_t)(2 * i + a) * 2 * w + 2 * k + b] = p[i * w + k] + bias;
		}
	}
}

void ms_upconv_forward(const ms_conv2d *c, int N, int h, int w, const float *x, size_t xs,
                       float *y, size_t ys, float *ws)
{
	MS_ASSERT(c->k == 3 && c->stride == 1);
	phase_weights(c, c->w->w, ws);
	job j = { .c = c, .N = N, .h = h, .w = w, .x = x, .xs = xs, .y = y, .ys = ys, .ws = ws };
	ms_parallel(4 * N, forward_part, &j);
}

/* the thread's input channels [c0,c1): its columns of the phase gradients and its
 * channels of dx; and its output channels of db */
MS_CLONES static void backward_part(void *arg, int tid, int nt)
{
	const job *j = arg;
	const ms_conv2d *c = j->c;
	int h = j->h, w = j->w;
	size_t L = (size_t)h * w, K = 4 * (size_t)c->cin, pk = (size_t)c->cout * K;
	float *wp = j->ws, *dwp = wp + 4 * pk, *col = dwp + 4 * pk + tid * part_floats(c, L);
	float *dyp = col + K * L;
	long c0, c1, o0, o1;
	ms_range(c->cin, tid, nt, &c0, &c1);
	ms_range(c->cout, tid, nt, &o0, &o1);
	for (long o = o0; o < o1; o++)
		for (int n = 0; n < j->N; n++)
			c->b->g[o] += vsumarr(j->dy + n * j->dys + (size_t)o * 4 * L, 4 * L);
	size_t Kt = 4 * (size_t)(c1 - c0);
	if (!Kt)
		return;
	for (int ph = 0; ph < 4; ph++)
		for (int o = 0; o < c->cout; o++)
			memset(dwp + ph * pk + o * K + 4 * c0, 0, Kt * sizeof *dwp);
	for (int n = 0; n < j->N; n++) {
		float *dxn = j->dx ? j->dx + n * j->dxs : NULL;
		if (dxn && !j->acc)
			memset(dxn + c0 * L, 0, (c1 - c0) * L * sizeof *dxn);
		for (int a = 0; a < 2; a++)
			for (int b = 0; b < 2; b++) {
				for (int o = 0; o < c->cout; o++) {   /* gather the phase of dy */
					const float *d = j->dy + n * j->dys + (size_t)o * 4 * L;
					for (int i = 0; i < h; i++)
						for (int k = 0; k < w; k++)
							dyp[o * L + i * w + k] = d[(size_t)(2 * i + a) * 2 * w + 2 * k + b];
				}
				phase_col(h, w, a, b, j->x + n * j->xs, col, (int)c0, (int)c1);
				ms_gemm(0, 1, c->cout, Kt, L, 1.0f, dyp, L, col, L, 1.0f,
				        dwp + (a * 2 + b) * pk + 4 * c0, K);
				if (!dxn)
					continue;
				ms_gemm(1, 0, Kt, L, c->cout, 1.0f, wp + (a * 2 + b) * pk + 4 * c0,
				        K, dyp, L, 0.0f, col, L);
				for (long ci = c0; ci < c1; ci++)
					for (int r = 0; r < 2; r++)
						for (int s = 0; s < 2; s++)
							shift_plane(col + ((size_t)(ci - c0) * 4 + r * 2 + s) * L, h, w,
							            a - 1 + r, b - 1 + s, dxn + ci * L, 1);
			}
	}
	/* fold the phase gradients back onto the 3x3 taps */
	for (int a = 0; a < 2; a++)
		for (int b = 0; b < 2; b++)
			for (int o = 0; o < c->cout; o++)
				for (long ci = c0; ci < c1; ci++) {
					size_t oc = (size_t)o * c->cin + ci;
					const float *d = dwp + (a * 2 + b) * pk + oc * 4;
					for (int kh = 0; kh < 3; kh++)
						for (int kw = 0; kw < 3; kw++)
							c->w->g[oc * 9 + kh * 3 + kw] += d[tap(a, kh) * 2 + tap(b, kw)];
				}
}

void ms_upconv_backward(const ms_conv2d *c, int N, int h, int w, const float *x, size_t xs,
                        const float *dy, size_t dys, float *dx, size_t dxs, int acc,
                        float *ws)
{
	phase_weights(c, c->w->w, ws);
	job j = { .c = c, .N = N, .h = h, .w = w, .acc = acc, .x = x, .dy = dy, .xs = xs,
	          .dys = dys, .dx = dx, .dxs = dxs, .ws = ws };
	ms_parallel(c->cin > c->cout ? c->cin : c->cout, backward_part, &j);
}
