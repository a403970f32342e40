/* Scoring a stream sample by sample and the table of ms-score(1) (score.h). */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/ms.h"
#include "metrics/mask.h"
#include "metrics/score.h"
#include "metrics/ssim.h"
#include "metrics/stats.h"

enum { MASKS = MS_SCORE_MASKS, IMAGES = MS_SCORE_IMAGES, DIVERSITY = MS_SCORE_DIVERSITY,
       NSLOT = MS_SCORE_NSLOT, REF = MS_SCORE_REF, MAXCOL = MS_SCORE_MAXCOL };

static const char *mask_cols[] = { "dice", "iou", "precision", "recall", "specificity",
                                   "accuracy", "hd95", "assd" };
static const char *image_cols[] = { "psnr", "ssim", "msssim" };

#define ncol(sc) ((sc)->mode == MASKS ? 8 : 3)
#define col(sc, j) ((sc)->mode == MASKS ? mask_cols[j] : image_cols[j])

void ms_score_init(ms_score *sc)
{
	memset(sc, 0, sizeof *sc);
	sc->mode = MASKS;
	sc->want[0] = "pred", sc->want[1] = "prob", sc->want[REF] = "mask";
	sc->threshold = 0.5, sc->digits = 6, sc->out = stdout;
}

void ms_score_free(ms_score *sc)
{
	for (size_t i = 0; i < sc->nset; i++)
		ms_rec_free(&sc->set[i]);
	free(sc->set);
	for (int j = 0; j < MAXCOL; j++)
		free(sc->vals[j]);
	free(sc->rowpred), free(sc->rowsample);
	ms_scratch_free(&sc->scratch), ms_scratch_free(&sc->scratch2);
}

/* a score left out: counted, then reported; returns 0 */
static int __attribute__((format(printf, 3, 4)))
skip(ms_score *sc, const char *id, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	sc->nskipped++;
	if (sc->skipped)
		sc->skipped(sc->arg, id, msg);
	return 0;
}

/* *p to n elements of size bytes; -1 (*p kept) when out of memory */
static int grow(void **p, size_t n, size_t size)
{
	void *q = ms_reallocarray(*p, n, size);
	return q ? (*p = q, 0) : -1;
}

/* ---- the table */

static void print_num(const ms_score *sc, double v, int is_json)
{
	if (isnan(v) || (is_json && isinf(v)))
		fputs(is_json ? "null" : "nan", sc->out);
	else if (isinf(v))
		fputs(v > 0 ? "inf" : "-inf", sc->out);
	else
		fprintf(sc->out, "%.*f", sc->digits, v);
}

/* length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong forms, no
 * surrogates, at most U+10FFFF), 0 if there is none */
static size_t utf8_len(const char *p)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
	if (s[0] > 0xf4 || !n)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
		return 0;
	return n;
}

