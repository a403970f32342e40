#!/bin/bash
# Quality of synthetic labelled pairs (issue 20), from a few-label run's directory
# (tests/bench/fewlabel.sh with an extra-J<r> arm):
# - alignment: a segmentor trained on real images only (SEGMENTOR, default the run's
#   strong seed 1 best weights) segments the pairs' images; the Dice of its masks
#   against the pairs' own masks, beside its Dice on the real test images (a pair
#   whose lesion sits where its mask says scores as a real image does);
# - lesions: the fraction of pairs with an empty mask, and the mean mask area of the
#   pairs and of the real labelled images;
# - diversity: mean pairwise MS-SSIM (ms-score --diversity, lower = more diverse) of all
#   the pairs' images, of the real labelled images, and of the r pairs of one real image
#   averaged over the first 12 real images that have two or more;
# - a contact sheet of the first 4 real images, each followed by its pairs (image and
#   mask), to SHEET if given.
# Usage: tests/bench/pairs_quality.sh OUTDIR GENERATOR [SEGMENTOR [SHEET]]
# Prints one "key value" line per figure. Uses the repository's bin/.
set -e
out=${1:?usage: $0 OUTDIR GENERATOR [SEGMENTOR [SHEET]]}
g=${2:?usage: $0 OUTDIR GENERATOR [SEGMENTOR [SHEET]]}
seg=${3:-$out/seg-strong-1.best}
sheet=$4
PATH=$(cd "$(dirname "$0")/../../bin" && pwd):$PATH
syn=$out/syn-$g.ms
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
ms-info <"$syn" | awk -F'\t' '$2 == "image" { print $1 }' >"$t/all.txt"
grep -E '\.s[0-9]+$' "$t/all.txt" >"$t/pairs.txt"
grep -vE '\.s[0-9]+$' "$t/all.txt" >"$t/real.txt"
ms-pick -i "$t/pairs.txt" <"$syn" >"$t/pairs.ms"
ms-pick -i "$t/real.txt" <"$syn" >"$t/real.ms"
mean() { awk -F'\t' '$1 == "mean" { print $2 }'; }
echo "pairs $(wc -l <"$t/pairs.txt") real $(wc -l <"$t/real.txt")"
echo "alignment_dice_pairs $(ms-segment -m "$seg" <"$t/pairs.ms" | ms-score --pred pred | mean)"
echo "dice_real_test $(ms-segment -m "$seg" <"$out/test.ms" | ms-score --pred pred | mean)"
area() { ms-info <"$1" | awk -F'\t' '$2 == "mask" { n++; s += $7; e += $6 == 0 }
	END { printf "%.4f %d\n", s / n, e }'; }
read -r ap ep <<<"$(area "$t/pairs.ms")"
read -r ar er <<<"$(area "$t/real.ms")"
echo "mask_area_pairs $ap empty_pairs $ep mask_area_real $ar empty_real $er"
div() { ms-score --diversity image | awk -F'\t' 'NR == 2 { print $5 }'; }
echo "diversity_pairs $(div <"$t/pairs.ms") diversity_real $(div <"$t/real.ms")"
s=0 k=0
for id in $(cat "$t/real.txt"); do
	[ "$k" -lt 12 ] || break
	grep -E "^$id\.s[0-9]+$" "$t/pairs.txt" >"$t/one.txt" || true
	[ "$(wc -l <"$t/one.txt")" -ge 2 ] || continue    # filtered sets: fewer left
	d=$(ms-pick -i "$t/one.txt" <"$t/pairs.ms" | div)
	s=$(awk -v a="$s" -v b="$d" 'BEGIN { print a + b }')
	k=$((k + 1))
done
echo "diversity_pairs_of_one_real $(awk -v a="$s" -v k="$k" 'BEGIN { printf "%.4f", a / k }')"
if [ -n "$sheet" ]; then
	head -n 4 "$t/real.txt" >"$t/first.txt"
	grep -E "^($(paste -sd'|' "$t/first.txt"))(\.s[0-9]+)?$" "$t/all.txt" >"$t/sheet.txt"
	ms-pick -i "$t/sheet.txt" <"$syn" | ms-export --montage "$sheet" -n image,mask
	echo "sheet $sheet"
fi
