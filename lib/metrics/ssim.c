/* Image metrics: PSNR, SSIM, MS-SSIM. Formulas and conventions: ms-score(1). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "metrics/scratch.h"
#include "metrics/ssim.h"

double ms_psnr(const float *a, const float *b, size_t n)
{
	double se = 0;
	for (size_t i = 0; i < n; i++) {
		double d = (double)a[i] - b[i];
		se += d * d;
	}
	return se == 0 ? INFINITY : 10 * log10(n / se);
}

enum { R = MS_SSIM_WIN / 2 };
static const double msssim_w[MS_MSSSIM_SCALES] = { 0.0448, 0.2856, 0.3001, 0.2363, 0.1333 };

int ms_msssim_scales(int h, int w)
{
	int m = 0;
	while (m < MS_MSSSIM_SCALES && h >= MS_SSIM_WIN && w >= MS_SSIM_WIN) {
		m++;
		h /= 2;
		w /= 2;
	}
	return m;
}

/* valid 11 x 11 Gaussian (sigma 1.5) filter of an h x w plane into (h-10) x (w-10);
 * tmp holds h x (w-10) */
static void gauss_valid(const double *in, int h, int w, double *tmp, double *out)
{
	static double k[MS_SSIM_WIN];
	if (k[R] == 0) {
		double s = 0;
		for (int i = 0; i < MS_SSIM_WIN; i++)
			s += k[i] = exp(-0.5 * (i - R) * (i - R) / (1.5 * 1.5));
		for (int i = 0; i < MS_SSIM_WIN; i++)
			k[i] /= s;
	}
	int ow = w - 2 * R, oh = h - 2 * R;
	for (int r = 0; r < h; r++) {
		const double *p = in + (size_t)r * w;
		double *t = tmp + (size_t)r * ow;
		for (int c = 0; c < ow; c++) {
			double s = 0;
			for (int i = 0; i < MS_SSIM_WIN; i++)
				s += k[i] * p[c + i];
			t[c] = s;
		}
	}
	for (int r = 0; r < oh; r++) {
		double *o = out + (size_t)r * ow;
		for (int c = 0; c < ow; c++)
			o[c] = 0;
		for (int i = 0; i < MS_SSIM_WIN; i++) {
			const double *t = tmp + (size_t)(r + i) * ow;
			for (int c = 0; c < ow; c++)
				o[c] += k[i] * t[c];
		}
	}
}

/* layout of a prepared image: per channel, per scale s (size hs x ws, valid size
 * os = (hs-10) x (ws-10)): the plane, its local mean, its local variance */
static size_t scale_len(int h, int w, int s)
{
	size_t hs = (size_t)(h >> s), ws = (size_t)(w >> s);
	return hs * ws + 2 * (hs - 2 * R) * (ws - 2 * R);
}

static size_t chan_len(int h, int w, int m)
{
	size_t n = 0;
	for (int s = 0; s < m; s++)
		n += scale_len(h, w, s);
	return n;
}

size_t ms_ssim_img_bytes(int c, int h, int w)
{
	return (size_t)c * chan_len(h, w, ms_msssim_scales(h, w)) * sizeof(double);
}

int ms_ssim_img_init(ms_ssim_img *p, const float *x, int c, int h, int w)
{
	memset(p, 0, sizeof *p);
	int m = ms_msssim_scales(h, w);
	if (h > MS_METRICS_MAXDIM || w > MS_METRICS_MAXDIM)
		return ms_error("image %dx%d is too large", w, h);
	if (!m || c < 1)
		return ms_error("image %dx%d is smaller than the %dx%d SSIM window", w, h,
		                MS_SSIM_WIN, MS_SSIM_WIN);
	size_t cl = chan_len(h, w, m);
	double *d = ms_calloc((size_t)c * cl, sizeof *d);
	double *tmp = ms_malloc((size_t)2 * h * w * sizeof *tmp);
	if (!d || !tmp) {
		free(d);
		free(tmp);
		return -1;
	}
	*p = (ms_ssim_img){ c, h, w, m, d };
	for (int ch = 0; ch < c; ch++) {
		double *q = d + ch * cl;
		for (size_t i = 0; i < (size_t)h * w; i++)
			q[i] = x[ch * (size_t)h * w + i];
		for (int s = 0; s < m; s++) {
			int hs = h >> s, ws = w >> s;
			size_t n = (size_t)hs * ws, on = (size_t)(hs - 2 * R) * (ws - 2 * R);
			double *mu = q + n, *var = mu + on, *sq = tmp + (size_t)h * w;
			gauss_valid(q, hs, ws, tmp, mu);
			for (size_t i = 0; i < n; i++)
				sq[i] = q[i] * q[i];
			gauss_valid(sq, hs, ws, tmp, var);
			for (size_t i = 0; i < on; i++)
				var[i] -= mu[i] * mu[i];
			if (s + 1 == m)
				break;
			double *next = q + scale_len(h, w, s);   /* 2 x 2 average pooling */
			for (int r = 0; r < hs / 2; r++)
				for (int cc = 0; cc < ws / 2; cc++) {
					const double *u = q + (size_t)2 * r * ws + 2 * cc;
					next[(size_t)r * (ws / 2) + cc] = 0.25 * (u[0] + u[1] + u[ws] + u[ws + 1]);
				}
			q = next;
		}
	}
	free(tmp);
	return 0;
}

void ms_ssim_img_free(ms_ssim_img *p)
{
	if (p) {
		free(p->data);
		p->data = NULL;
	}
}

