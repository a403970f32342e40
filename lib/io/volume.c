/* A NIfTI volume's geometry as slice metadata, and slices gathered back into volumes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/ms.h"
#include "image/resize.h"
#include "io/volume.h"

/* ---- metadata: nii.* keys, numbers as %.9g (exact for the header's float32) */
static int set_nums(ms_rec *r, const char *key, const double *v, int n)
{
	char buf[512];
	size_t len = 0;
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%.9g", i ? "," : "", v[i]);
	return ms_meta_set(r, key, buf);
}

int ms_vslice_meta_set(ms_rec *r, const char *id, const ms_nifti_geom *g, const float *range,
                       const int *orient)
{
	const int nd = g->dim[0];
	double v[13] = { 0 };
	int bad = ms_meta_set(r, "nii.id", id) < 0;
	for (int i = 0; i <= nd; i++)
		v[i] = g->dim[i];
	bad = bad || set_nums(r, "nii.dim", v, nd + 1) < 0;
	for (int i = 0; i <= nd; i++)
		v[i] = g->pixdim[i];
	bad = bad || set_nums(r, "nii.pixdim", v, nd + 1) < 0;
	v[0] = g->xyzt_units;
	bad = bad || set_nums(r, "nii.units", v, 1) < 0;
	v[0] = g->datatype;
	bad = bad || set_nums(r, "nii.datatype", v, 1) < 0;
	int scaled = isfinite(g->scl_slope) && isfinite(g->scl_inter);   /* else unscaled */
	v[0] = scaled ? g->scl_slope : 0;
	v[1] = scaled ? g->scl_inter : 0;
	bad = bad || set_nums(r, "nii.scl", v, 2) < 0;
	v[0] = g->qform_code;
	for (int i = 0; i < 6; i++)
		v[1 + i] = g->quatern[i];
	bad = bad || set_nums(r, "nii.qform", v, 7) < 0;
	v[0] = g->sform_code;
	for (int i = 0; i < 12; i++)
		v[1 + i] = g->srow[i / 4][i % 4];
	bad = bad || set_nums(r, "nii.sform", v, 13) < 0;
	if (g->intent_code) {
		v[0] = g->intent_code;
		for (int i = 0; i < 3; i++)
			v[1 + i] = g->intent_p[i];
		bad = bad || set_nums(r, "nii.intent", v, 4) < 0;
	}
	if (g->intent_code && g->intent_name[0]) {
		char name[17];
		size_t i;
		for (i = 0; i < 16 && g->intent_name[i]; i++)   /* printable ASCII, else '?' */
			name[i] = g->intent_name[i] >= 32 && g->intent_name[i] < 127 ? g->intent_name[i] : '?';
		name[i] = '\0';
		bad = bad || ms_meta_set(r, "nii.intent_name", name) < 0;
	}
	if (range) {
		v[0] = range[0];
		v[1] = range[1];
		bad = bad || set_nums(r, "nii.range", v, 2) < 0;
	}
	for (int i = 0; orient && i < 6; i++)
		v[i] = orient[i];
	if (orient)
		bad = bad || set_nums(r, "nii.orient", v, 6) < 0;
	return bad ? -1 : 0;
}

/* the value of key into buf (the whole of it); NULL + message when missing or too long */
static const char *get_str(const ms_rec *r, const char *key, char *buf, size_t n)
{
	if (!ms_meta_get(r, key, buf, n))
		return ms_error("no %s", key), NULL;
	if (strlen(buf) >= n - 1)
		return ms_error("%s is too long", key), NULL;
	return buf;
}

/* key's comma-separated finite numbers: min to max of them; their count, or -1 */
static int get_nums(const ms_rec *r, const char *key, double *v, int min, int max)
{
	char buf[512];
	if (!get_str(r, key, buf, sizeof buf))
		return -1;
	int n = 0;
	for (char *p = buf, *end; n < max; p = end + 1) {
		v[n] = strtod(p, &end);
		if (end == p || !isfinite(v[n]) || (*end && *end != ','))
			break;
		n++;
		if (!*end)
			return n >= min ? n : ms_error("%s: want %d numbers, not %d", key, min, n);
	}
	return ms_error("%s: '%s' is not %d to %d numbers", key, buf, min, max);
}

