/* ms-pick: select samples and records, rename records; payloads copied as stored. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/ms.h"
#include "io/sample.h"
#include "io/stream.h"

static const char usage[] =
	"[-n N] [-s SKIP] [-e K] [-k NAME,...] [-d NAME,...] [-r OLD=NEW,...]\n"
	"       [-i FILE] [-x FILE] [-w NAME] [-W NAME] [--holdout F | --no-holdout F]\n"
	"       [--shard K/N]";

typedef struct {
	char **v;
	size_t n;
} list;

static long count = LONG_MAX, skip, every = 1;
static list keep, drop, from, to, ids, xids;
static int use_keep, use_ids, use_xids;
static const char *with, *without;   /* -w, -W: decided at the end of a sample */
static double holdout = -1;          /* --holdout F: ids below F; --no-holdout: the others */
static double no_holdout;
static int holdout_in;
static ms_shard shard;                /* --shard K/N */

static void push(list *l, const char *s)
{
	l->v = ereallocarray(l->v, l->n + 1, sizeof *l->v);
	l->v[l->n++] = estrdup(s);
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sort(list *l)
{
	if (l->n)
		qsort(l->v, l->n, sizeof *l->v, cmp);
}

static int has(const list *l, const char *s)
{
	return l->n && bsearch(&s, l->v, l->n, sizeof *l->v, cmp);
}

/* "a,b,c" into a sorted list of record names */
static int names(list *l, const char *arg)
{
	char *s = estrdup(arg), *save;
	for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (!ms_name_valid(t)) {
			free(s);
			return ms_error("not a list of record names");
		}
		push(l, t);
	}
	free(s);
	sort(l);
	return 0;
}

static int keeps(const char *arg) { use_keep = 1; return names(&keep, arg); }
static int drops(const char *arg) { return names(&drop, arg); }

/* "old=new,..." in the order given; the first rule for a name wins */
static int renames(const char *arg)
{
	char *s = estrdup(arg), *save;
	int ret = 0;
	for (char *t = strtok_r(s, ",", &save); t && !ret; t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '=');
		if (eq)
			*eq = '\0';
		if (!eq) {
			ret = ms_error("want OLD=NEW");
		} else if (!ms_name_valid(t) || !ms_name_valid(eq + 1)) {
			ret = ms_error("not a valid record name");
		} else {
			push(&from, t);
			push(&to, eq + 1);
		}
	}
	free(s);
	return ret;
}

/* one id a line; empty lines and a final carriage return are ignored */
static void read_ids(list *l, const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	if (!f)
		die("cannot open %s:", path);
	while ((len = getline(&line, &cap, f)) > 0) {
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len)
			push(l, line);
	}
	if (ferror(f))
		die("cannot read %s:", path);
	free(line);
	fclose(f);
	sort(l);
}

static int ids_of(const char *path) { use_ids = 1; read_ids(&ids, path); return 0; }
static int xids_of(const char *path) { use_xids = 1; read_ids(&xids, path); return 0; }


/* -w, -W: a record name */
static int name_of(const char *s, const char **to)
{
	if (!ms_name_valid(s))
		return ms_error("'%s' is not a valid record name", s);
	*to = s;
	return 0;
}
static int with_of(const char *s) { return name_of(s, &with); }
static int without_of(const char *s) { return name_of(s, &without); }

