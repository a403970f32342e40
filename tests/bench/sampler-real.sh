#!/bin/sh
# ms-sample's samplers on a trained generator (issue 21, "a faster sampler"): the same
# labelled images sampled with each sampler and step count in turn (one thread, one run
# at a time), with the wall and user seconds per synthetic image and
# tests/bench/syn_stats.py's statistics of the samples (intensity, edge F1 against the
# condition, diversity).
# Usage: tests/bench/sampler-real.sh MODEL LABELLED [OUTDIR [N [RUNS]]]
#   MODEL     an ms-sample generator (e.g. fewlabel.sh's OUTDIR/gen-LUz.ms)
#   LABELLED  samples with the generator's conditions (e.g. OUTDIR/labelled.ms)
#   N         synthetic samples per image (8); RUNS: "SAMPLER:STEPS ..." (default
#             "ddim:20 ddim:10 dpm++2m:10 dpm++2m:5 dpm++2m:20 ddim:50")
# Writes OUTDIR (default /tmp/sampler-runs)/<sampler>-<steps>.ms and prints one line per
# run; seed 1, guidance 9, the tools copied from bin/ first. Run from the repository root
# after make.
set -e
model=${1:?usage: $0 MODEL LABELLED [OUTDIR [N [RUNS]]]}
labelled=${2:?usage: $0 MODEL LABELLED [OUTDIR [N [RUNS]]]}
out=${3:-/tmp/sampler-runs}
n=${4:-8}
runs=${5:-ddim:20 ddim:10 dpm++2m:10 dpm++2m:5 dpm++2m:20 ddim:50}
. "$(dirname "$0")/common.sh"
cd "$(dirname "$0")/../.."
bench_tools "$out/bin" ms-sample ms-pick ms-edges ms-score ms-info
bench_stamp
echo "commit $(git rev-parse --short HEAD) model $model labelled $labelled n $n"
imgs=$(ms-info <"$labelled" | awk -F'\t' '$2 == "image"' | wc -l)
for r in $runs; do
	s=${r%%:*} k=${r#*:}
	f=$out/$s-$k.ms
	/usr/bin/time -f "%e %U" -o "$f.time" ms-sample -m "$model" -n "$n" --steps "$k" \
		--sampler "$s" --seed 1 --threads 1 <"$labelled" >"$f"
	set -- $(cat "$f.time")
	per=$(echo "$1 $2 $imgs $n" | awk '{ printf "%.4f %.4f", $1 / ($3 * $4), $2 / ($3 * $4) }')
	echo "$s $k: seconds $1 user $2 per image wall/user $per; $(/usr/bin/python3 \
		tests/bench/syn_stats.py "$f" | tr '\n' ';')"
done
echo "date $(date -u +%FT%TZ) done load $(cut -d' ' -f1-3 /proc/loadavg)"
