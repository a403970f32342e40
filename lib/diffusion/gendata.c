/* The generator's training set (generator.h): images (with their masks, for a joint
 * model), their conditions and prompts in memory, and batches that share one prompt. */
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/util.h"
#include "diffusion/generator.h"

typedef struct {
	float *img, *cond, *mask;
	int c, p;
} item;

struct ms_gen_data {
	int K, joint, H, W, n, cap, np, pcap, rgb;
	item *it;
	char **prompt;
	int **pidx, *pn, *pcapv;
};

ms_gen_data *ms_gen_data_new(int K, int joint, int H, int W)
{
	ms_gen_data *d = ms_calloc(1, sizeof *d);
	if (d) {
		d->K = K;
		d->joint = joint;
		d->H = H;
		d->W = W;
	}
	return d;
}

void ms_gen_data_free(ms_gen_data *d)
{
	if (!d)
		return;
	for (int i = 0; i < d->n; i++) {
		free(d->it[i].img);
		free(d->it[i].cond);
		free(d->it[i].mask);
	}
	for (int i = 0; i < d->np; i++) {
		free(d->prompt[i]);
		free(d->pidx[i]);
	}
	free(d->it);
	free(d->prompt);
	free(d->pidx);
	free(d->pn);
	free(d->pcapv);
	free(d);
}

static int grow(void **p, int *cap, int need, size_t size)
{
	if (need <= *cap)
		return 0;
	int c = *cap ? 2 * *cap : 16;
	void *q = ms_reallocarray(*p, c, size);
	if (!q)
		return -1;
	*p = q;
	*cap = c;
	return 0;
}

static int prompt_index(ms_gen_data *d, const char *s)
{
	for (int i = 0; i < d->np; i++)
		if (!strcmp(d->prompt[i], s))
			return i;
	int pc = d->pcap;
	if (grow((void **)&d->prompt, &pc, d->np + 1, sizeof *d->prompt) < 0)
		return -1;
	pc = d->pcap;
	if (grow((void **)&d->pidx, &pc, d->np + 1, sizeof *d->pidx) < 0)
		return -1;
	pc = d->pcap;
	if (grow((void **)&d->pn, &pc, d->np + 1, sizeof *d->pn) < 0)
		return -1;
	if (grow((void **)&d->pcapv, &d->pcap, d->np + 1, sizeof *d->pcapv) < 0)
		return -1;
	if (!(d->prompt[d->np] = ms_strdup(s)))
		return -1;
	d->pidx[d->np] = NULL;
	d->pn[d->np] = d->pcapv[d->np] = 0;
	return d->np++;
}

int ms_gen_data_add(ms_gen_data *d, const float *img, int c, const float *mask,
                    const float *cond, const char *prompt)
{
	size_t hw = (size_t)d->H * d->W;
	int p = prompt_index(d, prompt ? prompt : "");
	if (p < 0 || grow((void **)&d->it, &d->cap, d->n + 1, sizeof *d->it) < 0 ||
	    grow((void **)&d->pidx[p], &d->pcapv[p], d->pn[p] + 1, sizeof **d->pidx) < 0)
		return -1;
	item *t = &d->it[d->n];
	t->c = c;
	t->p = p;
	t->cond = t->mask = NULL;
	if (!(t->img = ms_malloc(c * hw * sizeof(float))) ||
	    !(t->cond = ms_malloc((d->K ? d->K : 1) * hw * sizeof(float))) ||
	    (d->joint && !(t->mask = ms_malloc(hw * sizeof(float))))) {
		free(t->img);
		free(t->cond);
		return -1;
	}
	memcpy(t->img, img, c * hw * sizeof(float));
	for (size_t i = 0; d->joint && i < hw; i++)
		t->mask[i] = mask[i] > 0.5f;
	memcpy(t->cond, cond, d->K * hw * sizeof(float));
	d->rgb |= c == 3;
	d->pidx[p][d->pn[p]++] = d->n++;
	return 0;
}

int ms_gen_data_count(const ms_gen_data *d)
{
	return d->n;
}

int ms_gen_data_channels(const ms_gen_data *d)
{
	return d->rgb ? 3 : 1;
}

int ms_gen_data_prompts(const ms_gen_data *d)
{
	return d->np;
}

const char *ms_gen_data_batch(const ms_gen_data *d, ms_rng *r, int N, int C, float *x0,
                              float *cond)
{
	size_t hw = (size_t)d->H * d->W;
	MS_ASSERT(d->n > 0);
	int first = (int)ms_rng_below(r, (uint32_t)d->n), p = d->it[first].p;
	for (int b = 0; b < N; b++) {
		const item *t = &d->it[b ? d->pidx[p][ms_rng_below(r, (uint32_t)d->pn[p])] : first];
		float *x = x0 + (size_t)b * (C + d->joint) * hw;
		for (int c = 0; c < C; c++) {
			const float *s = t->img + (t->c == C ? c : 0) * hw;
			for (size_t i = 0; i < hw; i++)
				x[c * hw + i] = 2 * s[i] - 1;
		}
		for (size_t i = 0; d->joint && i < hw; i++)
			x[C * hw + i] = 2 * t->mask[i] - 1;
		memcpy(cond + (size_t)b * d->K * hw, t->cond, d->K * hw * sizeof *cond);
	}
	return d->prompt[p];
}
