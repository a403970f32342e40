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
#include "nn.h"
#include "vec.h"

typedef struct {
	int cin, cout, lvl, has_temb;
	ms_groupnorm n1, n2;
	ms_conv2d c1, c2, skip;
	int has_skip;
	ms_linear temb;
	float *n1b, *s1b, *h1b, *n2b, *s2b, *tb;
} resblock;

enum { ST_RES, ST_DOWN, ST_UP, ST_ATTN };

typedef struct {
	int kind, lvl;                /* lvl: resolution level of the input */
	int in, out;                  /* slots */
	int cat;                      /* up ResBlocks: index of its concatenation buffer */
	resblock rb;
	ms_conv2d conv;
	ms_attn at;
} stage;

typedef struct {
	int c, lvl;
	float *a, *g;
} buffer;

typedef struct {
	int buf, off, c, written;
} slot;

struct ms_unet {
	ms_unet_cfg cfg;
	ms_params ps;
	int tdim;
	ms_linear t1, t2;
	ms_conv2d cin, cout;
	ms_groupnorm nout;
	stage st[64];
	int nst;
	buffer b[64];
	int nb;
	slot s[128];
	int ns;
	int sx, s0;                   /* slots: input, conv_in output */
	/* plan */
	int N, H, W, train, threads;    /* planned for ms_nthreads() threads */
	size_t bytes;
	float *nob, *sob, *out, *ws, *ds, *dh;
	float *te0, *ta1, *ts1, *temb, *tst, *dtst, *dtemb, *dts1;
};

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
	snprintf(b, sizeof b, "%s.norm1", name);
	if (ms_groupnorm_init(&r->n1, &u->ps, b, cin, g) < 0)
		return -1;
	snprintf(b, sizeof b, "%s.conv1", name);
	if (ms_conv2d_init(&r->c1, &u->ps, b, cin, cout, 3, 1) < 0)
		return -1;
	snprintf(b, sizeof b, "%s.temb", name);
	if (r->has_temb && ms_linear_init(&r->temb, &u->ps, b, u->tdim, cout) < 0)
		return -1;
	snprintf(b, sizeof b, "%s.norm2", name);
	if (ms_groupnorm_init(&r->n2, &u->ps, b, cout, g) < 0)
		return -1;
	snprintf(b, sizeof b, "%s.conv2", name);
	if (ms_conv2d_init(&r->c2, &u->ps, b, cout, cout, 3, 1) < 0)
		return -1;
	snprintf(b, sizeof b, "%s.skip", name);
	if (r->has_skip && ms_conv2d_init(&r->skip, &u->ps, b, cin, cout, 1, 1) < 0)
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
		free(u->b[i].a);
		free(u->b[i].g);
		u->b[i].a = u->b[i].g = NULL;
	}
	for (int i = 0; i < u->nst; i++) {
		resblock *r = &u->st[i].rb;
		float **p[] = { &r->n1b, &r->s1b, &r->h1b, &r->n2b, &r->s2b, &r->tb };
		for (int j = 0; j < 6; j++) {
			free(*p[j]);
			*p[j] = NULL;
		}
	}
	float **p[] = { &u->nob, &u->sob, &u->out, &u->ws, &u->ds, &u->dh, &u->te0, &u->ta1,
	                &u->ts1, &u->temb, &u->tst, &u->dtst, &u->dtemb, &u->dts1 };
	for (size_t j = 0; j < sizeof p / sizeof *p; j++) {
		free(*p[j]);
		*p[j] = NULL;
	}
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
	return (*p = ms_calloc(n ? n : 1, sizeof(float))) ? 0 : -1;
}

