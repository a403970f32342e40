/* DiffBoost's random merging mask: a grid of Bernoulli(alpha) cells of P x P pixels,
 * 1 = take the real block, 0 = take the synthetic one (man ms-merge-mask(1)). */
#ifndef MS_MERGE_H
#define MS_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"

/* the paper's patch size as a fraction of the image: ceil(min(H,W) / 6), at least 1 */
int ms_merge_patch_default(int H, int W);

/* Fill out[H*W] with the upsampled grid: ceil(H/P) x ceil(W/P) cells drawn in row-major
 * order, cell (i,j) = 1 when the (i*gw+j)-th ms_rng_uniform() < alpha; cell (i,j) covers
 * rows i*P .. min(H,(i+1)*P)-1 and columns j*P .. min(W,(j+1)*P)-1 (the last row and
 * column of cells are cropped at the border). Returns the number of real cells, or -1. */
long ms_merge_grid(uint8_t *out, int H, int W, int P, double alpha, ms_rng *rng);

/* out = M * real + (1 - M) * synth for C planes of hw values sharing the mask m[hw];
 * out may alias real or synth. */
void ms_merge_mix(float *out, const float *real, const float *synth, const uint8_t *m,
                  size_t C, size_t hw);

/* the gradient of ms_merge_mix: g_real = M * g, g_synth = (1 - M) * g (either may be NULL) */
void ms_merge_mix_backward(const float *g, const uint8_t *m, size_t C, size_t hw,
                           float *g_real, float *g_synth);

#endif
