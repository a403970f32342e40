/* Prompt embedding: hashed bag of tokens, mean, linear projection. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/util.h"
#include "diffusion/text.h"

int ms_text_tokens(const char *s, int buckets, int *tok, int max)
{
	char w[256];
	int n = 0;
	while (s && *s && n < max) {
		size_t l = 0;
		while (*s && !isalnum((unsigned char)*s))
			s++;
		while (*s && isalnum((unsigned char)*s)) {
			if (l + 1 < sizeof w)
				w[l++] = (char)tolower((unsigned char)*s);
			s++;
		}
		if (!l)
			break;
		w[l] = '\0';
		tok[n++] = (int)(ms_hash64(w) % (uint64_t)buckets);
	}
	return n;
}

int ms_text_init(ms_text *t, ms_params *ps, const char *name, int buckets, int dim, int out)
{
	memset(t, 0, sizeof *t);
	if (buckets < 1 || buckets > 1 << 20 || dim < 1 || dim > 4096 || out < 1)
		return ms_error("text: bad embedding size %d x %d -> %d", buckets, dim, out);
	int64_t shape[2] = { buckets, dim };
	char b[96];
	t->buckets = buckets;
	t->dim = dim;
	t->out = out;
	snprintf(b, sizeof b, "%s.proj", name);
	if (!(t->table = ms_param_add(ps, name, "table", 2, shape)) ||
	    ms_linear_init(&t->proj, ps, b, dim, out) < 0)
		return -1;
	ms_param_uniform(ps, t->table, 1.0f);
	return 0;
}

void ms_text_free(ms_text *t)
{
	free(t->ntok);
	free(t->tok);
	free(t->mean);
	free(t->dmean);
	t->ntok = t->tok = NULL;
	t->mean = t->dmean = NULL;
	t->N = 0;
}

int ms_text_plan(ms_text *t, int N)
{
	ms_text_free(t);
	if (!(t->ntok = ms_calloc(N, sizeof *t->ntok)) ||
	    !(t->tok = ms_calloc((size_t)N * MS_TEXT_MAXTOK, sizeof *t->tok)) ||
	    !(t->mean = ms_calloc((size_t)N * t->dim, sizeof *t->mean)) ||
	    !(t->dmean = ms_calloc((size_t)N * t->dim, sizeof *t->dmean))) {
		ms_text_free(t);
		return -1;
	}
	t->N = N;
	return 0;
}

void ms_text_forward(ms_text *t, int N, const char *const *prompt, float *y)
{
	MS_ASSERT(N <= t->N);
	for (int n = 0; n < N; n++) {
		int *tok = t->tok + (size_t)n * MS_TEXT_MAXTOK, k;
		float *m = t->mean + (size_t)n * t->dim;
		k = t->ntok[n] = ms_text_tokens(prompt[n], t->buckets, tok, MS_TEXT_MAXTOK);
		memset(m, 0, t->dim * sizeof *m);
		for (int i = 0; i < k; i++) {
			const float *row = t->table->w + (size_t)tok[i] * t->dim;
			for (int j = 0; j < t->dim; j++)
				m[j] += row[j];
		}
		for (int j = 0; k && j < t->dim; j++)
			m[j] /= (float)k;
	}
	ms_linear_forward(&t->proj, N, t->mean, y, 0);           /* [N,out] */
}

void ms_text_backward(ms_text *t, int N, const float *dy)
{
	ms_linear_backward(&t->proj, N, t->mean, dy, t->dmean, 0);
	for (int n = 0; n < N; n++) {
		int k = t->ntok[n];
		const int *tok = t->tok + (size_t)n * MS_TEXT_MAXTOK;
		const float *dm = t->dmean + (size_t)n * t->dim;
		for (int i = 0; i < k; i++) {
			float *g = t->table->g + (size_t)tok[i] * t->dim;
			for (int j = 0; j < t->dim; j++)
				g[j] += dm[j] / (float)k;
		}
	}
}
