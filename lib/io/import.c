/* Importing PNG images and NIfTI volumes (with masks found by stem) as samples. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/ms.h"
#include "image/resize.h"
#include "io/import.h"
#include "io/nifti.h"
#include "io/png.h"
#include "io/stream.h"
#include "io/volume.h"

/* metadata of one output sample besides id and source */
typedef struct {
	const char *source, *mask_source;
	double sp[2];              /* sy, sx in mm; 0 = unknown */
	long slice, vol;           /* -1 = not a volume slice / not 4-D */
	int64_t size[2];           /* PNG: read already at the output size from a file of this size */
	int64_t fg;                /* PNG: the mask's foreground pixels at that size */
	const char *vol_id;        /* a volume's slice: the volume (stem), the geometry of */
	const ms_nifti_geom *geom, *mask_geom;   /* the image and mask files */
	float range[2];            /* the values the image's 0 and 1 stand for */
	const int *orient;         /* reoriented: perm[3], flip[3]; else NULL */
} sample_info;

int ms_import_is_nifti(const char *p)
{
	size_t n = strlen(p);
	return (n > 4 && !strcasecmp(p + n - 4, ".nii")) ||
	       (n > 7 && !strcasecmp(p + n - 7, ".nii.gz"));
}

static int is_image(const char *p)
{
	size_t n = strlen(p);
	return ms_import_is_nifti(p) || (n > 4 && !strcasecmp(p + n - 4, ".png"));
}

char *ms_import_stem(const char *path)
{
	const char *b = strrchr(path, '/');
	char *s = ms_strdup(b ? b + 1 : path);
	if (!s)
		return NULL;
	size_t n = strlen(s);
	if (n > 7 && !strcasecmp(s + n - 7, ".nii.gz"))
		s[n - 7] = '\0';
	else if (strrchr(s, '.') && strrchr(s, '.') != s)
		*strrchr(s, '.') = '\0';
	return s;
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

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

char **ms_import_list(const char *dir, size_t *n)
{
	DIR *d = opendir(dir);
	*n = 0;
	if (!d) {
		ms_error("cannot open %s:", dir);
		return NULL;
	}
	char **v = NULL;
	size_t cap = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.' || !is_image(e->d_name))
			continue;
		size_t len = strlen(dir) + strlen(e->d_name) + 2;
		char *p = ms_malloc(len);
		if (!p)
			goto fail;
		snprintf(p, len, "%s/%s", dir, e->d_name);
		if (is_dir(p)) {
			free(p);
			continue;
		}
		if (*n == cap) {
			char **nv = ms_reallocarray(v, cap ? 2 * cap : 64, sizeof *v);
			if (!nv) {
				free(p);
				goto fail;
			}
			v = nv;
			cap = cap ? 2 * cap : 64;
		}
		v[(*n)++] = p;
	}
	closedir(d);
	if (!*n) {
		ms_error("%s: no .png, .nii or .nii.gz files", dir);
		return NULL;
	}
	qsort(v, *n, sizeof *v, cmp_str);
	return v;
fail:
	closedir(d);
	free_list(v, *n);
	*n = 0;
	return NULL;
}

/* *mask gets the mask file with the image's stem in mask_dir, or NULL; -1 out of memory
 * or, with require_mask, no mask for the image path */
static int find_mask(const ms_import *im, const char *path, const char *stem, int volume,
                     char **mask)
{
	static const char *ext[2][4] = { { ".png", ".PNG", ".nii.gz", ".nii" },
	                                 { ".nii.gz", ".nii", ".png", ".PNG" } };
	*mask = NULL;
	for (size_t i = 0; im->o.mask_dir && i < 4; i++) {
		char name[4096];
		struct stat st;
		snprintf(name, sizeof name, "%s/%s%s", im->o.mask_dir, stem, ext[volume][i]);
		if (stat(name, &st) == 0 && S_ISREG(st.st_mode))
			return (*mask = ms_strdup(name)) ? 0 : -1;
	}
	if (im->o.require_mask)
		return ms_error("%s: no mask for '%s' in %s", path, stem, im->o.mask_dir);
	return 0;
}

