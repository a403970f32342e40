/* ms-refine: train HiDiff's Bernoulli diffusion refiner on samples with image, mask and
 * a prior prob (optionally alternating with the segmentor), or refine every sample's
 * prob and pred with it, adding the per-pixel uncertainty. */
#include <stdlib.h>
#include <string.h>

#include "core/ms.h"
#include "io/sample.h"
#include "models/refine.h"
#include "models/train.h"
#include "nn/gemm.h"

static const char usage[] =
	"train -o MODEL [--steps N] [--batch B] [--lr X] [--wd X] [--lr-schedule S]\n"
	"       [--T T] [--schedule linear|cosine] [--loss bce|focal] [--output residual|direct]\n"
	"       [--posterior ancestral|mixture]\n"
	"       [--seed S] [--threads T] [--precision P] [--width W] [--resume]\n"
	"       [--save-every N] [--report N]\n"
	"       [--val-fraction F [--best FILE]] [--parts P]\n"
	"       [--segmentor SEGMODEL --alternate [--lambda L] [--segmentor-out FILE]]\n"
	"   or: ms-refine -m MODEL [--samples K] [--steps N] [--sampler ancestral|ddim|mixture]\n"
	"       [--seed S] [--threads T] [--precision P] [--shard K/N]";

enum { TRAIN = 1, REFINE = 2 };
enum { VAL_SAMPLES = 4 };   /* reverse runs averaged per validation image */
static ms_refine_train t;   /* train's options (defaults set in main) and run */
static const char *model, *logpath;
static long steps = 2000, threads = 0, save_every = 500, report = 0, samples = 1;
static int sampler = -1;     /* -1: the model's posterior */
static ms_shard shard;
static ms_opt opts[] = {
	MS_OPT_INT("steps", 0, &steps, 1, 1e8, "N", "training steps (2000); -m: reverse steps (default T)"),
	MS_OPT_SEED(0, &t.seed, "initialisation, batches and noise (0)"),
	MS_OPT_INT("threads", 0, &threads, 1, 1024, "T", "threads (default MS_THREADS or all cores)"),
	MS_OPT_PRECISION,
	MS_OPT_GROUP("train", "train", TRAIN),
	MS_OPT_STR(NULL, 'o', &t.out, "MODEL", "checkpoint to write"),
	MS_OPT_INT("batch", 0, &t.batch, 1, 4096, "B", "batch size (8)"),
	MS_OPT_NUM("lr", 0, &t.lr, 0, 10, "X", "AdamW learning rate (1e-4)"),
	MS_OPT_NUM("wd", 0, &t.wd, 0, 10, "X", "AdamW weight decay (0.01)"),
	MS_OPT_CHOICE("lr-schedule", 0, &t.lr_schedule, ms_lr_names, "learning rate schedule (poly)"),
	MS_OPT_INT("T", 0, &t.T, 1, MS_BBDM_TMAX, "T", "diffusion steps (10)"),
	MS_OPT_CHOICE("schedule", 0, &t.schedule, ms_bbdm_schedule_names,
	              "linear (ab_t = 1 - t/T, default) or cosine"),
	MS_OPT_CHOICE("loss", 0, &t.flip, ms_refine_loss_names,
	              "flip loss: bce (default) or focal (gamma 2)"),
	MS_OPT_CHOICE("output", 0, &t.output, ms_refine_output_names,
	              "direct (default): the network gives the flip logit;\n"
	              "residual: it corrects the prior's own flip logit"),
	MS_OPT_CHOICE("posterior", 0, &t.posterior, ms_bbdm_sampler_names,
	              "the model's posterior in the loss:\n"
	              "ancestral (default, HiDiff's) or mixture (exact)"),
	MS_OPT_INT("width", 0, &t.width, 8, 1024, "W", "U-Net base width, a multiple of 8 (32)"),
	MS_OPT_FLAG("resume", 0, &t.resume, "continue training MODEL"),
	MS_OPT_PARTS(&t.parts),
	MS_OPT_INT("save-every", 0, &save_every, 0, 1e8, "N", "checkpoint every N steps (500, 0 = at the end)"),
	MS_OPT_INT("report", 0, &report, 1, 1e8, "N", "progress (and validation) every N steps (steps/20)"),
	MS_OPT_NUM("val-fraction", 0, &t.val_fraction, 0, 0.9, "F", "samples held out by hash of id to validate on (0)"),
	MS_OPT_STR("best", 0, &t.best, "FILE", "write the weights of the best validation Dice there"),
	MS_OPT_STR("log", 0, &logpath, "FILE", "append step, loss, segmentor (its loss with\n"
	           "--alternate), val_dice, img/s, lr, seconds per report"),
	MS_OPT_STR("segmentor", 0, &t.segpath, "FILE", "segmentor checkpoint (ms-segment) for --alternate"),
	MS_OPT_FLAG("alternate", 0, &t.alternate, "alternate refiner and segmentor steps (HiDiff)"),
	MS_OPT_NUM("lambda", 0, &t.lambda, 0, 1e6, "L", "weight of the diffusion loss for the segmentor (0.1)"),
	MS_OPT_STR("segmentor-out", 0, &t.segout, "F", "where the segmentor goes (default: over --segmentor)"),
	MS_OPT_GROUP("refine", "-m", REFINE),
	MS_OPT_STR(NULL, 'm', &model, "MODEL", "refine with MODEL"),
	MS_OPT_INT("samples", 0, &samples, 1, 1024, "K", "reverse runs averaged per image (1)"),
	MS_OPT_CHOICE("sampler", 0, &sampler, ms_bbdm_sampler_names,
	              "ancestral, ddim or mixture (default: the\n"
	              "model's --posterior)"),
	MS_OPT_SHARD(&shard),
	MS_OPT_END
};

