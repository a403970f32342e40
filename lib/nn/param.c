/* Named parameters with gradient and Adam state, allocated once. */
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/util.h"
#include "nn.h"

ms_param *ms_param_add(ms_params *ps, const char *prefix, const char *suffix, int rank,
                       const int64_t *shape)
{
	ms_param *p = ms_calloc(1, sizeof *p);
	if (!p)
		return NULL;
	int len = snprintf(p->name, sizeof p->name, "%s%s%s", prefix,
	                   *prefix && *suffix ? "." : "", suffix);
	if (len < 0 || (size_t)len >= sizeof p->name) {
		free(p);
		ms_error("parameter name too long: %s.%s", prefix, suffix);
		return NULL;
	}
	p->rank = rank;
	p->n = 1;
	for (int i = 0; i < rank; i++) {
		p->shape[i] = shape[i];
		p->n *= (size_t)shape[i];
	}
	if (ps->n == ps->cap) {
		int cap = ps->cap ? 2 * ps->cap : 64;
		ms_param **q = ms_reallocarray(ps->p, cap, sizeof *q);
		if (!q) {
			free(p);
			return NULL;
		}
		ps->p = q;
		ps->cap = cap;
	}
	/* one block: w, g, m, v */
	if (!(p->mem = p->w = ms_floats(4 * p->n))) {
		free(p);
		return NULL;
	}
	p->g = p->w + p->n;
	p->m = p->g + p->n;
	p->v = p->m + p->n;
	ps->p[ps->n++] = p;
	return p;
}

void ms_param_uniform(const ms_params *ps, ms_param *p, float bound)
{
	ms_rng r;
	ms_rng_init(&r, ps->seed, ms_hash64(p->name));
	for (size_t i = 0; i < p->n; i++)
		p->w[i] = (float)((2 * ms_rng_uniform(&r) - 1) * bound);
}

void ms_param_fill(ms_param *p, float v)
{
	for (size_t i = 0; i < p->n; i++)
		p->w[i] = v;
}

ms_param *ms_params_find(const ms_params *ps, const char *name)
{
	for (int i = 0; i < ps->n; i++)
		if (!strcmp(ps->p[i]->name, name))
			return ps->p[i];
	return NULL;
}

size_t ms_params_count(const ms_params *ps)
{
	size_t n = 0;
	for (int i = 0; i < ps->n; i++)
		n += ps->p[i]->n;
	return n;
}

void ms_params_zero_grad(ms_params *ps)
{
	for (int i = 0; i < ps->n; i++)
		memset(ps->p[i]->g, 0, ps->p[i]->n * sizeof(float));
}

void ms_params_free(ms_params *ps)
{
	if (!ps)
		return;
	for (int i = 0; i < ps->n; i++) {
		float **mem[] = { &ps->p[i]->mem, &ps->p[i]->ema_mem };
		ms_free_floats(mem, 2);
		free(ps->p[i]);
	}
	free(ps->p);
	ps->p = NULL;
	ps->n = ps->cap = 0;
}
