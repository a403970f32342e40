/* NIfTI-1 read/write: round trips, slices, hostile headers, and nibabel as reference. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "core/ms.h"
#include "io/nifti.h"
#include "io/stream.h"
#include "io/volume.h"
#include "test.h"

#define REF "tests/ref/nifti_ref.py"
#define PY "/usr/bin/python3"

static char dir[256];

static const char *tmp(const char *name)
{
	static char buf[8][512];
	static int k;
	k = (k + 1) % 8;
	snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
	return buf[k];
}

static unsigned char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	rewind(f);
	unsigned char *p = malloc(len > 0 ? (size_t)len : 1);
	*n = fread(p, 1, (size_t)len, f);
	fclose(f);
	return p;
}

static void spit(const char *path, const void *p, size_t n, int gz)
{
	if (gz) {
		gzFile g = gzopen(path, "wb");
		if (n)
			gzwrite(g, p, (unsigned)n);
		gzclose(g);
		return;
	}
	FILE *f = fopen(path, "wb");
	fwrite(p, 1, n, f);
	fclose(f);
}

static void put16(unsigned char *p, int v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void putf(unsigned char *p, float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(u >> 8 * i);
}

/* a tensor of dtype and shape filled with a pattern exact in f32 */
static void fill(ms_tensor *t, int dtype, int rank, const int64_t *shape)
{
	CHECK(ms_tensor_alloc(t, dtype, rank, shape) == 0);
	size_t n = (size_t)ms_tensor_numel(t);
	for (size_t i = 0; i < n; i++) {
		switch (dtype) {
		case MS_U8: ((uint8_t *)t->data)[i] = (uint8_t)(i * 37 % 256); break;
		case MS_U16: ((uint16_t *)t->data)[i] = (uint16_t)(i * 4099 % 65536); break;
		case MS_I32: ((int32_t *)t->data)[i] = (int32_t)(i * 100003 % 16777216) - 8388608; break;
		default: ((float *)t->data)[i] = (float)((double)i * 0.37 - 5.5); break;
		}
	}
}

static float value(const ms_tensor *t, size_t i)
{
	switch (t->dtype) {
	case MS_U8: return ((uint8_t *)t->data)[i];
	case MS_U16: return ((uint16_t *)t->data)[i];
	case MS_I32: return (float)((int32_t *)t->data)[i];
	default: return ((float *)t->data)[i];
	}
}

static void test_roundtrip(void)
{
	static const int dts[4] = { MS_U8, MS_U16, MS_I32, MS_F32 };
	static const int codes[4] = { 2, 512, 8, 16 };
	static const int64_t shape[4] = { 2, 3, 5, 7 };   /* [T,D,H,W] */
	static const double sp[4] = { 3.0, 2.5, 0.75, 0.5 };
	for (int d = 0; d < 4; d++)
		for (int rank = 2; rank <= 4; rank++)
			for (int gz = 0; gz <= 1; gz++) {
				const int64_t *sh = shape + 4 - rank;
				ms_tensor t = { 0 };
				fill(&t, dts[d], rank, sh);
				const char *p = tmp(gz ? "rt.nii.gz" : "rt.nii");
				CHECK(ms_nifti_write(p, &t, sp + 4 - rank, gz) == 0);
				ms_nifti n;
				int ok = ms_nifti_read(p, &n) == 0;
				CHECK(ok);
				if (!ok) {
					fprintf(stderr, "%s\n", ms_errmsg());
					ms_tensor_free(&t);
					continue;
				}
				CHECK(n.datatype == codes[d]);
				CHECK(n.vol.dtype == MS_F32 && n.vol.rank == (rank == 4 ? 4 : 3));
				for (int i = 0; i < 4; i++) {
					CHECK(n.dim[i] == (i < rank ? sh[rank - 1 - i] : 1));
					CHECK_NEAR(n.spacing[i], i < rank ? sp[3 - i] : 1, 1e-6);
				}
				CHECK(ms_tensor_numel(&n.vol) == ms_tensor_numel(&t));
				size_t bad = 0;
				for (int64_t i = 0; i < ms_tensor_numel(&t); i++)
					bad += ((float *)n.vol.data)[i] != value(&t, (size_t)i);
				CHECK(bad == 0);
				ms_nifti_free(&n);
				ms_tensor_free(&t);
			}
	/* gz output really is gzip, plain output starts with the header */
	ms_tensor t = { 0 };
	fill(&t, MS_U8, 2, shape + 2);
	size_t len;
	CHECK(ms_nifti_write(tmp("g.nii.gz"), &t, NULL, 1) == 0);
	unsigned char *b = slurp(tmp("g.nii.gz"), &len);
	CHECK(b && len > 2 && b[0] == 0x1f && b[1] == 0x8b);
	free(b);
	CHECK(ms_nifti_write(tmp("g.nii"), &t, NULL, 0) == 0);
	b = slurp(tmp("g.nii"), &len);
	CHECK(b && len == 352 + 35 && b[0] == 92 && !memcmp(b + 344, "n+1", 4));
	/* xyzt_units: spacing in microns becomes mm */
	if (b && len == 352 + 35) {
		b[123] = 3;
		putf(b + 80, 500);
		spit(tmp("um.nii"), b, len, 0);
		ms_nifti n;
		CHECK(ms_nifti_read(tmp("um.nii"), &n) == 0);
		CHECK_NEAR(n.spacing[0], 0.5, 1e-9);
		CHECK_NEAR(n.spacing[1], 0.001, 1e-9);
		ms_nifti_free(&n);
	}
	free(b);
	/* bad arguments to write: no file left behind */
	double neg[2] = { 1, -1 };
	CHECK(ms_nifti_write(tmp("bad.nii"), &t, neg, 0) == -1 && *ms_errmsg());
	t.rank = 1;
	CHECK(ms_nifti_write(tmp("bad.nii"), &t, NULL, 0) == -1 && *ms_errmsg());
	CHECK(access(tmp("bad.nii"), F_OK) != 0);
	ms_tensor_free(&t);
}

