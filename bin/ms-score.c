/* ms-score: score predicted masks against reference masks, or pairs of images, and
 * print a table (TSV or JSON) with one row per sample and a summary; with several
 * predictions (--pred A,B,...), one row per sample and prediction, a summary for each,
 * and (--paired) each prediction compared with the first on the samples both scored. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/ms.h"
#include "io/sample.h"
#include "io/stream.h"
#include "metrics/mask.h"
#include "metrics/scratch.h"
#include "metrics/ssim.h"
#include "metrics/stats.h"

static const char usage[] =
	"[-js] [-d DIGITS] [[-t T] [--pred NAME[,NAME...] [--paired]] [--ref NAME] | --images A,B |\n"
	"       --diversity NAME] [FILE...]";

enum { MASKS, IMAGES, DIVERSITY };
/* slots: the predictions (or pred, prob; or images A, B), then the reference */
enum { MAXPRED = 16, NSLOT = MAXPRED + 1, REF = MAXPRED, MAXCOL = 8, MAXWARN = 10 };

static const char *mask_cols[] = { "dice", "iou", "precision", "recall", "specificity",
                                   "accuracy", "hd95", "assd" };
static const char *image_cols[] = { "psnr", "ssim", "msssim" };

static int mode = MASKS, json, digits = 6, summary_only, paired;
static double threshold = 0.5;
static const char *want[NSLOT];    /* record names wanted, by slot */
static ms_rec *slot[NSLOT];       /* records of the current sample, NULL if none */
static int ncol, npred;          /* npred > 0: --pred A,B,...: a leading column names it */
static const char **cols;
static double *vals[MAXCOL];       /* per column, one value per scored sample */
static size_t nrows, cap, nsamples, nskipped;
static int *rowpred;               /* per row, the prediction (slot) it scores */
static size_t *rowsample;          /* per row, the sample (0, 1, ...) */
static ms_scratch scratch, scratch2;   /* masks, images */
static ms_rec *set;                /* --diversity: the images */
static size_t nset, setcap;

