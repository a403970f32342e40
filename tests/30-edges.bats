#!/usr/bin/env bats
# ms-edges: options, errors, layout and pass-through, and agreement with independent
# references (OpenCV's Canny, scipy) on the grey ultrasound and colour images of tests/data.
load helpers
DATA=$BATS_TEST_DIRNAME/data

setup_file() {
	local b=$DATA/busi k=$DATA/rgb args=
	for s in benign_1 benign_100 malignant_10 malignant_100; do
		args="$args $b/images/$s.png:$b/masks/$s.png"
	done
	for s in polyp_1 polyp_2 polyp_3 polyp_4; do
		args="$args $k/images/$s.png:$k/masks/$s.png"
	done
	/usr/bin/python3 "$BATS_TEST_DIRNAME/ref/edges_make.py" --extra "$BATS_FILE_TMPDIR/in.ms" $args
	/usr/bin/python3 "$BATS_TEST_DIRNAME/ref/edges_make.py" --compress \
		"$BATS_FILE_TMPDIR/nomask.ms" $b/images/benign_2.png $k/images/polyp_5.png
}

# write a stream from a Python expression list of (name, meta, array)
mkstream() {
	$PY - "$1" "$REF" <<PYEOF
import sys; sys.path.insert(0, sys.argv[2])
import numpy as np
from msstream import write
f = open(sys.argv[1], "wb")
for n, m, a in [$2]:
    write(f, n, m, a)
PYEOF
}

@test "--help prints usage to stdout and exits 0" {
	help_ok ms-edges -- 'usage:*' '*--method*'
}

@test "usage errors exit 2" {
	run -2 ms-edges --bogus
	run -2 ms-edges -m sobel
	[[ "$output" == *"--method: unknown value 'sobel' (soft, canny, mask, diffboost)"* ]]
	run -2 ms-edges --sigma -1
	run -2 ms-edges --sigma abc
	run -2 ms-edges --operator prewitt
	run -2 ms-edges --low x
	run -2 ms-edges --name 'a b'
	run -2 ms-edges extra-operand
}

@test "bad input stream: exit 1 with a message" {
	run -1 bash -c 'echo "not a stream at all, not at all, not at all, not at all" | ms-edges'
	[[ "$output" == "ms-edges: <stdin>: bad magic"* ]]
	head -c 2000 "$BATS_FILE_TMPDIR/in.ms" > "$BATS_TEST_TMPDIR/trunc.ms"
	run -1 ms-edges < "$BATS_TEST_TMPDIR/trunc.ms"
	[[ "$output" == "ms-edges: <stdin>: truncated"* ]]
}

@test "empty stream in, empty stream out" {
	run -0 bash -c 'ms-edges < /dev/null | wc -c'
	[ "$output" -eq 0 ]
}

