#!/bin/sh
# The refiner recipe of ms-refine(1) on a held-out split, at 64x64 (issue 6): a segmentor
# on the whole train split (the one scored) and FOLDS more, each on the train split less
# one fold and giving the priors of that fold (held-out-fold priors); a refiner with
# --output residual learns from those, a tenth of them held out to keep the weights of
# the best validation Dice (--val-fraction 0.1 --best, checked every 40 steps and before
# the first); on the test split the segmentor alone and segmentor + refiner (K samples)
# are compared paired (tests/bench/paired.py, also for the smallest third).
# Usage: tests/bench/refine-oof.sh busi|kvasir [OUTDIR [K [REFINE_STEPS [FOLDS]]]]
#   K 16, REFINE_STEPS 800, FOLDS 2.
# Everything width 16, batch 8, seed 1, one thread (segmentors two side by side). Writes
# OUTDIR/NAME-oof.log and the streams, models and tables beside it.
set -e
name=$1
out=${2:-/tmp/refine-oof}
k=${3:-16}
steps=${4:-800}
folds=${5:-2}
. "$(dirname "$0")/common.sh"
data=$(bench_data "$name") || { echo "usage: $0 busi|kvasir [OUTDIR [K [REFINE_STEPS [FOLDS]]]]" >&2; exit 2; }
cd "$(dirname "$0")/../.."
bench_tools "$out/bin" ms-import ms-pick ms-segment ms-refine ms-score
o=$out/$name
log=$o-oof.log
{
	echo "date $(date -u +%FT%TZ) host $(uname -n) cpus $(nproc) load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "commit $(git rev-parse --short HEAD) K $k refine steps $steps folds $folds"
} >"$log"
ms-import --size 64x64 --mask-dir "$data/masks" "$data/images" >"$o-all.ms"
seg() {   # MODEL IDS
	ms-pick --ids "$2" <"$o-all.ms" | ms-segment train -o "$1" --steps 500 --width 16 \
		--batch 8 --seed 1 --threads 1 --save-every 0 2>"$1.log"
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
for i in $(seq "$folds"); do
	ms-pick --ids "$o-fold$i.txt" <"$o-all.ms" | ms-segment -m "$o-seg$i.ms" --threads 1
done >"$o-oof.ms"
ms-refine train -o "$o-refine.ms" --output residual --steps "$steps" --lr 3e-3 --width 16 \
	--batch 8 --seed 1 --threads 1 --save-every 0 --report 40 --val-fraction 0.1 \
	--best "$o-best.ms" <"$o-oof.ms" 2>"$o-refine.log"
echo "train seconds $(($(date +%s) - start))" >>"$log"
ms-pick --ids "pipelines/splits/$name-test.txt" <"$o-all.ms" |
	ms-segment -m "$o-seg.ms" --threads 1 >"$o-test.ms"
ms-refine -m "$o-best.ms" --samples "$k" --threads 1 <"$o-test.ms" >"$o-refined.ms"
ms-score --pred pred <"$o-test.ms" >"$o-base.tsv"
ms-score --pred pred <"$o-refined.ms" >"$o-refined.tsv"
/usr/bin/python3 tests/bench/paired.py "$o-base.tsv" "$o-refined.tsv" "$o-test.ms" \
	>"$o-paired.txt" 2>/dev/null
cat "$o-paired.txt" >>"$log"
echo "date $(date -u +%FT%TZ) done" >>"$log"
