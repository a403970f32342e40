/* Records as pictures: pixel values for image files, and contact sheets (a row per
 * sample, a cell per displayable record, the mask outlined over the image, the record
 * names above the columns and the sample ids left of the rows). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/tensor.h"
#include "core/util.h"
#include "image/font.h"
#include "image/resize.h"
#include "io/picture.h"
#include "io/png.h"
#include "io/stream.h"

enum { GAP = 2, GAP_GREY = 64 };
/* labels: white text on a black header strip above the cells and a black margin left of
 * them, wide enough for LABEL_CHARS characters; the header's height does not depend on
 * the cell size */
enum {
	LABEL_BG = 0, LABEL_FG = 255, LABEL_PAD = 2, LABEL_CHARS = 16,
	HEADER_H = LABEL_PAD + MS_FONT_HEIGHT + 1,                /* 11 */
	MARGIN_W = LABEL_PAD + LABEL_CHARS * MS_FONT_ADVANCE      /* 98 */
};
static const uint8_t outline_rgb[3] = { 0, 255, 0 };

/* a cell: RGB planar u8 [3,h,w] at record resolution */
typedef struct {
	int64_t h, w;
	char *name;          /* the record's name (the mask's for an overlay) */
	uint8_t *rgb;
	int smooth;          /* resize bilinearly (f32 records), else nearest */
	int kind;            /* 0 other, 1 image, 2 mask */
	uint8_t *mask;       /* overlay cells: the mask, 0/1 [h,w] */
	int64_t mh, mw;
} cell;

typedef struct {
	char *id;            /* the sample's id */
	cell *c;
	size_t n;
} row;

struct ms_montage {
	int cell, labels;
	row *rows;
	size_t nrows;
	int64_t max_h, max_w;
	size_t max_cols;
};

static double value(const ms_tensor *t, int64_t i)
{
	switch (t->dtype) {
	case MS_U8: return ((uint8_t *)t->data)[i];
	case MS_U16: return ((uint16_t *)t->data)[i];
	case MS_I32: return ((int32_t *)t->data)[i];
	default: return ((float *)t->data)[i];
	}
}

int ms_tensor_to_pixels(const ms_tensor *t, int bits16, ms_tensor *out)
{
	if (t->rank != 2 && t->rank != 3)
		return ms_error("a %d-dimensional record is not an image", t->rank);
	int64_t c = t->rank == 3 ? t->shape[0] : 1, n = ms_tensor_numel(t);
	int64_t shape[3] = { c, t->shape[t->rank - 2], t->shape[t->rank - 1] };
	double scale = 1, mx = 0;
	int dtype;
	if (t->dtype == MS_F32) {
		dtype = bits16 ? MS_U16 : MS_U8;
		scale = bits16 ? 65535 : 255;
	} else {
		for (int64_t i = 0; i < n; i++) {
			double v = value(t, i);
			if (v < 0 || v > 65535)
				return ms_error("value %g out of range 0..65535 for PNG", v);
			mx = v > mx ? v : mx;
		}
		scale = mx <= 1 ? 255 : 1;
		dtype = mx <= 255 ? MS_U8 : MS_U16;
	}
	if (ms_tensor_alloc(out, dtype, 3, shape) < 0)
		return -1;
	for (int64_t i = 0; i < n; i++) {
		double v = value(t, i);
		if (t->dtype == MS_F32)
			v = v >= 0 ? (v <= 1 ? v : 1) : 0;   /* NaN -> 0 */
		v = floor(v * scale + 0.5);
		if (dtype == MS_U8)
			((uint8_t *)out->data)[i] = (uint8_t)v;
		else
			((uint16_t *)out->data)[i] = (uint16_t)v;
	}
	return 0;
}

ms_montage *ms_montage_new(int cell_size, int labels)
{
	ms_montage *m = ms_calloc(1, sizeof *m);
	if (m) {
		m->cell = cell_size;
		m->labels = labels;
	}
	return m;
}

static void free_cell(cell *c)
{
	free(c->name);
	free(c->rgb);
	free(c->mask);
}

