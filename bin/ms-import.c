/* ms-import: PNG images and NIfTI volumes (with optional masks) -> a sample stream. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/ms.h"
#include "image/resize.h"
#include "io/nifti.h"
#include "io/png.h"
#include "io/stream.h"

static const char usage[] =
	"[-z] [-s WxH] [-m DIR] [-p TEXT] [-c LO,HI] [-a x|y|z] [-f N] [-r] [--max-decoded N] PATH...";

static struct {
	int w, h;                  /* --size, 0 = keep */
	const char *mask_dir, *prompt;
	int clip;
	double plo, phi;
	int axis;
	long min_fg;               /* -1 = keep all */
	int require_mask, compress;
	unsigned flags;
	size_t max_bytes;          /* --max-decoded, 0 = the library's limit */
} opt = { .plo = 0, .phi = 100, .axis = 2, .min_fg = -1 };
static int size[2];            /* --size W, H */

static char prev_id[1024];

/* metadata of one output sample besides id and source */
typedef struct {
	const char *source, *mask_source;
	double sp[2];              /* sy, sx in mm; 0 = unknown */
	long slice, vol;           /* -1 = not a volume slice / not 4-D */
	int64_t size[2];           /* PNG: read already at --size from a file of this size */
	int64_t fg;                /* PNG: the mask's foreground pixels at that size */
} sample_info;

static int is_nifti(const char *p)
{
	size_t n = strlen(p);
	return (n > 4 && !strcasecmp(p + n - 4, ".nii")) ||
	       (n > 7 && !strcasecmp(p + n - 7, ".nii.gz"));
}

static int is_image(const char *p)
{
	size_t n = strlen(p);
	return is_nifti(p) || (n > 4 && !strcasecmp(p + n - 4, ".png"));
}

/* file name without directory and without .png / .nii / .nii.gz (or last .ext) */
static char *stem_of(const char *path)
{
	const char *b = strrchr(path, '/');
	char *s = estrdup(b ? b + 1 : path);
	size_t n = strlen(s);
	if (n > 7 && !strcasecmp(s + n - 7, ".nii.gz"))
		s[n - 7] = '\0';
	else if (strrchr(s, '.') && strrchr(s, '.') != s)
		*strrchr(s, '.') = '\0';
	return s;
}

static char *join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = emalloc(n);
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

static int is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* the image files of dir, sorted by name; hidden files and directories skipped */
static char **list_dir(const char *dir, size_t *n)
{
	DIR *d = opendir(dir);
	if (!d)
		die("cannot open %s:", dir);
	char **v = NULL;
	size_t cap = 0;
	*n = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.' || !is_image(e->d_name))
			continue;
		char *p = join(dir, e->d_name);
		if (is_dir(p)) {
			free(p);
			continue;
		}
		if (*n == cap)
			v = ereallocarray(v, cap = cap ? 2 * cap : 64, sizeof *v);
		v[(*n)++] = p;
	}
	closedir(d);
	if (!*n)
		die("%s: no .png, .nii or .nii.gz files", dir);
	qsort(v, *n, sizeof *v, cmp_str);
	return v;
}

/* mask file with the image's stem in --mask-dir, or NULL; the image's kind first */
static char *find_mask(const char *stem, int volume)
{
	static const char *ext[2][4] = { { ".png", ".PNG", ".nii.gz", ".nii" },
	                                 { ".nii.gz", ".nii", ".png", ".PNG" } };
	if (!opt.mask_dir)
		return NULL;
	for (size_t i = 0; i < 4; i++) {
		char name[4096];
		struct stat st;
		snprintf(name, sizeof name, "%s/%s%s", opt.mask_dir, stem, ext[volume][i]);
		if (stat(name, &st) == 0 && S_ISREG(st.st_mode))
			return estrdup(name);
	}
	return NULL;
}

static void set_meta(ms_rec *r, const char *key, const char *val)
{
	if (ms_meta_set(r, key, val) < 0)
		die("%s", ms_errmsg());
}

static void put_rec(const char *name, ms_tensor *t, const char *id, const char *source,
                    const sample_info *si)
{
	ms_rec r;
	char buf[64];
	ms_rec_init(&r);
	if (ms_rec_set(&r, name, t) < 0)
		die("%s", ms_errmsg());
	r.flags = opt.flags;
	set_meta(&r, "id", id);
	set_meta(&r, "source", source);
	if (si->sp[0] > 0 && si->sp[1] > 0) {
		snprintf(buf, sizeof buf, "%.6g,%.6g", si->sp[0], si->sp[1]);
		set_meta(&r, "spacing", buf);
	}
	if (si->slice >= 0) {
		snprintf(buf, sizeof buf, "%ld", si->slice);
		set_meta(&r, "slice", buf);
		set_meta(&r, "axis", (const char *[]){ "x", "y", "z" }[opt.axis]);
	}
	if (si->vol >= 0) {
		snprintf(buf, sizeof buf, "%ld", si->vol);
		set_meta(&r, "volume", buf);
	}
	if (opt.prompt)
		set_meta(&r, "prompt", opt.prompt);
	if (ms_rec_write(stdout, &r) < 0)
		die("%s", ms_errmsg());
	ms_rec_free(&r);
}

