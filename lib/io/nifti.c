/* NIfTI-1 single-file volumes (.nii, .nii.gz through zlib) <-> tensors. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "core/outfile.h"
#include "core/tensor.h"
#include "core/util.h"
#include "io/nifti.h"

#define HDR_SIZE 348
#define VOX_OFFSET 352                 /* header + 4-byte extension flag */
#define CHUNK ((size_t)1 << 20)        /* read and write in pieces of this */

/* ---- byte decoding, either order */
static uint32_t get32(const unsigned char *p, int swap)
{
	return swap ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
	            : p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t get16(const unsigned char *p, int swap)
{
	return swap ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[0] | p[1] << 8);
}

static uint64_t get64(const unsigned char *p, int swap)
{
	uint64_t lo = get32(p, swap), hi = get32(p + 4, swap);
	return swap ? lo << 32 | hi : hi << 32 | lo;
}

static float getf32(const unsigned char *p, int swap)
{
	uint32_t u = get32(p, swap);
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static double getf64(const unsigned char *p, int swap)
{
	uint64_t u = get64(p, swap);
	double d;
	memcpy(&d, &u, 8);
	return d;
}

static void put16(unsigned char *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> 8 * i;
}

static void putf32(unsigned char *p, float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	put32(p, u);
}

/* ---- reading */
static size_t dtype_bytes(int code)
{
	switch (code) {
	case MS_NIFTI_UINT8: case MS_NIFTI_INT8: return 1;
	case MS_NIFTI_INT16: case MS_NIFTI_UINT16: return 2;
	case MS_NIFTI_INT32: case MS_NIFTI_UINT32: case MS_NIFTI_FLOAT32: return 4;
	case MS_NIFTI_FLOAT64: return 8;
	}
	return 0;
}

static const char *dtype_unsupported(int code)
{
	switch (code) {
	case 1: return "binary";
	case 32: case 1792: case 2048: return "complex";
	case 128: case 2304: return "rgb";
	case 1024: case 1280: return "64-bit integer";
	case 1536: return "float128";
	}
	return NULL;
}

/* one voxel of datatype code at p as a double */
static double voxel(const unsigned char *p, int code, int swap)
{
	switch (code) {
	case MS_NIFTI_UINT8: return p[0];
	case MS_NIFTI_INT8: return (int8_t)p[0];
	case MS_NIFTI_INT16: return (int16_t)get16(p, swap);
	case MS_NIFTI_UINT16: return get16(p, swap);
	case MS_NIFTI_INT32: return (int32_t)get32(p, swap);
	case MS_NIFTI_UINT32: return get32(p, swap);
	case MS_NIFTI_FLOAT32: return getf32(p, swap);
	default: return getf64(p, swap);
	}
}

typedef struct {
	int swap, datatype, units;
	int64_t dim[4], offset;
	size_t bytes;                /* voxel data bytes */
	double pixdim[4], slope, inter;
	ms_nifti_geom g;             /* the fields as stored */
} header;

/* the geometry fields of header h as stored */
static void read_geom(const unsigned char *h, int swap, ms_nifti_geom *g)
{
	memset(g, 0, sizeof *g);
	for (int i = 0; i < 8; i++) {
		g->dim[i] = (int16_t)get16(h + 40 + 2 * i, swap);
		g->pixdim[i] = getf32(h + 76 + 4 * i, swap);
	}
	for (int i = 0; i < 3; i++)
		g->intent_p[i] = getf32(h + 56 + 4 * i, swap);
	g->intent_code = (int16_t)get16(h + 68, swap);
	g->datatype = (int16_t)get16(h + 70, swap);
	g->scl_slope = getf32(h + 112, swap);
	g->scl_inter = getf32(h + 116, swap);
	g->xyzt_units = h[123];
	g->qform_code = (int16_t)get16(h + 252, swap);
	g->sform_code = (int16_t)get16(h + 254, swap);
	for (int i = 0; i < 6; i++)
		g->quatern[i] = getf32(h + 256 + 4 * i, swap);
	for (int i = 0; i < 12; i++)
		g->srow[i / 4][i % 4] = getf32(h + 280 + 4 * i, swap);
	memcpy(g->intent_name, h + 328, 16);
}

/* the dims of g (what: the file, for messages) within the limits; *nvox their product */
static int check_dims(const char *what, const ms_nifti_geom *g, size_t *nvox)
{
	int nd = g->dim[0];
	if (nd < 1 || nd > 7)
		return ms_error("%s: dim[0] = %d is not in 1..7", what, nd);
	*nvox = 1;
	for (int i = 1; i <= 7; i++) {
		int d = i <= nd ? g->dim[i] : 1;
		if (d < 1)
			return ms_error("%s: dim[%d] = %d is not positive", what, i, d);
		if (i > 4 && d > 1)
			return ms_error("%s: dim[%d] = %d: 5-d and higher volumes are not supported",
			                what, i, d);
		if (ms_mul_overflow(*nvox, (size_t)d, nvox) || *nvox > (size_t)MS_NIFTI_MAX_VOXELS)
			return ms_error("%s: volume over the limit of %lld voxels", what,
			                (long long)MS_NIFTI_MAX_VOXELS);
	}
	return 0;
}

static int check_datatype(const char *what, int datatype)
{
	if (dtype_bytes(datatype))
		return 0;
	const char *kind = dtype_unsupported(datatype);
	return kind ? ms_error("%s: nifti datatype %d (%s) is not supported", what, datatype, kind)
	            : ms_error("%s: unknown nifti datatype %d", what, datatype);
}

int ms_nifti_geom_check(const ms_nifti_geom *g)
{
	size_t nvox;
	return check_dims("nifti header", g, &nvox) < 0 || check_datatype("nifti header",
	       g->datatype) < 0 ? -1 : 0;
}

static int parse_header(const char *path, const unsigned char *h, header *hd)
{
	memset(hd, 0, sizeof *hd);
	if (get32(h, 0) == HDR_SIZE)
		hd->swap = 0;
	else if (get32(h, 1) == HDR_SIZE)
		hd->swap = 1;
	else if (get32(h, 0) == 540 || get32(h, 1) == 540)
		return ms_error("%s: nifti-2 is not supported", path);
	else
		return ms_error("%s: not a nifti-1 file (sizeof_hdr is not 348)", path);
	int swap = hd->swap;
	if (!memcmp(h + 344, "ni1", 4))
		return ms_error("%s: two-file nifti-1 (.hdr/.img) is not supported", path);
	if (memcmp(h + 344, "n+1", 4))
		return ms_error("%s: bad nifti-1 magic (want \"n+1\")", path);

	read_geom(h, swap, &hd->g);
	size_t nvox;
	if (check_dims(path, &hd->g, &nvox) < 0 || check_datatype(path, hd->g.datatype) < 0)
		return -1;
	int nd = hd->g.dim[0];
	for (int i = nd + 1; i < 8; i++)
		hd->g.dim[i] = 1;   /* unused: whatever the file holds there */
	for (int i = 0; i < 4; i++)
		hd->dim[i] = hd->g.dim[i + 1];
	hd->datatype = hd->g.datatype;
	hd->bytes = nvox * dtype_bytes(hd->datatype);   /* no overflow: nvox <= 2^31 */

	for (int i = 1; i <= nd; i++)
		if (!isfinite(hd->g.pixdim[i]))
			return ms_error("%s: pixdim[%d] = %g is not finite", path, i, hd->g.pixdim[i]);
	for (int i = 0; i < 4; i++) {   /* pixdim[i + 1]; 1 for absent dimensions and 0 */
		double p = i < nd ? fabs(hd->g.pixdim[i + 1]) : 1;
		hd->pixdim[i] = p > 0 ? p : 1;
	}
	double off = getf32(h + 108, swap);
	if (off == 0)
		off = VOX_OFFSET;   /* as nibabel: 0 in a single file means the minimum */
	if (!(off >= VOX_OFFSET && off <= (double)MS_NIFTI_MAX_OFFSET) || off != floor(off))
		return ms_error("%s: vox_offset %g is not a whole number in [%d, %lld]", path, off,
		                VOX_OFFSET, (long long)MS_NIFTI_MAX_OFFSET);
	hd->offset = (int64_t)off;
	hd->slope = hd->g.scl_slope;
	hd->inter = hd->g.scl_inter;
	if (hd->slope == 0 || !isfinite(hd->slope)) {
		hd->slope = 1;
		hd->inter = 0;
	} else if (!isfinite(hd->inter)) {
		return ms_error("%s: scl_slope is set but scl_inter is not finite", path);
	}
	hd->units = h[123] & 7;
	return 0;
}

/* read exactly n bytes; 0 ok, -1 on error or a short read */
static int gz_readn(gzFile gz, const char *path, void *buf, size_t n, const char *what)
{
	unsigned char *p = buf;
	while (n > 0) {
		unsigned len = n < CHUNK ? (unsigned)n : (unsigned)CHUNK;
		int got = gzread(gz, p, len);
		if (got < 0) {
			int e;
			const char *m = gzerror(gz, &e);
			if (e == Z_ERRNO)
				return ms_error("cannot read %s:", path);
			const char *c = strstr(m, ": ");   /* "<fd:3>: message" */
			return ms_error("%s: corrupt gzip data (%s)", path, c ? c + 2 : m);
		}
		if (got == 0)
			return ms_error("%s: truncated %s", path, what);
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

static void convert(float *f, const unsigned char *raw, size_t n, const header *hd)
{
	size_t vb = dtype_bytes(hd->datatype);
	int scaled = hd->slope != 1 || hd->inter != 0;
	for (size_t i = 0; i < n; i++) {
		double v = voxel(raw + i * vb, hd->datatype, hd->swap);
		f[i] = (float)(scaled ? v * hd->slope + hd->inter : v);
	}
}

/* the voxels as f32, read and converted a piece at a time; the output is allocated at
 * once when the file size was checked, else (gzip, pipes) it grows with the data that is
 * really there, so that a lying header costs no more than twice that */
static float *read_voxels(gzFile gz, const char *path, const header *hd, int checked)
{
	size_t vb = dtype_bytes(hd->datatype), need = hd->bytes / vb, per = CHUNK / vb;
	size_t cap = checked || need < per ? need : per, have = 0;
	unsigned char *raw = ms_malloc((need < per ? need : per) * vb);
	float *f = raw ? ms_reallocarray(NULL, cap, sizeof *f) : NULL;
	while (f && have < need) {
		if (have == cap) {
			cap = cap > need / 2 ? need : 2 * cap;
			float *nf = ms_reallocarray(f, cap, sizeof *f);
			if (!nf)
				break;
			f = nf;
		}
		size_t k = cap - have < per ? cap - have : per;
		if (gz_readn(gz, path, raw, k * vb, "voxel data") < 0)
			break;
		convert(f + have, raw, k, hd);
		have += k;
	}
	free(raw);
	if (have < need) {
		free(f);
		return NULL;
	}
	return f;
}

static double unit_mm(int units)
{
	return units == 1 ? 1000 : units == 3 ? 0.001 : 1;   /* metre, micron, else mm */
}

int ms_nifti_read(const char *path, ms_nifti *n)
{
	memset(n, 0, sizeof *n);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return ms_error("cannot open %s:", path);
	struct stat st;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return ms_error("cannot stat %s:", path);
	}
	gzFile gz = gzdopen(fd, "rb");
	if (!gz) {
		close(fd);
		return ms_error("cannot open %s: out of memory", path);
	}
	gzbuffer(gz, 1 << 17);
	unsigned char h[HDR_SIZE], skip[4096];
	header hd;
	if (gz_readn(gz, path, h, HDR_SIZE, "header") < 0 || parse_header(path, h, &hd) < 0)
		goto fail;
	/* a plain regular file: its size must hold the data before anything is allocated */
	int checked = gzdirect(gz) && S_ISREG(st.st_mode);
	if (checked && (uint64_t)st.st_size < (uint64_t)hd.offset + hd.bytes) {
		if (st.st_size < hd.offset)
			ms_error("%s: vox_offset %lld is beyond the end of the file (%lld bytes)", path,
			         (long long)hd.offset, (long long)st.st_size);
		else
			ms_error("%s: truncated voxel data (%lld of %zu bytes)", path,
			         (long long)(st.st_size - hd.offset), hd.bytes);
		goto fail;
	}
	for (int64_t left = hd.offset - HDR_SIZE; left > 0;) {
		size_t k = left < (int64_t)sizeof skip ? (size_t)left : sizeof skip;
		if (gz_readn(gz, path, skip, k, "file before vox_offset") < 0)
			goto fail;
		left -= (int64_t)k;
	}
	float *f = read_voxels(gz, path, &hd, checked);
	if (!f)
		goto fail;
	gzclose(gz);
	int rank = hd.dim[3] > 1 ? 4 : 3;
	n->vol = (ms_tensor){ .dtype = MS_F32, .rank = rank, .data = f };
	for (int i = 0; i < rank; i++)
		n->vol.shape[i] = hd.dim[rank - 1 - i];
	double mm = unit_mm(hd.units);
	for (int i = 0; i < 4; i++) {
		n->dim[i] = hd.dim[i];
		n->spacing[i] = i < 3 ? hd.pixdim[i] * mm : hd.pixdim[i];
	}
	n->datatype = hd.datatype;
	n->geom = hd.g;
	return 0;
fail:
	gzclose(gz);
	ms_nifti_free(n);
	return -1;
}

void ms_nifti_free(ms_nifti *n)
{
	if (!n)
		return;
	ms_tensor_free(&n->vol);
	memset(n, 0, sizeof *n);
}

void ms_nifti_slice_layout(const int64_t dim[4], int axis, int64_t index, int64_t t,
                           ms_nifti_layout *l)
{
	/* H and W axes, and the strides of x, y, z in the volume */
	static const int hax[3] = { 2, 2, 1 }, wax[3] = { 1, 0, 0 };
	const int64_t stride[3] = { 1, dim[0], dim[0] * dim[1] };
	l->h = dim[hax[axis]];
	l->w = dim[wax[axis]];
	l->first = t * dim[0] * dim[1] * dim[2] + index * stride[axis];
	l->sh = stride[hax[axis]];
	l->sw = stride[wax[axis]];
	l->hax = hax[axis];
	l->wax = wax[axis];
}

int ms_nifti_slice(const ms_nifti *n, int axis, int64_t index, int64_t t, ms_tensor *out,
                   double spacing[2])
{
	if (!n->vol.data || n->vol.dtype != MS_F32)
		return ms_error("nifti slice: no volume");
	if (axis < 0 || axis > 2)
		return ms_error("nifti slice: axis %d is not 0 (x), 1 (y) or 2 (z)", axis);
	if (index < 0 || index >= n->dim[axis])
		return ms_error("nifti slice: index %lld out of range [0, %lld)", (long long)index,
		                (long long)n->dim[axis]);
	if (t < 0 || t >= n->dim[3])
		return ms_error("nifti slice: volume %lld out of range [0, %lld)", (long long)t,
		                (long long)n->dim[3]);
	ms_nifti_layout l;
	ms_nifti_slice_layout(n->dim, axis, index, t, &l);
	int64_t shape[3] = { 1, l.h, l.w };
	if (ms_tensor_alloc(out, MS_F32, 3, shape) < 0)
		return -1;
	const float *v = (const float *)n->vol.data + l.first;
	float *o = out->data;
	for (int64_t y = 0; y < l.h; y++)
		for (int64_t x = 0; x < l.w; x++)
			o[y * l.w + x] = v[y * l.sh + x * l.sw];
	if (spacing) {
		spacing[0] = n->spacing[l.hax];
		spacing[1] = n->spacing[l.wax];
	}
	return 0;
}

/* ---- orientation */
/* the 3x3 of g's best affine (voxel axis i is column i) */
static void affine3(const ms_nifti_geom *g, double m[3][3])
{
	if (g->sform_code > 0) {
		for (int j = 0; j < 3; j++)
			for (int i = 0; i < 3; i++)
				m[j][i] = g->srow[j][i];
		return;
	}
	double b = g->quatern[0], c = g->quatern[1], d = g->quatern[2], a = 1 - b * b - c * c - d * d;
	if (g->qform_code <= 0)
		a = 1, b = c = d = 0;
	a = a > 0 ? sqrt(a) : 0;
	double r[3][3] = { { a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c) },
	                   { 2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b) },
	                   { 2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b } };
	double s[3] = { g->pixdim[1], g->pixdim[2], (g->pixdim[0] < 0 ? -1 : 1) * g->pixdim[3] };
	for (int j = 0; j < 3; j++)
		for (int i = 0; i < 3; i++)
			m[j][i] = r[j][i] * (g->dim[0] > i && isfinite(s[i]) && s[i] != 0 ? s[i] : 1);
}

