/* ms-pick: select samples and records, rename records; headers only, payloads copied. */
#include <getopt.h>
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
static void names(list *l, const char *arg, const char *opt)
{
	char *s = estrdup(arg), *save;
	for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (!ms_name_valid(t))
			usage_error(usage, "%s: not a list of record names", opt);
		push(l, t);
	}
	free(s);
	sort(l);
}

/* "old=new,..." in the order given; the first rule for a name wins */
static void renames(const char *arg)
{
	char *s = estrdup(arg), *save;
	for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '=');
		if (!eq)
			usage_error(usage, "--rename: want OLD=NEW");
		*eq = '\0';
		if (!ms_name_valid(t) || !ms_name_valid(eq + 1))
			usage_error(usage, "--rename: not a valid record name");
		push(&from, t);
		push(&to, eq + 1);
	}
	free(s);
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

static long num(const char *s, long lo, const char *opt)
{
	long v;
	if (ms_parse_int(s, lo, LONG_MAX, &v) < 0)
		usage_error(usage, "%s: %s", opt, ms_errmsg());
	return v;
}

static void __attribute__((noreturn)) help(void)
{
	printf("usage: %s %s\n"
	       "Copy the selected samples and records of a stream; payloads are not decoded.\n"
	       "  -i, --ids FILE       only samples whose id is a line of FILE\n"
	       "  -x, --exclude FILE   no sample whose id is a line of FILE\n"
	       "  -s, --skip SKIP      skip the first SKIP samples (after -i, -x)\n"
	       "  -e, --every K        then keep every K-th sample, starting with the first\n"
	       "  -n, --count N        then stop after N samples\n"
	       "  -k, --keep NAMES     only records with these names\n"
	       "  -d, --drop NAMES     no record with these names\n"
	       "  -w, --with NAME      only samples that have a record NAME\n"
	       "  -W, --without NAME   only samples that have no record NAME\n"
	       "  --holdout F          only the samples ms-segment train --val-fraction F\n"
	       "                       holds out (by hash of id, or of= when set)\n"
	       "  --no-holdout F       only the others\n"
	       "  -r, --rename OLD=NEW,...  rename records (after -k, -d)\n",
	       argv0, usage);
	exit(0);
}

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
	static const struct option opts[] = {
		{ "count", required_argument, 0, 'n' }, { "skip", required_argument, 0, 's' },
		{ "every", required_argument, 0, 'e' }, { "keep", required_argument, 0, 'k' },
		{ "drop", required_argument, 0, 'd' },  { "rename", required_argument, 0, 'r' },
		{ "ids", required_argument, 0, 'i' },   { "exclude", required_argument, 0, 'x' },
		{ "with", required_argument, 0, 'w' },  { "without", required_argument, 0, 'W' },
		{ "holdout", required_argument, 0, 'H' },
		{ "no-holdout", required_argument, 0, 'O' },
		{ "help", no_argument, 0, 'h' },        { 0 }
	};
	int c;
	ms_setprog(argv);
	while ((c = getopt_long(argc, argv, "n:s:e:k:d:r:i:x:w:W:", opts, NULL)) != -1) {
		switch (c) {
		case 'n': count = num(optarg, 0, "--count"); break;
		case 's': skip = num(optarg, 0, "--skip"); break;
		case 'e': every = num(optarg, 1, "--every"); break;
		case 'k': names(&keep, optarg, "--keep"); use_keep = 1; break;
		case 'd': names(&drop, optarg, "--drop"); break;
		case 'r': renames(optarg); break;
		case 'i': read_ids(&ids, optarg); use_ids = 1; break;
		case 'x': read_ids(&xids, optarg); use_xids = 1; break;
		case 'w':
		case 'W':
			if (!ms_name_valid(optarg))
				usage_error(usage, "--with%s: '%s' is not a valid record name",
				            c == 'W' ? "out" : "", optarg);
			*(c == 'w' ? &with : &without) = optarg;
			break;
		case 'H':
		case 'O':
			if (holdout >= 0)
				usage_error(usage, "--holdout and --no-holdout: give one of them once");
			if (ms_parse_double(optarg, 0, 1, &holdout) < 0)
				usage_error(usage, "--%sholdout: %s", c == 'O' ? "no-" : "", ms_errmsg());
			holdout_in = c == 'H';
			break;
		case 'h': help();
		default: usage_die(usage);
		}
	}
	if (optind != argc)
		usage_die(usage);

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