static void resize_to(ms_tensor *t, int bilinear, const char *what)
{
	ms_tensor o = { 0 };
	int ret = bilinear ? ms_resize_bilinear(t, opt.h, opt.w, &o)
	                   : ms_resize_nearest(t, opt.h, opt.w, &o);
	if (ret < 0)
		die("%s: %s", what, ms_errmsg());
	ms_tensor_free(t);
	*t = o;
}

/* one sample: image f32 [C,H,W] in [0,1], mask u8 [1,H,W] 0/1 or no data */
static void emit(const char *id, ms_tensor *img, ms_tensor *mask, sample_info *si)
{
	if (opt.min_fg >= 0) {
		long fg = si->size[0] ? si->fg : 0;
		for (int64_t i = 0; !si->size[0] && mask->data && i < ms_tensor_numel(mask); i++)
			fg += ((uint8_t *)mask->data)[i];
		if (fg <= opt.min_fg) {
			ms_tensor_free(img);
			ms_tensor_free(mask);
			return;
		}
	}
	if (!strcmp(id, prev_id))
		die("%s: id '%s' repeats the previous sample's id", si->source, id);
	snprintf(prev_id, sizeof prev_id, "%s", id);
	if (opt.w && si->size[0]) {
		si->sp[0] *= (double)si->size[0] / opt.h;
		si->sp[1] *= (double)si->size[1] / opt.w;
	} else if (opt.w) {
		si->sp[0] *= (double)img->shape[1] / opt.h;
		si->sp[1] *= (double)img->shape[2] / opt.w;
		resize_to(img, 1, si->source);
		if (mask->data)
			resize_to(mask, 0, si->mask_source);
	}
	put_rec("image", img, id, si->source, si);
	if (mask->data)
		put_rec("mask", mask, id, si->mask_source, si);
}

/* any nonzero value in any channel -> 1 */
static void binarize(ms_tensor *m, const char *path)
{
	int64_t c = m->shape[0], hw = m->shape[1] * m->shape[2];
	ms_tensor b = { 0 };
	int64_t shape[3] = { 1, m->shape[1], m->shape[2] };
	if (ms_tensor_alloc(&b, MS_U8, 3, shape) < 0)
		die("%s: %s", path, ms_errmsg());
	uint8_t *o = b.data;
	for (int64_t k = 0; k < c; k++)
		for (int64_t i = 0; i < hw; i++) {
			double v = m->dtype == MS_U8 ? ((uint8_t *)m->data)[k * hw + i]
			         : m->dtype == MS_U16 ? ((uint16_t *)m->data)[k * hw + i]
			         : ((float *)m->data)[k * hw + i];
			o[i] |= v != 0 && v == v;
		}
	ms_tensor_free(m);
	*m = b;
}

/* a PNG image or mask, converted, clipped and resized as it is decoded */
static void read_png(const char *path, int mask, ms_tensor *t, int64_t size[2], double sp[2],
                     int64_t *fg)
{
	ms_png_opts o = { .h = opt.h, .w = opt.w, .mask = mask, .clip = opt.clip,
	                  .plo = opt.plo, .phi = opt.phi, .max_bytes = opt.max_bytes };
	int ret = ms_png_read_scaled(path, &o, t, size, sp, fg);
	if (ret == -2)
		die("%s (--max-decoded raises it)", ms_errmsg());
	if (ret < 0)
		die("%s", ms_errmsg());
}

static void import_png(const char *path, const char *stem)
{
	ms_tensor img = { 0 }, m = { 0 };
	sample_info si = { .source = path, .slice = -1, .vol = -1 };
	int64_t msize[2];
	double msp[2];
	char *mpath = find_mask(stem, 0);
	if (!mpath && opt.require_mask)
		die("%s: no mask for '%s' in %s", path, stem, opt.mask_dir);
	read_png(path, 0, &img, si.size, si.sp, NULL);
	if (mpath) {
		if (is_nifti(mpath))
			die("%s: a volume mask needs a volume image", mpath);
		read_png(mpath, 1, &m, msize, msp, &si.fg);
		if (msize[0] != si.size[0] || msize[1] != si.size[1])
			die("%s: mask is %lldx%lld but its image is %lldx%lld", mpath,
			    (long long)msize[1], (long long)msize[0], (long long)si.size[1],
			    (long long)si.size[0]);
	}
	si.mask_source = mpath;
	emit(stem, &img, &m, &si);
	free(mpath);
}

