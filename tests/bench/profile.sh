#!/bin/sh
# Where a training step of the default U-Net segmentor (128x128 batch 8, as unet.sh) spends
# its time: perf record over STEPS steps after the warm-up, the symbols above 0.5% of the
# samples, and the minor page faults of two run lengths (equal: no page is first touched
# after the warm-up, so every buffer is allocated once).
# Usage: tests/bench/profile.sh [THREADS [STEPS]]   (repository root, after make; needs perf)
set -e
threads=${1:-1} steps=${2:-12}
. "$(dirname "$0")/common.sh"
cd "$(dirname "$0")/../.."
bench_build unet_bench
command -v perf >/dev/null || { echo "$0: perf is not installed" >&2; exit 1; }
data=${TMPDIR:-/tmp}/ms_profile.$$
trap 'rm -f "$bin" "$data"' EXIT
perf record -q -o "$data" "$bin" 8 128 "$steps" "$threads" 0 0 | grep 'train segmentor'
perf report -i "$data" --no-children --sort symbol --percent-limit 0.5 --stdio 2>/dev/null |
	grep -E '^ +[0-9.]+%'
for s in 2 $((steps + 2)); do
	/usr/bin/time -f "steps $s: minor page faults %R" "$bin" 8 128 "$s" "$threads" 0 0 2>&1 |
		grep faults
done
