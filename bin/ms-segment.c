/* ms-segment: train the U-Net segmentor on samples with image and mask, or append its
 * probability map and mask to every sample with an image. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/ms.h"
#include "image/augment.h"
#include "image/image.h"
#include "io/stream.h"
#include "models/segment.h"

static const char usage[] =
	"train -o MODEL [--steps N | --epochs E] [--time S] [--batch B] [--lr X] [--wd X]\n"
	"       [--schedule constant|cosine|poly] [--warmup N] [--seed S] [--threads T] [--width W]\n"
	"       [--val-fraction F] [--val FILE] [--best FILE] [--resume] [--merge-patch P]\n"
	"       [--merge-alpha A] [--synthetic mix|extra|ignore] [--synthetic-prob P]\n"
	"       [--augment strong|flips|none] [--save-every N] [--report N]\n"
	"   or: ms-segment -m MODEL [--threshold T] [--threads T] [--batch B]";

static ms_seg_opt opt;
static const char *model, *valpath;
static double threshold = 0.5;
static int pbatch = 4;

/* the current sample */
static char cur[MS_META_MAX + 1], id[MS_META_MAX + 1];
static ms_rec img, msk;
static int have_img, have_msk;

static double number(const char *s, double lo, double hi, const char *what)
{
	double v;
	if (ms_parse_double(s, lo, hi, &v) < 0)
		usage_error(usage, "%s: %s", what, ms_errmsg());
	return v;
}

static long integer(const char *s, long lo, long hi, const char *what)
{
	long v;
	if (ms_parse_int(s, lo, hi, &v) < 0)
		usage_error(usage, "%s: %s", what, ms_errmsg());
	return v;
}

static void help(void)
{
	printf("usage: %s %s\n"
	       "Train the U-Net segmentor on samples with image and mask (train), or append\n"
	       "prob (f32) and pred (u8) to every sample with an image (-m).\n"
	       "  -o MODEL             checkpoint to write (train)\n"
	       "  --steps N            training steps (default 1000)\n"
	       "  --epochs E           steps = E * training samples / batch\n"
	       "  --time S             wall-clock budget in seconds (not deterministic)\n"
	       "  --batch B            batch size (default 8; predict: 4)\n"
	       "  --lr X, --wd X       Adam learning rate (1e-3), AdamW weight decay (0 = Adam)\n"
	       "  --schedule S         constant, cosine (default) or poly\n"
	       "  --warmup N           linear learning-rate warmup over N steps (default 0)\n"
	       "  --seed S, --threads T, --width W (base width, default 32)\n"
	       "  --val-fraction F     real samples held out by hash of id (default 0.1;\n"
	       "                       0 with --val)\n"
	       "  --val FILE           validation samples (image and mask) from FILE\n"
	       "  --best FILE          write the weights of the best validation Dice there\n"
	       "  --resume             continue training MODEL\n"
	       "  --merge-patch P      merging mask block size (default ceil(min(H,W)/6))\n"
	       "  --merge-alpha A      probability of a real block (default 0.6)\n"
	       "  --synthetic M        mix (default with synthetic samples), extra or ignore\n"
	       "  --synthetic-prob P   extra: probability of drawing a synthetic sample (0.5)\n"
	       "  --augment A          strong (default: flips, scale, rotation, shift, brightness,\n"
	       "                       contrast, gamma, noise, blur), flips or none\n"
	       "  --save-every N       checkpoint every N steps (default 500, 0 = at the end)\n"
	       "  --report N           progress and validation every N steps (default steps/20)\n"
	       "  -m MODEL             predict with MODEL\n"
	       "  --threshold T        pred = prob > T (default 0.5)\n", argv0, usage);
	exit(0);
}