void ms_nifti_orientation(const ms_nifti_geom *g, int lps, int perm[3], int flip[3])
{
	double m[3][3];
	int used_i[3] = { 0 }, used_j[3] = { 0 };
	affine3(g, m);
	for (int i = 0; i < 3; i++) {   /* columns to unit length */
		double n = sqrt(m[0][i] * m[0][i] + m[1][i] * m[1][i] + m[2][i] * m[2][i]);
		for (int j = 0; j < 3; j++)
			m[j][i] = n > 0 ? m[j][i] / n : i == j;
	}
	for (int k = 0; k < 3; k++) {   /* the largest entry left pairs a world and voxel axis */
		int bj = -1, bi = -1;
		for (int j = 0; j < 3; j++)
			for (int i = 0; i < 3; i++)
				if (!used_j[j] && !used_i[i] && (bj < 0 || fabs(m[j][i]) > fabs(m[bj][bi])))
					bj = j, bi = i;
		used_j[bj] = used_i[bi] = 1;
		perm[bj] = bi;
		flip[bj] = lps && bj < 2 ? m[bj][bi] > 0 : m[bj][bi] < 0;
	}
}

void ms_nifti_permute(const void *src, void *dst, size_t esize, const int64_t dim[4],
                      const int perm[3], const int flip[3])
{
	const int64_t stride[3] = { 1, dim[0], dim[0] * dim[1] }, vol = dim[0] * dim[1] * dim[2];
	const int64_t d[3] = { dim[perm[0]], dim[perm[1]], dim[perm[2]] };
	const char *s = src;
	char *o = dst;
	for (int64_t t = 0; t < dim[3]; t++)
		for (int64_t z = 0; z < d[2]; z++)
			for (int64_t y = 0; y < d[1]; y++)
				for (int64_t x = 0; x < d[0]; x++, o += esize) {
					const int64_t c[3] = { x, y, z };
					int64_t off = t * vol;
					for (int k = 0; k < 3; k++)
						off += (flip[k] ? d[k] - 1 - c[k] : c[k]) * stride[perm[k]];
					memcpy(o, s + off * (int64_t)esize, esize);
				}
}

