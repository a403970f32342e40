/* Resampling of [C,H,W] tensors and percentile intensity clipping. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/tensor.h"
#include "core/util.h"
#include "image/resize.h"

static int prepare(const ms_tensor *in, int64_t h, int64_t w, ms_tensor *out, int64_t *c)
{
	if (in->rank != 2 && in->rank != 3)
		return ms_error("resize needs rank 2 or 3, not %d", in->rank);
	if (h < 1 || w < 1 || in->shape[in->rank - 1] < 1 || in->shape[in->rank - 2] < 1)
		return ms_error("cannot resize an empty image");
	*c = in->rank == 3 ? in->shape[0] : 1;
	int64_t shape[3] = { *c, h, w };
	if (in->rank == 2)
		return ms_tensor_alloc(out, in->dtype, 2, shape + 1);
	return ms_tensor_alloc(out, in->dtype, 3, shape);
}

void ms_lin_coord(int64_t i, int64_t n_in, int64_t n_out, int64_t *i0, int64_t *i1, float *f)
{
	double s = (i + 0.5) * n_in / n_out - 0.5;
	if (s < 0)
		s = 0;
	int64_t a = (int64_t)s;
	if (a > n_in - 1)
		a = n_in - 1;
	*i0 = a;
	*i1 = a + 1 < n_in ? a + 1 : n_in - 1;
	*f = (float)(s - a);
}

int ms_resize_bilinear(const ms_tensor *in, int64_t h, int64_t w, ms_tensor *out)
{
	int64_t c;
	if (in->dtype != MS_F32)
		return ms_error("bilinear resize needs f32 data");
	if (prepare(in, h, w, out, &c) < 0)
		return -1;
	int64_t ih = in->shape[in->rank - 2], iw = in->shape[in->rank - 1];
	const float *src = in->data;
	float *dst = out->data;
	for (int64_t y = 0; y < h; y++) {
		int64_t y0, y1;
		float fy;
		ms_lin_coord(y, ih, h, &y0, &y1, &fy);
		for (int64_t x = 0; x < w; x++) {
			int64_t x0, x1;
			float fx;
			ms_lin_coord(x, iw, w, &x0, &x1, &fx);
			for (int64_t k = 0; k < c; k++) {
				const float *p = src + k * ih * iw;
				float top = p[y0 * iw + x0] + fx * (p[y0 * iw + x1] - p[y0 * iw + x0]);
				float bot = p[y1 * iw + x0] + fx * (p[y1 * iw + x1] - p[y1 * iw + x0]);
				dst[(k * h + y) * w + x] = top + fy * (bot - top);
			}
		}
	}
	return 0;
}

int64_t ms_near_coord(int64_t i, int64_t n_in, int64_t n_out)
{
	int64_t s = (int64_t)floor((i + 0.5) * n_in / n_out);
	return s < n_in ? s : n_in - 1;
}

int ms_resize_nearest(const ms_tensor *in, int64_t h, int64_t w, ms_tensor *out)
{
	int64_t c;
	if (prepare(in, h, w, out, &c) < 0)
		return -1;
	int64_t ih = in->shape[in->rank - 2], iw = in->shape[in->rank - 1];
	size_t es = ms_dtype_size(in->dtype);
	const unsigned char *src = in->data;
	unsigned char *dst = out->data;
	for (int64_t k = 0; k < c; k++)
		for (int64_t y = 0; y < h; y++) {
			int64_t sy = ms_near_coord(y, ih, h);
			for (int64_t x = 0; x < w; x++) {
				int64_t sx = ms_near_coord(x, iw, w);
				memcpy(dst + ((k * h + y) * w + x) * es,
				       src + ((k * ih + sy) * iw + sx) * es, es);
			}
		}
	return 0;
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

static float at_rank(const float *s, size_t n, double p)
{
	double r = p / 100 * (double)(n - 1);
	size_t i = (size_t)r;
	if (i >= n - 1)
		return s[n - 1];
	return (float)(s[i] + (r - (double)i) * ((double)s[i + 1] - s[i]));
}

int ms_percentiles(const float *v, size_t n, double plo, double phi, float *lo, float *hi)
{
	float *s = ms_calloc(n ? n : 1, sizeof *s);
	if (!s)
		return -1;
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (isfinite(v[i]))
			s[m++] = v[i];
	if (!m) {
		free(s);
		return ms_error("no finite values");
	}
	if (plo == 0 && phi == 100) {           /* min and max: no sort needed */
		float a = s[0], b = s[0];
		for (size_t i = 1; i < m; i++) {
			a = s[i] < a ? s[i] : a;
			b = s[i] > b ? s[i] : b;
		}
		*lo = a;
		*hi = b;
	} else {
		qsort(s, m, sizeof *s, cmp_float);
		*lo = at_rank(s, m, plo);
		*hi = at_rank(s, m, phi);
	}
	free(s);
	return 0;
}

void ms_rescale(float *v, size_t n, float lo, float hi)
{
	double scale = hi > lo ? 1.0 / ((double)hi - lo) : 0;
	for (size_t i = 0; i < n; i++) {
		double x = v[i];
		if (!isfinite(x) || !(hi > lo))
			x = 0;
		else
			x = x <= lo ? 0 : x >= hi ? 1 : (x - lo) * scale;
		v[i] = (float)x;
	}
}
