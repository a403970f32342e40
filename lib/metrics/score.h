/* Scoring a stream sample by sample (score.c), the table of ms-score(1): predicted masks
 * against a reference mask (Dice, IoU, precision, recall, specificity, accuracy, HD95,
 * ASSD), or two images (PSNR, SSIM, MS-SSIM), one row per sample (and prediction),
 * written as it comes; then the summary rows mean, std, median, n (per prediction) and,
 * with paired, each prediction against the first (diff, diff_lo95, diff_hi95, diff_p,
 * diff_n); as TSV or JSON. Or the diversity of a set of images: their mean, std and
 * median pairwise MS-SSIM. */
#ifndef MS_SCORE_H
#define MS_SCORE_H

#include <stddef.h>
#include <stdio.h>

#include "io/sample.h"
#include "metrics/scratch.h"

enum { MS_SCORE_MASKS, MS_SCORE_IMAGES, MS_SCORE_DIVERSITY };
/* slots: the predictions (or pred, prob; or images A, B; or the set), then the reference */
enum { MS_SCORE_MAXPRED = 16, MS_SCORE_REF = MS_SCORE_MAXPRED, MS_SCORE_NSLOT,
       MS_SCORE_MAXCOL = 8 };

typedef struct {
	/* settings (ms_score_init's defaults), fixed before the first sample */
	int mode;                     /* MS_SCORE_MASKS (default), _IMAGES, _DIVERSITY */
	const char *want[MS_SCORE_NSLOT];   /* record names by slot (pred, prob; mask) */
	int npred;                    /* > 0: want[0..npred) are predictions A,B,..., each
	                               * scored, rows led by the name; 0: want[0], else want[1] */
	int paired;                   /* with npred > 1: each prediction against the first */
	double threshold;             /* f32 predictions: foreground where >= (0.5) */
	int json, digits, summary_only;   /* JSON, not TSV; digits (6); no rows per sample */
	FILE *out;                    /* the table (stdout) */
	/* a sample (or a score of one, with npred) left out: called after nskipped counted
	 * it, with the sample's id and the reason (NULL: none) */
	void (*skipped)(void *arg, const char *id, const char *why);
	void *arg;
	/* counts */
	size_t nsamples, nskipped, nrows;   /* samples seen, scores skipped, rows */
	/* internal */
	ms_rec *slot[MS_SCORE_NSLOT];
	double *vals[MS_SCORE_MAXCOL];      /* per column, one value per row */
	int *rowpred;                       /* per row, its prediction (slot) */
	size_t *rowsample;                  /* per row, its sample (0, 1, ...) */
	size_t cap, nset, setcap;
	ms_rec *set;                        /* diversity: the images */
	ms_scratch scratch, scratch2;
} ms_score;

void ms_score_init(ms_score *sc);
void ms_score_free(ms_score *sc);
/* scores sample s (diversity: takes its images NAME into the set): the first record of
 * each wanted name, decoded (non-finite values kept); -1 with the reason (a bad payload
 * prefixed by name, the stream's) */
int ms_score_sample(ms_score *sc, ms_sample *s, const char *name);
/* the summary rows (diversity: its one row); -1 with the reason if there is nothing to
 * summarise ("no sample in the input", ...) */
int ms_score_finish(ms_score *sc);

#endif
