/* The reverse process (diffusion.h): DDIM steps over a respaced schedule, and RePaint's
 * known-region replacement and resampling jumps (methods.md 1.3) on the same loop. */
#include <math.h>
#include <string.h>

#include "core/util.h"
#include "diffusion/diffusion.h"

int ms_repaint_times(int S, int L, int R, int *times, int cap)
{
	int n = 0, t = S, jumps = L >= 1 && R >= 2;
	/* jumps left at k = 0, L, 2L, ... < S - L; one counter per multiple of L */
	int nj = jumps ? (S - L + L - 1) / L : 0, left[1024];
	if (nj > 1024)
		nj = 1024;
	for (int j = 0; j < nj; j++)
		left[j] = R - 1;
	while (t >= 1) {
		t--;
		if (n < cap)
			times[n] = t;
		n++;
		if (jumps && t % L == 0 && t / L < nj && left[t / L] > 0) {
			left[t / L]--;
			for (int i = 0; i < L; i++) {
				t++;
				if (n < cap)
					times[n] = t;
				n++;
			}
		}
	}
	if (n < cap)
		times[n] = -1;
	return n + 1;
}

int ms_reverse(const ms_reverse_opt *o, const int *times, int ntimes, int cnt, size_t n,
               float *x, ms_rng *rng, float *y, float *z, ms_denoise_fn f, void *ctx)
{
	int S = o->steps, seq[1000];
	if (S < 1 || S > 1000 || S > o->sched->T)
		return ms_error("reverse process: %d steps (1..%d)", S, o->sched->T < 1000 ?
		                o->sched->T : 1000);
	ms_ddim_timesteps(o->sched->T, S, seq);
	const double *abar = o->sched->abar;
#define LEVEL(k) ((k) < 0 ? 1.0 : abar[seq[S - 1 - (k)]])
	for (int i = 0; i + 1 < ntimes; i++) {
		int k = times[i], k1 = times[i + 1];
		double ab = LEVEL(k), ab1 = LEVEL(k1);
		if (k1 > k) {                                   /* up: fresh noise */
			double a = ab > 0 ? sqrt(ab1 / ab) : 0, b = ab > 0 ? sqrt(1 - ab1 / ab) : 1;
			for (int j = 0; j < cnt; j++)
				for (size_t q = 0; q < n; q++) {
					float *v = x + j * n + q;
					*v = (float)(a * *v + b * ms_rng_normal(&rng[j]));
				}
			continue;
		}
		if (f(ctx, seq[S - 1 - k], cnt, x, y) < 0)
			return -1;
		double sigma = ms_ddim_sigma(ab, ab1, o->eta);
		float ka = (float)sqrt(ab1), kb = (float)sqrt(1 - ab1);
		for (int j = 0; j < cnt; j++) {
			float *xj = x + j * n;
			for (size_t q = 0; sigma > 0 && q < n; q++)
				z[q] = ms_rng_normal(&rng[j]);
			ms_ddim_step(xj, y + j * n, o->pred, n, ab, ab1, o->eta, z, o->clip);
			if (!o->known)
				continue;
			for (size_t q = 0; q < n; q++) {
				float e = k1 < 0 ? 0 : ms_rng_normal(&rng[j]);
				if (o->keep[q])
					xj[q] = k1 < 0 ? o->known[q] : ka * o->known[q] + kb * e;
			}
		}
	}
#undef LEVEL
	return 0;
}
