/* Edge maps: soft gradient magnitude, Canny (as OpenCV's), mask band, DiffBoost's sum. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/tensor.h"
#include "core/util.h"
#include "image/edges.h"
#include "image/image.h"

struct ms_edges {
	ms_edges_opt o;
	int r;               /* Gaussian radius */
	float *k;            /* 2r+1 taps */
	int h, w;            /* size the buffers below were made for */
	float *luma, *smooth, *tmp, *band;
	uint8_t *img;        /* canny: (h+2) x (w+2), borders repeated */
	uint8_t *map;        /* canny: (h+2) x (w+2); 0 maybe, 1 no, 2 edge */
	int *mag;            /* canny: 3 rows of w+2, zero at both ends */
	int16_t *dx, *dy;    /* canny: 2 rows of w */
	uint32_t *stack;     /* canny: h*w map offsets */
};

static const char *names[] = { "soft", "canny", "mask", "diffboost" };

const char *ms_edges_method_name(int m)
{
	return m >= 0 && m <= MS_EDGES_DIFFBOOST ? names[m] : NULL;
}

int ms_edges_method_parse(const char *s)
{
	return ms_name_index(s, names, MS_EDGES_DIFFBOOST + 1);
}

ms_edges *ms_edges_new(const ms_edges_opt *o)
{
	if (!ms_edges_method_name(o->method))
		return ms_error("unknown edge method %d", o->method), NULL;
	if (!(o->sigma >= 0 && o->sigma <= 1000))
		return ms_error("sigma %g out of range 0..1000", o->sigma), NULL;
	if (!(fabs(o->low) <= 1e9 && fabs(o->high) <= 1e9))
		return ms_error("canny thresholds %g, %g out of range", o->low, o->high), NULL;
	ms_edges *e = ms_calloc(1, sizeof *e);
	if (!e)
		return NULL;
	e->o = *o;
	if (e->o.low > e->o.high) {
		double t = e->o.low;
		e->o.low = e->o.high;
		e->o.high = t;
	}
	e->r = ms_gauss_radius(o->sigma);
	if (!(e->k = ms_malloc((2 * (size_t)e->r + 1) * sizeof *e->k))) {
		free(e);
		return NULL;
	}
	ms_gauss_kernel(o->sigma, e->k);
	return e;
}

static void release(ms_edges *e)
{
	free(e->luma);
	free(e->smooth);
	free(e->tmp);
	free(e->band);
	free(e->img);
	free(e->map);
	free(e->mag);
	free(e->dx);
	free(e->dy);
	free(e->stack);
	e->luma = e->smooth = e->tmp = e->band = NULL;
	e->img = e->map = NULL;
	e->mag = NULL;
	e->dx = e->dy = NULL;
	e->stack = NULL;
	e->h = e->w = 0;
}

void ms_edges_free(ms_edges *e)
{
	if (!e)
		return;
	release(e);
	free(e->k);
	free(e);
}

/* buffers for an h x w image; allocated only when the size changes */
static int prepare(ms_edges *e, int h, int w)
{
	if (e->h == h && e->w == w)
		return 0;
	release(e);
	size_t n = (size_t)h * w, p = ((size_t)h + 2) * ((size_t)w + 2);
	e->luma = ms_malloc(n * sizeof *e->luma);
	e->smooth = ms_malloc(n * sizeof *e->smooth);
	e->tmp = ms_malloc(((size_t)w + 2 * (size_t)e->r) * sizeof *e->tmp);
	e->band = ms_malloc(n * sizeof *e->band);
	e->img = ms_malloc(p);
	e->map = ms_malloc(p);
	e->mag = ms_malloc(3 * ((size_t)w + 2) * sizeof *e->mag);
	e->dx = ms_malloc(2 * (size_t)w * sizeof *e->dx);
	e->dy = ms_malloc(2 * (size_t)w * sizeof *e->dy);
	e->stack = ms_malloc(n * sizeof *e->stack);
	if (!e->luma || !e->smooth || !e->tmp || !e->band || !e->img || !e->map ||
	    !e->mag || !e->dx || !e->dy || !e->stack) {
		release(e);
		return -1;
	}
	e->h = h;
	e->w = w;
	return 0;
}

/* ---- Canny */

/* repeat the border of the padded 8-bit image (interior already filled) */
static void pad_border(uint8_t *img, int h, int w)
{
	size_t P = (size_t)w + 2;
	for (int y = 1; y <= h; y++) {
		img[y * P] = img[y * P + 1];
		img[y * P + w + 1] = img[y * P + w];
	}
	memcpy(img, img + P, P);
	memcpy(img + (h + 1) * P, img + h * P, P);
}

