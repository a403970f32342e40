#!/usr/bin/env bats
# Volumes through the stream: ms-import keeps a NIfTI volume's geometry in each slice's
# metadata, ms-export --volume gathers the slices back onto the source grid; checked with
# nibabel (tests/ref/volume_ref.py), skipped where /usr/bin/python3 lacks it.
load helpers
VREF="$REF/volume_ref.py"

setup_file() {
	if $PY -c 'import nibabel, numpy' 2>/dev/null; then
		mkdir -p "$BATS_FILE_TMPDIR/v"
		$PY "$REF/volume_ref.py" make "$BATS_FILE_TMPDIR/v" > "$BATS_FILE_TMPDIR/list"
	fi
}

setup() {
	[ -s "$BATS_FILE_TMPDIR/list" ] || skip "$PY with nibabel and numpy is needed"
	V=$BATS_FILE_TMPDIR/v
	cd "$BATS_TEST_TMPDIR"
}

# vcheck SRC OUT ARGS...: volume_ref.py check, printing what differs
vcheck() {
	run $PY "$VREF" check "$@"
	[ "$status" -eq 0 ] || { echo "$output"; return 1; }
}

# no temporary files (ms_outfile's NAME.tmpXXXXXX) under $1
no_temps() { ! find "$1" -name '*.tmp*' | grep -q .; }

@test "volume: the geometry keys of a slice, as ms-stream(5) lists them" {
	run -0 bash -c "ms-import -a y '$V/flip.nii' | ms-info | head -1 | cut -f8"
	[[ "$output" == "id=flip_s0 source=$V/flip.nii spacing=3,0.8 slice=0 axis=y nii.id=flip "* ]]
	[[ "$output" == *" nii.dim=3,6,8,4 nii.pixdim=1,0.800000012,1.25,3 nii.units="*" nii.datatype=2 "* ]]
	[[ "$output" == *" nii.qform=2,"*" nii.sform=1,-0.800000012,0,0,40,0,1.25,0,-12,0,0,-3,90 nii.range="* ]]
	# masks carry their own file's geometry, without nii.range; 4-d images volume=
	run -0 bash -c "ms-import -m '$V/m' '$V/four.nii.gz' | ms-info | sed -n '2p;7p' | cut -f1,2,8"
	[[ "${lines[0]}" == "four_t0_s0	mask	id=four_t0_s0 source=$V/m/four.nii.gz "*"nii.dim=3,6,5,3 "* ]]
	[[ "${lines[0]}" != *nii.range* ]]
	[[ "${lines[1]}" == "four_t1_s0	image	"*" volume=1 nii.id=four nii.dim=4,6,5,3,2 "*"nii.range="* ]]
}

@test "volume: import | export --volume image gives back each volume: shape, affine, data" {
	for f in $(cat "$BATS_FILE_TMPDIR/list"); do
		s=${f%%.nii*}
		for a in x y z; do
			rm -rf o
			ms-import -a $a "$V/$f" | ms-export -f nii -V image -d o
			[ "$(ls o)" = "$s.image.nii" ]
			vcheck "$V/$f" "o/$s.image.nii" || { echo "$f along $a"; false; }
		done
	done
	# gzip, --bare, several volumes in one stream
	ms-import "$V/oblique.nii.gz" "$V/sonly.nii" | ms-export -b -f nii.gz -V image -d gz
	[ "$(ls gz | tr '\n' ' ')" = "oblique.nii.gz sonly.nii.gz " ]
	vcheck "$V/oblique.nii.gz" gz/oblique.nii.gz
	vcheck "$V/sonly.nii" gz/sonly.nii.gz
}

@test "volume: masks as uint8 labels with scl_slope 0; slices dropped by --min-fg as background" {
	for f in oblique.nii.gz flip.nii four.nii.gz; do
		s=${f%%.nii*}
		rm -rf o
		ms-import -m "$V/m" -f 0 "$V/$f" > s.ms
		# z = 0 is empty in every mask: dropped
		! ms-info s.ms | cut -f1 | grep -q '_s0$'
		ms-export -f nii.gz -V mask -d o < s.ms
		vcheck "$V/m/$s.nii.gz" "o/$s.mask.nii.gz" --labels
		# the image volume: its missing slices are 0
		ms-export -f nii.gz -V image -d o < s.ms
		run $PY -c 'import sys, nibabel as nib, numpy as np
a = nib.load(sys.argv[1]).get_fdata()
print(np.abs(a[:, :, 0]).max(), np.abs(a[:, :, 1:]).max() > 0)' "o/$s.image.nii.gz"
		[ "$output" = "0.0 True" ]
	done
}

