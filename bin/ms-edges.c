/* ms-edges: append an edge map record to every sample that has an image. */
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