/* a whole number of key in [lo, hi] */
static int get_int(const ms_rec *r, const char *key, double lo, double hi, int *out)
{
	double v;
	if (get_nums(r, key, &v, 1, 1) < 0)
		return -1;
	if (v != floor(v) || v < lo || v > hi)
		return ms_error("%s: %g is not a whole number in [%g, %g]", key, v, lo, hi);
	*out = (int)v;
	return 0;
}

/* a header's short code (qform_code, sform_code, intent_code) */
static int code(double v, const char *key, int *out)
{
	if (v != floor(v) || v < -32768 || v > 32767)
		return ms_error("%s: code %g is not a 16-bit whole number", key, v);
	*out = (int)v;
	return 0;
}

static int get_geom(const ms_rec *r, ms_nifti_geom *g)
{
	double v[13];
	memset(g, 0, sizeof *g);
	int n = get_nums(r, "nii.dim", v, 2, 8);
	if (n < 0)
		return -1;
	if (v[0] != n - 1)
		return ms_error("nii.dim: dim[0] = %g, but %d dims follow", v[0], n - 1);
	for (int i = 0; i < 8; i++) {
		if (i < n && (v[i] != floor(v[i]) || v[i] < 1 || v[i] > 32767))
			return ms_error("nii.dim: %g is not a whole number in [1, 32767]", v[i]);
		g->dim[i] = i < n ? (int)v[i] : 1;
		g->pixdim[i] = 1;
	}
	if (get_nums(r, "nii.pixdim", v, n, n) < 0)
		return -1;
	for (int i = 0; i < n; i++)
		g->pixdim[i] = (float)v[i];
	if (get_int(r, "nii.units", 0, 255, &g->xyzt_units) < 0 ||
	    get_int(r, "nii.datatype", 0, 32767, &g->datatype) < 0 ||
	    get_nums(r, "nii.scl", v, 2, 2) < 0)
		return -1;
	g->scl_slope = (float)v[0];
	g->scl_inter = (float)v[1];
	if (get_nums(r, "nii.qform", v, 7, 7) < 0 || code(v[0], "nii.qform", &g->qform_code) < 0)
		return -1;
	for (int i = 0; i < 6; i++)
		g->quatern[i] = (float)v[1 + i];
	if (get_nums(r, "nii.sform", v, 13, 13) < 0 || code(v[0], "nii.sform", &g->sform_code) < 0)
		return -1;
	for (int i = 0; i < 12; i++)
		g->srow[i / 4][i % 4] = (float)v[1 + i];
	char name[64];
	if (ms_meta_get(r, "nii.intent", name, sizeof name)) {
		if (get_nums(r, "nii.intent", v, 4, 4) < 0 ||
		    code(v[0], "nii.intent", &g->intent_code) < 0)
			return -1;
		for (int i = 0; i < 3; i++)
			g->intent_p[i] = (float)v[1 + i];
	}
	if (ms_meta_get(r, "nii.intent_name", name, sizeof name))
		memcpy(g->intent_name, name, strnlen(name, sizeof g->intent_name - 1));
	return ms_nifti_geom_check(g);
}