@test "volume: slices resized on import go back to the source grid (nearest, bilinear)" {
	for f in oblique.nii.gz qonly.nii.gz scaled.nii.gz four.nii.gz; do
		s=${f%%.nii*}
		rm -rf o
		ms-import -s 16x12 -m "$V/m" "$V/$f" > s.ms
		ms-export -f nii -V mask -d o < s.ms
		ms-export -f nii -V image -d o < s.ms
		vcheck "$V/m/$s.nii.gz" "o/$s.mask.nii" --labels --near
		vcheck "$V/$f" "o/$s.image.nii" --near
	done
}

@test "volume: records made per slice (no geometry of their own) come back with the image's" {
	ms-import -a x "$V/oblique.nii.gz" | $PY "$VREF" pred > s.ms
	ms-info s.ms | grep -q '	pred	.*	id=oblique_s0$'
	ms-export -f nii.gz -V pred -d o < s.ms
	ms-export -f nii.gz -V prob -d o < s.ms
	vcheck "$V/oblique.nii.gz" o/oblique.pred.nii.gz --labels --norm
	vcheck "$V/oblique.nii.gz" o/oblique.prob.nii.gz --float --norm
	# resized: prob bilinear and pred nearest back to the grid
	ms-import -s 20x20 "$V/qonly.nii.gz" | $PY "$VREF" pred | ms-export -f nii -V prob -d r
	vcheck "$V/qonly.nii.gz" r/qonly.prob.nii --float --near
}

@test "volume: --volume usage errors exit 2" {
	run -2 ms-export -V image < /dev/null
	[[ "$output" == "ms-export: --volume needs --format nii or nii.gz"* ]]
	run -2 ms-export -f nii -V image -n image < /dev/null
	run -2 ms-export -f nii -V < /dev/null
}

@test "volume: streams that cannot be gathered exit 1, and write no partial volume" {
	ms-import "$V/flip.nii" > f.ms
	ms-import "$V/sonly.nii" > s.ms
	# a PNG sample: no geometry
	run -1 bash -c "ms-import '$BATS_TEST_DIRNAME/data/pngsuite/basn0g08.png' | ms-export -f nii -V image -d o"
	[ "$output" = "ms-export: sample 'basn0g08': no volume geometry (nii.* metadata of ms-import)" ]
	# a volume again after another, and a slice twice
	run -1 bash -c "cat f.ms s.ms f.ms | ms-export -f nii -V image -d o"
	[ "$output" = "ms-export: sample 'flip_s0': volume 'flip' again after another volume" ]
	echo flip_s1 > ids; ms-pick -i ids < f.ms > one.ms
	run -1 bash -c "cat f.ms one.ms | ms-export -f nii -V image -d o2"
	[ "$output" = "ms-export: sample 'flip_s1': slice 1 of volume 'flip' comes twice" ]
	[ ! -e o2 ]
	# damaged geometry: each key checked
	for kv in nii.dim=3,0,8,4 nii.dim=4,6,8,4 nii.dim=3,6,8,40000 nii.datatype=32 nii.pixdim=1,2 \
		nii.sform=1,2,3 nii.qform=1e9,0,0,0,0,0,0 nii.scl=nan,0 slice=4 axis=w \
		nii.orient=0,0,2,0,0,0 nii.orient=0,1,2,0,0,2 nii.orient=1,0,2,0,0,0; do
		PYTHONPATH="$REF" $PY -c '
import sys
from msstream import read, write
k, v = sys.argv[1].split("=")
for n, m, a in read(sys.stdin.buffer):
    if m["id"] == "flip_s2":
        m[k] = v
    write(sys.stdout.buffer, n, m, a)' "$kv" < f.ms > bad.ms
		run -1 ms-export -f nii -V image -d o3 < bad.ms
		[[ "$output" == "ms-export: sample 'flip_s2': "* ]] || { echo "$kv: $output"; false; }
		[ "${#lines[@]}" -eq 1 ]
		[ ! -e o3 ]
	done
	# a stream cut in the second volume: the first is written, the second not
	cat s.ms f.ms | head -c $(($(stat -c %s s.ms) + 1000)) > cut.ms
	run -1 ms-export -f nii.gz -V image -d o4 < cut.ms
	[[ "$output" == "ms-export: <stdin>: truncated"* ]]
	[ "$(ls o4)" = sonly.image.nii.gz ]
	no_temps .
}

