/* The U-Net's configuration (nn.h): defaults, checks, and its checkpoint metadata. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "io/stream.h"
#include "nn.h"

void ms_unet_cfg_default(ms_unet_cfg *c)
{
	memset(c, 0, sizeof *c);
	c->in_ch = c->out_ch = 1;
	c->width = 32;
	c->nmult = 3;
	c->mult[0] = 1;
	c->mult[1] = 2;
	c->mult[2] = 4;
	c->nres = 1;
	c->groups = 8;
}

int ms_unet_cfg_check(const ms_unet_cfg *c)
{
	if (c->in_ch < 1 || c->in_ch > 64 || c->out_ch < 1 || c->out_ch > 64)
		return ms_error("unet: channels in=%d out=%d out of range 1..64", c->in_ch, c->out_ch);
	if (c->width < 1 || c->width > 1024 || c->groups < 1 || c->width % c->groups)
		return ms_error("unet: width %d must be a multiple of groups %d", c->width,
		                c->groups);
	if (c->nmult < 1 || c->nmult > MS_UNET_MAXLEVEL)
		return ms_error("unet: %d levels out of range 1..%d", c->nmult, MS_UNET_MAXLEVEL);
	for (int i = 0; i < c->nmult; i++)
		if (c->mult[i] < 1 || c->mult[i] > 16)
			return ms_error("unet: multiplier %d out of range 1..16", c->mult[i]);
	if (c->nres < 0 || c->nres > 4)
		return ms_error("unet: nres %d out of range 0..4", c->nres);
	return 0;
}

int ms_unet_cfg_to_rec(const ms_unet_cfg *c, ms_rec *r)
{
	char m[64] = "";
	for (int i = 0; i < c->nmult; i++)
		snprintf(m + strlen(m), sizeof m - strlen(m), "%s%d", i ? "," : "", c->mult[i]);
	const char *keys[] = { "in", "out", "width", "nres", "attn", "temb", "groups" };
	int vals[] = { c->in_ch, c->out_ch, c->width, c->nres, c->attn, c->temb, c->groups };
	if (ms_meta_set(r, "arch", "unet") < 0 || ms_meta_set(r, "mult", m) < 0)
		return -1;
	for (int i = 0; i < 7; i++) {
		char v[16];
		snprintf(v, sizeof v, "%d", vals[i]);
		if (ms_meta_set(r, keys[i], v) < 0)
			return -1;
	}
	return 0;
}

int ms_unet_cfg_from_rec(ms_unet_cfg *c, const ms_rec *r)
{
	char v[256];
	const char *keys[] = { "in", "out", "width", "nres", "attn", "temb", "groups" };
	int *dst[] = { &c->in_ch, &c->out_ch, &c->width, &c->nres, &c->attn, &c->temb,
	               &c->groups };
	memset(c, 0, sizeof *c);
	if (!ms_meta_get(r, "arch", v, sizeof v) || strcmp(v, "unet"))
		return ms_error("not a unet model (metadata arch=unet missing)");
	for (int i = 0; i < 7; i++) {
		long x;
		if (!ms_meta_get(r, keys[i], v, sizeof v))
			return ms_error("model metadata lacks %s=", keys[i]);
		if (ms_parse_int(v, 0, 1024, &x) < 0)
			return ms_error("model metadata %s=%s is not an integer in 0..1024", keys[i], v);
		*dst[i] = (int)x;
	}
	if (!ms_meta_get(r, "mult", v, sizeof v))
		return ms_error("model metadata lacks mult=");
	for (char *p = v, *e; *p; p = *e ? e + 1 : e) {
		if (c->nmult == MS_UNET_MAXLEVEL)
			return ms_error("model metadata mult=%s: too many levels", v);
		c->mult[c->nmult++] = (int)strtol(p, &e, 10);
		if (e == p || (*e && *e != ','))
			return ms_error("model metadata mult: not a comma-separated list");
	}
	return ms_unet_cfg_check(c);
}

