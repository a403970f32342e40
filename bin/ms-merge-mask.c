/* ms-merge-mask: append DiffBoost's random merging mask to every sample; with --apply,
 * also mix the real image block-wise with a synthetic one. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/ms.h"
#include "image/merge.h"
#include "io/stream.h"

static const char usage[] =
	"[-p P] [-a ALPHA] [-s SEED] [-n NAME] [--apply SYNTH]";

static long patch;             /* 0: ceil(min(H,W) / 6) per sample */
static double alpha = 0.6;
static uint64_t seed;
static const char *outname = "merge", *synth;

/* the sample being read; with --apply its records are spooled in memory so that the
 * image can be rewritten in place */
static char id[MS_META_MAX + 1];
static int H, W;               /* H < 0: no image or mask seen yet */
static FILE *spool;
static char *buf;
static size_t len;
static long img_off, img_end, syn_off, syn_end;

static void sample_begin(void)
{
	H = W = -1;
	img_off = syn_off = -1;
	if (synth && !(spool = open_memstream(&buf, &len)))
		die("cannot open memory stream:");
}

/* note the size, and with --apply where the image and the synthetic image lie */
static void note(const ms_rec *r, long off)
{
	int sized = !strcmp(r->name, "image") || !strcmp(r->name, "mask");
	if (sized) {
		if (r->t.rank != 3 || r->t.shape[1] > INT_MAX || r->t.shape[2] > INT_MAX)
			die("sample '%s': record '%s' is not [C,H,W]", id, r->name);
		int h = (int)r->t.shape[1], w = (int)r->t.shape[2];
		if (H < 0) {
			H = h;
			W = w;
		} else if (h != H || w != W) {
			die("sample '%s': '%s' is %dx%d, another image or mask is %dx%d", id,
			    r->name, w, h, W, H);
		}
	}
	if (synth && !strcmp(r->name, "image") && img_off < 0)
		img_off = off;
	if (synth && !strcmp(r->name, synth) && syn_off < 0)
		syn_off = off;
}

static void spool_read(ms_rec *r, long off, long end)
{
	FILE *f = fmemopen(buf + off, (size_t)(end - off), "rb");
	if (!f)
		die("cannot open memory stream:");
	if (ms_rec_read(f, r) != 1)
		die("sample '%s': %s", id, ms_errmsg());
	fclose(f);
}

/* rewrite the spooled sample with image = M * image + (1 - M) * synth */
static void apply(const uint8_t *m)
{
	ms_rec img, syn;
	if (img_off < 0 || syn_off < 0)
		die("sample '%s': --apply needs an 'image' and a '%s' record", id, synth);
	ms_rec_init(&img);
	ms_rec_init(&syn);
	spool_read(&img, img_off, img_end);
	spool_read(&syn, syn_off, syn_end);
	if (img.t.dtype != MS_F32 || syn.t.dtype != MS_F32 || syn.t.rank != 3 ||
	    memcmp(img.t.shape, syn.t.shape, sizeof img.t.shape))
		die("sample '%s': 'image' and '%s' must both be f32 of the same shape", id, synth);
	size_t hw = (size_t)H * W;
	ms_merge_mix(img.t.data, img.t.data, syn.t.data, m, (size_t)img.t.shape[0], hw);
	if (fwrite(buf, 1, img_off, stdout) != (size_t)img_off || ms_rec_write(stdout, &img) < 0 ||
	    fwrite(buf + img_end, 1, len - img_end, stdout) != len - img_end)
		die("cannot write <stdout>:");
	ms_rec_free(&img);
	ms_rec_free(&syn);
}

static void sample_end(void)
{
	if (spool && fclose(spool) == EOF)
		die("cannot write memory stream:");
	spool = NULL;
	if (H < 0) {
		if (synth && fwrite(buf, 1, len, stdout) != len)
			die("cannot write <stdout>:");
		goto out;
	}
	ms_tensor t;
	ms_rec r;
	ms_rng rng;
	if (ms_tensor_alloc(&t, MS_U8, 3, (int64_t[]){ 1, H, W }) < 0)
		die("sample '%s': %s", id, ms_errmsg());
	ms_rng_init(&rng, seed, ms_hash64(id));
	if (ms_merge_grid(t.data, H, W, patch ? (int)patch : ms_merge_patch_default(H, W), alpha,
	                  &rng) < 0)
		die("sample '%s': %s", id, ms_errmsg());
	if (synth)
		apply(t.data);
	ms_rec_init(&r);
	if (ms_rec_set(&r, outname, &t) < 0 || (*id && ms_meta_set(&r, "id", id) < 0) ||
	    ms_rec_write(stdout, &r) < 0)
		die("sample '%s': %s", id, ms_errmsg());
	ms_rec_free(&r);
out:
	free(buf);
	buf = NULL;
	len = 0;
}

static int parse_seed(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || errno)
		return ms_error("not an integer in [0, 2^64-1]");
	seed = v;
	return 0;
}

static ms_opt opts[] = {
	MS_OPT_INT("patch", 'p', &patch, 1, INT_MAX, "P",
	           "cell size in pixels (default ceil(min(H,W)/6))"),
	MS_OPT_NUM("alpha", 'a', &alpha, 0, 1, "A",
	           "probability of a real cell, in [0,1] (default 0.6)"),
	MS_OPT_CALL("seed", 's', parse_seed, "S",
	            "seed; the grid depends on seed and sample id (default 0)"),
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

	ms_rec r;
	int ret, open = 0;
	char rid[sizeof id];
	ms_rec_init(&r);
	while ((ret = ms_rec_read_header(stdin, &r)) == 1) {
		ms_rec_id(&r, rid, sizeof rid);
		if (!open || strcmp(rid, id)) {
			if (open)
				sample_end();
			memcpy(id, rid, sizeof id);
			sample_begin();
			open = 1;
		}
		FILE *out = spool ? spool : stdout;
		long off = spool ? ftell(spool) : 0;
		note(&r, off);
		if (ms_rec_copy(stdin, &r, out) < 0)
			die("%s", ms_errmsg());
		if (spool && off == img_off)
			img_end = ftell(spool);
		if (spool && off == syn_off)
			syn_end = ftell(spool);
	}
	if (ret < 0)
		die("%s", ms_errmsg());
	if (open)
		sample_end();
	ms_rec_free(&r);
	return fshut(stdout, "<stdout>");
}
