/* The numerical error of a 3x3 convolution's forward pass on each path (issue 21: why
 * bf16 products keep Winograd's 2 x 2 tile): relative RMS error of the output against a
 * direct sum in double, for fp32 and bf16 products, direct (im2col), Winograd's default
 * tile and, in bf16, F(4x4,3x3) forced (ms_wino_f4(2)). Inputs N(0,1), the layer's own
 * initialisation, batch 2, one thread.
 * Usage: wino_error CHANNELS SIDE   (cin = cout = CHANNELS, SIDE x SIDE images) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ms.h"
#include "core/rng.h"
#include "nn/gemm.h"
#include "nn/nn.h"
#include "nn/winograd.h"

static double rel_rms(const float *y, const double *ref, size_t n)
{
	double e = 0, s = 0;
	for (size_t i = 0; i < n; i++) {
		e += (y[i] - ref[i]) * (y[i] - ref[i]);
		s += ref[i] * ref[i];
	}
	return sqrt(e / s);
}

int main(int argc, char **argv)
{
	ms_setprog(argv);
	if (argc != 3)
		die("usage: wino_error CHANNELS SIDE");
	int C = atoi(argv[1]), H = atoi(argv[2]), N = 2;
	if (C < 1 || H < 1)
		die("usage: wino_error CHANNELS SIDE");
	ms_threads(1);
	ms_params ps = { 0 };
	ps.seed = 3;
	ms_conv2d c;
	if (ms_conv2d_init(&c, &ps, "c", C, C, 3, 1) < 0)
		die("%s", ms_errmsg());
	size_t hw = (size_t)H * H, n = (size_t)N * C * hw;
	float *x = emalloc(n * sizeof *x), *y = emalloc(n * sizeof *y);
	double *ref = emalloc(n * sizeof *ref);
	ms_rng r;
	ms_rng_init(&r, 7, 0);
	for (size_t i = 0; i < n; i++)
		x[i] = ms_rng_normal(&r);
	for (int b = 0; b < N; b++)
		for (int o = 0; o < C; o++)
			for (int i = 0; i < H; i++)
				for (int j = 0; j < H; j++) {
					double s = c.b->w[o];
					for (int ci = 0; ci < C; ci++)
						for (int a = 0; a < 9; a++) {
							int ii = i + a / 3 - 1, jj = j + a % 3 - 1;
							if (ii >= 0 && jj >= 0 && ii < H && jj < H)
								s += (double)c.w->w[((size_t)o * C + ci) * 9 + a] *
								     x[(size_t)(b * C + ci) * hw + (size_t)ii * H + jj];
						}
					ref[(size_t)(b * C + o) * hw + (size_t)i * H + j] = s;
				}
	static const struct { const char *name, *prec; int wino, f4; } path[] = {
		{ "direct", "fp32", 0, 1 }, { "winograd", "fp32", 1, 1 }, { "direct", "bf16", 0, 1 },
		{ "winograd", "bf16", 1, 1 }, { "winograd F(4x4) forced", "bf16", 1, 2 } };
	for (int k = 0; k < 5; k++) {
		if (strcmp(ms_gemm_use_precision(path[k].prec), path[k].prec))
			continue;          /* no AVX512_BF16 here */
		ms_conv2d_winograd(path[k].wino);
		ms_wino_f4(path[k].f4);
		float *ws = ecalloc(ms_conv2d_ws(&c, H, H), sizeof *ws);
		ms_conv2d_forward(&c, N, H, H, x, C * hw, y, C * hw, 0, NULL, ws);
		printf("channels %3d side %3d %s %-24s tile %d: relative RMS error %.2e\n", C, H,
		       path[k].prec, path[k].name, ms_wino_m(&c, H), rel_rms(y, ref, n));
		free(ws);
	}
	ms_wino_f4(1);
	ms_conv2d_winograd(1);
	ms_gemm_use_precision("fp32");
	free(x), free(y), free(ref);
	ms_params_free(&ps);
	return 0;
}