int ms_nifti_reorient(ms_nifti *n, const int perm[3], const int flip[3])
{
	ms_tensor v = { 0 };
	int64_t shape[4] = { n->dim[3], n->dim[perm[2]], n->dim[perm[1]], n->dim[perm[0]] };
	int r = n->vol.rank;
	if (ms_tensor_alloc(&v, MS_F32, r, shape + 4 - r) < 0)
		return -1;
	ms_nifti_permute(n->vol.data, v.data, sizeof(float), n->dim, perm, flip);
	ms_tensor_free(&n->vol);
	n->vol = v;
	int64_t dim[3] = { n->dim[0], n->dim[1], n->dim[2] };
	double sp[3] = { n->spacing[0], n->spacing[1], n->spacing[2] };
	for (int k = 0; k < 3; k++) {
		n->dim[k] = dim[perm[k]];
		n->spacing[k] = sp[perm[k]];
	}
	return 0;
}

/* ---- writing: plain, or deflate with a gzip wrapper, into an atomic output file */
typedef struct {
	FILE *f;
	z_stream z;
	int gz;
	unsigned char out[CHUNK];
} sink;

static int sink_write(sink *s, const void *p, size_t n, int flush)
{
	if (!s->gz)
		return fwrite(p, 1, n, s->f) == n ? 0 : -1;
	s->z.next_in = (unsigned char *)p;
	s->z.avail_in = (uInt)n;   /* n <= CHUNK */
	int ret;
	do {
		s->z.next_out = s->out;
		s->z.avail_out = sizeof s->out;
		ret = deflate(&s->z, flush);
		if (ret == Z_STREAM_ERROR)
			return -1;
		size_t k = sizeof s->out - s->z.avail_out;
		if (fwrite(s->out, 1, k, s->f) != k)
			return -1;
	} while (s->z.avail_out == 0 || (flush == Z_FINISH && ret != Z_STREAM_END));
	return 0;
}

