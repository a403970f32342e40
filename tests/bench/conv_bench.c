/* 3x3 stride 1 convolutions with and without Winograd (ms_conv2d_winograd), one thread,
 * batch 8, interleaved: per channel pair and image side, the median CPU time of REPS
 * rounds of the forward pass and of the backward pass (dW, db and dx) each way, and their
 * ratios (> 1: Winograd faster). Where lib/nn/conv2d.c's rule (wino) turns it off, both
 * columns time the same code. With f4: F(2x2,3x3) (off) against F(4x4,3x3) (on) for the
 * forward pass and dx, sides 32 to 128 (ms_wino_f4; 4 x 4 is used from 64 on, so at 32
 * both columns time 2 x 2). With all: the rule's choice (off) against Winograd's way
 * forced (on, ms_conv2d_winograd(2)) for the channel pairs the rule leaves out, sides 32
 * to 128. With pairs: bf16 products, their operands rounded by ms_gemm as it packs them
 * (off) against written once as bfloat16 pairs (on, ms_conv2d_pairs: Winograd's F(2x2)
 * and the shifted way), sides 32 to 128; exits 2 where the CPU lacks AVX512_BF16.
 * Usage: conv_bench [REPS [f4|all|pairs]] (tests/bench/conv.sh) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "core/ms.h"
#include "nn/gemm.h"
#include "nn/nn.h"
#include "nn/winograd.h"

/* Winograd's way always (on) or where the rule has it (off) */
static int forced(int on)
{
	return ms_conv2d_winograd(on ? 2 : 1) == 2;
}

static float *randv(size_t n)
{
	float *v = malloc(n * sizeof *v);
	for (size_t i = 0; i < n; i++)
		v[i] = rand() / (float)RAND_MAX - 0.5f;
	return v;
}

int main(int argc, char **argv)
{
	static const int ch[][2] = { { 16, 16 }, { 32, 32 }, { 64, 64 }, { 128, 128 },
		{ 256, 256 }, { 32, 16 }, { 16, 32 }, { 64, 32 }, { 32, 64 }, { 16, 8 }, { 8, 16 },
		{ 16, 1 }, { 16, 4 }, { 32, 4 }, { 3, 16 }, { 4, 32 } };   /* the last five: the
		                                                            * U-Nets' output and
		                                                            * input layers */
	int reps = argc > 1 ? atoi(argv[1]) : 5, N = 8, f4 = argc > 2 && !strcmp(argv[2], "f4");
	int all = argc > 2 && !strcmp(argv[2], "all"), pairs = argc > 2 && !strcmp(argv[2], "pairs");
	const int *side = f4 || all || pairs ? (const int[]){ 32, 64, 128, 0 } :
	                  (const int[]){ 8, 16, 32, 64 };
	int (*use)(int) = f4 ? ms_wino_f4 : all ? forced : pairs ? ms_conv2d_pairs :
	                  ms_conv2d_winograd;
	if (pairs && strcmp(ms_gemm_use_precision("bf16"), "bf16")) {
		fprintf(stderr, "conv_bench: no bf16 products here (AVX512_BF16)\n");
		return 2;
	}
	ms_threads(1);
	printf("cin cout side  fwd_ms_off fwd_ms_on  bwd_ms_off bwd_ms_on  fwd_ratio bwd_ratio\n");
	for (int a = 0; a < 4 && side[a]; a++)
		for (int b = 0; b < (int)(sizeof ch / sizeof *ch); b++) {
			int ci = ch[b][0], co = ch[b][1], H = side[a];
			if ((double)ci * co * H * H > 4.0 * 64 * 64 * 64 * 64)
				continue;        /* 128 and 256 channels at 64x64: too long */
			if ((f4 && (ci < 16 || co < 16)) || (pairs && ci < 16))
				continue;        /* neither way differs there */
			if (all && ci >= 16 && co >= 16 && ci + co > 32)
				continue;        /* the rule's own */
			ms_params ps = { .seed = 1 };
			ms_conv2d c;
			if (ms_conv2d_init(&c, &ps, "c", ci, co, 3, 1) < 0)
				return 1;
			size_t L = (size_t)H * H;
			float *x = randv(N * ci * L), *dy = randv(N * co * L);
			float *y = malloc(N * co * L * sizeof *y), *dx = malloc(N * ci * L * sizeof *dx);
			double t[2][2][64];
			float *ws[2];
			for (int on = 0; on < 2; on++) {
				use(on);
				ws[on] = calloc(ms_conv2d_ws(&c, H, H), sizeof(float));
			}
			for (int r = 0; r < reps && r < 64; r++)
				for (int on = 0; on < 2; on++) {
					use(on);
					double t0 = bench_cpu();
					ms_conv2d_forward(&c, N, H, H, x, ci * L, y, co * L, 0, NULL, ws[on]);
					double t1 = bench_cpu();
					ms_conv2d_backward(&c, N, H, H, x, ci * L, dy, co * L, dx, ci * L, 0,
					                   ws[on]);
					t[on][0][r] = 1e3 * (t1 - t0);
					t[on][1][r] = 1e3 * (bench_cpu() - t1);
				}
			double m[2][2];
			for (int on = 0; on < 2; on++)
				for (int k = 0; k < 2; k++)
					m[on][k] = bench_median(t[on][k], reps < 64 ? reps : 64);
			printf("%3d %4d %4d  %10.3f %9.3f  %10.3f %9.3f  %9.2f %9.2f\n", ci, co, H,
			       m[0][0], m[1][0], m[0][1], m[1][1], m[0][0] / m[1][0], m[0][1] / m[1][1]);
			fflush(stdout);
			free(x), free(dy), free(y), free(dx), free(ws[0]), free(ws[1]);
			ms_params_free(&ps);
		}
	ms_wino_f4(1);
	ms_conv2d_winograd(1);
	ms_conv2d_pairs(1);
	return 0;
}
