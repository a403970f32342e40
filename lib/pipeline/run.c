/* YAML pipeline files (ms-pipeline(5)): printing the plan as sh commands, and running
 * the chains with fork/exec and pipes. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"
#include "pipeline/internal.h"
#include "pipeline/pipeline.h"

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
	return pl_sb_done(&b);
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