int ms_ssim_compare(const ms_ssim_img *a, const ms_ssim_img *b, ms_scratch *ws, double *ssim,
                    double *msssim)
{
	ms_scratch own = { 0 };
	const double C1 = 0.01 * 0.01, C2 = 0.03 * 0.03;
	if (a->c != b->c || a->h != b->h || a->w != b->w)
		return ms_error("SSIM of images of different shapes");
	int h = a->h, w = a->w, m = a->m;
	size_t cl = chan_len(h, w, m);
	double *tmp = ms_scratch_get(ws ? ws : &own, (size_t)3 * h * w * sizeof *tmp);
	double wsum = 0, ssum = 0, msum = 0;
	if (!tmp)
		return -1;
	for (int s = 0; s < m; s++)
		wsum += msssim_w[s];
	for (int ch = 0; ch < a->c; ch++) {
		const double *x = a->data + ch * cl, *y = b->data + ch * cl;
		double val = 1;
		for (int s = 0; s < m; s++) {
			int hs = h >> s, ws = w >> s;
			size_t n = (size_t)hs * ws, on = (size_t)(hs - 2 * R) * (ws - 2 * R);
			const double *mx = x + n, *vx = mx + on, *my = y + n, *vy = my + on;
			double *xy = tmp, *exy = tmp + n, *t = tmp + 2 * (size_t)h * w, ls = 0, cs = 0;
			for (size_t i = 0; i < n; i++)
				xy[i] = x[i] * y[i];
			gauss_valid(xy, hs, ws, t, exy);
			for (size_t i = 0; i < on; i++) {
				double c = (2 * (exy[i] - mx[i] * my[i]) + C2) / (vx[i] + vy[i] + C2);
				cs += c;
				ls += (2 * mx[i] * my[i] + C1) / (mx[i] * mx[i] + my[i] * my[i] + C1) * c;
			}
			ls /= on;
			cs /= on;
			if (s == 0)
				ssum += ls;
			double term = s + 1 < m ? cs : ls;
			val *= pow(term < 0 ? 0 : term, msssim_w[s] / wsum);   /* NaN stays NaN */
			x += scale_len(h, w, s);
			y += scale_len(h, w, s);
		}
		msum += val;
	}
	ms_scratch_free(&own);
	if (ssim)
		*ssim = ssum / a->c;
	if (msssim)
		*msssim = msum / a->c;
	return 0;
}

/* both metrics of two raw images */
static int ssim_pair(const float *a, const float *b, int c, int h, int w, double *ssim,
                     double *msssim)
{
	ms_ssim_img pa, pb;
	if (ms_ssim_img_init(&pa, a, c, h, w) < 0)
		return -1;
	if (ms_ssim_img_init(&pb, b, c, h, w) < 0) {
		ms_ssim_img_free(&pa);
		return -1;
	}
	int ret = ms_ssim_compare(&pa, &pb, NULL, ssim, msssim);
	ms_ssim_img_free(&pa);
	ms_ssim_img_free(&pb);
	return ret;
}

int ms_ssim(const float *a, const float *b, int c, int h, int w, double *ssim)
{
	return ssim_pair(a, b, c, h, w, ssim, NULL);
}

int ms_msssim(const float *a, const float *b, int c, int h, int w, double *msssim)
{
	return ssim_pair(a, b, c, h, w, NULL, msssim);
}

/* pair (i, j), i < j, of n: its place in the order (0,1), (0,2) ... (1,2) ... */
static size_t pair_index(size_t i, size_t j, size_t n)
{
	return i * n - i * (i + 1) / 2 + (j - i - 1);
}

static int prepare(ms_ssim_img *p, const float *const *img, size_t n, int c, int h, int w)
{
	for (size_t i = 0; i < n; i++)
		if (ms_ssim_img_init(&p[i], img[i], c, h, w) < 0) {
			while (i--)
				ms_ssim_img_free(&p[i]);
			return -1;
		}
	return 0;
}

static void unprepare(ms_ssim_img *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ms_ssim_img_free(&p[i]);
}

int ms_msssim_pairs(const float *const *img, size_t n, int c, int h, int w, double *out)
{
	if (!ms_msssim_scales(h, w))
		return ms_error("image %dx%d is smaller than the %dx%d SSIM window", w, h,
		                MS_SSIM_WIN, MS_SSIM_WIN);
	if (n < 2)
		return 0;
	/* blocks of prepared images that fit in about 256 MiB: block a against itself,
	 * then against every later block b */
	size_t bs = ((size_t)256 << 20) / ms_ssim_img_bytes(c, h, w);
	bs = bs < 2 ? 2 : bs > n ? n : bs;
	ms_ssim_img *A = ms_calloc(bs, sizeof *A), *B = ms_calloc(bs, sizeof *B);
	ms_scratch ws = { 0 };
	int ret = A && B ? 0 : -1;
	for (size_t i0 = 0; i0 < n && !ret; i0 += bs) {
		size_t na = n - i0 < bs ? n - i0 : bs;
		if ((ret = prepare(A, img + i0, na, c, h, w)) < 0)
			break;
		for (size_t j0 = i0; j0 < n && !ret; j0 += bs) {
			size_t nb = n - j0 < bs ? n - j0 : bs;
			const ms_ssim_img *J = j0 == i0 ? A : B;
			if (j0 != i0 && (ret = prepare(B, img + j0, nb, c, h, w)) < 0)
				break;
			for (size_t i = 0; i < na && !ret; i++)
				for (size_t j = j0 == i0 ? i + 1 : 0; j < nb && !ret; j++)
					ret = ms_ssim_compare(&A[i], &J[j], &ws, NULL,
					                      &out[pair_index(i0 + i, j0 + j, n)]);
			if (j0 != i0)
				unprepare(B, nb);
		}
		unprepare(A, na);
	}
	free(A);
	free(B);
	ms_scratch_free(&ws);
	return ret;
}
