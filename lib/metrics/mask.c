/* Mask metrics: overlap counts; boundary distances, exact, by column scans or a
 * Felzenszwalb-Huttenlocher EDT. Formulas and conventions: ms-score(1). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "metrics/mask.h"
#include "metrics/scratch.h"
#include "metrics/stats.h"

#define FAR (1 << 29)   /* "no feature in this column" in the column pass */

/* carve n bytes, 64-aligned, from a block */
static void *carve(unsigned char **at, size_t n)
{
	void *p = *at;
	*at += (n + 63) & ~(size_t)63;
	return p;
}

/* 0/0 is 1 when prediction and reference agree (e.g. both empty), else 0 */
static double ratio(int64_t num, int64_t den, int same)
{
	return den ? (double)num / den : same;
}

/* squared EDT into d2 for the rows where rowsel is set (all if NULL).
 * g: h*w ints, f, z: w+1 doubles, v: w ints of workspace */
static void edt_rows(const uint8_t *feat, int h, int w, double sy, double sx,
                     const uint8_t *rowsel, int32_t *g, double *f, double *z, int *v, double *d2)
{
	/* column pass: distance in rows to the nearest feature of the same column */
	for (int x = 0; x < w; x++)
		g[x] = feat[x] ? 0 : FAR;
	for (int y = 1; y < h; y++) {
		const uint8_t *fr = feat + (size_t)y * w;
		int32_t *gr = g + (size_t)y * w, *gp = gr - w;
		for (int x = 0; x < w; x++)
			gr[x] = fr[x] ? 0 : (gp[x] < FAR ? gp[x] + 1 : FAR);
	}
	for (int y = h - 2; y >= 0; y--) {
		int32_t *gr = g + (size_t)y * w, *gn = gr + w;
		for (int x = 0; x < w; x++)
			if (gn[x] + 1 < gr[x])
				gr[x] = gn[x] + 1;
	}
	/* row pass: lower envelope of parabolas sx^2 (x - q)^2 + f(q) */
	double sx2 = sx * sx;
	for (int y = 0; y < h; y++) {
		if (rowsel && !rowsel[y])
			continue;
		const int32_t *gr = g + (size_t)y * w;
		double *out = d2 + (size_t)y * w;
		int k = -1;
		for (int q = 0; q < w; q++) {
			if (gr[q] >= FAR)
				continue;
			f[q] = (sy * gr[q]) * (sy * gr[q]);
			double s = -INFINITY;
			while (k >= 0) {
				int p = v[k];
				s = ((f[q] + sx2 * q * q) - (f[p] + sx2 * p * p)) / (2 * sx2 * (q - p));
				if (s > z[k])
					break;
				k--;
			}
			k++;
			v[k] = q;
			z[k] = k ? s : -INFINITY;
			z[k + 1] = INFINITY;
		}
		if (k < 0) {
			for (int x = 0; x < w; x++)
				out[x] = INFINITY;
			continue;
		}
		k = 0;
		for (int x = 0; x < w; x++) {
			while (z[k + 1] < x)
				k++;
			double dx = x - v[k];
			out[x] = sx2 * dx * dx + f[v[k]];
		}
	}
}

int ms_edt_sq(const uint8_t *feat, int h, int w, double sy, double sx, double *d2)
{
	int32_t *g = ms_calloc((size_t)h * w, sizeof *g);
	double *f = ms_calloc((size_t)w + 1, sizeof *f), *z = ms_calloc((size_t)w + 1, sizeof *z);
	int *v = ms_calloc((size_t)w + 1, sizeof *v);
	int ret = g && f && z && v ? 0 : -1;
	if (!ret)
		edt_rows(feat, h, w, sy, sx, NULL, g, f, z, v, d2);
	free(g);
	free(f);
	free(z);
	free(v);
	return ret;
}