static int nifti_code(int dtype)
{
	switch (dtype) {
	case MS_U8: return MS_NIFTI_UINT8;
	case MS_U16: return MS_NIFTI_UINT16;
	case MS_I32: return MS_NIFTI_INT32;
	case MS_F32: return MS_NIFTI_FLOAT32;
	}
	return 0;
}

static void make_header(unsigned char *h, const ms_nifti_geom *g)
{
	memset(h, 0, VOX_OFFSET);
	put32(h, HDR_SIZE);
	for (int i = 0; i < 8; i++) {
		put16(h + 40 + 2 * i, (uint16_t)(i <= g->dim[0] ? g->dim[i] : 1));
		putf32(h + 76 + 4 * i, g->pixdim[i]);
	}
	for (int i = 0; i < 3; i++)
		putf32(h + 56 + 4 * i, g->intent_p[i]);
	put16(h + 68, (uint16_t)g->intent_code);
	put16(h + 70, (uint16_t)g->datatype);
	put16(h + 72, (uint16_t)(8 * dtype_bytes(g->datatype)));
	putf32(h + 108, VOX_OFFSET);
	putf32(h + 112, g->scl_slope);
	putf32(h + 116, g->scl_inter);
	h[123] = (unsigned char)g->xyzt_units;
	memcpy(h + 148, "ms", 2);
	put16(h + 252, (uint16_t)g->qform_code);
	put16(h + 254, (uint16_t)g->sform_code);
	for (int i = 0; i < 6; i++)
		putf32(h + 256 + 4 * i, g->quatern[i]);
	for (int i = 0; i < 12; i++)
		putf32(h + 280 + 4 * i, g->srow[i / 4][i % 4]);
	memcpy(h + 328, g->intent_name, strnlen(g->intent_name, 16));
	memcpy(h + 344, "n+1", 4);
}

