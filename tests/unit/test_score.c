/* metrics/score: the rows of a stream of masks against ms_mask_compare, the summary rows
 * against ms_summary_compute and the --paired rows against ms_paired_compute over the
 * same values, the skipped scores, JSON's counts and the empty table. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/ms.h"
#include "io/sample.h"
#include "metrics/mask.h"
#include "metrics/score.h"
#include "metrics/stats.h"
#include "test.h"

enum { N = 12, H = 20, W = 24, NPRED = 2 };

/* sample i's masks: the reference, a square; prediction k, the square shifted by i % 3 + k
 * columns and k rows (prediction 1 missing from sample 5, empty in sample 7) */
static void masks(int i, uint8_t ref[H * W], uint8_t pred[NPRED][H * W])
{
	memset(ref, 0, H * W);
	memset(pred, 0, NPRED * H * W);
	int y0 = 2 + i % 5, x0 = 3 + i % 7;
	for (int y = y0; y < y0 + 8; y++)
		for (int x = x0; x < x0 + 9; x++) {
			ref[y * W + x] = 1;
			for (int k = 0; k < NPRED; k++)
				if (!(k == 1 && i == 7))
					pred[k][(y + k) * W + x + i % 3 + k] = 1;
		}
}

static void put(FILE *f, const char *name, int i, const uint8_t *m)
{
	ms_rec r;
	ms_tensor t;
	int64_t shape[3] = { 1, H, W };
	char id[16];
	ms_rec_init(&r);
	CHECK(ms_tensor_alloc(&t, MS_U8, 3, shape) == 0);
	memcpy(t.data, m, H * W);
	CHECK(ms_rec_set(&r, name, &t) == 0);
	snprintf(id, sizeof id, "s%d", i);
	CHECK(ms_meta_set(&r, "id", id) == 0);
	CHECK(ms_rec_write(f, &r) == 0);
	ms_rec_free(&r);
}

static FILE *stream(void)
{
	FILE *f = tmpfile();
	uint8_t ref[H * W], pred[NPRED][H * W];
	for (int i = 0; i < N; i++) {
		masks(i, ref, pred);
		if (i != 3)                 /* sample 3 has no reference: both scores skipped */
			put(f, "mask", i, ref);
		put(f, "pa", i, pred[0]);
		if (i != 5)
			put(f, "pb", i, pred[1]);
	}
	rewind(f);
	return f;
}

static int nskip_calls;
static void skipped(void *arg, const char *id, const char *why)
{
	(void)id, (void)why;
	nskip_calls++;
	CHECK(arg == &nskip_calls);
}

/* scores the stream with --pred pa,pb --paired; the table into *text */
static ms_score *score(int json, char **text)
{
	static ms_score sc;
	size_t len;
	FILE *in = stream(), *out = open_memstream(text, &len);
	ms_reader rd;
	ms_sample s;
	ms_score_init(&sc);
	sc.want[0] = "pa", sc.want[1] = "pb", sc.npred = 2, sc.paired = 1;
	sc.json = json, sc.digits = 17, sc.out = out;
	sc.skipped = skipped, sc.arg = &nskip_calls;
	ms_reader_init(&rd, in, "test");
	ms_sample_init(&s);
	while (ms_sample_next(&rd, &s) == 1)
		CHECK(ms_score_sample(&sc, &s, "test") == 0);
	CHECK(ms_score_finish(&sc) == 0);
	ms_sample_free(&s);
	ms_reader_free(&rd);
	fclose(in);
	fclose(out);
	return &sc;
}

/* the values of the TSV row led by pred, name; 0 if there is none */
static int row(const char *text, const char *pred, const char *name, double v[8])
{
	char key[64];
	snprintf(key, sizeof key, "\n%s\t%s\t", pred, name);
	const char *p = strstr(text, key);
	if (!p)
		return 0;
	p += strlen(key);
	for (int j = 0; j < 8; j++) {
		char *end;
		v[j] = strtod(p, &end);
		p = end + 1;
	}
	return 1;
}

static void check_near(const double *got, const double *want, int n)
{
	for (int j = 0; j < n; j++)
		if (isnan(want[j]))
			CHECK(isnan(got[j]));
		else
			CHECK_NEAR(got[j], want[j], 1e-12 * fmax(1, fabs(want[j])));
}

