#!/bin/sh
# Real-data run of ms-sample (issue 5): train one RGB generator on the train splits of
# BUSI ("breast ultrasound") and Kvasir-SEG ("colonoscopy polyp") at SIZE, condition =
# ms-edges' default DiffBoost map; then tests/bench/sample_eval.py measures condition
# following, prompt following and diversity on the test splits.
# Usage: tests/bench/sample-real.sh STEPS [THREADS [OUTDIR [SIZE]]]
# Writes OUTDIR/sample.{log,ms}, OUTDIR/sample-eval.txt. Run from the repository root.
set -e
steps=${1:?usage: $0 STEPS [THREADS [OUTDIR [SIZE]]]}
threads=${2:-1}
out=${3:-/tmp/segment-runs}
size=${4:-64x64}
. "$(dirname "$0")/common.sh"
data=$(bench_data_root)
cd "$(dirname "$0")/../.."
bench_tools "$out/bin-sample" ms-import ms-pick ms-edges ms-sample ms-score
log=$out/sample.log
{
	bench_stamp
	echo "commit $(git rev-parse --short HEAD) steps $steps threads $threads size $size batch 8 width 32 ema 0.995"
} >"$log"
split() {   # NAME DIR PROMPT PART
	ms-import --size "$size" --mask-dir "$2/masks" --prompt "$3" "$2/images" |
		ms-pick --ids "pipelines/splits/$1-$4.txt" | ms-edges
}
start=$(date +%s)
{ split busi "$data/busi" "breast ultrasound" train
  split kvasir "$data/kvasir-seg" "colonoscopy polyp" train; } |
	ms-sample train -o "$out/sample.ms" --steps "$steps" --batch 8 --ema 0.995 \
		--threads "$threads" --save-every 200 2>>"$log"
echo "train seconds $(($(date +%s) - start))" >>"$log"
split busi "$data/busi" "breast ultrasound" test >"$out/busi-test64.ms"
split kvasir "$data/kvasir-seg" "colonoscopy polyp" test >"$out/kvasir-test64.ms"
/usr/bin/python3 tests/bench/sample_eval.py "$out/sample.ms" "$out/busi-test64.ms" \
	"$out/kvasir-test64.ms" "$threads" >"$out/sample-eval.txt"
cat "$out/sample-eval.txt" >>"$log"
echo "date $(date -u +%FT%TZ) done" >>"$log"
