/* ms-sample: train an edge- and text-guided diffusion model on a stream (train), or
 * follow every sample that has the condition records with N synthetic samples. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/ms.h"
#include "diffusion/generator.h"
#include "image/resize.h"
#include "io/sample.h"
#include "io/stream.h"
#include "models/train.h"

static const char usage[] =
	"train -o MODEL [--steps N] [--batch B] [--lr X] [--seed S] [--threads T]\n"
	"       [--size WxH] [--width W] [--attention] [--cond NAME,...] [--cond-optional]\n"
	"       [--schedule linear|cosine] [--zero-snr] [--prompt TEXT] [--p-uncond P]\n"
	"       [--ema D] [--save-every N] [--resume]\n"
	"       ms-sample -m MODEL [-n N] [--steps S] [--eta E] [--guidance W]\n"
	"       [--prompt TEXT] [--seed S] [--threads T] [--batch B]";

enum { TRAIN = 1, SAMPLE = 2 };
static struct {
	int train, resume, attn, optional, sched, zero_snr, size[2];
	const char *model, *prompt, *cond, *log;
	long steps, batch, seed, n, save_every, threads, width, report;
	double lr, p_uncond, ema, eta, guidance;
} o = { .width = 32, .cond = "edges", .batch = 8, .n = 4, .lr = 2e-4, .p_uncond = 0.1,
        .ema = 0.999, .guidance = 9 };
static const char *const scheds[] = { "linear", "cosine", NULL };
static ms_opt opts[] = {
	MS_OPT_STR("output", 'o', &o.model, "MODEL", "checkpoint to write (train) or read"),
	MS_OPT_STR("model", 'm', &o.model, "MODEL", "the same as -o"),
	MS_OPT_INT("steps", 0, &o.steps, 1, 100000000, "N",
	           "training steps (1000); DDIM steps, at most 1000 (20)"),
	MS_OPT_INT("batch", 0, &o.batch, 1, 4096, "B", "images per step (8); per forward when sampling (8)"),
	MS_OPT_INT("seed", 0, &o.seed, 0, 0x7fffffff, "S", "initialisation, batches and noise (0)"),
	MS_OPT_INT("threads", 0, &o.threads, 1, 1024, "T", "threads (default MS_THREADS or all cores)"),
	MS_OPT_STR("prompt", 0, &o.prompt, "TEXT", "replaces the samples' prompt= metadata"),
	MS_OPT_GROUP("train", "train", TRAIN),
	MS_OPT_NUM("lr", 0, &o.lr, 0, 1, "X", "Adam learning rate (0.0002)"),
	MS_OPT_SIZE("size", 0, o.size, "resize images and conditions first"),
	MS_OPT_INT("width", 0, &o.width, 8, 1024, "W", "U-Net base width (32)"),
	MS_OPT_FLAG("attention", 0, &o.attn, "attention in the middle of the U-Net"),
	MS_OPT_STR("cond", 0, &o.cond, "NAME,...", "condition records (edges)"),
	MS_OPT_FLAG("cond-optional", 0, &o.optional,
	            "missing conditions are zeros, plus a validity channel"),
	MS_OPT_CHOICE("schedule", 0, &o.sched, scheds, "noise schedule, T = 1000 (linear)"),
	MS_OPT_FLAG("zero-snr", 0, &o.zero_snr, "schedule rescaled to zero terminal SNR, network\n"
	            "predicts v (Lin et al. 2024); sampling follows the model"),
	MS_OPT_NUM("p-uncond", 0, &o.p_uncond, 0, 1, "P", "probability of the empty prompt (0.1)"),
	MS_OPT_NUM("ema", 0, &o.ema, 0, 1, "D", "EMA decay of the sampling weights (0.999)"),
	MS_OPT_INT("save-every", 0, &o.save_every, 0, 100000000, "N",
	           "checkpoint every N steps (0 = at the end, default)"),
	MS_OPT_FLAG("resume", 0, &o.resume, "continue MODEL"),
	MS_OPT_INT("report", 0, &o.report, 1, 100000000, "N", "a progress line every N steps (steps/20)"),
	MS_OPT_STR("log", 0, &o.log, "FILE", "append step, loss, img/s, lr, seconds per report"),
	MS_OPT_GROUP("sampling", "sampling", SAMPLE),
	MS_OPT_INT(NULL, 'n', &o.n, 1, 100000, "N", "synthetic samples per sample (4)"),
	MS_OPT_NUM("eta", 0, &o.eta, 0, 10, "E", "DDIM eta (0)"),
	MS_OPT_NUM("guidance", 0, &o.guidance, -100, 100, "W", "classifier-free guidance scale (9)"),
	MS_OPT_END
};

static void options(int argc, char **argv)
{
	static const char about[] =
		"Train a conditional diffusion model on samples with an image and condition\n"
		"records (train), or follow every sample that has the condition records with\n"
		"N synthetic samples <id>.s<k> (image of=<id>, copies of mask and conditions).";
	o.train = argc > 1 && !strcmp(argv[1], "train");
	int i = ms_opt_parse(opts, usage, about, o.train ? TRAIN : SAMPLE, argc - o.train,
	                     argv + o.train);
	if (i != argc - o.train)
		usage_error(usage, "unexpected argument '%s'", argv[i + o.train]);
	if (!o.model)
		usage_error(usage, o.train ? "train needs -o MODEL" : "sampling needs -m MODEL");
	if (!o.steps)
		o.steps = o.train ? 1000 : 20;
	if (!o.train && o.steps > 1000)
		usage_error(usage, "--steps: at most 1000 DDIM steps");
}

/* ---- training: the data set */
static ms_gen_cfg cfg;
static ms_gen_data *data;
static int H, W, skipped;
static const char *cur;           /* the id of the sample at hand */

