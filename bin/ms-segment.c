/* ms-segment: train the U-Net segmentor on samples with image and mask, or append its
 * probability map and mask to every sample with an image. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/ms.h"
#include "image/augment.h"
#include "image/image.h"
#include "io/sample.h"
#include "io/stream.h"
#include "models/segment.h"
#include "nn/gemm.h"

static const char usage[] =
	"train -o MODEL [--steps N | --epochs E] [--time S] [--batch B] [--lr X] [--wd X]\n"
	"       [--schedule constant|cosine|poly] [--warmup N] [--seed S] [--threads T]\n"
	"       [--precision P] [--width W]\n"
	"       [--val-fraction F] [--val FILE] [--best FILE] [--resume] [--merge-patch P]\n"
	"       [--merge-alpha A] [--synthetic mix|extra|ignore] [--synthetic-prob P]\n"
	"       [--judge MODEL] [--parts P]\n"
	"       [--augment strong|flips|none] [--save-every N] [--report N]\n"
	"   or: ms-segment -m MODEL [--threshold T] [--threads T] [--precision P] [--batch B]\n"
	"       [--shard K/N]";

enum { TRAIN = 1, PREDICT = 2 };
static ms_seg_opt opt;
static const char *model, *valpath, *judge;
static double threshold = 0.5;
static ms_shard shard;
static long batch = 4, threads, seed = 1, width = 32, patch, parts;
static int synth;
static ms_opt opts[] = {
	MS_OPT_INT("batch", 0, &batch, 1, 4096, "B", "batch size (8; prediction: 4)"),
	MS_OPT_INT("threads", 0, &threads, 1, 1024, "T", "threads (default MS_THREADS or all cores)"),
	MS_OPT_PRECISION,
	MS_OPT_GROUP("train", "train", TRAIN),
	MS_OPT_STR(NULL, 'o', &opt.out, "MODEL", "checkpoint to write"),
	MS_OPT_INT("steps", 0, &opt.steps, 1, 0x1p40, "N", "training steps (1000)"),
	MS_OPT_NUM("epochs", 0, &opt.epochs, 1e-9, 1e9, "E", "steps = E * training samples / batch"),
	MS_OPT_NUM("time", 0, &opt.time, 1, 1e9, "S", "wall-clock budget in seconds (not deterministic)"),
	MS_OPT_NUM("lr", 0, &opt.lr, 0, 10, "X", "Adam learning rate (1e-3)"),
	MS_OPT_NUM("wd", 0, &opt.wd, 0, 10, "X", "AdamW weight decay (0 = Adam)"),
	MS_OPT_CHOICE("schedule", 0, &opt.schedule, ms_lr_names, "learning rate schedule (cosine)"),
	MS_OPT_INT("warmup", 0, &opt.warmup, 0, 0x1p40, "N", "linear learning-rate warmup over N steps (0)"),
	MS_OPT_SEED(0, &seed, "initialisation, batches and augmentation (1)"),
	MS_OPT_INT("width", 0, &width, 8, 1024, "W", "U-Net base width, a multiple of 8 (32)"),
	MS_OPT_NUM("val-fraction", 0, &opt.val_fraction, 0, 0.9, "F",
	           "real samples held out by hash of id (0.1; 0 with --val)"),
	MS_OPT_STR("val", 0, &valpath, "FILE", "validation samples (image and mask) from FILE"),
	MS_OPT_STR("judge", 0, &judge, "MODEL", "keep the synthetic samples a real-only segmentor\n"
	           "MODEL finds as well as its median validation image"),
	MS_OPT_STR("best", 0, &opt.best, "FILE", "write the weights of the best validation Dice there"),
	MS_OPT_FLAG("resume", 0, &opt.resume, "continue training MODEL"),
	MS_OPT_INT("merge-patch", 0, &patch, 1, 65535, "P", "merging mask block size (ceil(min(H,W)/6))"),
	MS_OPT_NUM("merge-alpha", 0, &opt.merge_alpha, 0, 1, "A", "probability of a real block (0.6)"),
	MS_OPT_CHOICE("synthetic", 0, &synth, ms_seg_synth_names,
	              "use of synthetic samples (mix)"),
	MS_OPT_NUM("synthetic-prob", 0, &opt.synth_prob, 0, 1, "P",
	           "extra: probability of drawing a synthetic sample (0.5)"),
	MS_OPT_CHOICE("augment", 0, &opt.augment, ms_aug_names,
	              "strong (default: flips, scale, rotation, shift,\nbrightness, contrast, gamma, "
	              "noise, blur), flips or none"),
	MS_OPT_PARTS(&parts),
	MS_OPT_INT("save-every", 0, &opt.save_every, 0, 0x1p40, "N",
	           "checkpoint every N steps (500, 0 = at the end)"),
	MS_OPT_INT("report", 0, &opt.report, 1, 0x1p40, "N", "progress and validation every N steps (steps/20)"),
	MS_OPT_STR("log", 0, &opt.log, "FILE", "append step, loss, val_dice, img/s, lr, seconds per report"),
	MS_OPT_GROUP("prediction", "prediction", PREDICT),
	MS_OPT_STR(NULL, 'm', &model, "MODEL", "predict with MODEL"),
	MS_OPT_NUM("threshold", 0, &threshold, 0, 1, "T", "pred = prob > T (0.5)"),
	MS_OPT_SHARD(&shard),
	MS_OPT_END
};

static void options(int argc, char **argv, int train)
{
	static const char about[] =
		"Train the U-Net segmentor on samples with image and mask (train), or append\n"
		"prob (f32) and pred (u8) to every sample with an image (-m).";
	/* the options kept in the checkpoint: a resumed run takes those not given */
	static const struct { const char *name; int k; } keys[] = {
		{ "steps", MS_SEG_K_STEPS }, { "epochs", MS_SEG_K_EPOCHS }, { "batch", MS_SEG_K_BATCH },
		{ "lr", MS_SEG_K_LR }, { "wd", MS_SEG_K_WD }, { "schedule", MS_SEG_K_SCHEDULE },
		{ "seed", MS_SEG_K_SEED }, { "width", MS_SEG_K_WIDTH }, { "val-fraction", MS_SEG_K_VAL },
		{ "merge-patch", MS_SEG_K_PATCH }, { "merge-alpha", MS_SEG_K_ALPHA },
		{ "synthetic", MS_SEG_K_SYNTH }, { "synthetic-prob", MS_SEG_K_SPROB },
		{ "augment", MS_SEG_K_AUGMENT }, { "warmup", MS_SEG_K_WARMUP }, { "time", MS_SEG_K_TIME } };
	int i = ms_opt_parse(opts, usage, about, train ? TRAIN : PREDICT, argc, argv);
	if (width % 8)
		usage_error(usage, "--width: %ld is not a multiple of 8 (GroupNorm groups)", width);
	if (i != argc)
		usage_error(usage, "unexpected argument '%s'", argv[i]);
	if (train && !opt.out)
		usage_error(usage, "train needs -o MODEL");
	if (!train && !model)
		usage_error(usage, "give train or -m MODEL");
	for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
		if (ms_opt_given(opts, keys[k].name))
			opt.given |= 1u << keys[k].k;
	if (ms_opt_given(opts, "batch"))
		opt.batch = (int)batch;
	opt.threads = (int)threads;
	opt.parts = (int)parts;
	opt.seed = (uint64_t)seed;
	opt.width = (int)width;
	if (patch)
		opt.merge_patch = (int)patch;
	if (ms_opt_given(opts, "synthetic"))
		opt.synth = MS_SYN_MIX + synth;
	if (opt.steps && opt.epochs)
		usage_error(usage, "--steps and --epochs exclude each other");
	if (valpath && !(opt.given >> MS_SEG_K_VAL & 1)) {
		opt.val_fraction = 0;       /* the validation set is FILE */
		opt.given |= 1u << MS_SEG_K_VAL;
	}
	if (opt.best && opt.val_fraction <= 0 && !valpath && !opt.resume)
		usage_error(usage, "--best needs validation samples (--val or --val-fraction)");
}

