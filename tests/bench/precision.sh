#!/bin/sh
# --precision bf16 against fp32 (issue 21), in interleaved rounds of the same binaries
# with MS_PRECISION set one way, then the other: the segmentor (tests/bench/unet_bench.c,
# 128x128 width 32 batch 8: training step and forward pass, CPU time medians) and the
# generator (tests/bench/sample_bench.c: training steps at 64x64 and 128x128, DDIM 50
# steps for 8 images of 64x64, CPU time medians and minima), on THREADS threads, the
# OpenBLAS settings of the environment (the products do not use OpenBLAS on the avx512
# path). Each line names round, precision and measure; the ratios of the medians close
# the log.
# Usage: tests/bench/precision.sh [ROUNDS [STEPS [THREADS]]]   (from the repository root)
set -e
rounds=${1:-3} steps=${2:-5} threads=${3:-1}
. "$(dirname "$0")/common.sh"
cd "$(dirname "$0")/../.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
bench_cc "$dir/unet" tests/bench/unet_bench.c
bench_cc "$dir/sample" tests/bench/sample_bench.c
bench_stamp
echo "commit $(git rev-parse --short HEAD) threads $threads steps $steps; MS_ISA=${MS_ISA:-unset}"
for r in $(seq "$rounds"); do
	for p in fp32 bf16; do
		MS_PRECISION=$p "$dir/unet" 8 128 "$steps" "$threads" 0 1 | sed -n \
			"s/^ms \(train\|forward\) segmentor.*CPU time median \([0-9.]*\) ms/round $r $p seg-\1 \2 ms cpu/p"
		MS_PRECISION=$p "$dir/sample" "$threads" "$steps" | sed -n \
			-e "s/^ms train diffusion\[\([a-z]*\)\] \([0-9x]*\) .*CPU time median \([0-9.]*\) ms.*/round $r $p gen-train-\1-\2 \3 ms cpu/p" \
			-e "s/^ms ddim50 diffusion\[\([a-z]*\)\] 8x64x64 guidance \([0-9]\).*CPU time min \([0-9.]*\) s.*/round $r $p ddim50-\1-g\2 \3 s cpu/p"
	done
done | tee "$dir/log"
echo "medians over rounds, fp32 / bf16:"
awk '{k = $4; v[$3, k, ++n[$3, k]] = $5; keys[k]} END {
	for (k in keys) {
		for (i = 0; i < 2; i++) {
			p = i ? "bf16" : "fp32"; m = n[p, k]
			for (a = 1; a <= m; a++) x[a] = v[p, k, a]
			for (a = 1; a <= m; a++) for (b = a + 1; b <= m; b++) if (x[b] < x[a]) { t = x[a]; x[a] = x[b]; x[b] = t }
			med[i] = m % 2 ? x[(m + 1) / 2] : (x[m / 2] + x[m / 2 + 1]) / 2
		}
		printf "%-26s fp32 %9.1f bf16 %9.1f ratio %.2f\n", k, med[0], med[1], med[0] / med[1]
	}
}' "$dir/log" | sort
echo "load after $(cut -d' ' -f1-3 /proc/loadavg)"
