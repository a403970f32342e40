#!/usr/bin/env bats
# Synthetic labelled pairs (Saragih et al.): ms-sample train --joint, pairs sampled with
# masks of their own, RePaint inpainting (--inpaint), ms-segment training on pairs, and
# the errors. Tiny 16x16 and 32x32 images of tests/data, U-Net width 8, a few steps.
load helpers
DATA=$BATS_TEST_DIRNAME/data
T="--width 8 --batch 2 --threads 1"

setup_file() {
	local d=$BATS_FILE_TMPDIR b=$DATA/busi
	mkdir -p "$d/grey"
	for s in benign_1 benign_2 malignant_10; do cp "$b/images/$s.png" "$d/grey/"; done
	ms-import --size 32x32 -m $b/masks -p "breast ultrasound" "$d/grey" > "$d/in.ms"
	ms-sample train --joint -o "$d/j.ms" --steps 6 $T < "$d/in.ms" 2>/dev/null
}

pycheck() {
	$PY - "$1" "$REF" "${3:-}" <<PYEOF
import sys; sys.path.insert(0, sys.argv[2])
import numpy as np
from msstream import read
s = list(read(open(sys.argv[1], "rb")))
by = {}
for n, m, a in s:
    by.setdefault(m["id"], {})[n] = (m, a)
$2
PYEOF
}

@test "train --joint: the checkpoint says joint=1, no conditions, one more channel in and out" {
	run ms-info "$BATS_FILE_TMPDIR/j.ms"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *" in=2 out=2 "* ]]
	[[ "${lines[0]}" == *"image_channels=1 cond=none cond_optional=0 joint=1 "* ]]
	# a condition besides: in = image + mask + condition
	ms-edges < "$BATS_FILE_TMPDIR/in.ms" |
		ms-sample train --joint --cond edges -o "$BATS_TEST_TMPDIR/je.ms" --steps 2 $T 2>/dev/null
	run ms-info "$BATS_TEST_TMPDIR/je.ms"
	[[ "${lines[0]}" == *" in=3 out=2 "*"cond=edges"*"joint=1"* ]]
}

