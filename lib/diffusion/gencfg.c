/* The generator's configuration (generator.h): defaults, condition lists, and the
 * "model" record of its checkpoints, written and checked. */
#include <stdio.h>
#include <string.h>

#include "core/util.h"
#include "diffusion/generator.h"
#include "io/stream.h"

void ms_gen_cfg_default(ms_gen_cfg *c)
{
	memset(c, 0, sizeof *c);
	ms_unet_cfg_default(&c->unet);
	c->img_ch = 1;
	c->ncond = 1;
	strcpy(c->cond[0], "edges");
	c->sched = MS_SCHED_LINEAR;
	c->T = 1000;
	c->buckets = 1024;
	c->text_dim = 64;
}

int ms_gen_cfg_cond(ms_gen_cfg *c, const char *list)
{
	const char *p = list;
	c->ncond = 0;
	if (!*list || !strcmp(list, "none"))
		return 0;
	for (;;) {
		size_t l = strcspn(p, ",");
		char name[MS_GEN_CONDNAME];
		if (c->ncond == MS_GEN_MAXCOND)
			return ms_error("more than %d condition records", MS_GEN_MAXCOND);
		if (l >= sizeof name)
			return ms_error("condition record name too long");
		memcpy(name, p, l);
		name[l] = '\0';
		if (!ms_name_valid(name) || strchr(name, '='))
			return ms_error("invalid condition record name '%s'", name);
		for (int i = 0; i < c->ncond; i++)
			if (!strcmp(c->cond[i], name))
				return ms_error("condition record '%s' named twice", name);
		strcpy(c->cond[c->ncond++], name);
		if (!p[l])
			return 0;
		p += l + 1;
	}
}

int ms_gen_cond_channels(const ms_gen_cfg *c)
{
	return c->ncond + c->optional;
}

int ms_gen_channels(const ms_gen_cfg *c)
{
	return c->img_ch + c->joint;
}

static int set_int(ms_rec *r, const char *key, long v)
{
	char b[32];
	snprintf(b, sizeof b, "%ld", v);
	return ms_meta_set(r, key, b);
}

int ms_gen_cfg_to_rec(const ms_gen_cfg *c, ms_rec *r)
{
	char list[MS_GEN_MAXCOND * MS_GEN_CONDNAME] = "", size[48];
	for (int i = 0; i < c->ncond; i++)
		snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? "," : "",
		         c->cond[i]);
	if (!c->ncond)
		strcpy(list, "none");
	snprintf(size, sizeof size, "%dx%d", c->W, c->H);
	if (ms_meta_set(r, "kind", "sample") < 0 || ms_unet_cfg_to_rec(&c->unet, r) < 0 ||
	    set_int(r, "image_channels", c->img_ch) < 0 || ms_meta_set(r, "cond", list) < 0 ||
	    set_int(r, "cond_optional", c->optional) < 0 ||
	    (c->joint && set_int(r, "joint", 1) < 0) ||
	    ms_meta_set(r, "schedule", ms_sched_name(c->sched)) < 0 ||
	    (c->zero_snr && (set_int(r, "zero_snr", 1) < 0 ||
	                     ms_meta_set(r, "prediction", "v") < 0)) ||
	    set_int(r, "T", c->T) < 0 || set_int(r, "text_buckets", c->buckets) < 0 ||
	    set_int(r, "text_dim", c->text_dim) < 0 || ms_meta_set(r, "size", size) < 0)
		return -1;
	return 0;
}

static int get_int(const ms_rec *r, const char *key, long lo, long hi, int *out)
{
	char v[64];
	long x;
	if (!ms_meta_get(r, key, v, sizeof v))
		return ms_error("model metadata lacks %s=", key);
	if (ms_parse_int(v, lo, hi, &x) < 0)
		return ms_error("model metadata %s=%s is not an integer in %ld..%ld", key, v, lo, hi);
	*out = (int)x;
	return 0;
}

int ms_gen_cfg_from_rec(ms_gen_cfg *c, const ms_rec *r)
{
	char v[MS_GEN_MAXCOND * MS_GEN_CONDNAME];
	ms_gen_cfg_default(c);
	if (!ms_meta_get(r, "kind", v, sizeof v) || strcmp(v, "sample"))
		return ms_error("not an ms-sample model (metadata kind=sample missing)");
	if (ms_unet_cfg_from_rec(&c->unet, r) < 0)
		return -1;
	if (get_int(r, "image_channels", 1, 3, &c->img_ch) < 0 ||
	    get_int(r, "cond_optional", 0, 1, &c->optional) < 0 ||
	    get_int(r, "T", 2, 100000, &c->T) < 0 ||
	    get_int(r, "text_buckets", 1, 1 << 20, &c->buckets) < 0 ||
	    get_int(r, "text_dim", 1, 4096, &c->text_dim) < 0)
		return -1;
	if (c->img_ch == 2)
		return ms_error("model metadata image_channels=2: must be 1 or 3");
	if (!ms_meta_get(r, "schedule", v, sizeof v) || (c->sched = ms_sched_parse(v)) < 0)
		return ms_error("model metadata schedule= missing or unknown");
	/* absent in models before --zero-snr: 0 and eps */
	if (ms_meta_get(r, "zero_snr", v, sizeof v) &&
	    get_int(r, "zero_snr", 0, 1, &c->zero_snr) < 0)
		return -1;
	/* absent in models before --joint: image channels only */
	if (ms_meta_get(r, "joint", v, sizeof v) && get_int(r, "joint", 0, 1, &c->joint) < 0)
		return -1;
	if (!ms_meta_get(r, "prediction", v, sizeof v))
		strcpy(v, "eps");
	if (strcmp(v, c->zero_snr ? "v" : "eps"))
		return ms_error("model metadata prediction=%s does not fit zero_snr=%d", v, c->zero_snr);
	if (!ms_meta_get(r, "cond", v, sizeof v) || ms_gen_cfg_cond(c, v) < 0)
		return ms_error("model metadata cond= missing or invalid");
	if (!ms_meta_get(r, "size", v, sizeof v) || ms_parse_size(v, &c->W, &c->H) < 0)
		return ms_error("model metadata size= missing or invalid");
	int G = ms_gen_channels(c);
	if (c->unet.in_ch != G + ms_gen_cond_channels(c) || c->unet.out_ch != G || !c->unet.temb)
		return ms_error("model metadata: U-Net in=%d out=%d temb=%d do not fit %d image, "
		                "%d mask and %d condition channels", c->unet.in_ch, c->unet.out_ch,
		                c->unet.temb, c->img_ch, c->joint, ms_gen_cond_channels(c));
	return 0;
}

