/* YAML pipeline files (ms-pipeline(5)): parsing with libyaml into an ms_pipeline,
 * freeing it, and the command-line edits (--set, --swap, --only). */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "core/util.h"
#include "pipeline/internal.h"
#include "pipeline/pipeline.h"

/* ---- parsing */
typedef struct {
	ms_pipeline *p;
	yaml_document_t *doc;
} loader;

/* "file:line:col: message" at node n */
int pl_at(const char *file, int line, int col, const char *fmt, ...)
{
	char msg[900];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return ms_error("%s:%d:%d: %s", file, line, col, msg);
}

#define AT(l, n, ...) pl_at((l)->p->file, (int)(n)->start_mark.line + 1, \
                         (int)(n)->start_mark.column + 1, __VA_ARGS__)

static int is_null(const yaml_node_t *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	for (int i = 0; nulls[i]; i++)
		if (!strcmp((const char *)n->data.scalar.value, nulls[i]))
			return 1;
	return 0;
}

static int scalar(loader *l, yaml_node_t *n, const char *what, ms_pval *out)
{
	if (n->type != YAML_SCALAR_NODE)
		return AT(l, n, "%s must be a string", what);
	if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length)
		return AT(l, n, "%s contains a NUL byte", what);
	if (!(out->text = ms_strdup((const char *)n->data.scalar.value)))
		return -1;
	out->line = (int)n->start_mark.line + 1;
	out->col = (int)n->start_mark.column + 1;
	return 0;
}

/* a sequence of strings (or one string) */
static int scalars(loader *l, yaml_node_t *n, const char *what, ms_pval **v, size_t *nv)
{
	if (n->type == YAML_SCALAR_NODE) {
		if (!(*v = ms_calloc(1, sizeof **v)))
			return -1;
		*nv = 1;
		return scalar(l, n, what, *v);
	}
	if (n->type != YAML_SEQUENCE_NODE)
		return AT(l, n, "%s must be a list of strings", what);
	size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (!(*v = ms_calloc(cnt, sizeof **v)))
		return -1;
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_t *it = yaml_document_get_node(l->doc, n->data.sequence.items.start[i]);
		if (scalar(l, it, what, &(*v)[i]) < 0)
			return -1;
		(*nv)++;
	}
	return 0;
}

/* the key of each pair of mapping n, checking kinds and duplicates; calls
 * fn(l, key, value, arg) for each */
typedef int (*pair_fn)(loader *l, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg);

static int mapping(loader *l, yaml_node_t *n, const char *what, pair_fn fn, void *arg)
{
	if (n->type != YAML_MAPPING_NODE)
		return AT(l, n, "%s must be a mapping", what);
	yaml_node_pair_t *a = n->data.mapping.pairs.start, *z = n->data.mapping.pairs.top;
	for (yaml_node_pair_t *pr = a; pr < z; pr++) {
		yaml_node_t *k = yaml_document_get_node(l->doc, pr->key);
		yaml_node_t *v = yaml_document_get_node(l->doc, pr->value);
		if (k->type != YAML_SCALAR_NODE)
			return AT(l, k, "keys of %s must be strings", what);
		const char *key = (const char *)k->data.scalar.value;
		for (yaml_node_pair_t *q = a; q < pr; q++)
			if (!strcmp(key, (const char *)yaml_document_get_node(l->doc,
			             q->key)->data.scalar.value))
				return AT(l, k, "duplicate key '%s' in %s", key, what);
		if (fn(l, key, k, v, arg) < 0)
			return -1;
	}
	return 0;
}

static int stage_name_ok(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!pl_safe_char((unsigned char)*s) || strchr(",:+=@%/", *s))
			return 0;
	return 1;
}

static int stage_pair(loader *l, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	ms_stage *s = arg;
	if (!strcmp(key, "name")) {
		if (scalar(l, v, "a stage name", &s->name) < 0)
			return -1;
		if (!stage_name_ok(s->name.text))
			return AT(l, v, "bad stage name '%s' (letters, digits, '_', '-', '.')",
			          s->name.text);
		return 0;
	}
	if (!strcmp(key, "run")) {
		if (v->type == YAML_SEQUENCE_NODE) {
			s->run_list = 1;
			s->run.line = (int)v->start_mark.line + 1;
			s->run.col = (int)v->start_mark.column + 1;
			return scalars(l, v, "run", &s->args, &s->nargs);
		}
		return scalar(l, v, "run", &s->run);
	}
	if (!strcmp(key, "input"))
		return scalar(l, v, "input", &s->input);
	if (!strcmp(key, "output"))
		return scalar(l, v, "output", &s->output);
	if (!strcmp(key, "needs"))
		return scalars(l, v, "needs", &s->needs, &s->nneeds);
	if (!strcmp(key, "writes"))
		return scalars(l, v, "writes", &s->writes, &s->nwrites);
	if (!strcmp(key, "description"))
		return v->type == YAML_SCALAR_NODE ? 0 : AT(l, v, "description must be a string");
	return AT(l, k, "unknown key '%s' in a stage", key);
}

