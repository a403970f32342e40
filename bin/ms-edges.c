/* ms-edges: append an edge map record to every sample that has an image. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ms.h"
#include "image/edges.h"
#include "image/image.h"
#include "io/stream.h"

static const char usage[] =
	"[-m soft|canny|mask|diffboost] [-s sigma] [--operator sobel|scharr]\n"
	"       [--low L] [--high H] [--l2] [--near R] [--image NAME] [--mask NAME] [-n NAME]";

static ms_edges_opt opt = { MS_EDGES_DIFFBOOST, 1.0, 0, 50, 150, 0, 0 };
static const char *image_name = "image", *mask_name = "mask", *out_name = "edges";
static ms_edges *ws;
static char nearv[16];            /* --near as text, metadata of the edge map */
static float *out;
static size_t out_cap;

/* the current sample: its id, and its image and mask records if seen */
static char cur[MS_META_MAX + 1], id[MS_META_MAX + 1];
static ms_rec img, msk;
static int have_img, have_msk;

static int uses_mask(void)
{
	return opt.method == MS_EDGES_MASK || opt.method == MS_EDGES_DIFFBOOST || opt.near;
}

/* decode r, write it through unchanged, keep it as *keep */
static void take(ms_rec *r, ms_rec *keep, int *have)
{
	if (*have)
		die("sample '%s' has more than one '%s' record", cur, r->name);
	if (ms_rec_read_data(stdin, r) < 0 || ms_rec_write(stdout, r) < 0)
		die("%s", ms_errmsg());
	*keep = *r;
	ms_rec_init(r);
	*have = 1;
}

/* end of a sample: append its edge map (with --near, only when it has a mask) */
static void flush(void)
{
	if (have_img && (have_msk || !opt.near)) {
		int c, h, w;
		if (opt.method == MS_EDGES_MASK && !have_msk)
			die("sample '%s' has no '%s' record for --method mask", cur, mask_name);
		if (ms_image_dims(&img.t, &c, &h, &w) < 0)
			die("sample '%s': %s", cur, ms_errmsg());
		size_t n = (size_t)h * w;
		if (n > out_cap) {
			free(out);
			out = ereallocarray(NULL, n, sizeof *out);
			out_cap = n;
		}
		if (ms_edges_compute(ws, &img.t, have_msk ? &msk.t : NULL, out) < 0)
			die("sample '%s': %s", cur, ms_errmsg());
		ms_rec e;
		ms_rec_init(&e);
		ms_tensor t = { MS_F32, 3, { 1, h, w }, out };
		if (ms_rec_set(&e, out_name, &t) < 0 || ms_meta_copy(&e, &img) < 0 ||
		    ms_meta_set(&e, "edges", ms_edges_method_name(opt.method)) < 0 ||
		    (opt.near && ms_meta_set(&e, "near", nearv) < 0) ||
		    ms_rec_write(stdout, &e) < 0)
			die("%s", ms_errmsg());
		e.t.data = NULL;    /* out is reused */
		ms_rec_free(&e);
	}
	ms_rec_free(&img);
	ms_rec_free(&msk);
	have_img = have_msk = 0;
}

static double number(const char *s, double lo, double hi, const char *what)
{
	double v;
	if (ms_parse_double(s, lo, hi, &v) < 0)
		usage_error(usage, "%s: %s", what, ms_errmsg());
	return v;
}

