/* ms-sample's samples (generator.h): a stream sample as the generator's training item,
 * the synthetic samples of a real one, and the settings a checkpoint keeps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/util.h"
#include "diffusion/generator.h"
#include "image/augment.h"
#include "image/morph.h"
#include "image/resize.h"

const char *const ms_gen_ckpt_keys[MS_GEN_CKPT_KEYS][2] = { { "seed", "seed" },
	{ "batch", "batch" }, { "lr", "lr" }, { "p-uncond", "p_uncond" }, { "ema", "ema" },
	MS_CKPT_PRECISION };

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

/* a [1,H,W] or [H,W] mask as 0/1 floats (u8: nonzero; f32: > 0.5) */
static int plane(const ms_tensor *t, int H, int W, float *out)
{
	const ms_gen_cfg one = { .ncond = 1, .cond = { "mask" } };
	const ms_tensor *r[1] = { t };
	if (ms_gen_cond_fill(&one, r, H, W, out) < 0)
		return -1;
	for (size_t i = 0; t->dtype == MS_F32 && i < (size_t)H * W; i++)
		out[i] = out[i] > 0.5f;
	return 0;
}

int ms_gen_add_sample(ms_sample *s, void *ctx)
{
	ms_gen_reader *rd = ctx;
	const ms_gen_cfg *cfg = rd->cfg;
	const char *id = s->id;
	int err = 0;
	ms_rec *img = get(s, "image", &err), *cond[MS_GEN_MAXCOND], *mask = NULL;
	for (int k = 0; k < cfg->ncond && !err; k++)
		cond[k] = strcmp(cfg->cond[k], "image") ? get(s, cfg->cond[k], &err) : NULL;
	if (cfg->joint && !err)
		mask = get(s, "mask", &err);
	if (err)
		return -1;
	if (!img || (cfg->joint && !mask)) {
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
		if (mask && resize(&mask->t, rd->size, id, "mask") < 0)
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
		if (!(rd->data = ms_gen_data_new(ms_gen_cond_channels(cfg), cfg->joint, h, w)))
			return -1;
	} else if (h != rd->H || w != rd->W) {
		return ms_error("sample '%s' is %dx%d, the first was %dx%d: images must have one "
		                "size (use --size or ms-import --size)", id, w, h, rd->W, rd->H);
	}
	const ms_tensor *cr[MS_GEN_MAXCOND];
	char p[MS_META_MAX + 1] = "";
	size_t hw = (size_t)h * w;
	float *cb = ms_reallocarray(NULL, (size_t)ms_gen_cond_channels(cfg) * hw + hw + 1,
	                            sizeof *cb), *mb = cb + ms_gen_cond_channels(cfg) * hw;
	if (!cb)
		return -1;
	for (int k = 0; k < cfg->ncond; k++)
		cr[k] = cond[k] ? &cond[k]->t : NULL;
	int ret = 0;
	if (ms_gen_cond_fill(cfg, cr, h, w, cb) < 0)
		ret = ms_error("sample '%s': %s%s", id, ms_errmsg(),
		               cfg->optional ? "" : " (see --cond-optional)");
	else if (mask && plane(&mask->t, h, w, mb) < 0)
		ret = ms_error("sample '%s': %s", id, ms_errmsg());
	else {
		ms_meta_get(img, "prompt", p, sizeof p);
		ret = ms_gen_data_add(rd->data, t->data, c, mask ? mb : NULL, cb,
		                      rd->prompt ? rd->prompt : p);
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

/* keep [G,h,w] of the region redrawn, reg = mask dilated by the --dilate ellipse (less
 * core where given): 0 inside it, 1 elsewhere, and 1 everywhere in the mask channel
 * when mask_known (--reshape) */
static int keep_fill(const ms_gen_cfg *c, const ms_gen_synth_opt *so, int h, int w,
                     const uint8_t *mask, const uint8_t *core, int mask_known, uint8_t *reg,
                     uint8_t *keep)
{
	size_t hw = (size_t)h * w;
	if (ms_dilate(mask, h, w, so->dilate ? so->dilate : ms_morph_scaled(20, h, w), reg) < 0)
		return -1;
	for (int k = 0; k < ms_gen_channels(c); k++)
		for (size_t i = 0; i < hw; i++)
			keep[k * hw + i] = !reg[i] || (core && core[i]) || (mask_known && k == c->img_ch);
	return 0;
}

/* RePaint's inputs from the real sample: known [G,h,w] in [0,1], image channels then
 * the mask; keep [G,h,w] = outside the mask dilated by the ellipse, and with a core,
 * inside the mask eroded by it; after it, the real mask's bytes [h,w] and room for two
 * more planes */
static int known_region(const ms_gen_cfg *c, const ms_gen_synth_opt *so, ms_sample *s,
                        int *h, int *w, float **known, uint8_t **keep)
{
	int err = 0;
	ms_rec *img = get(s, "image", &err), *mask = err ? NULL : get(s, "mask", &err);
	if (err)
		return -1;
	if (!img || !mask)
		return ms_error("sample '%s': no '%s' record to inpaint", s->id,
		                img ? "mask" : "image");
	ms_tensor *t = &img->t;
	int ch = t->rank == 3 ? (int)t->shape[0] : 1, m = 1 << (c->unet.nmult - 1);
	if (!(t->rank == 2 || (t->rank == 3 && (ch == 1 || ch == 3))) || ch > c->img_ch)
		return ms_error("sample '%s': image is not [%d,H,W]%s", s->id, c->img_ch,
		                c->img_ch == 3 ? " or [1,H,W]" : "");
	*h = (int)t->shape[t->rank - 2];
	*w = (int)t->shape[t->rank - 1];
	if (*h % m || *w % m)
		return ms_error("sample '%s' is %dx%d: width and height must be multiples of %d "
		                "(ms-import --size)", s->id, *w, *h, m);
	size_t hw = (size_t)*h * *w;
	int G = ms_gen_channels(c);
	*known = ms_reallocarray(NULL, (size_t)G * hw, sizeof **known);
	*keep = ms_malloc((G + 3) * hw);
	if (!*known || !*keep)
		return -1;
	float *mk = *known + c->img_ch * hw;
	if (plane(&mask->t, *h, *w, mk) < 0)
		return ms_error("sample '%s': %s", s->id, ms_errmsg());
	ms_tensor f = *t;             /* the record goes out as it came in */
	if (!(f.data = ms_malloc(ms_tensor_bytes(t))))
		return -1;
	memcpy(f.data, t->data, ms_tensor_bytes(t));
	if (ms_tensor_to_f32(&f, 1) < 0) {
		ms_tensor_free(&f);
		return ms_error("sample '%s': image: %s", s->id, ms_errmsg());
	}
	for (int k = 0; k < c->img_ch; k++)
		memcpy(*known + k * hw, (float *)f.data + (ch == c->img_ch ? k * hw : 0),
		       hw * sizeof **known);
	ms_tensor_free(&f);
	uint8_t *m8 = *keep + G * hw, *reg = m8 + hw, *core = reg + hw;
	for (size_t i = 0; i < hw; i++)
		m8[i] = mk[i] > 0.5f;
	if (so->core && ms_erode(m8, *h, *w, so->core, core) < 0)
		return -1;
	return keep_fill(c, so, *h, *w, m8, so->core ? core : NULL, 0, reg, *keep);
}

/* --reshape: pair sid's mask out [h,w], the real one mk (0 or 1) under a random affine
 * map about its centroid: scaled by 0.7 to 1.4, turned by up to 30 degrees, mirrored
 * left-right half the time and shifted by up to a tenth of the size each way (drawn from
 * seed and "<sid>.reshape"); the real mask itself when the map leaves nothing of it */
static void reshape_mask(const float *mk, int h, int w, long seed, const char *sid,
                         float *out)
{
	size_t hw = (size_t)h * w;
	double sx = 0, sy = 0, n = 0;
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			if (mk[(size_t)y * w + x] > 0.5f)
				sx += x, sy += y, n++;
	memcpy(out, mk, hw * sizeof *out);
	if (!n)
		return;
	ms_aug_opt ao = { .p_scale = 1, .scale_lo = 0.7, .scale_hi = 1.4, .p_rot = 1,
	                  .rot_deg = 30, .p_shift = 1, .shift = 0.1 };
	char key[MS_META_MAX + 32];
	snprintf(key, sizeof key, "%s.reshape", sid);
	ms_rng r;
	ms_rng_init(&r, (uint64_t)seed, ms_hash64(key));
	ms_aug_draw d;
	ms_aug_sample(&ao, (int)(ms_rng_u32(&r) & 1), 0, h, w, &r, &d);
	/* about the centroid (cx, cy) instead of the image's centre */
	double cx = sx / n, cy = sy / n, ox = (w - 1) / 2.0 - cx, oy = (h - 1) / 2.0 - cy;
	double tx = d.a[2] - (w - 1) / 2.0, ty = d.a[5] - (h - 1) / 2.0;
	d.a[2] = d.a[0] * ox + d.a[1] * oy + cx + tx;
	d.a[5] = d.a[3] * ox + d.a[4] * oy + cy + ty;
	d.affine = 1;
	ms_aug_warp(&d, 1, h, w, mk, out, 1);
	size_t i = 0;
	while (i < hw && !(out[i] > 0.5f))
		i++;
	if (i == hw)
		memcpy(out, mk, hw * sizeof *out);
}

/* --reshape: pair sid's known kk [G,h,w] and keep kp [G,h,w] from the real sample's
 * (known_region): its mask channel the new mask, known everywhere; the image redrawn
 * in both masks dilated by the ellipse */
static int reshape_region(const ms_gen_cfg *c, const ms_gen_synth_opt *so, int h, int w,
                          const float *known, uint8_t *keep, const char *sid, float *kk,
                          uint8_t *kp)
{
	int G = ms_gen_channels(c);
	size_t hw = (size_t)h * w;
	uint8_t *m8 = keep + G * hw, *u = m8 + hw, *reg = u + hw;
	memcpy(kk, known, G * hw * sizeof *kk);
	float *mk = kk + c->img_ch * hw;
	reshape_mask(known + c->img_ch * hw, h, w, so->seed, sid, mk);
	for (size_t i = 0; i < hw; i++)
		u[i] = m8[i] || mk[i] > 0.5f;
	return keep_fill(c, so, h, w, u, NULL, 1, reg, kp);
}

/* the new mask record of pair k: the mask channel x [h,w] in [0,1] above 1/2, opened;
 * the real mask's metadata (less source=) when it has one */
static int write_mask(FILE *out, const float *x, int h, int w, int open, ms_rec *real,
                      const char *sid, const char *of, const char *seed)
{
	size_t hw = (size_t)h * w;
	uint8_t *m = ms_malloc(2 * hw);
	ms_rec r;
	ms_rec_init(&r);
	if (!m)
		return -1;
	for (size_t i = 0; i < hw; i++)
		m[hw + i] = x[i] > 0.5f;
	int bad = ms_open(m + hw, h, w, open, m) < 0;
	r.t = (ms_tensor){ MS_U8, 3, { 1, h, w }, m };
	bad = bad || ms_rec_set_name(&r, "mask") < 0 || (real && ms_meta_copy(&r, real) < 0) ||
	      ms_meta_set(&r, "source", NULL) < 0 || ms_meta_set(&r, "synthetic", "1") < 0 ||
	      ms_meta_set(&r, "seed", seed) < 0 || write_copy(out, &r, sid, of) < 0;
	r.t.data = NULL;
	ms_rec_free(&r);
	free(m);
	return bad ? -1 : 0;
}

int ms_gen_synth(ms_gen *g, const ms_gen_synth_opt *so, ms_sample *s, FILE *out)
{
	const ms_gen_cfg *c = ms_gen_cfg_of(g);
	const ms_tensor *cr[MS_GEN_MAXCOND];
	ms_rec *cond[MS_GEN_MAXCOND], *img = NULL, *mask = NULL;
	const char *id = s->id;
	int h = 0, w = 0, ok = 1, err = 0, n = so->n, ret = -1;
	float *known = NULL, *cb = NULL, *x = NULL, *kk = NULL;
	uint8_t *keep = NULL, *kp = NULL;
	ms_rng *rng = NULL;
	if (so->inpaint && !c->joint)
		return ms_error("--inpaint needs a joint model (ms-sample train --joint)");
	if (so->reshape && (!so->inpaint || so->core))
		return ms_error("reshape: needs inpaint and no core");
	if (so->inpaint && known_region(c, so, s, &h, &w, &known, &keep) < 0)
		goto done;
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
		goto done;
	for (int i = 0; i < s->n && !img && cond_index(c, "image") < 0; i++)
		if (!strcmp(s->rec[i].name, "image"))
			img = &s->rec[i];
	if (ms_sample_write(out, s) < 0)
		goto done;
	if (ok && !h && c->ncond) {
		ms_error("sample '%s': '%s' record is not [1,H,W]", id, c->cond[0]);
		goto done;
	}
	if (!ok) {                    /* passed through without synthetic samples */
		ret = 0;
		goto done;
	}
	if (!h) {                     /* a joint model without conditions: its own size */
		h = c->H;
		w = c->W;
	}
	char prompt[MS_META_MAX + 1] = "", sid[MS_META_MAX + 16], v[32];
	int G = ms_gen_channels(c);
	size_t hw = (size_t)h * w, chw = G * hw;
	cb = ms_reallocarray(NULL, ms_gen_cond_channels(c) * hw + 1, sizeof *cb);
	x = ms_reallocarray(NULL, n * chw, sizeof *x);
	rng = ms_reallocarray(NULL, n, sizeof *rng);
	if (so->reshape && (!(kk = ms_reallocarray(NULL, chw, sizeof *kk)) ||
	                    !(kp = ms_malloc(chw))))
		goto done;
	if (!cb || !x || !rng)
		goto done;
	if (ms_gen_cond_fill(c, cr, h, w, cb) < 0) {
		ms_error("sample '%s': %s", id, ms_errmsg());
		goto done;
	}
	if (so->prompt)
		snprintf(prompt, sizeof prompt, "%s", so->prompt);
	else if (!img || !ms_meta_get(img, "prompt", prompt, sizeof prompt))
		if (c->ncond)
			ms_meta_get(cond[0], "prompt", prompt, sizeof prompt);
	for (int k = 0; k < n; k++) {
		snprintf(sid, sizeof sid, "%s.s%d", id, k);
		ms_rng_init(&rng[k], (uint64_t)so->seed, ms_hash64(sid));
	}
	ms_gen_sample_opt o = so->sample;
	o.known = so->reshape ? kk : known;
	o.keep = so->reshape ? kp : keep;
	/* one pair at a time with --reshape, since each has its own mask */
	for (int k = 0, m = so->reshape ? 1 : n; k < n; k += m) {
		if (so->reshape) {
			snprintf(sid, sizeof sid, "%s.s%d", id, k);
			if (reshape_region(c, so, h, w, known, keep, sid, kk, kp) < 0)
				goto done;
		}
		if (ms_gen_sample(g, &o, h, w, cb, prompt, m, rng + k, x + k * chw) < 0) {
			ms_error("sample '%s': %s", id, ms_errmsg());
			goto done;
		}
	}
	snprintf(v, sizeof v, "%ld", so->seed);
	/* a given mask (--reshape) is the pair's as it is */
	int open = so->reshape ? 1 : so->open ? so->open : ms_morph_scaled(16, h, w);
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
		if (bad || (c->joint ? write_mask(out, x + k * chw + c->img_ch * hw, h, w, open,
		                                  mask, sid, id, v) < 0
		                     : mask && write_copy(out, mask, sid, id) < 0))
			goto done;
		for (int j = 0; j < c->ncond; j++)
			if (write_copy(out, cond[j], sid, id) < 0)
				goto done;
	}
	ret = 0;
done:
	free(known);
	free(keep);
	free(kk);
	free(kp);
	free(cb);
	free(x);
	free(rng);
	return ret;
}
