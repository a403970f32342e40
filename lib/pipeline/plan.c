/* YAML pipeline files (ms-pipeline(5)): substituting variables, splitting commands,
 * forming chains, checking file dependencies and ordering the chains. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"
#include "pipeline/internal.h"
#include "pipeline/pipeline.h"

/* ---- planning */
static const char *lookup_var(void *ctx, const char *name)
{
	ms_pipeline *p = ctx;
	for (size_t i = 0; i < p->nvars; i++) {
		if (strcmp(p->var_name[i].text, name))
			continue;
		if (p->var_set[i])
			return p->var_set[i];
		if (p->var_value[i].text)
			return p->var_value[i].text;
		ms_error("variable '%s' is not set (--set %s=VALUE)", name, name);
		return NULL;
	}
	ms_error("undefined variable '%s'", name);
	return NULL;
}

/* prefix the last message with the place of v and the stage */
static int at_stage(const ms_pipeline *p, const ms_stage *s, int line, int col)
{
	char msg[900];
	snprintf(msg, sizeof msg, "%s", ms_errmsg());
	return pl_at(p->file, line, col, "stage '%s': %s", s->name.text, msg);
}

/* a path with "./" components and repeated '/' removed, for comparing */
static char *path_subst(ms_pipeline *p, const ms_stage *s, const ms_pval *v)
{
	char *t = ms_subst(v->text, lookup_var, p);
	if (!t) {
		at_stage(p, s, v->line, v->col);
		return NULL;
	}
	if (!*t) {
		free(t);
		pl_at(p->file, v->line, v->col, "stage '%s': empty file name", s->name.text);
		return NULL;
	}
	char *o = t;
	for (const char *q = t; *q; ) {
		if ((q == t || q[-1] == '/') && q[0] == '.' && q[1] == '/' && q[2]) {
			q += 2;
			continue;
		}
		if (*q == '/' && o > t && o[-1] == '/') {
			q++;
			continue;
		}
		*o++ = *q++;
	}
	*o = 0;
	return t;
}

static int resolve(ms_pipeline *p, ms_stage *s)
{
	size_t n = 0;
	if (s->swap) {
		if (!(s->argv = ms_words_split(s->swap, lookup_var, p))) {
			char msg[900];
			snprintf(msg, sizeof msg, "%s", ms_errmsg());
			return ms_error("--swap %s: %s", s->name.text, msg);
		}
	} else if (s->run_list) {
		for (size_t i = 0; i < s->nargs; i++) {
			char *a = ms_subst(s->args[i].text, lookup_var, p);
			if (!a)
				return at_stage(p, s, s->args[i].line, s->args[i].col);
			if (pl_push(&s->argv, &n, a) < 0)
				return -1;
		}
	} else if (!(s->argv = ms_words_split(s->run.text, lookup_var, p))) {
		return at_stage(p, s, s->run.line, s->run.col);
	}
	if (!s->argv[0] || !*s->argv[0]) {
		const char *what = s->argv[0] ? "program name" : "run";
		if (s->swap)
			return ms_error("--swap %s: empty %s", s->name.text, what);
		return pl_at(p->file, s->run.line, s->run.col, "stage '%s' has an empty %s",
		          s->name.text, what);
	}
	if (s->input.text && !(s->in = path_subst(p, s, &s->input)))
		return -1;
	if (s->output.text && !(s->out = path_subst(p, s, &s->output)))
		return -1;
	n = 0;
	if (!(s->need = ms_calloc(1, sizeof *s->need)) ||
	    !(s->write = ms_calloc(1, sizeof *s->write)))
		return -1;
	for (size_t i = 0; i < s->nneeds; i++)
		if (pl_push(&s->need, &n, path_subst(p, s, &s->needs[i])) < 0)
			return -1;
	n = 0;
	for (size_t i = 0; i < s->nwrites; i++)
		if (pl_push(&s->write, &n, path_subst(p, s, &s->writes[i])) < 0)
			return -1;
	return 0;
}

/* the stage writing path (output: or writes:), selected or any; NULL if none */
static ms_stage *writer(ms_pipeline *p, const char *path, int selected, const ms_pval **at_)
{
	for (size_t i = 0; i < p->nstages; i++) {
		ms_stage *s = &p->stage[i];
		if (selected && !s->selected)
			continue;
		if (s->out && !strcmp(s->out, path)) {
			*at_ = &s->output;
			return s;
		}
		for (size_t k = 0; s->write && s->write[k]; k++)
			if (!strcmp(s->write[k], path)) {
				*at_ = &s->writes[k];
				return s;
			}
	}
	return NULL;
}

/* every file written by one stage only */
static int check_writers(ms_pipeline *p)
{
	for (size_t i = 0; i < p->nstages; i++) {
		ms_stage *s = &p->stage[i];
		for (size_t k = 0; s->write && k <= s->nwrites; k++) {
			const char *f = k < s->nwrites ? s->write[k] : s->out;
			const ms_pval *v = k < s->nwrites ? &s->writes[k] : &s->output, *w;
			ms_stage *o = f ? writer(p, f, 0, &w) : NULL;
			if (o && w != v)
				return pl_at(p->file, v->line, v->col, "%s is also written by stage '%s'", f,
				          o->name.text);
		}
	}
	return 0;
}

