/* One training loop for every model (the segmentor, the refiner, the generator): steps or
 * a time budget, the learning-rate schedule, reports with validation, progress on stderr
 * (one line that updates on a terminal, else one line per report), a TSV log a user can
 * plot, checkpoints every N steps and at the end, and SIGINT/SIGTERM: checkpoint, stop.
 * A model plugs in its step, validation and checkpoint as callbacks; its data, batches
 * and loss stay its own.
 *
 * Data parallel (core/dist.h: under mpirun every rank runs the loop): every rank takes
 * every step, computing its parts of the batch (ms_grads below); rank 0 alone validates,
 * reports, logs and writes checkpoints; a signal on any rank, or the time budget, stops
 * every rank after the same step. */
#ifndef MS_TRAIN_H
#define MS_TRAIN_H

#include "io/stream.h"
#include "nn/nn.h"

typedef struct {
	/* the run */
	long steps;                   /* the last step; with a time budget, an estimate */
	double time, time_used;       /* budget in seconds (0: none) and what earlier runs of
	                               * it used; time_used is updated */
	long report;                  /* progress and validation every N steps (0: steps/20) */
	long save_every;              /* checkpoint every N steps (0: at the end only) */
	int batch;                    /* images per step, for img/s */
	int validate_first;           /* validate before the first step too */
	const char *log;              /* TSV log (appended to; NULL: none) */
	const char *out;              /* the checkpoint, for messages */
	const char *metric;           /* the validation metric's name on the progress line
	                               * (not shown without validate) and in the log (NULL:
	                               * val) */
	const char *aux;              /* the second loss's name (NULL: aux) */
	/* the learning rate: ms_lr_at(schedule, lr, step, steps, warmup), or on the fraction
	 * of the time budget used when there is one */
	int schedule;
	double lr;
	long warmup;
	/* the model */
	void *ctx;
	/* one step at index s with learning rate lr: *loss (and *aux, a second loss to show,
	 * when not NAN); -1 on error */
	int (*step)(void *ctx, long s, double lr, double *loss, double *aux);
	/* after step s: *metric (-1: no validation data); -1 on error (may be NULL) */
	int (*validate)(void *ctx, long s, double *metric);
	/* the run's best metric and its step, kept where the model keeps them (NULL: not
	 * tracked): -1 for none, or a resumed run's from its checkpoint (ms_train_best_read).
	 * After a validation above *best, keep (may be NULL) writes the weights of step s
	 * (-1 on error), then *best and *best_step are updated */
	double *best;
	long *best_step;
	int (*keep)(void *ctx, long s, double metric);
	/* a checkpoint after step s; -1 on error */
	int (*save)(void *ctx, long s, double metric);
} ms_train;

/* runs from step *s (resume) to t->steps or the budget or a signal; *s is the last step
 * done, checkpointed. Returns 0 when done, the signal number when stopped by one
 * (checkpoint written, message on stderr), -1 with the reason (a non-finite loss writes
 * no checkpoint). *metric (may be NULL) gets the last validation value (-1: none). */
int ms_train_run(ms_train *t, long *s, double *metric);

/* the best validation metric of a run with --best and its step, kept in the run's
 * checkpoint so that a resumed run counts the best of the runs before it: appended to
 * the checkpoint's metadata as "best_val=V\nbest_step=S\n" (nothing when step < 0;
 * returns the length written, as snprintf), and read back from its model record
 * (absent: *val = -1, *step = -1; -1 with the reason when present but invalid) */
int ms_train_best_meta(char *buf, size_t n, double val, long step);
int ms_train_best_read(const ms_rec *m, double *val, long *step);

/* ---- the gradient of a batch in parts. The batch of B samples is cut into P parts of
 * B/P consecutive samples; the gradient (and the loss) is part 0 + part 1 + ... added in
 * part order, each part computed alone. The ranks share the parts, rank r the P/size
 * parts from r * P/size on: with the same P, any number of ranks gives the same bits
 * as one. P = 1 on one rank is the plain step: the gradient goes straight into the
 * parameters' g. */
typedef struct {
	ms_params *ps;
	int B, P, local;              /* batch, parts, parts per rank */
	size_t n;                     /* floats of gradient */
	float *buf;                   /* local parts, then their sum (P > 1) */
	double *loss;                 /* loss and aux of every part, then of the local ones */
} ms_grads;
/* P = 0: as many as ranks; -1 with the reason when the ranks do not divide P or P does
 * not divide B */
int ms_grads_init(ms_grads *g, ms_params *ps, int B, int P);
void ms_grads_free(ms_grads *g);
/* part(ctx, b0, b1, w, loss, aux): the gradient of samples [b0, b1) of the batch into
 * the parameters' g (zeroed before), weighted by w = (b1 - b0) / B as its share of the
 * batch's mean, and the part's share of the loss (its own mean times w) in *loss and,
 * if it has one, *aux (NAN before); -1 on error. Leaves the batch's gradient in g and its
 * loss in *loss, *aux. */
typedef int ms_grads_part(void *ctx, int b0, int b1, double w, double *loss, double *aux);
int ms_grads_step(ms_grads *g, ms_grads_part *part, void *ctx, double *loss, double *aux);

#endif
