/* YAML pipeline files (ms-pipeline(5)): parse with libyaml, substitute ${var},
 * split commands without a shell, plan chains and file dependencies, print the
 * equivalent sh commands, run the chains with fork/exec and pipes. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <yaml.h>

#include "core/ms.h"
#include "pipeline/pipeline.h"

/* ---- growing strings */
typedef struct {
	char *s;
	size_t n, cap;
	int bad;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
	if (b->bad)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 32;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *q = realloc(b->s, cap);
		if (!q) {
			b->bad = 1;
			return;
		}
		b->s = q;
		b->cap = cap;
	}
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = 0;
}

static void sb_c(sbuf *b, char c) { sb_add(b, &c, 1); }
static void sb_s(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

/* the string (owned by the caller), or NULL + ms_error; b is reset */
static char *sb_done(sbuf *b)
{
	char *s = b->s;
	int bad = b->bad;
	*b = (sbuf){ 0 };
	if (bad) {
		free(s);
		ms_error("out of memory");
		return NULL;
	}
	return s ? s : ms_strdup("");
}

/* append to a NULL-terminated array of strings; takes s (freed on failure) */
static int push(char ***v, size_t *n, char *s)
{
	char **q = s ? ms_reallocarray(*v, *n + 2, sizeof *q) : NULL;
	if (!q) {
		free(s);
		return -1;
	}
	q[(*n)++] = s;
	q[*n] = NULL;
	*v = q;
	return 0;
}

void ms_words_free(char **w)
{
	for (size_t i = 0; w && w[i]; i++)
		free(w[i]);
	free(w);
}

/* ---- substitution */
static int is_name(const char *s, size_t n)
{
	if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

/* at a '$': "$${" -> "${", "${name}" -> its value; 1 when neither (a literal
 * '$'), 0 when done (*pp advanced), -1 on error */
static int expand(const char **pp, sbuf *b, ms_lookup_fn lookup, void *ctx)
{
	const char *p = *pp;
	char name[128];
	if (p[1] == '$' && p[2] == '{') {
		sb_s(b, "${");
		*pp = p + 3;
		return 0;
	}
	if (p[1] != '{')
		return 1;
	const char *end = strchr(p + 2, '}');
	if (!end)
		return ms_error("unterminated '${'");
	size_t n = (size_t)(end - (p + 2));
	if (!is_name(p + 2, n) || n >= sizeof name)
		return ms_error("bad variable name '%.*s'", (int)n, p + 2);
	memcpy(name, p + 2, n);
	name[n] = 0;
	const char *v = lookup(ctx, name);
	if (!v)
		return -1;
	sb_s(b, v);
	*pp = end + 1;
	return 0;
}

char *ms_subst(const char *s, ms_lookup_fn lookup, void *ctx)
{
	sbuf b = { 0 };
	for (const char *p = s; *p;) {
		if (p[0] == '\\' && p[1] == '$' && p[2] == '{') {
			sb_s(&b, "${");
			p += 3;
			continue;
		}
		if (*p == '$' && lookup) {
			int r = expand(&p, &b, lookup, ctx);
			if (r < 0) {
				free(b.s);
				return NULL;
			}
			if (r == 0)
				continue;
		}
		sb_c(&b, *p++);
	}
	return sb_done(&b);
}

/* ---- splitting like sh, without expansions other than ${var} */
char **ms_words_split(const char *s, ms_lookup_fn lookup, void *ctx)
{
	char **w = NULL;
	size_t n = 0;
	sbuf b = { 0 };
	int inword = 0;
	const char *p = s;
	if (!(w = ms_calloc(1, sizeof *w)))
		return NULL;
	for (;;) {
		char c = *p;
		if (c == 0 || c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			if (inword && push(&w, &n, sb_done(&b)) < 0)
				goto fail;
			inword = 0;
			if (!c)
				return w;
			p++;
			continue;
		}
		if (c == '\\' && p[1] == '\n') {   /* line continuation */
			p += 2;
			continue;
		}
		inword = 1;
		if (c == '\\') {
			if (!p[1]) {
				ms_error("trailing backslash");
				goto fail;
			}
			sb_c(&b, p[1]);
			p += 2;
		} else if (c == '\'' || c == '"') {
			for (p++; *p != c; ) {
				if (!*p) {
					ms_error("unterminated %s quote", c == '"' ? "double" : "single");
					goto fail;
				}
				if (c == '"' && *p == '\\' && p[1] && strchr("$`\"\\\n", p[1])) {
					if (p[1] != '\n')
						sb_c(&b, p[1]);
					p += 2;
					continue;
				}
				if (*p == '$' && lookup) {
					int r = expand(&p, &b, lookup, ctx);
					if (r < 0)
						goto fail;
					if (r == 0)
						continue;
				}
				sb_c(&b, *p++);
			}
			p++;
		} else if (c == '$' && lookup) {
			int r = expand(&p, &b, lookup, ctx);
			if (r < 0)
				goto fail;
			if (r == 1)
				sb_c(&b, *p++);
		} else {
			sb_c(&b, *p++);
		}
	}
fail:
	free(b.s);
	ms_words_free(w);
	return NULL;
}

/* ---- quoting for sh */
static int safe_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("_-./,:+=@%", c));
}