int ms_vslice_get(const ms_rec *r, ms_vslice *vs)
{
	char buf[16];
	memset(vs, 0, sizeof *vs);
	if (!ms_meta_get(r, "nii.id", buf, sizeof buf))
		return 0;
	if (!get_str(r, "nii.id", vs->id, sizeof vs->id) || get_geom(r, &vs->g) < 0)
		return -1;
	if (!get_str(r, "axis", buf, sizeof buf))
		return -1;
	if ((vs->axis = ms_name_index(buf, (const char *const[]){ "x", "y", "z" }, 3)) < 0)
		return ms_error("axis: '%s' is not x, y or z", buf);
	for (int i = 0; i < 4; i++)
		vs->grid[i] = vs->g.dim[0] > i ? vs->g.dim[i + 1] : 1;
	double o[6];
	if (ms_meta_get(r, "nii.orient", buf, sizeof buf)) {
		if (get_nums(r, "nii.orient", o, 6, 6) < 0)
			return -1;
		int seen = 0;
		for (int k = 0; k < 3; k++) {
			if (o[k] != 0 && o[k] != 1 && o[k] != 2)
				return ms_error("nii.orient: axis %g is not 0, 1 or 2", o[k]);
			if (o[3 + k] != 0 && o[3 + k] != 1)
				return ms_error("nii.orient: flip %g is not 0 or 1", o[3 + k]);
			seen |= 1 << (int)o[k];
			vs->perm[k] = (int)o[k];
			vs->flip[k] = (int)o[3 + k];
		}
		if (seen != 7)
			return ms_error("nii.orient: axes %g,%g,%g are not a permutation", o[0], o[1], o[2]);
		vs->oriented = 1;
		int64_t d[3] = { vs->grid[0], vs->grid[1], vs->grid[2] };
		for (int k = 0; k < 3; k++)
			vs->grid[k] = d[vs->perm[k]];
	}
	int slice, t = 0, nt = vs->g.dim[0] > 3 ? vs->g.dim[4] : 1;
	/* a 3-d volume's slice with volume=t: its 3-d mask serves the t of a 4-d image */
	if (get_int(r, "slice", 0, (double)vs->grid[vs->axis] - 1, &slice) < 0 ||
	    (ms_meta_get(r, "volume", buf, sizeof buf) &&
	     get_int(r, "volume", 0, nt > 1 ? nt - 1 : 32767, &t) < 0))
		return -1;
	vs->slice = slice;
	vs->t = t;
	double v[2];
	if (ms_meta_get(r, "nii.range", buf, sizeof buf)) {
		if (get_nums(r, "nii.range", v, 2, 2) < 0)
			return -1;
		vs->has_range = 1;
		vs->lo = (float)v[0];
		vs->hi = (float)v[1];
	}
	return 1;
}

int ms_vslice_find(const ms_sample *s, int k, ms_vslice *vs)
{
	int ret = ms_vslice_get(&s->rec[k], vs);
	for (int i = 0; i < s->n && !ret; i++)
		ret = ms_vslice_get(&s->rec[i], vs);
	return ret;
}

/* ---- gathering */
void ms_volume_init(ms_volume *v)
{
	memset(v, 0, sizeof *v);
}

void ms_volume_free(ms_volume *v)
{
	ms_tensor_free(&v->vol);
	free(v->seen);
	ms_volume_init(v);
}

static void volume_dims(const ms_vslice *vs, int64_t dim[4])
{
	memcpy(dim, vs->grid, sizeof vs->grid);
}

static int volume_start(ms_volume *v, const ms_rec *r, const ms_vslice *vs)
{
	int64_t d[4];
	volume_dims(vs, d);
	int64_t shape[4] = { d[3], d[2], d[1], d[0] };
	v->geo = *vs;
	v->image = !strcmp(r->name, "image") && r->t.dtype == MS_F32 && vs->has_range;
	v->seen = ms_calloc((size_t)(d[3] * d[vs->axis]), 1);
	if (!v->seen || ms_tensor_alloc(&v->vol, r->t.dtype, 4, shape) < 0) {
		ms_volume_free(v);
		return -1;
	}
	return 0;
}

/* the slice of r as [1,h,w] (resized when it is not), into *out */
static int slice_at(const ms_rec *r, int64_t h, int64_t w, ms_tensor *out)
{
	const ms_tensor *t = &r->t;
	int64_t H = t->shape[t->rank - 2], W = t->shape[t->rank - 1];
	if (!(t->rank == 2 || (t->rank == 3 && t->shape[0] == 1)))
		return ms_error("record '%s' is not one slice [1,H,W] or [H,W]", r->name);
	ms_tensor in = *t;
	in.rank = 3;
	in.shape[0] = 1;
	in.shape[1] = H;
	in.shape[2] = W;
	if (H == h && W == w) {
		*out = in;
		out->data = NULL;
		if (ms_tensor_alloc(out, in.dtype, 3, in.shape) < 0)
			return -1;
		memcpy(out->data, in.data, ms_tensor_bytes(&in));
		return 0;
	}
	return t->dtype == MS_F32 ? ms_resize_bilinear(&in, h, w, out)
	                          : ms_resize_nearest(&in, h, w, out);
}

