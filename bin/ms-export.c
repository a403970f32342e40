/* ms-export: write the records of a stream as PNG (or NIfTI) files, and a contact sheet. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io.h"
#include "nifti.h"

static const char usage[] =
	"[-bw] [-d DIR] [-f png|nii|nii.gz] [-M FILE.png] [-c N] [-n NAME,...]";

enum { GAP = 2, GAP_GREY = 64 };
static const uint8_t outline_rgb[3] = { 0, 255, 0 };

static struct {
	const char *dir, *format, *montage, *names;
	int bits16, cell, bare;
} opt = { .format = "png" };

/* ---- montage cells: RGB planar u8 [3,h,w] at record resolution */
typedef struct {
	int64_t h, w;
	uint8_t *rgb;
	int smooth;          /* resize bilinearly (f32 records), else nearest */
	int kind;            /* 0 other, 1 image, 2 mask */
	uint8_t *mask;       /* overlay cells: the mask, 0/1 [h,w] */
	int64_t mh, mw;
} cell;

typedef struct {
	cell *c;
	size_t n;
} row;

static row *rows;
static size_t nrows;
static int64_t max_h, max_w;
static size_t max_cols;

static int wanted(const char *name)
{
	if (!opt.names)
		return 1;
	size_t n = strlen(name);
	for (const char *p = opt.names; *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == n && !strncmp(p, name, n))
			return 1;
		p += len + (e != NULL);
	}
	return 0;
}

static double value(const ms_tensor *t, int64_t i)
{
	switch (t->dtype) {
	case MS_U8: return ((uint8_t *)t->data)[i];
	case MS_U16: return ((uint16_t *)t->data)[i];
	case MS_I32: return ((int32_t *)t->data)[i];
	default: return ((float *)t->data)[i];
	}
}

/* a record as u8 or u16 [C,H,W] pixels: f32 clipped to [0,1] and scaled to 8 bits (16 with
 * bits16); integers: max <= 1 scaled by 255, max <= 255 8 bits, else 16 bits as they are */
static void to_pixels(const ms_rec *r, const char *id, int bits16, ms_tensor *out)
{
	const ms_tensor *t = &r->t;
	if (t->rank != 2 && t->rank != 3)
		die("%s.%s: a %d-dimensional record is not an image", id, r->name, t->rank);
	int64_t c = t->rank == 3 ? t->shape[0] : 1, n = ms_tensor_numel(t);
	int64_t shape[3] = { c, t->shape[t->rank - 2], t->shape[t->rank - 1] };
	double scale = 1, mx = 0;
	int dtype;
	if (t->dtype == MS_F32) {
		dtype = bits16 ? MS_U16 : MS_U8;
		scale = bits16 ? 65535 : 255;
	} else {
		for (int64_t i = 0; i < n; i++) {
			double v = value(t, i);
			if (v < 0 || v > 65535)
				die("%s.%s: value %g out of range 0..65535 for PNG", id, r->name, v);
			mx = v > mx ? v : mx;
		}
		scale = mx <= 1 ? 255 : 1;
		dtype = mx <= 255 ? MS_U8 : MS_U16;
	}
	if (ms_tensor_alloc(out, dtype, 3, shape) < 0)
		die("%s.%s: %s", id, r->name, ms_errmsg());
	for (int64_t i = 0; i < n; i++) {
		double v = value(t, i);
		if (t->dtype == MS_F32)
			v = v >= 0 ? (v <= 1 ? v : 1) : 0;   /* NaN -> 0 */
		v = floor(v * scale + 0.5);
		if (dtype == MS_U8)
			((uint8_t *)out->data)[i] = (uint8_t)v;
		else
			((uint16_t *)out->data)[i] = (uint16_t)v;
	}
}

static void spacing_of(const ms_rec *r, double sp[2])
{
	char buf[128];
	sp[0] = sp[1] = 0;
	if (ms_meta_get(r, "spacing", buf, sizeof buf) && sscanf(buf, "%lf,%lf", sp, sp + 1) != 2)
		sp[0] = sp[1] = 0;
}

/* DIR/<id>.<name><suffix>, or DIR/<id><suffix> with --bare */
static void file_name(char *path, size_t n, const char *id, const char *name,
                      const char *suffix)
{
	int len = opt.bare ? snprintf(path, n, "%s/%s%s", opt.dir, id, suffix)
	                   : snprintf(path, n, "%s/%s.%s%s", opt.dir, id, name, suffix);
	if (len < 0 || (size_t)len >= n)
		die("%s/%s: file name too long", opt.dir, id);
}