static int var_pair(loader *l, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	ms_pipeline *p = l->p;
	size_t i = p->nvars;
	(void)arg;
	if (!pl_is_name(key, strlen(key)))
		return AT(l, k, "bad variable name '%s'", key);
	if (scalar(l, k, "a variable name", &p->var_name[i]) < 0)
		return -1;
	p->nvars++;
	if (is_null(v))
		return 0;
	return scalar(l, v, "a variable's value", &p->var_value[i]);
}

static int root_pair(loader *l, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	ms_pipeline *p = l->p;
	(void)arg;
	if (!strcmp(key, "name"))
		return scalar(l, v, "name", &p->name);
	if (!strcmp(key, "description"))
		return scalar(l, v, "description", &p->description);
	if (!strcmp(key, "vars")) {
		size_t cnt = v->type == YAML_MAPPING_NODE ?
			(size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start) : 0;
		if (!(p->var_name = ms_calloc(cnt, sizeof *p->var_name)) ||
		    !(p->var_value = ms_calloc(cnt, sizeof *p->var_value)) ||
		    !(p->var_set = ms_calloc(cnt, sizeof *p->var_set)))
			return -1;
		return mapping(l, v, "vars", var_pair, NULL);
	}
	if (!strcmp(key, "stages")) {
		if (v->type != YAML_SEQUENCE_NODE)
			return AT(l, v, "stages must be a list of stages");
		size_t cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
		if (cnt == 0)
			return AT(l, v, "stages is empty");
		if (!(p->stage = ms_calloc(cnt, sizeof *p->stage)))
			return -1;
		for (size_t i = 0; i < cnt; i++) {
			yaml_node_t *n = yaml_document_get_node(l->doc, v->data.sequence.items.start[i]);
			ms_stage *s = &p->stage[i];
			s->line = (int)n->start_mark.line + 1;
			s->col = (int)n->start_mark.column + 1;
			p->nstages++;
			if (mapping(l, n, "a stage", stage_pair, s) < 0)
				return -1;
			if (!s->name.text)
				return AT(l, n, "stage %zu has no name", i + 1);
			if (!s->run.text && !s->run_list)
				return AT(l, n, "stage '%s' has no run", s->name.text);
			if (s->run_list && !s->nargs)
				return pl_at(p->file, s->run.line, s->run.col, "stage '%s' has an empty run",
				          s->name.text);
			for (size_t j = 0; j < i; j++)
				if (!strcmp(p->stage[j].name.text, s->name.text))
					return AT(l, n, "duplicate stage name '%s' (also at line %d)",
					          s->name.text, p->stage[j].line);
		}
		return 0;
	}
	return AT(l, k, "unknown key '%s'", key);
}

static int parser_error(const yaml_parser_t *ps, const char *file)
{
	const char *what = ps->problem ? ps->problem : "syntax error";
	if (ps->error == YAML_MEMORY_ERROR)
		return ms_error("%s: out of memory", file);
	if (ps->error == YAML_READER_ERROR)
		return ms_error("%s: %s at byte %zu", file, what, ps->problem_offset);
	if (ps->context)
		return ms_error("%s:%zu:%zu: %s %s at %zu:%zu", file, ps->problem_mark.line + 1,
		                ps->problem_mark.column + 1, what, ps->context,
		                ps->context_mark.line + 1, ps->context_mark.column + 1);
	return ms_error("%s:%zu:%zu: %s", file, ps->problem_mark.line + 1,
	                ps->problem_mark.column + 1, what);
}

ms_pipeline *ms_pipeline_parse(const char *file, const char *text, size_t len)
{
	yaml_parser_t ps;
	yaml_document_t doc, doc2;
	ms_pipeline *p = ms_calloc(1, sizeof *p);
	int ret = -1;
	if (!p || !(p->file = ms_strdup(file))) {
		free(p);
		return NULL;
	}
	if (!yaml_parser_initialize(&ps)) {
		ms_error("out of memory");
		ms_pipeline_free(p);
		return NULL;
	}
	yaml_parser_set_input_string(&ps, (const unsigned char *)text, len);
	if (!yaml_parser_load(&ps, &doc)) {
		parser_error(&ps, file);
		goto done;
	}
	loader l = { p, &doc };
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (!root)
		ms_error("%s: empty pipeline file", file);
	else if (mapping(&l, root, "a pipeline", root_pair, NULL) == 0) {
		if (!p->name.text)
			AT(&l, root, "the pipeline has no name");
		else if (!p->nstages)
			AT(&l, root, "the pipeline has no stages");
		else if (!yaml_parser_load(&ps, &doc2))
			parser_error(&ps, file);
		else {
			yaml_node_t *r2 = yaml_document_get_root_node(&doc2);
			if (r2)
				pl_at(file, (int)r2->start_mark.line + 1, (int)r2->start_mark.column + 1,
				   "more than one YAML document");
			else
				ret = 0;
			yaml_document_delete(&doc2);
		}
	}
	yaml_document_delete(&doc);
done:
	yaml_parser_delete(&ps);
	if (ret < 0) {
		ms_pipeline_free(p);
		return NULL;
	}
	return p;
}

