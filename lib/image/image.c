/* Image operations: luma, Gaussian, Sobel/Scharr magnitude, the mask band. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/tensor.h"
#include "core/util.h"
#include "image/image.h"

int ms_image_dims(const ms_tensor *t, int *c, int *h, int *w)
{
	int64_t cc = 1, hh, ww;
	if (t->rank == 3) {
		cc = t->shape[0];
		hh = t->shape[1];
		ww = t->shape[2];
	} else if (t->rank == 2) {
		hh = t->shape[0];
		ww = t->shape[1];
	} else {
		return ms_error("image of rank %d, expected [C,H,W]", t->rank);
	}
	if (hh < 1 || ww < 1)
		return ms_error("empty image");
	if ((hh + 2) * (ww + 2) >= INT32_MAX || cc * hh * ww >= INT32_MAX)
		return ms_error("image of %lldx%lld pixels too large", (long long)hh, (long long)ww);
	*c = (int)cc;
	*h = (int)hh;
	*w = (int)ww;
	return 0;
}

static float value(const ms_tensor *t, size_t i)
{
	switch (t->dtype) {
	case MS_U8: return ((const uint8_t *)t->data)[i] * (1.0f / 255);
	case MS_U16: return ((const uint16_t *)t->data)[i] * (1.0f / 65535);
	case MS_I32: return (float)((const int32_t *)t->data)[i];
	default: return ((const float *)t->data)[i];
	}
}

int ms_image_luma(const ms_tensor *img, float *out)
{
	int c, h, w;
	if (ms_image_dims(img, &c, &h, &w) < 0)
		return -1;
	if (c != 1 && c != 3)
		return ms_error("image with %d channels, expected 1 or 3", c);
	size_t n = (size_t)h * w;
	if (c == 1 && img->dtype == MS_F32) {
		memcpy(out, img->data, n * sizeof *out);
	} else if (c == 1) {
		for (size_t i = 0; i < n; i++)
			out[i] = value(img, i);
	} else if (img->dtype == MS_F32) {
		const float *r = img->data, *g = r + n, *b = g + n;
		for (size_t i = 0; i < n; i++)
			out[i] = MS_LUMA_R * r[i] + MS_LUMA_G * g[i] + MS_LUMA_B * b[i];
	} else {
		for (size_t i = 0; i < n; i++)
			out[i] = MS_LUMA_R * value(img, i) + MS_LUMA_G * value(img, n + i) +
			         MS_LUMA_B * value(img, 2 * n + i);
	}
	return 0;
}

int ms_mirror(int i, int n)
{
	long p = 2L * n, m = ((long)i % p + p) % p;
	return (int)(m < n ? m : p - 1 - m);
}

int ms_gauss_radius(double sigma)
{
	return sigma > 0 ? (int)ceil(3 * sigma) : 0;
}

void ms_gauss_kernel(double sigma, float *k)
{
	int r = ms_gauss_radius(sigma);
	double sum = 0;
	for (int i = -r; i <= r; i++)
		sum += r ? exp(-0.5 * i * i / (sigma * sigma)) : 1;
	for (int i = -r; i <= r; i++)
		k[i + r] = (float)((r ? exp(-0.5 * i * i / (sigma * sigma)) : 1) / sum);
}

/* Loops over a row run in blocks of BLK with a constant inner count, which gcc -O2
 * vectorises (its cheap cost model rejects loops of unknown length); then a tail. */
#define BLK 16

static void scale(float *restrict v, float k, const float *restrict a, int n)
{
	int x = 0;
	for (; x + BLK <= n; x += BLK)
		for (int i = 0; i < BLK; i++)
			v[x + i] = k * a[x + i];
	for (; x < n; x++)
		v[x] = k * a[x];
}

/* v[x] += k * (a[x] + b[x]) */
static void taps(float *restrict v, float k, const float *restrict a,
                 const float *restrict b, int n)
{
	int x = 0;
	for (; x + BLK <= n; x += BLK)
		for (int i = 0; i < BLK; i++)
			v[x + i] += k * (a[x + i] + b[x + i]);
	for (; x < n; x++)
		v[x] += k * (a[x] + b[x]);
}

void ms_gauss_row(const float *in, int h, int w, int y, const float *k, int r,
                  float *tmp, float *out)
{
	float *v = tmp + r;
	/* vertical: v = sum_j k[j] * in[y + j - r], symmetric taps paired */
	scale(v, k[r], in + (size_t)y * w, w);
	for (int j = 1; j <= r; j++)
		taps(v, k[r + j], in + (size_t)ms_mirror(y - j, h) * w,
		     in + (size_t)ms_mirror(y + j, h) * w, w);
	for (int j = 1; j <= r; j++) {
		v[-j] = v[ms_mirror(-j, w)];
		v[w - 1 + j] = v[ms_mirror(w - 1 + j, w)];
	}
	/* horizontal */
	scale(out, k[r], v, w);
	for (int j = 1; j <= r; j++)
		taps(out, k[r + j], v - j, v + j, w);
}

