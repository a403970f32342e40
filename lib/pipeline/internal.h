/* What the pipeline files share (words.c, parse.c, plan.c, run.c); not for tools. */
#ifndef MS_PIPELINE_INTERNAL_H
#define MS_PIPELINE_INTERNAL_H

#include <stddef.h>
#include <string.h>

#include "pipeline/pipeline.h"

/* ---- growing strings (words.c) */
typedef struct {
	char *s;
	size_t n, cap;
	int bad;
} sbuf;

void pl_sb_add(sbuf *b, const char *s, size_t n);
static inline void sb_c(sbuf *b, char c) { pl_sb_add(b, &c, 1); }
static inline void sb_s(sbuf *b, const char *s) { pl_sb_add(b, s, strlen(s)); }
/* the string (owned by the caller), or NULL + ms_error; b is reset */
char *pl_sb_done(sbuf *b);
/* append to a NULL-terminated array of strings; takes s (freed on failure) */
int pl_push(char ***v, size_t *n, char *s);
/* s[0..n) is a variable name */
int pl_is_name(const char *s, size_t n);
/* c needs no quoting for sh */
int pl_safe_char(unsigned char c);

/* ---- parse.c */
/* "file:line:col: message", returns -1 (ms_error) */
int pl_at(const char *file, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* free what ms_pipeline_plan filled in a stage */
void pl_unresolve(ms_stage *s);

#endif
