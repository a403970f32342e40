/* Checkpoints in the record stream: "model" (architecture metadata), one f32 record per
 * parameter named as in a PyTorch state dict, then optimiser state and EMA weights. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/opt.h"
#include "core/outfile.h"
#include "core/tensor.h"
#include "core/util.h"
#include "gemm.h"
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
		if (kind == 3 && !p->ema && !(p->ema = p->ema_mem = ms_floats(p->n))) {
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

/* the metadata lines of text ("key=value\n"...) appended to r */
static int append_lines(ms_rec *r, const char *text)
{
	for (const char *p = text; p && *p;) {
		const char *eq = strchr(p, '='), *nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p);
		if (!eq || eq > nl)
			return ms_error("bad extra metadata line");
		char key[128], val[1024];
		snprintf(key, sizeof key, "%.*s", (int)(eq - p), p);
		snprintf(val, sizeof val, "%.*s", (int)(nl - eq - 1), eq + 1);
		if (ms_meta_set(r, key, val) < 0)
			return -1;
		p = *nl ? nl + 1 : nl;
	}
	return 0;
}

int ms_ckpt_save(const char *path, ms_rec *head, const char *tail, const ms_params *ps,
                 const ms_adam *opt, long step)
{
	ms_outfile o;
	char v[32];
	int64_t one = 1;
	ms_tensor_free(&head->t);
	if (ms_tensor_alloc(&head->t, MS_I32, 0, &one) < 0)
		return -1;
	*(int32_t *)head->t.data = 1;               /* checkpoint layout version */
	snprintf(v, sizeof v, "%ld", step);
	int ret = ms_rec_set_name(head, "model") < 0 || ms_meta_set(head, "step", v) < 0 ? -1 : 0;
	if (!ret && opt) {
		snprintf(v, sizeof v, "%ld", opt->t);
		ret = ms_meta_set(head, "adam_t", v);
	}
	if (!ret)
		ret = ms_meta_set(head, "precision", ms_gemm_precision());
	if (ret < 0 || append_lines(head, tail) < 0 || ms_outfile_open(&o, path) < 0)
		return -1;
	if (ms_rec_write(o.f, head) < 0 || ms_params_write(o.f, ps, opt != NULL) < 0) {
		ms_error("%s: %s", path, ms_errmsg());   /* a full disk names the file */
		ms_outfile_abort(&o);
		return -1;
	}
	return ms_outfile_commit(&o);
}

FILE *ms_ckpt_open(const char *path, ms_rec *model)
{
	int ret;
	FILE *f = fopen(path, "rb");
	if (!f) {
		ms_error("cannot open %s:", path);
		return NULL;
	}
	ms_rec_init(model);
	if ((ret = ms_rec_read(f, model)) <= 0) {
		if (ret == 0)
			ms_error("%s: empty file, not a checkpoint", path);
		else
			ms_error("%s: %s", path, ms_errmsg());
	} else if (strcmp(model->name, "model")) {
		ms_error("%s: first record is '%s', not 'model': not a checkpoint", path,
		         model->name);
	} else {
		return f;
	}
	ms_rec_free(model);
	fclose(f);
	return NULL;
}

int ms_ckpt_params(FILE *f, const char *path, const ms_rec *model, ms_params *ps,
                   ms_adam *opt)
{
	int have_opt = 0;
	if (ms_params_read(f, path, ps, &have_opt) < 0)
		return -1;
	if (opt && have_opt) {
		char v[32];
		long t;
		if (ms_meta_get(model, "adam_t", v, sizeof v) && ms_parse_int(v, 0, 1L << 40, &t) == 0)
			opt->t = t;
	}
	return 0;
}

int ms_unet_save(ms_unet *u, const char *path, const ms_adam *opt, long step,
                 const char *extra)
{
	ms_rec r;
	ms_rec_init(&r);
	int ret = ms_unet_cfg_to_rec(ms_unet_cfg_of(u), &r) < 0 ? -1
	          : ms_ckpt_save(path, &r, extra, ms_unet_params(u), opt, step);
	ms_rec_free(&r);
	return ret;
}

void *ms_ckpt_load(const char *path, ms_adam *opt, ms_rec *model, const ms_ckpt_kind *k)
{
	ms_rec r;
	void *m;
	FILE *f = ms_ckpt_open(path, &r);
	if (!f)
		return NULL;
	if (!(m = k->build(&r)))
		ms_error("%s: %s", path, ms_errmsg());
	else if (ms_ckpt_params(f, path, &r, k->params(m), opt) < 0) {
		k->destroy(m);
		m = NULL;
	}
	if (m && model) {
		ms_rec_free(model);
		*model = r;
		ms_rec_init(&r);
	}
	ms_rec_free(&r);
	fclose(f);
	return m;
}

static void *unet_build(const ms_rec *r)
{
	ms_unet_cfg cfg;
	return ms_unet_cfg_from_rec(&cfg, r) < 0 ? NULL : ms_unet_new(&cfg, 0);
}

static ms_params *unet_params(void *u)
{
	return ms_unet_params(u);
}

static void unet_destroy(void *u)
{
	ms_unet_free(u);
}

ms_unet *ms_unet_load(const char *path, ms_adam *opt, ms_rec *model)
{
	static const ms_ckpt_kind k = { unet_build, unet_params, unet_destroy };
	return ms_ckpt_load(path, opt, model, &k);
}

int ms_ckpt_opts(ms_opt *opts, const ms_rec *m, const char *const (*keys)[2], int n)
{
	char v[MS_META_MAX + 1];
	for (int i = 0; i < n; i++)
		if (!ms_opt_given(opts, keys[i][0]) && ms_meta_get(m, keys[i][1], v, sizeof v) &&
		    ms_opt_set(opts, keys[i][0], v) < 0)
			return ms_error("checkpoint has an invalid %s=%s: %s", keys[i][1], v,
			                ms_errmsg());
	return 0;
}