static void options(int argc, char **argv, int train)
{
	enum { STEPS = 256, EPOCHS, BATCH, LR, WD, SCHED, SEED, THREADS, WIDTH, VAL, RESUME,
	       PATCH, ALPHA, SYNTH, SPROB, SAVE, REPORT, THRESH, WARMUP, TIME, AUG, VALF, BEST };
	static const struct option opts[] = {
		{ "steps", required_argument, 0, STEPS }, { "epochs", required_argument, 0, EPOCHS },
		{ "batch", required_argument, 0, BATCH }, { "lr", required_argument, 0, LR },
		{ "wd", required_argument, 0, WD }, { "schedule", required_argument, 0, SCHED },
		{ "seed", required_argument, 0, SEED }, { "threads", required_argument, 0, THREADS },
		{ "width", required_argument, 0, WIDTH }, { "val-fraction", required_argument, 0, VAL },
		{ "resume", no_argument, 0, RESUME }, { "merge-patch", required_argument, 0, PATCH },
		{ "merge-alpha", required_argument, 0, ALPHA },
		{ "synthetic", required_argument, 0, SYNTH },
		{ "synthetic-prob", required_argument, 0, SPROB },
		{ "augment", required_argument, 0, AUG },
		{ "save-every", required_argument, 0, SAVE }, { "report", required_argument, 0, REPORT },
		{ "threshold", required_argument, 0, THRESH },
		{ "warmup", required_argument, 0, WARMUP }, { "time", required_argument, 0, TIME },
		{ "val", required_argument, 0, VALF }, { "best", required_argument, 0, BEST },
		{ "help", no_argument, 0, 'h' }, { 0 }
	};
	int c;
	unsigned tonly = 0;   /* options only for training */
	while ((c = getopt_long(argc, argv, "o:m:", opts, NULL)) != -1) {
		unsigned k = ~0u;
		switch (c) {
		case 'o': opt.out = optarg; tonly = 1; break;
		case 'm': model = optarg; break;
		case STEPS: opt.steps = integer(optarg, 1, 1L << 40, "--steps"); k = MS_SEG_K_STEPS; break;
		case EPOCHS: opt.epochs = number(optarg, 1e-9, 1e9, "--epochs"); k = MS_SEG_K_EPOCHS; break;
		case BATCH: pbatch = opt.batch = integer(optarg, 1, 4096, "--batch"); k = MS_SEG_K_BATCH; break;
		case LR: opt.lr = number(optarg, 0, 10, "--lr"); k = MS_SEG_K_LR; break;
		case WD: opt.wd = number(optarg, 0, 10, "--wd"); k = MS_SEG_K_WD; break;
		case SCHED:
			if ((opt.schedule = ms_lr_parse(optarg)) < 0)
				usage_error(usage, "unknown schedule '%s'", optarg);
			k = MS_SEG_K_SCHEDULE;
			break;
		case SEED: opt.seed = integer(optarg, 0, 1L << 62, "--seed"); k = MS_SEG_K_SEED; break;
		case THREADS: opt.threads = integer(optarg, 1, 1024, "--threads"); break;
		case WIDTH:
			opt.width = integer(optarg, 8, 1024, "--width");
			if (opt.width % 8)
				usage_error(usage, "--width: %d is not a multiple of 8 (GroupNorm groups)",
				            opt.width);
			k = MS_SEG_K_WIDTH;
			break;
		case VAL: opt.val_fraction = number(optarg, 0, 0.9, "--val-fraction"); k = MS_SEG_K_VAL; break;
		case VALF: valpath = optarg; tonly = 1; break;
		case BEST: opt.best = optarg; tonly = 1; break;
		case RESUME: opt.resume = 1; tonly = 1; break;
		case PATCH:
			opt.merge_patch = integer(optarg, 1, 65535, "--merge-patch");
			k = MS_SEG_K_PATCH;
			break;
		case ALPHA: opt.merge_alpha = number(optarg, 0, 1, "--merge-alpha"); k = MS_SEG_K_ALPHA; break;
		case SYNTH:
			if ((opt.synth = ms_seg_synth_parse(optarg)) < 0)
				usage_error(usage, "unknown --synthetic mode '%s'", optarg);
			k = MS_SEG_K_SYNTH;
			break;
		case AUG:
			if ((opt.augment = ms_aug_parse(optarg)) < 0)
				usage_error(usage, "unknown --augment level '%s'", optarg);
			k = MS_SEG_K_AUGMENT;
			break;
		case SPROB: opt.synth_prob = number(optarg, 0, 1, "--synthetic-prob"); k = MS_SEG_K_SPROB; break;
		case SAVE: opt.save_every = integer(optarg, 0, 1L << 40, "--save-every"); tonly = 1; break;
		case REPORT: opt.report = integer(optarg, 1, 1L << 40, "--report"); tonly = 1; break;
		case WARMUP: opt.warmup = integer(optarg, 0, 1L << 40, "--warmup"); k = MS_SEG_K_WARMUP; break;
		case TIME: opt.time = number(optarg, 1, 1e9, "--time"); k = MS_SEG_K_TIME; break;
		case THRESH: threshold = number(optarg, 0, 1, "--threshold"); break;
		case 'h': help(); break;
		default: usage_die(usage);
		}
		if (k != ~0u) {
			opt.given |= 1u << k;
			tonly |= c != BATCH;
		}
	}
	if (optind != argc)
		usage_error(usage, "unexpected argument '%s'", argv[optind]);
	if (train && !opt.out)
		usage_error(usage, "train needs -o MODEL");
	if (train && model)
		usage_error(usage, "-m is for prediction, not train");
	if (!train && !model)
		usage_error(usage, "give train or -m MODEL");
	if (!train && tonly)
		usage_error(usage, "training options without train");
	if (opt.steps && opt.epochs)
		usage_error(usage, "--steps and --epochs exclude each other");
	if (valpath && !(opt.given >> MS_SEG_K_VAL & 1)) {
		opt.val_fraction = 0;       /* the validation set is FILE */
		opt.given |= 1u << MS_SEG_K_VAL;
	}
	if (opt.best && opt.val_fraction <= 0 && !valpath && !opt.resume)
		usage_error(usage, "--best needs validation samples (--val or --val-fraction)");
}