/* the geometry ms_nifti_write gives a tensor: dims from its shape, the spacing as pixdim
 * and a diagonal sform, an identity qform, mm (and s for 4-d) */
static void tensor_geom(const ms_tensor *t, const double *sp, ms_nifti_geom *g)
{
	memset(g, 0, sizeof *g);
	g->dim[0] = t->rank;
	g->pixdim[0] = 1;   /* qfac */
	for (int i = 1; i <= 7; i++) {   /* dim[1] = W, the innermost axis */
		g->dim[i] = i <= t->rank ? (int)t->shape[t->rank - i] : 1;
		g->pixdim[i] = i <= t->rank ? (float)sp[t->rank - i] : 1;
	}
	g->datatype = nifti_code(t->dtype);
	g->scl_slope = 1;
	g->xyzt_units = 2 | (t->rank == 4 ? 8 : 0);
	g->qform_code = g->sform_code = 1;   /* scanner */
	for (int i = 0; i < 3; i++)
		g->srow[i][i] = i < t->rank ? (float)sp[t->rank - 1 - i] : 1;
}

static double tensor_value(const ms_tensor *t, size_t i)
{
	switch (t->dtype) {
	case MS_U8: return ((const uint8_t *)t->data)[i];
	case MS_U16: return ((const uint16_t *)t->data)[i];
	case MS_I32: return ((const int32_t *)t->data)[i];
	default: return ((const float *)t->data)[i];
	}
}

