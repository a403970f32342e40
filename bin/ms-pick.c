/* ms-pick: select samples and records, rename records; headers only, payloads copied. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/ms.h"
#include "io/stream.h"

static const char usage[] =
	"[-n N] [-s SKIP] [-e K] [-k NAME,...] [-d NAME,...] [-r OLD=NEW,...]\n"
	"       [-i FILE] [-x FILE] [-w NAME] [-W NAME] [--holdout F | --no-holdout F]";

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

/* -s, -e, -n up to LONG_MAX, which a table entry's double range cannot hold */
static int skip_of(const char *s) { return ms_parse_int(s, 0, LONG_MAX, &skip); }
static int every_of(const char *s) { return ms_parse_int(s, 1, LONG_MAX, &every); }
static int count_of(const char *s) { return ms_parse_int(s, 0, LONG_MAX, &count); }

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
	MS_OPT_CALL("skip", 's', skip_of, "SKIP", "skip the first SKIP samples (after -i, -x)"),
	MS_OPT_CALL("every", 'e', every_of, "K",
	            "then keep every K-th sample, starting with the first"),
	MS_OPT_CALL("count", 'n', count_of, "N", "then stop after N samples"),
	MS_OPT_CALL("keep", 'k', keeps, "NAMES", "only records with these names"),
	MS_OPT_CALL("drop", 'd', drops, "NAMES", "no record with these names"),
	MS_OPT_CALL("with", 'w', with_of, "NAME", "only samples that have a record NAME"),
	MS_OPT_CALL("without", 'W', without_of, "NAME", "only samples that have no record NAME"),
	MS_OPT_NUM("holdout", 0, &holdout, 0, 1, "F",
	           "only the samples ms-segment train --val-fraction F\n"
	           "holds out (by hash of id, or of= when set)"),
	MS_OPT_NUM("no-holdout", 0, &no_holdout, 0, 1, "F", "only the others"),
	MS_OPT_CALL("rename", 'r', renames, "OLD=NEW,...", "rename records (after -k, -d)"),
	MS_OPT_END
};

/* the sample being read: head, it passes the filters known at its first record (-i, -x,
 * --holdout); take, it is written. With -w or -W its records go to memory (mem) until
 * its end decides; else they go straight out. i counts the samples that pass the
 * filters, kept those written. */
static int head, take, seen_with, seen_without;
static long i = -1, kept;
static FILE *mem;
static char *buf;
static size_t len;

/* -s, -e, -n: whether the next sample that passes the filters is written */
static int counted(void)
{
	i++;
	take = i >= skip && (i - skip) % every == 0;
	kept += take;
	return take;
}

/* the sample filters known at its first record: -i, -x, --holdout */
static int pass_head(const ms_rec *r, const char *id)
{
	char of[MS_META_MAX + 1];
	if ((use_ids && !has(&ids, id)) || (use_xids && has(&xids, id)))
		return 0;
	if (holdout >= 0) {
		const char *key = ms_meta_get(r, "of", of, sizeof of) ? of : id;
		return (ms_id_fraction(key) < holdout) == holdout_in;
	}
	return 1;
}

static void start_sample(const ms_rec *r, const char *id)
{
	head = pass_head(r, id);
	seen_with = seen_without = take = 0;
	if (head && !mem)
		counted();
}

/* -w, -W decide a buffered sample */
static void end_sample(void)
{
	if (fflush(mem))
		die("cannot buffer a sample:");
	if (head && (!with || seen_with) && !(without && seen_without) && counted() && len &&
	    fwrite(buf, 1, len, stdout) != len)
		die("cannot write <stdout>:");
	rewind(mem);
	len = 0;
}

/* copy record r to out, renamed, unless -k or -d leave it out */
static int put(FILE *in, ms_rec *r, FILE *out)
{
	if ((use_keep && !has(&keep, r->name)) || has(&drop, r->name))
		return ms_rec_skip(in, r);
	for (size_t k = 0; k < from.n; k++)
		if (!strcmp(r->name, from.v[k])) {
			strcpy(r->name, to.v[k]);   /* ms_rec_copy writes the header from r */
			break;
		}
	return ms_rec_copy(in, r, out);
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

	static char id[MS_META_MAX + 1], rid[MS_META_MAX + 1];
	int ret, open = 0;
	ms_rec r;
	ms_rec_init(&r);
	if ((with || without) && !(mem = open_memstream(&buf, &len)))
		die("cannot buffer a sample:");
	while ((ret = ms_rec_read_header(stdin, &r)) == 1) {
		ms_rec_id(&r, rid, sizeof rid);
		if (!open || strcmp(rid, id)) {
			if (open && mem)
				end_sample();
			if (kept == count)
				break;     /* N samples written: the rest is not read */
			open = 1;
			memcpy(id, rid, sizeof id);
			start_sample(&r, id);
		}
		seen_with |= with && !strcmp(r.name, with);
		seen_without |= without && !strcmp(r.name, without);
		if (mem ? head : take)
			ret = put(stdin, &r, mem ? mem : stdout);
		else
			ret = ms_rec_skip(stdin, &r);
		if (ret < 0)
			die("%s", ms_errmsg());
	}
	if (ret < 0)
		die("%s", ms_errmsg());
	if (open && mem && kept < count)
		end_sample();
	if (mem)
		fclose(mem);
	free(buf);
	ms_rec_free(&r);
	return fshut(stdout, "<stdout>");
}
