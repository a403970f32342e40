/* Errors, allocation, option parsing, atomic output files. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/ms.h"

const char *argv0 = "ms";
static char errbuf[1024];

static void vformat(char *buf, size_t n, const char *fmt, va_list ap)
{
	int saved = errno;
	vsnprintf(buf, n, fmt, ap);
	size_t len = strlen(buf);
	if (len && buf[len - 1] == ':')
		snprintf(buf + len, n - len, " %s", strerror(saved));
}

int ms_error(const char *fmt, ...)
{
	char buf[sizeof errbuf];   /* an argument may be ms_errmsg() itself */
	va_list ap;
	va_start(ap, fmt);
	vformat(buf, sizeof buf, fmt, ap);
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

void die(const char *fmt, ...)
{
	char buf[1200];
	va_list ap;
	va_start(ap, fmt);
	vformat(buf, sizeof buf, fmt, ap);
	va_end(ap);
	fflush(stdout);
	fprintf(stderr, "%s: %s\n", argv0, buf);
	ms_outfile_cleanup_all();
	exit(1);
}

void warn(const char *fmt, ...)
{
	char buf[1200];
	va_list ap;
	va_start(ap, fmt);
	vformat(buf, sizeof buf, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", argv0, buf);
}

void usage_die(const char *usage)
{
	fprintf(stderr, "usage: %s %s\n", argv0, usage);
	exit(2);
}

void usage_error(const char *usage, const char *fmt, ...)
{
	char buf[1200];
	va_list ap;
	va_start(ap, fmt);
	vformat(buf, sizeof buf, fmt, ap);
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

/* ---- atomic output files */
#define MAX_OPEN_OUT 16
static ms_outfile *open_out[MAX_OPEN_OUT];

static void track(ms_outfile *o, int on)
{
	for (int i = 0; i < MAX_OPEN_OUT; i++) {
		if (on && !open_out[i]) {
			open_out[i] = o;
			return;
		}
		if (!on && open_out[i] == o) {
			open_out[i] = NULL;
			return;
		}
	}
}

static void on_signal(int sig)
{
	for (int i = 0; i < MAX_OPEN_OUT; i++)
		if (open_out[i] && open_out[i]->tmp)
			unlink(open_out[i]->tmp);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* an unnamed file in path's folder (O_TMPFILE), linked into place on commit through
 * /proc/self/fd: nothing is left behind whenever the process dies; -1 where the file
 * system or the kernel cannot */
static int open_unnamed(const char *path)
{
#ifdef O_TMPFILE
	const char *slash = strrchr(path, '/');
	char *dir = slash ? ms_strdup(path) : NULL;
	if (slash && !dir)
		return -1;
	if (dir)
		dir[slash == path ? 1 : slash - path] = '\0';
	int fd = access("/proc/self/fd", X_OK) < 0 ? -1 :
	         open(dir ? dir : ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
	free(dir);
	return fd;
#else
	(void)path;
	return -1;
#endif
}

int ms_outfile_open(ms_outfile *o, const char *path)
{
	static int handlers;
	struct stat st;
	int fd;
	o->f = NULL;
	o->path = o->tmp = NULL;
	o->kind = MS_OUT_NAMED;
	if (!(o->path = ms_strdup(path)))
		return -1;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		ms_error("cannot write %s: Is a directory", path);
		goto fail;
	}
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		/* a FIFO, a device: written in place, never replaced */
		if ((fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC)) < 0) {
			ms_error("cannot open %s:", path);
			goto fail;
		}
		o->kind = MS_OUT_SPECIAL;
	} else if ((fd = open_unnamed(path)) >= 0) {
		o->kind = MS_OUT_UNNAMED;
	} else {
		size_t n = strlen(path) + 16;
		if (!(o->tmp = ms_malloc(n)))
			goto fail;
		snprintf(o->tmp, n, "%s.tmpXXXXXX", path);
		if ((fd = mkostemp(o->tmp, O_CLOEXEC)) < 0) {
			ms_error("cannot create %s:", o->tmp);
			goto fail;
		}
		mode_t um = umask(0);   /* mkstemp makes 0600: give the usual 0666 & ~umask */
		umask(um);
		fchmod(fd, 0666 & ~um);
	}
	if (!(o->f = fdopen(fd, "wb"))) {
		ms_error("cannot open %s:", path);
		close(fd);
		if (o->tmp)
			unlink(o->tmp);
		goto fail;
	}
	track(o, 1);
	if (!handlers) {
		handlers = 1;
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
		signal(SIGPIPE, on_signal);
	}
	return 0;
fail:
	free(o->path);
	free(o->tmp);
	o->path = o->tmp = NULL;
	return -1;
}

static volatile sig_atomic_t stop_sig;
static sigset_t stop_held;

static void on_stop(int sig)
{
	stop_sig = sig;
}

static void stop_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

void ms_stop_catch(void)
{
	stop_sig = 0;
	stop_install();
}

int ms_stop_signal(void)
{
	return stop_sig;
}

void ms_stop_hold(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, &stop_held);
}