/* record NAME of s, decoded, non-finite values refused; NULL if none */
static ms_rec *get(ms_sample *s, const char *name)
{
	ms_rec *r = ms_sample_get(s, name);
	if (!r && *ms_errmsg())
		die("%s", ms_errmsg());
	return r;
}

static int cond_index(const char *name)
{
	for (int k = 0; k < cfg.ncond; k++)
		if (!strcmp(cfg.cond[k], name))
			return k;
	return -1;
}

static void resize(ms_tensor *t, const char *what)
{
	ms_tensor out;
	int ret = t->dtype == MS_F32 ? ms_resize_bilinear(t, o.size[1], o.size[0], &out)
	                             : ms_resize_nearest(t, o.size[1], o.size[0], &out);
	if (ret < 0)
		die("sample '%s': %s: %s", cur, what, ms_errmsg());
	ms_tensor_free(t);
	*t = out;
}

/* add s to the data set (its image record is the image, never a condition) */
static int add(ms_sample *s, void *ctx)
{
	(void)ctx;
	ms_rec *img = get(s, "image"), *cond[MS_GEN_MAXCOND];
	for (int k = 0; k < cfg.ncond; k++)
		cond[k] = strcmp(cfg.cond[k], "image") ? get(s, cfg.cond[k]) : NULL;
	cur = s->id;
	if (!img) {
		skipped++;
		return 0;
	}
	ms_tensor *t = &img->t;
	int c = t->rank == 3 ? (int)t->shape[0] : 1;
	if (!(t->rank == 2 || (t->rank == 3 && (c == 1 || c == 3))) ||
	    ms_tensor_to_f32(t, 1) < 0)
		die("sample '%s': image is not [1,H,W] or [3,H,W]", cur);
	if (o.size[0]) {
		resize(t, "image");
		for (int k = 0; k < cfg.ncond; k++)
			if (cond[k])
				resize(&cond[k]->t, cfg.cond[k]);
	}
	int h = (int)t->shape[t->rank - 2], w = (int)t->shape[t->rank - 1];
	if (!data) {
		int m = 1 << (cfg.unet.nmult - 1);
		if (h % m || w % m)
			die("sample '%s' is %dx%d: width and height must be multiples of %d "
			    "(use --size or ms-import --size)", cur, w, h, m);
		H = h;
		W = w;
		data = ms_gen_data_new(ms_gen_cond_channels(&cfg), H, W);
		if (!data)
			die("%s", ms_errmsg());
	} else if (h != H || w != W) {
		die("sample '%s' is %dx%d, the first was %dx%d: images must have one size "
		    "(use --size or ms-import --size)", cur, w, h, W, H);
	}
	const ms_tensor *cr[MS_GEN_MAXCOND];
	char p[MS_META_MAX + 1] = "";
	float *cb = ereallocarray(NULL, (size_t)ms_gen_cond_channels(&cfg) * H * W + 1, sizeof *cb);
	for (int k = 0; k < cfg.ncond; k++)
		cr[k] = cond[k] ? &cond[k]->t : NULL;
	if (ms_gen_cond_fill(&cfg, cr, H, W, cb) < 0)
		die("sample '%s': %s%s", cur, ms_errmsg(), cfg.optional ? "" : " (see --cond-optional)");
	ms_meta_get(img, "prompt", p, sizeof p);
	if (ms_gen_data_add(data, t->data, c, cb, o.prompt ? o.prompt : p) < 0)
		die("%s", ms_errmsg());
	free(cb);
	return 0;
}

