/* Atomic output files, and the stop signals of training loops (their handlers and the
 * temporaries' cleanup share the signal set-up). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/outfile.h"
#include "core/util.h"

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