/* dependency edge: chain `to` reads path (at *v, by stage reader) written by chain `from` */
typedef struct {
	int reader, writer;
	const char *path;
	const ms_pval *v;
} edge;

static int cycle_error(ms_pipeline *p, const edge *e, const int *done)
{
	int nc = (int)p->nchains, c = 0, *seen = ms_calloc((size_t)nc, sizeof *seen);
	char msg[800] = "";
	if (!seen)
		return -1;
	while (done[c])
		c++;
	/* walk backwards along unfinished edges until a chain repeats */
	for (int step = 1; !seen[c]; step++) {
		seen[c] = step;
		int f = 0;
		while (done[f] || e[f * nc + c].reader < 0)
			f++;
		c = f;
	}
	const edge *first = NULL;
	int start = c;
	do {
		int f = 0;
		while (done[f] || e[f * nc + c].reader < 0)
			f++;
		const edge *x = &e[f * nc + c];
		size_t len = strlen(msg);
		snprintf(msg + len, sizeof msg - len, "%sstage '%s' reads %s from stage '%s'",
		         len ? ", " : "", p->stage[x->reader].name.text, x->path,
		         p->stage[x->writer].name.text);
		if (!first)
			first = x;
		c = f;
	} while (c != start);
	free(seen);
	return pl_at(p->file, first->v->line, first->v->col, "cycle in file dependencies: %s", msg);
}

/* chain dependencies from inputs and needs; missing files; the run order */
static int plan_order(ms_pipeline *p, int check_files)
{
	int nc = (int)p->nchains, ret = -1;
	edge *e = ms_calloc((size_t)nc * (size_t)nc, sizeof *e);
	int *done = ms_calloc((size_t)nc, sizeof *done);
	if (!e || !done)
		goto out;
	for (int i = 0; i < nc * nc; i++)
		e[i].reader = -1;
	for (size_t i = 0; i < p->nstages; i++) {
		ms_stage *s = &p->stage[i];
		if (!s->selected)
			continue;
		for (size_t k = 0; k <= s->nneeds; k++) {
			const char *f = k < s->nneeds ? s->need[k] : s->in;
			const ms_pval *v = k < s->nneeds ? &s->needs[k] : &s->input, *w;
			if (!f)
				continue;
			ms_stage *o = writer(p, f, 1, &w);
			if (o && o->chain == s->chain) {
				pl_at(p->file, v->line, v->col, "stage '%s' reads %s, which %s writes", s->name.text,
				   f, o == s ? "it" : "its own chain");
				goto out;
			}
			if (o) {
				edge *x = &e[o->chain * nc + s->chain];
				*x = (edge){ (int)i, (int)(o - p->stage), f, v };
				continue;
			}
			if (!check_files || access(f, F_OK) == 0)
				continue;
			o = writer(p, f, 0, &w);
			if (o)
				pl_at(p->file, v->line, v->col, "stage '%s': %s does not exist (written by "
				   "stage '%s', which is not selected)", s->name.text, f, o->name.text);
			else
				pl_at(p->file, v->line, v->col, "stage '%s': %s does not exist and no stage "
				   "writes it", s->name.text, f);
			goto out;
		}
	}
	/* Kahn's algorithm, lowest index first: file order where dependencies allow */
	for (int k = 0; k < nc; k++) {
		int c = 0;
		for (; c < nc; c++) {
			if (done[c])
				continue;
			int ready = 1;
			for (int f = 0; f < nc && ready; f++)
				ready = done[f] || e[f * nc + c].reader < 0;
			if (ready)
				break;
		}
		if (c == nc) {
			cycle_error(p, e, done);
			goto out;
		}
		done[c] = 1;
		p->order[k] = c;
	}
	ret = 0;
out:
	free(e);
	free(done);
	return ret;
}

int ms_pipeline_plan(ms_pipeline *p, int check_files)
{
	int first = -1;
	for (size_t i = 0; i < p->nstages; i++) {
		ms_stage *s = &p->stage[i];
		if (!p->only)
			s->selected = 1;
		if (resolve(p, s) < 0) {
			if (s->selected)
				return -1;
			pl_unresolve(s);   /* a stage not run may use variables not set */
		}
	}
	if (check_writers(p) < 0)
		return -1;
	if (!(p->chain = ms_calloc(p->nstages, sizeof *p->chain)) ||
	    !(p->order = ms_calloc(p->nstages, sizeof *p->order)))
		return -1;
	p->nchains = 0;
	for (size_t i = 0; i < p->nstages; i++) {
		ms_stage *s = &p->stage[i], *prev = i ? s - 1 : NULL;
		if (!s->selected)
			continue;
		int piped = prev && !prev->out && !s->in;   /* in the full pipeline */
		if (piped && prev->selected) {
			p->chain[p->nchains - 1].last = (int)i;
			s->chain = (int)p->nchains - 1;
			continue;
		}
		if (piped && first >= 0)
			return pl_at(p->file, s->line, s->col, "--only: stage '%s' reads the output of "
			          "stage '%s', which is not selected", s->name.text, prev->name.text);
		if (first < 0) {
			first = (int)i;
			s->stdin_ = !s->in;
		}
		s->chain = (int)p->nchains;
		p->chain[p->nchains++] = (ms_chain){ (int)i, (int)i };
	}
	return plan_order(p, check_files);
}
