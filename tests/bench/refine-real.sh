#!/bin/sh
# Real-data run of ms-refine (issue 6): given the segmentor of segment-real.sh, train a
# refiner on the segmentor's prob of the train split, then on the held-out test split
# score the segmentor alone and segmentor + refiner (K samples) and compare them paired
# (tests/bench/paired.py: mean difference, 95% t interval, Wilcoxon; smallest third).
# Usage: tests/bench/refine-real.sh busi|kvasir STEPS [THREADS [OUTDIR [K]]]
# Needs OUTDIR/NAME.ms from segment-real.sh; writes OUTDIR/NAME-refine.{log,ms},
# NAME-test.ms, NAME-base.tsv, NAME-refined.tsv, NAME-paired.txt. Run from the repo root.
set -e
name=$1
steps=${2:?usage: $0 busi|kvasir STEPS [THREADS [OUTDIR [K]]]}
threads=${3:-1}
out=${4:-/tmp/segment-runs}
k=${5:-4}
. "$(dirname "$0")/common.sh"
data=$(bench_data "$name") || { echo "usage: $0 busi|kvasir STEPS [THREADS [OUTDIR [K]]]" >&2; exit 2; }
cd "$(dirname "$0")/../.."
bench_tools "$out/bin-$name-refine" ms-import ms-pick ms-segment ms-refine ms-score
log=$out/$name-refine.log
{
	bench_stamp
	echo "commit $(git rev-parse --short HEAD) steps $steps threads $threads batch 8 width 32 K $k"
} >"$log"
split() {
	ms-import --size 128x128 --mask-dir "$data/masks" "$data/images" |
		ms-pick --ids "pipelines/splits/$name-$1.txt" |
		ms-segment -m "$out/$name.ms" --threads "$threads"
}
start=$(date +%s)
split train | ms-refine train -o "$out/$name-refine.ms" --steps "$steps" --batch 8 \
	--threads "$threads" --save-every 100 2>>"$log"
echo "train seconds $(($(date +%s) - start))" >>"$log"
split test >"$out/$name-test.ms"
start=$(date +%s)
ms-refine -m "$out/$name-refine.ms" --samples "$k" --threads "$threads" \
	<"$out/$name-test.ms" >"$out/$name-refined.ms"
echo "refine seconds $(($(date +%s) - start)) for $(grep -c . "pipelines/splits/$name-test.txt") images" >>"$log"
ms-score --pred pred "$out/$name-test.ms" >"$out/$name-base.tsv"
ms-score --pred pred "$out/$name-refined.ms" >"$out/$name-refined.tsv"
/usr/bin/python3 tests/bench/paired.py "$out/$name-base.tsv" "$out/$name-refined.tsv" \
	"$out/$name-test.ms" >"$out/$name-paired.txt"
cat "$out/$name-paired.txt" >>"$log"
echo "date $(date -u +%FT%TZ) done" >>"$log"