/* Sobel dx, dy and magnitude of pixels x..x+n-1 of a row, from padded rows a, b, c
 * (inlined with a constant n = 16, gcc -O2 vectorises it) */
static inline void sobel_px(const uint8_t *restrict a, const uint8_t *restrict b,
                            const uint8_t *restrict c, int x, int n, int l2,
                            int16_t *restrict dx, int16_t *restrict dy, int *restrict mag)
{
	for (int i = 0; i < n; i++) {
		const uint8_t *p = a + x + i, *q = b + x + i, *s = c + x + i;
		int16_t gx = (int16_t)((p[2] - p[0]) + 2 * (q[2] - q[0]) + (s[2] - s[0]));
		int16_t gy = (int16_t)((s[0] + 2 * s[1] + s[2]) - (p[0] + 2 * p[1] + p[2]));
		dx[x + i] = gx;
		dy[x + i] = gy;
		mag[x + i] = l2 ? gx * gx + gy * gy : (gx < 0 ? -gx : gx) + (gy < 0 ? -gy : gy);
	}
}

/* Sobel of image row y (padded rows y, y+1, y+2) */
static void sobel_row(const uint8_t *restrict img, int w, int y, int l2,
                      int16_t *restrict dx, int16_t *restrict dy, int *restrict mag)
{
	size_t P = (size_t)w + 2;
	const uint8_t *a = img + y * P, *b = a + P, *c = b + P;
	int x = 0;
	if (l2)
		for (; x + 16 <= w; x += 16)
			sobel_px(a, b, c, x, 16, 1, dx, dy, mag);
	else
		for (; x + 16 <= w; x += 16)
			sobel_px(a, b, c, x, 16, 0, dx, dy, mag);
	sobel_px(a, b, c, x, w - x, l2, dx, dy, mag);
	mag[-1] = mag[w] = 0;
}

#define TG22 13573   /* tan(22.5 deg) * 2^15, rounded */

/* local maxima along the gradient direction (OpenCV's tangent sectors) among pixels
 * x..x+n-1: bit i set when pixel x+i is above low and a maximum (inlined with a
 * constant n = 16, gcc -O2 vectorises it) */
static inline unsigned nms_px(const int16_t *restrict dx, const int16_t *restrict dy,
                              const int *restrict mp, const int *restrict mc,
                              const int *restrict mn, int x, int n, int low)
{
	unsigned bits = 0;
	for (int i = 0; i < n; i++) {
		int j = x + i, m = mc[j], xs = dx[j], ys = dy[j];
		int ax = abs(xs), ay = abs(ys) << 15, t22 = ax * TG22, neg = (xs ^ ys) < 0;
		int kh = (m > mc[j - 1]) & (m >= mc[j + 1]);     /* gradient about horizontal */
		int kv = (m > mp[j]) & (m >= mn[j]);             /* about vertical */
		int kd = (m > (neg ? mp[j + 1] : mp[j - 1])) &   /* diagonal */
		         (m > (neg ? mn[j - 1] : mn[j + 1]));
		unsigned k = (m > low) & (ay < t22 ? kh : ay > t22 + (ax << 16) ? kv : kd);
		bits |= k << i;
	}
	return bits;
}

/* non-maximum suppression of row y (mp, mc, mn: magnitudes of rows y-1, y, y+1):
 * fills map row y and pushes the maxima above high, as OpenCV does */
static uint32_t *nms_row(ms_edges *e, int y, const int16_t *dx, const int16_t *dy,
                         const int *mp, const int *mc, const int *mn,
                         int low, int high, uint32_t *top)
{
	int w = e->w, last = -2;   /* last: the latest pixel pushed or after one, in a run */
	size_t P = (size_t)w + 2, off = (size_t)(y + 1) * P + 1;
	uint8_t *map = e->map + off;
	map[-1] = map[w] = 1;
	for (int x = 0; x < w; x += 16) {
		size_t n = (size_t)(w - x) < 16 ? (size_t)(w - x) : 16;
		unsigned bits = n == 16 ? nms_px(dx, dy, mp, mc, mn, x, 16, low)
		                        : nms_px(dx, dy, mp, mc, mn, x, (int)n, low);
		memset(map + x, 1, n);
		for (; bits; bits &= bits - 1) {
			int j = x + __builtin_ctz(bits);
			/* a strong pixel right after one pushed (in a run of maxima) needs no
			 * push of its own: hysteresis reaches it (OpenCV's shortcut) */
			if (last == j - 1) {
				map[j] = 0;
				last = j;
			} else if (mc[j] > high && map[j - P] != 2) {
				map[j] = 2;
				*top++ = (uint32_t)(off + j);
				last = j;
			} else {
				map[j] = 0;
			}
		}
	}
	return top;
}