/* writes t (taken over, left without data) as record name of sample id: the image
 * or the mask of si */
static int put_rec(ms_import *im, const char *name, ms_tensor *t, const char *id, int mask,
                   const sample_info *si)
{
	const char *source = mask ? si->mask_source : si->source;
	ms_rec r;
	char buf[64];
	ms_rec_init(&r);
	if (ms_rec_set(&r, name, t) < 0) {
		ms_tensor_free(t);
		return -1;
	}
	t->data = NULL;
	r.flags = im->o.flags;
	int ret = ms_meta_set(&r, "id", id) < 0 || ms_meta_set(&r, "source", source) < 0 ? -1 : 0;
	if (!ret && si->sp[0] > 0 && si->sp[1] > 0) {
		snprintf(buf, sizeof buf, "%.6g,%.6g", si->sp[0], si->sp[1]);
		ret = ms_meta_set(&r, "spacing", buf);
	}
	if (!ret && si->slice >= 0) {
		snprintf(buf, sizeof buf, "%ld", si->slice);
		ret = ms_meta_set(&r, "slice", buf) < 0 ||
		      ms_meta_set(&r, "axis", (const char *[]){ "x", "y", "z" }[im->o.axis]) < 0 ? -1 : 0;
	}
	if (!ret && si->vol >= 0) {
		snprintf(buf, sizeof buf, "%ld", si->vol);
		ret = ms_meta_set(&r, "volume", buf);
	}
	if (!ret && im->o.prompt)
		ret = ms_meta_set(&r, "prompt", im->o.prompt);
	if (!ret && si->vol_id)
		ret = ms_vslice_meta_set(&r, si->vol_id, mask ? si->mask_geom : si->geom,
		                         mask ? NULL : si->range, si->orient);
	if (!ret)
		ret = ms_rec_write(im->out, &r);
	ms_rec_free(&r);
	return ret < 0 ? -1 : 0;
}

static int resize_to(const ms_import *im, ms_tensor *t, int bilinear, const char *what)
{
	ms_tensor o = { 0 };
	int ret = bilinear ? ms_resize_bilinear(t, im->o.h, im->o.w, &o)
	                   : ms_resize_nearest(t, im->o.h, im->o.w, &o);
	if (ret < 0)
		return ms_error("%s: %s", what, ms_errmsg());
	ms_tensor_free(t);
	*t = o;
	return 0;
}

/* one sample: image f32 [C,H,W] in [0,1], mask u8 [1,H,W] 0/1 or no data; both taken
 * over: written, dropped by min_fg, or freed on error */
static int emit(ms_import *im, const char *id, ms_tensor *img, ms_tensor *mask,
                sample_info *si)
{
	const ms_import_opts *o = &im->o;
	int ret = -1;
	if (!ms_shard_has(&o->shard, id)) {
		ret = 0;
		goto out;
	}
	if (o->min_fg >= 0) {
		long fg = si->size[0] ? si->fg : 0;
		for (int64_t i = 0; !si->size[0] && mask->data && i < ms_tensor_numel(mask); i++)
			fg += ((uint8_t *)mask->data)[i];
		if (fg <= o->min_fg) {
			ret = 0;
			goto out;
		}
	}
	if (!strcmp(id, im->prev_id)) {
		ms_error("%s: id '%s' repeats the previous sample's id", si->source, id);
		goto out;
	}
	snprintf(im->prev_id, sizeof im->prev_id, "%s", id);
	if (o->w && si->size[0]) {
		si->sp[0] *= (double)si->size[0] / o->h;
		si->sp[1] *= (double)si->size[1] / o->w;
	} else if (o->w) {
		si->sp[0] *= (double)img->shape[1] / o->h;
		si->sp[1] *= (double)img->shape[2] / o->w;
		if (resize_to(im, img, 1, si->source) < 0 ||
		    (mask->data && resize_to(im, mask, 0, si->mask_source) < 0))
			goto out;
	}
	if (put_rec(im, "image", img, id, 0, si) < 0)
		goto out;
	ret = mask->data ? put_rec(im, "mask", mask, id, 1, si) : 0;
out:
	ms_tensor_free(img);
	ms_tensor_free(mask);
	return ret;
}

