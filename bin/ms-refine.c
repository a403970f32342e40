/* ms-refine: train HiDiff's Bernoulli diffusion refiner on samples with image, mask and
 * a prior prob (optionally alternating with the segmentor), or refine every sample's
 * prob and pred with it, adding the per-pixel uncertainty. */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/ms.h"
#include "io/sample.h"
#include "io/stream.h"
#include "models/refine.h"
#include "models/segment.h"
#include "models/train.h"

static const char usage[] =
	"train -o MODEL [--steps N] [--batch B] [--lr X] [--wd X] [--lr-schedule S]\n"
	"       [--T T] [--schedule linear|cosine] [--loss bce|focal] [--output residual|direct]\n"
	"       [--seed S] [--threads T] [--width W] [--resume] [--save-every N] [--report N]\n"
	"       [--val-fraction F [--best FILE]]\n"
	"       [--segmentor SEGMODEL --alternate [--lambda L] [--segmentor-out FILE]]\n"
	"   or: ms-refine -m MODEL [--samples K] [--steps N] [--sampler ancestral|ddim]\n"
	"       [--seed S] [--threads T]";

enum { TRAIN = 1, REFINE = 2 };
enum { VAL_SAMPLES = 4 };   /* reverse runs averaged per validation image */
static const char *out, *model, *segpath, *segout, *best, *logpath;
static long steps = 2000, batch = 8, T = 10, seed = 0, threads = 0, width = 32, save_every = 500,
            report = 0, samples = 1;
static double lr = 1e-4, wd = 0.01, lambda = 0.1, val_fraction;
static int lrs = MS_LR_POLY, sched = MS_BBDM_LINEAR, flip = MS_BBDM_BCE,
           output = MS_REFINE_DIRECT, resume, alternate, sampler = MS_BBDM_ANCESTRAL;
static const char *const lrn[] = { "constant", "cosine", "poly", NULL },
                         *const sn[] = { "linear", "cosine", NULL },
                         *const ln[] = { "focal", "bce", NULL },
                         *const on[] = { "direct", "residual", NULL },
                         *const smp[] = { "ancestral", "ddim", NULL };
static ms_opt opts[] = {
	MS_OPT_INT("steps", 0, &steps, 1, 1e8, "N", "training steps (2000); -m: reverse steps (default T)"),
	MS_OPT_INT("seed", 0, &seed, 0, 0x1p62, "S", "initialisation, batches and noise (0)"),
	MS_OPT_INT("threads", 0, &threads, 1, 1024, "T", "threads (default MS_THREADS or all cores)"),
	MS_OPT_GROUP("train", "train", TRAIN),
	MS_OPT_STR(NULL, 'o', &out, "MODEL", "checkpoint to write"),
	MS_OPT_INT("batch", 0, &batch, 1, 4096, "B", "batch size (8)"),
	MS_OPT_NUM("lr", 0, &lr, 0, 10, "X", "AdamW learning rate (1e-4)"),
	MS_OPT_NUM("wd", 0, &wd, 0, 10, "X", "AdamW weight decay (0.01)"),
	MS_OPT_CHOICE("lr-schedule", 0, &lrs, lrn, "learning rate schedule (poly)"),
	MS_OPT_INT("T", 0, &T, 1, MS_BBDM_TMAX, "T", "diffusion steps (10)"),
	MS_OPT_CHOICE("schedule", 0, &sched, sn, "linear (ab_t = 1 - t/T, default) or cosine"),
	MS_OPT_CHOICE("loss", 0, &flip, ln, "flip loss: bce (default) or focal (gamma 2)"),
	MS_OPT_CHOICE("output", 0, &output, on, "direct (default): the network gives the flip logit;\n"
	              "residual: it corrects the prior's own flip logit"),
	MS_OPT_INT("width", 0, &width, 8, 1024, "W", "U-Net base width, a multiple of 8 (32)"),
	MS_OPT_FLAG("resume", 0, &resume, "continue training MODEL"),
	MS_OPT_INT("save-every", 0, &save_every, 0, 1e8, "N", "checkpoint every N steps (500, 0 = at the end)"),
	MS_OPT_INT("report", 0, &report, 1, 1e8, "N", "progress (and validation) every N steps (steps/20)"),
	MS_OPT_NUM("val-fraction", 0, &val_fraction, 0, 0.9, "F", "samples held out by hash of id to validate on (0)"),
	MS_OPT_STR("best", 0, &best, "FILE", "write the weights of the best validation Dice there"),
	MS_OPT_STR("log", 0, &logpath, "FILE", "append step, loss, segmentor (its loss with\n"
	           "--alternate), val_dice, img/s, lr, seconds per report"),
	MS_OPT_STR("segmentor", 0, &segpath, "FILE", "segmentor checkpoint (ms-segment) for --alternate"),
	MS_OPT_FLAG("alternate", 0, &alternate, "alternate refiner and segmentor steps (HiDiff)"),
	MS_OPT_NUM("lambda", 0, &lambda, 0, 1e6, "L", "weight of the diffusion loss for the segmentor (0.1)"),
	MS_OPT_STR("segmentor-out", 0, &segout, "F", "where the segmentor goes (default: over --segmentor)"),
	MS_OPT_GROUP("refine", "-m", REFINE),
	MS_OPT_STR(NULL, 'm', &model, "MODEL", "refine with MODEL"),
	MS_OPT_INT("samples", 0, &samples, 1, 1024, "K", "reverse runs averaged per image (1)"),
	MS_OPT_CHOICE("sampler", 0, &sampler, smp, "ancestral (default) or ddim"),
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
	if (!out)
		usage_error(usage, "train needs -o MODEL");
	if (alternate != (segpath != NULL))
		usage_error(usage, "--alternate and --segmentor go together");
	if (!alternate && (ms_opt_given(opts, "lambda") || segout))
		usage_error(usage, "--lambda and --segmentor-out need --alternate");
	if (width % 8)
		usage_error(usage, "--width %ld: must be a multiple of 8", width);
	if (best && !(val_fraction > 0))
		usage_error(usage, "--best needs --val-fraction");
}

