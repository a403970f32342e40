/* Training and forward speed of the default U-Net segmentor (ref_unet.py's "seg" run):
 * batch N of HxH, BCE + soft Dice, Adam lr 1e-4; median over steps after warm-up.
 * Usage: unet_bench [N [H [STEPS [THREADS [TILE [FWD]]]]]]   (TILE: im2col tile in floats,
 * 0 the default; FWD 0: training only) */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <cblas.h>

#include "bench.h"
#include "core/ms.h"
#include "nn/nn.h"

static void report(const char *what, double *t, double *c, int n, int N)
{
	double md = bench_median(t, n), cd = bench_median(c, n);
	printf("%s: min %.1f ms, median %.1f ms -> %.2f img/s (median), %.2f ms/img; "
	       "CPU time median %.1f ms\n", what, t[0] * 1e3, md * 1e3, N / md, md * 1e3 / N,
	       cd * 1e3);
}

int main(int argc, char **argv)
{
	int N = argc > 1 ? atoi(argv[1]) : 8, H = argc > 2 ? atoi(argv[2]) : 128;
	int steps = argc > 3 ? atoi(argv[3]) : 20, warm = 3;
	int threads = ms_threads(argc > 4 ? atoi(argv[4]) : 0);
	if (argc > 5)
		ms_conv2d_tile(atol(argv[5]));
	ms_unet_cfg cfg;
	ms_unet_cfg_default(&cfg);
	ms_unet *u = ms_unet_new(&cfg, 0);
	if (!u || ms_unet_plan(u, N, H, H, 1) < 0)
		die("%s", ms_errmsg());
	size_t n = (size_t)N * H * H;
	float *x = emalloc(n * sizeof *x), *y = emalloc(n * sizeof *y), *d = emalloc(n * sizeof *d);
	ms_rng r;
	ms_rng_init(&r, 1, 0);
	for (size_t i = 0; i < n; i++) {
		x[i] = ms_rng_normal(&r);
		y[i] = ms_rng_uniform(&r) > 0.9;
	}
	ms_adam opt;
	ms_adam_init(&opt, 1e-4, 0, 0);
	ms_params *ps = ms_unet_params(u);
	printf("ms: threads=%d, %s, im2col tile %ld floats, params %zu, planned %.0f MiB\n", threads,
	       openblas_get_corename(), ms_conv2d_tile(0), ms_params_count(ps),
	       ms_unet_planned_bytes(u) / 1048576.0);
	double *t = emalloc((warm + steps) * sizeof *t), *c = emalloc((warm + steps) * sizeof *c);
	double loss = 0;
	for (int s = 0; s < warm + steps; s++) {
		double t0 = bench_now(), c0 = bench_cpu();
		float *out = ms_unet_forward(u, x, NULL, NULL);
		loss = ms_loss_bce(out, y, n, d, 1, 0) + ms_loss_dice(out, y, N, (size_t)H * H, d, 1, 1);
		ms_params_zero_grad(ps);
		ms_unet_backward(u, d);
		ms_adam_step(&opt, ps);
		t[s] = bench_now() - t0;
		c[s] = bench_cpu() - c0;
	}
	char what[128];
	snprintf(what, sizeof what, "ms train segmentor %dx%d bs%d (BCE+Dice, loss %.3f)", H, H, N,
	         loss);
	report(what, t + warm, c + warm, steps, N);
	if (argc > 6 && !atoi(argv[6]))
		steps = warm = 0;
	else if (ms_unet_plan(u, N, H, H, 0) < 0)
		die("%s", ms_errmsg());
	for (int s = 0; s < warm + steps; s++) {
		double t0 = bench_now(), c0 = bench_cpu();
		ms_unet_forward(u, x, NULL, NULL);
		t[s] = bench_now() - t0;
		c[s] = bench_cpu() - c0;
	}
	snprintf(what, sizeof what, "ms forward segmentor %dx%d bs%d", H, H, N);
	if (steps)
		report(what, t + warm, c + warm, steps, N);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("ms peak RSS %.0f MiB\n", ru.ru_maxrss / 1024.0);
	ms_unet_free(u);
	free(x);
	free(y);
	free(d);
	free(t);
	free(c);
	return 0;
}