static void options(int argc, char **argv)
{
	enum { OPERATOR = 256, LOW, HIGH, L2, IMAGE, MASK, NEAR };
	static const struct option opts[] = {
		{ "method", required_argument, 0, 'm' }, { "sigma", required_argument, 0, 's' },
		{ "operator", required_argument, 0, OPERATOR }, { "low", required_argument, 0, LOW },
		{ "high", required_argument, 0, HIGH }, { "l2", no_argument, 0, L2 },
		{ "near", required_argument, 0, NEAR },
		{ "image", required_argument, 0, IMAGE }, { "mask", required_argument, 0, MASK },
		{ "name", required_argument, 0, 'n' }, { "help", no_argument, 0, 'h' }, { 0 }
	};
	int c;
	while ((c = getopt_long(argc, argv, "m:s:n:", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if ((opt.method = ms_edges_method_parse(optarg)) < 0)
				usage_error(usage, "unknown method '%s'", optarg);
			break;
		case 's': opt.sigma = number(optarg, 0, 100, "--sigma"); break;
		case OPERATOR:
			if (strcmp(optarg, "sobel") && strcmp(optarg, "scharr"))
				usage_error(usage, "unknown operator '%s'", optarg);
			opt.scharr = !strcmp(optarg, "scharr");
			break;
		case LOW: opt.low = number(optarg, 0, 1e6, "--low"); break;
		case HIGH: opt.high = number(optarg, 0, 1e6, "--high"); break;
		case L2: opt.l2 = 1; break;
		case NEAR: {
			long v;
			if (ms_parse_int(optarg, 1, 1024, &v) < 0)
				usage_error(usage, "--near: %s", ms_errmsg());
			opt.near = (int)v;
			snprintf(nearv, sizeof nearv, "%ld", v);
			break;
		}
		case IMAGE: image_name = optarg; break;
		case MASK: mask_name = optarg; break;
		case 'n': out_name = optarg; break;
		case 'h':
			printf("usage: %s %s\n"
			       "Append an edge map record (f32 [1,H,W] in [0,1]) to every sample with an image.\n"
			       "  -m, --method M     soft, canny, mask or diffboost (default: min(1, soft + mask band))\n"
			       "  -s, --sigma S      Gaussian sigma before the gradient, 0 = none (default 1)\n"
			       "      --operator OP  soft: sobel (default) or scharr\n"
			       "      --low L        canny: low threshold (default 50)\n"
			       "      --high H       canny: high threshold (default 150), 8-bit gradient units\n"
			       "      --l2           canny: L2 gradient magnitude (default |dx| + |dy|)\n"
			       "      --near R       only edges within R pixels of the mask's border; a\n"
			       "                     sample without a mask gets no edge map\n"
			       "      --image NAME   input image record (default image)\n"
			       "      --mask NAME    input mask record (default mask)\n"
			       "  -n, --name NAME    output record name (default edges)\n", argv0, usage);
			exit(0);
		default: usage_die(usage);
		}
	}
	if (optind != argc)
		usage_die(usage);
	const char *names[] = { image_name, mask_name, out_name };
	for (int i = 0; i < 3; i++)
		if (!ms_name_valid(names[i])) {
			fprintf(stderr, "%s: invalid record name '%s'\n", argv0, names[i]);
			usage_die(usage);
		}
}

int main(int argc, char **argv)
{
	ms_rec r;
	int ret, started = 0;
	ms_setprog(argv);
	options(argc, argv);
	if (!(ws = ms_edges_new(&opt)))
		die("%s", ms_errmsg());
	ms_rec_init(&r);
	ms_rec_init(&img);
	ms_rec_init(&msk);
	while ((ret = ms_rec_read_header(stdin, &r)) == 1) {
		ms_rec_id(&r, id, sizeof id);
		if (started && strcmp(id, cur))
			flush();
		if (!started || strcmp(id, cur))
			memcpy(cur, id, strlen(id) + 1);
		started = 1;
		if (!strcmp(r.name, image_name))
			take(&r, &img, &have_img);
		else if (uses_mask() && !strcmp(r.name, mask_name))
			take(&r, &msk, &have_msk);
		else if (ms_rec_copy(stdin, &r, stdout) < 0)
			die("%s", ms_errmsg());
	}
	if (ret < 0)
		die("%s", ms_errmsg());
	flush();
	ms_rec_free(&r);
	ms_edges_free(ws);
	free(out);
	return fshut(stdout, "<stdout>");
}
