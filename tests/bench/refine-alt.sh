#!/bin/bash
# HiDiff's alternate-collaborative training (ms-refine train --alternate, issue 22)
# against the segmentor trained alone as long. Per seed s, on the train split less the
# validation split (pipelines/splits/NAME-val.txt), at SIZE:
#   pre   a segmentor trained PRE steps (ms-segment train, seed s, its last weights);
#   alt   from it, ALT alternate iterations: a refiner step on its priors, then a step of
#         the segmentor on its own loss + LAMBDA x the refiner's diffusion loss
#         (--segmentor-out: the segmentor it leaves);
#   ctl   the control: the same segmentor trained PRE + ALT steps alone, the weights of
#         its best validation Dice kept;
# then on SPLIT (test, or val to choose without touching the test split) ctl alone, alt
# alone and alt + its refiner (K samples averaged), compared paired over the per-image
# means of the seeds (tests/bench/paired.py, the smallest third by area apart).
# Usage: tests/bench/refine-alt.sh busi|kvasir [OUTDIR [SEEDS [PRE [ALT [SIZE]]]]]
#   SEEDS 3, PRE 1500, ALT 1500, SIZE 64x64.
# Environment: LAMBDA (0.1), K (4), WIDTH (16, both networks), LR (the alternate
# iterations' AdamW rate, 1e-4 as HiDiff), OUTPUT (the refiner's --output, residual:
# it starts as the prior itself), SPLIT (test), JOBS (2 trainings at a time), THREADS
# (1 a job; a checkpoint's bytes depend on it). Batch 8. Writes OUTDIR/NAME-alt.log;
# models, streams and tables beside it are reused by a rerun (other SPLIT or K share
# them).
set -e
name=$1
out=${2:-/tmp/refine-alt}
seeds=${3:-3}
pre=${4:-1500}
alt=${5:-1500}
size=${6:-64x64}
lambda=${LAMBDA:-0.1}
k=${K:-4}
width=${WIDTH:-16}
lr=${LR:-1e-4}
output=${OUTPUT:-residual}
split=${SPLIT:-test}
threads=${THREADS:-1}
. "$(dirname "$0")/common.sh"
data=$(bench_data "$name") ||
	{ echo "usage: $0 busi|kvasir [OUTDIR [SEEDS [PRE [ALT [SIZE]]]]]" >&2; exit 2; }
cd "$(dirname "$0")/../.."
bench_tools "$out/bin" ms-import ms-pick ms-segment ms-refine ms-score
o=$out/$name
bench_log=$o-alt.log
splits=pipelines/splits
{
	bench_stamp
	echo "commit $(git rev-parse --short HEAD) size $size seeds $seeds pre $pre alt $alt" \
		"lambda $lambda K $k width $width lr $lr output $output split $split threads $threads"
} >>"$bench_log"
bench_stage "$o-all.ms" ms-import --size "$size" --mask-dir "$data/masks" "$data/images"
bench_stage "$o-train.ms" sh -c "ms-pick -i '$splits/$name-train.txt' <'$o-all.ms' |
	ms-pick -x '$splits/$name-val.txt'"
bench_stage "$o-val.ms" sh -c "ms-pick -i '$splits/$name-val.txt' <'$o-all.ms'"
bench_stage "$o-$split.ms" sh -c "ms-pick -i '$splits/$name-$split.txt' <'$o-all.ms'"
seg() {   # OUT STEPS SEED [OPTIONS]: a segmentor on the train images
	f=$1 st=$2 s=$3
	shift 3
	bench_stage "$f" sh -c "ms-segment train -o '$f.ck' --steps $st --width $width --batch 8 \
		--seed $s --threads $threads --val '$o-val.ms' --save-every 0 $* <'$o-train.ms' &&
		cat '$f.ck'"
}
run_seed() {
	s=$1
	seg "$o-pre-$s.ms" "$pre" "$s"
	bench_stage "$o-alt-$s.ms" sh -c "ms-refine train -o '$o-ref-$s.ms' --segmentor '$o-pre-$s.ms' \
		--alternate --lambda $lambda --segmentor-out '$o-alt-$s.ck' --steps $alt \
		--output $output \
		--lr $lr --width $width --batch 8 --seed $s --threads $threads --save-every 0 \
		<'$o-train.ms' && cat '$o-alt-$s.ck'"
}
for s in $(seq "$seeds"); do
	bench_pool seg "$o-ctl-$s.ms" $((pre + alt)) "$s" --best "'$o-ctl-$s.best'"
	bench_pool run_seed "$s"
done
bench_drain
a= b= c=
for s in $(seq "$seeds"); do
	for m in ctl alt; do
		model=$o-$m-$s.ms
		[ "$m" = ctl ] && model=$o-ctl-$s.best
		bench_stage "$o-$split-$m-$s.ms" sh -c "ms-segment -m '$model' --threads $threads <'$o-$split.ms'"
		bench_stage "$o-$split-$m-$s.tsv" sh -c "ms-score --pred pred <'$o-$split-$m-$s.ms'"
	done
	bench_stage "$o-$split-ref-$s.ms" sh -c "ms-refine -m '$o-ref-$s.ms' --samples $k --seed $s \
		--threads $threads <'$o-$split-alt-$s.ms'"
	bench_stage "$o-$split-ref-$s.tsv" sh -c "ms-score --pred pred <'$o-$split-ref-$s.ms'"
	a=$a${a:+,}$o-$split-ctl-$s.tsv b=$b${b:+,}$o-$split-alt-$s.tsv c=$c${c:+,}$o-$split-ref-$s.tsv
done
for pair in "ctl alt $a $b" "ctl alt+refiner $a $c" "alt alt+refiner $b $c"; do
	set -- $pair
	echo "== $2 against $1 ($split)" >>"$bench_log"
	/usr/bin/python3 tests/bench/paired.py "$3" "$4" "$o-$split.ms" >>"$bench_log" 2>/dev/null
done
echo "date $(date -u +%FT%TZ) done" >>"$bench_log"
