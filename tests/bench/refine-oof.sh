#!/bin/sh
# The refiner recipe of ms-refine(1) on a held-out split, at 64x64 (issue 6): a segmentor
# on the whole train split (the one scored) and FOLDS more, each on the train split less
# one fold and giving the priors of that fold (held-out-fold priors); a refiner with
# --output residual learns from those, a tenth of them held out to keep the weights of
# the best validation Dice (--val-fraction 0.1 --best, checked every 40 steps and before
# the first); on SPLIT (test, or val to choose without touching the test split) the
# segmentor alone and segmentor + refiner (K samples) are compared paired
# (tests/bench/paired.py, also for the smallest third).
# Usage: tests/bench/refine-oof.sh busi|kvasir [OUTDIR [K [REFINE_STEPS [FOLDS]]]]
#   K 16, REFINE_STEPS 800, FOLDS 2.
# Environment: POSTERIOR (ms-refine train --posterior, default ancestral), SAMPLER
# (ms-refine --sampler, default the model's posterior), SPLIT (test or val, default test).
# Everything width 16, batch 8, seed 1, one thread (segmentors two side by side). Writes
# OUTDIR/NAME-oof.log and the streams, models and tables beside it; segmentors, priors
# and refiners already in OUTDIR are reused, so runs of other POSTERIOR, SAMPLER or
# SPLIT share them.
set -e
name=$1
out=${2:-/tmp/refine-oof}
k=${3:-16}
steps=${4:-800}
folds=${5:-2}
post=${POSTERIOR:-ancestral}
split=${SPLIT:-test}
. "$(dirname "$0")/common.sh"
data=$(bench_data "$name") || { echo "usage: $0 busi|kvasir [OUTDIR [K [REFINE_STEPS [FOLDS]]]]" >&2; exit 2; }
cd "$(dirname "$0")/../.."
bench_tools "$out/bin" ms-import ms-pick ms-segment ms-refine ms-score
o=$out/$name
log=$o-oof.log
{
	bench_stamp
	echo "commit $(git rev-parse --short HEAD) K $k refine steps $steps folds $folds" \
		"posterior $post sampler ${SAMPLER:-model} split $split"
} >>"$log"
[ -s "$o-all.ms" ] ||
	ms-import --size 64x64 --mask-dir "$data/masks" "$data/images" >"$o-all.ms"
seg() {   # MODEL IDS
	[ -s "$1" ] && return 0
	ms-pick --ids "$2" <"$o-all.ms" | ms-segment train -o "$1.tmp" --steps 500 --width 16 \
		--batch 8 --seed 1 --threads 1 --save-every 0 2>"$1.log"
	mv "$1.tmp" "$1"
}
start=$(date +%s)
seg "$o-seg.ms" "pipelines/splits/$name-train.txt" &
for i in $(seq "$folds"); do
	awk -v i="$i" -v f="$folds" 'NR % f == i % f' "pipelines/splits/$name-train.txt" \
		>"$o-fold$i.txt"
	awk -v i="$i" -v f="$folds" 'NR % f != i % f' "pipelines/splits/$name-train.txt" \
		>"$o-rest$i.txt"
	seg "$o-seg$i.ms" "$o-rest$i.txt" &
	if [ $((i % 2)) = 1 ]; then wait; fi
done
wait
if [ ! -s "$o-oof.ms" ]; then
	for i in $(seq "$folds"); do
		ms-pick --ids "$o-fold$i.txt" <"$o-all.ms" | ms-segment -m "$o-seg$i.ms" --threads 1
	done >"$o-oof.ms.tmp"
	mv "$o-oof.ms.tmp" "$o-oof.ms"
fi
r=$o-$post
if [ ! -s "$r-best.ms" ]; then
	ms-refine train -o "$r-refine.ms" --output residual --posterior "$post" --steps "$steps" \
		--lr 3e-3 --width 16 --batch 8 --seed 1 --threads 1 --save-every 0 --report 40 \
		--val-fraction 0.1 --best "$r-best.ms.tmp" <"$o-oof.ms" 2>"$r-refine.log"
	mv "$r-best.ms.tmp" "$r-best.ms"
	echo "train seconds $(($(date +%s) - start))" >>"$log"
fi
grep "best" "$r-refine.log" | tail -1 >>"$log"
ms-pick --ids "pipelines/splits/$name-$split.txt" <"$o-all.ms" |
	ms-segment -m "$o-seg.ms" --threads 1 >"$o-$split.ms"
t=$r-${SAMPLER:-model}-$split
start=$(date +%s)
ms-refine -m "$r-best.ms" --samples "$k" ${SAMPLER:+--sampler "$SAMPLER"} --threads 1 \
	<"$o-$split.ms" >"$t.ms"
echo "refine seconds $(($(date +%s) - start))" >>"$log"
ms-score --pred pred <"$o-$split.ms" >"$o-$split-base.tsv"
ms-score --pred pred <"$t.ms" >"$t.tsv"
/usr/bin/python3 tests/bench/paired.py "$o-$split-base.tsv" "$t.tsv" "$o-$split.ms" \
	>"$t-paired.txt" 2>/dev/null
cat "$t-paired.txt" >>"$log"
echo "date $(date -u +%FT%TZ) done" >>"$log"