/* the current sample */
/* ---- train: read the data set */
static ms_seg_data data;
static long nskip;
static int held;                  /* samples read now are validation samples (--val) */

/* the file being read, for messages: "" (standard input) or "--val FILE: " */
static char where[4096];

/* record NAME of s, decoded; NULL if none */
static ms_rec *get(ms_sample *s, const char *name)
{
	ms_rec *r = ms_sample_get(s, name);
	if (!r && *ms_errmsg())
		die("%s%s", where, ms_errmsg());
	return r;
}

static void read_samples(FILE *f, const char *name)
{
	ms_reader rd;
	ms_sample s;
	char of[MS_META_MAX + 1];
	int ret;
	ms_reader_init(&rd, f, name);
	ms_sample_init(&s);
	while ((ret = ms_sample_next(&rd, &s)) == 1) {
		ms_rec *img = get(&s, "image"), *msk = get(&s, "mask");
		int syn = img && ms_meta_get(img, "of", of, sizeof of);
		if (held && img && syn)
			die("%s: sample '%s' is synthetic (of=%s): validation samples must be real",
			    valpath, s.id, of);
		if (!img || !(msk || syn)) {
			nskip++;
			continue;
		}
		if (ms_seg_data_add(&data, s.id, syn ? of : NULL, &img->t, msk ? &msk->t : NULL) < 0)
			die("%s", ms_errmsg());
		data.s[data.n - 1].held = held;
		data.s[data.n - 1].pair = syn && msk && ms_meta_get(msk, "synthetic", of, sizeof of) &&
		                          !strcmp(of, "1");
	}
	if (ret < 0)
		die("%s", ms_errmsg());            /* the reader names the stream */
	ms_sample_free(&s);
	ms_reader_free(&rd);
}

