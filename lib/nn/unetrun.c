/* The U-Net's forward and backward passes (nn.h) over the stages and buffers that
 * unet.c builds and plans (internal.h). */
#include <string.h>

#include "core/threads.h"
#include "core/util.h"
#include "internal.h"
#include "nn.h"
#include "vec.h"

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
	ms_groupnorm_forward(&r->n1, N, L, x, xs, NULL, ci, r->s1b);          /* [N,cin,L] */
	if (r->has_temb)
		ms_linear_forward(&r->temb, N, u->tst, r->tb, 0);                 /* [N,cout] */
	ms_conv2d_forward(&r->c1, N, H, W, r->s1b, ci, r->h1b, co, 0,
	                  r->has_temb ? r->tb : NULL, u->ws);                    /* [N,cout,L] */
	ms_groupnorm_forward(&r->n2, N, L, r->h1b, co, NULL, co, r->s2b);
	if (r->has_skip)
		ms_conv2d_forward(&r->skip, N, H, W, x, xs, y, ys, 0, NULL, NULL);
	else
		for (int n = 0; n < N; n++)
			memcpy(y + n * ys, x + n * xs, co * sizeof *y);
	ms_conv2d_forward(&r->c2, N, H, W, r->s2b, co, y, ys, 1, NULL, u->ws);  /* y += h */
}

MS_CLONES static void res_backward(ms_unet *u, resblock *r, const float *x, size_t xs,
                                   const float *dy, size_t dys, float *dx, size_t dxs, int acc)
{
	int N = u->N, H = u->H >> r->lvl, W = u->W >> r->lvl, L = H * W;
	size_t ci = (size_t)r->cin * L, co = (size_t)r->cout * L;
	ms_conv2d_backward(&r->c2, N, H, W, r->s2b, co, dy, dys, u->ds, co, 0, u->ws);
	ms_groupnorm_silu_backward(&r->n2, N, L, r->h1b, co, u->ds, co, u->dh, co, 0);
	if (r->has_temb) {
		for (int n = 0; n < N; n++)
			for (int o = 0; o < r->cout; o++)
				r->tb[n * r->cout + o] = vsumarr(u->dh + n * co + (size_t)o * L, L);
		ms_linear_backward(&r->temb, N, u->tst, r->tb, u->dtst, 1);
	}
	ms_conv2d_backward(&r->c1, N, H, W, r->s1b, ci, u->dh, co, u->ds, ci, 0, u->ws);
	if (r->has_skip)
		ms_conv2d_backward(&r->skip, N, H, W, x, xs, dy, dys, dx, dxs, acc, NULL);
	else
		for (int n = 0; n < N; n++)
			vadd(dx + n * dxs, dy + n * dys, co, acc);
	ms_groupnorm_silu_backward(&r->n1, N, L, x, xs, u->ds, ci, dx, dxs, 1);
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
	ms_groupnorm_forward(&u->nout, N, H * W, sa(u, last), sst(u, last), NULL, cl, u->sob);
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
	ms_groupnorm_silu_backward(&u->nout, N, H * W, sa(u, last), sst(u, last), u->ds, cl,
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
	                   sst(u, u->s0), u->dx, (size_t)u->cfg.in_ch * H * W, 0, u->ws);
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

const float *ms_unet_dx(const ms_unet *u)
{
	return u->dx;
}
