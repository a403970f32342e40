/* ms-import: PNG images and NIfTI volumes (with optional masks) -> a sample stream. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/ms.h"
#include "io/import.h"
#include "io/stream.h"

static const char usage[] =
	"[-z] [-s WxH] [-m DIR] [-p TEXT] [-c LO,HI | -w L,W] [-a x|y|z] [-o file|RAS|LPS]\n"
	"       [-f N] [-r] [--max-decoded N] [--shard K/N] PATH...";

/* plo..phi 0..100 without --clip: volumes are rescaled from their minimum and maximum */
static ms_import_opts opt = { .plo = 0, .phi = 100, .axis = 2, .min_fg = -1 };
static int size[2];            /* --size W, H */
static int compress;

static int parse_clip(const char *s)
{
	char a[64];
	const char *comma = strchr(s, ',');
	if (!comma || (size_t)(comma - s) >= sizeof a)
		return ms_error("need LO,HI percentiles, e.g. 0.5,99.5");
	memcpy(a, s, comma - s);
	a[comma - s] = '\0';
	if (ms_parse_double(a, 0, 100, &opt.plo) < 0 ||
	    ms_parse_double(comma + 1, 0, 100, &opt.phi) < 0 || opt.plo >= opt.phi)
		return ms_error("'%s': need 0 <= LO < HI <= 100", s);
	opt.clip = 1;
	return 0;
}

/* L,W: a window of width W > 0 about level L */
static int parse_window(const char *s)
{
	char *end;
	opt.level = strtod(s, &end);
	if (end == s || *end != ',' || ms_parse_double(end + 1, 0, 1e30, &opt.width) < 0 ||
	    !(opt.width > 0) || !isfinite(opt.level))
		return ms_error("need LEVEL,WIDTH with WIDTH > 0, e.g. 40,400");
	opt.window = 1;
	return 0;
}

/* N, NK, NM or NG (binary multiples) bytes, at least 1 */
static int parse_bytes(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10), m = 1;
	if (*end && !end[1] && strchr("KMG", *end))
		m = 1ULL << (*end == 'K' ? 10 : *end == 'M' ? 20 : 30), end++;
	if (errno || *end || !v || s[0] == '-' || v > SIZE_MAX / m)
		return ms_error("'%s': need a byte count like 4096, 512M or 4G", s);
	opt.max_bytes = (size_t)(v * m);
	return 0;
}

static const char *const axes[] = { "x", "y", "z", NULL };
static const char *const orients[] = { "file", "RAS", "LPS", NULL };
static ms_opt opts[] = {
	MS_OPT_SIZE("size", 's', size, "resize (bilinear images, nearest masks)"),
	MS_OPT_STR("mask-dir", 'm', &opt.mask_dir, "DIR", "masks: DIR/<stem>.png, .nii.gz or .nii"),
	MS_OPT_STR("prompt", 'p', &opt.prompt, "TEXT", "add prompt=TEXT to every record"),
	MS_OPT_CALL("clip", 'c', parse_clip, "LO,HI", "clip intensities to these percentiles, rescale"),
	MS_OPT_CALL("window", 'w', parse_window, "L,W", "volumes: map the values in L +- W/2 to [0,1]\n"
	            "(a CT window in HU), clip the others"),
	MS_OPT_CHOICE("axis", 'a', &opt.axis, axes, "slicing axis for volumes (default z)"),
	MS_OPT_CHOICE("orient", 'o', &opt.orient, orients,
	              "volumes: axes in file order (default), or\nturned to RAS or LPS before slicing"),
	MS_OPT_INT("min-fg", 'f', &opt.min_fg, 0, 1L << 40, "N",
	           "keep only samples whose mask has more than N\nforeground pixels"),
	MS_OPT_FLAG("require-mask", 'r', &opt.require_mask, "an image without a mask is an error"),
	MS_OPT_FLAG("compress", 'z', &compress, "zlib-compress the payloads"),
	MS_OPT_CALL("max-decoded", 0, parse_bytes, "N", "refuse a PNG of more than N bytes of pixels\n"
	            "(K, M, G suffixes; default 1G)"),
	MS_OPT_SHARD(&opt.shard),
	MS_OPT_END
};

int main(int argc, char **argv)
{
	static const char about[] =
		"Read PNG images and NIfTI volumes (files or directories) and write\n"
		"one sample per image or volume slice: an image record, and a mask record\n"
		"when the mask directory holds a file with the same stem.";
	ms_setprog(argv);
	int first = ms_opt_parse(opts, usage, about, 0, argc, argv);
	if (first == argc)
		usage_die(usage);
	if (opt.require_mask && !opt.mask_dir)
		usage_error(usage, "--require-mask needs --mask-dir");
	if (opt.clip && opt.window)
		usage_error(usage, "--clip and --window do not go together");
	opt.w = size[0];
	opt.h = size[1];
	opt.flags = compress ? MS_FLAG_ZLIB : 0;
	ms_import im;
	if (ms_import_init(&im, &opt, stdout) < 0)
		die("%s", ms_errmsg());
	for (int i = first; i < argc; i++) {
		int ret = ms_import_path(&im, argv[i]);
		if (ret == -2)
			die("%s (--max-decoded raises it)", ms_errmsg());
		if (ret < 0)
			die("%s", ms_errmsg());
	}
	return fshut(stdout, "<stdout>");
}