static int train(void)
{
	if (ms_dist_init() < 0)
		die("%s", ms_errmsg());
	if (opt.resume && ms_seg_opts_resume(&opt, opts) < 0)
		die("%s", ms_errmsg());
	ms_seg_data_init(&data);
	FILE *in = ms_dist_stream(stdin, "<stdin>");     /* rank 0's, on every rank */
	if (!in)
		die("%s", ms_errmsg());
	read_samples(in, "<stdin>");
	if (in != stdin)
		fclose(in);
	if (nskip && !ms_dist_rank())
		warn("%ld samples without image and mask ignored", nskip);
	int n = data.n;
	if (!n)
		die("no samples with image and mask on stdin");
	if (valpath) {
		FILE *f = ms_dist_rank() ? NULL : fopen(valpath, "rb");
		if (!ms_dist_rank() && !f)
			die("cannot open %s:", valpath);
		if (!(f = ms_dist_stream(f, valpath)))
			die("%s", ms_errmsg());
		held = 1;
		nskip = 0;
		snprintf(where, sizeof where, "%s: ", valpath);
		read_samples(f, valpath);
		fclose(f);
		if (nskip && !ms_dist_rank())
			warn("%s: %ld samples without image and mask ignored", valpath, nskip);
		if (data.n == n)
			die("%s: no samples with image and mask", valpath);
	}
	if (ms_seg_data_split(&data, opt.val_fraction) < 0)
		die("%s", ms_errmsg());
	ms_threads(opt.threads);
	if (judge) {
		double med;
		int before = data.nsyn;
		if (ms_seg_judge(&data, judge, opt.batch, &med) < 0)
			die("--judge: %s", ms_errmsg());
		fprintf(stderr, "%s: judge %s: median validation Dice %.4f; %d of %d synthetic "
		        "samples kept\n", argv0, judge, med, data.nsyn, before);
	}
	int sig = ms_seg_train(&data, &opt);
	ms_seg_data_free(&data);
	if (sig < 0)
		die("%s", ms_errmsg());
	ms_dist_end();
	return sig ? 128 + sig : 0;
}

/* ---- predict: samples are queued until a batch is full */
static int predict(void)
{
	ms_seg_pred pred;
	if (ms_dist_single("prediction") < 0)   /* N copies would write one stream */
		die("%s", ms_errmsg());
	ms_threads(opt.threads);
	if (ms_seg_pred_open(&pred, model) < 0)
		die("%s", ms_errmsg());
	pred.shard = shard;
	if (ms_seg_pred_stream(&pred, stdin, "<stdin>", stdout, (int)batch, threshold) < 0)
		die("%s", ms_errmsg());
	ms_seg_pred_close(&pred);
	return fshut(stdout, "<stdout>");
}

int main(int argc, char **argv)
{
	ms_setprog(argv);
	ms_seg_opt_default(&opt);
	int tr = argc > 1 && !strcmp(argv[1], "train");
	if (tr) {
		argv[1] = argv[0];
		argc--;
		argv++;
	}
	options(argc, argv, tr);
	return tr ? train() : predict();
}