@test "pairs: N samples <id>.s<k> with an image and a mask of their own (u8 0/1, synthetic=1)" {
	local d=$BATS_FILE_TMPDIR
	ms-sample -m "$d/j.ms" -n 2 --steps 4 --seed 3 < "$d/in.ms" > "$BATS_TEST_TMPDIR/p.ms"
	run pycheck "$BATS_TEST_TMPDIR/p.ms" '
assert len(s) == 3 * 3 * 2, len(s)
for rid in ("benign_1", "benign_2", "malignant_10"):
    for k in range(2):
        rec = by[f"{rid}.s{k}"]
        assert list(rec) == ["image", "mask"], list(rec)
        m, a = rec["image"]
        assert a.shape == (1, 32, 32) and m["of"] == rid and m["synthetic"] == "1"
        m, a = rec["mask"]
        assert a.dtype == np.uint8 and a.shape == (1, 32, 32) and set(np.unique(a)) <= {0, 1}
        assert m["of"] == rid and m["synthetic"] == "1" and m["seed"] == "3"
        assert "source" not in m
'
	[ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "--inpaint: outside the dilated mask image and mask stay the real ones; deterministic" {
	local d=$BATS_FILE_TMPDIR t=$BATS_TEST_TMPDIR
	ms-sample -m "$d/j.ms" --inpaint -n 2 --steps 6 --jump 2 --resample 2 --dilate 5 \
		--open 1 < "$d/in.ms" > "$t/a.ms"
	ms-sample -m "$d/j.ms" --inpaint -n 2 --steps 6 --jump 2 --resample 2 --dilate 5 \
		--open 1 --threads 2 < "$d/in.ms" > "$t/b.ms"
	cmp "$t/a.ms" "$t/b.ms"
	ms-sample -m "$d/j.ms" --inpaint -n 2 --steps 6 --jump 2 --resample 2 --dilate 5 \
		--open 1 --seed 9 < "$d/in.ms" > "$t/c.ms"
	! cmp -s "$t/a.ms" "$t/c.ms"
	run pycheck "$t/a.ms" '
import cv2
el = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
for rid in ("benign_1", "benign_2", "malignant_10"):
    img = by[rid]["image"][1].astype(np.float32)
    mask = (by[rid]["mask"][1][0] > 0).astype(np.uint8)
    keep = cv2.dilate(mask, el) == 0
    assert keep.sum() > 0 and (~keep).sum() > 0
    for k in range(2):
        sm, si = by[f"{rid}.s{k}"]["image"]
        mm, mk = by[f"{rid}.s{k}"]["mask"]
        assert np.abs(si[0][keep] - img[0][keep]).max() < 1e-6
        assert (mk[0][keep] == mask[keep]).all()
        assert mm["synthetic"] == "1" and sm["of"] == rid
'
	[ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "--inpaint --core: inside the eroded mask too image and mask stay the real ones" {
	local d=$BATS_FILE_TMPDIR t=$BATS_TEST_TMPDIR
	ms-sample -m "$d/j.ms" --inpaint -n 2 --steps 6 --jump 2 --resample 2 --dilate 5 \
		--core 3 --open 1 < "$d/in.ms" > "$t/a.ms"
	run pycheck "$t/a.ms" '
import cv2
dl = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
er = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
cores = 0
for rid in ("benign_1", "benign_2", "malignant_10"):
    img = by[rid]["image"][1].astype(np.float32)
    mask = (by[rid]["mask"][1][0] > 0).astype(np.uint8)
    core = cv2.erode(mask, er, borderValue=0) > 0
    keep = (cv2.dilate(mask, dl) == 0) | core
    cores += core.sum()
    assert (~keep).sum() > 0
    for k in range(2):
        si = by[f"{rid}.s{k}"]["image"][1]
        mk = by[f"{rid}.s{k}"]["mask"][1]
        assert np.abs(si[0][keep] - img[0][keep]).max() < 1e-6
        assert (mk[0][keep] == mask[keep]).all() and mk[0][core].all()
assert cores > 0    # benign_1 is too thin at 32x32 to keep a core
'
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	run ms-sample -m "$d/j.ms" --core 3 < "$d/in.ms"
	[ "$status" -eq 2 ]
	[[ "$output" == *"--core is for --inpaint"* ]]
}

@test "--inpaint --reshape: each pair's mask is the real one moved, scaled, turned; the image stays the real one outside both masks dilated" {
	local d=$BATS_FILE_TMPDIR t=$BATS_TEST_TMPDIR
	local o="--inpaint --reshape -n 3 --steps 6 --jump 2 --resample 2 --dilate 5"
	ms-sample -m "$d/j.ms" $o < "$d/in.ms" > "$t/a.ms"
	ms-sample -m "$d/j.ms" $o --threads 2 < "$d/in.ms" > "$t/b.ms"
	cmp "$t/a.ms" "$t/b.ms"
	run pycheck "$t/a.ms" '
import cv2
el = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
moved = 0
for rid in ("benign_1", "benign_2", "malignant_10"):
    img = by[rid]["image"][1].astype(np.float32)
    mask = (by[rid]["mask"][1][0] > 0).astype(np.uint8)
    ys, xs = np.nonzero(mask)
    for k in range(3):
        si = by[f"{rid}.s{k}"]["image"][1]
        mm, mk = by[f"{rid}.s{k}"]["mask"]
        new = mk[0]
        assert new.dtype == np.uint8 and set(np.unique(new)) <= {0, 1} and new.sum() > 0
        assert mm["synthetic"] == "1" and mm["of"] == rid
        # area scaled by 0.7^2 to 1.4^2 (give or take the rounding of a small mask)
        assert 0.3 * mask.sum() <= new.sum() <= 2.5 * mask.sum() + 4, (rid, k, new.sum(), mask.sum())
        # the centroid moved by at most a tenth of the size each way (and rounding)
        ny, nx = np.nonzero(new)
        assert abs(nx.mean() - xs.mean()) <= 3.2 + 1.5 and abs(ny.mean() - ys.mean()) <= 3.2 + 1.5
        keep = cv2.dilate(mask | new, el) == 0
        assert np.abs(si[0][keep] - img[0][keep]).max() < 1e-6
        moved += (new != mask).any()
assert moved >= 8, moved
'
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	run -2 ms-sample -m "$d/j.ms" --reshape < "$d/in.ms"
	[[ "$output" == "ms-sample: --reshape is for --inpaint"* ]]
	run -2 ms-sample -m "$d/j.ms" --inpaint --reshape --core 3 < "$d/in.ms"
	[[ "$output" == "ms-sample: --core and --reshape exclude each other"* ]]
}

@test "ms-segment trains on pairs with their own masks (extra), and beside merged images" {
	local d=$BATS_FILE_TMPDIR t=$BATS_TEST_TMPDIR
	ms-sample -m "$d/j.ms" --inpaint -n 2 --steps 4 --jump 2 --resample 2 < "$d/in.ms" > "$t/p.ms"
	run --separate-stderr ms-segment train -o "$t/s.ms" --steps 3 $T < "$t/p.ms"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"6 synthetic used"*"synthetic extra (6 pairs with masks of their own)"* ]]
	# DiffBoost images of the same real samples besides: mix, the pairs never merged
	ms-edges < "$d/in.ms" > "$t/e.ms"
	ms-sample train -o "$t/g.ms" --steps 2 $T < "$t/e.ms" 2>/dev/null
	ms-sample -m "$t/g.ms" -n 1 --steps 2 < "$t/e.ms" | ms-pick -k image,mask > "$t/g1.ms"
	printf '%s\n' benign_1 benign_2 malignant_10 > "$t/real.txt"
	ms-pick -x "$t/real.txt" < "$t/p.ms" | cat "$t/g1.ms" - > "$t/both.ms"
	run --separate-stderr ms-segment train -o "$t/s2.ms" --steps 3 $T < "$t/both.ms"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"9 synthetic used"*"synthetic mix (6 pairs with masks of their own)"* ]]
}

