/* The U-Net's structure, shared by unet.c (construction, planning) and unetrun.c
 * (forward, backward) only; not for tools. */
#ifndef MS_NN_INTERNAL_H
#define MS_NN_INTERNAL_H

#include <stddef.h>

#include "nn.h"

typedef struct {
	int cin, cout, lvl, has_temb;
	ms_groupnorm n1, n2;
	ms_conv2d c1, c2, skip;
	int has_skip;
	ms_linear temb;
	float *s1b, *h1b, *s2b, *tb;
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
	float *sob, *out, *ws, *ds, *dh, *dx;
	float *te0, *ta1, *ts1, *temb, *tst, *dtst, *dtemb, *dts1;
};

/* pixels of a plane at resolution level lvl */
static inline size_t hw(const ms_unet *u, int lvl)
{
	return (size_t)(u->H >> lvl) * (u->W >> lvl);
}

#endif