/* ---- train: read the data set */
static ms_seg_data data;
static long nskip;
static int held;                  /* samples read now are validation samples (--val) */

/* the file being read, for messages: "" (standard input) or "--val FILE: " */
static char where[4096];

static void keep(FILE *f, ms_rec *r, ms_rec *k, int *have)
{
	if (*have)
		die("%ssample '%s' has more than one '%s' record", where, cur, r->name);
	if (ms_rec_read_data(f, r) < 0 || ms_rec_check_finite(r) < 0)
		die("%s%s", where, ms_errmsg());
	*k = *r;
	ms_rec_init(r);
	*have = 1;
}

static void end_train_sample(void)
{
	char of[MS_META_MAX + 1];
	int syn = have_img && ms_meta_get(&img, "of", of, sizeof of);
	if (held && have_img && syn)
		die("%s: sample '%s' is synthetic (of=%s): validation samples must be real",
		    valpath, cur, of);
	if (have_img && (have_msk || syn)) {
		if (ms_seg_data_add(&data, cur, syn ? of : NULL, &img.t, have_msk ? &msk.t : NULL) < 0)
			die("%s", ms_errmsg());
		data.s[data.n - 1].held = held;
	} else {
		nskip++;
	}
	ms_rec_free(&img);
	ms_rec_free(&msk);
	have_img = have_msk = 0;
}

static void read_samples(FILE *f)
{
	ms_rec r;
	int ret, started = 0;
	ms_rec_init(&r);
	while ((ret = ms_rec_read_header(f, &r)) == 1) {
		ms_rec_id(&r, id, sizeof id);
		if (started && strcmp(id, cur))
			end_train_sample();
		memcpy(cur, id, strlen(id) + 1);
		started = 1;
		if (!strcmp(r.name, "image"))
			keep(f, &r, &img, &have_img);
		else if (!strcmp(r.name, "mask"))
			keep(f, &r, &msk, &have_msk);
		else if (ms_rec_skip(f, &r) < 0)
			die("%s%s", where, ms_errmsg());
	}
	if (ret < 0)
		die("%s%s", where, ms_errmsg());
	if (started)
		end_train_sample();
	ms_rec_free(&r);
}

static int train(void)
{
	ms_seg_data_init(&data);
	read_samples(stdin);
	if (nskip)
		warn("%ld samples without image and mask ignored", nskip);
	int n = data.n;
	if (!n)
		die("no samples with image and mask on stdin");
	if (valpath) {
		FILE *f = fopen(valpath, "rb");
		if (!f)
			die("cannot open %s:", valpath);
		held = 1;
		nskip = 0;
		snprintf(where, sizeof where, "%s: ", valpath);
		read_samples(f);
		fclose(f);
		if (nskip)
			warn("%s: %ld samples without image and mask ignored", valpath, nskip);
		if (data.n == n)
			die("%s: no samples with image and mask", valpath);
	}
	if (ms_seg_data_split(&data, opt.val_fraction) < 0)
		die("%s", ms_errmsg());
	ms_threads(opt.threads);
	int sig = ms_seg_train(&data, &opt);
	ms_seg_data_free(&data);
	if (sig < 0)
		die("%s", ms_errmsg());
	return sig ? 128 + sig : 0;
}

/* ---- predict: samples are queued (their records as bytes) until a batch is full */
typedef struct {
	char *buf;
	size_t len;
	float *x;                     /* image as the model's channels, NULL if none */
	int h, w;
	ms_rec meta;                  /* the image record's metadata */
} pending;

static ms_seg_pred pred;
static pending *q;
static int nq, qcap, nimg, inch;
static FILE *mem;
static char *mbuf;
static size_t mlen;
static float *logits;
static size_t logits_cap;

