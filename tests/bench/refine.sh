#!/bin/sh
# Refinement time per 128x128 RGB image (HiDiff refiner, default width 32, T = 10,
# K = 1 and 4 samples as one batch) beside the default segmentor U-Net's forward on the
# same image, in one process, same threads; median over REPS after one warm-up, wall
# and process CPU time. Weights are untrained (time does not depend on them).
# Usage: tests/bench/refine.sh [THREADS [REPS]]   (run from the repository root after make)
set -e
threads=${1:-2}
reps=${2:-5}
. "$(dirname "$0")/common.sh"
cd "$(dirname "$0")/../.."
dir=${TMPDIR:-/tmp}/ms_refine_bench.$$
mkdir -p "$dir"
trap 'rm -rf "$dir"' EXIT
cat >"$dir/b.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "bench.h"
#include "core/threads.h"
#include "models/refine.h"

/* median wall and CPU ms of reps runs of f after one warm-up */
#define TIME(what, reps, stmt) do { double w[64], c[64]; \
	stmt; \
	for (int i_ = 0; i_ < reps; i_++) { double w0 = bench_now(), \
		c0 = bench_cpu(); stmt; \
		w[i_] = 1e3 * (bench_now() - w0); \
		c[i_] = 1e3 * (bench_cpu() - c0); } \
	qsort(w, reps, sizeof *w, bench_cmp_double); qsort(c, reps, sizeof *c, bench_cmp_double); \
	printf("%-44s median %8.1f ms wall  %8.1f ms cpu  (min %.1f)\n", what, w[reps / 2], \
	       c[reps / 2], w[0]); } while (0)

int main(int argc, char **argv)
{
	int threads = ms_threads(atoi(argv[1])), reps = atoi(argv[2]), H = 128, C = 3;
	size_t hw = (size_t)H * H;
	float *img = malloc(C * hw * sizeof(float)), *p = malloc(hw * sizeof(float)),
	      *prob = malloc(hw * sizeof(float)), *unc = malloc(hw * sizeof(float));
	ms_rng r;
	ms_rng_init(&r, 1, 0);
	for (size_t i = 0; i < C * hw; i++)
		img[i] = (float)ms_rng_uniform(&r);
	for (size_t i = 0; i < hw; i++)
		p[i] = (float)ms_rng_uniform(&r);
	ms_unet_cfg cfg;
	ms_unet_cfg_default(&cfg);
	cfg.in_ch = C;
	ms_unet *seg = ms_unet_new(&cfg, 1);
	ms_refiner *ref = ms_refiner_new(C, 32, 10, MS_BBDM_LINEAR, MS_BBDM_BCE, MS_REFINE_DIRECT, 1);
	if (!seg || !ref || ms_unet_plan(seg, 1, H, H, 0) < 0)
		return 1;
	printf("threads %d, 128x128x3, segmentor params %zu, refiner params %zu\n", threads,
	       ms_params_count(ms_unet_params(seg)), ms_params_count(ms_unet_params(ref->net)));
	TIME("segmentor forward (width 32, batch 1)", reps, ms_unet_forward(seg, img, NULL, NULL));
	for (int K = 1; K <= 4; K += 3) {
		char what[64];
		snprintf(what, sizeof what, "refine T=10 K=%d (10 forwards of batch %d)", K, K);
		TIME(what, reps, ms_refiner_run(ref, H, H, img, p, K, 10, MS_BBDM_ANCESTRAL, &r, prob, unc));
	}
	ms_unet_free(seg);
	ms_refiner_free(ref);
	free(img), free(p), free(prob), free(unc);
	return 0;
}
C
bench_cc "$dir/b" "$dir/b.c"
echo "date $(date -u +%FT%TZ) host $(uname -n) cpus $(nproc) uptime:$(uptime)"
"$dir/b" "$threads" "$reps"
echo "uptime after:$(uptime)"