int ms_image_gauss(const float *in, float *out, int h, int w, double sigma)
{
	int r = ms_gauss_radius(sigma);
	float *k = ms_malloc((2 * (size_t)r + 1 + w + 2 * (size_t)r) * sizeof *k);
	if (!k)
		return -1;
	ms_gauss_kernel(sigma, k);
	for (int y = 0; y < h; y++)
		ms_gauss_row(in, h, w, y, k, r, k + 2 * r + 1, out + (size_t)y * w);
	free(k);
	return 0;
}

/* one row of the 3x3 gradient magnitude from rows a (above), b, c (below) */
static void gradmag_row(const float *a, const float *b, const float *c, int w,
                        float s1, float s2, float *out)
{
	for (int x = 0; x < w; x++) {
		int l = x ? x - 1 : 0, r = x + 1 < w ? x + 1 : w - 1;
		float gx = s1 * (a[r] - a[l]) + s2 * (b[r] - b[l]) + s1 * (c[r] - c[l]);
		float gy = s1 * (c[l] - a[l]) + s2 * (c[x] - a[x]) + s1 * (c[r] - a[r]);
		out[x] = sqrtf(gx * gx + gy * gy);
	}
}

void ms_image_gradmag(const float *in, int h, int w, int scharr, float *out)
{
	float s1 = scharr ? 3 : 1, s2 = scharr ? 10 : 2;
	for (int y = 0; y < h; y++) {
		const float *a = in + (size_t)(y ? y - 1 : 0) * w;
		const float *c = in + (size_t)(y + 1 < h ? y + 1 : h - 1) * w;
		gradmag_row(a, in + (size_t)y * w, c, w, s1, s2, out + (size_t)y * w);
	}
}

void ms_image_normmax(float *a, size_t n)
{
	float mx = 0;
	for (size_t i = 0; i < n; i++)
		mx = a[i] > mx ? a[i] : mx;
	if (!(mx > 0))
		return;
	float s = 1 / mx;
	for (size_t i = 0; i < n; i++)
		a[i] = a[i] == mx ? 1 : a[i] * s;
}

/* row y of a label map as doubles */
static void label_row(const ms_tensor *t, int y, int w, double *out)
{
	size_t o = (size_t)y * w;
	for (int x = 0; x < w; x++)
		switch (t->dtype) {
		case MS_U8: out[x] = ((const uint8_t *)t->data)[o + x]; break;
		case MS_U16: out[x] = ((const uint16_t *)t->data)[o + x]; break;
		case MS_I32: out[x] = ((const int32_t *)t->data)[o + x]; break;
		default: out[x] = ((const float *)t->data)[o + x]; break;
		}
}

/* band of one row at pixel x, neighbours l and r (clamped) in rows a, b, c */
static inline float band_px(const double *a, const double *b, const double *c,
                            int l, int x, int r)
{
	/* real part: Scharr in x; imaginary part: Scharr in y */
	double gx = 3 * (a[r] - a[l]) + 10 * (b[r] - b[l]) + 3 * (c[r] - c[l]);
	double gy = 3 * (c[l] - a[l]) + 10 * (c[x] - a[x]) + 3 * (c[r] - a[r]);
	return (float)((gx != 0) | (gy != 0));
}

int ms_mask_band(const ms_tensor *lab, float *out)
{
	int c, h, w;
	if (ms_image_dims(lab, &c, &h, &w) < 0)
		return -1;
	if (c != 1)
		return ms_error("mask with %d channels, expected 1", c);
	double *rows = ms_malloc(3 * (size_t)w * sizeof *rows);
	if (!rows)
		return -1;
	double *a = rows, *b = a + w, *d = b + w;
	for (int y = 0; y < h; y++) {
		float *o = out + (size_t)y * w;
		label_row(lab, y ? y - 1 : 0, w, a);     /* symmetric padding of 1 = repeat */
		label_row(lab, y, w, b);
		label_row(lab, y + 1 < h ? y + 1 : h - 1, w, d);
		o[0] = band_px(a, b, d, 0, 0, w > 1);
		for (int x = 1; x < w - 1; x++)
			o[x] = band_px(a, b, d, x - 1, x, x + 1);
		if (w > 1)
			o[w - 1] = band_px(a, b, d, w - 2, w - 1, w - 1);
	}
	free(rows);
	return 0;
}
