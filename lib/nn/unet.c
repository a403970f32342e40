/* U-Net of ref_unet.py: conv_in, down (ResBlocks, stride-2 convs), mid (ResBlock,
 * [attention], ResBlock), up (ResBlocks on [h, skip], nearest x2 + conv), GN, SiLU,
 * conv_out; optional sinusoidal time embedding added in every ResBlock.
 * Activations live in buffers planned once per batch shape. A skip is written by its
 * producer straight into the channel slice of the concatenation buffer of the up block
 * that consumes it, so concatenation costs no copy. */
#include <stdlib.h>
#include <string.h>

#include "core/threads.h"
#include "core/util.h"
#include "internal.h"
#include "nn.h"

/* ---- construction */
static int add_buf(ms_unet *u, int c, int lvl)
{
	MS_ASSERT(u->nb < (int)(sizeof u->b / sizeof *u->b));
	u->b[u->nb] = (buffer){ c, lvl, NULL, NULL };
	return u->nb++;
}

static int add_slot(ms_unet *u, int buf, int off, int c)
{
	MS_ASSERT(u->ns < (int)(sizeof u->s / sizeof *u->s));
	u->s[u->ns] = (slot){ buf, off, c, 0 };
	return u->ns++;
}

/* "NAME.PART" in b[96] */
static char *part(char *b, const char *name, const char *p)
{
	snprintf(b, 96, "%s.%s", name, p);
	return b;
}

static int res_init(ms_unet *u, resblock *r, const char *name, int cin, int cout, int lvl)
{
	char b[96];
	memset(r, 0, sizeof *r);
	r->cin = cin;
	r->cout = cout;
	r->lvl = lvl;
	r->has_skip = cin != cout;
	r->has_temb = u->tdim > 0;
	int g = u->cfg.groups;
	/* registration order = ref_unet.py's state_dict order */
	if (ms_groupnorm_init(&r->n1, &u->ps, part(b, name, "norm1"), cin, g) < 0 ||
	    ms_conv2d_init(&r->c1, &u->ps, part(b, name, "conv1"), cin, cout, 3, 1) < 0 ||
	    (r->has_temb &&
	     ms_linear_init(&r->temb, &u->ps, part(b, name, "temb"), u->tdim, cout) < 0) ||
	    ms_groupnorm_init(&r->n2, &u->ps, part(b, name, "norm2"), cout, g) < 0 ||
	    ms_conv2d_init(&r->c2, &u->ps, part(b, name, "conv2"), cout, cout, 3, 1) < 0 ||
	    (r->has_skip &&
	     ms_conv2d_init(&r->skip, &u->ps, part(b, name, "skip"), cin, cout, 1, 1) < 0))
		return -1;
	return 0;
}

static stage *add_stage(ms_unet *u, int kind, int lvl)
{
	MS_ASSERT(u->nst < (int)(sizeof u->st / sizeof *u->st));
	stage *s = &u->st[u->nst++];
	memset(s, 0, sizeof *s);
	s->kind = kind;
	s->lvl = lvl;
	s->cat = -1;
	return s;
}