static void test_slice(void)
{
	static const int64_t shape[4] = { 2, 3, 4, 5 };   /* nt=2 nz=3 ny=4 nx=5 */
	ms_tensor t = { 0 };
	CHECK(ms_tensor_alloc(&t, MS_F32, 4, shape) == 0);
	float *v = t.data;
	for (int tt = 0, i = 0; tt < 2; tt++)
		for (int z = 0; z < 3; z++)
			for (int y = 0; y < 4; y++)
				for (int x = 0; x < 5; x++)
					v[i++] = (float)(1000 * tt + 100 * z + 10 * y + x);
	const double sp[4] = { 9, 3, 2, 1 };   /* t, z, y, x */
	CHECK(ms_nifti_write(tmp("s.nii"), &t, sp, 0) == 0);
	ms_tensor_free(&t);
	ms_nifti n;
	CHECK(ms_nifti_read(tmp("s.nii"), &n) == 0);
	ms_tensor o = { 0 };
	double s[2];
	/* axis z: [ny][nx] */
	CHECK(ms_nifti_slice(&n, 2, 1, 1, &o, s) == 0);
	CHECK(o.rank == 3 && o.shape[0] == 1 && o.shape[1] == 4 && o.shape[2] == 5);
	CHECK(s[0] == 2 && s[1] == 1);
	CHECK(((float *)o.data)[2 * 5 + 3] == 1000 + 100 + 20 + 3);
	ms_tensor_free(&o);
	/* axis y: [nz][nx] */
	CHECK(ms_nifti_slice(&n, 1, 3, 0, &o, s) == 0);
	CHECK(o.shape[1] == 3 && o.shape[2] == 5 && s[0] == 3 && s[1] == 1);
	CHECK(((float *)o.data)[2 * 5 + 4] == 200 + 30 + 4);
	ms_tensor_free(&o);
	/* axis x: [nz][ny] */
	CHECK(ms_nifti_slice(&n, 0, 4, 1, &o, s) == 0);
	CHECK(o.shape[1] == 3 && o.shape[2] == 4 && s[0] == 3 && s[1] == 2);
	CHECK(((float *)o.data)[1 * 4 + 2] == 1000 + 100 + 20 + 4);
	ms_tensor_free(&o);
	/* out of range */
	CHECK(ms_nifti_slice(&n, 0, 5, 0, &o, s) == -1 && *ms_errmsg());
	CHECK(ms_nifti_slice(&n, 2, -1, 0, &o, s) == -1);
	CHECK(ms_nifti_slice(&n, 3, 0, 0, &o, s) == -1);
	CHECK(ms_nifti_slice(&n, 1, 0, 2, &o, s) == -1);
	CHECK(o.data == NULL);
	ms_nifti_free(&n);
}