ms_pipeline *ms_pipeline_load(const char *file)
{
	FILE *f = fopen(file, "rb");
	sbuf b = { 0 };
	char buf[8192];
	size_t n;
	if (!f) {
		ms_error("cannot open %s:", file);
		return NULL;
	}
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		pl_sb_add(&b, buf, n);
	if (ferror(f)) {
		ms_error("cannot read %s:", file);
		fclose(f);
		free(b.s);
		return NULL;
	}
	fclose(f);
	size_t len = b.n;
	char *text = pl_sb_done(&b);
	ms_pipeline *p = text ? ms_pipeline_parse(file, text, len) : NULL;
	free(text);
	return p;
}

static void pvals_free(ms_pval *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].text);
	free(v);
}

void pl_unresolve(ms_stage *s)
{
	ms_words_free(s->argv);
	free(s->in);
	free(s->out);
	ms_words_free(s->need);
	ms_words_free(s->write);
	s->argv = s->need = s->write = NULL;
	s->in = s->out = NULL;
}

void ms_pipeline_free(ms_pipeline *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nstages; i++) {
		ms_stage *s = &p->stage[i];
		free(s->name.text);
		free(s->run.text);
		pvals_free(s->args, s->nargs);
		free(s->input.text);
		free(s->output.text);
		pvals_free(s->needs, s->nneeds);
		pvals_free(s->writes, s->nwrites);
		free(s->swap);
		pl_unresolve(s);
	}
	for (size_t i = 0; i < p->nvars; i++)
		free(p->var_set[i]);
	pvals_free(p->var_name, p->nvars);
	pvals_free(p->var_value, p->nvars);
	free(p->var_set);
	free(p->stage);
	free(p->name.text);
	free(p->description.text);
	free(p->chain);
	free(p->order);
	free(p->file);
	free(p);
}

/* ---- command-line edits */
static ms_stage *find_stage(ms_pipeline *p, const char *name, size_t n)
{
	for (size_t i = 0; i < p->nstages; i++)
		if (strlen(p->stage[i].name.text) == n && !strncmp(p->stage[i].name.text, name, n))
			return &p->stage[i];
	return NULL;
}

int ms_pipeline_set(ms_pipeline *p, const char *assign)
{
	const char *eq = strchr(assign, '=');
	if (!eq)
		return ms_error("--set %s: expected VAR=VALUE", assign);
	size_t n = (size_t)(eq - assign);
	for (size_t i = 0; i < p->nvars; i++) {
		if (strlen(p->var_name[i].text) == n && !strncmp(p->var_name[i].text, assign, n)) {
			char *v = ms_strdup(eq + 1);
			if (!v)
				return -1;
			free(p->var_set[i]);
			p->var_set[i] = v;
			return 0;
		}
	}
	return ms_error("--set: %s has no variable '%.*s'", p->file, (int)n, assign);
}

int ms_pipeline_swap(ms_pipeline *p, const char *assign)
{
	const char *eq = strchr(assign, '=');
	if (!eq)
		return ms_error("--swap %s: expected STAGE=COMMAND", assign);
	ms_stage *s = find_stage(p, assign, (size_t)(eq - assign));
	if (!s)
		return ms_error("--swap: %s has no stage '%.*s'", p->file, (int)(eq - assign), assign);
	if (s->swap)
		return ms_error("--swap: stage '%s' swapped twice", s->name.text);
	return (s->swap = ms_strdup(eq + 1)) ? 0 : -1;
}

int ms_pipeline_only(ms_pipeline *p, const char *names)
{
	p->only = 1;
	for (const char *a = names;; ) {
		size_t n = strcspn(a, ",");
		ms_stage *s = find_stage(p, a, n);
		if (!s)
			return ms_error("--only: %s has no stage '%.*s'", p->file, (int)n, a);
		s->selected = 1;
		if (!a[n])
			return 0;
		a += n + 1;
	}
}