static void options(int argc, char **argv, int train)
{
	static const char about[] =
		"Train the Bernoulli diffusion refiner on samples with image, mask and prob\n"
		"(train), or refine prob and pred of every sample with image and prob (-m).";
	int i = ms_opt_parse(opts, usage, about, train ? TRAIN : REFINE, argc, argv);
	if (i != argc)
		usage_error(usage, "unexpected argument '%s'", argv[i]);
	if (!train) {
		if (!model)
			usage_error(usage, "-m MODEL is needed (or train -o MODEL)");
		return;
	}
	if (!t.out)
		usage_error(usage, "train needs -o MODEL");
	if (t.alternate != (t.segpath != NULL))
		usage_error(usage, "--alternate and --segmentor go together");
	if (!t.alternate && (ms_opt_given(opts, "lambda") || t.segout))
		usage_error(usage, "--lambda and --segmentor-out need --alternate");
	if (t.posterior == MS_BBDM_DDIM)
		usage_error(usage, "--posterior: ancestral or mixture (ddim is a sampler only)");
	if (t.width % 8)
		usage_error(usage, "--width %ld: must be a multiple of 8", t.width);
	if (t.best && !(t.val_fraction > 0))
		usage_error(usage, "--best needs --val-fraction");
}

/* ---- refining */
static int refine_one(ms_sample *s, void *ctx)
{
	static long idx;            /* of the whole stream: a shard draws as the whole */
	ms_refiner *r = ctx;
	if (!ms_shard_has(&shard, s->id)) {
		idx++;
		return 0;
	}
	if (ms_refine_sample(r, s, (int)samples, ms_opt_given(opts, "steps") ? (int)steps : r->bb.T,
	                     sampler, (uint64_t)t.seed, idx++) < 0)
		die("%s", ms_errmsg());
	if (ms_sample_write(stdout, s) < 0)
		die("cannot write <stdout>: %s", ms_errmsg());
	return 0;
}

static void refine(void)
{
	if (ms_dist_single("refinement") < 0)
		die("%s", ms_errmsg());
	ms_threads((int)threads);
	ms_refiner *r = ms_refiner_load(model, NULL, NULL);
	if (!r)
		die("%s", ms_errmsg());
	if (sampler < 0)
		sampler = r->posterior;
	if (ms_sample_each(stdin, "<stdin>", refine_one, r) < 0)
		die("%s", ms_errmsg());
	ms_refiner_free(r);
}

/* ---- training */
static int add_one(ms_sample *s, void *ctx)
{
	return ms_refine_train_add(ctx, s) < 0 ? -1 : 0;
}