/* the base file for hostile variants: i32 [3,5,7], 105 voxels */
static unsigned char *base(size_t *n)
{
	static const int64_t shape[3] = { 3, 5, 7 };
	ms_tensor t = { 0 };
	fill(&t, MS_I32, 3, shape);
	CHECK(ms_nifti_write(tmp("base.nii"), &t, NULL, 0) == 0);
	ms_tensor_free(&t);
	return slurp(tmp("base.nii"), n);
}

/* read a variant of the base file; returns ms_nifti_read's status, and checks that a
 * failure left a message and no data */
static int try_variant(const unsigned char *b, size_t len, int gz, const char *what)
{
	const char *p = tmp(gz ? "h.nii.gz" : "h.nii");
	spit(p, b, len, gz);
	ms_nifti n;
	int r = ms_nifti_read(p, &n);
	if (r < 0) {
		CHECK(*ms_errmsg() && n.vol.data == NULL);
		if (getenv("VERBOSE"))
			fprintf(stderr, "%s: %s\n", what, ms_errmsg());
	} else {
		ms_nifti_free(&n);
	}
	return r;
}

#define BAD(b, len, gz, what) do { if (try_variant(b, len, gz, what) != -1) { \
	test_failed++; fprintf(stderr, "%s:%d: accepted: %s\n", __FILE__, __LINE__, what); } \
	test_checks++; } while (0)

static void test_hostile(void)
{
	size_t len;
	unsigned char *b0 = base(&len), *b = malloc(len + 64);
	CHECK(b0 && len == 352 + 105 * 4);
	if (!b0)
		return;
#define RESET() memcpy(b, b0, len)
	for (int gz = 0; gz <= 1; gz++) {
		RESET();
		CHECK(try_variant(b, len, gz, "base") == 0);
		RESET(); memcpy(b + 344, "n+2", 4); BAD(b, len, gz, "bad magic");
		RESET(); memcpy(b + 344, "ni1", 4); BAD(b, len, gz, "two-file magic");
		RESET(); b[0] = 0x5d; BAD(b, len, gz, "sizeof_hdr");
		RESET(); b[0] = 0x1c; b[1] = 0x02; BAD(b, len, gz, "nifti-2 sizeof_hdr");
		RESET(); put16(b + 40, 2); putf(b + 88, 7);   /* 2-d: pixdim[3] ignored */
		CHECK(try_variant(b, 352 + 35 * 4, gz, "2-d") == 0);
		RESET(); put16(b + 40, 0); BAD(b, len, gz, "dim[0] = 0");
		RESET(); put16(b + 40, 8); BAD(b, len, gz, "dim[0] = 8");
		RESET(); put16(b + 44, -5); BAD(b, len, gz, "negative dim");
		RESET(); put16(b + 44, 0); BAD(b, len, gz, "zero dim");
		RESET(); put16(b + 40, 5); put16(b + 50, 2); BAD(b, len, gz, "5-d");
		RESET(); put16(b + 42, 32767); put16(b + 44, 32767); put16(b + 46, 32767);
		BAD(b, len, gz, "huge dims");
		RESET(); put16(b + 40, 7);
		for (int i = 1; i <= 7; i++)
			put16(b + 40 + 2 * i, 32767);
		BAD(b, len, gz, "dims whose product overflows");
		/* under the voxel limit, but the data is not there: no big allocation either */
		RESET(); put16(b + 42, 2000); put16(b + 44, 2000); put16(b + 46, 500);
		BAD(b, len, gz, "large dims, little data");
		RESET(); putf(b + 108, 1e6f); BAD(b, len, gz, "vox_offset beyond the file");
		RESET(); putf(b + 108, 1e30f); BAD(b, len, gz, "vox_offset huge");
		RESET(); putf(b + 108, NAN); BAD(b, len, gz, "vox_offset nan");
		RESET(); putf(b + 108, -352); BAD(b, len, gz, "vox_offset negative");
		RESET(); putf(b + 108, 100); BAD(b, len, gz, "vox_offset inside the header");
		RESET(); putf(b + 108, 352.5f); BAD(b, len, gz, "vox_offset fractional");
		RESET(); putf(b + 108, 356); BAD(b, len, gz, "vox_offset shifts data past the end");
		RESET(); putf(b + 84, NAN); BAD(b, len, gz, "pixdim nan");
		RESET(); putf(b + 88, -INFINITY); BAD(b, len, gz, "pixdim -inf");
		RESET(); put16(b + 40, 2); putf(b + 88, NAN);   /* pixdim[3] of a 2-d volume */
		CHECK(try_variant(b, 352 + 35 * 4, gz, "2-d, pixdim[3] nan") == 0);
		RESET(); put16(b + 70, 32); BAD(b, len, gz, "complex datatype");
		RESET(); put16(b + 70, 1234); BAD(b, len, gz, "unknown datatype");
		RESET(); put16(b + 70, 0); BAD(b, len, gz, "datatype 0");
		RESET(); putf(b + 112, 2); putf(b + 116, NAN); BAD(b, len, gz, "nan intercept");
		RESET(); BAD(b, len - 1, gz, "truncated data");
		RESET(); BAD(b, 352, gz, "no data");
		RESET(); BAD(b, 100, gz, "truncated header");
		RESET(); BAD(b, 0, gz, "empty file");
		/* tolerated: vox_offset 0, dim[0] 5 with dim[5] 1, scaling */
		RESET(); putf(b + 108, 0);
		CHECK(try_variant(b, len, gz, "vox_offset 0") == 0);
		RESET(); put16(b + 40, 5); put16(b + 50, 1);
		CHECK(try_variant(b, len, gz, "dim[0] 5") == 0);
	}
	/* a damaged gzip stream: cut in half, and a flipped byte in the deflate data */
	size_t glen;
	static const int64_t shape[3] = { 3, 5, 7 };
	ms_tensor t = { 0 };
	fill(&t, MS_F32, 3, shape);
	CHECK(ms_nifti_write(tmp("z.nii.gz"), &t, NULL, 1) == 0);
	ms_tensor_free(&t);
	unsigned char *g = slurp(tmp("z.nii.gz"), &glen);
	CHECK(g && glen > 100);
	if (g) {
		BAD(g, glen / 2, 0, "gzip cut in half");
		g[glen / 2] ^= 0x55;
		g[glen / 2 + 1] ^= 0xaa;
		BAD(g, glen, 0, "gzip corrupt");
		free(g);
	}
	ms_nifti n;
	CHECK(ms_nifti_read(tmp("does-not-exist.nii"), &n) == -1 && strstr(ms_errmsg(), "cannot open"));
	free(b);
	free(b0);
}