static void test_table(void)
{
	static const char *names[] = { "pa", "pb" };
	char *text;
	double col[NPRED][8][N], got[8], want[8];
	int have[NPRED][N] = { { 0 } };
	uint8_t ref[H * W], pred[NPRED][H * W];
	nskip_calls = 0;
	ms_score *sc = score(0, &text);
	CHECK(!strncmp(text, "pred\tid\tdice\tiou\t", 17));
	/* the rows: each as ms_mask_compare gives it */
	for (int i = 0; i < N; i++) {
		char id[16];
		masks(i, ref, pred);
		snprintf(id, sizeof id, "s%d", i);
		for (int k = 0; k < NPRED; k++) {
			ms_mask_score s;
			int scored = i != 3 && !(k == 1 && i == 5);
			CHECK(row(text, names[k], id, got) == scored);
			if (!scored)
				continue;
			CHECK(ms_mask_compare(pred[k], ref, H, W, 1, 1, NULL, &s) == 0);
			double v[8] = { s.dice, s.iou, s.precision, s.recall, s.specificity,
			                s.accuracy, s.hd95, s.assd };
			check_near(got, v, 8);
			for (int j = 0; j < 8; j++)
				col[k][j][i] = v[j];
			have[k][i] = 1;
		}
	}
	/* the summary rows of each prediction over its rows */
	for (int k = 0; k < NPRED; k++) {
		ms_summary m[8];
		for (int j = 0; j < 8; j++) {
			double v[N];
			size_t n = 0;
			for (int i = 0; i < N; i++)
				if (have[k][i])
					v[n++] = col[k][j][i];
			CHECK(ms_summary_compute(v, n, &m[j]) == 0);
		}
		static const char *rows[] = { "mean", "std", "median", "n" };
		for (int r = 0; r < 4; r++) {
			for (int j = 0; j < 8; j++)
				want[j] = r == 0 ? m[j].mean : r == 1 ? m[j].std : r == 2 ? m[j].median
				          : (double)m[j].n;
			CHECK(row(text, names[k], rows[r], got));
			check_near(got, want, 8);
		}
	}
	/* pb against pa on the samples both scored (pb's empty sample 7: HD95 NaN) */
	ms_paired p[8];
	for (int j = 0; j < 8; j++) {
		double a[N], b[N];
		size_t n = 0;
		for (int i = 0; i < N; i++)
			if (have[0][i] && have[1][i])
				a[n] = col[0][j][i], b[n++] = col[1][j][i];
		CHECK(n == N - 2);
		CHECK(ms_paired_compute(a, b, n, &p[j]) == 0);
	}
	static const char *prow[] = { "diff", "diff_lo95", "diff_hi95", "diff_n" };
	for (int r = 0; r < 4; r++) {
		for (int j = 0; j < 8; j++)
			want[j] = r == 0 ? p[j].diff : r == 1 ? p[j].lo : r == 2 ? p[j].hi
			          : (double)p[j].n;
		CHECK(row(text, "pb", prow[r], got));
		check_near(got, want, 8);
	}
	CHECK(row(text, "pb", "diff_n", got) && got[0] == N - 2 && got[6] == N - 3);
	CHECK(row(text, "pb", "diff_p", got) && fabs(got[0] - p[0].p) <= 1e-13 * fmax(1, p[0].p));
	CHECK(!row(text, "pa", "diff", got));
	/* sample 3 (no reference): one call, both scores counted; sample 5: one */
	CHECK(nskip_calls == 2);
	CHECK(sc->nskipped == 3 && sc->nsamples == N && sc->nrows == 2 * N - 3);
	ms_score_free(sc);
	free(text);
}

static void test_json_counts(void)
{
	char *text;
	ms_score *sc = score(1, &text);
	const char *head = "{\"mode\": \"masks\", \"preds\": [\"pa\", \"pb\"], \"samples\": [\n";
	CHECK(!strncmp(text, head, strlen(head)));
	CHECK(strstr(text, "\"paired\": {\"pb\": {\"against\": \"pa\", \"diff\": {") != NULL);
	CHECK(strstr(text, "}, \"scored\": 21, \"skipped\": 3}\n") != NULL);
	ms_score_free(sc);
	free(text);
}

static void test_empty(void)
{
	ms_score sc;
	ms_score_init(&sc);
	CHECK(ms_score_finish(&sc) == -1 && !strcmp(ms_errmsg(), "no sample in the input"));
	sc.mode = MS_SCORE_DIVERSITY, sc.want[0] = "synth";
	CHECK(ms_score_finish(&sc) == -1 &&
	      !strcmp(ms_errmsg(), "fewer than 2 'synth' images: no pair to compare"));
	ms_score_free(&sc);
}

int main(void)
{
	RUN(test_table);
	RUN(test_json_counts);
	RUN(test_empty);
	return test_summary("test_score");
}