void ms_montage_free(ms_montage *m)
{
	if (!m)
		return;
	for (size_t r = 0; r < m->nrows; r++) {
		for (size_t i = 0; i < m->rows[r].n; i++)
			free_cell(&m->rows[r].c[i]);
		free(m->rows[r].c);
		free(m->rows[r].id);
	}
	free(m->rows);
	free(m);
}

/* put the first image, then image + outline of the first mask, then the rest */
static int order_row(ms_montage *mo, row *w)
{
	cell *v = ms_calloc(w->n + 1, sizeof *v);
	size_t n = 0, img = w->n, msk = w->n;
	if (!v)
		return -1;
	for (size_t i = 0; i < w->n; i++) {
		if (w->c[i].kind == 1 && img == w->n)
			img = i;
		else if (w->c[i].kind == 2 && msk == w->n)
			msk = i;
	}
	if (img < w->n) {
		v[n++] = w->c[img];
		if (msk < w->n) {
			cell *m = &w->c[msk];
			size_t bytes = 3 * (size_t)(v[0].h * v[0].w);
			v[n] = v[0];
			if (!(v[n].rgb = ms_malloc(bytes))) {
				free(v);
				return -1;
			}
			memcpy(v[n].rgb, v[0].rgb, bytes);
			v[n].name = m->name;
			v[n].mask = m->mask;
			v[n].mh = m->h;
			v[n++].mw = m->w;
			free(m->rgb);
		}
	}
	for (size_t i = 0; i < w->n; i++) {
		if (i == img || (i == msk && img < w->n))
			continue;
		free(w->c[i].mask);       /* a mask without an image is shown as it is */
		w->c[i].mask = NULL;
		v[n++] = w->c[i];
	}
	free(w->c);
	w->c = v;
	w->n = n;
	mo->max_cols = n > mo->max_cols ? n : mo->max_cols;
	for (size_t i = 0; i < n; i++) {
		mo->max_h = v[i].h > mo->max_h ? v[i].h : mo->max_h;
		mo->max_w = v[i].w > mo->max_w ? v[i].w : mo->max_w;
	}
	return 0;
}

int ms_montage_add(ms_montage *m, const ms_rec *r, int new_row)
{
	const ms_tensor *t = &r->t;
	if ((t->rank != 2 && t->rank != 3) || (t->rank == 3 && t->shape[0] != 1 && t->shape[0] != 3))
		return 0;                 /* not displayable */
	if (new_row || !m->nrows) {
		char id[1024];
		if (m->nrows && order_row(m, &m->rows[m->nrows - 1]) < 0)
			return -1;
		row *rows = ms_reallocarray(m->rows, m->nrows + 1, sizeof *rows);
		if (!rows)
			return -1;
		m->rows = rows;
		if (!(rows[m->nrows].id = ms_strdup(ms_rec_id(r, id, sizeof id))))
			return -1;
		rows[m->nrows].c = NULL;
		rows[m->nrows++].n = 0;
	}
	row *w = &m->rows[m->nrows - 1];
	cell *cs = ms_reallocarray(w->c, w->n + 1, sizeof *w->c);
	if (!cs)
		return -1;
	w->c = cs;
	ms_tensor px = { 0 };
	if (ms_tensor_to_pixels(t, 0, &px) < 0)
		return -1;
	cell c = { .h = px.shape[1], .w = px.shape[2], .smooth = t->dtype == MS_F32 };
	c.kind = !strcmp(r->name, "image") ? 1 : !strcmp(r->name, "mask") ? 2 : 0;
	size_t hw = (size_t)(c.h * c.w);
	if (!(c.name = ms_strdup(r->name)) || !(c.rgb = ms_malloc(3 * hw)) ||
	    (c.kind == 2 && !(c.mask = ms_malloc(hw)))) {
		free_cell(&c);
		ms_tensor_free(&px);
		return -1;
	}
	for (int k = 0; k < 3; k++)       /* grey to three equal planes; 16 bits to 8 */
		for (size_t i = 0, o = px.shape[0] == 3 ? k * hw : 0; i < hw; i++)
			c.rgb[k * hw + i] = px.dtype == MS_U8 ? ((uint8_t *)px.data)[o + i] :
			                    ((uint16_t *)px.data)[o + i] >> 8;
	if (c.kind == 2)
		for (size_t i = 0; i < hw; i++)
			c.mask[i] = value(t, i) != 0;
	w->c[w->n++] = c;
	ms_tensor_free(&px);
	return 0;
}

