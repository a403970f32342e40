/* Prompt embedding without a pretrained text encoder (methods.md 1.1): the prompt is
 * lower-cased and split on non-alphanumerics; each token is hashed (FNV-1a, ms_hash64)
 * into one of B buckets, a row of a learned table [B,D]; the rows are averaged and
 * projected D -> out by a linear layer. The empty prompt (no tokens) averages to the
 * zero vector, so its embedding is the projection's bias: a learned null embedding. */
#ifndef MS_TEXT_H
#define MS_TEXT_H

#include "nn/nn.h"

#define MS_TEXT_MAXTOK 64         /* tokens per prompt; more are ignored */

typedef struct {
	int buckets, dim, out;
	ms_param *table;              /* "<name>.table" [buckets, dim] */
	ms_linear proj;               /* "<name>.proj" dim -> out */
	/* planned for a batch of N prompts */
	int N;
	int *ntok, *tok;              /* [N], [N, MS_TEXT_MAXTOK] */
	float *mean, *dmean;          /* [N, dim] */
} ms_text;

/* tokens of s: bucket indices of its lower-cased alphanumeric runs, at most max; returns
 * the count */
int ms_text_tokens(const char *s, int buckets, int *tok, int max);
/* adds the parameters to ps (table uniform in [-1,1], projection as ms_linear) */
int ms_text_init(ms_text *t, ms_params *ps, const char *name, int buckets, int dim, int out);
int ms_text_plan(ms_text *t, int N);
void ms_text_free(ms_text *t);    /* the plan; parameters belong to ps */
/* y [N,out] = proj(mean of the token rows of prompt[n]); NULL or "" = the empty prompt */
void ms_text_forward(ms_text *t, int N, const char *const *prompt, float *y);
/* after ms_text_forward of the same prompts: accumulate parameter gradients from dy */
void ms_text_backward(ms_text *t, int N, const float *dy);

#endif