int ms_volume_add(ms_volume *v, const ms_rec *r, const ms_vslice *vs)
{
	if (vs->t > 0 && (vs->g.dim[0] < 4 || vs->g.dim[4] == 1))
		return 0;   /* the slice of a 3-d volume again, for volume t of a 4-d one */
	if (!v->n && volume_start(v, r, vs) < 0)
		return -1;
	if (strcmp(vs->id, v->geo.id) || memcmp(vs->g.dim, v->geo.g.dim, sizeof vs->g.dim) ||
	    vs->axis != v->geo.axis || memcmp(vs->grid, v->geo.grid, sizeof vs->grid))
		return ms_error("slice of volume '%s' does not match the volume's first slice "
		                "(nii.id, nii.dim, nii.orient, axis)", vs->id);
	if (r->t.dtype != v->vol.dtype)
		return ms_error("record '%s' is %s, the volume's first slice %s", r->name,
		                ms_dtype_name(r->t.dtype), ms_dtype_name(v->vol.dtype));
	int64_t d[4];
	volume_dims(vs, d);
	unsigned char *seen = &v->seen[vs->t * d[vs->axis] + vs->slice];
	if (*seen)
		return ms_error("slice %lld of volume '%s' comes twice", (long long)vs->slice, vs->id);
	ms_nifti_layout l;
	ms_nifti_slice_layout(d, vs->axis, vs->slice, vs->t, &l);
	ms_tensor s = { 0 };
	if (slice_at(r, l.h, l.w, &s) < 0)
		return -1;
	if (v->image) {   /* back to the values ms-import mapped to [0,1] */
		float *f = s.data;
		double lo = vs->has_range ? vs->lo : 0, span = vs->has_range ? (double)vs->hi - lo : 1;
		for (int64_t i = 0; i < l.h * l.w; i++)
			f[i] = (float)(lo + f[i] * span);
	}
	size_t b = ms_dtype_size(s.dtype);
	char *dst = v->vol.data;
	const char *src = s.data;
	for (int64_t y = 0; y < l.h; y++)
		for (int64_t x = 0; x < l.w; x++)
			memcpy(dst + (l.first + y * l.sh + x * l.sw) * b, src + (y * l.w + x) * b, b);
	ms_tensor_free(&s);
	*seen = 1;
	v->n++;
	return 0;
}

int ms_volume_write(const ms_volume *v, const char *path, int gz)
{
	ms_nifti_geom g = v->geo.g;
	if (!v->image) {
		static const int codes[] = { [MS_U8] = MS_NIFTI_UINT8, [MS_U16] = MS_NIFTI_UINT16,
		                             [MS_I32] = MS_NIFTI_INT32, [MS_F32] = MS_NIFTI_FLOAT32 };
		g.datatype = codes[v->vol.dtype];
		g.scl_slope = g.scl_inter = 0;
		g.intent_code = 0;
		memset(g.intent_p, 0, sizeof g.intent_p);
		memset(g.intent_name, 0, sizeof g.intent_name);
	}
	if (!v->geo.oriented)
		return ms_nifti_write_geom(path, &v->vol, &g, gz);
	ms_tensor back = { 0 };   /* back to the file's axis order */
	int iperm[3], iflip[3];
	for (int k = 0; k < 3; k++) {
		iperm[v->geo.perm[k]] = k;
		iflip[v->geo.perm[k]] = v->geo.flip[k];
	}
	if (ms_tensor_alloc(&back, v->vol.dtype, v->vol.rank, v->vol.shape) < 0)
		return -1;
	ms_nifti_permute(v->vol.data, back.data, ms_dtype_size(back.dtype), v->geo.grid, iperm,
	                 iflip);
	int ret = ms_nifti_write_geom(path, &back, &g, gz);
	ms_tensor_free(&back);
	return ret;
}
