/* Checkpoints in the record stream: "model" (architecture metadata), one f32 record per
 * parameter named as in a PyTorch state dict, then optimiser state and EMA weights. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/outfile.h"
#include "core/tensor.h"
#include "core/util.h"
#include "io/stream.h"
#include "nn.h"

static const char *const prefixes[] = { "", "adam.m.", "adam.v.", "ema." };

static float *state(ms_param *p, int kind)
{
	return kind == 0 ? p->w : kind == 1 ? p->m : kind == 2 ? p->v : p->ema;
}

static int write_one(FILE *f, int kind, ms_param *p)
{
	ms_rec r;
	char name[MS_NAME_MAX + 1];
	ms_rec_init(&r);
	snprintf(name, sizeof name, "%s%s", prefixes[kind], p->name);
	if (ms_rec_set_name(&r, name) < 0)
		return -1;
	r.t.dtype = MS_F32;
	r.t.rank = p->rank;
	memcpy(r.t.shape, p->shape, sizeof r.t.shape);
	r.t.data = state(p, kind);
	return ms_rec_write(f, &r);   /* r owns nothing */
}

int ms_params_write(FILE *f, const ms_params *ps, int with_opt)
{
	for (int kind = 0; kind < 4; kind++) {
		if ((kind == 1 || kind == 2) && !with_opt)
			continue;
		for (int i = 0; i < ps->n; i++)
			if (state(ps->p[i], kind) && write_one(f, kind, ps->p[i]) < 0)
				return -1;
	}
	return 0;
}

static void shape_str(char *b, size_t n, int rank, const int64_t *s)
{
	b[0] = '\0';
	for (int i = 0; i < rank; i++)
		snprintf(b + strlen(b), n - strlen(b), "%s%lld", i ? "x" : "", (long long)s[i]);
	if (!rank)
		snprintf(b, n, "scalar");
}

/* appends "; what" to the list of problems, "..." once it is full */
static void note(char *msg, size_t n, const char *fmt, ...)
{
	size_t l = strlen(msg);
	va_list ap;
	if (l + 8 >= n)
		return;
	if (l)
		l += snprintf(msg + l, n - l, "; ");
	va_start(ap, fmt);
	vsnprintf(msg + l, n - l, fmt, ap);
	va_end(ap);
	if (strlen(msg) + 8 >= n)
		strcpy(msg + n - 8, "...");
}

int ms_params_read(FILE *f, const char *fname, ms_params *ps, int *have_opt)
{
	ms_rec r;
	char msg[900] = "";
	int ret, nopt = 0;
	unsigned char *seen = ms_calloc(ps->n ? ps->n : 1, 1);
	if (!seen)
		return -1;
	ms_rec_init(&r);
	while ((ret = ms_rec_read_header(f, &r)) == 1) {
		int kind = 0;
		for (int k = 3; k > 0 && !kind; k--)
			if (!strncmp(r.name, prefixes[k], strlen(prefixes[k])))
				kind = k;
		ms_param *p = ms_params_find(ps, r.name + strlen(prefixes[kind]));
		int same = p && r.t.dtype == MS_F32 && r.t.rank == p->rank;
		for (int i = 0; same && i < p->rank; i++)
			same = r.t.shape[i] == p->shape[i];
		if (!same) {
			char got[64], want[64];
			if (!p) {
				note(msg, sizeof msg, "unexpected %s", r.name);
			} else if (r.t.dtype != MS_F32) {
				note(msg, sizeof msg, "%s is %s, expected f32", r.name,
				     ms_dtype_name(r.t.dtype));
			} else {
				shape_str(got, sizeof got, r.t.rank, r.t.shape);
				shape_str(want, sizeof want, p->rank, p->shape);
				note(msg, sizeof msg, "%s has shape %s, expected %s", r.name, got, want);
			}
			if ((ret = ms_rec_skip(f, &r)) < 0)
				break;
			continue;
		}
		if ((ret = ms_rec_read_data(f, &r)) < 0)
			break;
		if (kind == 3 && !p->ema && !(p->ema = p->ema_mem = ms_malloc(p->n * sizeof(float)))) {
			ret = -1;
			break;
		}
		memcpy(state(p, kind), r.t.data, p->n * sizeof(float));
		for (int i = 0; kind == 0 && i < ps->n; i++)
			if (ps->p[i] == p)
				seen[i] = 1;
		nopt += kind == 1 || kind == 2;
	}
	ms_rec_free(&r);
	if (ret < 0) {
		free(seen);
		return ms_error("%s: %s", fname, ms_errmsg());
	}
	for (int i = 0; i < ps->n; i++)
		if (!seen[i])
			note(msg, sizeof msg, "missing %s", ps->p[i]->name);
	free(seen);
	if (*msg)
		return ms_error("%s: checkpoint does not fit the model: %s", fname, msg);
	if (have_opt)
		*have_opt = nopt == 2 * ps->n;
	return 0;
}