static void emit(pending *p, const float *l)
{
	if (fwrite(p->buf, 1, p->len, stdout) != p->len)
		die("cannot write <stdout>:");
	if (p->x) {
		size_t n = (size_t)p->h * p->w;
		float *prob = emalloc(n * sizeof *prob);
		uint8_t *pr = emalloc(n);
		for (size_t i = 0; i < n; i++) {
			prob[i] = 1 / (1 + expf(-l[i]));
			pr[i] = prob[i] > threshold;
		}
		ms_tensor tp = { MS_F32, 3, { 1, p->h, p->w }, prob }, tm = { MS_U8, 3, { 1, p->h, p->w }, pr };
		ms_rec a, b;
		ms_rec_init(&a);
		ms_rec_init(&b);
		if (ms_rec_set(&a, "prob", &tp) < 0 || ms_meta_copy(&a, &p->meta) < 0 ||
		    ms_rec_write(stdout, &a) < 0 || ms_rec_set(&b, "pred", &tm) < 0 ||
		    ms_meta_copy(&b, &p->meta) < 0 || ms_rec_write(stdout, &b) < 0)
			die("%s", ms_errmsg());
		ms_rec_free(&a);
		ms_rec_free(&b);
	}
	free(p->buf);
	free(p->x);
	ms_rec_free(&p->meta);
}

static void flush_queue(void)
{
	if (nimg) {
		int h = 0, w = 0, k = 0;
		for (int i = 0; i < nq; i++)
			if (q[i].x) {
				h = q[i].h;
				w = q[i].w;
			}
		size_t chw = (size_t)inch * h * w;
		float *x = ereallocarray(NULL, (size_t)nimg, chw * sizeof *x);
		for (int i = 0; i < nq; i++)
			if (q[i].x)
				memcpy(x + k++ * chw, q[i].x, chw * sizeof *x);
		if ((size_t)nimg * h * w > logits_cap) {
			free(logits);
			logits_cap = (size_t)nimg * h * w;
			logits = ereallocarray(NULL, logits_cap, sizeof *logits);
		}
		if (ms_seg_pred_run(&pred, nimg, h, w, x, logits) < 0)
			die("%s", ms_errmsg());
		free(x);
	}
	for (int i = 0, k = 0; i < nq; i++)
		emit(&q[i], q[i].x ? logits + (size_t)k++ * q[i].h * q[i].w : NULL);
	nq = nimg = 0;
}

static void end_pred_sample(void)
{
	pending p = { 0 };
	if (fclose(mem) == EOF)
		die("cannot buffer a sample:");
	mem = NULL;
	p.buf = mbuf;
	p.len = mlen;
	ms_rec_init(&p.meta);
	if (have_img) {
		int c;
		if (ms_image_dims(&img.t, &c, &p.h, &p.w) < 0)
			die("sample '%s': %s", cur, ms_errmsg());
		p.x = emalloc((size_t)inch * p.h * p.w * sizeof(float));
		if (ms_seg_convert(&img.t, inch, p.x) < 0)
			die("sample '%s': %s", cur, ms_errmsg());
		if (ms_meta_copy(&p.meta, &img) < 0)
			die("%s", ms_errmsg());
		ms_rec_free(&img);
		have_img = 0;
		for (int i = 0; i < nq; i++)  /* one batch, one size */
			if (q[i].x && (q[i].h != p.h || q[i].w != p.w)) {
				flush_queue();
				break;
			}
	}
	q[nq++] = p;
	nimg += p.x != NULL;
	if (nimg == pbatch || !nimg || nq == qcap)
		flush_queue();
}

static int predict(void)
{
	ms_rec r;
	int ret, started = 0;
	ms_threads(opt.threads);
	if (ms_seg_pred_open(&pred, model) < 0)
		die("%s", ms_errmsg());
	inch = ms_unet_cfg_of(pred.u)->in_ch;
	qcap = pbatch + 64;
	q = ecalloc(qcap, sizeof *q);
	ms_rec_init(&r);
	ms_rec_init(&img);
	while ((ret = ms_rec_read_header(stdin, &r)) == 1) {
		ms_rec_id(&r, id, sizeof id);
		if (started && strcmp(id, cur))
			end_pred_sample();
		if (!mem && !(mem = open_memstream(&mbuf, &mlen)))
			die("cannot buffer a sample:");
		memcpy(cur, id, strlen(id) + 1);
		started = 1;
		if (!strcmp(r.name, "image")) {
			keep(stdin, &r, &img, &have_img);
			if (ms_rec_write(mem, &img) < 0)
				die("%s", ms_errmsg());
		} else if (ms_rec_copy(stdin, &r, mem) < 0) {
			die("%s", ms_errmsg());
		}
	}
	if (ret < 0)
		die("%s", ms_errmsg());
	if (started)
		end_pred_sample();
	flush_queue();
	ms_rec_free(&r);
	ms_seg_pred_close(&pred);
	free(q);
	free(logits);
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