/* ---- samples (io/sample.h) */
typedef ms_sample sample;

/* the index of the record it uses as data, decoded, non-finite values refused
 * (ms-stream(5)); -1 if none */
static int find(sample *s, const char *name)
{
	if (ms_sample_get(s, name))
		return ms_sample_find(s, name);
	if (*ms_errmsg())
		die("%s", ms_errmsg());
	return -1;
}

/* reads the next sample; 0 at the end */
static int next(ms_reader *rd, sample *s)
{
	int ret = ms_sample_next(rd, s);
	if (ret < 0)
		die("%s", ms_errmsg());
	return ret;
}

/* image [C,H,W] f32 and a [1,H,W] record of dtype dt at index k; H, W checked */
static int shaped(const sample *s, int k, int dt, const ms_tensor *im, const char *what)
{
	const ms_tensor *t = &s->rec[k].t;
	if (t->dtype != dt || t->rank != 3 || t->shape[0] != 1 || t->shape[1] != im->shape[1] ||
	    t->shape[2] != im->shape[2])
		die("sample '%s': %s must be %s [1,%lld,%lld] like the image", s->id, what,
		    ms_dtype_name(dt), (long long)im->shape[1], (long long)im->shape[2]);
	return k;
}

static const ms_tensor *image_of(sample *s)
{
	int k = find(s, "image");
	if (k < 0)
		return NULL;
	ms_tensor *t = &s->rec[k].t;
	if (t->rank != 3 || t->shape[0] < 1 || t->shape[0] > 8 || t->shape[1] % 4 ||
	    t->shape[2] % 4 || !t->shape[1] || !t->shape[2] || ms_tensor_to_f32(t, 1) < 0)
		die("sample '%s': image must be [C,H,W], C 1..8, H and W multiples of 4", s->id);
	return t;
}

/* ---- refining */
static void put(const ms_rec *src, const char *name, ms_tensor *t)
{
	ms_rec r;
	ms_rec_init(&r);
	if (ms_meta_copy(&r, src) < 0 || ms_rec_set_name(&r, name) < 0 || ms_rec_set(&r, name, t) < 0 ||
	    ms_rec_write(stdout, &r) < 0)
		die("cannot write <stdout>: %s", ms_errmsg());
	ms_rec_free(&r);
}

static void write_all(const sample *s)
{
	if (ms_sample_write(stdout, s) < 0)
		die("cannot write <stdout>: %s", ms_errmsg());
}