/* the output directory is made when the first file is written */
static void make_dir(void)
{
	static int done;
	if (!done && mkdir(opt.dir, 0777) < 0 && errno != EEXIST)
		die("cannot create %s:", opt.dir);
	done = 1;
}

static void export_png(const ms_rec *r, const char *id)
{
	ms_tensor px = { 0 };
	char path[8192];
	double sp[2];
	spacing_of(r, sp);
	to_pixels(r, id, opt.bits16, &px);
	make_dir();
	int64_t c = px.shape[0];
	if (c == 1 || c == 3) {
		file_name(path, sizeof path, id, r->name, ".png");
		if (ms_png_write(path, &px, sp) < 0)
			die("%s", ms_errmsg());
	} else {
		size_t plane = ms_tensor_bytes(&px) / c;
		for (int64_t k = 0; k < c; k++) {
			ms_tensor one = px;
			one.rank = 2;
			one.shape[0] = px.shape[1];
			one.shape[1] = px.shape[2];
			one.data = (char *)px.data + k * plane;
			char suffix[64];
			snprintf(suffix, sizeof suffix, ".c%lld.png", (long long)k);
			file_name(path, sizeof path, id, r->name, suffix);
			if (ms_png_write(path, &one, sp) < 0)
				die("%s", ms_errmsg());
		}
	}
	ms_tensor_free(&px);
}

static void export_nifti(const ms_rec *r, const char *id, int gz)
{
	char path[8192];
	double sp[2], dims[MS_MAX_RANK] = { 1, 1, 1, 1 };
	spacing_of(r, sp);
	if (sp[0] > 0 && sp[1] > 0 && r->t.rank >= 2) {   /* spacing of H and W */
		dims[r->t.rank - 2] = sp[0];
		dims[r->t.rank - 1] = sp[1];
	}
	file_name(path, sizeof path, id, r->name, gz ? ".nii.gz" : ".nii");
	make_dir();
	if (ms_nifti_write(path, &r->t, dims, gz) < 0)
		die("%s", ms_errmsg());
}

/* ---- montage */
static void add_cell(const ms_rec *r, const char *id)
{
	ms_tensor px = { 0 };
	if ((r->t.rank != 2 && r->t.rank != 3) || (r->t.rank == 3 && r->t.shape[0] != 1 &&
	                                            r->t.shape[0] != 3))
		return;                  /* not displayable */
	to_pixels(r, id, 0, &px);
	row *w = &rows[nrows - 1];
	w->c = ereallocarray(w->c, w->n + 1, sizeof *w->c);
	cell *c = &w->c[w->n++];
	*c = (cell){ .h = px.shape[1], .w = px.shape[2], .smooth = r->t.dtype == MS_F32 };
	c->kind = !strcmp(r->name, "image") ? 1 : !strcmp(r->name, "mask") ? 2 : 0;
	size_t hw = (size_t)(c->h * c->w);
	c->rgb = emalloc(3 * hw);
	for (int k = 0; k < 3; k++)
		memcpy(c->rgb + k * hw, (uint8_t *)px.data + (px.shape[0] == 3 ? k * hw : 0), hw);
	if (c->kind == 2) {
		c->mask = emalloc(hw);
		for (size_t i = 0; i < hw; i++)
			c->mask[i] = value(&r->t, i) != 0;
	}
	ms_tensor_free(&px);
}

/* put the first image, then image + outline of the first mask, then the rest */
static void order_row(row *w)
{
	cell *v = ecalloc(w->n + 1, sizeof *v);
	size_t n = 0, img = w->n, msk = w->n;
	for (size_t i = 0; i < w->n; i++) {
		if (w->c[i].kind == 1 && img == w->n)
			img = i;
		else if (w->c[i].kind == 2 && msk == w->n)
			msk = i;
	}
	if (img < w->n) {
		v[n++] = w->c[img];
		if (msk < w->n) {
			cell *m = &w->c[msk];
			size_t bytes = 3 * (size_t)(v[0].h * v[0].w);
			v[n] = v[0];
			v[n].rgb = memcpy(emalloc(bytes), v[0].rgb, bytes);
			v[n].mask = m->mask;
			v[n].mh = m->h;
			v[n++].mw = m->w;
			free(m->rgb);
		}
	}
	for (size_t i = 0; i < w->n; i++) {
		if (i == img || (i == msk && img < w->n))
			continue;
		free(w->c[i].mask);       /* a mask without an image is shown as it is */
		w->c[i].mask = NULL;
		v[n++] = w->c[i];
	}
	free(w->c);
	w->c = v;
	w->n = n;
	max_cols = n > max_cols ? n : max_cols;
	for (size_t i = 0; i < n; i++) {
		max_h = v[i].h > max_h ? v[i].h : max_h;
		max_w = v[i].w > max_w ? v[i].w : max_w;
	}
}

