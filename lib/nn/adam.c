/* Adam / AdamW (as torch.optim), gradient clipping, learning-rate schedules, EMA. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "nn.h"
#include "vec.h"

void ms_adam_init(ms_adam *a, double lr, double wd, int decoupled)
{
	a->lr = lr;
	a->beta1 = 0.9;
	a->beta2 = 0.999;
	a->eps = 1e-8;
	a->wd = wd;
	a->decoupled = decoupled;
	a->t = 0;
}

MS_CLONES void ms_adam_step(ms_adam *a, ms_params *ps)
{
	a->t++;
	double bc1 = 1 - pow(a->beta1, a->t), bc2 = 1 - pow(a->beta2, a->t);
	float b1 = (float)a->beta1, b2 = (float)a->beta2, eps = (float)a->eps;
	float step = (float)(a->lr / bc1), rbc2 = (float)(1 / sqrt(bc2));
	float wd = (float)a->wd, decay = (float)(1 - a->lr * a->wd);
	for (int k = 0; k < ps->n; k++) {
		ms_param *p = ps->p[k];
		for (size_t i = 0; i < p->n; i++) {
			float g = p->g[i];
			if (a->decoupled)
				p->w[i] *= decay;
			else
				g += wd * p->w[i];
			p->m[i] = b1 * p->m[i] + (1 - b1) * g;
			p->v[i] = b2 * p->v[i] + (1 - b2) * g * g;
			p->w[i] -= step * p->m[i] / (sqrtf(p->v[i]) * rbc2 + eps);
		}
	}
}

double ms_params_clip(ms_params *ps, double max_norm)
{
	double s = 0;
	for (int k = 0; k < ps->n; k++)
		for (size_t i = 0; i < ps->p[k]->n; i++)
			s += (double)ps->p[k]->g[i] * ps->p[k]->g[i];
	double norm = sqrt(s);
	if (max_norm > 0 && norm > max_norm) {
		float f = (float)(max_norm / (norm + 1e-6));
		for (int k = 0; k < ps->n; k++)
			for (size_t i = 0; i < ps->p[k]->n; i++)
				ps->p[k]->g[i] *= f;
	}
	return norm;
}

double ms_lr_at(int kind, double base, long step, long total, long warmup)
{
	if (warmup > 0 && step < warmup)
		return base * (step + 1) / warmup;
	double f = total > 0 ? (double)step / total : 0;
	f = f < 0 ? 0 : f > 1 ? 1 : f;
	switch (kind) {
	case MS_LR_COSINE: return base * 0.5 * (1 + cos(M_PI * f));
	case MS_LR_POLY: return base * pow(1 - f, 0.9);
	default: return base;
	}
}

const char *const ms_lr_names[] = { "constant", "cosine", "poly", NULL };

int ms_lr_parse(const char *s)
{
	return ms_name_index(s, ms_lr_names, 3);
}

int ms_params_ema_enable(ms_params *ps)
{
	for (int k = 0; k < ps->n; k++) {
		ms_param *p = ps->p[k];
		if (!p->ema && !(p->ema = p->ema_mem = ms_floats(p->n)))
			return -1;
		memcpy(p->ema, p->w, p->n * sizeof(float));
	}
	return 0;
}

void ms_params_ema_update(ms_params *ps, double decay)
{
	float d = (float)decay;
	for (int k = 0; k < ps->n; k++) {
		ms_param *p = ps->p[k];
		if (p->ema)
			for (size_t i = 0; i < p->n; i++)
				p->ema[i] = d * p->ema[i] + (1 - d) * p->w[i];
	}
}

void ms_params_ema_swap(ms_params *ps)
{
	for (int k = 0; k < ps->n; k++) {
		ms_param *p = ps->p[k];
		if (!p->ema)
			continue;
		float *t = p->w;
		p->w = p->ema;
		p->ema = t;
	}
}
