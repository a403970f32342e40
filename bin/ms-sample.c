/* ms-sample: train an edge- and text-guided diffusion model on a stream (train), or
 * follow every sample that has the condition records with N synthetic samples. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/ms.h"
#include "diffusion/generator.h"
#include "io/sample.h"
#include "io/stream.h"
#include "models/train.h"
#include "nn/gemm.h"

static const char usage[] =
	"train -o MODEL [--steps N] [--batch B] [--lr X] [--seed S] [--threads T]\n"
	"       [--precision P] [--size WxH] [--width W] [--attention] [--cond NAME,...]\n"
	"       [--cond-optional]\n"
	"       [--schedule linear|cosine] [--zero-snr] [--prompt TEXT] [--p-uncond P]\n"
	"       [--ema D] [--joint] [--save-every N] [--resume] [--parts P]\n"
	"       ms-sample -m MODEL [-n N] [--steps S] [--sampler ddim|dpm++2m] [--eta E]\n"
	"       [--guidance W] [--prompt TEXT] [--seed S] [--threads T] [--precision P]\n"
	"       [--batch B]\n"
	"       [--inpaint [--dilate D] [--core E | --reshape] [--jump L] [--resample R]]\n"
	"       [--open K]\n"
	"       [--shard K/N]";

enum { TRAIN = 1, SAMPLE = 2 };
static struct {
	int train, resume, attn, optional, sched, zero_snr, joint, inpaint, reshape, sampler,
	    size[2];
	const char *model, *prompt, *cond, *log;
	long steps, batch, seed, n, save_every, threads, width, report, dilate, core, open, jump,
	     resample, parts;
	double lr, p_uncond, ema, eta, guidance;
	ms_shard shard;
} o = { .width = 32, .cond = "edges", .batch = 8, .n = 4, .lr = 2e-4, .p_uncond = 0.1,
        .ema = 0.999, .guidance = 9 };
static ms_opt opts[] = {
	MS_OPT_STR("output", 'o', &o.model, "MODEL", "checkpoint to write (train) or read"),
	MS_OPT_STR("model", 'm', &o.model, "MODEL", "the same as -o"),
	MS_OPT_INT("steps", 0, &o.steps, 1, 100000000, "N",
	           "training steps (1000); sampling steps, at most 1000 (20)"),
	MS_OPT_INT("batch", 0, &o.batch, 1, 4096, "B", "images per step (8); per forward when sampling (8)"),
	MS_OPT_SEED(0, &o.seed, "initialisation, batches and noise (0)"),
	MS_OPT_INT("threads", 0, &o.threads, 1, 1024, "T", "threads (default MS_THREADS or all cores)"),
	MS_OPT_PRECISION,
	MS_OPT_STR("prompt", 0, &o.prompt, "TEXT", "replaces the samples' prompt= metadata"),
	MS_OPT_GROUP("train", "train", TRAIN),
	MS_OPT_NUM("lr", 0, &o.lr, 0, 1, "X", "Adam learning rate (0.0002)"),
	MS_OPT_SIZE("size", 0, o.size, "resize images and conditions first"),
	MS_OPT_INT("width", 0, &o.width, 8, 1024, "W", "U-Net base width (32)"),
	MS_OPT_FLAG("attention", 0, &o.attn, "attention in the middle of the U-Net"),
	MS_OPT_STR("cond", 0, &o.cond, "NAME,...", "condition records, or none (edges; none with --joint)"),
	MS_OPT_FLAG("cond-optional", 0, &o.optional,
	            "missing conditions are zeros, plus a validity channel"),
	MS_OPT_CHOICE("schedule", 0, &o.sched, ms_sched_names, "noise schedule, T = 1000 (linear)"),
	MS_OPT_FLAG("zero-snr", 0, &o.zero_snr, "schedule rescaled to zero terminal SNR, network\n"
	            "predicts v (Lin et al. 2024); sampling follows the model"),
	MS_OPT_NUM("p-uncond", 0, &o.p_uncond, 0, 1, "P", "probability of the empty prompt (0.1)"),
	MS_OPT_NUM("ema", 0, &o.ema, 0, 1, "D", "EMA decay of the sampling weights (0.999)"),
	MS_OPT_FLAG("joint", 0, &o.joint, "generate the mask with the image: one more channel,\n"
	            "trained on samples with image and mask (Saragih et al.)"),
	MS_OPT_INT("save-every", 0, &o.save_every, 0, 100000000, "N",
	           "checkpoint every N steps (0 = at the end, default)"),
	MS_OPT_FLAG("resume", 0, &o.resume, "continue MODEL"),
	MS_OPT_PARTS(&o.parts),
	MS_OPT_INT("report", 0, &o.report, 1, 100000000, "N", "a progress line every N steps (steps/20)"),
	MS_OPT_STR("log", 0, &o.log, "FILE", "append step, loss, img/s, lr, seconds per report"),
	MS_OPT_GROUP("sampling", "sampling", SAMPLE),
	MS_OPT_INT(NULL, 'n', &o.n, 1, 100000, "N", "synthetic samples per sample (4)"),
	MS_OPT_CHOICE("sampler", 0, &o.sampler, ms_sampler_names, "ddim, or dpm++2m: DPM-Solver++(2M),\n"
	              "deterministic, second order (ddim)"),
	MS_OPT_NUM("eta", 0, &o.eta, 0, 10, "E", "DDIM eta (0)"),
	MS_OPT_NUM("guidance", 0, &o.guidance, -100, 100, "W", "classifier-free guidance scale (9)"),
	MS_OPT_FLAG("inpaint", 0, &o.inpaint, "joint models: new lesions inpainted into the real\n"
	            "image around its mask (RePaint); defaults --steps 200 --eta 1"),
	MS_OPT_INT("dilate", 0, &o.dilate, 1, 4096, "D",
	           "--inpaint: the region redrawn is the mask dilated by a D px\n"
	           "ellipse (20 px at 256 px, scaled)"),
	MS_OPT_INT("core", 0, &o.core, 1, 4096, "E",
	           "--inpaint: the mask eroded by an E px ellipse stays the real\n"
	           "lesion (image and mask): only a ring round its border is redrawn"),
	MS_OPT_FLAG("reshape", 0, &o.reshape, "--inpaint: each pair's mask is given, the real one\n"
	            "moved, scaled, turned at random; the image is redrawn to match"),
	MS_OPT_INT("jump", 0, &o.jump, 1, 1000, "L", "--inpaint: resampling jump length (10)"),
	MS_OPT_INT("resample", 0, &o.resample, 1, 100, "R", "--inpaint: passes over each jump (5)"),
	MS_OPT_INT("open", 0, &o.open, 1, 4096, "K",
	           "joint models: new masks opened with a K px ellipse\n"
	           "(16 px at 256 px, scaled; 1: none)"),
	MS_OPT_SHARD(&o.shard),
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
	int inp = o.inpaint;
	const char *only = !inp ? (o.dilate ? "--dilate" : o.core ? "--core" : o.jump ? "--jump" :
	                           o.resample ? "--resample" : o.reshape ? "--reshape" : NULL)
	                        : NULL;
	if (only)
		usage_error(usage, "%s is for --inpaint", only);
	if (o.core && o.reshape)
		usage_error(usage, "--core and --reshape exclude each other");
	if (!o.steps)
		o.steps = o.train ? 1000 : inp ? 200 : 20;
	if (inp && !ms_opt_given(opts, "eta"))
		o.eta = 1;
	if (inp && !o.jump)
		o.jump = 10;
	if (inp && !o.resample)
		o.resample = 5;
	if (o.joint && !ms_opt_given(opts, "cond"))
		o.cond = "none";
	if (!o.train && o.steps > 1000)
		usage_error(usage, "--steps: at most 1000 sampling steps");
	if (o.sampler == MS_SAMPLER_DPM2M && (inp || o.eta != 0))
		usage_error(usage, inp ? "--inpaint needs --sampler ddim: RePaint takes stochastic "
		            "DDIM steps" : "--eta: --sampler dpm++2m is deterministic (eta 0)");
}

/* ---- training: the data set */
static ms_gen_cfg cfg;
static ms_gen_reader rd = { .cfg = &cfg };