static void read_train(void)
{
	if (ms_sample_each(stdin, "<stdin>", add, NULL) < 0)
		die("%s", ms_errmsg());
	if (!data)
		die("no sample with an 'image' record in the input");
	if (skipped)
		warn("%d samples without an 'image' record ignored", skipped);
}

/* ---- training: the loop */
static void save(ms_gen *g, const ms_adam *a, long step)
{
	ms_rec extra;
	char v[64];
	ms_stop_hold();
	ms_rec_init(&extra);
	snprintf(v, sizeof v, "%ld", o.seed);
	int bad = ms_meta_set(&extra, "seed", v) < 0;
	snprintf(v, sizeof v, "%ld", o.batch);
	bad |= ms_meta_set(&extra, "batch", v) < 0;
	snprintf(v, sizeof v, "%.9g", o.lr);
	bad |= ms_meta_set(&extra, "lr", v) < 0;
	snprintf(v, sizeof v, "%.9g", o.p_uncond);
	bad |= ms_meta_set(&extra, "p_uncond", v) < 0;
	snprintf(v, sizeof v, "%.9g", o.ema);
	bad |= ms_meta_set(&extra, "ema", v) < 0;
	if (bad || ms_gen_save(g, o.model, a, step, &extra) < 0)
		die("%s", ms_errmsg());
	ms_rec_free(&extra);
	ms_stop_release();
}

/* settings of a checkpoint being resumed, unless given again */
static void resume_settings(const ms_rec *m)
{
	static const char *const keys[][2] = { { "seed", "seed" }, { "batch", "batch" },
		{ "lr", "lr" }, { "p-uncond", "p_uncond" }, { "ema", "ema" } };
	if (ms_ckpt_opts(opts, m, keys, sizeof keys / sizeof *keys) < 0)
		die("%s: %s", o.model, ms_errmsg());
	const ms_gen_cfg *c = &cfg;
	char list[MS_GEN_MAXCOND * MS_GEN_CONDNAME] = "";
	ms_meta_get(m, "cond", list, sizeof list);
	const char *what = ms_opt_given(opts, "width") && o.width != c->unet.width ? "--width"
	                   : ms_opt_given(opts, "attention") && !c->unet.attn ? "--attention"
	                   : ms_opt_given(opts, "cond") && strcmp(o.cond, list) ? "--cond"
	                   : ms_opt_given(opts, "cond-optional") && !c->optional ? "--cond-optional"
	                   : ms_opt_given(opts, "schedule") && o.sched != c->sched ? "--schedule"
	                   : ms_opt_given(opts, "zero-snr") && !c->zero_snr ? "--zero-snr" : NULL;
	if (what)
		die("%s: %s differs from the checkpoint being resumed", o.model, what);
}

/* the training framework's callbacks (models/train.h) */
typedef struct {
	ms_gen *g;
	ms_adam *a;
	const ms_gen_train_opt *to;
	float *x0, *cb;
	int C;
} run;

static int run_step(void *ctx, long step, double lr, double *loss, double *aux)
{
	run *t = ctx;
	ms_rng r;
	(void)aux;
	ms_rng_init(&r, (uint64_t)o.seed, (uint64_t)step);
	t->a->lr = lr;
	const char *p = ms_gen_data_batch(data, &r, (int)o.batch, t->C, t->x0, t->cb);
	*loss = ms_gen_train_step(t->g, t->a, t->to, (int)o.batch, H, W, t->x0, t->cb, p, &r);
	return *loss < 0 ? -1 : 0;
}

static int run_save(void *ctx, long step, double metric)
{
	run *t = ctx;
	(void)metric;
	save(t->g, t->a, step);
	return 0;
}

