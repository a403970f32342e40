/* Errors, tools' die/warn, allocation, parsing numbers and options (util.c). */
#ifndef MS_UTIL_H
#define MS_UTIL_H

#include <stddef.h>
#include <stdio.h>

/* ---- errors: library code records a message and returns -1 (or NULL) */
int ms_error(const char *fmt, ...);         /* "...:" appends strerror(errno); returns -1 */
const char *ms_errmsg(void);                /* last message, "" if none */

/* ---- tools only: program name, die/warn (prefix "ms-tool: ") */
extern const char *argv0;
void ms_setprog(char **argv);          /* argv0 = basename of argv[0] */
void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void usage_die(const char *usage) __attribute__((noreturn)); /* exit 2 */
/* a usage error with its reason: "ms-tool: reason", the usage line, exit 2 */
void usage_error(const char *usage, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 2, 3)));
int fshut(FILE *f, const char *name);       /* flush + close check, returns 0/1 */

#define MS_ASSERT(c) do { if (!(c)) ms_assert_fail(#c, __FILE__, __LINE__); } while (0)
void ms_assert_fail(const char *what, const char *file, int line) __attribute__((noreturn));

/* ---- allocation: overflow-checked, NULL + ms_error on failure */
void *ms_malloc(size_t n);
void *ms_calloc(size_t nmemb, size_t size);
void *ms_reallocarray(void *p, size_t nmemb, size_t size);
char *ms_strdup(const char *s);
/* a numeric plan's buffer of n floats, zeroed, its first float on a cache line (64 bytes,
 * so that the vector kernels do not split their loads) and from 2 MiB on on a 2 MiB
 * boundary, advised into transparent huge pages (fewer TLB misses: 7% of a generator's
 * training step here); ms_free_floats frees it */
float *ms_floats(size_t n);
/* free each of n buffers *p[i] of ms_floats (NULL: nothing) and set *p[i] = NULL: one
 * plan's, freed together */
void ms_free_floats(float **const *p, size_t n);
/* tools: die on failure */
void *emalloc(size_t n);
void *ecalloc(size_t nmemb, size_t size);
void *ereallocarray(void *p, size_t nmemb, size_t size);
char *estrdup(const char *s);
int ms_mul_overflow(size_t a, size_t b, size_t *out); /* 1 on overflow */

/* ---- numbers and options */
int ms_parse_int(const char *s, long lo, long hi, long *out);      /* -1 on error */
int ms_parse_double(const char *s, double lo, double hi, double *out);
int ms_parse_size(const char *s, int *w, int *h);                  /* "WxH" */
int ms_name_index(const char *s, const char *const *names, int n); /* -1 if none */

#endif