static void new_row(void)
{
	if (nrows)
		order_row(&rows[nrows - 1]);
	rows = ereallocarray(rows, nrows + 1, sizeof *rows);
	rows[nrows++] = (row){ 0 };
}

static void resize_u8(const uint8_t *src, int c, int64_t h, int64_t w, int smooth,
                      int64_t oh, int64_t ow, uint8_t *dst)
{
	ms_tensor in = { .dtype = MS_U8, .rank = 3, .shape = { c, h, w }, .data = (void *)src };
	ms_tensor out = { 0 };
	if (smooth) {
		size_t n = (size_t)(c * h * w);
		float *f = emalloc(n * sizeof *f);
		for (size_t i = 0; i < n; i++)
			f[i] = src[i];
		in = (ms_tensor){ .dtype = MS_F32, .rank = 3, .shape = { c, h, w }, .data = f };
		if (ms_resize_bilinear(&in, oh, ow, &out) < 0)
			die("montage: %s", ms_errmsg());
		free(f);
		for (size_t i = 0; i < (size_t)(c * oh * ow); i++)
			dst[i] = (uint8_t)floor(((float *)out.data)[i] + 0.5f);
	} else {
		if (ms_resize_nearest(&in, oh, ow, &out) < 0)
			die("montage: %s", ms_errmsg());
		memcpy(dst, out.data, (size_t)(c * oh * ow));
	}
	ms_tensor_free(&out);
}

static void draw_cell(const cell *c, int64_t ch, int64_t cw, uint8_t *sheet, int64_t sh,
                      int64_t sw, int64_t y0, int64_t x0)
{
	size_t chw = (size_t)(ch * cw);
	uint8_t *px = emalloc(3 * chw), *m = NULL;
	resize_u8(c->rgb, 3, c->h, c->w, c->smooth, ch, cw, px);
	if (c->mask) {               /* overlay: outline of the mask over the image */
		m = emalloc(chw);
		resize_u8(c->mask, 1, c->mh, c->mw, 0, ch, cw, m);
		for (int64_t y = 0; y < ch; y++)
			for (int64_t x = 0; x < cw; x++) {
				int64_t i = y * cw + x;
				if (!m[i] || (y > 0 && x > 0 && y < ch - 1 && x < cw - 1 && m[i - 1] &&
				              m[i + 1] && m[i - cw] && m[i + cw]))
					continue;
				for (int k = 0; k < 3; k++)
					px[k * chw + i] = outline_rgb[k];
			}
	}
	for (int k = 0; k < 3; k++)
		for (int64_t y = 0; y < ch; y++)
			memcpy(sheet + ((k * sh + y0 + y) * sw + x0), px + k * chw + y * cw, cw);
	free(px);
	free(m);
}

static void write_montage(void)
{
	if (!nrows) {
		warn("empty stream: no montage written");
		return;
	}
	int64_t ch = opt.cell ? opt.cell : max_h, cw = opt.cell ? opt.cell : max_w;
	int64_t sw = (int64_t)max_cols * (cw + GAP) + GAP, sh = (int64_t)nrows * (ch + GAP) + GAP;
	if (sw > 0x7fffffff / 3 || sh > 0x7fffffff / 3 || (double)sw * sh * 3 > (double)(1LL << 32))
		die("montage of %lldx%lld pixels is too large: use --cell", (long long)sw,
		    (long long)sh);
	ms_tensor sheet = { 0 };
	if (ms_tensor_alloc(&sheet, MS_U8, 3, (int64_t[]){ 3, sh, sw }) < 0)
		die("montage: %s", ms_errmsg());
	memset(sheet.data, GAP_GREY, ms_tensor_bytes(&sheet));
	for (size_t r = 0; r < nrows; r++)
		for (size_t i = 0; i < rows[r].n; i++)
			draw_cell(&rows[r].c[i], ch, cw, sheet.data, sh, sw,
			          GAP + (int64_t)r * (ch + GAP), GAP + (int64_t)i * (cw + GAP));
	if (ms_png_write(opt.montage, &sheet, NULL) < 0)
		die("%s", ms_errmsg());
	ms_tensor_free(&sheet);
	for (size_t r = 0; r < nrows; r++) {
		for (size_t i = 0; i < rows[r].n; i++) {
			free(rows[r].c[i].rgb);
			free(rows[r].c[i].mask);
		}
		free(rows[r].c);
	}
	free(rows);
}