/* ---- boundary distances. Masks are cropped to the bounding box of a | b (every
 * boundary pixel lies inside it) with a one-pixel background frame, as 0/1 bytes. */
#define ONES 0x0101010101010101ull
#define LOW7 0x7f7f7f7f7f7f7f7full

static uint64_t load8(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static void store8(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* 1 in every byte of v that is nonzero, else 0 */
static uint64_t nonzero8(uint64_t v)
{
	return ((((v & LOW7) + LOW7) | v) >> 7) & ONES;
}

typedef struct {
	int n;               /* boundary pixels */
	int32_t *at;         /* their indices into the framed crop, row-major */
	int32_t *start;      /* per column x: rows of its boundary pixels are */
	int32_t *rows;       /*   rows[start[x] .. start[x + 1]), increasing */
} bnd;

/* boundary of the framed crop m (stride pw, ph rows) into b, and its pixel lists */
static void boundary_of(const uint8_t *m, uint8_t *b, int ph, int pw, bnd *o)
{
	size_t lo = (size_t)pw, hi = (size_t)(ph - 1) * pw;
	for (size_t i = lo; i < hi; i += 8) {    /* may run past hi into the frame: b = 0 there */
		uint64_t c = load8(m + i);
		if (c)
			c &= ~(load8(m + i - 1) & load8(m + i + 1) & load8(m + i - pw) & load8(m + i + pw));
		store8(b + i, c);
	}
	o->n = 0;
	memset(o->start, 0, ((size_t)pw + 1) * sizeof *o->start);
	for (size_t i = lo; i < hi; i += 8) {
		if (!load8(b + i))
			continue;
		for (size_t j = i; j < i + 8 && j < hi; j++)
			if (b[j]) {
				o->at[o->n++] = (int32_t)j;
				o->start[j % pw + 1]++;
			}
	}
	for (int x = 0; x < pw; x++)
		o->start[x + 1] += o->start[x];
	int32_t *fill = o->start + pw + 1;   /* pw + 1 spare entries after start */
	memcpy(fill, o->start, (size_t)pw * sizeof *fill);
	for (int k = 0; k < o->n; k++)
		o->rows[fill[o->at[k] % pw]++] = o->at[k] / pw;
}

/* rows from the query row y to the nearest of the sorted rows r[0..n) (n > 0) */
static int row_gap(const int32_t *r, int n, int y)
{
	int s = 0, e = n;
	while (e - s > 4) {                 /* bisect to a short run, then scan it */
		int mid = (s + e) / 2;
		if (r[mid] < y)
			s = mid;
		else
			e = mid + 1;
	}
	int best = INT32_MAX;
	for (int i = s; i < e; i++) {
		int d = r[i] < y ? y - r[i] : r[i] - y;
		best = d < best ? d : best;
	}
	if (s > 0 && y - r[s - 1] < best)
		best = y - r[s - 1];
	if (e < n && r[e] - y < best)
		best = r[e] - y;
	return best;
}

/* squared distance from (y, x) to the nearest pixel of f: scan columns outwards from x
 * until the column offset alone exceeds the best distance; *cost counts columns seen */
static double nearest(const bnd *f, int pw, int y, int x, double sy2, double sx2, long *cost)
{
	double best = INFINITY;
	int lo = x, hi = x;                 /* columns x - k and x + k, inside 1 .. pw - 2 */
	for (int k = 0; lo >= 1 || hi <= pw - 2; k++, lo--, hi++) {
		double dx2 = sx2 * k * k;
		if (dx2 >= best)
			break;
		for (int c = lo; c <= hi; c += hi - lo > 0 ? hi - lo : 1) {
			int s = f->start[c], n = f->start[c + 1] - s;
			if (c < 1 || c > pw - 2 || !n)
				continue;
			double dy = row_gap(f->rows + s, n, y), d = dx2 + sy2 * dy * dy;
			best = d < best ? d : best;
		}
		*cost += 2;
	}
	return best;
}

typedef struct {
	int ph, pw;
	uint8_t *rowsel;
	int32_t *g;
	double *f, *z, *d2;
	int *v;
} edt_ws;

/* distances from every pixel of q to the nearest pixel of f (boundary image fb),
 * appended to out: column scans, or when those grow long (far-apart masks) the exact
 * EDT restricted to the rows of q */
static size_t directed(const bnd *q, const bnd *f, const uint8_t *fb, double sy, double sx,
                       edt_ws *e, double *out, size_t n)
{
	long cost = 0, budget = 4L * e->ph * e->pw;
	size_t n0 = n;
	for (int k = 0; k < q->n && cost <= budget; k++)
		out[n++] = fb[q->at[k]] ? 0 :     /* on both boundaries */
		           sqrt(nearest(f, e->pw, q->at[k] / e->pw, q->at[k] % e->pw, sy * sy,
		                        sx * sx, &cost));
	if (cost <= budget)
		return n;
	n = n0;
	memset(e->rowsel, 0, e->ph);
	for (int k = 0; k < q->n; k++)
		e->rowsel[q->at[k] / e->pw] = 1;
	edt_rows(fb, e->ph, e->pw, sy, sx, e->rowsel, e->g, e->f, e->z, e->v, e->d2);
	for (int k = 0; k < q->n; k++)
		out[n++] = sqrt(e->d2[q->at[k]]);
	return n;
}

static int surface(const uint8_t *a, const uint8_t *b, int w, int y0, int y1, int x0, int x1,
                   double sy, double sx, ms_scratch *ws, ms_mask_score *s)
{
	int bw = x1 - x0 + 1, ph = y1 - y0 + 3, pw = bw + 2;
	size_t np = (size_t)ph * pw, nb = np + 32;
	size_t need = 4 * (nb + 64) + 2 * (np + 16) * sizeof(int32_t) +
	              4 * ((size_t)2 * pw + 16) * sizeof(int32_t) + (np + 16) * sizeof(int32_t) +
	              (size_t)ph + 64 + 3 * ((size_t)pw + 16) * sizeof(double) +
	              2 * (np + 8) * sizeof(double) + (np + 8) * sizeof(double);
	unsigned char *at = ms_scratch_get(ws, need);
	if (!at)
		return -1;
	uint8_t *ca = (uint8_t *)carve(&at, nb) + 16, *cb = (uint8_t *)carve(&at, nb) + 16;
	uint8_t *ba = (uint8_t *)carve(&at, nb) + 16, *bb = (uint8_t *)carve(&at, nb) + 16;
	bnd A = { 0, carve(&at, np * 4), carve(&at, (2 * (size_t)pw + 2) * 4), carve(&at, np * 4) };
	bnd B = { 0, carve(&at, np * 4), carve(&at, (2 * (size_t)pw + 2) * 4), carve(&at, np * 4) };
	edt_ws e = { ph, pw, carve(&at, ph), carve(&at, np * 4), carve(&at, ((size_t)pw + 1) * 8),
		     carve(&at, ((size_t)pw + 1) * 8), carve(&at, np * 8), carve(&at, ((size_t)pw + 1) * 4) };
	double *dist = carve(&at, 2 * np * sizeof *dist);
	memset(ca - 16, 0, nb);
	memset(cb - 16, 0, nb);
	memset(ba - 16, 0, nb);
	memset(bb - 16, 0, nb);
	for (int y = y0; y <= y1; y++) {
		const uint8_t *ra = a + (size_t)y * w + x0, *rb = b + (size_t)y * w + x0;
		uint8_t *oa = ca + (size_t)(y - y0 + 1) * pw + 1, *ob = cb + (size_t)(y - y0 + 1) * pw + 1;
		int x = 0;
		for (; x + 8 <= bw; x += 8) {
			store8(oa + x, nonzero8(load8(ra + x)));
			store8(ob + x, nonzero8(load8(rb + x)));
		}
		for (; x < bw; x++) {
			oa[x] = ra[x] != 0;
			ob[x] = rb[x] != 0;
		}
	}
	boundary_of(ca, ba, ph, pw, &A);
	boundary_of(cb, bb, ph, pw, &B);
	size_t n = directed(&A, &B, bb, sy, sx, &e, dist, 0);
	n = directed(&B, &A, ba, sy, sx, &e, dist, n);
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += dist[i];
	s->assd = sum / n;
	s->hd95 = ms_quantile(dist, n, 0.95);
	return 0;
}

double ms_dice_above(const float *a, float ta, const float *b, float tb, size_t n)
{
	size_t both = 0, na = 0, nb = 0;
	for (size_t i = 0; i < n; i++) {
		na += a[i] > ta;
		nb += b[i] > tb;
		both += a[i] > ta && b[i] > tb;
	}
	return na + nb ? 2.0 * both / (na + nb) : 1;
}

int ms_mask_compare(const uint8_t *a, const uint8_t *b, int h, int w, double sy, double sx,
                    ms_scratch *ws, ms_mask_score *s)
{
	ms_scratch own = { 0 };
	if (!ws)
		ws = &own;
	if (h < 1 || w < 1 || h > MS_METRICS_MAXDIM || w > MS_METRICS_MAXDIM || !(sy > 0) ||
	    !(sx > 0))
		return ms_error("mask metrics: bad size or spacing");
	uint8_t *col = ms_scratch_get(ws, (size_t)w + 8);
	if (!col)
		return -1;
	memset(col, 0, (size_t)w + 8);
	int64_t sa = 0, sb = 0, tp = 0;
	int y0 = -1, y1 = -1;
	for (int y = 0; y < h; y++) {
		const uint8_t *ra = a + (size_t)y * w, *rb = b + (size_t)y * w;
		int64_t na = 0, nb = 0;
		int x = 0;
		for (; x + 8 <= w; x += 8) {   /* 8 pixels at a time; background is skipped */
			uint64_t va = load8(ra + x), vb = load8(rb + x);
			if (!(va | vb))
				continue;
			va = nonzero8(va);
			vb = nonzero8(vb);
			na += __builtin_popcountll(va);
			nb += __builtin_popcountll(vb);
			tp += __builtin_popcountll(va & vb);
			store8(col + x, load8(col + x) | va | vb);
		}
		for (; x < w; x++) {
			uint8_t p = ra[x] != 0, q = rb[x] != 0;
			na += p;
			nb += q;
			tp += p & q;
			col[x] |= p | q;
		}
		sa += na;
		sb += nb;
		if (na + nb) {
			y0 = y0 < 0 ? y : y0;
			y1 = y;
		}
	}
	int x0 = 0, x1 = w - 1;
	while (x0 < w && !col[x0])
		x0++;
	while (x1 > x0 && !col[x1])
		x1--;
	int64_t n = (int64_t)h * w;
	s->tp = tp;
	s->fp = sa - tp;
	s->fn = sb - tp;
	s->tn = n - sa - sb + tp;
	int same = s->fp == 0 && s->fn == 0;
	s->dice = ratio(2 * tp, sa + sb, same);
	s->iou = ratio(tp, sa + sb - tp, same);
	s->precision = ratio(tp, sa, same);
	s->recall = ratio(tp, sb, same);
	s->specificity = ratio(s->tn, s->tn + s->fp, same);
	s->accuracy = (double)(tp + s->tn) / n;
	int ret = 0;
	if (!sa && !sb)
		s->hd95 = s->assd = 0;
	else if (!sa || !sb)
		s->hd95 = s->assd = NAN;
	else
		ret = surface(a, b, w, y0, y1, x0, x1, sy, sx, ws, s);
	ms_scratch_free(&own);
	return ret;
}