/* big-endian file made by swapping the base file's fields the reader uses, and scaling */
static void test_big_endian(void)
{
	size_t len;
	unsigned char *b = base(&len);
	if (!b)
		return;
	static const struct { int off, size, count; } f[] = {
		{ 0, 4, 1 }, { 40, 2, 8 }, { 70, 2, 2 }, { 76, 4, 11 }, { 252, 2, 2 },
		{ 256, 4, 18 }, { 352, 4, 105 },
	};
	putf(b + 112, 0.5f);   /* scl_slope, scl_inter */
	putf(b + 116, -3);
	for (size_t k = 0; k < sizeof f / sizeof *f; k++)
		for (int i = 0; i < f[k].count; i++) {
			unsigned char *p = b + f[k].off + i * f[k].size;
			for (int j = 0; j < f[k].size / 2; j++) {
				unsigned char c = p[j];
				p[j] = p[f[k].size - 1 - j];
				p[f[k].size - 1 - j] = c;
			}
		}
	spit(tmp("be.nii"), b, len, 0);
	free(b);
	static const int64_t shape[3] = { 3, 5, 7 };
	ms_tensor t = { 0 };
	fill(&t, MS_I32, 3, shape);
	ms_nifti n;
	CHECK(ms_nifti_read(tmp("be.nii"), &n) == 0);
	CHECK(n.dim[0] == 7 && n.dim[1] == 5 && n.dim[2] == 3 && n.dim[3] == 1 && n.datatype == 8);
	size_t bad = 0;
	for (size_t i = 0; n.vol.data && i < 105; i++)
		bad += ((float *)n.vol.data)[i] != (float)(value(&t, i) * 0.5 - 3);
	CHECK(n.vol.data && bad == 0);
	ms_nifti_free(&n);
	ms_tensor_free(&t);
}