/* v stored as datatype code at p, little-endian: integers rounded and clamped, NaN 0 */
static void put_voxel(unsigned char *p, int code, double v)
{
	if (code == MS_NIFTI_FLOAT32) {
		putf32(p, (float)v);
		return;
	}
	if (code == MS_NIFTI_FLOAT64) {
		uint64_t u;
		memcpy(&u, &v, 8);
		put32(p, (uint32_t)u);
		put32(p + 4, (uint32_t)(u >> 32));
		return;
	}
	double lo = code == MS_NIFTI_INT8 ? -128 : code == MS_NIFTI_INT16 ? -32768
	          : code == MS_NIFTI_INT32 ? -2147483648.0 : 0;
	double hi = code == MS_NIFTI_UINT8 ? 255 : code == MS_NIFTI_INT8 ? 127
	          : code == MS_NIFTI_INT16 ? 32767 : code == MS_NIFTI_UINT16 ? 65535
	          : code == MS_NIFTI_INT32 ? 2147483647.0 : 4294967295.0;
	v = v != v ? 0 : floor(v + 0.5);
	v = v < lo ? lo : v > hi ? hi : v;
	uint32_t u = v < 0 ? (uint32_t)(int32_t)v : (uint32_t)v;
	switch (dtype_bytes(code)) {
	case 1: p[0] = (unsigned char)u; break;
	case 2: put16(p, (uint16_t)u); break;
	default: put32(p, u); break;
	}
}