@test "ms-segment keeps pairs whose real sample is not in the stream (unlabelled images), for extra only" {
	local d=$BATS_FILE_TMPDIR t=$BATS_TEST_TMPDIR
	ms-sample -m "$d/j.ms" --inpaint -n 2 --steps 4 --jump 2 --resample 2 < "$d/in.ms" |
		ms-pick -x <(echo benign_2) > "$t/p.ms"
	run --separate-stderr ms-segment train -o "$t/s.ms" --steps 3 $T < "$t/p.ms"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"2 real samples"*"6 synthetic used (0 without their real sample, 0 of"*"synthetic extra (6 pairs with masks of their own, 2 of them of images not in the stream)"* ]]
	# mixing pairs a real image with its own synthetic ones: those two are not used
	run --separate-stderr ms-segment train -o "$t/s2.ms" --steps 3 $T --synthetic mix < "$t/p.ms"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"4 synthetic used (2 without their real sample, 0 of"*"synthetic mix (4 pairs with masks of their own)"* ]]
}

@test "bad input: no mask to inpaint, a model that is not joint, options out of place" {
	local d=$BATS_FILE_TMPDIR t=$BATS_TEST_TMPDIR
	ms-pick -d mask < "$d/in.ms" > "$t/nomask.ms"
	run -1 ms-sample -m "$d/j.ms" --inpaint < "$t/nomask.ms"
	[[ "$output" == "ms-sample: sample 'benign_1': no 'mask' record to inpaint" ]]
	ms-edges < "$d/in.ms" > "$t/e.ms"
	ms-sample train -o "$t/g.ms" --steps 2 $T < "$t/e.ms" 2>/dev/null
	run -1 ms-sample -m "$t/g.ms" --inpaint < "$t/e.ms"
	[[ "$output" == *"--inpaint needs a joint model (ms-sample train --joint)"* ]]
	run -2 ms-sample -m "$d/j.ms" --jump 3
	[[ "$output" == *"--jump is for --inpaint"* ]]
	run -2 ms-sample train --joint --inpaint -o "$t/x.ms"
	[[ "$output" == *"--inpaint is for sampling"* ]]
	run -1 ms-sample train --joint -o "$t/x.ms" --steps 2 $T < "$t/nomask.ms"
	[[ "$output" == *"no sample with 'image' and 'mask' records"* ]]
	[ ! -e "$t/x.ms" ]
	cp "$t/g.ms" "$t/r.ms"
	run -1 ms-sample train --joint --resume -o "$t/r.ms" --steps 3 $T < "$t/e.ms"
	[[ "$output" == *"--joint differs from the checkpoint"* ]]
	cmp "$t/g.ms" "$t/r.ms"
}