static int build(ms_unet *u)
{
	const ms_unet_cfg *c = &u->cfg;
	int ch = c->width, cur = ch, lvl = 0, nhs = 0, hs_c[64], ndown = 0, nup = 0;
	char name[64];
	if (u->tdim && (ms_linear_init(&u->t1, &u->ps, "time_mlp.0", ch, u->tdim) < 0 ||
	                ms_linear_init(&u->t2, &u->ps, "time_mlp.2", u->tdim, u->tdim) < 0))
		return -1;
	if (ms_conv2d_init(&u->cin, &u->ps, "conv_in", c->in_ch, ch, 3, 1) < 0)
		return -1;
	hs_c[nhs++] = ch;
	for (int i = 0; i < c->nmult; i++) {
		for (int r = 0; r < c->nres; r++) {
			stage *s = add_stage(u, ST_RES, lvl);
			snprintf(name, sizeof name, "down.%d", ndown++);
			if (res_init(u, &s->rb, name, cur, ch * c->mult[i], lvl) < 0)
				return -1;
			cur = ch * c->mult[i];
			hs_c[nhs++] = cur;
		}
		if (i != c->nmult - 1) {
			stage *s = add_stage(u, ST_DOWN, lvl++);
			snprintf(name, sizeof name, "down.%d", ndown++);
			if (ms_conv2d_init(&s->conv, &u->ps, name, cur, cur, 3, 2) < 0)
				return -1;
			hs_c[nhs++] = cur;
		}
	}
	int ndownst = u->nst;
	stage *s = add_stage(u, ST_RES, lvl);
	if (res_init(u, &s->rb, "mid1", cur, cur, lvl) < 0)
		return -1;
	if (c->attn) {
		s = add_stage(u, ST_ATTN, lvl);
		if (ms_attn_init(&s->at, &u->ps, "mid_attn", cur, c->groups) < 0)
			return -1;
	}
	s = add_stage(u, ST_RES, lvl);
	if (res_init(u, &s->rb, "mid2", cur, cur, lvl) < 0)
		return -1;
	/* buffers: input, one concatenation buffer per up ResBlock */
	u->sx = add_slot(u, add_buf(u, c->in_ch, 0), 0, c->in_ch);
	int hs_slot[64], cat_full[64], cat_h[64], ncat = 0;
	for (int i = c->nmult - 1; i >= 0; i--) {
		for (int r = 0; r < c->nres + 1; r++) {
			int cs = hs_c[--nhs];
			int bi = add_buf(u, cur + cs, lvl);
			cat_full[ncat] = add_slot(u, bi, 0, cur + cs);
			cat_h[ncat] = add_slot(u, bi, 0, cur);
			hs_slot[nhs] = add_slot(u, bi, cur, cs);
			s = add_stage(u, ST_RES, lvl);
			s->cat = ncat++;
			snprintf(name, sizeof name, "up.%d", nup++);
			if (res_init(u, &s->rb, name, cur + cs, ch * c->mult[i], lvl) < 0)
				return -1;
			cur = ch * c->mult[i];
		}
		if (i != 0) {
			s = add_stage(u, ST_UP, lvl--);
			snprintf(name, sizeof name, "up.%d.1", nup++);
			if (ms_conv2d_init(&s->conv, &u->ps, name, cur, cur, 3, 1) < 0)
				return -1;
		}
	}
	MS_ASSERT(nhs == 0);
	if (ms_groupnorm_init(&u->nout, &u->ps, "norm_out", cur, c->groups) < 0 ||
	    ms_conv2d_init(&u->cout, &u->ps, "conv_out", cur, c->out_ch, 3, 1) < 0)
		return -1;
	/* wire inputs and outputs */
	u->s0 = hs_slot[0];
	int prev = u->s0, k = 0;
	for (int i = 0; i < u->nst; i++) {
		stage *t = &u->st[i];
		stage *next = i + 1 < u->nst ? &u->st[i + 1] : NULL;
		t->in = t->cat >= 0 ? cat_full[t->cat] : prev;
		if (i < ndownst)
			t->out = hs_slot[++k];
		else if (next && next->cat >= 0)
			t->out = cat_h[next->cat];
		else {
			int co = t->kind == ST_RES ? t->rb.cout : u->s[t->in].c;
			int lo = t->kind == ST_UP ? t->lvl - 1 : t->lvl;
			t->out = add_slot(u, add_buf(u, co, lo), 0, co);
		}
		prev = t->out;
	}
	return 0;
}

ms_unet *ms_unet_new(const ms_unet_cfg *cfg, uint64_t seed)
{
	if (ms_unet_cfg_check(cfg) < 0)
		return NULL;
	ms_unet *u = ms_calloc(1, sizeof *u);
	if (!u)
		return NULL;
	u->cfg = *cfg;
	u->ps.seed = seed;
	u->tdim = cfg->temb ? 4 * cfg->width : 0;
	if (build(u) < 0) {
		ms_unet_free(u);
		return NULL;
	}
	return u;
}

const ms_unet_cfg *ms_unet_cfg_of(const ms_unet *u)
{
	return &u->cfg;
}

ms_params *ms_unet_params(ms_unet *u)
{
	return &u->ps;
}

int ms_unet_tdim(const ms_unet *u)
{
	return u->tdim;
}

/* ---- planning */
static void unplan(ms_unet *u)
{
	for (int i = 0; i < u->nb; i++) {
		float **p[] = { &u->b[i].a, &u->b[i].g };
		ms_free_floats(p, 2);
	}
	for (int i = 0; i < u->nst; i++) {
		resblock *r = &u->st[i].rb;
		float **p[] = { &r->s1b, &r->h1b, &r->s2b, &r->tb };
		ms_free_floats(p, sizeof p / sizeof *p);
	}
	float **p[] = { &u->sob, &u->out, &u->ws, &u->ds, &u->dh, &u->dx, &u->te0,
	                &u->ta1, &u->ts1, &u->temb, &u->tst, &u->dtst, &u->dtemb, &u->dts1 };
	ms_free_floats(p, sizeof p / sizeof *p);
	u->N = 0;
	u->bytes = 0;
}