static void refine_one(ms_refiner *r, sample *s, long idx)
{
	const ms_tensor *im = image_of(s);
	int kp = find(s, "prob");
	if (!im || kp < 0 || im->shape[0] != r->C) {
		if (im && kp >= 0)
			die("sample '%s': image has %lld channels, the model takes %d", s->id,
			    (long long)im->shape[0], r->C);
		write_all(s);
		return;
	}
	shaped(s, kp, MS_F32, im, "prob");
	int kq = find(s, "pred"), H = (int)im->shape[1], W = (int)im->shape[2];
	if (kq >= 0)
		shaped(s, kq, MS_U8, im, "pred");
	ms_tensor prob, unc, pred;
	int64_t shape[3] = { 1, H, W };
	if (ms_tensor_alloc(&prob, MS_F32, 3, shape) < 0 || ms_tensor_alloc(&unc, MS_F32, 3, shape) < 0 ||
	    ms_tensor_alloc(&pred, MS_U8, 3, shape) < 0)
		die("%s", ms_errmsg());
	ms_rng rng;
	ms_rng_init(&rng, (uint64_t)seed, *s->id ? ms_hash64(s->id) : (uint64_t)idx);
	if (ms_refiner_run(r, H, W, im->data, s->rec[kp].t.data, (int)samples,
	                   ms_opt_given(opts, "steps") ? (int)steps : r->bb.T, sampler, &rng, prob.data, unc.data) < 0)
		die("%s", ms_errmsg());
	for (int i = 0; i < H * W; i++)
		((uint8_t *)pred.data)[i] = ((float *)prob.data)[i] > 0.5f;
	/* prob and pred replaced in place; earlier prior, prior_pred, uncertainty dropped */
	for (int i = 0; i < s->n; i++) {
		const char *n = s->rec[i].name;
		if (i == kp)
			put(&s->rec[i], "prob", &prob);
		else if (i == kq)
			put(&s->rec[i], "pred", &pred);
		else if (strcmp(n, "prior") && strcmp(n, "prior_pred") && strcmp(n, "uncertainty") &&
		         ms_rec_write(stdout, &s->rec[i]) < 0)
			die("cannot write <stdout>: %s", ms_errmsg());
	}
	if (kq < 0)
		put(&s->rec[kp], "pred", &pred);
	/* appended: the prior (and its pred) under new names, the uncertainty */
	put(&s->rec[kp], "uncertainty", &unc);
	int keep[2] = { kp, kq };
	const char *as[2] = { "prior", "prior_pred" };
	for (int j = 0; j < 2; j++)
		if (keep[j] >= 0 && (ms_rec_set_name(&s->rec[keep[j]], as[j]) < 0 ||
		                     ms_rec_write(stdout, &s->rec[keep[j]]) < 0))
			die("cannot write <stdout>: %s", ms_errmsg());
}

static void refine(void)
{
	sample s;
	ms_reader rd;
	long idx = 0;
	ms_threads((int)threads);
	ms_refiner *r = ms_refiner_load(model, NULL, NULL);
	if (!r)
		die("%s", ms_errmsg());
	ms_sample_init(&s);
	ms_reader_init(&rd, stdin, "<stdin>");
	while (next(&rd, &s))
		refine_one(r, &s, idx++);
	ms_sample_free(&s);
	ms_reader_free(&rd);
	ms_refiner_free(r);
}

/* ---- training */
static const char *const lr_names[] = { "constant", "cosine", "poly" };

/* the shortest of %.15g and %.17g that reads back as x */
static const char *dbl(char *b, double x)
{
	snprintf(b, 32, "%.15g", x);
	if (strtod(b, NULL) != x)
		snprintf(b, 32, "%.17g", x);
	return b;
}

/* extra metadata of the refiner: what --resume takes back */
static char *extra_of(void)
{
	char *e = emalloc(512), b[3][32];
	snprintf(e, 512, "batch=%ld\nlr=%s\nwd=%s\nlr_schedule=%s\nseed=%ld\nlambda=%s\n"
	         "alternate=%d\n", batch, dbl(b[0], lr), dbl(b[1], wd), lr_names[lrs], seed,
	         dbl(b[2], lambda), alternate);
	return e;
}

/* the segmentor keeps its own metadata, less what ms_unet_save writes */
static char *seg_extra(const ms_rec *m)
{
	static const char *const own[] = { "arch", "in", "out", "width", "mult", "nres", "attn",
	                                   "temb", "groups", "step", "adam_t" };
	char *e = ecalloc(1, m->meta_len + 1), *o = e;
	for (const char *p = m->meta; p && *p;) {
		const char *nl = strchr(p, '\n'), *eq = strchr(p, '=');
		size_t len = nl ? (size_t)(nl - p) : strlen(p), skip = 0;
		for (size_t i = 0; eq && i < sizeof own / sizeof *own; i++)
			skip |= strlen(own[i]) == (size_t)(eq - p) && !strncmp(p, own[i], eq - p);
		if (!skip) {
			memcpy(o, p, len);
			o += len;
			*o++ = '\n';
		}
		p += len + (nl != NULL);
	}
	*o = '\0';
	return e;
}