static int reserved(const char *w)
{
	static const char *const kw[] = { "case", "do", "done", "elif", "else", "esac", "fi",
		"for", "if", "in", "then", "until", "while", "function", "select", "time",
		"coproc", NULL };
	for (int i = 0; kw[i]; i++)
		if (!strcmp(w, kw[i]))
			return 1;
	return 0;
}

char *ms_word_quote(const char *w, int first)
{
	int plain = *w != 0;
	for (const char *p = w; *p && plain; p++)
		plain = safe_char((unsigned char)*p);
	if (plain && first && (strpbrk(w, "=%") || reserved(w)))
		plain = 0;
	if (plain)
		return ms_strdup(w);
	sbuf b = { 0 };
	sb_c(&b, '\'');
	for (const char *p = w; *p; p++) {
		if (*p == '\'')
			sb_s(&b, "'\\''");
		else
			sb_c(&b, *p);
	}
	sb_c(&b, '\'');
	return sb_done(&b);
}

/* ---- parsing */
typedef struct {
	ms_pipeline *p;
	yaml_document_t *doc;
} loader;

/* "file:line:col: message" at node n */
static int at(const char *file, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int at(const char *file, int line, int col, const char *fmt, ...)
{
	char msg[900];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return ms_error("%s:%d:%d: %s", file, line, col, msg);
}

#define AT(l, n, ...) at((l)->p->file, (int)(n)->start_mark.line + 1, \
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
		if (!safe_char((unsigned char)*s) || strchr(",:+=@%/", *s))
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
	if (!is_name(key, strlen(key)))
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
				return at(p->file, s->run.line, s->run.col, "stage '%s' has an empty run",
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
				at(file, (int)r2->start_mark.line + 1, (int)r2->start_mark.column + 1,
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
		sb_add(&b, buf, n);
	if (ferror(f)) {
		ms_error("cannot read %s:", file);
		fclose(f);
		free(b.s);
		return NULL;
	}
	fclose(f);
	size_t len = b.n;
	char *text = sb_done(&b);
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

static void unresolve(ms_stage *s)
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
		unresolve(s);
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
	return at(p->file, line, col, "stage '%s': %s", s->name.text, msg);
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
		at(p->file, v->line, v->col, "stage '%s': empty file name", s->name.text);
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
			if (push(&s->argv, &n, a) < 0)
				return -1;
		}
	} else if (!(s->argv = ms_words_split(s->run.text, lookup_var, p))) {
		return at_stage(p, s, s->run.line, s->run.col);
	}
	if (!s->argv[0] || !*s->argv[0]) {
		const char *what = s->argv[0] ? "program name" : "run";
		if (s->swap)
			return ms_error("--swap %s: empty %s", s->name.text, what);
		return at(p->file, s->run.line, s->run.col, "stage '%s' has an empty %s",
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
		if (push(&s->need, &n, path_subst(p, s, &s->needs[i])) < 0)
			return -1;
	n = 0;
	for (size_t i = 0; i < s->nwrites; i++)
		if (push(&s->write, &n, path_subst(p, s, &s->writes[i])) < 0)
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
				return at(p->file, v->line, v->col, "%s is also written by stage '%s'", f,
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
	return at(p->file, first->v->line, first->v->col, "cycle in file dependencies: %s", msg);
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
				at(p->file, v->line, v->col, "stage '%s' reads %s, which %s writes", s->name.text,
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
				at(p->file, v->line, v->col, "stage '%s': %s does not exist (written by "
				   "stage '%s', which is not selected)", s->name.text, f, o->name.text);
			else
				at(p->file, v->line, v->col, "stage '%s': %s does not exist and no stage "
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
			unresolve(s);   /* a stage not run may use variables not set */
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
			return at(p->file, s->line, s->col, "--only: stage '%s' reads the output of "
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

/* ---- printing */
static void sb_quoted(sbuf *b, const char *w, int first)
{
	char *q = ms_word_quote(w, first);
	if (q)
		sb_s(b, q);
	else
		b->bad = 1;
	free(q);
}

static char *chain_text(const ms_pipeline *p, const ms_chain *c)
{
	sbuf b = { 0 };
	for (int i = c->first; i <= c->last; i++) {
		const ms_stage *s = &p->stage[i];
		if (i > c->first)
			sb_s(&b, " | ");
		for (int k = 0; s->argv[k]; k++) {
			if (k)
				sb_c(&b, ' ');
			sb_quoted(&b, s->argv[k], k == 0);
		}
		if (i == c->first && s->in) {
			sb_s(&b, " < ");
			sb_quoted(&b, s->in, 0);
		} else if (i == c->first && !s->stdin_) {
			sb_s(&b, " < /dev/null");
		}
		if (i == c->last && s->out) {
			sb_s(&b, " > ");
			sb_quoted(&b, s->out, 0);
		}
	}
	return sb_done(&b);
}

int ms_pipeline_print(const ms_pipeline *p, FILE *out)
{
	for (size_t k = 0; k < p->nchains; k++) {
		char *t = chain_text(p, &p->chain[p->order[k]]);
		if (!t)
			return -1;
		fprintf(out, "%s%s\n", t, k + 1 < p->nchains ? " &&" : "");
		free(t);
	}
	return 0;
}

/* ---- running */
static const int fwd_sigs[] = { SIGINT, SIGTERM, SIGHUP };
#define NSIGS 3
static volatile sig_atomic_t got_sig;
static pid_t *kids;               /* running stages of the chain; 0 once reaped */
static volatile sig_atomic_t nkids;

static void on_signal(int sig)
{
	got_sig = sig;
	for (int i = 0; i < nkids; i++)
		if (kids[i] > 0)
			kill(kids[i], sig);
}

typedef struct {
	struct sigaction old[NSIGS];
	sigset_t set, oldmask;
} sigstate;

static void block(sigstate *ss, int on)
{
	sigprocmask(on ? SIG_BLOCK : SIG_SETMASK, on ? &ss->set : &ss->oldmask, NULL);
}

/* in the child: stdin/stdout, original signal state, exec; errno to errfd */
static void child(const ms_stage *s, int in, int out, int errfd, const sigstate *ss)
{
	int fds[2] = { in, out };
	for (int t = 0; t < 2; t++) {
		if (fds[t] != t && dup2(fds[t], t) < 0)
			goto fail;
		if (fds[t] == t)
			fcntl(t, F_SETFD, 0);
	}
	for (int i = 0; i < NSIGS; i++)
		sigaction(fwd_sigs[i], &ss->old[i], NULL);
	sigprocmask(SIG_SETMASK, &ss->oldmask, NULL);
	execvp(s->argv[0], s->argv);
fail:;
	int e = errno;
	if (write(errfd, &e, sizeof e) < 0)
		_exit(127);
	_exit(127);
}

static void describe(const ms_pipeline *p, int i, int status)
{
	const ms_stage *s = &p->stage[i];
	if (WIFSIGNALED(status))
		ms_error("stage '%s' (%s) was killed by signal %d", s->name.text, s->argv[0],
		         WTERMSIG(status));
	else
		ms_error("stage '%s' (%s) exited with status %d", s->name.text, s->argv[0],
		         WEXITSTATUS(status));
}

/* a stage killed by SIGPIPE before the end of its chain is not a failure:
 * the stage after it stopped reading (head) and decides the outcome */
static int failed(int status, int k, int n)
{
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE && k + 1 < n)
		return 0;
	return !WIFEXITED(status) || WEXITSTATUS(status) != 0;
}

/* the stage to blame among those reaped so far: the most upstream failure
 * (a stage after it may have failed because its input ended early) */
static int blame(const int *st, const int *reaped, int nreaped, int n)
{
	int best = -1;
	for (int r = 0; r < nreaped; r++) {
		int k = reaped[r];
		if (failed(st[k], k, n) && (best < 0 || k < best))
			best = k;
	}
	return best;
}

static int open_in(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		ms_error("cannot open %s:", path);
	return fd;
}

/* the state of one chain being run */
typedef struct {
	int n, nstarted, nreaped;
	pid_t *pid;                 /* 0 once reaped */
	int *st, *reaped;           /* wait status per stage; stages in the order reaped */
	int (*pp)[2];               /* pipe k joins stage k to stage k+1 */
	int in, out;                /* the chain's standard input and output */
	char *tmp;                  /* temporary name of the output file */
	sigstate *ss;
} run;

static int record(run *r, pid_t w, int status)
{
	for (int k = 0; k < r->nstarted; k++)
		if (r->pid[k] == w) {
			block(r->ss, 1);
			r->pid[k] = 0;
			block(r->ss, 0);
			r->st[k] = status;
			r->reaped[r->nreaped++] = k;
			return k;
		}
	return -1;
}

static void stop_all(run *r, int except)
{
	block(r->ss, 1);
	for (int k = 0; k < r->nstarted; k++)
		if (r->pid[k] > 0 && k != except)
			kill(r->pid[k], SIGTERM);
	block(r->ss, 0);
}

/* the chain's input, output (a temporary beside the file) and pipes */
static int open_ends(run *r, const ms_stage *head, const ms_stage *tail)
{
	if (head->in ? (r->in = open_in(head->in)) < 0 :
	    !head->stdin_ && (r->in = open_in("/dev/null")) < 0)
		return -1;
	struct stat st;
	if (tail->out && stat(tail->out, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
		/* a FIFO, a device: written in place, never replaced by a rename */
		if ((r->out = open(tail->out, O_WRONLY | O_NOCTTY | O_CLOEXEC)) < 0)
			return ms_error("cannot open %s:", tail->out);
	} else if (tail->out) {
		size_t len = strlen(tail->out) + 16;
		if (!(r->tmp = ms_malloc(len)))
			return -1;
		snprintf(r->tmp, len, "%s.tmpXXXXXX", tail->out);
		if ((r->out = mkostemp(r->tmp, O_CLOEXEC)) < 0) {
			ms_error("cannot create %s:", r->tmp);
			free(r->tmp);
			r->tmp = NULL;
			return -1;
		}
		mode_t um = umask(0);
		umask(um);
		fchmod(r->out, 0666 & ~um);
	}
	for (int k = 0; k + 1 < r->n; k++)
		if (pipe2(r->pp[k], O_CLOEXEC) < 0)
			return ms_error("cannot create a pipe:");
	return 0;
}

static void close_pipes(run *r)
{
	for (int k = 0; r->pp && k + 1 < r->n; k++)
		for (int e = 0; e < 2; e++)
			if (r->pp[k][e] >= 0) {
				close(r->pp[k][e]);
				r->pp[k][e] = -1;
			}
}

/* fork and exec every stage; 0, or -1 (message set) after the first that
 * could not start, whose index goes to *bad (-1 when none started) */
static int start(run *r, const ms_pipeline *p, const ms_chain *c, int *bad)
{
	int ret = 0;
	*bad = -1;
	fflush(NULL);
	block(r->ss, 1);
	kids = r->pid;
	for (int k = 0; k < r->n; k++) {
		const ms_stage *s = &p->stage[c->first + k];
		int ep[2], err;
		if (pipe2(ep, O_CLOEXEC) < 0) {
			ret = ms_error("cannot create a pipe:");
			break;
		}
		pid_t w = fork();
		if (w == 0)
			child(s, k ? r->pp[k - 1][0] : r->in, k + 1 < r->n ? r->pp[k][1] : r->out,
			      ep[1], r->ss);
		close(ep[1]);
		if (w < 0) {
			close(ep[0]);
			ret = ms_error("cannot fork:");
			break;
		}
		r->pid[k] = w;
		nkids = ++r->nstarted;
		/* the child writes errno here if exec fails; EOF when it succeeds */
		ssize_t got;
		while ((got = read(ep[0], &err, sizeof err)) < 0 && errno == EINTR)
			;
		close(ep[0]);
		if (got == (ssize_t)sizeof err) {
			errno = err;
			ret = ms_error("stage '%s': cannot run %s:", s->name.text, s->argv[0]);
			*bad = k;
			break;
		}
	}
	block(r->ss, 0);
	close_pipes(r);
	return ret;
}

/* wait for every stage started; on the first failure, name the stage to
 * blame and stop the others. 0 if none failed */
static int wait_all(run *r, const ms_pipeline *p, const ms_chain *c, int stopping)
{
	int ret = 0;
	while (r->nreaped < r->nstarted) {
		int status, k;
		pid_t w = waitpid(-1, &status, 0);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return ms_error("cannot wait for the stages:");
		if ((k = record(r, w, status)) < 0 || stopping || got_sig ||
		    !failed(status, k, r->n))
			continue;
		/* collect the stages already dead too, then choose whom to blame */
		while ((w = waitpid(-1, &status, WNOHANG)) > 0)
			record(r, w, status);
		int b = blame(r->st, r->reaped, r->nreaped, r->n);
		describe(p, c->first + b, r->st[b]);
		ret = -1;
		stopping = 1;
		stop_all(r, -1);
	}
	return ret;
}

/* Run the stages of chain c, wait for all, commit its output file.
 * Returns 0, or -1 with the message. */
static int run_chain(ms_pipeline *p, const ms_chain *c, sigstate *ss)
{
	const ms_stage *head = &p->stage[c->first], *tail = &p->stage[c->last];
	int n = c->last - c->first + 1, ret = -1, bad;
	run r = { .n = n, .in = 0, .out = 1, .ss = ss };
	if (!(r.pid = ms_calloc((size_t)n, sizeof *r.pid)) ||
	    !(r.st = ms_calloc((size_t)n, sizeof *r.st)) ||
	    !(r.reaped = ms_calloc((size_t)n, sizeof *r.reaped)) ||
	    !(r.pp = ms_calloc((size_t)n, sizeof *r.pp)))
		goto out;
	for (int k = 0; k < n; k++)
		r.pp[k][0] = r.pp[k][1] = -1;
	if (open_ends(&r, head, tail) < 0)
		goto out;
	if (start(&r, p, c, &bad) < 0) {
		stop_all(&r, bad);
		wait_all(&r, p, c, 1);
	} else {
		ret = wait_all(&r, p, c, 0);
	}
	if (got_sig) {
		p->interrupted = got_sig;
		ret = ms_error("interrupted by signal %d", (int)got_sig);
	}
out:
	block(ss, 1);
	nkids = 0;
	kids = NULL;
	block(ss, 0);
	close_pipes(&r);
	if (r.in > 2)
		close(r.in);
	if (r.out > 2)
		close(r.out);
	if (r.tmp && ret == 0 && rename(r.tmp, tail->out) < 0)
		ret = ms_error("cannot rename %s to %s:", r.tmp, tail->out);
	if (r.tmp && ret < 0)
		unlink(r.tmp);
	for (int i = c->first; ret == 0 && i <= c->last; i++)
		for (size_t k = 0; ret == 0 && p->stage[i].write[k]; k++)
			if (access(p->stage[i].write[k], F_OK) < 0)
				ret = ms_error("stage '%s' did not write %s", p->stage[i].name.text,
				               p->stage[i].write[k]);
	free(r.tmp);
	free(r.pid);
	free(r.st);
	free(r.reaped);
	free(r.pp);
	return ret;
}

int ms_pipeline_run(ms_pipeline *p, FILE *log)
{
	sigstate ss;
	int ret = 0;
	/* keep 0, 1, 2 taken so that no pipe lands there */
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) < 0)
			return ms_error("cannot open /dev/null:");
	got_sig = 0;
	p->interrupted = 0;
	sigemptyset(&ss.set);
	for (int i = 0; i < NSIGS; i++)
		sigaddset(&ss.set, fwd_sigs[i]);
	sigprocmask(SIG_BLOCK, NULL, &ss.oldmask);
	for (int i = 0; i < NSIGS; i++) {
		struct sigaction sa = { .sa_handler = on_signal };
		sigemptyset(&sa.sa_mask);
		sigaction(fwd_sigs[i], NULL, &ss.old[i]);
		if (ss.old[i].sa_handler != SIG_IGN)
			sigaction(fwd_sigs[i], &sa, NULL);
	}
	for (size_t k = 0; k < p->nchains && ret == 0 && !got_sig; k++) {
		const ms_chain *c = &p->chain[p->order[k]];
		struct timespec t0, t1;
		if (log) {
			char *t = chain_text(p, c);
			fprintf(log, "%s: %s\n", argv0, t ? t : "?");
			free(t);
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		ret = run_chain(p, c, &ss);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (log && ret == 0)
			fprintf(log, "%s: done in %.2f s\n", argv0,
			        (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
	}
	if (got_sig && ret == 0) {
		p->interrupted = got_sig;
		ret = ms_error("interrupted by signal %d", (int)got_sig);
	}
	for (int i = 0; i < NSIGS; i++)
		sigaction(fwd_sigs[i], &ss.old[i], NULL);
	return ret;
}
