/* Command-line options from a declarative table (opt.h) on top of getopt_long. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/opt.h"
#include "core/rng.h"
#include "core/util.h"

enum { HELP_KEY = 1 << 16, LONG_KEY = 1 << 17 };   /* getopt values of long-only options */
enum { COL = 22 };                                  /* where --help's text starts */

static int count(const ms_opt *o)
{
	int n = 0;
	while (o[n].type != MS_OPT_T_END)
		n++;
	return n;
}

static const char *dash(const ms_opt *o, char *buf, size_t n)
{
	if (o->name)
		snprintf(buf, n, "--%s", o->name);
	else
		snprintf(buf, n, "-%c", o->key);
	return buf;
}

/* the value of option o from text s; -1 with the reason */
static int set(ms_opt *o, const char *s)
{
	char d[80];
	dash(o, d, sizeof d);
	switch (o->type) {
	case MS_OPT_T_FLAG:
		if (o->value)
			*(int *)o->value = 1;
		return 0;
	case MS_OPT_T_INT: {
		long v;
		long lo = o->lo <= -0x1p63 ? LONG_MIN : (long)o->lo,   /* LONG_MAX as a double */
		     hi = o->hi >= 0x1p63 ? LONG_MAX : (long)o->hi;    /* is 2^63 */
		if (ms_parse_int(s, lo, hi, &v) < 0)
			return ms_error("%s: %s", d, ms_errmsg());
		*(long *)o->value = v;
		return 0;
	}
	case MS_OPT_T_NUM: {
		double v;
		if (ms_parse_double(s, o->lo, o->hi, &v) < 0)
			return ms_error("%s: %s", d, ms_errmsg());
		*(double *)o->value = v;
		return 0;
	}
	case MS_OPT_T_STR:
		*(const char **)o->value = s;
		return 0;
	case MS_OPT_T_CHOICE: {
		char list[400] = "";
		for (int i = 0; o->choices[i]; i++) {
			if (!strcmp(s, o->choices[i])) {
				*(int *)o->value = i;
				return 0;
			}
			size_t l = strlen(list);
			snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", o->choices[i]);
		}
		return ms_error("%s: unknown value '%s' (%s)", d, s, list);
	}
	case MS_OPT_T_SIZE: {
		int *wh = o->value;
		if (ms_parse_size(s, &wh[0], &wh[1]) < 0)
			return ms_error("%s: %s", d, ms_errmsg());
		return 0;
	}
	case MS_OPT_T_SHARD:
		if (ms_shard_parse(s, o->value) < 0)
			return ms_error("%s: %s", d, ms_errmsg());
		return 0;
	case MS_OPT_T_CALL:
		if (o->call(s) < 0)
			return ms_error("%s: %s", d, ms_errmsg());
		return 0;
	}
	return ms_error("%s: bad option table entry", d);
}

