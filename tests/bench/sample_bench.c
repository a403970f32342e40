/* Speed of ms-sample's generator beside ref_unet.py's "train" and "ddim" sections:
 * a training step as ms-sample train takes it (batch assembly, noising, forward, backward,
 * prompt embedding, gradient clipping, Adam, EMA) at 64x64 and 128x128, batch 8, without
 * and with attention; DDIM 50 steps for 8 images of 64x64, guidance 1 (one forward of 8
 * per step, as ref_unet.py's ddim_sample) and guidance 9 (two branches: 16 per step).
 * The model: grey image + one condition channel, width 32, mult 1,2,4 (ref_unet.py's).
 * Usage: sample_bench [THREADS [STEPS]] */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench.h"
#include "core/ms.h"
#include "diffusion/generator.h"
#include "io/stream.h"

static ms_gen *model(int attn, int H)
{
	ms_gen_cfg c;
	ms_gen_cfg_default(&c);
	c.unet.attn = attn;
	c.H = c.W = H;
	ms_gen *g = ms_gen_new(&c, 1);
	if (!g)
		die("%s", ms_errmsg());
	return g;
}

static void train(int attn, int H, int steps)
{
	int N = 8, warm = 3;
	size_t hw = (size_t)H * H;
	ms_gen *g = model(attn, H);
	ms_gen_data *d = ms_gen_data_new(1, 0, H, H);
	float *img = emalloc(hw * sizeof *img), *cond = emalloc(hw * sizeof *cond);
	float *x0 = emalloc(N * hw * sizeof *x0), *cb = emalloc(N * hw * sizeof *cb);
	ms_rng r;
	ms_rng_init(&r, 2, 0);
	for (int k = 0; k < 16; k++) {
		for (size_t i = 0; i < hw; i++) {
			img[i] = (float)ms_rng_uniform(&r);
			cond[i] = ms_rng_uniform(&r) > 0.9;
		}
		if (ms_gen_data_add(d, img, 1, NULL, cond, "breast ultrasound") < 0)
			die("%s", ms_errmsg());
	}
	ms_adam a;
	ms_adam_init(&a, 1e-4, 0, 0);
	ms_gen_train_opt o = { 0.1, 1.0, 0.999 };
	double *t = emalloc((warm + steps) * sizeof *t), *c = emalloc((warm + steps) * sizeof *c);
	double loss = 0;
	for (int s = 0; s < warm + steps; s++) {
		double t0 = bench_now(), c0 = bench_cpu();
		ms_rng_init(&r, 1, (uint64_t)s);
		const char *p = ms_gen_data_batch(d, &r, N, 1, x0, cb);
		loss = ms_gen_train_step(g, &a, &o, N, H, H, x0, cb, p, &r);
		t[s] = bench_now() - t0;
		c[s] = bench_cpu() - c0;
	}
	qsort(t + warm, steps, sizeof *t, bench_cmp_double);
	qsort(c + warm, steps, sizeof *c, bench_cmp_double);
	double md = t[warm + steps / 2];
	printf("ms train diffusion[%s] %dx%d bs8: step min %.1f ms, median %.1f ms -> %.1f img/s "
	       "(median), %.1f img/s (best); loss %.3f; CPU time median %.1f ms\n",
	       attn ? "attn" : "noattn", H, H, t[warm] * 1e3, md * 1e3, N / md, N / t[warm], loss,
	       c[warm + steps / 2] * 1e3);
	free(t);
	free(c);
	free(img);
	free(cond);
	free(x0);
	free(cb);
	ms_gen_data_free(d);
	ms_gen_free(g);
}

static void ddim(int attn, double w, int runs)
{
	int n = 8, H = 64;
	size_t hw = (size_t)H * H;
	ms_gen *g = model(attn, H);
	float *cond = emalloc(hw * sizeof *cond), *out = emalloc(n * hw * sizeof *out);
	ms_rng r[8];
	ms_rng_init(&r[0], 3, 0);
	for (size_t i = 0; i < hw; i++)
		cond[i] = ms_rng_uniform(&r[0]) > 0.9;
	ms_gen_sample_opt o = { 2, w == 1 ? 8 : 16, 0, w };
	double best = 1e9, sum = 0, cbest = 1e9;
	for (int k = -1; k < runs; k++) {      /* k = -1: warm-up with 2 steps */
		for (int j = 0; j < n; j++)
			ms_rng_init(&r[j], 4, (uint64_t)j);
		double t0 = bench_now(), c0 = bench_cpu();
		if (ms_gen_sample(g, &o, H, H, cond, "breast ultrasound", n, r, out) < 0)
			die("%s", ms_errmsg());
		double dt = bench_now() - t0, dc = bench_cpu() - c0;
		if (k >= 0) {
			best = dt < best ? dt : best;
			cbest = dc < cbest ? dc : cbest;
			sum += dt;
		}
		o.steps = 50;
	}
	printf("ms ddim50 diffusion[%s] 8x64x64 guidance %g (%d per forward): min %.2f s, mean "
	       "%.2f s (%.0f ms/img best); planned %.0f MiB; CPU time min %.2f s\n",
	       attn ? "attn" : "noattn", w, o.batch, best, sum / runs, best / n * 1e3,
	       ms_gen_planned_bytes(g) / 1048576.0, cbest);
	free(cond);
	free(out);
	ms_gen_free(g);
}

int main(int argc, char **argv)
{
	int threads = ms_threads(argc > 1 ? atoi(argv[1]) : 2);
	int steps = argc > 2 ? atoi(argv[2]) : 20, runs = steps < 10 ? 1 : 3;
	printf("ms: threads=%d\n", threads);
	for (int attn = 0; attn < 2; attn++)
		for (int H = 64; H <= 128; H *= 2)
			train(attn, H, steps);
	for (int attn = 0; attn < 2; attn++) {
		ddim(attn, 1, runs);
		ddim(attn, 9, runs);
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("ms peak RSS %.0f MiB\n", ru.ru_maxrss / 1024.0);
	return 0;
}