static int skip(const char *id, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int skip(const char *id, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (nskipped++ < MAXWARN)
		warn("sample %s: %s, skipped", *id ? id : "-", msg);
	return 0;
}

static void print_num(double v, int is_json)
{
	if (isnan(v) || (is_json && isinf(v)))
		fputs(is_json ? "null" : "nan", stdout);
	else if (isinf(v))
		fputs(v > 0 ? "inf" : "-inf", stdout);
	else
		printf("%.*f", digits, v);
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

static void print_str(const char *s)
{
	if (!json) {
		for (fputs(*s ? "" : "-", stdout); *s; s++)
			putchar(*s == '\t' ? ' ' : *s);
		return;
	}
	putchar('"');
	for (size_t n; *s; s += n) {
		unsigned char ch = (unsigned char)*s;
		n = 1;
		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			printf("\\u%04x", ch);
		else if (ch < 0x80)
			putchar(ch);
		else if ((n = utf8_len(s)))
			fwrite(s, 1, n, stdout);
		else
			fputs("\\ufffd", stdout), n = 1;   /* not UTF-8: U+FFFD per byte */
	}
	putchar('"');
}

static void header(void)
{
	if (json) {
		printf("{\"mode\": \"%s\", ", mode == MASKS ? "masks" : "images");
		for (int k = 0; k < npred; k++) {
			fputs(k ? ", " : "\"preds\": [", stdout);
			print_str(want[k]);
		}
		printf("%s\"samples\": [\n", npred ? "], " : "");
		return;
	}
	fputs(npred ? "pred\tid" : "id", stdout);
	for (int j = 0; j < ncol; j++)
		printf("\t%s", cols[j]);
	putchar('\n');
}

static void add_row(int k, const char *id, const double *v)
{
	if (!nrows)
		header();
	if (nrows == cap) {
		cap = cap ? 2 * cap : 256;
		for (int j = 0; j < ncol; j++)
			vals[j] = ereallocarray(vals[j], cap, sizeof **vals);
		rowpred = ereallocarray(rowpred, cap, sizeof *rowpred);
		rowsample = ereallocarray(rowsample, cap, sizeof *rowsample);
	}
	rowpred[nrows] = k;
	rowsample[nrows] = nsamples - 1;   /* finish_sample counted it */
	for (int j = 0; j < ncol; j++)
		vals[j][nrows] = v[j];
	if (summary_only) {
		nrows++;
		return;
	}
	if (json)
		fputs(nrows ? ",\n {" : " {", stdout);
	if (npred) {
		fputs(json ? "\"pred\": " : "", stdout);
		print_str(want[k]);
		fputs(json ? ", " : "\t", stdout);
	}
	fputs(json ? "\"id\": " : "", stdout);
	print_str(id);
	for (int j = 0; j < ncol; j++) {
		if (json)
			printf(", \"%s\": ", cols[j]);
		else
			putchar('\t');
		print_num(v[j], json);
	}
	fputs(json ? "}" : "\n", stdout);
	nrows++;
}

/* one summary row over the columns: led by prediction k's name (TSV, with --pred A,B),
 * then the row's name; fmt 'n' a count, 'p' a p-value (digits - 2 significant), else a
 * number; JSON: "row": {...}, after ", " when sep */
static void stat_row(int k, const char *row, int sep, const double *v, char fmt)
{
	if (json) {
		printf("%s\"%s\": {", sep ? ", " : "", row);
	} else {
		if (npred) {
			print_str(want[k]);
			putchar('\t');
		}
		fputs(row, stdout);
	}
	for (int j = 0; j < ncol; j++) {
		if (json)
			printf("%s\"%s\": ", j ? ", " : "", cols[j]);
		else
			putchar('\t');
		if (fmt == 'n')
			printf("%.0f", v[j]);
		else if (fmt == 'p' && !isnan(v[j]))
			printf("%.*g", digits > 3 ? digits - 2 : 2, v[j]);
		else
			print_num(v[j], json);
	}
	fputs(json ? "}" : "\n", stdout);
}

/* the summary rows of the rows of prediction k (of all rows without --pred A,B) */
static void print_summary(int k)
{
	static const char *rows[] = { "mean", "std", "median", "n" };
	double s[4][MAXCOL], *v = emalloc((nrows ? nrows : 1) * sizeof *v);
	for (int j = 0; j < ncol; j++) {
		ms_summary m;
		size_t n = 0;
		for (size_t i = 0; i < nrows; i++)
			if (rowpred[i] == k)
				v[n++] = vals[j][i];
		if (ms_summary_compute(v, n, &m) < 0)
			die("%s", ms_errmsg());
		s[0][j] = m.mean;
		s[1][j] = m.std;
		s[2][j] = m.median;
		s[3][j] = (double)m.n;
	}
	free(v);
	if (json && npred) {
		fputs(k ? "}, " : "", stdout);
		print_str(want[k]);
		fputs(": {", stdout);
	}
	for (int r = 0; r < 4; r++)
		stat_row(k, rows[r], r > 0, s[r], r == 3 ? 'n' : 0);
}

/* --paired: prediction k against the first, over the samples where both were scored:
 * rows diff (mean of k - first), diff_lo95, diff_hi95 (t interval), diff_p (Wilcoxon),
 * diff_n (pairs where both values are finite) */
static void print_paired(int k)
{
	static const char *rows[] = { "diff", "diff_lo95", "diff_hi95", "diff_p", "diff_n" };
	double s[5][MAXCOL], *a = emalloc(nsamples * sizeof *a), *b = emalloc(nsamples * sizeof *b);
	long *ra = emalloc(nsamples * sizeof *ra), *rb = emalloc(nsamples * sizeof *rb);
	for (size_t i = 0; i < nsamples; i++)
		ra[i] = rb[i] = -1;
	for (size_t i = 0; i < nrows; i++)
		if (rowpred[i] == 0)
			ra[rowsample[i]] = (long)i;
		else if (rowpred[i] == k)
			rb[rowsample[i]] = (long)i;
	for (int j = 0; j < ncol; j++) {
		size_t n = 0;
		ms_paired r;
		for (size_t i = 0; i < nsamples; i++)
			if (ra[i] >= 0 && rb[i] >= 0) {
				a[n] = vals[j][ra[i]];
				b[n++] = vals[j][rb[i]];
			}
		if (ms_paired_compute(a, b, n, &r) < 0)
			die("%s", ms_errmsg());
		s[0][j] = r.diff;
		s[1][j] = r.lo;
		s[2][j] = r.hi;
		s[3][j] = r.p;
		s[4][j] = (double)r.n;
	}
	free(a), free(b), free(ra), free(rb);
	if (json) {
		fputs(k > 1 ? "}, " : "", stdout);
		print_str(want[k]);
		fputs(": {\"against\": ", stdout);
		print_str(want[0]);
	}
	for (int r = 0; r < 5; r++)
		stat_row(k, rows[r], 1, s[r], r == 4 ? 'n' : r == 3 ? 'p' : 0);
}

static void print_summaries(void)
{
	if (json)
		fputs("\n], \"summary\": {", stdout);
	for (int k = 0; k < (npred ? npred : 1); k++)
		print_summary(k);
	if (json && npred)
		fputs("}", stdout);
	if (json && paired)
		fputs("}, \"paired\": {", stdout);
	for (int k = 1; paired && k < npred; k++)
		print_paired(k);
	if (json)
		printf("%s}, \"scored\": %zu, \"skipped\": %zu}\n", paired ? "}" : "", nrows, nskipped);
}

/* height and width (the last two dimensions) of a rank 2 or 3 record; -1 otherwise */
static int hw_of(const ms_rec *r, int *h, int *w)
{
	if (r->t.rank < 2 || r->t.rank > 3)
		return -1;
	int64_t hh = r->t.shape[r->t.rank - 2], ww = r->t.shape[r->t.rank - 1];
	if (hh < 1 || ww < 1 || hh > MS_METRICS_MAXDIM || ww > MS_METRICS_MAXDIM)
		return -1;
	*h = (int)hh;
	*w = (int)ww;
	return 0;
}

/* spatial size of a [1,H,W] or [H,W] record; -1 otherwise */
static int plane_of(const ms_rec *r, int *h, int *w)
{
	return r->t.rank == 3 && r->t.shape[0] != 1 ? -1 : hw_of(r, h, w);
}

/* mask bytes, nonzero = foreground: u8 payloads as they are; other integer dtypes
 * nonzero, f32 >= threshold, into *own (to free) */
static const uint8_t *binarise(const ms_rec *r, uint8_t **own)
{
	size_t n = (size_t)ms_tensor_numel(&r->t);
	*own = NULL;
	if (r->t.dtype == MS_U8)
		return r->t.data;
	uint8_t *m = *own = emalloc(n);
	const void *d = r->t.data;
	if (r->t.dtype == MS_F32)
		for (size_t i = 0; i < n; i++)
			m[i] = ((const float *)d)[i] >= threshold;
	else if (r->t.dtype == MS_U16)
		for (size_t i = 0; i < n; i++)
			m[i] = ((const uint16_t *)d)[i] != 0;
	else
		for (size_t i = 0; i < n; i++)
			m[i] = ((const int32_t *)d)[i] != 0;
	return m;
}

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
static int score_mask(const char *id, int k, ms_rec *p)
{
	ms_rec *ref = slot[REF];
	int h, w, h2, w2;
	double sy = 1, sx = 1;
	if (plane_of(p, &h, &w) < 0 || plane_of(ref, &h2, &w2) < 0)
		return skip(id, "'%s' and '%s' must be one-channel [1,H,W], H and W at most %d",
		            p->name, ref->name, MS_METRICS_MAXDIM);
	if (h != h2 || w != w2)
		return skip(id, "'%s' is %dx%d but '%s' is %dx%d", p->name, w, h, ref->name, w2, h2);
	int sp = spacing_of(ref, &sy, &sx);
	if (sp == 0)
		sp = spacing_of(p, &sy, &sx);
	if (sp < 0)
		return skip(id, "bad spacing= metadata (want sy,sx > 0)");
	uint8_t *fa, *fb;
	const uint8_t *a = binarise(p, &fa), *b = binarise(ref, &fb);
	ms_mask_score s;
	if (ms_mask_compare(a, b, h, w, sy, sx, &scratch, &s) < 0)
		die("%s", ms_errmsg());
	free(fa);
	free(fb);
	double v[] = { s.dice, s.iou, s.precision, s.recall, s.specificity, s.accuracy,
		       s.hd95, s.assd };
	add_row(k, id, v);
	return 1;
}

static void score_masks(const char *id)
{
	if (!npred) {
		ms_rec *p = slot[0] ? slot[0] : slot[1];
		if (!slot[REF])
			skip(id, "no '%s' record", want[REF]);
		else if (!p && want[1])
			skip(id, "no '%s' or '%s' record", want[0], want[1]);
		else if (!p)
			skip(id, "no '%s' record", want[0]);
		else
			score_mask(id, 0, p);
		return;
	}
	if (!slot[REF]) {   /* one message, every prediction skipped */
		skip(id, "no '%s' record", want[REF]);
		nskipped += npred - 1;
		return;
	}
	for (int k = 0; k < npred; k++)
		if (!slot[k])
			skip(id, "no '%s' record", want[k]);
		else
			score_mask(id, k, slot[k]);
}

/* f32 [C,H,W] or [H,W] image (u8/u16 scaled to [0,1]); -1 otherwise */
static int image_of(ms_rec *r, int *c, int *h, int *w)
{
	if (r->t.rank < 2 || r->t.rank > 3 || r->t.dtype == MS_I32)
		return -1;
	int64_t cc = r->t.rank == 3 ? r->t.shape[0] : 1;
	if (cc < 1 || cc > MS_METRICS_MAXDIM || hw_of(r, h, w) < 0)
		return -1;
	*c = (int)cc;
	if (ms_tensor_to_f32(&r->t, 1) < 0)
		die("%s", ms_errmsg());
	return 0;
}

static int score_images(const char *id)
{
	ms_rec *a = slot[0], *b = slot[1];
	int c, h, w, c2, h2, w2;
	if (!a || !b)
		return skip(id, "no '%s' record", a ? want[1] : want[0]);
	if (image_of(a, &c, &h, &w) < 0 || image_of(b, &c2, &h2, &w2) < 0)
		return skip(id, "'%s' and '%s' must be images [C,H,W]", want[0], want[1]);
	if (c != c2 || h != h2 || w != w2)
		return skip(id, "'%s' and '%s' differ in shape", want[0], want[1]);
	double v[3];
	ms_ssim_img pa, pb;
	v[0] = ms_psnr(a->t.data, b->t.data, (size_t)c * h * w);
	if (!ms_msssim_scales(h, w))
		return skip(id, "images are smaller than %dx%d", MS_SSIM_WIN, MS_SSIM_WIN);
	if (ms_ssim_img_init(&pa, a->t.data, c, h, w) < 0 ||
	    ms_ssim_img_init(&pb, b->t.data, c, h, w) < 0 ||
	    ms_ssim_compare(&pa, &pb, &scratch2, &v[1], &v[2]) < 0)
		die("%s", ms_errmsg());
	ms_ssim_img_free(&pa);
	ms_ssim_img_free(&pb);
	add_row(0, id, v);
	return 1;
}

static void finish_sample(const char *id)
{
	nsamples++;
	if (mode == MASKS)
		score_masks(id);
	else if (mode == IMAGES)
		score_images(id);
	for (int i = 0; i < NSLOT; i++)
		slot[i] = NULL;
}

static int collect(ms_rec *r, const char *id)
{
	int c, h, w, c0, h0, w0;
	if (image_of(r, &c, &h, &w) < 0)
		return skip(id, "'%s' is not an image [C,H,W]", r->name);
	if (nset && (image_of(&set[0], &c0, &h0, &w0), c != c0 || h != h0 || w != w0))
		return skip(id, "'%s' differs in shape from the first one", r->name);
	if (!ms_msssim_scales(h, w))
		return skip(id, "'%s' is smaller than %dx%d", r->name, MS_SSIM_WIN, MS_SSIM_WIN);
	if (nset == setcap)
		set = ereallocarray(set, setcap = setcap ? 2 * setcap : 64, sizeof *set);
	set[nset++] = *r;
	ms_rec_init(r);
	return 1;
}

static void diversity(void)
{
	int c, h, w;
	size_t np = nset * (nset - 1) / 2;
	const float **img = emalloc(nset * sizeof *img);
	double *v = emalloc(np * sizeof *v), s[3];
	ms_summary m;
	image_of(&set[0], &c, &h, &w);
	for (size_t i = 0; i < nset; i++)
		img[i] = set[i].t.data;
	if (ms_msssim_pairs(img, nset, c, h, w, v) < 0 || ms_summary_compute(v, np, &m) < 0)
		die("%s", ms_errmsg());
	s[0] = m.mean;
	s[1] = m.std;
	s[2] = m.median;
	free(img);
	if (json) {
		printf("{\"mode\": \"diversity\", \"name\": ");
		print_str(want[0]);
		printf(", \"images\": %zu, \"pairs\": %zu, \"scales\": %d, \"msssim\": {\"mean\": ",
		       nset, np, ms_msssim_scales(h, w));
		print_num(s[0], 1);
		fputs(", \"std\": ", stdout);
		print_num(s[1], 1);
		fputs(", \"median\": ", stdout);
		print_num(s[2], 1);
		fputs("}}\n", stdout);
	} else {
		printf("name\timages\tpairs\tscales\tmean\tstd\tmedian\n");
		print_str(want[0]);
		printf("\t%zu\t%zu\t%d", nset, np, ms_msssim_scales(h, w));
		for (int i = 0; i < 3; i++) {
			putchar('\t');
			print_num(s[i], 0);
		}
		putchar('\n');
	}
	free(v);
}

/* the first record of each wanted name into its slot (--diversity: every record
 * NAME into the set), decoded, non-finite values kept; then the sample is scored */
static void score_sample(ms_sample *s, const char *fname)
{
	for (int j = 0; j < s->n; j++) {
		ms_rec *r = &s->rec[j];
		int i = 0;
		while (i < NSLOT && !(want[i] && !strcmp(r->name, want[i]) && !slot[i]))
			i++;
		if (i == NSLOT)
			continue;
		if (ms_rec_decode(r) < 0)
			die("%s: %s", fname, ms_errmsg());
		if (mode == DIVERSITY)
			collect(r, s->id);
		else
			slot[i] = r;
	}
	finish_sample(s->id);
}

static void score_stream(FILE *in, const char *fname)
{
	ms_reader rd;
	ms_sample s;
	int ret;
	ms_reader_init(&rd, in, fname);
	ms_sample_init(&s);
	while ((ret = ms_sample_next(&rd, &s)) == 1)
		score_sample(&s, fname);
	if (ret < 0)
		die("%s", ms_errmsg());            /* the reader names the stream */
	ms_sample_free(&s);
	ms_reader_free(&rd);
}

/* the record name s, or -1 with the reason */
static int name_arg(const char *s)
{
	return ms_name_valid(s) ? 0 : ms_error("'%s' is not a valid record name", s);
}

/* --pred NAME (pred[0] only, no fallback) or --pred A,B,...: one column of names */
static int pred_arg(const char *arg)
{
	char *s = (char *)arg;        /* a string of argv, split in place */
	for (int k = 0; k < MAXPRED; k++)
		want[k] = NULL;
	npred = 0;
	if (!strchr(s, ',')) {
		want[0] = s;
		return name_arg(s);
	}
	for (char *t = s, *c; t; t = c) {
		if ((c = strchr(t, ',')))
			*c++ = '\0';
		if (npred == MAXPRED)
			return ms_error("more than %d names", MAXPRED);
		if (name_arg(t) < 0)
			return -1;
		want[npred] = t;
		for (int k = 0; k < npred; k++)
			if (!strcmp(want[k], t))
				return ms_error("'%s' given twice", t);
		npred++;
	}
	return 0;
}

static int ref_arg(const char *s)
{
	want[REF] = s;
	return name_arg(s);
}

static int images_arg(const char *arg)
{
	char *s = (char *)arg, *comma = strchr(s, ',');   /* argv's, split in place */
	if (mode == DIVERSITY)
		return ms_error("excludes --diversity");
	if (!comma)
		return ms_error("'%s' is not A,B", s);
	*comma = '\0';
	if (name_arg(s) < 0 || name_arg(comma + 1) < 0)
		return -1;
	want[0] = s;
	want[1] = comma + 1;
	want[REF] = NULL;
	if (!strcmp(want[0], want[1]))
		return ms_error("needs two different names");
	mode = IMAGES;
	return 0;
}

static int diversity_arg(const char *s)
{
	if (mode == IMAGES)
		return ms_error("excludes --images");
	want[0] = s;
	want[1] = want[REF] = NULL;
	mode = DIVERSITY;
	return name_arg(s);
}

static long ndigits = 6;
static ms_opt opts[] = {
	MS_OPT_FLAG("json", 'j', &json, "print JSON instead of TSV (ids not UTF-8: U+FFFD)"),
	MS_OPT_FLAG("summary", 's', &summary_only, "the summary rows only, no row per sample"),
	MS_OPT_INT("digits", 'd', &ndigits, 0, 17, "N", "digits after the decimal point (6)"),
	MS_OPT_GROUP("masks (the default; Dice, IoU, precision, recall, specificity, accuracy,\n"
	             "HD95, ASSD of a prediction against a reference mask)", NULL, 0),
	MS_OPT_CALL("pred", 0, pred_arg, "NAME[,NAME...]", "prediction record (default pred, else prob);\n"
	            "A,B,...: several, one row each per sample, led by the name"),
	MS_OPT_FLAG("paired", 0, &paired, "then each against the first (B - A): rows diff,\n"
	            "diff_lo95, diff_hi95 (95% t interval), diff_p\n(Wilcoxon signed-rank), diff_n"),
	MS_OPT_CALL("ref", 0, ref_arg, "NAME", "reference record (mask)"),
	MS_OPT_NUM("threshold", 't', &threshold, -1e30, 1e30, "T",
	           "f32 predictions: foreground where value >= T (0.5)"),
	MS_OPT_GROUP("images and diversity", NULL, 0),
	MS_OPT_CALL("images", 0, images_arg, "A,B", "PSNR, SSIM, MS-SSIM between records A and B"),
	MS_OPT_CALL("diversity", 0, diversity_arg, "NAME", "mean pairwise MS-SSIM of all records NAME"),
	MS_OPT_END
};

int main(int argc, char **argv)
{
	static const char about[] =
		"Score each sample of the stream (stdin if no FILE) and print a table:\n"
		"a header, one row per sample, then rows mean, std, median, n.";
	ms_setprog(argv);
	want[0] = "pred";
	want[1] = "prob";
	want[REF] = "mask";
	int first = ms_opt_parse(opts, usage, about, 0, argc, argv);
	int masks_opt = ms_opt_given(opts, "pred") || ms_opt_given(opts, "ref") ||
	                ms_opt_given(opts, "threshold") || paired;
	digits = (int)ndigits;
	if (masks_opt && mode != MASKS)
		usage_error(usage, "mask options do not go with --images or --diversity");
	if (paired && npred < 2)
		usage_error(usage, "--paired needs --pred A,B[,...]");
	for (int k = 0; k < npred; k++)
		if (!strcmp(want[k], want[REF]))
			usage_error(usage, "--pred: '%s' is also the reference", want[k]);
	cols = mode == MASKS ? mask_cols : image_cols;
	ncol = mode == MASKS ? 8 : 3;
	if (first == argc)
		score_stream(stdin, "<stdin>");
	for (int i = first; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (!f)
			die("cannot open %s:", argv[i]);
		score_stream(f, argv[i]);
		fclose(f);
	}
	if (nskipped > MAXWARN)
		warn("%zu more samples skipped", nskipped - MAXWARN);
	if (nskipped && !npred)
		warn("%zu of %zu samples skipped", nskipped, nsamples);
	else if (nskipped)
		warn("%zu of %zu scores skipped (%zu samples x %d predictions)", nskipped,
		     nsamples * npred, nsamples, npred);
	if (mode == DIVERSITY) {
		if (nset < 2)
			die("fewer than 2 '%s' images: no pair to compare", want[0]);
		diversity();
	} else if (!nrows) {
		die(nsamples ? "no sample could be scored" : "no sample in the input");
	} else {
		print_summaries();
	}
	for (size_t i = 0; i < nset; i++)
		ms_rec_free(&set[i]);
	free(set);
	for (int j = 0; j < ncol; j++)
		free(vals[j]);
	free(rowpred);
	free(rowsample);
	ms_scratch_free(&scratch);
	ms_scratch_free(&scratch2);
	return fshut(stdout, "<stdout>");
}