/* ids become file names: no '/', not empty */
static void check_id(const ms_rec *r, const char *id)
{
	if (!*id)
		die("record '%s' has no id", r->name);
	if (strchr(id, '/') || !strcmp(id, ".") || !strcmp(id, ".."))
		die("id '%s' cannot be used in a file name", id);
}

/* names seen in the current sample: a repeated name would overwrite a file;
 * NULL frees the list */
static void check_repeat(const char *name, int new_sample)
{
	static char **seen;
	static size_t n;
	if (new_sample) {
		for (size_t i = 0; i < n; i++)
			free(seen[i]);
		n = 0;
	}
	if (!name) {
		free(seen);
		seen = NULL;
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (!strcmp(seen[i], name)) {
			if (opt.bare)
				die("sample has more than one record to write with --bare");
			die("sample has two records named '%s'", name);
		}
	seen = ereallocarray(seen, n + 1, sizeof *seen);
	seen[n++] = estrdup(name);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, 0, 'd' }, { "format", required_argument, 0, 'f' },
		{ "16", no_argument, 0, 'w' }, { "montage", required_argument, 0, 'M' },
		{ "cell", required_argument, 0, 'c' }, { "names", required_argument, 0, 'n' },
		{ "bare", no_argument, 0, 'b' }, { "help", no_argument, 0, 'h' }, { 0 }
	};
	int c;
	long v;
	ms_setprog(argv);
	while ((c = getopt_long(argc, argv, "bd:f:wM:c:n:", opts, NULL)) != -1) {
		switch (c) {
		case 'b': opt.bare = 1; break;
		case 'd': opt.dir = optarg; break;
		case 'f': opt.format = optarg; break;
		case 'w': opt.bits16 = 1; break;
		case 'M': opt.montage = optarg; break;
		case 'c':
			if (ms_parse_int(optarg, 1, 4096, &v) < 0)
				usage_error(usage, "--cell: %s", ms_errmsg());
			opt.cell = (int)v;
			break;
		case 'n': opt.names = optarg; break;
		case 'h':
			printf("usage: %s %s\n"
			       "Write each record of the stream on stdin as DIR/<id>.<name>.png.\n"
			       "  -d, --dir DIR         output directory (default ., created if missing)\n"
			       "  -f, --format FMT      png (default), nii or nii.gz (values as they are)\n"
			       "  -w, --16              f32 records as 16-bit PNG (default 8-bit)\n"
			       "  -M, --montage FILE    contact sheet: a row per sample (only this file\n"
			       "                        unless -d is given)\n"
			       "  -c, --cell N          montage cell size N x N (default: largest record)\n"
			       "  -n, --names A,B       export only records with these names\n"
			       "  -b, --bare            name files DIR/<id>.png (one record per sample)\n",
			       argv0, usage);
			return 0;
		default: usage_die(usage);
		}
	}
	int nii = !strcmp(opt.format, "nii"), niigz = !strcmp(opt.format, "nii.gz");
	if (optind != argc || (!nii && !niigz && strcmp(opt.format, "png")))
		usage_die(usage);
	int files = opt.dir || !opt.montage;
	if (!opt.dir)
		opt.dir = ".";

	ms_rec r;
	char id[1024], prev[1024] = "";
	int ret, first = 1;
	ms_rec_init(&r);
	while ((ret = ms_rec_read_header(stdin, &r)) == 1) {
		if (!wanted(r.name)) {
			if (ms_rec_skip(stdin, &r) < 0)
				die("%s", ms_errmsg());
			continue;
		}
		if (ms_rec_read_data(stdin, &r) < 0)
			die("%s", ms_errmsg());
		ms_rec_id(&r, id, sizeof id);
		check_id(&r, id);
		int new_sample = first || strcmp(id, prev);
		first = 0;
		snprintf(prev, sizeof prev, "%s", id);
		check_repeat(opt.bare ? "" : r.name, new_sample);
		if (files && (nii || niigz))
			export_nifti(&r, id, niigz);
		else if (files)
			export_png(&r, id);
		if (opt.montage) {
			if (new_sample)
				new_row();
			add_cell(&r, id);
		}
	}
	if (ret < 0)
		die("%s", ms_errmsg());
	ms_rec_free(&r);
	if (opt.montage) {
		if (nrows)
			order_row(&rows[nrows - 1]);
		write_montage();
	}
	check_repeat(NULL, 1);
	return fshut(stdout, "<stdout>");
}