/* any nonzero value in any channel -> 1 */
static int binarize(ms_tensor *m, const char *path)
{
	int64_t c = m->shape[0], hw = m->shape[1] * m->shape[2];
	ms_tensor b = { 0 };
	int64_t shape[3] = { 1, m->shape[1], m->shape[2] };
	if (ms_tensor_alloc(&b, MS_U8, 3, shape) < 0)
		return ms_error("%s: %s", path, ms_errmsg());
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
	return 0;
}

/* a PNG image or mask, converted, clipped and resized as it is decoded; -2: too large */
static int read_png(const ms_import *im, const char *path, int mask, ms_tensor *t,
                    int64_t size[2], double sp[2], int64_t *fg)
{
	ms_png_opts o = { .h = im->o.h, .w = im->o.w, .mask = mask, .clip = im->o.clip,
	                  .plo = im->o.plo, .phi = im->o.phi, .max_bytes = im->o.max_bytes };
	int ret = ms_png_read_scaled(path, &o, t, size, sp, fg);
	return ret < 0 ? ret : 0;
}

static int import_png(ms_import *im, const char *path, const char *stem)
{
	ms_tensor img = { 0 }, m = { 0 };
	sample_info si = { .source = path, .slice = -1, .vol = -1 };
	int64_t msize[2];
	double msp[2];
	char *mpath;
	int ret = -1;
	if (im->o.window)
		return ms_error("%s: --window is for volumes (NIfTI), not PNG images", path);
	if (find_mask(im, path, stem, 0, &mpath) < 0)
		return -1;
	if ((ret = read_png(im, path, 0, &img, si.size, si.sp, NULL)) < 0)
		goto out;
	ret = -1;
	if (mpath) {
		if (ms_import_is_nifti(mpath)) {
			ms_error("%s: a volume mask needs a volume image", mpath);
			goto out;
		}
		if ((ret = read_png(im, mpath, 1, &m, msize, msp, &si.fg)) < 0)
			goto out;
		ret = -1;
		if (msize[0] != si.size[0] || msize[1] != si.size[1]) {
			ms_error("%s: mask is %lldx%lld but its image is %lldx%lld", mpath,
			         (long long)msize[1], (long long)msize[0], (long long)si.size[1],
			         (long long)si.size[0]);
			goto out;
		}
	}
	si.mask_source = mpath;
	ret = emit(im, stem, &img, &m, &si);
out:
	ms_tensor_free(&img);
	ms_tensor_free(&m);
	free(mpath);
	return ret;
}

/* a volume's mask: read, and of the image's size with 1 or the image's volumes */
static int read_mask_volume(const ms_nifti *n, const char *mpath, ms_nifti *mn)
{
	if (!ms_import_is_nifti(mpath))
		return ms_error("%s: a volume image needs a volume mask", mpath);
	if (ms_nifti_read(mpath, mn) < 0)
		return -1;
	for (int i = 0; i < 3; i++)
		if (mn->dim[i] != n->dim[i])
			return ms_error("%s: mask volume is %lldx%lldx%lld but its image is %lldx%lldx%lld",
			                mpath, (long long)mn->dim[0], (long long)mn->dim[1],
			                (long long)mn->dim[2], (long long)n->dim[0],
			                (long long)n->dim[1], (long long)n->dim[2]);
	if (mn->dim[3] != 1 && mn->dim[3] != n->dim[3])
		return ms_error("%s: mask has %lld volumes, its image %lld", mpath,
		                (long long)mn->dim[3], (long long)n->dim[3]);
	return 0;
}

