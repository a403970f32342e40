#!/bin/sh
# The mission's yardstick for a generator: does training on real + synthetic images
# raise a segmentor's Dice on held-out real images? BUSI at SIZE (train/test splits of
# pipelines/splits), N synthetic images per train image from GENMODEL (DDIM 20, seed 1),
# then per seed one segmentor on real images only (--synthetic ignore) and one on real +
# synthetic (--synthetic mix, the random merging mask), same steps and seed; both scored
# on the test split and compared paired, per-image means over the seeds
# (tests/bench/paired.py).
# Usage: tests/bench/augment-real.sh GENMODEL [SEEDS [STEPS [OUTDIR [N [SIZE]]]]]
#   SEEDS: how many seeds, 1..SEEDS (3); STEPS: segmentor steps (500); N: 2; SIZE 64x64.
# Segmentors: width 16, batch 8, one thread each, the two of a seed side by side.
# Writes OUTDIR/augment.log, the streams, checkpoints and score tables. Run from the
# repository root.
set -e
gen=${1:?usage: $0 GENMODEL [SEEDS [STEPS [OUTDIR [N [SIZE]]]]]}
seeds=${2:-3}
steps=${3:-500}
out=${4:-/tmp/augment-runs}
n=${5:-2}
size=${6:-64x64}
. "$(dirname "$0")/common.sh"
data=$(bench_data busi)
case $gen in /*) ;; *) gen=$PWD/$gen ;; esac
cd "$(dirname "$0")/../.."
bench_tools "$out/bin" ms-import ms-pick ms-edges ms-sample ms-segment ms-score
log=$out/augment.log
{
	bench_stamp
	echo "commit $(git rev-parse --short HEAD) generator $gen n $n size $size seeds $seeds steps $steps"
} >"$log"
ms-import --size "$size" --mask-dir "$data/masks" --prompt "breast ultrasound" "$data/images" \
	>"$out/all.ms"
ms-pick --ids pipelines/splits/busi-train.txt <"$out/all.ms" | ms-edges --method diffboost \
	>"$out/train.ms"
ms-pick --ids pipelines/splits/busi-test.txt <"$out/all.ms" >"$out/test.ms"
start=$(date +%s)
ms-sample -m "$gen" -n "$n" --steps 20 --seed 1 --threads 2 <"$out/train.ms" >"$out/train-syn.ms"
echo "sample seconds $(($(date +%s) - start))" >>"$log"
one() {   # SEED MODE
	ms-segment train -o "$out/seg-$2-$1.ms" --steps "$steps" --width 16 --batch 8 --seed "$1" \
		--threads 1 --synthetic "$2" --save-every 0 <"$out/train-syn.ms" 2>"$out/seg-$2-$1.log"
	ms-segment -m "$out/seg-$2-$1.ms" --threads 1 <"$out/test.ms" |
		ms-score --pred pred >"$out/score-$2-$1.tsv"
}
a= b=
for s in $(seq "$seeds"); do
	one "$s" ignore & one "$s" mix
	wait
	a=$a${a:+,}$out/score-ignore-$s.tsv
	b=$b${b:+,}$out/score-mix-$s.tsv
done
/usr/bin/python3 tests/bench/paired.py "$a" "$b" "$out/test.ms" >"$out/paired.txt"
cat "$out/paired.txt" >>"$log"
echo "date $(date -u +%FT%TZ) done" >>"$log"
