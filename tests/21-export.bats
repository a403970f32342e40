#!/usr/bin/env bats
# ms-export: stream in, PNG files and a contact sheet out.
load helpers
PNG=$BATS_TEST_DIRNAME/data/pngsuite
BUSI=$BATS_TEST_DIRNAME/data/busi
mkstream() { /usr/bin/python3 "$REF/png_mkstream.py" "$@"; }

# every non-hostile pngsuite file: top level, interlaced/ and badpal/
suite() { ls $PNG/*.png $PNG/interlaced/*.png $PNG/badpal/*.png; }

# roundtrips_exact BITS N ORIGINAL EXPORTED...: the N pairs of PNG files hold the same
# pixels (png_roundtrip.py at BITS bits)
roundtrips_exact() {
	local bits=$1 n=$2
	shift 2
	run /usr/bin/python3 "$REF/png_roundtrip.py" "$bits" "$@"
	echo "$output"
	[ "$status" -eq 0 ] && is_ "$n of $n round trips exact" "$output"
}

# no temporary files (ms_outfile's NAME.tmpXXXXXX) under $1
no_temps() { ! find "$1" -name '*.tmp*' | grep -q .; }

@test "export: --help exits 0 with usage" {
	help_ok ms-export -- 'usage:*' '*--montage*' '*--no-labels*'
}

@test "export: usage errors exit 2" {
	run -2 ms-export extra-argument
	run -2 ms-export --format jpg
	run -2 ms-export --cell 0
	run -2 ms-export --cell x
	run -2 ms-export --no-such-option
}

@test "export: pngsuite round trip gives back the same pixels (8 bits)" {
	d="$BATS_TEST_TMPDIR/rt"
	ms-import $(suite) | ms-export -d "$d"
	args=()
	for f in $(suite); do
		s=$(basename "$f" .png)
		args+=("$f" "$d/$s.image.png")
	done
	[ "${#args[@]}" -eq 138 ]
	roundtrips_exact 8 69 "${args[@]}"
}

@test "export: 16-bit files: exact with --16" {
	d="$BATS_TEST_TMPDIR/rt16"
	ms-import $PNG/*16.png | ms-export --16 -d "$d"
	args=()
	for f in $PNG/*16.png; do
		args+=("$f" "$d/$(basename "$f" .png).image.png")
	done
	roundtrips_exact 16 14 "${args[@]}"
}

@test "export: the round-trip check can fail" {
	d="$BATS_TEST_TMPDIR/neg"
	ms-import $PNG/basn0g08.png $PNG/basn2c08.png | ms-export -d "$d"
	# swapped pairs, and an 8-bit export checked as exact 16-bit
	run -1 /usr/bin/python3 "$REF/png_roundtrip.py" 8 $PNG/basn0g08.png "$d/basn2c08.image.png"
	run -1 /usr/bin/python3 "$REF/png_roundtrip.py" 8 $PNG/basn0g04.png "$d/basn0g08.image.png"
	ms-import $PNG/basn0g16.png | ms-export -d "$d"
	run -1 /usr/bin/python3 "$REF/png_roundtrip.py" 16 $PNG/basn0g16.png "$d/basn0g16.image.png"
}

@test "export: masks as 0/255, file names DIR/<id>.<name>.png" {
	d="$BATS_TEST_TMPDIR/out"
	ms-import -m $BUSI/masks $BUSI/images/benign_1.png $BUSI/images/malignant_10.png | ms-export -d "$d"
	run ls "$d"
	[ "$output" = "$(printf 'benign_1.image.png\nbenign_1.mask.png\nmalignant_10.image.png\nmalignant_10.mask.png')" ]
	run cmp "$d/benign_1.mask.png" "$d/benign_1.mask.png"
	# the exported mask equals the original 0/255 mask
	run /usr/bin/python3 "$REF/png_roundtrip.py" 8 $BUSI/masks/benign_1.png "$d/benign_1.mask.png"
	[ "$status" -eq 0 ]
	run /usr/bin/python3 "$REF/png_roundtrip.py" 8 $BUSI/images/malignant_10.png "$d/malignant_10.image.png"
	[ "$status" -eq 0 ]
}

@test "export: value rules: f32 rounded, u8 0/1 scaled, large integers 16-bit, channels split" {
	d="$BATS_TEST_TMPDIR/v"
	mkstream 'a:prob:f32:1x2x2:0.502' 'a:pred:u8:1x2x2:1' 'a:lab:u8:2x2x3:7' \
		'a:big:i32:2x2:300' 'a:neg:f32:1x1x1:-3' 'a:rgb:f32:3x2x2:2' | ms-export -d "$d"
	run ls "$d"
	[ "$output" = "$(printf 'a.big.png\na.lab.c0.png\na.lab.c1.png\na.neg.png\na.pred.png\na.prob.png\na.rgb.png')" ]
	run /usr/bin/python3 -c "
import cv2, sys
d = sys.argv[1]
r = lambda n: cv2.imread(d + '/' + n, cv2.IMREAD_UNCHANGED)
print(r('a.prob.png')[0, 0], r('a.pred.png')[0, 0], r('a.lab.c1.png')[0, 0],
      r('a.big.png')[0, 0], r('a.big.png').dtype, r('a.neg.png')[0, 0], r('a.rgb.png')[0, 0])
" "$d"
	[ "$output" = "128 255 7 300 uint16 0 [255 255 255]" ]
}

@test "export: negative integers and non-image records are errors" {
	run -1 bash -c "$(declare -f mkstream); REF=$REF; mkstream 'a:x:i32:1x2x2:-1' | ms-export -d '$BATS_TEST_TMPDIR/e'"
	[[ "$output" == "ms-export: a.x: value -1 out of range 0..65535 for PNG" ]]
	run -1 bash -c "$(declare -f mkstream); REF=$REF; mkstream 'a:v:f32:7:0' | ms-export -d '$BATS_TEST_TMPDIR/e'"
	[[ "$output" == "ms-export: a.v: a 1-dimensional record is not an image" ]]
	run -1 bash -c "$(declare -f mkstream); REF=$REF; mkstream ':image:f32:1x2x2:0' | ms-export -d '$BATS_TEST_TMPDIR/e'"
	[[ "$output" == "ms-export: record 'image' has no id" ]]
	run -1 bash -c "$(declare -f mkstream); REF=$REF; mkstream 'a/b:image:f32:1x2x2:0' | ms-export -d '$BATS_TEST_TMPDIR/e'"
	[[ "$output" == "ms-export: id 'a/b' cannot be used in a file name" ]]
	run -1 bash -c "$(declare -f mkstream); REF=$REF; mkstream 'a:image:f32:1x2x2:0' 'a:image:f32:1x2x2:0' | ms-export -d '$BATS_TEST_TMPDIR/e'"
	[[ "$output" == "ms-export: sample has two records named 'image'" ]]
}

@test "export: --names selects records; --bare names files by id" {
	d="$BATS_TEST_TMPDIR/n"
	ms-import -m $BUSI/masks $BUSI/images/benign_1.png | ms-export -n mask,edges -d "$d"
	run ls "$d"
	[ "$output" = benign_1.mask.png ]
	# images and masks back into an importable layout
	ms-import -m $BUSI/masks $BUSI/images/benign_1.png | ms-export -b -n image -d "$d/img"
	ms-import -m $BUSI/masks $BUSI/images/benign_1.png | ms-export -b -n mask -d "$d/msk"
	run bash -c "ms-import -m '$d/msk' '$d/img' | ms-info | cut -f1,2"
	[ "$output" = "$(printf 'benign_1\timage\nbenign_1\tmask')" ]
	run -1 bash -c "ms-import -m $BUSI/masks $BUSI/images/benign_1.png | ms-export -b -d '$d/x'"
	[ "$output" = "ms-export: sample has more than one record to write with --bare" ]
}

@test "export: default directory is ." {
	cd "$BATS_TEST_TMPDIR"
	ms-import $PNG/basn0g08.png | ms-export
	[ -f basn0g08.image.png ]
}

@test "export: empty stream: exit 0, no files" {
	d="$BATS_TEST_TMPDIR/empty"
	run ms-export -d "$d" </dev/null
	[ "$status" -eq 0 ]
	[ ! -e "$d" ]
	run ms-export -M "$d.png" </dev/null
	[ "$status" -eq 0 ]
	[ ! -e "$d.png" ]
}

@test "export: a stream broken midway leaves complete files only" {
	t="$BATS_TEST_TMPDIR"
	ms-import -m $BUSI/masks $BUSI/images/benign_1.png $BUSI/images/malignant_10.png > "$t/s.ms"
	# benign_1's image and mask, then most of malignant_10's image
	head -c 75000 "$t/s.ms" > "$t/cut.ms"
	run -1 ms-export -d "$t/o" -M "$t/m.png" < "$t/cut.ms"
	[[ "$output" == "ms-export: <stdin>: truncated payload in record 'image'"* ]]
	run ls "$t/o"
	[ "$output" = "$(printf 'benign_1.image.png\nbenign_1.mask.png')" ]
	[ ! -e "$t/m.png" ]
	no_temps "$t"
}

@test "export: random bytes and a huge claimed shape exit 1 with no files" {
	t="$BATS_TEST_TMPDIR"
	head -c 4096 /dev/urandom > "$t/rand"
	run -1 ms-export -d "$t/o" < "$t/rand"
	[ "$output" = "ms-export: <stdin>: bad magic: not an ms stream, or out of sync" ]
	# a valid header for f32 [3, 65536, 65536, 65536] and nothing after it
	/usr/bin/python3 -c '
import struct, sys
h = b"MSTR" + bytes([1, 4, 4, 0]) + struct.pack("<4I", 3, 65536, 65536, 65536)
h += struct.pack("<HHI", 5, 0, 0) + struct.pack("<QQ", 4 * 3 * 65536 ** 3, 4 * 3 * 65536 ** 3)
sys.stdout.buffer.write(h + b"image" + bytes(11))' > "$t/huge"
	run -1 ms-export -d "$t/o" < "$t/huge"
	[[ "$output" == ms-export:*"exceeds the limit"* ]]
	[ ! -e "$t/o" ]
	no_temps "$t"
}

@test "export: montage: a row per sample, image, outline, other records" {
	t="$BATS_TEST_TMPDIR"
	ms-import -s 64x64 -m $BUSI/masks $BUSI/images/benign_1.png $BUSI/images/malignant_10.png > "$t/s.ms"
	mkstream 'benign_1:edges:f32:1x32x32:ramp' > "$t/e.ms"
	cat "$t/s.ms" "$t/e.ms" > "$t/all.ms"
	# benign_1 twice (the second run, edges only, is a new sample: 3 rows)
	run ms-export --no-labels -M "$t/m.png" < "$t/all.ms"
	[ "$status" -eq 0 ]
	[ ! -e "$t/benign_1.image.png" ]
	run /usr/bin/python3 -c '
import cv2, sys
m = cv2.imread(sys.argv[1], cv2.IMREAD_UNCHANGED)
green = ((m[:, :, 1] == 255) & (m[:, :, 0] == 0) & (m[:, :, 2] == 0))
cell = 64 + 2
print(m.shape, green[:, :cell].sum() == 0, green[:cell, cell:2 * cell].sum() > 5,
      green[cell:2 * cell, cell:2 * cell].sum() > 20, green.sum() == green[:2 * cell, cell:2 * cell].sum())
' "$t/m.png"
	[ "$output" = "(200, 134, 3) True True True True" ]
	run ms-export --no-labels -c 20 -M "$t/m2.png" -d "$t/files" < "$t/s.ms"
	[ "$status" -eq 0 ]
	[ -f "$t/files/benign_1.mask.png" ]
	run /usr/bin/python3 -c 'import cv2, sys; print(cv2.imread(sys.argv[1]).shape)' "$t/m2.png"
	[ "$output" = "(46, 46, 3)" ]
	no_temps "$t"
}

# labels: a header strip of 11 pixels above the cells and a margin of 98 left of them,
# black with white text (columns start at 98 + 2 + i * (cell + 2), rows at 11 + 2 + ...)
@test "export: montage labels: header strip and margin, cells as with --no-labels" {
	t="$BATS_TEST_TMPDIR"
	ms-import -s 64x64 -m $BUSI/masks $BUSI/images/benign_1.png $BUSI/images/malignant_10.png > "$t/s.ms"
	mkstream 'benign_1:edges:f32:1x32x32:ramp' 'benign_1.s0:image:f32:1x16x16:0.5:of=benign_1' \
		'benign_1.s0:mask:u8:16x16:1:of=benign_1' >> "$t/s.ms"
	ms-export -M "$t/l.png" < "$t/s.ms"
	ms-export --no-labels -M "$t/n.png" < "$t/s.ms"
	run /usr/bin/python3 -c '
import cv2, sys
import numpy as np
l, n = cv2.imread(sys.argv[1]), cv2.imread(sys.argv[2])
print(l.shape, n.shape, np.array_equal(l[11:, 98:], n))
# the strips hold only black and white
strips = np.concatenate([l[:11].reshape(-1, 3), l[11:, :98].reshape(-1, 3)])
print(set(np.unique(strips)) == {0, 255})
white = (l == 255).all(axis=2)
# every column has text in its header cell, none outside the cells
cols = [white[2:10, 100 + i * 66:100 + i * 66 + 64].sum() for i in range(2)]
spans = np.zeros(l.shape[1], bool)
for i in range(2):
    spans[100 + i * 66:100 + i * 66 + 64] = True
print(all(c > 0 for c in cols), white[:11, ~spans].sum())
# every row has its id left of it, in the text box of the margin; the synthetic
# sample (benign_1.s0) has a longer label than benign_1
rows = [white[13 + r * 66:13 + r * 66 + 66, :98].sum() for r in range(4)]
print(all(r > 0 for r in rows), rows[0] == rows[2] < rows[3], white[11:, 97:98].sum())
' "$t/l.png" "$t/n.png"
	echo "$output"
	[ "${lines[0]}" = "(277, 232, 3) (266, 134, 3) True" ]
	[ "${lines[1]}" = "True" ]
	[ "${lines[2]}" = "True 0" ]
	[ "${lines[3]}" = "True True 0" ]
	# a different id or record name gives a different sheet
	mkstream 'a:image:f32:1x16x16:0.5' 'a:prob:f32:1x16x16:0.5' | ms-export -M "$t/a.png"
	mkstream 'b:image:f32:1x16x16:0.5' 'b:prob:f32:1x16x16:0.5' | ms-export -M "$t/b.png"
	mkstream 'a:image:f32:1x16x16:0.5' 'a:pred:f32:1x16x16:0.5' | ms-export -M "$t/c.png"
	! cmp -s "$t/a.png" "$t/b.png"
	! cmp -s "$t/a.png" "$t/c.png"
	mkstream 'a:image:f32:1x16x16:0.5' 'a:prob:f32:1x16x16:0.5' | ms-export -M "$t/a2.png"
	cmp "$t/a.png" "$t/a2.png"
}

@test "export: montage labels: long names and ids cut with a '~', tiny cells" {
	t="$BATS_TEST_TMPDIR"
	long=a_sample_id_much_longer_than_the_margin
	mkstream "$long:image:f32:1x20x20:ramp" "$long:a_long_record_name:u8:20x20:1" \
		'b:image:f32:3x8x8:0.5' > "$t/s.ms"
	ms-export -c 20 -M "$t/l.png" < "$t/s.ms"
	ms-export -c 1 -M "$t/tiny.png" < "$t/s.ms"
	run /usr/bin/python3 -c '
import cv2, sys
import numpy as np
l = cv2.imread(sys.argv[1])
white = (l == 255).all(axis=2)
tilde = np.array([[0, 1, 0, 0, 0], [1, 0, 1, 0, 1], [0, 0, 0, 1, 0]], bool)
# 20-pixel cells: three characters, the third a tilde (rows 2..4 of the glyph)
x0 = [100 + i * 22 for i in range(2)]
print(l.shape, [bool((white[4:7, x + 12:x + 17] == tilde).all()) for x in x0],
      [int(white[:11, x + 17:x + 22].sum()) for x in x0])
# the id: 16 characters, the last a tilde, nothing past the text box
print(bool((white[15:18, 92:97] == tilde).all()), int(white[11:, 97:].sum() - white[11:, 98:].sum()))
t = cv2.imread(sys.argv[2])
print(t.shape, int((t[:11] != 0).sum()), int((t[11:, :98] != 0).sum()))
' "$t/l.png" "$t/tiny.png"
	echo "$output"
	[ "${lines[0]}" = "(57, 144, 3) [True, True] [0, 0]" ]
	[ "${lines[1]}" = "True 0" ]
	# 1-pixel cells: no room for any label, strips stay black
	[ "${lines[2]}" = "(19, 106, 3) 0 0" ]
}

@test "export: --format nii and nii.gz write the records unchanged, with spacing" {
	t="$BATS_TEST_TMPDIR"
	mkstream 'a:image:f32:1x3x4:ramp:spacing=0.5,0.25' 'a:mask:u8:1x3x4:1' 'b:lab:i32:2x3:-7' > "$t/s.ms"
	ms-export -f nii.gz -d "$t/gz" < "$t/s.ms"
	ms-export -f nii -d "$t/nii" < "$t/s.ms"
	run ls "$t/gz" "$t/nii"
	[ "$output" = "$(printf '%s\n' "$t/gz:" a.image.nii.gz a.mask.nii.gz b.lab.nii.gz '' "$t/nii:" a.image.nii a.mask.nii b.lab.nii)" ]
	run /usr/bin/python3 -c '
import sys, numpy as np, nibabel as nib
d = sys.argv[1]
im = nib.load(d + "/a.image.nii.gz")
a = np.asarray(im.dataobj)
print(a.shape, a.dtype, np.allclose(a[:, :, 0].T.ravel(), np.arange(12) / 11),
      [float(z) for z in im.header.get_zooms()])
m = np.asarray(nib.load(d + "/a.mask.nii.gz").dataobj)
l = np.asarray(nib.load(sys.argv[2] + "/b.lab.nii").dataobj)
print(m.dtype, int(m.min()), int(m.max()), l.dtype, l.shape, int(l.min()))
' "$t/gz" "$t/nii"
	echo "$output"
	[ "${lines[0]}" = "(4, 3, 1) float32 True [0.25, 0.5, 1.0]" ]
	[ "${lines[1]}" = "uint8 1 1 int32 (3, 2) -7" ]
}

@test "export: a montage that cannot be written names the file and the reason" {
	t="$BATS_TEST_TMPDIR"
	ms-import -s 128x128 -m $BUSI/masks $BUSI/images > "$t/s.ms"
	mkdir "$t/d"
	ln -s /dev/full "$t/d/sheet.png"    # a full disk
	run -1 ms-export -M "$t/d/sheet.png" < "$t/s.ms"
	[ "$output" = "ms-export: cannot write $t/d/sheet.png: No space left on device" ]
	[ -L "$t/d/sheet.png" ] && [ -c /dev/full ]
	[ "$(ls "$t/d")" = sheet.png ]
}