# hostile variants of a nibabel file: each a message naming ms-import and the file, no
# output; a truncated .nii.gz too
@test "volume: hostile headers exit 1 with one line naming the file, no output" {
	$PY -c '
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
def put(name, off, fmt, v):
    c = bytearray(b); struct.pack_into(fmt, c, off, v); open(name, "wb").write(c)
put("dim0.nii", 40, "<h", 0)
put("dim8.nii", 40, "<h", 8)
put("negdim.nii", 44, "<h", -6)
c = bytearray(b); struct.pack_into("<3h", c, 42, 32767, 32767, 32767); open("huge.nii", "wb").write(c)
put("pixnan.nii", 84, "<f", float("nan"))
put("offset.nii", 108, "<f", 1e6)
' "$V/flip.nii"
	gzip -c "$V/flip.nii" | head -c 150 > cut.nii.gz
	for f in dim0 dim8 negdim huge pixnan offset cut; do
		p=$f.nii; [ $f = cut ] && p=cut.nii.gz
		run --separate-stderr ms-import "$p"
		[ "$status" -eq 1 ] && [ -z "$output" ] || { echo "$p: $status"; false; }
		[ "${#stderr_lines[@]}" -eq 1 ]
		[[ "$stderr" == "ms-import: $p: "* ]] || { echo "$stderr"; false; }
	done
	run -1 ms-import pixnan.nii
	[ "$output" = "ms-import: pixnan.nii: pixdim[2] = nan is not finite" ]
	run -1 ms-import offset.nii
	[ "$output" = "ms-import: offset.nii: vox_offset 1000000 is beyond the end of the file (544 bytes)" ]
}

@test "volume: --window L,W maps L - W/2 .. L + W/2 to [0,1]; the image comes back clipped" {
	f=$V/scaled.nii.gz
	ms-import -w 40,400 "$f" > s.ms
	PYTHONPATH="$REF" run $PY -c '
import sys, nibabel as nib, numpy as np
from msstream import read
v = nib.load(sys.argv[1]).get_fdata()
bad = 0
for n, m, a in read(open(sys.argv[2], "rb")):
    want = np.clip((v[:, :, int(m["slice"])].T - (40 - 200)) / 400, 0, 1)
    bad += not np.allclose(a[0], want, atol=1e-6)
print(bad, sorted(set(m["nii.range"] for n, m, a in read(open(sys.argv[2], "rb")))))
' "$f" s.ms
	[ "$output" = "0 ['-160,240']" ]
	ms-export -f nii -V image -d o < s.ms
	run $PY -c '
import sys, nibabel as nib, numpy as np
a, b = nib.load(sys.argv[1]), nib.load(sys.argv[2])
print(np.allclose(np.clip(a.get_fdata(), -160, 240), b.get_fdata(), atol=a.dataobj.slope),
      b.get_data_dtype(), np.allclose(a.affine, b.affine))' "$f" o/scaled.image.nii
	[ "$output" = "True int16 True" ]
	help_ok ms-import -- '*--window L,W*'
	run -2 ms-import -w 40 "$f"
	run -2 ms-import -w 40,0 "$f"
	run -2 ms-import -w 40,-5 "$f"
	run -2 ms-import -w 40,400 -c 1,99 "$f"
	[[ "${lines[0]}" == "ms-import: --clip and --window do not go together" ]]
	p=$BATS_TEST_DIRNAME/data/pngsuite/basn0g08.png
	run -1 ms-import -w 40,400 "$p"
	[ "$output" = "ms-import: $p: --window is for volumes (NIfTI), not PNG images" ]
}

# the literal blocks of man page $1's EXAMPLES that follow a line matching $2, as a script
man_example() {
	sed -n '/^\.Sh EXAMPLES/,/^\.Sh SEE ALSO/p' "$BATS_TEST_DIRNAME/../man/$1" |
		sed -n "/$2/,/^\.Ed\$/p" | sed '1,/^\.Bd/d;$d' | sed 's/\\e/\\/g'
}