/* Canny of the padded 8-bit image in e->img; result in e->map */
static void canny(ms_edges *e)
{
	int h = e->h, w = e->w, l2 = e->o.l2;
	size_t P = (size_t)w + 2;
	double lo = e->o.low, hi = e->o.high;
	if (l2) {
		lo = fmin(lo, 32767);
		hi = fmin(hi, 32767);
		lo = lo > 0 ? lo * lo : lo;
		hi = hi > 0 ? hi * hi : hi;
	}
	int low = (int)floor(lo), high = (int)floor(hi);
	int *mp = e->mag + 1, *mc = mp + P, *mn = mc + P;
	uint32_t *top = e->stack;
	uint8_t *map = e->map;

	memset(map, 1, P);
	memset(map + (h + 1) * P, 1, P);
	memset(mp - 1, 0, P * sizeof *mp);
	sobel_row(e->img, w, 0, l2, e->dx, e->dy, mc);
	for (int y = 0; y < h; y++) {
		int16_t *dx = e->dx + (y & 1) * w, *dy = e->dy + (y & 1) * w;
		if (y + 1 < h)
			sobel_row(e->img, w, y + 1, l2, e->dx + ((y + 1) & 1) * w,
			          e->dy + ((y + 1) & 1) * w, mn);
		else
			memset(mn - 1, 0, P * sizeof *mn);
		top = nms_row(e, y, dx, dy, mp, mc, mn, low, high, top);
		int *t = mp;
		mp = mc;
		mc = mn;
		mn = t;
	}
	/* hysteresis: grow the strong edges through 8-connected candidates */
	const ptrdiff_t nb[8] = { -1, 1, -(ptrdiff_t)P - 1, -(ptrdiff_t)P, -(ptrdiff_t)P + 1,
	                          (ptrdiff_t)P - 1, (ptrdiff_t)P, (ptrdiff_t)P + 1 };
	while (top > e->stack) {
		uint32_t i = *--top;
		for (int k = 0; k < 8; k++)
			if (!map[i + nb[k]]) {
				map[i + nb[k]] = 2;
				*top++ = (uint32_t)(i + nb[k]);
			}
	}
}

int ms_canny_u8(ms_edges *e, const uint8_t *img, int h, int w, uint8_t *out)
{
	if (h < 1 || w < 1 || ((int64_t)h + 2) * ((int64_t)w + 2) >= INT32_MAX)
		return ms_error("bad image size %dx%d", h, w);
	if (prepare(e, h, w) < 0)
		return -1;
	size_t P = (size_t)w + 2;
	for (int y = 0; y < h; y++)
		memcpy(e->img + (y + 1) * P + 1, img + (size_t)y * w, w);
	pad_border(e->img, h, w);
	canny(e);
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			out[(size_t)y * w + x] = e->map[(y + 1) * P + x + 1] == 2;
	return 0;
}

/* ---- the methods */

/* v -> round(255 v) clamped to 0..255 (half up; NaN -> 0) */
static void quantise(const float *restrict v, uint8_t *restrict q, int w)
{
	int x = 0;
	for (; x + 16 <= w; x += 16)
		for (int i = 0; i < 16; i++) {
			float t = v[x + i] * 255 + 0.5f;
			t = t > 0 ? t : 0;
			t = t < 255 ? t : 255;
			q[x + i] = (uint8_t)(int)t;
		}
	for (; x < w; x++) {
		float t = v[x] * 255 + 0.5f;
		q[x] = t >= 255 ? 255 : t > 0 ? (uint8_t)t : 0;
	}
}

/* map row -> 0/1 floats (map 0, 1 -> 0; 2 -> 1) */
static void edge_row(const uint8_t *restrict m, float *restrict o, int w)
{
	int x = 0;
	for (; x + 16 <= w; x += 16)
		for (int i = 0; i < 16; i++)
			o[x + i] = (float)(int)(m[x + i] >> 1);
	for (; x < w; x++)
		o[x] = (float)(m[x] >> 1);
}