static size_t hw(const ms_unet *u, int lvl)
{
	return (size_t)(u->H >> lvl) * (u->W >> lvl);
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
			if (get(u, &r->n1b, ni) < 0 || get(u, &r->s1b, ni) < 0 ||
			    get(u, &r->h1b, no) < 0 || get(u, &r->n2b, no) < 0 ||
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
	if (get(u, &u->nob, no) < 0 || get(u, &u->sob, no) < 0 ||
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
	return 0;
fail:
	unplan(u);
	return -1;
}

size_t ms_unet_planned_bytes(const ms_unet *u)
{
	return u->bytes;
}

/* ---- slots */
static float *sa(ms_unet *u, int s)
{
	return u->b[u->s[s].buf].a + (size_t)u->s[s].off * hw(u, u->b[u->s[s].buf].lvl);
}

static float *sg(ms_unet *u, int s)
{
	return u->b[u->s[s].buf].g + (size_t)u->s[s].off * hw(u, u->b[u->s[s].buf].lvl);
}

static size_t sst(ms_unet *u, int s)
{
	return (size_t)u->b[u->s[s].buf].c * hw(u, u->b[u->s[s].buf].lvl);
}

/* 1 when the gradient of slot s already holds a contribution (add to it); marks s and
 * the slots inside it as written */
static int take(ms_unet *u, int s)
{
	int was = u->s[s].written;
	for (int i = 0; i < u->ns; i++) {
		slot *t = &u->s[i];
		if (t->buf == u->s[s].buf && t->off >= u->s[s].off &&
		    t->off + t->c <= u->s[s].off + u->s[s].c)
			t->written = 1;
	}
	return was;
}

/* ---- ResBlock */
static void res_forward(ms_unet *u, resblock *r, const float *x, size_t xs, float *y,
                        size_t ys)
{
	int N = u->N, H = u->H >> r->lvl, W = u->W >> r->lvl, L = H * W;
	size_t ci = (size_t)r->cin * L, co = (size_t)r->cout * L;
	ms_groupnorm_forward(&r->n1, N, L, x, xs, r->n1b, ci, r->s1b);        /* [N,cin,L] */
	if (r->has_temb)
		ms_linear_forward(&r->temb, N, u->tst, r->tb, 0);                 /* [N,cout] */
	ms_conv2d_forward(&r->c1, N, H, W, r->s1b, ci, r->h1b, co, 0,
	                  r->has_temb ? r->tb : NULL, u->ws);                    /* [N,cout,L] */
	ms_groupnorm_forward(&r->n2, N, L, r->h1b, co, r->n2b, co, r->s2b);
	if (r->has_skip)
		ms_conv2d_forward(&r->skip, N, H, W, x, xs, y, ys, 0, NULL, NULL);
	else
		for (int n = 0; n < N; n++)
			memcpy(y + n * ys, x + n * xs, co * sizeof *y);
	ms_conv2d_forward(&r->c2, N, H, W, r->s2b, co, y, ys, 1, NULL, u->ws);  /* y += h */
}

static void res_backward(ms_unet *u, resblock *r, const float *x, size_t xs, const float *dy,
                         size_t dys, float *dx, size_t dxs, int acc)
{
	int N = u->N, H = u->H >> r->lvl, W = u->W >> r->lvl, L = H * W;
	size_t ci = (size_t)r->cin * L, co = (size_t)r->cout * L;
	ms_conv2d_backward(&r->c2, N, H, W, r->s2b, co, dy, dys, u->ds, co, 0, u->ws);
	ms_silu_backward(r->n2b, u->ds, u->ds, N * co, 0);
	ms_groupnorm_backward(&r->n2, N, L, r->h1b, co, u->ds, co, u->dh, co, 0);
	if (r->has_temb) {
		for (int n = 0; n < N; n++)
			for (int o = 0; o < r->cout; o++)
				r->tb[n * r->cout + o] = vsumarr(u->dh + n * co + (size_t)o * L, L);
		ms_linear_backward(&r->temb, N, u->tst, r->tb, u->dtst, 1);
	}
	ms_conv2d_backward(&r->c1, N, H, W, r->s1b, ci, u->dh, co, u->ds, ci, 0, u->ws);
	ms_silu_backward(r->n1b, u->ds, u->ds, N * ci, 0);
	if (r->has_skip)
		ms_conv2d_backward(&r->skip, N, H, W, x, xs, dy, dys, dx, dxs, acc, NULL);
	else
		for (int n = 0; n < N; n++)
			vadd(dx + n * dxs, dy + n * dys, co, acc);
	ms_groupnorm_backward(&r->n1, N, L, x, xs, u->ds, ci, dx, dxs, 1);
}

/* ---- the network */
float *ms_unet_forward(ms_unet *u, const float *x, const float *t, const float *cond)
{
	int N = u->N, H = u->H, W = u->W;
	MS_ASSERT(N > 0 && u->threads == ms_nthreads());
	memcpy(sa(u, u->sx), x, (size_t)N * u->cfg.in_ch * H * W * sizeof *x);
	if (u->tdim) {
		size_t td = (size_t)N * u->tdim;
		MS_ASSERT(t);
		ms_timestep_embedding(t, N, u->cfg.width, u->te0);
		ms_linear_forward(&u->t1, N, u->te0, u->ta1, 0);
		ms_silu_forward(u->ta1, u->ts1, td);
		ms_linear_forward(&u->t2, N, u->ts1, u->temb, 0);
		if (cond)
			for (size_t i = 0; i < td; i++)
				u->temb[i] += cond[i];
		ms_silu_forward(u->temb, u->tst, td);
	}
	ms_conv2d_forward(&u->cin, N, H, W, sa(u, u->sx), sst(u, u->sx), sa(u, u->s0),
	                  sst(u, u->s0), 0, NULL, u->ws);
	for (int i = 0; i < u->nst; i++) {
		stage *s = &u->st[i];
		const float *in = sa(u, s->in);
		float *out = sa(u, s->out);
		size_t is = sst(u, s->in), os = sst(u, s->out);
		int h = H >> s->lvl, w = W >> s->lvl;
		switch (s->kind) {
		case ST_RES: res_forward(u, &s->rb, in, is, out, os); break;
		case ST_ATTN: ms_attn_forward(&s->at, in, is, out, os); break;
		case ST_DOWN:
			ms_conv2d_forward(&s->conv, N, h, w, in, is, out, os, 0, NULL, u->ws);
			break;
		case ST_UP: ms_upconv_forward(&s->conv, N, h, w, in, is, out, os, u->ws); break;
		}
	}
	int last = u->st[u->nst - 1].out;
	size_t cl = (size_t)u->nout.c * H * W;
	ms_groupnorm_forward(&u->nout, N, H * W, sa(u, last), sst(u, last), u->nob, cl, u->sob);
	ms_conv2d_forward(&u->cout, N, H, W, u->sob, cl, u->out, (size_t)u->cfg.out_ch * H * W, 0,
	                  NULL, u->ws);
	return u->out;
}

void ms_unet_backward(ms_unet *u, const float *dout)
{
	int N = u->N, H = u->H, W = u->W;
	MS_ASSERT(u->train && u->threads == ms_nthreads());
	for (int i = 0; i < u->ns; i++)
		u->s[i].written = 0;
	if (u->tdim)
		memset(u->dtst, 0, (size_t)N * u->tdim * sizeof(float));
	int last = u->st[u->nst - 1].out;
	size_t cl = (size_t)u->nout.c * H * W;
	ms_conv2d_backward(&u->cout, N, H, W, u->sob, cl, dout, (size_t)u->cfg.out_ch * H * W,
	                   u->ds, cl, 0, u->ws);
	ms_silu_backward(u->nob, u->ds, u->ds, N * cl, 0);
	ms_groupnorm_backward(&u->nout, N, H * W, sa(u, last), sst(u, last), u->ds, cl,
	                      sg(u, last), sst(u, last), take(u, last));
	for (int i = u->nst - 1; i >= 0; i--) {
		stage *s = &u->st[i];
		const float *in = sa(u, s->in), *dy = sg(u, s->out);
		size_t is = sst(u, s->in), os = sst(u, s->out);
		int h = H >> s->lvl, w = W >> s->lvl;
		switch (s->kind) {
		case ST_RES:
			res_backward(u, &s->rb, in, is, dy, os, sg(u, s->in), is, take(u, s->in));
			break;
		case ST_ATTN:
			ms_attn_backward(&s->at, in, is, dy, os, sg(u, s->in), is, take(u, s->in));
			break;
		case ST_DOWN:
			ms_conv2d_backward(&s->conv, N, h, w, in, is, dy, os, sg(u, s->in), is,
			                   take(u, s->in), u->ws);
			break;
		case ST_UP:
			ms_upconv_backward(&s->conv, N, h, w, in, is, dy, os, sg(u, s->in), is,
			                   take(u, s->in), u->ws);
			break;
		}
	}
	ms_conv2d_backward(&u->cin, N, H, W, sa(u, u->sx), sst(u, u->sx), sg(u, u->s0),
	                   sst(u, u->s0), NULL, 0, 0, u->ws);
	if (u->tdim) {
		size_t td = (size_t)N * u->tdim;
		ms_silu_backward(u->temb, u->dtst, u->dtemb, td, 0);
		ms_linear_backward(&u->t2, N, u->ts1, u->dtemb, u->dts1, 0);
		ms_silu_backward(u->ta1, u->dts1, u->dts1, td, 0);
		ms_linear_backward(&u->t1, N, u->te0, u->dts1, NULL, 0);
	}
}

const float *ms_unet_dcond(const ms_unet *u)
{
	return u->tdim && u->train ? u->dtemb : NULL;
}