static void read_train(void)
{
	rd.size[0] = o.size[0];
	rd.size[1] = o.size[1];
	rd.prompt = o.prompt;
	FILE *in = ms_dist_stream(stdin, "<stdin>");     /* rank 0's, on every rank */
	if (!in || ms_sample_each(in, "<stdin>", ms_gen_add_sample, &rd) < 0)
		die("%s", ms_errmsg());
	if (in != stdin)
		fclose(in);
	const char *need = cfg.joint ? "'image' and 'mask' records" : "an 'image' record";
	if (!rd.data)
		die("no sample with %s in the input", need);
	if (rd.skipped && !ms_dist_rank())
		warn("%d samples without %s ignored", rd.skipped, need);
}

/* ---- training: the loop */
static void save(ms_gen *g, const ms_adam *a, long step)
{
	ms_rec extra;
	ms_stop_hold();
	ms_rec_init(&extra);
	if (ms_gen_ckpt_meta(&extra, o.seed, o.batch, o.lr, o.p_uncond, o.ema) < 0 ||
	    ms_gen_save(g, o.model, a, step, &extra) < 0)
		die("%s", ms_errmsg());
	ms_rec_free(&extra);
	ms_stop_release();
}

/* settings of a checkpoint being resumed, unless given again */
static void resume_settings(const ms_rec *m)
{
	if (ms_ckpt_opts(opts, m, ms_gen_ckpt_keys, MS_GEN_CKPT_KEYS) < 0)
		die("%s: %s", o.model, ms_errmsg());
	const ms_gen_cfg *c = &cfg;
	char list[MS_GEN_MAXCOND * MS_GEN_CONDNAME] = "";
	ms_meta_get(m, "cond", list, sizeof list);
	const char *what = ms_opt_given(opts, "width") && o.width != c->unet.width ? "--width"
	                   : ms_opt_given(opts, "attention") && !c->unet.attn ? "--attention"
	                   : ms_opt_given(opts, "cond") && strcmp(o.cond, list) ? "--cond"
	                   : ms_opt_given(opts, "cond-optional") && !c->optional ? "--cond-optional"
	                   : ms_opt_given(opts, "schedule") && o.sched != c->sched ? "--schedule"
	                   : ms_opt_given(opts, "zero-snr") && !c->zero_snr ? "--zero-snr"
	                   : ms_opt_given(opts, "joint") && !c->joint ? "--joint" : NULL;
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
	ms_grads gr;
} run;

