/* ms-sample's samples (generator.h): a stream sample as the generator's training item,
 * the synthetic samples of a real one, and the settings a checkpoint keeps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/util.h"
#include "diffusion/generator.h"
#include "image/resize.h"

const char *const ms_gen_ckpt_keys[MS_GEN_CKPT_KEYS][2] = { { "seed", "seed" },
	{ "batch", "batch" }, { "lr", "lr" }, { "p-uncond", "p_uncond" }, { "ema", "ema" } };

int ms_gen_ckpt_meta(ms_rec *r, long seed, long batch, double lr, double p_uncond,
                     double ema)
{
	char v[64];
	snprintf(v, sizeof v, "%ld", seed);
	int bad = ms_meta_set(r, "seed", v) < 0;
	snprintf(v, sizeof v, "%ld", batch);
	bad |= ms_meta_set(r, "batch", v) < 0;
	snprintf(v, sizeof v, "%.9g", lr);
	bad |= ms_meta_set(r, "lr", v) < 0;
	snprintf(v, sizeof v, "%.9g", p_uncond);
	bad |= ms_meta_set(r, "p_uncond", v) < 0;
	snprintf(v, sizeof v, "%.9g", ema);
	bad |= ms_meta_set(r, "ema", v) < 0;
	return bad ? -1 : 0;
}

/* record NAME of s, decoded, non-finite values refused; NULL with ms_errmsg() "" if none */
static ms_rec *get(ms_sample *s, const char *name, int *err)
{
	ms_rec *r = ms_sample_get(s, name);
	if (!r && *ms_errmsg())
		*err = 1;
	return r;
}

static int cond_index(const ms_gen_cfg *c, const char *name)
{
	for (int k = 0; k < c->ncond; k++)
		if (!strcmp(c->cond[k], name))
			return k;
	return -1;
}

static int resize(ms_tensor *t, const int size[2], const char *id, const char *what)
{
	ms_tensor out;
	int ret = t->dtype == MS_F32 ? ms_resize_bilinear(t, size[1], size[0], &out)
	                             : ms_resize_nearest(t, size[1], size[0], &out);
	if (ret < 0)
		return ms_error("sample '%s': %s: %s", id, what, ms_errmsg());
	ms_tensor_free(t);
	*t = out;
	return 0;
}

int ms_gen_add_sample(ms_sample *s, void *ctx)
{
	ms_gen_reader *rd = ctx;
	const ms_gen_cfg *cfg = rd->cfg;
	const char *id = s->id;
	int err = 0;
	ms_rec *img = get(s, "image", &err), *cond[MS_GEN_MAXCOND];
	for (int k = 0; k < cfg->ncond && !err; k++)
		cond[k] = strcmp(cfg->cond[k], "image") ? get(s, cfg->cond[k], &err) : NULL;
	if (err)
		return -1;
	if (!img) {
		rd->skipped++;
		return 0;
	}
	ms_tensor *t = &img->t;
	int c = t->rank == 3 ? (int)t->shape[0] : 1;
	if (!(t->rank == 2 || (t->rank == 3 && (c == 1 || c == 3))) ||
	    ms_tensor_to_f32(t, 1) < 0)
		return ms_error("sample '%s': image is not [1,H,W] or [3,H,W]", id);
	if (rd->size[0]) {
		if (resize(t, rd->size, id, "image") < 0)
			return -1;
		for (int k = 0; k < cfg->ncond; k++)
			if (cond[k] && resize(&cond[k]->t, rd->size, id, cfg->cond[k]) < 0)
				return -1;
	}
	int h = (int)t->shape[t->rank - 2], w = (int)t->shape[t->rank - 1];
	if (!rd->data) {
		int m = 1 << (cfg->unet.nmult - 1);
		if (h % m || w % m)
			return ms_error("sample '%s' is %dx%d: width and height must be multiples "
			                "of %d (use --size or ms-import --size)", id, w, h, m);
		rd->H = h;
		rd->W = w;
		if (!(rd->data = ms_gen_data_new(ms_gen_cond_channels(cfg), h, w)))
			return -1;
	} else if (h != rd->H || w != rd->W) {
		return ms_error("sample '%s' is %dx%d, the first was %dx%d: images must have one "
		                "size (use --size or ms-import --size)", id, w, h, rd->W, rd->H);
	}
	const ms_tensor *cr[MS_GEN_MAXCOND];
	char p[MS_META_MAX + 1] = "";
	float *cb = ms_reallocarray(NULL, (size_t)ms_gen_cond_channels(cfg) * h * w + 1,
	                            sizeof *cb);
	if (!cb)
		return -1;
	for (int k = 0; k < cfg->ncond; k++)
		cr[k] = cond[k] ? &cond[k]->t : NULL;
	int ret = 0;
	if (ms_gen_cond_fill(cfg, cr, h, w, cb) < 0)
		ret = ms_error("sample '%s': %s%s", id, ms_errmsg(),
		               cfg->optional ? "" : " (see --cond-optional)");
	else {
		ms_meta_get(img, "prompt", p, sizeof p);
		ret = ms_gen_data_add(rd->data, t->data, c, cb, rd->prompt ? rd->prompt : p);
	}
	free(cb);
	return ret;
}