void ms_stop_release(void)
{
	stop_install();
	sigprocmask(SIG_SETMASK, &stop_held, NULL);
}

/* gives the unnamed file of o the name o->tmp (random, beside o->path) */
static int link_tmp(ms_outfile *o, const char *proc)
{
	size_t n = strlen(o->path) + 16;
	if (!(o->tmp = ms_malloc(n)))
		return -1;
	for (int tries = 0; tries < 100; tries++) {
		unsigned char r[4];
		if (getentropy(r, sizeof r) < 0)
			return ms_error("cannot name a temporary for %s:", o->path);
		snprintf(o->tmp, n, "%s.tmp%02x%02x%02x", o->path, r[0], r[1], r[2]);
		if (linkat(AT_FDCWD, proc, AT_FDCWD, o->tmp, AT_SYMLINK_FOLLOW) == 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	ms_error("cannot create %s:", o->tmp);
	free(o->tmp);
	o->tmp = NULL;
	return -1;
}

/* puts the finished file in place: a link to the unnamed file where nothing has the
 * name yet, else a rename over the regular file there, never over anything else */
static int place(ms_outfile *o)
{
	struct stat st;
	char proc[64];
	if (o->kind == MS_OUT_SPECIAL)
		return 0;
	if (o->kind == MS_OUT_UNNAMED) {
		snprintf(proc, sizeof proc, "/proc/self/fd/%d", fileno(o->f));
		if (linkat(AT_FDCWD, proc, AT_FDCWD, o->path, AT_SYMLINK_FOLLOW) == 0)
			return 0;
		if (errno != EEXIST)
			return ms_error("cannot create %s:", o->path);
	}
	if (stat(o->path, &st) == 0 && !S_ISREG(st.st_mode))
		return ms_error("%s is no longer a regular file: not replaced", o->path);
	if (o->kind == MS_OUT_UNNAMED && link_tmp(o, proc) < 0)
		return -1;
	if (rename(o->tmp, o->path) < 0)
		return ms_error("cannot rename %s to %s:", o->tmp, o->path);
	return 0;
}

int ms_outfile_commit(ms_outfile *o)
{
	int ret = 0;
	if (fflush(o->f) == EOF || ferror(o->f))
		ret = ms_error("cannot write %s:", o->path);
	if (!ret && o->kind == MS_OUT_UNNAMED)   /* linked through its descriptor */
		ret = place(o);
	if (fclose(o->f) == EOF && !ret)
		ret = ms_error("cannot write %s:", o->path);
	o->f = NULL;
	if (!ret && o->kind != MS_OUT_UNNAMED)
		ret = place(o);
	if (ret && o->tmp)
		unlink(o->tmp);
	track(o, 0);
	free(o->path);
	free(o->tmp);
	o->path = o->tmp = NULL;
	return ret;
}

void ms_outfile_abort(ms_outfile *o)
{
	if (!o || !o->path)
		return;
	if (o->f)
		fclose(o->f);
	if (o->tmp)
		unlink(o->tmp);
	track(o, 0);
	free(o->path);
	free(o->tmp);
	o->f = NULL;
	o->path = o->tmp = NULL;
}

void ms_outfile_cleanup_all(void)
{
	for (int i = 0; i < MAX_OPEN_OUT; i++)
		if (open_out[i])
			ms_outfile_abort(open_out[i]);
}