/* the training samples into t.d, those held out for validation into t.v */
static void read_set(void)
{
	FILE *in = ms_dist_stream(stdin, "<stdin>");     /* rank 0's, on every rank */
	if (!in || ms_sample_each(in, "<stdin>", add_one, &t) < 0)
		die("%s", ms_errmsg());
	if (in != stdin)
		fclose(in);
	if (ms_refine_train_check(&t) < 0)
		die("%s", ms_errmsg());
	if (t.best && !t.v.n)
		die("--val-fraction %g holds out none of the %d samples", t.val_fraction, t.d.n);
	if (t.skipped && !ms_dist_rank())
		warn("%d samples without image, mask%s skipped", t.skipped, t.alternate ? "" : " or prob");
}

/* options that --resume takes from the checkpoint unless given; a value there that the
 * option would refuse is an error (absent: the default) */
static void resume_opts(const ms_rec *m)
{
	static const char *const keys[][2] = { { "batch", "batch" }, { "lr", "lr" },
		{ "wd", "wd" }, { "lambda", "lambda" }, { "seed", "seed" },
		{ "lr-schedule", "lr_schedule" }, MS_CKPT_PRECISION };
	if (ms_ckpt_opts(opts, m, keys, sizeof keys / sizeof *keys) < 0)
		die("%s: %s", t.out, ms_errmsg());
}

/* the training framework's callbacks (models/train.h) */
static int run_step(void *ctx, long step, double lr, double *loss, double *aux)
{
	return ms_refine_train_step(ctx, step, lr, loss, aux);
}

/* validation Dice at this step (and the prior's) */
static int run_validate(void *ctx, long step, double *metric)
{
	(void)ctx;
	*metric = -1;
	if (!t.v.n)
		return 0;
	double vd = ms_refiner_validate(t.r, &t.v, VAL_SAMPLES, (uint64_t)t.seed, &t.vprior);
	if (vd < 0)
		die("%s", ms_errmsg());
	warn("step %ld validation Dice %.4f (prior %.4f, %d images)%s", step, vd, t.vprior, t.v.n,
	     t.best && vd > t.vbest ? ", best so far" : "");
	*metric = vd;
	return 0;
}

/* a new best goes to --best */
static int run_keep(void *ctx, long step, double metric)
{
	(void)metric;
	if (ms_refine_train_best(ctx, step) < 0)
		die("%s", ms_errmsg());
	return 0;
}

static int run_save(void *ctx, long step, double metric)
{
	(void)metric;
	if (ms_refine_train_save(ctx, step) < 0)
		die("%s", ms_errmsg());
	return 0;
}

static void train(void)
{
	if (ms_dist_init() < 0)
		die("%s", ms_errmsg());
	ms_threads((int)threads);
	read_set();
	if (ms_refine_train_open(&t) < 0)
		die("%s", ms_errmsg());
	if (t.resume)
		resume_opts(&t.m);
	if (ms_refine_train_setup(&t) < 0)
		die("%s", ms_errmsg());
	if (!report)
		report = steps / 20 > 0 ? steps / 20 : 1;
	char held[32] = "";
	if (t.v.n)
		snprintf(held, sizeof held, " (%d validation)", t.v.n);
	if (!ms_dist_rank())            /* rank 0 speaks for all */
		warn("%d samples%s %dx%dx%d, steps %ld from %ld", t.d.n + t.v.n, held, t.d.C, t.d.W,
		     t.d.H, steps, t.step);
	ms_train tr = { .steps = steps, .report = report, .save_every = save_every,
	                .batch = (int)t.batch, .validate_first = 1, .log = logpath, .out = t.out,
	                .metric = "val_dice", .aux = "segmentor", .schedule = t.lr_schedule,
	                .lr = t.lr, .ctx = &t, .step = run_step, .validate = run_validate,
	                .best = &t.vbest, .best_step = &t.sbest, .keep = t.best ? run_keep : NULL,
	                .save = run_save };
	long step = t.step;
	int sig = ms_train_run(&tr, &step, NULL);
	if (sig < 0)
		die("%s", ms_errmsg());
	if (sig)
		exit(128 + sig);
	if (t.v.n && !ms_dist_rank())
		warn("done: best validation Dice %.4f (prior %.4f)%s%s", t.vbest, t.vprior,
		     t.best ? ", weights in " : "", t.best ? t.best : "");
	ms_refine_train_free(&t);
	ms_dist_end();
}

int main(int argc, char **argv)
{
	ms_setprog(argv);
	ms_refine_train_default(&t);
	int tr = argc > 1 && !strcmp(argv[1], "train");
	options(argc - tr, argv + tr, tr);
	if (tr)
		train();
	else
		refine();
	return fshut(stdout, "<stdout>");
}
