#!/bin/sh
# Real-data run of ms-segment: train on the fixed train split of BUSI or Kvasir-SEG at
# 128x128, predict the held-out test split and score it (pipelines/splits/README).
# Usage: tests/bench/segment-real.sh busi|kvasir [SECONDS [THREADS [OUTDIR]]]
# SECONDS: wall-clock training budget (ms-segment --time; the cosine schedule runs on
# the fraction of the budget spent).
# Writes OUTDIR/NAME.log (the training curve), NAME.ms (model), NAME-score.tsv; nothing
# is tuned on the test split. Run from the repository root after make.
set -e
name=$1
budget=${2:-1500}
threads=${3:-1}
out=${4:-/tmp/segment-runs}
. "$(dirname "$0")/common.sh"
data=$(bench_data "$name") || { echo "usage: $0 busi|kvasir [SECONDS [THREADS [OUTDIR]]]" >&2; exit 2; }
cd "$(dirname "$0")/../.."
bench_tools "$out/bin-$name" ms-import ms-pick ms-segment ms-score
log=$out/$name.log
{
	bench_stamp
	echo "commit $(git rev-parse --short HEAD) budget ${budget}s threads $threads batch 8 width 32"
} >"$log"
start=$(date +%s)
ms-import --size 128x128 --mask-dir "$data/masks" "$data/images" |
	ms-pick --ids "pipelines/splits/$name-train.txt" |
	ms-segment train -o "$out/$name.ms" --time "$budget" --batch 8 --width 32 \
		--threads "$threads" --report 20 --save-every 100 2>>"$log"
echo "train seconds $(($(date +%s) - start))" >>"$log"
ms-import --size 128x128 --mask-dir "$data/masks" "$data/images" |
	ms-pick --ids "pipelines/splits/$name-test.txt" |
	ms-segment -m "$out/$name.ms" --threads "$threads" |
	ms-score >"$out/$name-score.tsv"
echo "date $(date -u +%FT%TZ) done" >>"$log"
head -1 "$out/$name-score.tsv" >>"$log"
grep -E '^(mean|std|median|n)' "$out/$name-score.tsv" >>"$log"
