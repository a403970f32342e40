/* The training loop (train.h). */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/dist.h"
#include "core/outfile.h"
#include "core/util.h"
#include "models/train.h"
#include "nn/nn.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static void fmt_time(char *b, size_t n, double s)
{
	long t = (long)(s + 0.5);
	if (t >= 3600)
		snprintf(b, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
	else
		snprintf(b, n, "%ldm%02lds", t / 60, t % 60);
}

static void progress(int tty, const char *mname, const char *aname, long s, long total, double loss, double aux,
                     double metric, double ips, double left, int last)
{
	char v[48] = "", a[32] = "", eta[32];
	if (mname)
		snprintf(v, sizeof v, " %s %.4f", mname, metric);
	if (mname && metric < 0)
		snprintf(v, sizeof v, " %s -", mname);
	if (!isnan(aux))
		snprintf(a, sizeof a, " %s %.4f", aname, aux);
	fmt_time(eta, sizeof eta, left);
	fprintf(stderr, "%s%s: step %ld/%ld loss %.4f%s%s %.1f img/s left %s%s",
	        tty ? "\r" : "", argv0, s, total, loss, a, v, ips, eta,
	        tty ? (last ? "\033[K\n" : "\033[K") : "\n");
	fflush(stderr);
}

/* how much of the run is done: steps, or time when there is a budget */
static double done_frac(const ms_train *t, long s, double used)
{
	double f = (double)s / t->steps;
	if (t->time > 0 && used / t->time > f)
		f = used / t->time;
	return f;
}

static FILE *log_open(const char *path, const char *aname, const char *mname)
{
	FILE *f = fopen(path, "a");
	if (!f) {
		ms_error("cannot open %s:", path);
		return NULL;
	}
	if (ftell(f) == 0)
		fprintf(f, "step\tloss\t%s\t%s\timages_per_s\tlr\tseconds\n", aname, mname);
	return f;
}

/* validation after step s into *val, and a new best kept */
static int validate(ms_train *t, long s, double *val)
{
	if (t->validate(t->ctx, s, val) < 0)
		return -1;
	if (!t->best || !(*val > *t->best))
		return 0;
	if (t->keep && t->keep(t->ctx, s, *val) < 0)
		return -1;
	*t->best = *val;
	*t->best_step = s;
	return 0;
}

int ms_train_run(ms_train *t, long *sp, double *metric)
{
	long s0 = *sp, s = s0, nl = 0;
	long report = t->report > 0 ? t->report
	              : t->time > 0 ? 20 : t->steps / 20 > 0 ? t->steps / 20 : 1;
	double t0 = now(), tshow = 0, lsum = 0, asum = 0, val = -1, used0 = t->time_used, lr = t->lr;
	int tty = isatty(2), ret = -1, sig = 0, root = ms_dist_rank() == 0;
	FILE *log = NULL;
	const char *mname = t->metric ? t->metric : "val", *aname = t->aux ? t->aux : "aux";
	if (root && t->log && !(log = log_open(t->log, aname, mname)))
		return -1;
	if (root && t->validate_first && t->validate && validate(t, s, &val) < 0)
		goto out;
	ms_stop_catch();
	for (;;) {
		/* every rank stops after the same step: a signal on any of them, the budget */
		double v[2] = { ms_stop_signal(), done_frac(t, s, used0 + now() - t0) }, f;
		if (ms_dist_max(v, 2) < 0)
			goto out;
		sig = (int)v[0];
		if ((f = v[1]) >= 1 || sig)
			break;
		if (t->time > 0 && s >= t->warmup)   /* the schedule runs on the larger fraction */
			lr = ms_lr_at(t->schedule, t->lr, (long)(f * 1e9), 1000000000L, 0);
		else
			lr = ms_lr_at(t->schedule, t->lr, s, t->steps, t->warmup);
		double l, a = NAN;
		if (t->step(t->ctx, s, lr, &l, &a) < 0)
			goto out;
		if (!isfinite(l)) {
			ms_error("step %ld: loss is not finite: no checkpoint written", s + 1);
			goto out;
		}
		lsum += l;
		asum += a;
		nl++;
		s++;
		double tn = now(), ips = (s - s0) * t->batch / (tn - t0);
		t->time_used = used0 + tn - t0;
		f = done_frac(t, s, t->time_used);
		long total = t->time > 0 ? (long)(s / f + 0.5) : t->steps;
		double left = t->time > 0 ? t->time - t->time_used : (t->steps - s) * t->batch / ips;
		int rep = s % report == 0 || f >= 1;
		if (!root)
			continue;
		if (rep && t->validate && validate(t, s, &val) < 0)
			goto out;
		if (rep || (tty && tn - tshow > 0.25)) {
			progress(tty, t->validate ? mname : NULL, aname, s, total < s ? s : total, lsum / nl, asum / nl, val, ips, left, rep);
			tshow = tn;
		}
		if (rep) {
			if (log)
				fprintf(log, "%ld\t%.6g\t%.6g\t%.6g\t%.3f\t%.6g\t%.3f\n", s, lsum / nl,
				        asum / nl, val, ips, lr, t->time_used);
			lsum = asum = 0;
			nl = 0;
		}
		if (t->save_every > 0 && s % t->save_every == 0 && f < 1 && t->save(t->ctx, s, val) < 0)
			goto out;
	}
	if (root && s == s0 && !t->validate_first && t->validate && validate(t, s, &val) < 0)
		goto out;
	if (root && t->save(t->ctx, s, val) < 0)
		goto out;
	if (root && sig)
		fprintf(stderr, "%s: %s at step %ld: checkpoint written to %s\n", argv0,
		        sig == SIGINT ? "interrupted" : "terminated", s, t->out);
	if (root && ms_dist_size() > 1)
		fprintf(stderr, "%s: %d ranks: %.1f s of %.1f s in communication (waiting "
		        "included)\n", argv0, ms_dist_size(), ms_dist_seconds(), now() - t0);
	ret = sig;
out:
	if (log && fclose(log) == EOF && ret >= 0)
		ret = ms_error("cannot write %s:", t->log);
	*sp = s;
	if (metric)
		*metric = val;
	return ret;
}

/* ---- the gradient in parts */
int ms_grads_init(ms_grads *g, ms_params *ps, int B, int P)
{
	int size = ms_dist_size();
	memset(g, 0, sizeof *g);
	P = P > 0 ? P : size;
	if (P % size)
		return ms_error("%d parts of the batch cannot be shared by %d ranks", P, size);
	if (B % P)
		return ms_error("a batch of %d cannot be cut into %d equal parts", B, P);
	g->ps = ps;
	g->B = B;
	g->P = P;
	g->local = P / size;
	g->n = ms_params_count(ps);
	if (!(g->loss = ms_calloc(2 * ((size_t)P + g->local), sizeof(double))) ||
	    (P > 1 && !(g->buf = ms_calloc((size_t)(g->local + 1) * g->n, sizeof(float))))) {
		ms_grads_free(g);
		return -1;
	}
	return 0;
}

void ms_grads_free(ms_grads *g)
{
	free(g->buf);
	free(g->loss);
	g->buf = NULL;
	g->loss = NULL;
}

/* the gradients of the parameters to buf (dir 1) or back (dir 0) */
static void grads_copy(ms_params *ps, float *buf, int dir)
{
	for (int k = 0; k < ps->n; k++) {
		ms_param *p = ps->p[k];
		memcpy(dir ? buf : p->g, dir ? p->g : buf, p->n * sizeof(float));
		buf += p->n;
	}
}

int ms_grads_step(ms_grads *g, ms_grads_part *part, void *ctx, double *loss, double *aux)
{
	int first = ms_dist_rank() * g->local;
	double *all = g->loss, *mine = all + 2 * g->P;     /* loss and aux of each part */
	for (int i = 0; i < g->local; i++) {
		int q = first + i, b0 = (int)((long)q * g->B / g->P), b1 = (int)((long)(q + 1) * g->B / g->P);
		mine[2 * i] = mine[2 * i + 1] = NAN;
		ms_params_zero_grad(g->ps);
		if (part(ctx, b0, b1, (double)(b1 - b0) / g->B, &mine[2 * i], &mine[2 * i + 1]) < 0)
			return -1;
		if (g->P > 1)
			grads_copy(g->ps, g->buf + i * g->n, 1);
	}
	if (g->P > 1) {
		float *sum = g->buf + g->local * g->n;
		if (ms_dist_sum_parts(g->buf, g->local, g->n, sum) < 0)
			return -1;
		grads_copy(g->ps, sum, 0);
	}
	if (ms_dist_gather(mine, 2 * g->local, all) < 0)
		return -1;
	*loss = all[0];
	*aux = all[1];
	for (int q = 1; q < g->P; q++) {
		*loss += all[2 * q];
		*aux += all[2 * q + 1];
	}
	return 0;
}

int ms_train_best_meta(char *buf, size_t n, double val, long step)
{
	return step < 0 ? snprintf(buf, n, "%s", "") :
	       snprintf(buf, n, "best_val=%.17g\nbest_step=%ld\n", val, step);
}

int ms_train_best_read(const ms_rec *m, double *val, long *step)
{
	char v[64], w[64];
	*val = -1;
	*step = -1;
	if (!ms_meta_get(m, "best_step", v, sizeof v))
		return 0;
	if (!ms_meta_get(m, "best_val", w, sizeof w) || ms_parse_int(v, 0, 1L << 40, step) < 0 ||
	    ms_parse_double(w, 0, 1, val) < 0) {
		*val = -1;
		*step = -1;
		return ms_error("checkpoint has an invalid best_step=%s or best_val", v);
	}
	return 0;
}