/* nibabel writes, we read */
static void test_nibabel_read(void)
{
	char cmd[1024], line[512];
	snprintf(cmd, sizeof cmd, PY " " REF " write %s", dir);
	CHECK(system(cmd) == 0);
	FILE *m = fopen(tmp("manifest.txt"), "r");
	CHECK(m != NULL);
	int files = 0;
	while (m && fgets(line, sizeof line, m)) {
		char name[128];
		int code;
		long long d[4];
		double s[4];
		if (sscanf(line, "%127s %d %lld %lld %lld %lld %lf %lf %lf %lf", name, &code, &d[0],
		           &d[1], &d[2], &d[3], &s[0], &s[1], &s[2], &s[3]) != 10) {
			CHECK(!"manifest line");
			continue;
		}
		files++;
		ms_nifti n;
		if (ms_nifti_read(tmp(name), &n) < 0) {
			fprintf(stderr, "%s\n", ms_errmsg());
			CHECK(!"nibabel file read");
			continue;
		}
		CHECK(n.datatype == code);
		for (int i = 0; i < 4; i++) {
			CHECK(n.dim[i] == d[i]);
			CHECK_NEAR(n.spacing[i], s[i], 1e-6 * s[i]);
		}
		char ename[160];
		snprintf(ename, sizeof ename, "%s.f32", name);
		size_t elen, numel = (size_t)ms_tensor_numel(&n.vol), bad = 0;
		unsigned char *e = slurp(tmp(ename), &elen);
		CHECK(e && elen == 4 * numel);
		for (size_t i = 0; e && elen == 4 * numel && i < numel; i++) {
			float ev;
			memcpy(&ev, e + 4 * i, 4);   /* little-endian host */
			bad += ((float *)n.vol.data)[i] != ev;
		}
		if (bad)
			fprintf(stderr, "%s: %zu of %zu voxels differ from nibabel\n", name, bad, numel);
		CHECK(bad == 0);
		free(e);
		ms_nifti_free(&n);
	}
	if (m)
		fclose(m);
	CHECK(files >= 9);   /* 9 written by nibabel, and up to 5 of its own test files */
	printf("read %d nibabel files\n", files);
}

/* we write, nibabel reads */
static void test_nibabel_write(void)
{
	static const struct { const char *name; int dtype, rank, gz; int64_t shape[4];
		double sp[4]; } c[] = {
		{ "w_u8_2d.nii", MS_U8, 2, 0, { 5, 7 }, { 0.8, 0.6 } },
		{ "w_u16_3d.nii.gz", MS_U16, 3, 1, { 3, 5, 7 }, { 2.5, 1.25, 0.5 } },
		{ "w_i32_3d.nii", MS_I32, 3, 0, { 3, 5, 7 }, { 1, 2, 3 } },
		{ "w_f32_3d.nii.gz", MS_F32, 3, 1, { 3, 5, 7 }, { 3.3, 0.7, 0.7 } },
		{ "w_f32_4d.nii", MS_F32, 4, 0, { 2, 3, 5, 7 }, { 2, 1.5, 1, 0.9 } },
	};
	FILE *w = fopen(tmp("written.txt"), "w");
	CHECK(w != NULL);
	for (size_t k = 0; w && k < sizeof c / sizeof *c; k++) {
		ms_tensor t = { 0 };
		fill(&t, c[k].dtype, c[k].rank, c[k].shape);
		CHECK(ms_nifti_write(tmp(c[k].name), &t, c[k].sp, c[k].gz) == 0);
		size_t numel = (size_t)ms_tensor_numel(&t);
		float *f = malloc(4 * numel);
		for (size_t i = 0; i < numel; i++)
			f[i] = value(&t, i);
		char ename[160];
		snprintf(ename, sizeof ename, "%s.f32", c[k].name);
		spit(tmp(ename), f, 4 * numel, 0);
		free(f);
		ms_tensor_free(&t);
		int r = c[k].rank;
		fprintf(w, "%s %s", c[k].name, ms_dtype_name(c[k].dtype));
		for (int i = 0; i < 4; i++)
			fprintf(w, " %lld", (long long)(i < r ? c[k].shape[r - 1 - i] : 1));
		for (int i = 0; i < 4; i++)
			fprintf(w, " %.17g", i < r ? c[k].sp[r - 1 - i] : 1.0);
		fprintf(w, "\n");
	}
	if (w)
		fclose(w);
	char cmd[1024];
	snprintf(cmd, sizeof cmd, PY " " REF " check %s", dir);
	CHECK(system(cmd) == 0);
}