/* encode voxels [i, i + n) of t as g's datatype, unscaled by its slope and intercept */
static void encode(unsigned char *buf, const ms_tensor *t, const ms_nifti_geom *g, size_t i,
                   size_t n)
{
	size_t b = dtype_bytes(g->datatype);
	double slope = g->scl_slope, inter = g->scl_inter;
	int scaled = slope != 0 && isfinite(slope) && isfinite(inter) && (slope != 1 || inter != 0);
	for (size_t k = 0; k < n; k++, buf += b) {
		double v = tensor_value(t, i + k);
		put_voxel(buf, g->datatype, scaled ? (v - inter) / slope : v);
	}
}

int ms_nifti_write(const char *path, const ms_tensor *t, const double *spacing, int gz)
{
	if (!nifti_code(t->dtype))
		return ms_error("%s: cannot write dtype %d as nifti", path, t->dtype);
	if (t->rank < 2 || t->rank > 4)
		return ms_error("%s: cannot write a rank %d tensor as nifti (want 2 to 4)", path,
		                t->rank);
	double sp[4] = { 1, 1, 1, 1 };
	for (int i = 0; i < t->rank; i++) {
		if (t->shape[i] < 1 || t->shape[i] > 32767)
			return ms_error("%s: dimension %lld is not in 1..32767", path,
			                (long long)t->shape[i]);
		if (spacing && !(isfinite(spacing[i]) && spacing[i] > 0))
			return ms_error("%s: spacing %g is not positive", path, spacing[i]);
		if (spacing)
			sp[i] = spacing[i];
	}
	ms_nifti_geom g;
	tensor_geom(t, sp, &g);
	return ms_nifti_write_geom(path, t, &g, gz);
}

int ms_nifti_write_geom(const char *path, const ms_tensor *t, const ms_nifti_geom *g, int gz)
{
	size_t nvox;
	if (!nifti_code(t->dtype))
		return ms_error("%s: cannot write dtype %d as nifti", path, t->dtype);
	if (check_dims(path, g, &nvox) < 0 || check_datatype(path, g->datatype) < 0)
		return -1;
	if ((int64_t)nvox != ms_tensor_numel(t))
		return ms_error("%s: %lld values for a volume of %zu voxels", path,
		                (long long)ms_tensor_numel(t), nvox);
	sink *s = ms_calloc(1, sizeof *s);
	unsigned char *buf = ms_malloc(CHUNK);
	ms_outfile o = { 0 };
	int ret = -1;
	if (!s || !buf || ms_outfile_open(&o, path) < 0)
		goto out;
	s->f = o.f;
	s->gz = gz;
	if (gz && deflateInit2(&s->z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		ms_error("%s: cannot initialise zlib", path);
		s->gz = 0;
		goto out;
	}
	make_header(buf, g);
	int bad = sink_write(s, buf, VOX_OFFSET, Z_NO_FLUSH);
	size_t b = dtype_bytes(g->datatype), per = CHUNK / b;
	for (size_t i = 0; i < nvox && !bad; i += per) {
		size_t k = nvox - i < per ? nvox - i : per;
		encode(buf, t, g, i, k);
		bad = sink_write(s, buf, k * b, Z_NO_FLUSH);
	}
	if (!bad && gz)
		bad = sink_write(s, NULL, 0, Z_FINISH);
	if (bad) {
		ms_error("cannot write %s:", path);
		goto out;
	}
	ret = ms_outfile_commit(&o);
out:
	if (s && s->gz)
		deflateEnd(&s->z);
	if (ret < 0)
		ms_outfile_abort(&o);
	free(s);
	free(buf);
	return ret;
}