static int train(void)
{
	ms_gen *g = NULL;
	ms_adam adam;
	ms_rec meta;
	long step = 0;
	ms_rec_init(&meta);
	ms_stop_catch();
	ms_gen_cfg_default(&cfg);
	if (o.resume && access(o.model, F_OK) == 0) {
		ms_adam_init(&adam, o.lr, 0, 0);
		if (!(g = ms_gen_load(o.model, &adam, &meta)))
			die("%s", ms_errmsg());
		cfg = *ms_gen_cfg_of(g);
		char v[32];
		if (ms_meta_get(&meta, "step", v, sizeof v))
			if (ms_parse_int(v, 0, 100000000, &step) < 0)
				usage_error(usage, "checkpoint step: %s", ms_errmsg());
		resume_settings(&meta);
		adam.lr = o.lr;
	} else {
		cfg.unet.width = (int)o.width;
		cfg.unet.attn = o.attn;
		cfg.optional = o.optional;
		cfg.sched = o.sched;
		cfg.zero_snr = o.zero_snr;
		if (ms_gen_cfg_cond(&cfg, o.cond) < 0)
			usage_error(usage, "--cond: %s", ms_errmsg());
	}
	read_train();
	if (ms_stop_signal())
		die("interrupted");
	int C = ms_gen_data_channels(data);
	if (g) {
		if (C > cfg.img_ch)
			die("%s: the model is grey, the data has RGB images", o.model);
		if (H != cfg.H || W != cfg.W)
			die("%s: the model was trained at %dx%d, the data is %dx%d", o.model, cfg.W,
			    cfg.H, W, H);
	} else {
		cfg.img_ch = C;
		cfg.H = H;
		cfg.W = W;
		if (!(g = ms_gen_new(&cfg, (uint64_t)o.seed)))
			die("%s", ms_errmsg());
		ms_adam_init(&adam, o.lr, 0, 0);
	}
	C = cfg.img_ch;
	size_t hw = (size_t)H * W;
	float *x0 = ereallocarray(NULL, o.batch * C * hw, sizeof *x0);
	float *cb = ereallocarray(NULL, o.batch * (ms_gen_cond_channels(&cfg) * hw + 1), sizeof *cb);
	ms_gen_train_opt to = { o.p_uncond, 1.0, o.ema };
	run t = { g, &adam, &to, x0, cb, C };
	ms_train tr = { .steps = o.steps, .report = o.report, .save_every = o.save_every,
	                .batch = (int)o.batch, .log = o.log, .out = o.model,
	                .schedule = MS_LR_CONSTANT, .lr = o.lr, .ctx = &t, .step = run_step,
	                .save = run_save };
	int sig = ms_train_run(&tr, &step, NULL);
	if (sig < 0)
		die("%s", ms_errmsg());
	free(x0);
	free(cb);
	ms_gen_free(g);
	ms_gen_data_free(data);
	ms_rec_free(&meta);
	return sig ? 128 + sig : 0;
}

/* ---- sampling: the real sample passes through, followed by its synthetic ones */
/* write r with metadata id=<sid>, of=<real id>, then its other keys */
static void write_copy(ms_rec *r, const char *sid)
{
	ms_rec m;
	char key[MS_NAME_MAX + 1];
	ms_rec_init(&m);
	int bad = ms_meta_set(&m, "id", sid) < 0 || ms_meta_set(&m, "of", cur) < 0;
	for (const char *p = r->meta; !bad && p && *p;) {
		size_t kl = strcspn(p, "="), l = strcspn(p, "\n");
		snprintf(key, sizeof key, "%.*s", (int)(kl < l ? kl : l), p);
		char *val = estrdup(p + (kl < l ? kl + 1 : l));
		val[l > kl ? l - kl - 1 : 0] = '\0';
		if (strcmp(key, "id") && strcmp(key, "of"))
			bad = ms_meta_set(&m, key, val) < 0;
		free(val);
		p += l + (p[l] == '\n');
	}
	if (bad || ms_meta_copy(r, &m) < 0 || ms_rec_write(stdout, r) < 0)
		die("%s", ms_errmsg());
	ms_rec_free(&m);
}

/* s written through, then, if it has every condition record, its synthetic samples:
 * image (with the metadata of its first image record, unless that is a condition),
 * copies of its mask (unless a condition) and conditions */
typedef struct {
	ms_gen *g;
	const ms_gen_sample_opt *so;
} sampler;