/* a geometry written with a tensor, read back; as metadata of a slice and back */
static void test_geom(void)
{
	ms_nifti_geom g = { .dim = { 3, 4, 3, 2, 1, 1, 1, 1 },
	                    .pixdim = { -1, 0.7f, 1.3f, 2.9f, 1, 1, 1, 1 },
	                    .datatype = MS_NIFTI_INT16, .xyzt_units = 10,
	                    .scl_slope = 0.5f, .scl_inter = -3, .intent_code = 1002,
	                    .intent_p = { 1, 2.5f, 0 }, .intent_name = "labels\x01",
	                    .qform_code = 1, .sform_code = 2,
	                    .quatern = { 0.1f, -0.2f, 0.3f, 10, -20.5f, 7 },
	                    .srow = { { 0.7f, 0.1f, 0, 10 }, { 0, -1.3f, 0.2f, -20.5f },
	                              { 0.05f, 0, 2.9f, 7 } } };
	static const int64_t shape[3] = { 2, 3, 4 };
	ms_tensor t = { 0 };
	CHECK(ms_tensor_alloc(&t, MS_F32, 3, shape) == 0);
	float *f = t.data;
	for (int i = 0; i < 24; i++)
		f[i] = -3 + 0.5f * (float)(i * 7 - 60);   /* whole raw values */
	f[23] = 1e9f;                                  /* clamped to 32767 */
	CHECK(ms_nifti_write_geom(tmp("g.nii"), &t, &g, 0) == 0);
	ms_nifti n;
	CHECK(ms_nifti_read(tmp("g.nii"), &n) == 0);
	CHECK(n.datatype == MS_NIFTI_INT16 && n.dim[0] == 4 && n.dim[2] == 2);
	CHECK(!memcmp(&n.geom, &g, sizeof g));
	for (int i = 0; i < 23; i++)
		CHECK(((float *)n.vol.data)[i] == f[i]);
	CHECK(((float *)n.vol.data)[23] == 32767 * 0.5f - 3);
	ms_nifti_free(&n);
	/* as metadata: the same fields (the intent name's control byte as '?') */
	ms_rec r;
	ms_rec_init(&r);
	float range[2] = { -3.25f, 1e4f };
	CHECK(ms_vslice_meta_set(&r, "vol", &g, range, NULL) == 0);
	CHECK(ms_meta_set(&r, "slice", "1") == 0 && ms_meta_set(&r, "axis", "y") == 0);
	ms_vslice vs;
	CHECK(ms_vslice_get(&r, &vs) == 1);
	g.intent_name[6] = '?';
	CHECK(!memcmp(&vs.g, &g, sizeof g) && !strcmp(vs.id, "vol"));
	CHECK(vs.axis == 1 && vs.slice == 1 && vs.t == 0 && vs.has_range);
	CHECK(vs.lo == range[0] && vs.hi == range[1]);
	CHECK(ms_meta_set(&r, "slice", "3") == 0 && ms_vslice_get(&r, &vs) == -1);
	CHECK(ms_meta_set(&r, "slice", "0") == 0 && ms_meta_set(&r, "nii.dim", "3,4,3") == 0 &&
	      ms_vslice_get(&r, &vs) == -1);
	ms_rec_free(&r);
	ms_tensor_free(&t);
}

int main(void)
{
	const char *td = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/ms-nifti-XXXXXX", td && *td ? td : "/tmp");
	test_mkdtemp(dir);
	RUN(test_roundtrip);
	RUN(test_slice);
	RUN(test_hostile);
	RUN(test_big_endian);
	RUN(test_geom);
	fflush(stdout);
	if (system(PY " -c 'import nibabel, numpy' 2>/dev/null") != 0) {
		printf("skip nibabel reference (" PY " lacks nibabel or numpy)\n");
	} else {
		CHECK(access(REF, R_OK) == 0);   /* run from the repository root */
		RUN(test_nibabel_read);
		RUN(test_nibabel_write);
	}
	char cmd[512];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	return test_summary("nifti");
}