static void import_nifti(const char *path, const char *stem)
{
	ms_nifti n = { 0 }, mn = { 0 };
	char *mpath = find_mask(stem, 1);
	if (!mpath && opt.require_mask)
		die("%s: no mask for '%s' in %s", path, stem, opt.mask_dir);
	if (ms_nifti_read(path, &n) < 0)
		die("%s", ms_errmsg());
	if (mpath) {
		if (!is_nifti(mpath))
			die("%s: a volume image needs a volume mask", mpath);
		if (ms_nifti_read(mpath, &mn) < 0)
			die("%s", ms_errmsg());
		for (int i = 0; i < 3; i++)
			if (mn.dim[i] != n.dim[i])
				die("%s: mask volume is %lldx%lldx%lld but its image is %lldx%lldx%lld",
				    mpath, (long long)mn.dim[0], (long long)mn.dim[1], (long long)mn.dim[2],
				    (long long)n.dim[0], (long long)n.dim[1], (long long)n.dim[2]);
		if (mn.dim[3] != 1 && mn.dim[3] != n.dim[3])
			die("%s: mask has %lld volumes, its image %lld", mpath, (long long)mn.dim[3],
			    (long long)n.dim[3]);
	}
	size_t per_vol = (size_t)(n.dim[0] * n.dim[1] * n.dim[2]);
	for (int64_t t = 0; t < n.dim[3]; t++) {
		float lo, hi;
		if (ms_percentiles((float *)n.vol.data + t * per_vol, per_vol, opt.plo, opt.phi,
		                   &lo, &hi) < 0)
			lo = hi = 0;   /* no finite voxel: the slices are all 0 */
		for (int64_t i = 0; i < n.dim[opt.axis]; i++) {
			ms_tensor img = { 0 }, m = { 0 };
			sample_info si = { .source = path, .mask_source = mpath, .slice = i,
			                   .vol = n.dim[3] > 1 ? t : -1 };
			if (ms_nifti_slice(&n, opt.axis, i, t, &img, si.sp) < 0)
				die("%s: %s", path, ms_errmsg());
			ms_rescale(img.data, ms_tensor_numel(&img), lo, hi);
			if (mpath) {
				double msp[2];
				if (ms_nifti_slice(&mn, opt.axis, i, mn.dim[3] > 1 ? t : 0, &m, msp) < 0)
					die("%s: %s", mpath, ms_errmsg());
				binarize(&m, mpath);
			}
			char id[1024];
			if (n.dim[3] > 1)
				snprintf(id, sizeof id, "%s_t%lld_s%lld", stem, (long long)t, (long long)i);
			else
				snprintf(id, sizeof id, "%s_s%lld", stem, (long long)i);
			emit(id, &img, &m, &si);
		}
	}
	ms_nifti_free(&n);
	ms_nifti_free(&mn);
	free(mpath);
}

static void import(const char *path)
{
	char *stem = stem_of(path);
	if (is_nifti(path))
		import_nifti(path, stem);
	else
		import_png(path, stem);
	free(stem);
}

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
static ms_opt opts[] = {
	MS_OPT_SIZE("size", 's', size, "resize (bilinear images, nearest masks)"),
	MS_OPT_STR("mask-dir", 'm', &opt.mask_dir, "DIR", "masks: DIR/<stem>.png, .nii.gz or .nii"),
	MS_OPT_STR("prompt", 'p', &opt.prompt, "TEXT", "add prompt=TEXT to every record"),
	MS_OPT_CALL("clip", 'c', parse_clip, "LO,HI", "clip intensities to these percentiles, rescale"),
	MS_OPT_CHOICE("axis", 'a', &opt.axis, axes, "slicing axis for volumes (default z)"),
	MS_OPT_INT("min-fg", 'f', &opt.min_fg, 0, 1L << 40, "N",
	           "keep only samples whose mask has more than N\nforeground pixels"),
	MS_OPT_FLAG("require-mask", 'r', &opt.require_mask, "an image without a mask is an error"),
	MS_OPT_FLAG("compress", 'z', &opt.compress, "zlib-compress the payloads"),
	MS_OPT_CALL("max-decoded", 0, parse_bytes, "N", "refuse a PNG of more than N bytes of pixels\n"
	            "(K, M, G suffixes; default 1G)"),
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
	opt.w = size[0];
	opt.h = size[1];
	opt.flags = opt.compress ? MS_FLAG_ZLIB : 0;
	if (opt.mask_dir && !is_dir(opt.mask_dir))
		die("mask directory %s: not a directory", opt.mask_dir);
	for (int i = first; i < argc; i++) {
		if (!is_dir(argv[i])) {
			import(argv[i]);
			continue;
		}
		size_t n;
		char **v = list_dir(argv[i], &n);
		for (size_t k = 0; k < n; k++) {
			import(v[k]);
			free(v[k]);
		}
		free(v);
	}
	return fshut(stdout, "<stdout>");
}