static int resize_u8(const uint8_t *src, int c, int64_t h, int64_t w, int smooth, int64_t oh,
                     int64_t ow, uint8_t *dst)
{
	ms_tensor in = { .dtype = MS_U8, .rank = 3, .shape = { c, h, w }, .data = (void *)src };
	ms_tensor out = { 0 };
	if (smooth) {
		size_t n = (size_t)(c * h * w);
		float *f = ms_malloc(n * sizeof *f);
		if (!f)
			return -1;
		for (size_t i = 0; i < n; i++)
			f[i] = src[i];
		in = (ms_tensor){ .dtype = MS_F32, .rank = 3, .shape = { c, h, w }, .data = f };
		int ret = ms_resize_bilinear(&in, oh, ow, &out);
		free(f);
		if (ret < 0)
			return -1;
		for (size_t i = 0; i < (size_t)(c * oh * ow); i++)
			dst[i] = (uint8_t)floor(((float *)out.data)[i] + 0.5f);
	} else {
		if (ms_resize_nearest(&in, oh, ow, &out) < 0)
			return -1;
		memcpy(dst, out.data, (size_t)(c * oh * ow));
	}
	ms_tensor_free(&out);
	return 0;
}

static int draw_cell(const cell *c, int64_t ch, int64_t cw, uint8_t *sheet, int64_t sh,
                     int64_t sw, int64_t y0, int64_t x0)
{
	size_t chw = (size_t)(ch * cw);
	uint8_t *px = ms_malloc(3 * chw), *m = NULL;
	int ret = -1;
	if (!px || resize_u8(c->rgb, 3, c->h, c->w, c->smooth, ch, cw, px) < 0)
		goto out;
	if (c->mask) {               /* overlay: outline of the mask over the image */
		if (!(m = ms_malloc(chw)) || resize_u8(c->mask, 1, c->mh, c->mw, 0, ch, cw, m) < 0)
			goto out;
		for (int64_t y = 0; y < ch; y++)
			for (int64_t x = 0; x < cw; x++) {
				int64_t i = y * cw + x;
				if (!m[i] || (y > 0 && x > 0 && y < ch - 1 && x < cw - 1 && m[i - 1] &&
				              m[i + 1] && m[i - cw] && m[i + cw]))
					continue;
				for (int k = 0; k < 3; k++)
					px[k * chw + i] = outline_rgb[k];
			}
	}
	for (int k = 0; k < 3; k++)
		for (int64_t y = 0; y < ch; y++)
			memcpy(sheet + ((k * sh + y0 + y) * sw + x0), px + k * chw + y * cw, cw);
	ret = 0;
out:
	free(px);
	free(m);
	return ret;
}

int ms_montage_rows(const ms_montage *m)
{
	return (int)m->nrows;
}

/* whether row r has a cell in column i whose name no earlier row has there */
static int new_name(const ms_montage *m, size_t r, size_t i)
{
	if (m->rows[r].n <= i)
		return 0;
	for (size_t q = 0; q < r; q++)
		if (m->rows[q].n > i && !strcmp(m->rows[q].c[i].name, m->rows[r].c[i].name))
			return 0;
	return 1;
}

/* the label of column i: the names in that column, each once, in row order, joined
 * by '/' (one name when every row has the same record there) */
static char *column_label(const ms_montage *m, size_t i)
{
	size_t len = 0;
	for (size_t r = 0; r < m->nrows; r++)
		if (new_name(m, r, i))
			len += strlen(m->rows[r].c[i].name) + 1;
	char *s = ms_malloc(len + 1), *p = s;
	if (!s)
		return NULL;
	*s = '\0';
	for (size_t r = 0; r < m->nrows; r++)
		if (new_name(m, r, i))
			p += sprintf(p, "%s%s", p > s ? "/" : "", m->rows[r].c[i].name);
	return s;
}

