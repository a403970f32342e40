/* Random merging mask: grid geometry, draw order, frequencies, determinism, mixing. */
#include <string.h>

#include "core/ms.h"
#include "image/merge.h"
#include "test.h"

/* every P x P cell (cropped at the border) constant, and equal to the documented draw */
static int grid_ok(const uint8_t *m, int H, int W, int P, double alpha, uint64_t seed,
                   uint64_t stream)
{
	ms_rng r;
	ms_rng_init(&r, seed, stream);
	for (int i = 0; i * P < H; i++)
		for (int j = 0; j * P < W; j++) {
			uint8_t want = ms_rng_uniform(&r) < alpha;
			for (int y = i * P; y < H && y < (i + 1) * P; y++)
				for (int x = j * P; x < W && x < (j + 1) * P; x++)
					if (m[y * W + x] != want)
						return 0;
		}
	return 1;
}

static void test_geometry(void)
{
	static const int sizes[][3] = { { 10, 7, 3 }, { 12, 12, 4 }, { 5, 9, 20 }, { 1, 1, 1 },
	                                { 13, 17, 1 }, { 64, 48, 16 }, { 0, 5, 2 } };
	for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
		int H = sizes[k][0], W = sizes[k][1], P = sizes[k][2];
		uint8_t *m = malloc((size_t)H * W + 1);
		ms_rng r;
		ms_rng_init(&r, 42, k);
		long real = ms_merge_grid(m, H, W, P, 0.5, &r);
		CHECK(real >= 0);
		CHECK(grid_ok(m, H, W, P, 0.5, 42, k));
		long ones = 0, cells = (long)((H + P - 1) / P) * ((W + P - 1) / P);
		for (int i = 0; i < H * W; i++)
			ones += m[i];
		CHECK(real <= cells);
		if (P == 1)
			CHECK(ones == real);
		free(m);
	}
}

static void test_extremes(void)
{
	uint8_t m[30 * 20];
	ms_rng r;
	ms_rng_init(&r, 1, 2);
	CHECK(ms_merge_grid(m, 30, 20, 7, 0.0, &r) == 0);
	for (int i = 0; i < 600; i++)
		CHECK(m[i] == 0);
	CHECK(ms_merge_grid(m, 30, 20, 7, 1.0, &r) == 5 * 3);
	for (int i = 0; i < 600; i++)
		CHECK(m[i] == 1);
	CHECK(ms_merge_grid(m, 30, 20, 0, 0.5, &r) == -1);
	CHECK(ms_merge_grid(m, 30, 20, 4, 1.5, &r) == -1);
	CHECK(ms_merge_grid(m, 30, 20, 4, -0.1, &r) == -1);
	CHECK(ms_merge_grid(m, 30, 20, 4, NAN, &r) == -1);
}

/* the real-cell count over 40,000 cells lies within 2.576 standard deviations */
static void test_frequency(void)
{
	static uint8_t m[200 * 200];
	const double alphas[] = { 0.05, 0.3, 0.6, 0.9 };
	for (int k = 0; k < 4; k++) {
		ms_rng r;
		ms_rng_init(&r, 7, 100 + k);
		long real = ms_merge_grid(m, 200, 200, 1, alphas[k], &r);
		double n = 40000, mean = n * alphas[k], sd = sqrt(n * alphas[k] * (1 - alphas[k]));
		CHECK_NEAR(real, mean, 2.576 * sd);
	}
}

static void test_determinism(void)
{
	uint8_t a[50 * 40], b[50 * 40];
	ms_rng r;
	ms_rng_init(&r, 3, ms_hash64("case_1"));
	ms_merge_grid(a, 50, 40, 5, 0.5, &r);
	ms_rng_init(&r, 3, ms_hash64("case_1"));
	ms_merge_grid(b, 50, 40, 5, 0.5, &r);
	CHECK(!memcmp(a, b, sizeof a));
	ms_rng_init(&r, 3, ms_hash64("case_2"));
	ms_merge_grid(b, 50, 40, 5, 0.5, &r);
	CHECK(memcmp(a, b, sizeof a));
	ms_rng_init(&r, 4, ms_hash64("case_1"));
	ms_merge_grid(b, 50, 40, 5, 0.5, &r);
	CHECK(memcmp(a, b, sizeof a));
}

static void test_patch_default(void)
{
	CHECK(ms_merge_patch_default(384, 384) == 64);   /* the paper's setting */
	CHECK(ms_merge_patch_default(128, 128) == 22);
	CHECK(ms_merge_patch_default(256, 200) == 34);
	CHECK(ms_merge_patch_default(5, 9) == 1);
	CHECK(ms_merge_patch_default(0, 9) == 1);
}

static void test_mix(void)
{
	const uint8_t m[3] = { 1, 0, 1 };
	const float real[6] = { 1, 2, 3, 4, 5, 6 }, synth[6] = { -1, -2, -3, -4, -5, -6 };
	const float want[6] = { 1, -2, 3, 4, -5, 6 };
	float out[6], gr[6], gs[6], g[6] = { .5f, 1, 2, 3, 4, 5 };
	ms_merge_mix(out, real, synth, m, 2, 3);
	CHECK(!memcmp(out, want, sizeof out));
	memcpy(out, real, sizeof out);
	ms_merge_mix(out, out, synth, m, 2, 3);   /* in place */
	CHECK(!memcmp(out, want, sizeof out));
	ms_merge_mix_backward(g, m, 2, 3, gr, gs);
	for (int i = 0; i < 6; i++) {
		CHECK(gr[i] == (m[i % 3] ? g[i] : 0));
		CHECK(gs[i] == (m[i % 3] ? 0 : g[i]));
		CHECK(gr[i] + gs[i] == g[i]);
	}
	ms_merge_mix_backward(g, m, 2, 3, NULL, gs);
	CHECK(gs[1] == 1 && gs[0] == 0);
}

int main(void)
{
	RUN(test_geometry);
	RUN(test_extremes);
	RUN(test_frequency);
	RUN(test_determinism);
	RUN(test_patch_default);
	RUN(test_mix);
	return test_summary("merge");
}
