#!/bin/bash
# Does --precision bf16 cost quality (issue 21)? tests/bench/fewlabel.sh twice, on the same
# data, seeds and arms, with MS_PRECISION=fp32 and bf16 side by side (OUTDIR/fp32 and
# OUTDIR/bf16, one training at a time each), then every arm's test-split scores paired,
# bf16 - fp32 (tests/bench/paired.py over the seeds' per-image means), and each seed's
# best validation Dice. Resumable, as fewlabel.sh is.
# Usage: tests/bench/precision-quality.sh busi|kvasir N SEEDS STEPS OUTDIR
#   (from the repository root; ARMS, default strong2x, and the rest of fewlabel.sh's
#   environment pass through)
set -e
[ $# -eq 5 ] || { echo "usage: $0 busi|kvasir N SEEDS STEPS OUTDIR" >&2; exit 2; }
set_=$1 n=$2 seeds=$3 steps=$4 out=$(mkdir -p "$5" && cd "$5" && pwd)
arms=${ARMS:-strong2x}
cd "$(dirname "$0")/../.."
for p in fp32 bf16; do
	mkdir -p "$out/$p"
	MS_PRECISION=$p JOBS=1 ARMS=$arms tests/bench/fewlabel.sh "$set_" "$n" "$seeds" "$steps" \
		"$out/$p" >"$out/$p.log" 2>&1 &
done
wait
for a in $arms; do
	echo "== arm $a, $set_ N = $n, seeds 1-$seeds: bf16 against fp32"
	for p in fp32 bf16; do
		grep "^segmentor $a seed" "$out/$p/fewlabel.log" | sed "s/^/$p: /"
	done
	list() { seq -f "$out/$1/score-$a-%g.tsv" 1 "$seeds" | paste -sd,; }
	/usr/bin/python3 tests/bench/paired.py "$(list fp32)" "$(list bf16)" "$out/fp32/test.ms"
done