static void save(ms_refiner *r, const ms_adam *a, ms_unet *seg, const ms_adam *sa,
                 const ms_rec *segm, long step, long segstep)
{
	ms_stop_hold();
	char *e = extra_of();
	if (ms_refiner_save(r, out, a, step, e) < 0)
		die("%s", ms_errmsg());
	free(e);
	if (seg) {
		e = seg_extra(segm);
		if (ms_unet_save(seg, segout, sa, segstep, e) < 0)
			die("%s", ms_errmsg());
		free(e);
	}
	ms_stop_release();
}

/* the training samples into d, those held out for validation into v */
static void read_set(ms_refine_set *d, ms_refine_set *v)
{
	sample s;
	ms_reader rd;
	int skipped = 0;
	ms_sample_init(&s);
	ms_reader_init(&rd, stdin, "<stdin>");
	while (next(&rd, &s)) {
		const ms_tensor *im = image_of(&s);
		int km = find(&s, "mask"), kp = find(&s, "prob");
		if (!im || km < 0 || (kp < 0 && !alternate)) {
			skipped++;
			continue;
		}
		shaped(&s, km, MS_U8, im, "mask");
		if (kp >= 0)
			shaped(&s, kp, MS_F32, im, "prob");
		ms_refine_set *to = kp >= 0 && ms_seg_is_val(s.id, val_fraction) ? v : d;
		if (ms_refine_set_add(to, (int)im->shape[0], (int)im->shape[1], (int)im->shape[2],
		                      im->data, s.rec[km].t.data, kp >= 0 ? s.rec[kp].t.data : NULL) < 0)
			die("sample '%s': %s", s.id, ms_errmsg());
	}
	ms_sample_free(&s);
	ms_reader_free(&rd);
	if (!d->n)
		die("no %ssamples with image, mask%s", v->n ? "training " : "",
		    alternate ? "" : " and prob");
	if (best && !v->n)
		die("--val-fraction %g holds out none of the %d samples", val_fraction, d->n);
	if (v->n && (v->C != d->C || v->H != d->H || v->W != d->W))
		die("validation samples of %dx%dx%d differ from the training ones, %dx%dx%d", v->C,
		    v->W, v->H, d->C, d->W, d->H);
	if (skipped)
		warn("%d samples without image, mask%s skipped", skipped, alternate ? "" : " or prob");
}

/* options that --resume takes from the checkpoint unless given; a value there that the
 * option would refuse is an error (absent: the default) */
static void resume_opts(const ms_rec *m)
{
	static const char *const keys[][2] = { { "batch", "batch" }, { "lr", "lr" },
		{ "wd", "wd" }, { "lambda", "lambda" }, { "seed", "seed" },
		{ "lr-schedule", "lr_schedule" } };
	if (ms_ckpt_opts(opts, m, keys, sizeof keys / sizeof *keys) < 0)
		die("%s: %s", out, ms_errmsg());
}

/* validation Dice at this step (and the prior's); a new best above vbest goes to --best */
static double validate(ms_refiner *r, const ms_refine_set *v, long step, double vbest,
                       double *prior)
{
	double vd = ms_refiner_validate(r, v, VAL_SAMPLES, (uint64_t)seed, prior);
	if (vd < 0)
		die("%s", ms_errmsg());
	warn("step %ld validation Dice %.4f (prior %.4f, %d images)%s", step, vd, *prior, v->n,
	     best && vd > vbest ? ", best so far" : "");
	if (best && vd > vbest) {
		ms_stop_hold();
		char *e = extra_of();
		if (ms_refiner_save(r, best, NULL, step, e) < 0)
			die("%s", ms_errmsg());
		free(e);
		ms_stop_release();
	}
	return vd;
}

/* the training framework's callbacks (models/train.h) */
typedef struct {
	ms_refine_set *d, *v;
	ms_refiner *r;
	ms_unet *seg;
	ms_adam *a, *sa;
	const ms_rec *segm;
	float *img, *y0, *p;
	long from, seg0;
	double vbest, vprior;
} run;

static int run_step(void *ctx, long step, double lr_, double *loss, double *aux)
{
	run *t = ctx;
	ms_rng rng;
	ms_rng_init(&rng, (uint64_t)seed, (uint64_t)step);
	t->a->lr = lr_;
	ms_refine_set_batch(t->d, (int)batch, &rng, t->img, t->y0, t->p);
	if (!t->seg) {
		*loss = ms_refiner_step(t->r, t->a, t->img, t->y0, t->p, &rng);
		return 0;
	}
	t->sa->lr = lr_;
	return ms_refiner_alt_step(t->r, t->a, t->seg, t->sa, lambda, t->img, t->y0, &rng, loss,
	                           aux);
}