/* slice i of volume t (and of its mask) as a sample */
static int import_slice(ms_import *im, const ms_nifti *n, const ms_nifti *mn,
                        const char *path, const char *mpath, const char *stem, int64_t t,
                        int64_t i, float lo, float hi, const int *orient)
{
	ms_tensor img = { 0 }, m = { 0 };
	sample_info si = { .source = path, .mask_source = mpath, .slice = i,
	                   .vol = n->dim[3] > 1 ? t : -1, .vol_id = stem, .geom = &n->geom,
	                   .mask_geom = &mn->geom, .range = { lo, hi }, .orient = orient };
	if (ms_nifti_slice(n, im->o.axis, i, t, &img, si.sp) < 0)
		return ms_error("%s: %s", path, ms_errmsg());
	ms_rescale(img.data, ms_tensor_numel(&img), lo, hi);
	if (mpath) {
		double msp[2];
		int ret = ms_nifti_slice(mn, im->o.axis, i, mn->dim[3] > 1 ? t : 0, &m, msp);
		if (ret < 0)
			ms_error("%s: %s", mpath, ms_errmsg());
		else
			ret = binarize(&m, mpath);
		if (ret < 0) {
			ms_tensor_free(&img);
			ms_tensor_free(&m);
			return -1;
		}
	}
	char id[1024];
	if (n->dim[3] > 1)
		snprintf(id, sizeof id, "%s_t%lld_s%lld", stem, (long long)t, (long long)i);
	else
		snprintf(id, sizeof id, "%s_s%lld", stem, (long long)i);
	return emit(im, id, &img, &m, &si);
}

static int import_nifti(ms_import *im, const char *path, const char *stem)
{
	ms_nifti n = { 0 }, mn = { 0 };
	char *mpath;
	int ret = -1;
	if (find_mask(im, path, stem, 1, &mpath) < 0)
		return -1;
	if (ms_nifti_read(path, &n) < 0 || (mpath && read_mask_volume(&n, mpath, &mn) < 0))
		goto out;
	int orient[6];   /* perm, flip: the image's orientation, the mask's voxels with it */
	if (im->o.orient) {
		ms_nifti_orientation(&n.geom, im->o.orient == 2, orient, orient + 3);
		if (ms_nifti_reorient(&n, orient, orient + 3) < 0 ||
		    (mpath && ms_nifti_reorient(&mn, orient, orient + 3) < 0))
			goto out;
	}
	size_t per_vol = (size_t)(n.dim[0] * n.dim[1] * n.dim[2]);
	for (int64_t t = 0; t < n.dim[3]; t++) {
		float lo = (float)(im->o.level - im->o.width / 2);
		float hi = (float)(im->o.level + im->o.width / 2);
		if (!im->o.window && ms_percentiles((float *)n.vol.data + t * per_vol, per_vol,
		                                    im->o.plo, im->o.phi, &lo, &hi) < 0)
			lo = hi = 0;   /* no finite voxel: the slices are all 0 */
		for (int64_t i = 0; i < n.dim[im->o.axis]; i++)
			if (import_slice(im, &n, &mn, path, mpath, stem, t, i, lo, hi,
			                 im->o.orient ? orient : NULL) < 0)
				goto out;
	}
	ret = 0;
out:
	ms_nifti_free(&n);
	ms_nifti_free(&mn);
	free(mpath);
	return ret;
}

static int import_file(ms_import *im, const char *path)
{
	char *stem = ms_import_stem(path);
	if (!stem)
		return -1;
	int ret = ms_import_is_nifti(path) ? import_nifti(im, path, stem)
	          : ms_shard_has(&im->o.shard, stem) ? import_png(im, path, stem) : 0;
	free(stem);
	return ret;
}

int ms_import_init(ms_import *im, const ms_import_opts *o, FILE *out)
{
	im->o = *o;
	im->out = out;
	im->prev_id[0] = '\0';
	if (o->mask_dir && !is_dir(o->mask_dir))
		return ms_error("mask directory %s: not a directory", o->mask_dir);
	return 0;
}

int ms_import_path(ms_import *im, const char *path)
{
	if (!is_dir(path))
		return import_file(im, path);
	size_t n;
	char **v = ms_import_list(path, &n);
	if (!v)
		return -1;
	int ret = 0;
	for (size_t k = 0; k < n && !ret; k++)
		ret = import_file(im, v[k]);
	free_list(v, n);
	return ret;
}