static int run_part(void *ctx, int b0, int b1, double w, double *loss, double *aux)
{
	run *t = ctx;
	(void)aux;
	*loss = ms_gen_train_part(t->g, b0, b1, w);
	return *loss < 0 ? -1 : 0;
}

static int run_step(void *ctx, long step, double lr, double *loss, double *aux)
{
	run *t = ctx;
	ms_rng r;
	ms_rng_init(&r, (uint64_t)o.seed, (uint64_t)step);
	t->a->lr = lr;
	const char *p = ms_gen_data_batch(rd.data, &r, (int)o.batch, t->C, t->x0, t->cb);
	if (ms_gen_train_draw(t->g, t->to, (int)o.batch, rd.H, rd.W, t->x0, t->cb, p, &r) < 0 ||
	    ms_grads_step(&t->gr, run_part, t, loss, aux) < 0)
		return -1;
	return ms_gen_train_update(t->g, t->a, t->to);
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
	if (ms_dist_init() < 0)
		die("%s", ms_errmsg());
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
		cfg.joint = o.joint;
		if (ms_gen_cfg_cond(&cfg, o.cond) < 0)
			usage_error(usage, "--cond: %s", ms_errmsg());
	}
	read_train();
	if (ms_stop_signal())
		die("interrupted");
	int C = ms_gen_data_channels(rd.data);
	if (g) {
		if (C > cfg.img_ch)
			die("%s: the model is grey, the data has RGB images", o.model);
		if (rd.H != cfg.H || rd.W != cfg.W)
			die("%s: the model was trained at %dx%d, the data is %dx%d", o.model, cfg.W,
			    cfg.H, rd.W, rd.H);
	} else {
		cfg.img_ch = C;
		cfg.H = rd.H;
		cfg.W = rd.W;
		if (!(g = ms_gen_new(&cfg, (uint64_t)o.seed)))
			die("%s", ms_errmsg());
		ms_adam_init(&adam, o.lr, 0, 0);
	}
	C = cfg.img_ch;
	size_t hw = (size_t)rd.H * rd.W;
	float *x0 = ereallocarray(NULL, o.batch * ms_gen_channels(&cfg) * hw, sizeof *x0);
	float *cb = ereallocarray(NULL, o.batch * (ms_gen_cond_channels(&cfg) * hw + 1), sizeof *cb);
	ms_gen_train_opt to = { o.p_uncond, 1.0, o.ema };
	run t = { g, &adam, &to, x0, cb, C, { 0 } };
	if (ms_grads_init(&t.gr, ms_gen_params(g), (int)o.batch, (int)o.parts) < 0)
		die("%s", ms_errmsg());
	ms_train tr = { .steps = o.steps, .report = o.report, .save_every = o.save_every,
	                .batch = (int)o.batch, .log = o.log, .out = o.model,
	                .schedule = MS_LR_CONSTANT, .lr = o.lr, .ctx = &t, .step = run_step,
	                .save = run_save };
	int sig = ms_train_run(&tr, &step, NULL);
	if (sig < 0)
		die("%s", ms_errmsg());
	ms_grads_free(&t.gr);
	free(x0);
	free(cb);
	ms_gen_free(g);
	ms_gen_data_free(rd.data);
	ms_rec_free(&meta);
	ms_dist_end();
	return sig ? 128 + sig : 0;
}

/* ---- sampling: the real sample passes through, followed by its synthetic ones */
typedef struct {
	ms_gen *g;
	const ms_gen_synth_opt *so;
} sampler;

static int sample_one(ms_sample *s, void *ctx)
{
	const sampler *sm = ctx;
	if (!ms_shard_has(&o.shard, s->id))
		return 0;
	return ms_gen_synth(sm->g, sm->so, s, stdout);
}

static int sample(void)
{
	if (ms_dist_single("sampling") < 0)
		die("%s", ms_errmsg());
	ms_gen *g = ms_gen_load(o.model, NULL, NULL);
	if (!g)
		die("%s", ms_errmsg());
	ms_params *ps = ms_gen_params(g);
	if (ps->n && ps->p[0]->ema)
		ms_params_ema_swap(ps);
	ms_gen_synth_opt so = { { .steps = (int)o.steps, .batch = (int)o.batch, .eta = o.eta,
	                          .guidance = o.guidance, .jump = (int)o.jump,
	                          .resample = (int)o.resample, .sampler = o.sampler },
	                        (int)o.n, o.seed, o.prompt, o.inpaint, (int)o.dilate,
	                        (int)o.open, (int)o.core, o.reshape };
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
