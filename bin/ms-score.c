/* ms-score: score predicted masks against reference masks, or pairs of images, and
 * print a table (TSV or JSON) with one row per sample and a summary; with several
 * predictions (--pred A,B,...), one row per sample and prediction, a summary for each,
 * and (--paired) each prediction compared with the first on the samples both scored.
 * The scoring and the table are metrics/score. */
#include <string.h>

#include "core/ms.h"
#include "io/sample.h"
#include "io/stream.h"
#include "metrics/score.h"

static const char usage[] =
	"[-js] [-d DIGITS] [[-t T] [--pred NAME[,NAME...] [--paired]] [--ref NAME] | --images A,B |\n"
	"       --diversity NAME] [FILE...]";

enum { MAXWARN = 10 };

static ms_score sc;

/* the first MAXWARN samples left out, one line each */
static void skipped(void *arg, const char *id, const char *why)
{
	(void)arg;
	if (sc.nskipped <= MAXWARN)
		warn("sample %s: %s, skipped", *id ? id : "-", why);
}

static int score_one(ms_sample *s, void *fname)
{
	return ms_score_sample(&sc, s, fname);
}

static void score_stream(FILE *in, const char *fname)
{
	if (ms_sample_each(in, fname, score_one, (void *)fname) < 0)
		die("%s", ms_errmsg());            /* the reader names the stream */
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
	for (int k = 0; k < MS_SCORE_MAXPRED; k++)
		sc.want[k] = NULL;
	sc.npred = 0;
	if (!strchr(s, ',')) {
		sc.want[0] = s;
		return name_arg(s);
	}
	for (char *t = s, *c; t; t = c) {
		if ((c = strchr(t, ',')))
			*c++ = '\0';
		if (sc.npred == MS_SCORE_MAXPRED)
			return ms_error("more than %d names", MS_SCORE_MAXPRED);
		if (name_arg(t) < 0)
			return -1;
		sc.want[sc.npred] = t;
		for (int k = 0; k < sc.npred; k++)
			if (!strcmp(sc.want[k], t))
				return ms_error("'%s' given twice", t);
		sc.npred++;
	}
	return 0;
}

static int ref_arg(const char *s)
{
	sc.want[MS_SCORE_REF] = s;
	return name_arg(s);
}

static int images_arg(const char *arg)
{
	char *s = (char *)arg, *comma = strchr(s, ',');   /* argv's, split in place */
	if (sc.mode == MS_SCORE_DIVERSITY)
		return ms_error("excludes --diversity");
	if (!comma)
		return ms_error("'%s' is not A,B", s);
	*comma = '\0';
	if (name_arg(s) < 0 || name_arg(comma + 1) < 0)
		return -1;
	sc.want[0] = s;
	sc.want[1] = comma + 1;
	sc.want[MS_SCORE_REF] = NULL;
	if (!strcmp(sc.want[0], sc.want[1]))
		return ms_error("needs two different names");
	sc.mode = MS_SCORE_IMAGES;
	return 0;
}

static int diversity_arg(const char *s)
{
	if (sc.mode == MS_SCORE_IMAGES)
		return ms_error("excludes --images");
	sc.want[0] = s;
	sc.want[1] = sc.want[MS_SCORE_REF] = NULL;
	sc.mode = MS_SCORE_DIVERSITY;
	return name_arg(s);
}

static long ndigits = 6;
static ms_opt opts[] = {
	MS_OPT_FLAG("json", 'j', &sc.json, "print JSON instead of TSV (ids not UTF-8: U+FFFD)"),
	MS_OPT_FLAG("summary", 's', &sc.summary_only, "the summary rows only, no row per sample"),
	MS_OPT_INT("digits", 'd', &ndigits, 0, 17, "N", "digits after the decimal point (6)"),
	MS_OPT_GROUP("masks (the default; Dice, IoU, precision, recall, specificity, accuracy,\n"
	             "HD95, ASSD of a prediction against a reference mask)", NULL, 0),
	MS_OPT_CALL("pred", 0, pred_arg, "NAME[,NAME...]", "prediction record (default pred, else prob);\n"
	            "A,B,...: several, one row each per sample, led by the name"),
	MS_OPT_FLAG("paired", 0, &sc.paired, "then each against the first (B - A): rows diff,\n"
	            "diff_lo95, diff_hi95 (95% t interval), diff_p\n(Wilcoxon signed-rank), diff_n"),
	MS_OPT_CALL("ref", 0, ref_arg, "NAME", "reference record (mask)"),
	MS_OPT_NUM("threshold", 't', &sc.threshold, -1e30, 1e30, "T",
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
	ms_score_init(&sc);
	sc.skipped = skipped;
	int first = ms_opt_parse(opts, usage, about, 0, argc, argv);
	int masks_opt = ms_opt_given(opts, "pred") || ms_opt_given(opts, "ref") ||
	                ms_opt_given(opts, "threshold") || sc.paired;
	sc.digits = (int)ndigits;
	if (masks_opt && sc.mode != MS_SCORE_MASKS)
		usage_error(usage, "mask options do not go with --images or --diversity");
	if (sc.paired && sc.npred < 2)
		usage_error(usage, "--paired needs --pred A,B[,...]");
	for (int k = 0; k < sc.npred; k++)
		if (!strcmp(sc.want[k], sc.want[MS_SCORE_REF]))
			usage_error(usage, "--pred: '%s' is also the reference", sc.want[k]);
	if (first == argc)
		score_stream(stdin, "<stdin>");
	for (int i = first; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (!f)
			die("cannot open %s:", argv[i]);
		score_stream(f, argv[i]);
		fclose(f);
	}
	size_t nskipped = sc.nskipped, nsamples = sc.nsamples;
	if (nskipped > MAXWARN)
		warn("%zu more samples skipped", nskipped - MAXWARN);
	if (nskipped && !sc.npred)
		warn("%zu of %zu samples skipped", nskipped, nsamples);
	else if (nskipped)
		warn("%zu of %zu scores skipped (%zu samples x %d predictions)", nskipped,
		     nsamples * sc.npred, nsamples, sc.npred);
	if (ms_score_finish(&sc) < 0)
		die("%s", ms_errmsg());
	ms_score_free(&sc);
	return fshut(stdout, "<stdout>");
}