static int run_validate(void *ctx, long step, double *metric)
{
	run *t = ctx;
	*metric = -1;
	if (t->v->n) {
		*metric = validate(t->r, t->v, step, t->vbest, &t->vprior);
		t->vbest = *metric > t->vbest ? *metric : t->vbest;
	}
	return 0;
}

static int run_save(void *ctx, long step, double metric)
{
	run *t = ctx;
	(void)metric;
	save(t->r, t->a, t->seg, t->sa, t->segm, step, t->seg0 + step - t->from);
	return 0;
}

static void train(void)
{
	ms_refine_set d = { 0 }, v = { 0 };
	ms_adam a, sa;
	ms_rec m, segm;
	ms_refiner *r;
	ms_unet *seg = NULL;
	long step = 0, seg0 = 0;
	ms_rec_init(&m);
	ms_rec_init(&segm);
	ms_threads((int)threads);
	read_set(&d, &v);
	memset(&a, 0, sizeof a);
	if (resume) {
		char sv[32];
		if (!(r = ms_refiner_load(out, &a, &m)))
			die("%s", ms_errmsg());
		if (ms_meta_get(&m, "step", sv, sizeof sv) && ms_parse_int(sv, 0, 100000000, &step) < 0)
			die("%s: checkpoint has an invalid step=%s", out, sv);
		resume_opts(&m);
	} else if (!(r = ms_refiner_new(d.C, (int)width, (int)T, sched, flip, output,
	                                (uint64_t)seed))) {
		die("%s", ms_errmsg());
	}
	long at = a.t;
	ms_adam_init(&a, lr, wd, 1);
	a.t = at;
	if (r->C != d.C)
		die("%s takes %d image channels, the samples have %d", out, r->C, d.C);
	if (alternate) {
		if (!segout)
			segout = segpath;
		memset(&sa, 0, sizeof sa);
		if (!(seg = ms_unet_load(segpath, &sa, &segm)))
			die("%s", ms_errmsg());
		char sv[32];
		if (ms_meta_get(&segm, "step", sv, sizeof sv))
			ms_parse_int(sv, 0, 1L << 40, &seg0);
		const ms_unet_cfg *c = ms_unet_cfg_of(seg);
		if (c->in_ch != d.C || c->out_ch != 1 || c->temb)
			die("%s: segmentor must take %d channels and give 1", segpath, d.C);
		long st = sa.t;
		ms_adam_init(&sa, lr, wd, 1);
		sa.t = st;
		if (ms_unet_plan(seg, (int)batch, d.H, d.W, 1) < 0)
			die("%s", ms_errmsg());
	}
	if (ms_refiner_plan(r, (int)batch, d.H, d.W, 1) < 0)
		die("%s", ms_errmsg());
	size_t hw = (size_t)d.H * d.W;
	float *img = ecalloc(batch * hw, (d.C + 2) * sizeof(float)), *y0 = img + batch * hw * d.C,
	      *p = y0 + batch * hw;
	if (!report)
		report = steps / 20 > 0 ? steps / 20 : 1;
	char held[32] = "";
	if (v.n)
		snprintf(held, sizeof held, " (%d validation)", v.n);
	warn("%d samples%s %dx%dx%d, steps %ld from %ld", d.n + v.n, held, d.C, d.W, d.H, steps,
	     step);
	run t = { &d, &v, r, seg, &a, &sa, &segm, img, y0, p, step, seg0, -1, 0 };
	ms_train tr = { .steps = steps, .report = report, .save_every = save_every,
	                .batch = (int)batch, .validate_first = 1, .log = logpath, .out = out,
	                .metric = "val_dice", .aux = "segmentor", .schedule = lrs, .lr = lr, .ctx = &t,
	                .step = run_step, .validate = run_validate, .save = run_save };
	int sig = ms_train_run(&tr, &step, NULL);
	if (sig < 0)
		die("%s", ms_errmsg());
	if (sig)
		exit(128 + sig);
	if (v.n)
		warn("done: best validation Dice %.4f (prior %.4f)%s%s", t.vbest, t.vprior,
		     best ? ", weights in " : "", best ? best : "");
	free(img);
	ms_rec_free(&m);
	ms_rec_free(&segm);
	ms_unet_free(seg);
	ms_refiner_free(r);
	ms_refine_set_free(&d);
	ms_refine_set_free(&v);
}

int main(int argc, char **argv)
{
	ms_setprog(argv);
	int tr = argc > 1 && !strcmp(argv[1], "train");
	options(argc - tr, argv + tr, tr);
	if (tr)
		train();
	else
		refine();
	return fshut(stdout, "<stdout>");
}