int ms_opt_scan(ms_opt *opts, unsigned mode, int argc, char **argv)
{
	int n = count(opts), nl = 0, ret = -1;
	struct option *lo = calloc((size_t)n + 2, sizeof *lo);
	char *so = calloc((size_t)2 * n + 2, 1), *sp = so;
	if (!lo || !so) {
		ms_error("options: out of memory");
		goto out;
	}
	*sp++ = ':';                  /* ':' for a missing value, '?' for an unknown option */
	for (int i = 0; i < n; i++) {
		const ms_opt *o = &opts[i];
		int has = o->type != MS_OPT_T_FLAG;
		if (o->type == MS_OPT_T_GROUP)
			continue;
		if (o->key) {
			*sp++ = (char)o->key;
			if (has)
				*sp++ = ':';
		}
		if (o->name)
			lo[nl++] = (struct option){ o->name, has ? required_argument : no_argument, 0,
			                            o->key ? o->key : LONG_KEY + i };
	}
	lo[nl] = (struct option){ "help", no_argument, 0, HELP_KEY };
	opterr = 0;
	optind = 0;                   /* glibc: a full restart, for a second table */
	for (int c; (c = getopt_long(argc, argv, so, lo, NULL)) != -1;) {
		const char *arg = argv[optind - 1];
		if (c == HELP_KEY) {
			ret = MS_OPT_HELP;
			goto out;
		}
		if (c == '?' || c == ':') {
			char s[3] = { '-', (char)optopt, 0 };
			const char *what = optopt && optopt < LONG_KEY && strncmp(arg, "--", 2) ? s : arg;
			if (c == '?' && optopt && what == arg)      /* --flag=value */
				ms_error("option '%.*s' takes no value", (int)strcspn(what, "="), what);
			else if (c == '?')
				ms_error("unknown option '%.*s'", (int)strcspn(what, "="), what);
			else
				ms_error("option '%s' needs a value", what);
			goto out;
		}
		int i = c >= LONG_KEY ? c - LONG_KEY : -1;
		for (int j = 0; i < 0 && j < n; j++)
			if (opts[j].type != MS_OPT_T_GROUP && opts[j].key == c)
				i = j;
		const ms_opt *g = NULL;          /* the group it belongs to */
		for (int j = 0; j < i; j++)
			if (opts[j].type == MS_OPT_T_GROUP)
				g = &opts[j];
		if (g && g->modes && !(g->modes & mode)) {
			char d[80];
			ms_error("%s is for %s", dash(&opts[i], d, sizeof d), g->arg ? g->arg : g->name);
			goto out;
		}
		opts[i].given++;
		if (set(&opts[i], optarg) < 0)
			goto out;
	}
	ret = optind;
out:
	free(lo);
	free(so);
	return ret;
}

void ms_opt_help(const ms_opt *opts, const char *usage, const char *about)
{
	printf("usage: %s %s\n", argv0, usage);
	if (about && *about)
		printf("%s\n", about);
	for (const ms_opt *o = opts; o->type != MS_OPT_T_END; o++) {
		char left[200];
		int l;
		if (o->type == MS_OPT_T_GROUP) {
			printf("%s:\n", o->name);
			continue;
		}
		if (o->key && o->name)
			l = snprintf(left, sizeof left, "  -%c, --%s", o->key, o->name);
		else if (o->name)
			l = snprintf(left, sizeof left, "  --%s", o->name);
		else
			l = snprintf(left, sizeof left, "  -%c", o->key);
		if (o->arg) {
			l += snprintf(left + l, sizeof left - l, " %s", o->arg);
		} else if (o->type == MS_OPT_T_CHOICE) {
			for (int i = 0; o->choices[i] && l < (int)sizeof left - 2; i++)
				l += snprintf(left + l, sizeof left - l, "%c%s", i ? '|' : ' ',
				              o->choices[i]);
		}
		l = l < (int)sizeof left ? l : (int)sizeof left - 1;
		printf("%s%*s", left, l < COL ? COL - l : 2, "");
		for (const char *h = o->help ? o->help : ""; *h;) {
			size_t k = strcspn(h, "\n");
			printf("%.*s\n", (int)k, h);
			h += k;
			if (*h == '\n' && *++h)
				printf("%*s", COL, "");
		}
		if (!o->help || !*o->help)
			putchar('\n');
	}
}

ms_opt *ms_opt_find(ms_opt *opts, const char *name)
{
	for (ms_opt *o = opts; o->type != MS_OPT_T_END; o++)
		if (o->type != MS_OPT_T_GROUP && o->name && !strcmp(o->name, name))
			return o;
	return NULL;
}

int ms_opt_set(ms_opt *opts, const char *name, const char *text)
{
	ms_opt *o = ms_opt_find(opts, name);
	if (!o)
		return ms_error("no option --%s", name);
	return set(o, text);
}

int ms_opt_given(const ms_opt *opts, const char *name)
{
	const ms_opt *o = ms_opt_find((ms_opt *)opts, name);
	return o ? o->given : 0;
}

int ms_opt_parse(ms_opt *opts, const char *usage, const char *about, unsigned mode,
                 int argc, char **argv)
{
	int i = ms_opt_scan(opts, mode, argc, argv);
	if (i == MS_OPT_HELP) {
		ms_opt_help(opts, usage, about);
		exit(fshut(stdout, "<stdout>"));
	}
	if (i < 0)
		usage_error(usage, "%s", ms_errmsg());
	return i;
}