@test "volume: the EXAMPLES of ms-import(1) and ms-export(1) with volumes run" {
	mkdir ct labels
	cp "$V/scaled.nii.gz" ct/case01.nii.gz
	cp "$V/m/scaled.nii.gz" labels/case01.nii.gz
	man_example ms-import.1 '^The same CT turned to RAS' > imp.sh
	grep -q 'ms-import -o RAS -w 40,400' imp.sh
	run -0 bash -e -o pipefail imp.sh
	# slices with more than 20 label pixels at 64x64; the others background
	run $PY -c '
import nibabel as nib, numpy as np
a, b = nib.load("labels/case01.nii.gz"), nib.load("out/case01.mask.nii.gz")
print(b.shape == a.shape, np.allclose(a.affine, b.affine), b.get_data_dtype(), sorted(np.unique(b.get_fdata())))'
	[ "$output" = "True True uint8 [0.0, 1.0]" ]
	rm -r out
	man_example ms-export.1 '^A CT volume' | sed 's/64x64/16x16/' > exp.sh
	grep -q 'ms-segment -m seg.ms' exp.sh
	ms-import -s 16x16 -m labels ct/case01.nii.gz |
		ms-segment train -o seg.ms --steps 2 --width 8 --batch 2 --threads 1 2>/dev/null
	run -0 env MS_THREADS=1 bash -e -o pipefail exp.sh
	[ "$(ls out | tr '\n' ' ')" = "case01.mask.nii.gz case01.pred.nii.gz " ]
	vcheck labels/case01.nii.gz out/case01.mask.nii.gz --labels --near
	vcheck ct/case01.nii.gz out/case01.pred.nii.gz --grid
}

@test "volume: --orient RAS, LPS: slices as nibabel reorients the volume; export restores the file's order" {
	for f in oblique.nii.gz flip.nii sonly.nii four.nii.gz; do
		s=${f%%.nii*}
		for o in RAS LPS; do
			for a in x z; do
				run bash -c "ms-import -o $o -a $a '$V/$f' | $PY '$VREF' slices '$V/$f' $o $a"
				[[ "$output" == "$o 0 of "*" differ" ]] || { echo "$f $o $a: $output"; false; }
				rm -rf o
				ms-import -o $o -a $a -m "$V/m" "$V/$f" > s.ms
				ms-export -f nii -V image -d o < s.ms
				ms-export -f nii -V mask -d o < s.ms
				vcheck "$V/$f" "o/$s.image.nii"
				vcheck "$V/m/$s.nii.gz" "o/$s.mask.nii" --labels
			done
		done
	done
	# resized, and the key
	ms-import -o LPS -s 16x16 -m "$V/m" "$V/oblique.nii.gz" | ms-export -f nii -V mask -d r
	vcheck "$V/m/oblique.nii.gz" r/oblique.mask.nii --labels --near
	run -0 bash -c "ms-import -o RAS '$V/flip.nii' | ms-info | head -1"
	[[ "$output" == *" nii.orient=0,1,2,1,0,1" ]]
	run -0 bash -c "ms-import -o file '$V/flip.nii' | ms-info | head -1"
	[[ "$output" != *nii.orient* ]]
	run -2 ms-import -o ras "$V/flip.nii"
	help_ok ms-import -- '*--orient file|RAS|LPS*'
}

@test "volume: a DICOM series through dcm2niix and ms-import lands where DICOM puts it" {
	command -v dcm2niix >/dev/null || skip "dcm2niix (Debian package dcm2niix) is needed"
	$PY -c 'import pydicom' 2>/dev/null || skip "$PY with pydicom is needed"
	DREF="$REF/dicom_ref.py"
	mkdir dicom nii
	$PY "$DREF" make dicom    # oblique CT, 4 slices of 6 x 5, RescaleSlope 2
	run -0 dcm2niix -z y -f %s_%p -o nii dicom
	vol=$(ls nii/*.nii.gz)
	run -0 $PY "$DREF" check dicom "$vol"
	[ "$output" = "ok 120" ]
	for a in z y; do
		ms-import -a $a "$vol" | ms-export -f nii -V image -d out-$a
		run -0 $PY "$DREF" check dicom out-$a/*.image.nii
		[ "$output" = "ok 120" ]
	done
	# the check can fail: the same volume moved by 1 mm
	$PY -c 'import nibabel as nib, sys
v = nib.load(sys.argv[1]); a = v.affine.copy(); a[0, 3] += 1
nib.save(nib.Nifti1Image(v.get_fdata(), a, v.header), "moved.nii")' "$vol"
	run -1 $PY "$DREF" check dicom moved.nii
	[[ "${lines[0]}" == "pixel 0,0,0 at "*", DICOM puts it at "* ]]
}
