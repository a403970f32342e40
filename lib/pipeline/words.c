/* YAML pipeline files (ms-pipeline(5)): growing strings, ${var} substitution,
 * splitting commands like sh without a shell, quoting words for sh. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "pipeline/internal.h"
#include "pipeline/pipeline.h"

/* ---- growing strings */
void pl_sb_add(sbuf *b, const char *s, size_t n)
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

/* the string (owned by the caller), or NULL + ms_error; b is reset */
char *pl_sb_done(sbuf *b)
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
int pl_push(char ***v, size_t *n, char *s)
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
int pl_is_name(const char *s, size_t n)
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
	if (!pl_is_name(p + 2, n) || n >= sizeof name)
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
	return pl_sb_done(&b);
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
			if (inword && pl_push(&w, &n, pl_sb_done(&b)) < 0)
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
int pl_safe_char(unsigned char c)
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
		plain = pl_safe_char((unsigned char)*p);
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
	return pl_sb_done(&b);
}
