/* ms-edges: append an edge map record to every sample that has an image. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ms.h"
#include "image/edges.h"
#include "image/image.h"
#include "io/sample.h"
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

static int uses_mask(void)
{
	return opt.method == MS_EDGES_MASK || opt.method == MS_EDGES_DIFFBOOST || opt.near;
}

/* record NAME of s, decoded (non-finite values carried, ms-stream(5)); NULL if none */
static ms_rec *get(ms_sample *s, const char *name)
{
	int i = ms_sample_find(s, name);
	if (i == -2)
		die("%s", ms_errmsg());
	if (i >= 0 && ms_rec_decode(&s->rec[i]) < 0)
		die("sample '%s': %s", s->id, ms_errmsg());
	return i >= 0 ? &s->rec[i] : NULL;
}

/* the sample written through, then its edge map (with --near, only when it has a mask) */
static int edges(ms_sample *s, void *ctx)
{
	(void)ctx;
	ms_rec *img = get(s, image_name);
	ms_rec *msk = uses_mask() && strcmp(mask_name, image_name) ? get(s, mask_name) : NULL;
	if (ms_sample_write(stdout, s) < 0)
		die("%s", ms_errmsg());
	if (!img || (!msk && opt.near))
		return 0;
	int c, h, w;
	if (opt.method == MS_EDGES_MASK && !msk)
		die("sample '%s' has no '%s' record for --method mask", s->id, mask_name);
	if (ms_image_dims(&img->t, &c, &h, &w) < 0)
		die("sample '%s': %s", s->id, ms_errmsg());
	size_t n = (size_t)h * w;
	if (n > out_cap) {
		free(out);
		out = ereallocarray(NULL, n, sizeof *out);
		out_cap = n;
	}
	if (ms_edges_compute(ws, &img->t, msk ? &msk->t : NULL, out) < 0)
		die("sample '%s': %s", s->id, ms_errmsg());
	ms_rec e;
	ms_rec_init(&e);
	ms_tensor t = { MS_F32, 3, { 1, h, w }, out };
	if (ms_rec_set(&e, out_name, &t) < 0 || ms_meta_copy(&e, img) < 0 ||
	    ms_meta_set(&e, "edges", ms_edges_method_name(opt.method)) < 0 ||
	    (opt.near && ms_meta_set(&e, "near", nearv) < 0) ||
	    ms_rec_write(stdout, &e) < 0)
		die("%s", ms_errmsg());
	e.t.data = NULL;    /* out is reused */
	ms_rec_free(&e);
	return 0;
}

static const char *methods[MS_EDGES_DIFFBOOST + 2];   /* the library's names */
static const char *const operators[] = { "sobel", "scharr", NULL };
static long near;
static ms_opt opts[] = {
	MS_OPT_CHOICE("method", 'm', &opt.method, methods,
	              "edge method (default diffboost: min(1, soft + mask band))"),
	MS_OPT_NUM("sigma", 's', &opt.sigma, 0, 100, "S",
	           "Gaussian sigma before the gradient, 0 = none (default 1)"),
	MS_OPT_CHOICE("operator", 0, &opt.scharr, operators, "soft: sobel (default) or scharr"),
	MS_OPT_NUM("low", 0, &opt.low, 0, 1e6, "L", "canny: low threshold (default 50)"),
	MS_OPT_NUM("high", 0, &opt.high, 0, 1e6, "H",
	           "canny: high threshold (default 150), 8-bit gradient units"),
	MS_OPT_FLAG("l2", 0, &opt.l2, "canny: L2 gradient magnitude (default |dx| + |dy|)"),
	MS_OPT_INT("near", 0, &near, 1, 1024, "R", "only edges within R pixels of the mask's border;\n"
	           "a sample without a mask gets no edge map"),
	MS_OPT_STR("image", 0, &image_name, "NAME", "input image record (default image)"),
	MS_OPT_STR("mask", 0, &mask_name, "NAME", "input mask record (default mask)"),
	MS_OPT_STR("name", 'n', &out_name, "NAME", "output record name (default edges)"),
	MS_OPT_END
};

static void options(int argc, char **argv)
{
	for (int i = 0; ms_edges_method_name(i); i++)
		methods[i] = ms_edges_method_name(i);
	if (ms_opt_parse(opts, usage, "Append an edge map record (f32 [1,H,W] in [0,1]) to every "
	                 "sample with an image.", 0, argc, argv) != argc)
		usage_die(usage);
	opt.near = (int)near;
	snprintf(nearv, sizeof nearv, "%ld", near);
	const char *names[] = { image_name, mask_name, out_name };
	for (int i = 0; i < 3; i++)
		if (!ms_name_valid(names[i])) {
			fprintf(stderr, "%s: invalid record name '%s'\n", argv0, names[i]);
			usage_die(usage);
		}
}

int main(int argc, char **argv)
{
	ms_setprog(argv);
	options(argc, argv);
	if (!(ws = ms_edges_new(&opt)))
		die("%s", ms_errmsg());
	if (ms_sample_each(stdin, "<stdin>", edges, NULL) < 0)
		die("%s", ms_errmsg());
	ms_edges_free(ws);
	free(out);
	return fshut(stdout, "<stdout>");
}