@test "ms-segment --judge keeps the synthetic samples a real-only segmentor finds as well as its median validation image" {
	local d=$BATS_FILE_TMPDIR t=$BATS_TEST_TMPDIR
	# benign_1 validates; the pairs of the other two are judged
	printf '%s\n' benign_1 benign_1.s0 benign_1.s1 benign_1.s2 > "$t/v.txt"
	ms-sample -m "$d/j.ms" --inpaint -n 3 --steps 4 --jump 2 --resample 2 < "$d/in.ms" |
		ms-pick -x "$t/v.txt" > "$t/p.ms"
	ms-pick -i "$t/v.txt" < "$d/in.ms" > "$t/val.ms"
	ms-segment train -o "$t/judge.ms" --steps 3 $T --val-fraction 0 < "$d/in.ms" 2>/dev/null
	run --separate-stderr ms-segment train -o "$t/s.ms" --steps 1 $T --val "$t/val.ms" \
		--judge "$t/judge.ms" < "$t/p.ms"
	[ "$status" -eq 0 ]
	[[ "$stderr" =~ "ms-segment: judge $t/judge.ms: median validation Dice "[0-9.]+"; "([0-9]+)" of 6 synthetic samples kept" ]]
	local k=${BASH_REMATCH[1]}
	[[ "$stderr" == *"$k synthetic used"* ]]
	# the same count by hand: ms-segment's masks on the pairs and on the validation
	# images, scored by ms-score, the pairs at or above the validation median
	ms-segment -m "$t/judge.ms" < "$t/val.ms" | ms-score --pred pred > "$t/v.tsv"
	med=$(awk -F'\t' '$1 == "median" { print $2 }' "$t/v.tsv")
	ms-segment -m "$t/judge.ms" < "$t/p.ms" | ms-score --pred pred |
		awk -F'\t' -v m="$med" '$1 ~ /\.s[0-9]+$/ && $2 >= m' > "$t/kept.txt"
	[ "$(wc -l < "$t/kept.txt")" -eq "$k" ]
	# the same pairs judged when one's real sample is not in the stream
	ms-pick -x <(echo malignant_10) < "$t/p.ms" > "$t/po.ms"
	run --separate-stderr ms-segment train -o "$t/s3.ms" --steps 1 $T --val "$t/val.ms" \
		--judge "$t/judge.ms" < "$t/po.ms"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"; $k of 6 synthetic samples kept"* ]]
	[[ "$stderr" == *"$k synthetic used"* ]]
	# no validation samples: an error
	run -1 ms-segment train -o "$t/s2.ms" --steps 1 $T --val-fraction 0 --judge "$t/judge.ms" \
		< "$t/p.ms"
	[[ "$output" == *"--judge: the judge needs validation samples"* ]]
}