/* text cut to fit the w x h box at (x, y) of the [3,sh,sw] sheet, in white */
static void draw_label(uint8_t *sheet, int64_t sh, int64_t sw, int64_t x, int64_t y,
                       int64_t w, int64_t h, const char *text)
{
	char fit[1024];
	int64_t most = ms_font_width(sizeof fit - 1);
	ms_font_fit(text, w < most ? w : most, fit, sizeof fit);
	for (int k = 0; k < 3; k++)
		ms_font_draw(sheet + (size_t)(k * sh * sw), sw, x, y, w, h, fit, LABEL_FG);
}

/* the header strip and the left margin in LABEL_BG, the column and row labels on them;
 * cells at (x0 + i * (cw + GAP), y0 + r * (ch + GAP)) */
static int draw_labels(const ms_montage *m, uint8_t *sheet, int64_t sh, int64_t sw,
                       int64_t ch, int64_t cw, int64_t y0, int64_t x0)
{
	for (int k = 0; k < 3; k++) {
		uint8_t *p = sheet + (size_t)(k * sh * sw);
		memset(p, LABEL_BG, (size_t)(HEADER_H * sw));
		for (int64_t y = HEADER_H; y < sh; y++)
			memset(p + y * sw, LABEL_BG, MARGIN_W);
	}
	for (size_t i = 0; i < m->max_cols; i++) {
		char *text = column_label(m, i);
		if (!text)
			return -1;
		draw_label(sheet, sh, sw, x0 + (int64_t)i * (cw + GAP), LABEL_PAD, cw,
		           MS_FONT_HEIGHT, text);
		free(text);
	}
	/* a row label may use the gap below its row; none on rows too low to read it */
	for (size_t r = 0; r < m->nrows && ch + GAP >= MS_FONT_ASCENT; r++)
		draw_label(sheet, sh, sw, LABEL_PAD, y0 + (int64_t)r * (ch + GAP),
		           LABEL_CHARS * MS_FONT_ADVANCE, ch + GAP, m->rows[r].id);
	return 0;
}

int ms_montage_write(ms_montage *m, const char *path)
{
	if (!m->nrows)
		return ms_error("no records to draw");
	if (order_row(m, &m->rows[m->nrows - 1]) < 0)
		return -1;
	int64_t ch = m->cell ? m->cell : m->max_h, cw = m->cell ? m->cell : m->max_w;
	int64_t top = m->labels ? HEADER_H : 0, left = m->labels ? MARGIN_W : 0;
	int64_t sw = left + (int64_t)m->max_cols * (cw + GAP) + GAP;
	int64_t sh = top + (int64_t)m->nrows * (ch + GAP) + GAP;
	if (sw > 0x7fffffff / 3 || sh > 0x7fffffff / 3 || (double)sw * sh * 3 > (double)(1LL << 32))
		return ms_error("montage of %lldx%lld pixels is too large: use --cell",
		                (long long)sw, (long long)sh);
	ms_tensor sheet = { 0 };
	if (ms_tensor_alloc(&sheet, MS_U8, 3, (int64_t[]){ 3, sh, sw }) < 0)
		return -1;
	memset(sheet.data, GAP_GREY, ms_tensor_bytes(&sheet));
	int ret = m->labels ? draw_labels(m, sheet.data, sh, sw, ch, cw, top + GAP, left + GAP) : 0;
	for (size_t r = 0; r < m->nrows && !ret; r++)
		for (size_t i = 0; i < m->rows[r].n && !ret; i++)
			ret = draw_cell(&m->rows[r].c[i], ch, cw, sheet.data, sh, sw,
			                top + GAP + (int64_t)r * (ch + GAP),
			                left + GAP + (int64_t)i * (cw + GAP));
	if (!ret)
		ret = ms_png_write(path, &sheet, NULL);
	ms_tensor_free(&sheet);
	return ret;
}