static ms_opt opts[] = {
	MS_OPT_CALL("ids", 'i', ids_of, "FILE", "only samples whose id is a line of FILE"),
	MS_OPT_CALL("exclude", 'x', xids_of, "FILE", "no sample whose id is a line of FILE"),
	MS_OPT_INT("skip", 's', &skip, 0, LONG_MAX, "SKIP", "skip the first SKIP samples (after -i, -x)"),
	MS_OPT_INT("every", 'e', &every, 1, LONG_MAX, "K",
	            "then keep every K-th sample, starting with the first"),
	MS_OPT_INT("count", 'n', &count, 0, LONG_MAX, "N", "then stop after N samples"),
	MS_OPT_CALL("keep", 'k', keeps, "NAMES", "only records with these names"),
	MS_OPT_CALL("drop", 'd', drops, "NAMES", "no record with these names"),
	MS_OPT_CALL("with", 'w', with_of, "NAME", "only samples that have a record NAME"),
	MS_OPT_CALL("without", 'W', without_of, "NAME", "only samples that have no record NAME"),
	MS_OPT_NUM("holdout", 0, &holdout, 0, 1, "F",
	           "only the samples ms-segment train --val-fraction F\n"
	           "holds out (by hash of id, or of= when set)"),
	MS_OPT_NUM("no-holdout", 0, &no_holdout, 0, 1, "F", "only the others"),
	MS_OPT_CALL("rename", 'r', renames, "OLD=NEW,...", "rename records (after -k, -d)"),
	MS_OPT_SHARD(&shard),
	MS_OPT_END
};

/* samples that pass the filters are numbered i; kept counts those written */
static long i = -1, kept;

/* -s, -e, -n: whether the next sample that passes the filters is written */
static int counted(void)
{
	i++;
	int take = i >= skip && (i - skip) % every == 0;
	kept += take;
	return take;
}

/* the sample filters: -i, -x, --holdout (of= of its first record), --shard, -w, -W */
static int pass(const ms_sample *s)
{
	char of[MS_META_MAX + 1];
	if ((use_ids && !has(&ids, s->id)) || (use_xids && has(&xids, s->id)) ||
	    !ms_shard_has(&shard, s->id))
		return 0;
	if (holdout >= 0) {
		const char *key = ms_meta_get(&s->rec[0], "of", of, sizeof of) ? of : s->id;
		if ((ms_id_fraction(key) < holdout) != holdout_in)
			return 0;
	}
	/* ms_sample_find: -1 if none, -2 if more than one */
	return (!with || ms_sample_find(s, with) != -1) &&
	       (!without || ms_sample_find(s, without) == -1);
}

/* writes the records of s that -k and -d leave, renamed, if the sample is selected */
static void pick(ms_sample *s)
{
	if (!s->n || !pass(s) || !counted())
		return;
	for (int k = s->n - 1; k >= 0; k--)
		if ((use_keep && !has(&keep, s->rec[k].name)) || has(&drop, s->rec[k].name))
			ms_sample_drop(s, k);
	for (int k = 0; k < s->n; k++)
		for (size_t j = 0; j < from.n; j++)
			if (!strcmp(s->rec[k].name, from.v[j])) {
				ms_rec_set_name(&s->rec[k], to.v[j]);   /* payload still as read */
				break;
			}
	if (ms_sample_write(stdout, s) < 0)
		die("%s", ms_errmsg());
}

int main(int argc, char **argv)
{
	ms_setprog(argv);
	if (ms_opt_parse(opts, usage, "Copy the selected samples and records of a stream; "
	                 "payloads are not decoded.", 0, argc, argv) != argc)
		usage_die(usage);
	holdout_in = ms_opt_given(opts, "holdout");
	if (holdout_in + ms_opt_given(opts, "no-holdout") > 1)
		usage_error(usage, "--holdout and --no-holdout: give one of them once");
	if (!holdout_in && ms_opt_given(opts, "no-holdout"))
		holdout = no_holdout;

	ms_reader rd;
	ms_sample s;
	int ret = 0;
	ms_reader_init(&rd, stdin, "<stdin>");
	ms_sample_init(&s);
	while (kept < count && (ret = ms_sample_next(&rd, &s)) == 1)
		pick(&s);     /* N samples written: the rest is not read */
	if (ret < 0) {
		char *why = estrdup(ms_errmsg());
		if (!with && !without)
			pick(&s);   /* the records read before the error */
		die("%s", why);
	}
	ms_sample_free(&s);
	ms_reader_free(&rd);
	return fshut(stdout, "<stdout>");
}