/* smoothed luma -> 8 bits (round half up, clamp) -> Canny -> 0/1 floats */
static void canny_float(ms_edges *e, const float *luma, float *out)
{
	int h = e->h, w = e->w;
	size_t P = (size_t)w + 2;
	for (int y = 0; y < h; y++) {
		const float *row = luma + (size_t)y * w;
		if (e->r) {
			ms_gauss_row(luma, h, w, y, e->k, e->r, e->tmp, e->smooth);
			row = e->smooth;
		}
		quantise(row, e->img + (y + 1) * P + 1, w);
	}
	pad_border(e->img, h, w);
	canny(e);
	for (int y = 0; y < h; y++) {
		edge_row(e->map + (y + 1) * P + 1, out + (size_t)y * w, w);
	}
}

/* Gaussian, gradient magnitude, divided by its maximum */
static void soft(ms_edges *e, const float *luma, float *out)
{
	size_t n = (size_t)e->h * e->w;
	const float *s = luma;
	if (e->r) {
		for (int y = 0; y < e->h; y++)
			ms_gauss_row(luma, e->h, e->w, y, e->k, e->r, e->tmp,
			             e->smooth + (size_t)y * e->w);
		s = e->smooth;
	}
	ms_image_gradmag(s, e->h, e->w, e->o.scharr, out);
	ms_image_normmax(out, n);
}

/* b (h x w) dilated by a (2r+1) x (2r+1) square, in place: separable running maxima */
static void dilate(float *b, int h, int w, int r, float *tmp)
{
	for (int y = 0; y < h; y++) {
		const float *s = b + (size_t)y * w;
		float *d = tmp + (size_t)y * w;
		for (int x = 0; x < w; x++) {
			float m = 0;
			for (int k = x - r < 0 ? 0 : x - r; k <= x + r && k < w; k++)
				m = s[k] > m ? s[k] : m;
			d[x] = m;
		}
	}
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			float m = 0;
			for (int k = y - r < 0 ? 0 : y - r; k <= y + r && k < h; k++)
				m = tmp[(size_t)k * w + x] > m ? tmp[(size_t)k * w + x] : m;
			b[(size_t)y * w + x] = m;
		}
}

/* the edges farther than near pixels (Chebyshev) from the mask's border set to 0 */
static int keep_near(ms_edges *e, const ms_tensor *mask, float *out)
{
	if (ms_mask_band(mask, e->band) < 0)
		return -1;
	dilate(e->band, e->h, e->w, e->o.near, e->smooth);
	for (size_t i = 0, n = (size_t)e->h * e->w; i < n; i++)
		if (!(e->band[i] > 0))
			out[i] = 0;
	return 0;
}

static int compute(ms_edges *e, const ms_tensor *image, const ms_tensor *mask, float *out);

int ms_edges_compute(ms_edges *e, const ms_tensor *image, const ms_tensor *mask, float *out)
{
	if (e->o.near > 0 && !mask)
		return ms_error("no mask to keep the edges near (--near)");
	if (compute(e, image, mask, out) < 0)
		return -1;
	return e->o.near > 0 ? keep_near(e, mask, out) : 0;
}

static int compute(ms_edges *e, const ms_tensor *image, const ms_tensor *mask, float *out)
{
	int c, h, w, mc, mh, mw, m = e->o.method;
	if (ms_image_dims(image, &c, &h, &w) < 0)
		return -1;
	if (mask && (ms_image_dims(mask, &mc, &mh, &mw) < 0 || mc != 1 || mh != h || mw != w))
		return ms_error("mask size does not match the image (%dx%d)", h, w);
	if (m == MS_EDGES_MASK && !mask)
		return ms_error("no mask");
	if (prepare(e, h, w) < 0)
		return -1;
	size_t n = (size_t)h * w;
	const float *luma = e->luma;
	if (m != MS_EDGES_MASK) {
		if (c == 1 && image->dtype == MS_F32)
			luma = image->data;
		else if (ms_image_luma(image, e->luma) < 0)
			return -1;
	}
	switch (m) {
	case MS_EDGES_CANNY:
		canny_float(e, luma, out);
		return 0;
	case MS_EDGES_MASK:
		return ms_mask_band(mask, out);
	case MS_EDGES_SOFT:
		soft(e, luma, out);
		return 0;
	default:
		soft(e, luma, out);
		if (!mask)
			return 0;
		if (ms_mask_band(mask, e->band) < 0)
			return -1;
		for (size_t i = 0; i < n; i++)
			out[i] = fminf(1, out[i] + e->band[i]);
		return 0;
	}
}
