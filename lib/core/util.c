/* Errors, allocation, option parsing. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/outfile.h"
#include "core/util.h"

const char *argv0 = "ms";
/* the longest message with its NUL, for ms_error, die, warn and usage_error alike, so that
 * a message is cut at one length wherever it goes */
enum { MSGMAX = 1200 };
static char errbuf[MSGMAX];

/* fmt into buf[MSGMAX], strerror(errno) appended when it ends in ':'; a message too long
 * is cut, before a UTF-8 character it would split */
static void vformat(char *buf, const char *fmt, va_list ap)
{
	int saved = errno;
	if (vsnprintf(buf, MSGMAX, fmt, ap) < 0)
		buf[0] = '\0';        /* an output error: no message rather than an undefined one */
	size_t len = strlen(buf);
	if (len && buf[len - 1] == ':')
		snprintf(buf + len, MSGMAX - len, " %s", strerror(saved));
	if ((len = strlen(buf)) < MSGMAX - 1)
		return;
	size_t k = len;            /* full, maybe cut: the last character's first byte */
	while (k && ((unsigned char)buf[k - 1] & 0xC0) == 0x80)
		k--;
	unsigned char c = k ? (unsigned char)buf[k - 1] : 0;
	if (len - k + 1 < (size_t)(c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1))
		buf[k - 1] = '\0';
}

int ms_error(const char *fmt, ...)
{
	char buf[MSGMAX];          /* an argument may be ms_errmsg() itself */
	va_list ap;
	va_start(ap, fmt);
	vformat(buf, fmt, ap);
	va_end(ap);
	memcpy(errbuf, buf, sizeof buf);
	return -1;
}

const char *ms_errmsg(void)
{
	return errbuf;
}

void ms_setprog(char **argv)
{
	char *s = strrchr(argv[0], '/');
	argv0 = argv[0] = s ? s + 1 : argv[0];   /* getopt's messages use argv[0] too */
}

/* "prog: message" on stderr; stdout flushed first when flush is set (after formatting,
 * which reads errno) */
static void say(const char *fmt, va_list ap, int flush)
{
	char buf[MSGMAX];
	vformat(buf, fmt, ap);
	if (flush)
		fflush(stdout);
	fprintf(stderr, "%s: %s\n", argv0, buf);
}

void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say(fmt, ap, 1);
	va_end(ap);
	ms_outfile_cleanup_all();
	exit(1);
}

void warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say(fmt, ap, 0);
	va_end(ap);
}

void usage_die(const char *usage)
{
	fprintf(stderr, "usage: %s %s\n", argv0, usage);
	exit(2);
}

void usage_error(const char *usage, const char *fmt, ...)
{
	char buf[MSGMAX];
	va_list ap;
	va_start(ap, fmt);
	vformat(buf, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", argv0, buf);
	usage_die(usage);
}

int fshut(FILE *f, const char *name)
{
	int ret = 0;
	if (fflush(f) == EOF || ferror(f)) {
		warn("cannot write %s:", name);
		ret = 1;
	}
	if (f != stdout && f != stderr && fclose(f) == EOF && !ret) {
		warn("cannot close %s:", name);
		ret = 1;
	}
	return ret;
}

void ms_assert_fail(const char *what, const char *file, int line)
{
	fprintf(stderr, "%s: internal error: %s (%s:%d)\n", argv0, what, file, line);
	abort();
}

int ms_mul_overflow(size_t a, size_t b, size_t *out)
{
	return __builtin_mul_overflow(a, b, out);
}

void *ms_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		ms_error("out of memory (%zu bytes)", n);
	return p;
}

/* The block calloc gave sits in the word before the buffer. calloc takes its large blocks
 * straight from mmap, whose pages are zero and untouched until used: the resident memory
 * is what the plan touches, as with calloc alone. */
float *ms_floats(size_t n)
{
	enum { LINE = 64, HUGE = 2 << 20 };
	size_t b, al;
	if (ms_mul_overflow(n ? n : 1, sizeof(float), &b) || b > SIZE_MAX - 2 * (size_t)HUGE) {
		ms_error("allocation size overflows");
		return NULL;
	}
	al = b >= HUGE ? HUGE : LINE;
	char *raw = ms_calloc(1, b + 2 * al);
	if (!raw)
		return NULL;
	char *p = (char *)(((uintptr_t)raw + sizeof raw + al - 1) & ~(uintptr_t)(al - 1));
	memcpy(p - sizeof raw, &raw, sizeof raw);
#ifdef MADV_HUGEPAGE
	if (al == HUGE)         /* advice only: where the kernel has no huge page, small ones */
		madvise(p, (b + 4095) / 4096 * 4096, MADV_HUGEPAGE);
#endif
	return (float *)p;
}

void ms_free_floats(float **const *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (*p[i]) {
			void *raw;
			memcpy(&raw, (char *)*p[i] - sizeof raw, sizeof raw);
			free(raw);
		}
		*p[i] = NULL;
	}
}

void *ms_calloc(size_t nmemb, size_t size)
{
	size_t n;
	if (ms_mul_overflow(nmemb, size, &n)) {
		ms_error("allocation size overflows");
		return NULL;
	}
	void *p = calloc(n ? nmemb : 1, n ? size : 1);
	if (!p)
		ms_error("out of memory (%zu bytes)", n);
	return p;
}

void *ms_reallocarray(void *p, size_t nmemb, size_t size)
{
	size_t n;
	if (ms_mul_overflow(nmemb, size, &n)) {
		ms_error("allocation size overflows");
		return NULL;
	}
	void *q = realloc(p, n ? n : 1);
	if (!q)
		ms_error("out of memory (%zu bytes)", n);
	return q;
}

char *ms_strdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		ms_error("out of memory");
	return p;
}

void *emalloc(size_t n)
{
	void *p = ms_malloc(n);
	if (!p)
		die("%s", ms_errmsg());
	return p;
}

void *ecalloc(size_t nmemb, size_t size)
{
	void *p = ms_calloc(nmemb, size);
	if (!p)
		die("%s", ms_errmsg());
	return p;
}

void *ereallocarray(void *p, size_t nmemb, size_t size)
{
	void *q = ms_reallocarray(p, nmemb, size);
	if (!q)
		die("%s", ms_errmsg());
	return q;
}

char *estrdup(const char *s)
{
	char *p = ms_strdup(s);
	if (!p)
		die("%s", ms_errmsg());
	return p;
}

int ms_parse_int(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < lo || v > hi)
		return ms_error("'%s' is not an integer in [%ld, %ld]", s, lo, hi);
	*out = v;
	return 0;
}

int ms_name_index(const char *s, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

int ms_parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (!*s || *end || errno || !(v >= lo && v <= hi))
		return ms_error("'%s' is not a number in [%g, %g]", s, lo, hi);
	*out = v;
	return 0;
}

int ms_parse_size(const char *s, int *w, int *h)
{
	char *end;
	errno = 0;
	long a = strtol(s, &end, 10);
	if (end == s || *end != 'x' || errno)
		return ms_error("'%s' is not a size WxH", s);
	const char *s2 = end + 1;
	long b = strtol(s2, &end, 10);
	if (end == s2 || *end || errno || a < 1 || b < 1 || a > 65535 || b > 65535)
		return ms_error("'%s' is not a size WxH (1 to 65535 each)", s);
	*w = (int)a;
	*h = (int)b;
	return 0;
}