/* write r to out with metadata id=<sid>, of=<of>, then its other keys */
static int write_copy(FILE *out, ms_rec *r, const char *sid, const char *of)
{
	ms_rec m;
	char key[MS_NAME_MAX + 1];
	ms_rec_init(&m);
	int bad = ms_meta_set(&m, "id", sid) < 0 || ms_meta_set(&m, "of", of) < 0;
	for (const char *p = r->meta; !bad && p && *p;) {
		size_t kl = strcspn(p, "="), l = strcspn(p, "\n");
		snprintf(key, sizeof key, "%.*s", (int)(kl < l ? kl : l), p);
		char *val = ms_strdup(p + (kl < l ? kl + 1 : l));
		if (!val) {
			bad = 1;
			break;
		}
		val[l > kl ? l - kl - 1 : 0] = '\0';
		if (strcmp(key, "id") && strcmp(key, "of"))
			bad = ms_meta_set(&m, key, val) < 0;
		free(val);
		p += l + (p[l] == '\n');
	}
	bad = bad || ms_meta_copy(r, &m) < 0 || ms_rec_write(out, r) < 0;
	ms_rec_free(&m);
	return bad ? -1 : 0;
}

int ms_gen_synth(ms_gen *g, const ms_gen_synth_opt *so, ms_sample *s, FILE *out)
{
	const ms_gen_cfg *c = ms_gen_cfg_of(g);
	const ms_tensor *cr[MS_GEN_MAXCOND];
	ms_rec *cond[MS_GEN_MAXCOND], *img = NULL, *mask = NULL;
	const char *id = s->id;
	int h = 0, w = 0, ok = 1, err = 0, n = so->n;
	for (int k = 0; k < c->ncond && !err; k++) {
		cond[k] = get(s, c->cond[k], &err);
		cr[k] = cond[k] ? &cond[k]->t : NULL;
		ok &= cr[k] != NULL;
		if (cr[k] && !h && cr[k]->rank >= 2) {
			h = (int)cr[k]->shape[cr[k]->rank - 2];
			w = (int)cr[k]->shape[cr[k]->rank - 1];
		}
	}
	if (!err && cond_index(c, "mask") < 0)
		mask = get(s, "mask", &err);
	if (err)
		return -1;
	for (int i = 0; i < s->n && !img && cond_index(c, "image") < 0; i++)
		if (!strcmp(s->rec[i].name, "image"))
			img = &s->rec[i];
	if (ms_sample_write(out, s) < 0)
		return -1;
	if (ok && !h)
		return ms_error("sample '%s': '%s' record is not [1,H,W]", id, c->cond[0]);
	if (!ok)
		return 0;
	char prompt[MS_META_MAX + 1] = "", sid[MS_META_MAX + 16], v[32];
	size_t hw = (size_t)h * w, chw = c->img_ch * hw;
	float *cb = ms_reallocarray(NULL, ms_gen_cond_channels(c) * hw, sizeof *cb);
	float *x = ms_reallocarray(NULL, n * chw, sizeof *x);
	ms_rng *rng = ms_reallocarray(NULL, n, sizeof *rng);
	int ret = -1;
	if (!cb || !x || !rng)
		goto done;
	if (ms_gen_cond_fill(c, cr, h, w, cb) < 0) {
		ms_error("sample '%s': %s", id, ms_errmsg());
		goto done;
	}
	if (so->prompt)
		snprintf(prompt, sizeof prompt, "%s", so->prompt);
	else if (!img || !ms_meta_get(img, "prompt", prompt, sizeof prompt))
		ms_meta_get(cond[0], "prompt", prompt, sizeof prompt);
	for (int k = 0; k < n; k++) {
		snprintf(sid, sizeof sid, "%s.s%d", id, k);
		ms_rng_init(&rng[k], (uint64_t)so->seed, ms_hash64(sid));
	}
	if (ms_gen_sample(g, &so->sample, h, w, cb, prompt, n, rng, x) < 0) {
		ms_error("sample '%s': %s", id, ms_errmsg());
		goto done;
	}
	snprintf(v, sizeof v, "%ld", so->seed);
	for (int k = 0; k < n; k++) {
		ms_rec r;
		ms_rec_init(&r);
		snprintf(sid, sizeof sid, "%s.s%d", id, k);
		r.t = (ms_tensor){ MS_F32, 3, { c->img_ch, h, w }, x + k * chw };
		int bad = ms_rec_set_name(&r, "image") < 0 || (img && ms_meta_copy(&r, img) < 0) ||
		          ms_meta_set(&r, "source", NULL) < 0 ||
		          ms_meta_set(&r, "synthetic", "1") < 0 ||
		          ms_meta_set(&r, "prompt", prompt) < 0 || ms_meta_set(&r, "seed", v) < 0 ||
		          write_copy(out, &r, sid, id) < 0;
		r.t.data = NULL;
		ms_rec_free(&r);
		if (bad || (mask && write_copy(out, mask, sid, id) < 0))
			goto done;
		for (int j = 0; j < c->ncond; j++)
			if (write_copy(out, cond[j], sid, id) < 0)
				goto done;
	}
	ret = 0;
done:
	free(cb);
	free(x);
	free(rng);
	return ret;
}