/* TSV: tabs as spaces, "" as "-"; JSON: a string, bytes not UTF-8 as U+FFFD each */
static void print_str(const ms_score *sc, const char *s)
{
	FILE *out = sc->out;
	if (!sc->json) {
		for (fputs(*s ? "" : "-", out); *s; s++)
			putc(*s == '\t' ? ' ' : *s, out);
		return;
	}
	putc('"', out);
	for (size_t n; *s; s += n) {
		unsigned char ch = (unsigned char)*s;
		n = 1;
		if (ch == '"' || ch == '\\')
			fprintf(out, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(out, "\\u%04x", ch);
		else if (ch < 0x80)
			putc(ch, out);
		else if ((n = utf8_len(s)))
			fwrite(s, 1, n, out);
		else
			fputs("\\ufffd", out), n = 1;
	}
	putc('"', out);
}

static void header(const ms_score *sc)
{
	FILE *out = sc->out;
	if (sc->json) {
		fprintf(out, "{\"mode\": \"%s\", ", sc->mode == MASKS ? "masks" : "images");
		for (int k = 0; k < sc->npred; k++) {
			fputs(k ? ", " : "\"preds\": [", out);
			print_str(sc, sc->want[k]);
		}
		fprintf(out, "%s\"samples\": [\n", sc->npred ? "], " : "");
		return;
	}
	fputs(sc->npred ? "pred\tid" : "id", out);
	for (int j = 0; j < ncol(sc); j++)
		fprintf(out, "\t%s", col(sc, j));
	putc('\n', out);
}

/* a row over the columns, led by prediction k's name (TSV, with npred), then the row's
 * name: fmt 'r' a sample's row (JSON: {"pred": k, "id": name, ...}, after ",\n" when
 * sep), else a statistic's (JSON: "name": {...}, after ", " when sep) whose values are
 * 'n' counts, 'p' p-values (digits - 2 significant) or numbers (0) */
static void print_row(const ms_score *sc, int k, const char *name, int sep, const double *v,
                      char fmt)
{
	FILE *out = sc->out;
	if (sc->json && fmt != 'r') {
		fprintf(out, "%s\"%s\": {", sep ? ", " : "", name);
	} else {
		fputs(!sc->json ? "" : sep ? ",\n {" : " {", out);
		if (sc->npred) {
			fputs(sc->json ? "\"pred\": " : "", out);
			print_str(sc, sc->want[k]);
			fputs(sc->json ? ", " : "\t", out);
		}
		fputs(sc->json ? "\"id\": " : "", out);
		print_str(sc, name);
	}
	for (int j = 0; j < ncol(sc); j++) {
		if (sc->json)
			fprintf(out, "%s\"%s\": ", j || fmt == 'r' ? ", " : "", col(sc, j));
		else
			putc('\t', out);
		if (fmt == 'n')
			fprintf(out, "%.0f", v[j]);
		else if (fmt == 'p' && !isnan(v[j]))
			fprintf(out, "%.*g", sc->digits > 3 ? sc->digits - 2 : 2, v[j]);
		else
			print_num(sc, v[j], sc->json);
	}
	fputs(sc->json ? "}" : "\n", out);
}

/* a row of prediction k: kept for the summary, written unless summary_only */
static int add_row(ms_score *sc, int k, const char *id, const double *v)
{
	size_t i = sc->nrows;
	if (!i)
		header(sc);
	if (i == sc->cap) {
		size_t cap = sc->cap ? 2 * sc->cap : 256;
		int bad = grow((void **)&sc->rowpred, cap, sizeof *sc->rowpred) < 0 ||
		          grow((void **)&sc->rowsample, cap, sizeof *sc->rowsample) < 0;
		for (int j = 0; j < ncol(sc); j++)
			bad = bad || grow((void **)&sc->vals[j], cap, sizeof **sc->vals) < 0;
		if (bad)
			return -1;
		sc->cap = cap;
	}
	sc->rowpred[i] = k;
	sc->rowsample[i] = sc->nsamples - 1;   /* ms_score_sample counted it */
	for (int j = 0; j < ncol(sc); j++)
		sc->vals[j][i] = v[j];
	sc->nrows++;
	if (!sc->summary_only)
		print_row(sc, k, id, i > 0, v, 'r');
	return 0;
}

/* the statistics rows of prediction k over its rows: mean, std, median, n; with paired,
 * k against the first over the samples where both were scored: diff (mean of k - first),
 * diff_lo95, diff_hi95 (t interval), diff_p (Wilcoxon), diff_n (pairs where both values
 * are finite). A sample has at most one row of each prediction, rows in sample order */
static int print_stats(const ms_score *sc, int k, int paired)
{
	static const char *rows[] = { "mean", "std", "median", "n",
	                              "diff", "diff_lo95", "diff_hi95", "diff_p", "diff_n" };
	size_t ns = sc->nsamples;
	double s[5][MAXCOL], *a = ms_calloc(ns, sizeof *a), *b = ms_calloc(ns, sizeof *b);
	size_t *ra = ms_calloc(ns, sizeof *ra), *rb = ms_calloc(ns, sizeof *rb); /* row + 1 */
	int ret = a && b && ra && rb ? 0 : -1;
	for (size_t i = 0; !ret && i < sc->nrows; i++)
		if (sc->rowpred[i] == k)
			rb[sc->rowsample[i]] = i + 1;
		else if (sc->rowpred[i] == 0)
			ra[sc->rowsample[i]] = i + 1;
	for (int j = 0; !ret && j < ncol(sc); j++) {
		size_t n = 0;
		ms_summary m;
		ms_paired r;
		for (size_t i = 0; i < ns; i++)
			if (rb[i] && (ra[i] || !paired)) {
				a[n] = paired ? sc->vals[j][ra[i] - 1] : 0;
				b[n++] = sc->vals[j][rb[i] - 1];
			}
		if (paired ? (ret = ms_paired_compute(a, b, n, &r)) < 0
		           : (ret = ms_summary_compute(b, n, &m)) < 0)
			break;
		s[0][j] = paired ? r.diff : m.mean;
		s[1][j] = paired ? r.lo : m.std;
		s[2][j] = paired ? r.hi : m.median;
		s[3][j] = paired ? r.p : (double)m.n;
		s[4][j] = paired ? (double)r.n : 0;
	}
	free(a), free(b), free(ra), free(rb);
	if (ret < 0)
		return -1;
	if (sc->json && (paired || sc->npred)) {
		fputs(k > paired ? "}, " : "", sc->out);
		print_str(sc, sc->want[k]);
		fputs(paired ? ": {\"against\": " : ": {", sc->out);
		if (paired)
			print_str(sc, sc->want[0]);
	}
	for (int r = 0; r < 4 + paired; r++)
		print_row(sc, k, rows[r + 4 * paired], r > 0 || paired, s[r],
		          r == 3 + paired ? 'n' : r == 3 ? 'p' : 0);
	return 0;
}

/* ---- records as masks and images */

/* height and width (the last two dimensions) of a rank 2 or 3 record; -1 otherwise */
static int hw_of(const ms_rec *r, int *h, int *w)
{
	if (r->t.rank < 2 || r->t.rank > 3)
		return -1;
	int64_t hh = r->t.shape[r->t.rank - 2], ww = r->t.shape[r->t.rank - 1];
	if (hh < 1 || ww < 1 || hh > MS_METRICS_MAXDIM || ww > MS_METRICS_MAXDIM)
		return -1;
	*h = (int)hh, *w = (int)ww;
	return 0;
}

/* spatial size of a [1,H,W] or [H,W] record; -1 otherwise */
static int plane_of(const ms_rec *r, int *h, int *w)
{
	return r->t.rank == 3 && r->t.shape[0] != 1 ? -1 : hw_of(r, h, w);
}

/* mask bytes, nonzero = foreground: u8 payloads as they are; other integer dtypes
 * nonzero, f32 >= threshold, into *own (to free); NULL when out of memory */
static const uint8_t *binarise(const ms_rec *r, double threshold, uint8_t **own)
{
	size_t n = (size_t)ms_tensor_numel(&r->t);
	*own = NULL;
	if (r->t.dtype == MS_U8)
		return r->t.data;
	uint8_t *m = *own = ms_malloc(n);
	const void *d = r->t.data;
	for (size_t i = 0; m && i < n; i++)
		m[i] = r->t.dtype == MS_F32 ? ((const float *)d)[i] >= threshold
		     : r->t.dtype == MS_U16 ? ((const uint16_t *)d)[i] != 0
		     : ((const int32_t *)d)[i] != 0;
	return m;
}

/* spacing= "s" or "sy,sx": 1, 0 without one, -1 if bad */
static int spacing_of(const ms_rec *r, double *sy, double *sx)
{
	char buf[128], *end;
	if (!ms_meta_get(r, "spacing", buf, sizeof buf))
		return 0;
	*sx = *sy = strtod(buf, &end);   /* one number: the same both ways */
	if (*end == ',')
		*sx = strtod(end + 1, &end);
	return *end || !(*sy > 0 && *sx > 0 && isfinite(*sy) && isfinite(*sx)) ? -1 : 1;
}

/* one row: prediction p (slot k) against the reference */
static int score_mask(ms_score *sc, const char *id, int k, ms_rec *p)
{
	ms_rec *ref = sc->slot[REF];
	int h, w, h2, w2;
	double sy = 1, sx = 1;
	if (plane_of(p, &h, &w) < 0 || plane_of(ref, &h2, &w2) < 0)
		return skip(sc, id, "'%s' and '%s' must be one-channel [1,H,W], H and W at most %d",
		            p->name, ref->name, MS_METRICS_MAXDIM);
	if (h != h2 || w != w2)
		return skip(sc, id, "'%s' is %dx%d but '%s' is %dx%d", p->name, w, h, ref->name,
		            w2, h2);
	int sp = spacing_of(ref, &sy, &sx);
	if (sp == 0)
		sp = spacing_of(p, &sy, &sx);
	if (sp < 0)
		return skip(sc, id, "bad spacing= metadata (want sy,sx > 0)");
	uint8_t *fa, *fb;
	const uint8_t *a = binarise(p, sc->threshold, &fa), *b = binarise(ref, sc->threshold, &fb);
	ms_mask_score s;
	int ret = a && b ? ms_mask_compare(a, b, h, w, sy, sx, &sc->scratch, &s) : -1;
	free(fa);
	free(fb);
	if (ret < 0)
		return -1;
	double v[] = { s.dice, s.iou, s.precision, s.recall, s.specificity, s.accuracy,
		       s.hd95, s.assd };
	return add_row(sc, k, id, v);
}

static int score_masks(ms_score *sc, const char *id)
{
	const char *const *want = sc->want;
	if (!sc->npred) {
		ms_rec *p = sc->slot[0] ? sc->slot[0] : sc->slot[1];
		if (!sc->slot[REF])
			return skip(sc, id, "no '%s' record", want[REF]);
		if (!p && want[1])
			return skip(sc, id, "no '%s' or '%s' record", want[0], want[1]);
		if (!p)
			return skip(sc, id, "no '%s' record", want[0]);
		return score_mask(sc, id, 0, p);
	}
	if (!sc->slot[REF]) {   /* one message, every prediction skipped */
		skip(sc, id, "no '%s' record", want[REF]);
		sc->nskipped += sc->npred - 1;
		return 0;
	}
	for (int k = 0; k < sc->npred; k++)
		if (!sc->slot[k])
			skip(sc, id, "no '%s' record", want[k]);
		else if (score_mask(sc, id, k, sc->slot[k]) < 0)
			return -1;
	return 0;
}

/* f32 [C,H,W] or [H,W] image (u8/u16 scaled to [0,1]); -1 if not an image, -2 on error */
static int image_of(ms_rec *r, int *c, int *h, int *w)
{
	if (r->t.rank < 2 || r->t.rank > 3 || r->t.dtype == MS_I32)
		return -1;
	int64_t cc = r->t.rank == 3 ? r->t.shape[0] : 1;
	if (cc < 1 || cc > MS_METRICS_MAXDIM || hw_of(r, h, w) < 0)
		return -1;
	*c = (int)cc;
	return ms_tensor_to_f32(&r->t, 1) < 0 ? -2 : 0;
}

static int score_images(ms_score *sc, const char *id)
{
	ms_rec *a = sc->slot[0], *b = sc->slot[1];
	const char *const *want = sc->want;
	int c, h, w, c2, h2, w2, ret;
	if (!a || !b)
		return skip(sc, id, "no '%s' record", a ? want[1] : want[0]);
	if ((ret = image_of(a, &c, &h, &w)) == 0)
		ret = image_of(b, &c2, &h2, &w2);
	if (ret < 0)
		return ret == -2 ? -1 : skip(sc, id, "'%s' and '%s' must be images [C,H,W]", want[0],
		                             want[1]);
	if (c != c2 || h != h2 || w != w2)
		return skip(sc, id, "'%s' and '%s' differ in shape", want[0], want[1]);
	double v[3] = { ms_psnr(a->t.data, b->t.data, (size_t)c * h * w) };
	ms_ssim_img pa, pb;
	if (!ms_msssim_scales(h, w))
		return skip(sc, id, "images are smaller than %dx%d", MS_SSIM_WIN, MS_SSIM_WIN);
	ret = ms_ssim_img_init(&pa, a->t.data, c, h, w) < 0 ||
	          ms_ssim_img_init(&pb, b->t.data, c, h, w) < 0 ||
	          ms_ssim_compare(&pa, &pb, &sc->scratch2, &v[1], &v[2]) < 0 ? -1 : 0;
	ms_ssim_img_free(&pa);
	ms_ssim_img_free(&pb);
	return ret < 0 ? -1 : add_row(sc, 0, id, v);
}

/* diversity: image r into the set (r left empty) */
static int collect(ms_score *sc, ms_rec *r, const char *id)
{
	int c, h, w, c0, h0, w0, ret = image_of(r, &c, &h, &w);
	if (ret < 0)
		return ret == -2 ? -1 : skip(sc, id, "'%s' is not an image [C,H,W]", r->name);
	if (sc->nset && (image_of(&sc->set[0], &c0, &h0, &w0), c != c0 || h != h0 || w != w0))
		return skip(sc, id, "'%s' differs in shape from the first one", r->name);
	if (!ms_msssim_scales(h, w))
		return skip(sc, id, "'%s' is smaller than %dx%d", r->name, MS_SSIM_WIN, MS_SSIM_WIN);
	if (sc->nset == sc->setcap) {
		size_t cap = sc->setcap ? 2 * sc->setcap : 64;
		if (grow((void **)&sc->set, cap, sizeof *sc->set) < 0)
			return -1;
		sc->setcap = cap;
	}
	sc->set[sc->nset++] = *r;
	ms_rec_init(r);
	return 0;
}

static int diversity(ms_score *sc)
{
	FILE *out = sc->out;
	int c, h, w;
	size_t n = sc->nset, np = n * (n - 1) / 2;
	const float **img = ms_malloc(n * sizeof *img);
	double *v = ms_malloc(np * sizeof *v);
	ms_summary m;
	image_of(&sc->set[0], &c, &h, &w);
	for (size_t i = 0; img && i < n; i++)
		img[i] = sc->set[i].t.data;
	int ret = !img || !v || ms_msssim_pairs(img, n, c, h, w, v) < 0 ||
	          ms_summary_compute(v, np, &m) < 0 ? -1 : 0;
	free(img), free(v);
	if (ret < 0)
		return -1;
	double s[] = { m.mean, m.std, m.median };
	static const char *key[] = { "{\"mean\": ", ", \"std\": ", ", \"median\": " };
	if (sc->json)
		fputs("{\"mode\": \"diversity\", \"name\": ", out);
	else
		fputs("name\timages\tpairs\tscales\tmean\tstd\tmedian\n", out);
	print_str(sc, sc->want[0]);
	fprintf(out, sc->json ? ", \"images\": %zu, \"pairs\": %zu, \"scales\": %d, \"msssim\": "
	        : "\t%zu\t%zu\t%d", n, np, ms_msssim_scales(h, w));
	for (int i = 0; i < 3; i++) {
		fputs(sc->json ? key[i] : "\t", out);
		print_num(sc, s[i], sc->json);
	}
	fputs(sc->json ? "}}\n" : "\n", out);
	return 0;
}

int ms_score_sample(ms_score *sc, ms_sample *s, const char *name)
{
	memset(sc->slot, 0, sizeof sc->slot);
	for (int j = 0; j < s->n; j++) {
		ms_rec *r = &s->rec[j];
		int i = 0;
		while (i < NSLOT && !(sc->want[i] && !strcmp(r->name, sc->want[i]) && !sc->slot[i]))
			i++;
		if (i == NSLOT)
			continue;
		if (ms_rec_decode(r) < 0)
			return ms_error("%s: %s", name, ms_errmsg());
		if (sc->mode != DIVERSITY)
			sc->slot[i] = r;
		else if (collect(sc, r, s->id) < 0)
			return -1;
	}
	sc->nsamples++;
	return sc->mode == MASKS ? score_masks(sc, s->id)
	     : sc->mode == IMAGES ? score_images(sc, s->id) : 0;
}

int ms_score_finish(ms_score *sc)
{
	FILE *out = sc->out;
	int paired = sc->paired && sc->npred > 1;
	if (sc->mode == DIVERSITY)
		return sc->nset < 2 ? ms_error("fewer than 2 '%s' images: no pair to compare",
		                               sc->want[0]) : diversity(sc);
	if (!sc->nrows)
		return ms_error(sc->nsamples ? "no sample could be scored" : "no sample in the input");
	if (sc->json)
		fputs("\n], \"summary\": {", out);
	for (int k = 0; k < (sc->npred ? sc->npred : 1); k++)
		if (print_stats(sc, k, 0) < 0)
			return -1;
	if (sc->json && sc->npred)
		fputs("}", out);
	if (sc->json && paired)
		fputs("}, \"paired\": {", out);
	for (int k = 1; paired && k < sc->npred; k++)
		if (print_stats(sc, k, 1) < 0)
			return -1;
	if (sc->json)
		fprintf(out, "%s}, \"scored\": %zu, \"skipped\": %zu}\n", paired ? "}" : "",
		        sc->nrows, sc->nskipped);
	return 0;
}
