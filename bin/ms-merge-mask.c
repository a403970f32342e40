/* ms-merge-mask: append DiffBoost's random merging mask to every sample; with --apply,
 * also mix the real image block-wise with a synthetic one. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/ms.h"
#include "image/merge.h"
#include "io/sample.h"
#include "io/stream.h"

static const char usage[] =
	"[-p P] [-a ALPHA] [-s SEED] [-n NAME] [--apply SYNTH]";

static long patch;             /* 0: ceil(min(H,W) / 6) per sample */
static double alpha = 0.6;
static long seed;
static const char *outname = "merge", *synth;

/* the size of the sample's images and masks (H < 0: none), with --apply the index of
 * the first image and the first SYNTH record; the headers suffice */
static int H, W, ki, ks;

static void note(const ms_sample *s)
{
	H = W = ki = ks = -1;
	for (int i = 0; i < s->n; i++) {
		const ms_rec *r = &s->rec[i];
		if (!strcmp(r->name, "image") || !strcmp(r->name, "mask")) {
			if (r->t.rank != 3 || r->t.shape[1] > INT_MAX || r->t.shape[2] > INT_MAX)
				die("sample '%s': record '%s' is not [C,H,W]", s->id, r->name);
			int h = (int)r->t.shape[1], w = (int)r->t.shape[2];
			if (H < 0) {
				H = h;
				W = w;
			} else if (h != H || w != W) {
				die("sample '%s': '%s' is %dx%d, another image or mask is %dx%d", s->id,
				    r->name, w, h, W, H);
			}
		}
		if (synth && !strcmp(r->name, "image") && ki < 0)
			ki = i;
		if (synth && !strcmp(r->name, synth) && ks < 0)
			ks = i;
	}
}

/* image = M * image + (1 - M) * synth in place; SYNTH is decoded from a copy of its
 * payload so that it is written back as stored */
static void apply(ms_sample *s, const uint8_t *m)
{
	if (ki < 0 || ks < 0)
		die("sample '%s': --apply needs an 'image' and a '%s' record", s->id, synth);
	ms_rec *img = &s->rec[ki], syn = s->rec[ks];
	syn.meta = NULL;
	syn.raw = emalloc(syn.stored_len + 1);
	memcpy(syn.raw, s->rec[ks].raw, syn.stored_len);
	if (ms_rec_decode(img) < 0 || ms_rec_decode(&syn) < 0)
		die("sample '%s': %s", s->id, ms_errmsg());
	if (img->t.dtype != MS_F32 || syn.t.dtype != MS_F32 || syn.t.rank != 3 ||
	    memcmp(img->t.shape, syn.t.shape, sizeof img->t.shape))
		die("sample '%s': 'image' and '%s' must both be f32 of the same shape", s->id, synth);
	ms_merge_mix(img->t.data, img->t.data, syn.t.data, m, (size_t)img->t.shape[0], (size_t)H * W);
	ms_rec_free(&syn);
}

/* the sample written through (with --apply, its image mixed), then its merging mask */
static int merge(ms_sample *s, void *ctx)
{
	(void)ctx;
	note(s);
	if (H >= 0) {
		ms_tensor t;
		ms_rec r;
		ms_rng rng;
		if (ms_tensor_alloc(&t, MS_U8, 3, (int64_t[]){ 1, H, W }) < 0)
			die("sample '%s': %s", s->id, ms_errmsg());
		ms_rng_init(&rng, (uint64_t)seed, ms_hash64(s->id));
		if (ms_merge_grid(t.data, H, W, patch ? (int)patch : ms_merge_patch_default(H, W),
		                  alpha, &rng) < 0)
			die("sample '%s': %s", s->id, ms_errmsg());
		if (synth)
			apply(s, t.data);
		ms_rec_init(&r);
		if (ms_rec_set(&r, outname, &t) < 0 || (*s->id && ms_meta_set(&r, "id", s->id) < 0) ||
		    ms_sample_add(s, &r) < 0)
			die("sample '%s': %s", s->id, ms_errmsg());
	}
	if (ms_sample_write(stdout, s) < 0)
		die("%s", ms_errmsg());
	return 0;
}

static ms_opt opts[] = {
	MS_OPT_INT("patch", 'p', &patch, 1, INT_MAX, "P",
	           "cell size in pixels (default ceil(min(H,W)/6))"),
	MS_OPT_NUM("alpha", 'a', &alpha, 0, 1, "A",
	           "probability of a real cell, in [0,1] (default 0.6)"),
	MS_OPT_SEED('s', &seed, "seed; the grid depends on seed and sample id (default 0)"),
	MS_OPT_STR("name", 'n', &outname, "NAME", "name of the new record (default merge)"),
	MS_OPT_STR("apply", 0, &synth, "SYNTH",
	           "also replace the image's synthetic cells by record SYNTH"),
	MS_OPT_END
};

int main(int argc, char **argv)
{
	static const char about[] =
		"Append to every sample with an image or mask a random merging mask (u8 [1,H,W],\n"
		"1 = real): a grid of PxP cells, each real with probability ALPHA.";
	ms_setprog(argv);
	int first = ms_opt_parse(opts, usage, about, 0, argc, argv);
	if (!ms_name_valid(outname))
		usage_error(usage, "--name: not a valid record name");
	if (synth && (!ms_name_valid(synth) || !strcmp(synth, "image")))
		usage_error(usage, "--apply: need a valid record name other than 'image'");
	if (first != argc)
		usage_die(usage);

	if (ms_sample_each(stdin, "<stdin>", merge, NULL) < 0)
		die("%s", ms_errmsg());
	return fshut(stdout, "<stdout>");
}