int ms_unet_save(ms_unet *u, const char *path, const ms_adam *opt, long step,
                 const char *extra)
{
	ms_rec r;
	ms_outfile o;
	char v[32];
	int64_t one = 1;
	ms_rec_init(&r);
	if (ms_tensor_alloc(&r.t, MS_I32, 0, &one) < 0)
		return -1;
	*(int32_t *)r.t.data = 1;                   /* checkpoint layout version */
	snprintf(v, sizeof v, "%ld", step);
	int ret = ms_rec_set_name(&r, "model") < 0 || ms_unet_cfg_to_rec(ms_unet_cfg_of(u), &r) < 0 ||
	          ms_meta_set(&r, "step", v) < 0 ? -1 : 0;
	if (!ret && opt) {
		snprintf(v, sizeof v, "%ld", opt->t);
		ret = ms_meta_set(&r, "adam_t", v);
	}
	for (const char *p = extra; !ret && p && *p;) {
		const char *eq = strchr(p, '='), *nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p);
		if (!eq || eq > nl) {
			ret = ms_error("bad extra metadata line");
			break;
		}
		char key[128], val[1024];
		snprintf(key, sizeof key, "%.*s", (int)(eq - p), p);
		snprintf(val, sizeof val, "%.*s", (int)(nl - eq - 1), eq + 1);
		ret = ms_meta_set(&r, key, val);
		p = *nl ? nl + 1 : nl;
	}
	if (ret < 0 || ms_outfile_open(&o, path) < 0) {
		ms_rec_free(&r);
		return -1;
	}
	if (ms_rec_write(o.f, &r) < 0 || ms_params_write(o.f, ms_unet_params(u), opt != NULL) < 0) {
		ms_error("%s: %s", path, ms_errmsg());   /* a full disk names the file */
		ms_outfile_abort(&o);
		ret = -1;
	} else if (ms_outfile_commit(&o) < 0) {
		ret = -1;
	}
	ms_rec_free(&r);
	return ret;
}

ms_unet *ms_unet_load(const char *path, ms_adam *opt, ms_rec *model)
{
	ms_rec r;
	ms_unet_cfg cfg;
	ms_unet *u = NULL;
	int have_opt = 0, ret;
	FILE *f = fopen(path, "rb");
	if (!f) {
		ms_error("cannot open %s:", path);
		return NULL;
	}
	ms_rec_init(&r);
	if ((ret = ms_rec_read(f, &r)) <= 0) {
		if (ret == 0)
			ms_error("%s: empty file, not a checkpoint", path);
		else
			ms_error("%s: %s", path, ms_errmsg());
		goto out;
	}
	if (strcmp(r.name, "model")) {
		ms_error("%s: first record is '%s', not 'model': not a checkpoint", path, r.name);
		goto out;
	}
	if (ms_unet_cfg_from_rec(&cfg, &r) < 0) {
		ms_error("%s: %s", path, ms_errmsg());
		goto out;
	}
	if (!(u = ms_unet_new(&cfg, 0)))
		goto out;
	if (ms_params_read(f, path, ms_unet_params(u), &have_opt) < 0) {
		ms_unet_free(u);
		u = NULL;
		goto out;
	}
	if (opt && have_opt) {
		char v[32];
		long t;
		if (ms_meta_get(&r, "adam_t", v, sizeof v) && ms_parse_int(v, 0, 1L << 40, &t) == 0)
			opt->t = t;
	}
	if (model) {
		ms_rec_free(model);
		*model = r;
		ms_rec_init(&r);
	}
out:
	ms_rec_free(&r);
	fclose(f);
	return u;
}
