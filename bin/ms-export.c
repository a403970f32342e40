/* ms-export: write the records of a stream as PNG (or NIfTI) files, and a contact sheet. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/ms.h"
#include "io/nifti.h"
#include "io/picture.h"
#include "io/png.h"
#include "io/sample.h"
#include "io/stream.h"
#include "io/volume.h"

static const char usage[] =
	"[-bw] [-d DIR] [-f png|nii|nii.gz] [-M FILE.png] [-c N] [--no-labels] [-n NAME,...]\n"
	"       [-V NAME -f nii|nii.gz]";

enum { PNG, NII, NIIGZ };
static struct {
	const char *dir, *montage, *names, *volume;
	int format, bits16, bare, nolabels;
	long cell;
} opt;
static const char *const formats[] = { "png", "nii", "nii.gz", NULL };
static ms_opt opts[] = {
	MS_OPT_STR("dir", 'd', &opt.dir, "DIR", "output directory (default ., created if missing)"),
	MS_OPT_CHOICE("format", 'f', &opt.format, formats,
	              "png (default); nii, nii.gz: values as they are"),
	MS_OPT_FLAG("16", 'w', &opt.bits16, "f32 records as 16-bit PNG (default 8-bit)"),
	MS_OPT_STR("montage", 'M', &opt.montage, "FILE",
	           "contact sheet: a row per sample (only this file\nunless -d is given)"),
	MS_OPT_INT("cell", 'c', &opt.cell, 1, 4096, "N",
	           "montage cell size N x N (default: largest record)"),
	MS_OPT_FLAG("no-labels", 0, &opt.nolabels, "montage without record names above the columns\n"
	            "and sample ids left of the rows"),
	MS_OPT_STR("names", 'n', &opt.names, "A,B", "export only records with these names"),
	MS_OPT_FLAG("bare", 'b', &opt.bare, "name files DIR/<id>.png (one record per sample)"),
	MS_OPT_STR("volume", 'V', &opt.volume, "NAME", "gather the records NAME of each volume that\n"
	           "ms-import sliced into DIR/<volume>.NAME.nii[.gz]\non the source's grid and geometry"),
	MS_OPT_END
};

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
	if (ms_tensor_to_pixels(&r->t, opt.bits16, &px) < 0)
		die("%s.%s: %s", id, r->name, ms_errmsg());
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

/* ---- --volume: the slices of one volume at a time, written when the next begins */
static ms_volume vol;
static char **written;         /* the volumes written so far */
static size_t nwritten;

static void write_volume(void)
{
	char path[8192];
	if (!vol.n)
		return;
	file_name(path, sizeof path, vol.geo.id, opt.volume, opt.format == NIIGZ ? ".nii.gz" : ".nii");
	make_dir();
	if (ms_volume_write(&vol, path, opt.format == NIIGZ) < 0)
		die("%s", ms_errmsg());
	written = ereallocarray(written, nwritten + 1, sizeof *written);
	written[nwritten++] = estrdup(vol.geo.id);
	ms_volume_free(&vol);
}

static void add_slice(ms_sample *s)
{
	int k = ms_sample_find(s, opt.volume);
	ms_vslice vs;
	if (k == -2 || (k >= 0 && ms_rec_decode(&s->rec[k]) < 0))
		die("%s", ms_errmsg());
	if (k < 0)
		return;
	int got = ms_vslice_find(s, k, &vs);
	if (got < 0)
		die("sample '%s': %s", s->id, ms_errmsg());
	if (!got)
		die("sample '%s': no volume geometry (nii.* metadata of ms-import)", s->id);
	if (vol.n && strcmp(vs.id, vol.geo.id))
		write_volume();
	for (size_t i = 0; !vol.n && i < nwritten; i++)
		if (!strcmp(written[i], vs.id))
			die("sample '%s': volume '%s' again after another volume", s->id, vs.id);
	check_id(&s->rec[k], vs.id);
	if (ms_volume_add(&vol, &s->rec[k], &vs) < 0)
		die("sample '%s': %s", s->id, ms_errmsg());
}

static int files, nii, niigz;
static ms_montage *sheet;

/* the records of s that -n wants, as files and montage cells */
static void export_sample(ms_sample *s)
{
	static char prev[MS_META_MAX + 1];     /* the id of the last record written */
	static int first = 1;
	if (files && opt.volume)
		add_slice(s);
	if (opt.volume && !sheet)
		return;
	for (int k = 0; k < s->n; k++) {
		ms_rec *r = &s->rec[k];
		if (!wanted(r->name))
			continue;
		if (ms_rec_decode(r) < 0)
			die("%s", ms_errmsg());
		check_id(r, s->id);
		int new_sample = first || strcmp(s->id, prev);
		first = 0;
		snprintf(prev, sizeof prev, "%s", s->id);
		check_repeat(opt.bare ? "" : r->name, new_sample);
		if (files && !opt.volume && (nii || niigz))
			export_nifti(r, s->id, niigz);
		else if (files && !opt.volume)
			export_png(r, s->id);
		if (sheet && ms_montage_add(sheet, r, new_sample) < 0)
			die("%s.%s: %s", s->id, r->name, ms_errmsg());
	}
}

int main(int argc, char **argv)
{
	ms_setprog(argv);
	if (ms_opt_parse(opts, usage, "Write each record of the stream on stdin as DIR/<id>.<name>.png.",
	                 0, argc, argv) != argc)
		usage_die(usage);
	nii = opt.format == NII;
	niigz = opt.format == NIIGZ;
	if (opt.volume && !nii && !niigz)
		usage_error(usage, "--volume needs --format nii or nii.gz");
	if (opt.volume && opt.names)
		usage_error(usage, "--volume and --names do not go together");
	files = opt.dir || !opt.montage;
	if (!opt.dir)
		opt.dir = ".";

	ms_reader rd;
	ms_sample s;
	int ret;
	if (opt.montage && !(sheet = ms_montage_new((int)opt.cell, !opt.nolabels)))
		die("%s", ms_errmsg());
	ms_reader_init(&rd, stdin, "<stdin>");
	ms_sample_init(&s);
	while ((ret = ms_sample_next(&rd, &s)) == 1)
		export_sample(&s);
	if (ret < 0) {
		char *why = estrdup(ms_errmsg());
		export_sample(&s);      /* the records read before the error */
		die("%s", why);
	}
	ms_sample_free(&s);
	ms_reader_free(&rd);
	write_volume();
	for (size_t i = 0; i < nwritten; i++)
		free(written[i]);
	free(written);
	if (sheet && !ms_montage_rows(sheet))
		warn("empty stream: no montage written");
	else if (sheet && ms_montage_write(sheet, opt.montage) < 0)
		die("%s", ms_errmsg());
	ms_montage_free(sheet);
	check_repeat(NULL, 1);
	return fshut(stdout, "<stdout>");
}
