#!/bin/bash
# How the inpainting's settings change the pairs (issue 20), cheaply, before any
# segmentor is trained on them: the joint model of a few-label run (tests/bench/
# fewlabel.sh with a J<r> arm) inpaints 3 pairs into each of the first K (12) labelled
# images with each setting given; a real-only segmentor (JUDGE, e.g. the run's strong
# seed 1 best weights) segments the pairs' images. Per setting one line: pairs, the mean
# area of their masks (fraction of the image), how many are empty, the mean area the
# judge finds lesion, and the judge's mean Dice against the pairs' own masks (agreement:
# a pair whose lesion is where its mask says scores as a real image does).
# Usage: tests/bench/pairs_settings.sh RUNDIR JUDGE OUTDIR "OPTIONS"...
#   OPTIONS: ms-sample's, e.g. "--inpaint --steps 100 --resample 3 --guidance 1
#   --dilate 13"; without --inpaint, free pairs from noise. Environment: GEN (the joint
#   model, RUNDIR/gen-J.ms), K (12). Files stay in OUTDIR; a setting done is not redone.
set -e
run=${1:?usage: $0 RUNDIR JUDGE OUTDIR OPTIONS...}
judge=${2:?usage: $0 RUNDIR JUDGE OUTDIR OPTIONS...}
out=${3:?usage: $0 RUNDIR JUDGE OUTDIR OPTIONS...}
shift 3
PATH=$(cd "$(dirname "$0")/../../bin" && pwd):$PATH
mkdir -p "$out"
ms-info <"$run/labelled.ms" | awk -F'\t' '$2 == "image" { print $1 }' | head -n "${K:-12}" \
	>"$out/ids.txt"
ms-pick -i "$out/ids.txt" <"$run/labelled.ms" >"$out/first.ms"
for o in "$@"; do
	tag=$(echo "$o" | tr -d ' -')
	[ -s "$out/syn-$tag.ms" ] || ms-sample -m "${GEN:-$run/gen-J.ms}" -n 3 $o --seed 1 \
		--threads 1 <"$out/first.ms" >"$out/syn-$tag.ms"
	ms-info <"$out/syn-$tag.ms" | awk -F'\t' '$2 == "image" && $1 ~ /\.s[0-9]+$/ { print $1 }' \
		>"$out/pairs-$tag.txt"
	ms-pick -i "$out/pairs-$tag.txt" <"$out/syn-$tag.ms" |
		ms-segment -m "$judge" --threads 1 >"$out/seg-$tag.ms"
	agree=$(ms-score --pred pred <"$out/seg-$tag.ms" | awk -F'\t' '$1 == "mean" { print $2 }')
	ms-info <"$out/seg-$tag.ms" | awk -F'\t' -v o="$o" -v a="$agree" '
		$2 == "mask" { n++; m += $7; e += $6 == 0 }
		$2 == "pred" { p += $7 }
		END { printf "%s: pairs %d mask_area %.4f empty %d judge_area %.4f agreement %.3f\n",
		      o, n, m / n, e, p / n, a }'
done