void ms_unet_free(ms_unet *u)
{
	if (!u)
		return;
	unplan(u);
	for (int i = 0; i < u->nst; i++) {
		ms_groupnorm_free(&u->st[i].rb.n1);
		ms_groupnorm_free(&u->st[i].rb.n2);
		ms_attn_free(&u->st[i].at);
	}
	ms_groupnorm_free(&u->nout);
	ms_params_free(&u->ps);
	free(u);
}

static int get(ms_unet *u, float **p, size_t n)
{
	u->bytes += n * sizeof(float);
	return (*p = ms_floats(n)) ? 0 : -1;
}

static size_t maxz(size_t a, size_t b)
{
	return a > b ? a : b;
}

int ms_unet_plan(ms_unet *u, int N, int H, int W, int train)
{
	int m = 1 << (u->cfg.nmult - 1);
	unplan(u);
	if (N < 1 || H < m || W < m || H % m || W % m)
		return ms_error("unet: batch %d of %dx%d: sizes must be multiples of %d", N, W, H, m);
	u->N = N;
	u->H = H;
	u->W = W;
	u->train = train;
	u->threads = ms_nthreads();
	size_t ws = ms_conv2d_ws(&u->cin, H, W), scratch = (size_t)N * u->nout.c * H * W;
	for (int i = 0; i < u->nb; i++) {
		size_t n = (size_t)N * u->b[i].c * hw(u, u->b[i].lvl);
		if (get(u, &u->b[i].a, n) < 0 || (train && get(u, &u->b[i].g, n) < 0))
			goto fail;
	}
	for (int i = 0; i < u->nst; i++) {
		stage *s = &u->st[i];
		size_t L = hw(u, s->lvl);
		if (s->kind == ST_RES) {
			resblock *r = &s->rb;
			size_t ni = (size_t)N * r->cin * L, no = (size_t)N * r->cout * L;
			if (get(u, &r->s1b, ni) < 0 || get(u, &r->h1b, no) < 0 ||
			    get(u, &r->s2b, no) < 0 || get(u, &r->tb, (size_t)N * r->cout) < 0 ||
			    ms_groupnorm_plan(&r->n1, N) < 0 || ms_groupnorm_plan(&r->n2, N) < 0)
				goto fail;
			ws = maxz(ws, ms_conv2d_ws(&r->c1, H >> s->lvl, W >> s->lvl));
			ws = maxz(ws, ms_conv2d_ws(&r->c2, H >> s->lvl, W >> s->lvl));
			scratch = maxz(scratch, maxz(ni, no));
		} else if (s->kind == ST_DOWN) {
			ws = maxz(ws, ms_conv2d_ws(&s->conv, H >> s->lvl, W >> s->lvl));
		} else if (s->kind == ST_UP) {
			ws = maxz(ws, ms_upconv_ws(&s->conv, H >> s->lvl, W >> s->lvl));
		} else if (ms_attn_plan(&s->at, N, (int)L, train) < 0) {
			goto fail;
		}
	}
	size_t no = (size_t)N * u->nout.c * H * W, td = (size_t)N * (u->tdim ? u->tdim : 1);
	if (get(u, &u->sob, no) < 0 ||
	    get(u, &u->out, (size_t)N * u->cfg.out_ch * H * W) < 0 ||
	    ms_groupnorm_plan(&u->nout, N) < 0 ||
	    get(u, &u->ws, maxz(ws, ms_conv2d_ws(&u->cout, H, W))) < 0 ||
	    get(u, &u->te0, (size_t)N * u->cfg.width) < 0 || get(u, &u->ta1, td) < 0 ||
	    get(u, &u->ts1, td) < 0 || get(u, &u->temb, td) < 0 || get(u, &u->tst, td) < 0)
		goto fail;
	if (train && (get(u, &u->ds, scratch) < 0 || get(u, &u->dh, scratch) < 0 ||
	              get(u, &u->dtst, td) < 0 || get(u, &u->dtemb, td) < 0 ||
	              get(u, &u->dts1, td) < 0))
		goto fail;
	if (train == MS_UNET_TRAIN_DX && get(u, &u->dx, (size_t)N * u->cfg.in_ch * H * W) < 0)
		goto fail;
	return 0;
fail:
	unplan(u);
	return -1;
}

size_t ms_unet_planned_bytes(const ms_unet *u)
{
	return u->bytes;
}
