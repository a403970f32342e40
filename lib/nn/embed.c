/* Sinusoidal time embedding, float32 arithmetic in the order of ref_unet.py. */
#include <math.h>

#include "nn.h"

void ms_timestep_embedding(const float *t, int N, int dim, float *out)
{
	int half = dim / 2;
	float a = (float)-log(10000.0);
	for (int n = 0; n < N; n++)
		for (int i = 0; i < half; i++) {
			float f = expf(a * (float)i / (float)half);
			float arg = t[n] * f;
			out[(size_t)n * dim + i] = (float)cos(arg);
			out[(size_t)n * dim + half + i] = (float)sin(arg);
		}
}
