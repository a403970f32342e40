/* DiffBoost's random merging mask: grid drawing and block mixing. */
#include <string.h>

#include "core/rng.h"
#include "core/util.h"
#include "image/merge.h"

int ms_merge_patch_default(int H, int W)
{
	int s = H < W ? H : W, p = s / 6 + (s % 6 != 0);
	return p > 1 ? p : 1;
}

long ms_merge_grid(uint8_t *out, int H, int W, int P, double alpha, ms_rng *rng)
{
	if (H < 0 || W < 0 || P < 1)
		return ms_error("merge grid: invalid size %dx%d or patch %d", W, H, P);
	if (!(alpha >= 0 && alpha <= 1))
		return ms_error("merge grid: alpha %g outside [0,1]", alpha);
	int gh = H / P + (H % P != 0), gw = W / P + (W % P != 0);
	long real = 0;
	for (int i = 0; i < gh; i++) {
		int y0 = i * P, y1 = H - y0 < P ? H : y0 + P;
		uint8_t *row = out + (size_t)y0 * W;
		for (int j = 0; j < gw; j++) {
			int x0 = j * P, x1 = W - x0 < P ? W : x0 + P;
			uint8_t v = ms_rng_uniform(rng) < alpha;
			real += v;
			memset(row + x0, v, (size_t)(x1 - x0));
		}
		for (int y = y0 + 1; y < y1; y++)   /* the cell row is constant down its height */
			memcpy(out + (size_t)y * W, row, (size_t)W);
	}
	return real;
}

void ms_merge_mix(float *out, const float *real, const float *synth, const uint8_t *m,
                  size_t C, size_t hw)
{
	for (size_t c = 0; c < C; c++)
		for (size_t i = 0; i < hw; i++)
			out[c * hw + i] = m[i] ? real[c * hw + i] : synth[c * hw + i];
}

void ms_merge_mix_backward(const float *g, const uint8_t *m, size_t C, size_t hw,
                           float *g_real, float *g_synth)
{
	for (size_t c = 0; c < C; c++)
		for (size_t i = 0; i < hw; i++) {
			float v = g[c * hw + i];
			if (g_real)
				g_real[c * hw + i] = m[i] ? v : 0;
			if (g_synth)
				g_synth[c * hw + i] = m[i] ? 0 : v;
		}
}