static int sample_one(ms_sample *s, void *ctx)
{
	const sampler *sm = ctx;
	ms_gen *g = sm->g;
	const ms_gen_sample_opt *so = sm->so;
	const ms_gen_cfg *c = &cfg;
	const ms_tensor *cr[MS_GEN_MAXCOND];
	ms_rec *cond[MS_GEN_MAXCOND], *img = NULL;
	int h = 0, w = 0, ok = 1;
	cur = s->id;
	for (int k = 0; k < c->ncond; k++) {
		cond[k] = get(s, c->cond[k]);
		cr[k] = cond[k] ? &cond[k]->t : NULL;
		ok &= cr[k] != NULL;
		if (cr[k] && !h && cr[k]->rank >= 2) {
			h = (int)cr[k]->shape[cr[k]->rank - 2];
			w = (int)cr[k]->shape[cr[k]->rank - 1];
		}
	}
	ms_rec *mask = cond_index("mask") < 0 ? get(s, "mask") : NULL;
	for (int i = 0; i < s->n && !img && cond_index("image") < 0; i++)
		if (!strcmp(s->rec[i].name, "image"))
			img = &s->rec[i];
	if (ms_sample_write(stdout, s) < 0)
		die("%s", ms_errmsg());
	if (ok && !h)
		die("sample '%s': '%s' record is not [1,H,W]", cur, c->cond[0]);
	if (!ok)
		return 0;
	char prompt[MS_META_MAX + 1] = "", sid[MS_META_MAX + 16], v[32];
	size_t hw = (size_t)h * w, chw = c->img_ch * hw;
	float *cb = ereallocarray(NULL, ms_gen_cond_channels(c) * hw, sizeof *cb);
	float *out = ereallocarray(NULL, o.n * chw, sizeof *out);
	ms_rng *rng = ereallocarray(NULL, o.n, sizeof *rng);
	if (ms_gen_cond_fill(c, cr, h, w, cb) < 0)
		die("sample '%s': %s", cur, ms_errmsg());
	if (o.prompt)
		snprintf(prompt, sizeof prompt, "%s", o.prompt);
	else if (!img || !ms_meta_get(img, "prompt", prompt, sizeof prompt))
		ms_meta_get(cond[0], "prompt", prompt, sizeof prompt);
	for (int k = 0; k < o.n; k++) {
		snprintf(sid, sizeof sid, "%s.s%d", cur, k);
		ms_rng_init(&rng[k], (uint64_t)o.seed, ms_hash64(sid));
	}
	if (ms_gen_sample(g, so, h, w, cb, prompt, (int)o.n, rng, out) < 0)
		die("sample '%s': %s", cur, ms_errmsg());
	snprintf(v, sizeof v, "%ld", o.seed);
	for (int k = 0; k < o.n; k++) {
		ms_rec r;
		ms_rec_init(&r);
		snprintf(sid, sizeof sid, "%s.s%d", cur, k);
		r.t = (ms_tensor){ MS_F32, 3, { c->img_ch, h, w }, out + k * chw };
		if (ms_rec_set_name(&r, "image") < 0 || (img && ms_meta_copy(&r, img) < 0) ||
		    ms_meta_set(&r, "source", NULL) < 0 || ms_meta_set(&r, "synthetic", "1") < 0 ||
		    ms_meta_set(&r, "prompt", prompt) < 0 || ms_meta_set(&r, "seed", v) < 0)
			die("%s", ms_errmsg());
		write_copy(&r, sid);
		r.t.data = NULL;
		ms_rec_free(&r);
		if (mask)
			write_copy(mask, sid);
		for (int j = 0; j < c->ncond; j++)
			write_copy(cond[j], sid);
	}
	free(cb);
	free(out);
	free(rng);
	return 0;
}

static int sample(void)
{
	ms_gen *g = ms_gen_load(o.model, NULL, NULL);
	if (!g)
		die("%s", ms_errmsg());
	ms_params *ps = ms_gen_params(g);
	if (ps->n && ps->p[0]->ema)
		ms_params_ema_swap(ps);
	cfg = *ms_gen_cfg_of(g);
	ms_gen_sample_opt so = { (int)o.steps, (int)o.batch, o.eta, o.guidance };
	sampler sm = { g, &so };
	if (ms_sample_each(stdin, "<stdin>", sample_one, &sm) < 0)
		die("%s", ms_errmsg());
	ms_gen_free(g);
	return fshut(stdout, "<stdout>");
}

int main(int argc, char **argv)
{
	ms_setprog(argv);
	options(argc, argv);
	ms_threads((int)o.threads);
	return o.train ? train() : sample();
}