@test "canny agrees with OpenCV's cv2.Canny on real images (F1 >= 0.95)" {
	run $PY "$REF/edges_check.py" --min-f1 0.95 "$BATS_FILE_TMPDIR/in.ms" "-m canny" \
		"-m canny --sigma 0" "-m canny --sigma 2 --l2 --low 10 --high 30" \
		"-m canny -s 1.5 --low 60 --high 20"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "soft edges match scipy (Gaussian + Sobel or Scharr) to 1e-5" {
	run $PY "$REF/edges_check.py" --tol 1e-5 "$BATS_FILE_TMPDIR/in.ms" "-m soft" \
		"-m soft --sigma 0" "-m soft --sigma 2.5" "-m soft --operator scharr" \
		"-m soft --operator scharr --sigma 0.7"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "mask band equals scipy's convolve2d(boundary='symm') != 0; diffboost (default)" {
	run $PY "$REF/edges_check.py" "$BATS_FILE_TMPDIR/in.ms" "-m mask" "" "--sigma 2"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "without a mask diffboost is soft; compressed image records are read" {
	run $PY "$REF/edges_check.py" "$BATS_FILE_TMPDIR/nomask.ms" "" "-m diffboost ! -m soft" \
		"-m canny"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "odd sizes (1x1 to 40x47, tails of the 16-pixel blocks) and ties: exact" {
	mkstream "$BATS_TEST_TMPDIR/s.ms" '
*[x for h, w in [(1, 1), (1, 7), (7, 1), (2, 2), (17, 33), (31, 16), (3, 100), (40, 47)]
   for rng in [np.random.default_rng(h * 100 + w)]
   for x in [("image", {"id": f"r{h}x{w}"},
              (np.round(rng.random(((h * w) % 2 * 2 + 1, h, w)) * 4) / 4).astype(np.float32)),
             ("mask", {"id": f"r{h}x{w}"}, (rng.random((1, h, w)) < 0.3).astype(np.uint8))]],'
	run $PY "$REF/edges_check.py" --min-f1 1 "$BATS_TEST_TMPDIR/s.ms" "-m canny" \
		"-m canny -s 0 --l2 --low 100 --high 200" "-m canny -s 0.5 --low 10 --high 400" \
		"-m soft" "-m soft --operator scharr -s 0.6" "-m mask" ""
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "the checks can fail: other thresholds, sigma, or method are caught" {
	run $PY "$REF/edges_check.py" --expect-fail "$BATS_FILE_TMPDIR/in.ms" \
		"-m canny --low 10 ! -m canny" "-m soft ! -m soft --sigma 1.1" \
		"-m diffboost ! -m soft" "-m mask ! -m diffboost" "--near 3 ! --near 4" \
		"-m soft --near 2 ! -m soft"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "--near R: edges only within R pixels of the mask border (scipy's dilation of the band)" {
	run $PY "$REF/edges_check.py" "$BATS_FILE_TMPDIR/in.ms" "--near 3" "-m soft --near 1" \
		"-m mask --near 2" "-m canny --near 5"
	echo "$output"
	[ "$status" -eq 0 ]
	# a sample without a mask gets no edge map; the edge map says near=R
	run $PY "$REF/edges_check.py" "$BATS_FILE_TMPDIR/nomask.ms" "--near 3"
	[ "$status" -eq 0 ]
	[ "$(ms-edges --near 3 <"$BATS_FILE_TMPDIR/nomask.ms" | ms-info | grep -c edges)" -eq 0 ]
	ms-edges --near 3 <"$BATS_FILE_TMPDIR/in.ms" | ms-info | grep edges | grep -q ' near=3'
	for v in 0 -1 2.5 x 1025; do
		run ms-edges --near "$v" </dev/null
		[ "$status" -eq 2 ]
		[[ "$output" == *"ms-edges: --near:"* ]]
	done
}

@test "other records pass through byte for byte; edges appended to every sample" {
	in="$BATS_FILE_TMPDIR/in.ms" out="$BATS_TEST_TMPDIR/out.ms"
	ms-edges -m canny < "$in" > "$out"
	$PY "$REF/edges_check.py" --strip edges "$out" "$BATS_TEST_TMPDIR/stripped.ms"
	[ "$(wc -c < "$out")" -gt "$(wc -c < "$in")" ]
	cmp "$in" "$BATS_TEST_TMPDIR/stripped.ms"
	# 8 samples of note, image, mask, aux: edges after aux in each
	run -0 bash -c "ms-info '$out' | cut -f1,2 | paste - - - - - | awk '\$10 == \"edges\" && \$1 == \$9' | wc -l"
	[ "$output" -eq 8 ]
	run -0 bash -c "ms-info '$out' | awk '\$2 == \"edges\"' | grep -c 'edges=canny'"
	[ "$output" -eq 8 ]
}

@test "edges metadata: the image's keys, edges=METHOD; --name, --image" {
	ms-edges -m soft -n cond --image image < "$BATS_FILE_TMPDIR/nomask.ms" > "$BATS_TEST_TMPDIR/out.ms"
	run -0 bash -c "ms-info '$BATS_TEST_TMPDIR/out.ms' | awk -F '\t' '\$2 == \"cond\" { print \$4, \$8 }' | head -n 1"
	[[ "$output" == "1x96x96 id=benign_2 source="*"benign_2.png edges=soft" ]]
	run -0 bash -c "ms-edges --image nothing < '$BATS_FILE_TMPDIR/nomask.ms' | cmp - '$BATS_FILE_TMPDIR/nomask.ms'"
}

@test "grey and RGB input; RGB of equal channels gives the grey result" {
	mkstream "$BATS_TEST_TMPDIR/s.ms" '
("image", {"id": "g"}, np.linspace(0, 1, 400, dtype=np.float32).reshape(1, 20, 20) ** 2),
("image", {"id": "c"}, np.repeat(np.linspace(0, 1, 400, dtype=np.float32).reshape(1, 20, 20) ** 2, 3, 0))'
	ms-edges -m soft < "$BATS_TEST_TMPDIR/s.ms" > "$BATS_TEST_TMPDIR/out.ms"
	run -0 $PY -c "
import sys; sys.path.insert(0, '$REF')
import numpy as np
from msstream import read
e = [a for n, m, a in read(open('$BATS_TEST_TMPDIR/out.ms', 'rb')) if n == 'edges']
assert len(e) == 2 and e[0].shape == e[1].shape == (1, 20, 20)
d = np.abs(e[0] - e[1]).max(); print(d); assert d < 1e-5 and e[0].max() == 1"
}

@test "samples without an image pass unchanged; a flat image gives zeros" {
	mkstream "$BATS_TEST_TMPDIR/s.ms" '
("mask", {"id": "a"}, np.ones((1, 4, 4), np.uint8)),
("image", {"id": "b"}, np.full((1, 5, 6), 0.5, np.float32)),
("other", {"id": "c"}, np.zeros(3, np.int32))'
	ms-edges < "$BATS_TEST_TMPDIR/s.ms" > "$BATS_TEST_TMPDIR/out.ms"
	run -0 bash -c "ms-info '$BATS_TEST_TMPDIR/out.ms' | cut -f1,2,4,5,6"
	[ "$output" = "$(printf 'a\tmask\t1x4x4\t1\t1\nb\timage\t1x5x6\t0.5\t0.5\nb\tedges\t1x5x6\t0\t0\nc\tother\t3\t0\t0')" ]
}

@test "--method mask without a mask: exit 1 naming the sample" {
	run -1 ms-edges -m mask < "$BATS_FILE_TMPDIR/nomask.ms"
	[[ "$output" == *"sample 'benign_2' has no 'mask' record"* ]]
}

@test "mask of another size, or two images in a sample: exit 1" {
	mkstream "$BATS_TEST_TMPDIR/s.ms" '
("image", {"id": "a"}, np.zeros((1, 4, 4), np.float32)),
("mask", {"id": "a"}, np.ones((1, 4, 5), np.uint8))'
	run -1 ms-edges < "$BATS_TEST_TMPDIR/s.ms"
	[[ "$output" == *"sample 'a': mask size does not match"* ]]
	mkstream "$BATS_TEST_TMPDIR/s.ms" '
("image", {"id": "a"}, np.zeros((1, 4, 4), np.float32)),
("image", {"id": "a"}, np.zeros((1, 4, 4), np.float32))'
	run -1 ms-edges < "$BATS_TEST_TMPDIR/s.ms"
	[[ "$output" == *"sample 'a' has more than one 'image' record"* ]]
	mkstream "$BATS_TEST_TMPDIR/s.ms" '("image", {"id": "a"}, np.zeros((2, 4, 4), np.float32)),'
	run -1 ms-edges < "$BATS_TEST_TMPDIR/s.ms"
	[[ "$output" == *"2 channels"* ]]
}
