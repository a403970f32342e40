#!/usr/bin/env bats
# ms-import: PNG and NIfTI in, samples out.
load helpers
PNG=$BATS_TEST_DIRNAME/data/pngsuite
BUSI=$BATS_TEST_DIRNAME/data/busi

# the shape column of ms-info for each record
shapes() { ms-info | cut -f2,4 | tr '\t\n' ': '; }
export -f shapes

@test "import: --help exits 0 with usage" {
	help_ok ms-import -- 'usage:*' '*--mask-dir*'
}

@test "import: usage errors exit 2" {
	run -2 ms-import
	run -2 ms-import --size 0x5 x.png
	run -2 ms-import --size 12 x.png
	run -2 ms-import --clip 5 x.png
	run -2 ms-import --clip 60,40 x.png
	run -2 ms-import --clip 1,101 x.png
	run -2 ms-import --axis w x.png
	run -2 ms-import --min-fg -1 x.png
	run -2 ms-import --no-such-option x.png
}

@test "import: colour types: grey stays 1 channel, RGB and palette become 3" {
	run bash -c "ms-import $PNG/basn0g01.png $PNG/basn0g16.png $PNG/basn4a08.png \
		$PNG/basn2c08.png $PNG/basn3p04.png $PNG/basn6a16.png $PNG/ibasn3p08.png | shapes"
	[ "$status" -eq 0 ]
	[ "$output" = "image:1x32x32 image:1x32x32 image:1x32x32 image:3x32x32 image:3x32x32 image:3x32x32 image:3x32x32 " ]
}

@test "import: intensities are v/255 and v/65535, within [0,1]" {
	# basn0g16 holds 0 and 65535; basn0g01 is black and white
	sh_is "$(printf '0\t1\n0\t1')" "ms-import $PNG/basn0g16.png $PNG/basn0g01.png | ms-info | cut -f5,6"
	run bash -c "ms-import $PNG/basn0g08.png | /usr/bin/python3 $REF/import_check.py $PNG/basn0g08.png"
	[ "$status" -eq 0 ]
	run bash -c "ms-import $PNG/basn6a16.png | /usr/bin/python3 $REF/import_check.py $PNG/basn6a16.png"
	[ "$status" -eq 0 ]
}

@test "import: metadata id, source, prompt on every record" {
	run bash -c "ms-import -p 'breast ultrasound' -m $BUSI/masks $BUSI/images/benign_1.png | ms-info | cut -f1,8"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "benign_1	id=benign_1 source=$BUSI/images/benign_1.png prompt=breast ultrasound" ]
	[ "${lines[1]}" = "benign_1	id=benign_1 source=$BUSI/masks/benign_1.png prompt=breast ultrasound" ]
}

@test "import: several files in argument order, each a sample" {
	sh_is "$(printf 'basn2c08\nbasn0g08\nbasn3p01')" "ms-import $PNG/basn2c08.png $PNG/basn0g08.png $PNG/basn3p01.png | ms-info | cut -f1"
}

@test "import: a directory is read in name order, other files ignored" {
	d="$BATS_TEST_TMPDIR/in"
	mkdir "$d"
	cp $PNG/basn0g08.png "$d/b.png"
	cp $PNG/basn2c08.png "$d/a.png"
	cp $PNG/basn3p08.png "$d/C.PNG"
	echo hello > "$d/notes.txt"
	cp $PNG/basn0g08.png "$d/.hidden.png"
	run bash -c "ms-import '$d' | ms-info | cut -f1"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'C\na\nb')" ]
}

@test "import: --mask-dir pairs masks by stem; masks are 0/1 and match the reference" {
	for s in benign_1 malignant_10; do
		run bash -c "ms-import -m $BUSI/masks $BUSI/images/$s.png | /usr/bin/python3 $REF/import_check.py $BUSI/images/$s.png $BUSI/masks/$s.png"
		[ "$status" -eq 0 ]
	done
	run bash -c "ms-import -m $BUSI/masks $BUSI/images/benign_1.png $BUSI/images/malignant_10.png | ms-info | cut -f1,2,3,5,6"
	[ "${#lines[@]}" -eq 4 ]
	[[ "${lines[1]}" == "benign_1	mask	u8	0	1" ]]
	[[ "${lines[3]}" == "malignant_10	mask	u8	0	1" ]]
}

@test "import: multi-channel masks: nonzero in any channel is foreground" {
	m="$BATS_TEST_TMPDIR/m"
	mkdir "$m"
	cp $PNG/basn2c08.png "$m/basn0g08.png"
	run bash -c "ms-import -m '$m' $PNG/basn0g08.png | /usr/bin/python3 $REF/import_check.py $PNG/basn0g08.png $m/basn0g08.png"
	[ "$status" -eq 0 ]
}

@test "import: an image without a mask gets only an image record; --require-mask fails" {
	m="$BATS_TEST_TMPDIR/m"
	mkdir "$m"
	sh_is image "ms-import -m '$m' $PNG/basn0g08.png | ms-info | cut -f2"
	run -1 ms-import --require-mask -m "$m" $PNG/basn0g08.png
	[[ "$output" == "ms-import: $PNG/basn0g08.png: no mask for 'basn0g08'"* ]]
	run -2 ms-import -r "$BATS_TEST_TMPDIR"
	[[ "$output" == "ms-import: --require-mask needs --mask-dir"* ]]
}

@test "import: image and mask of different sizes is an error naming the mask" {
	m="$BATS_TEST_TMPDIR/m"
	mkdir "$m"
	cp $BUSI/masks/benign_1.png "$m/basn0g08.png"
	run -1 ms-import -m "$m" $PNG/basn0g08.png
	[ "$output" = "ms-import: $m/basn0g08.png: mask is 96x96 but its image is 32x32" ]
}

@test "import: --size resizes bilinearly (images) and nearest (masks) as the reference" {
	i=$BUSI/images/benign_1.png
	for s in 64x64 100x37 300x257; do
		run bash -c "ms-import -s $s -m $BUSI/masks $i | /usr/bin/python3 $REF/import_check.py $i $BUSI/masks/benign_1.png --size $s"
		[ "$status" -eq 0 ]
	done
	sh_is "image:3x24x40 " "ms-import -s 40x24 $PNG/basn2c16.png | shapes"
}

@test "import: --clip matches numpy percentiles, rescaled to [0,1]" {
	i=$BUSI/images/malignant_10.png
	run bash -c "ms-import -c 0.5,99.5 $i | /usr/bin/python3 $REF/import_check.py $i --clip 0.5,99.5"
	[ "$status" -eq 0 ]
	run bash -c "ms-import -c 5,95 -s 50x60 $PNG/basn2c08.png | /usr/bin/python3 $REF/import_check.py $PNG/basn2c08.png --clip 5,95 --size 50x60"
	[ "$status" -eq 0 ]
	sh_is "$(printf '0\t1')" "ms-import -c 0.5,99.5 $i | ms-info | cut -f5,6"
}

@test "import: --min-fg keeps samples whose mask has more than N pixels" {
	sh_is "$(printf 'benign_1\nmalignant_10')" "ms-import -m $BUSI/masks -f 0 $BUSI/images/benign_1.png $BUSI/images/malignant_10.png | ms-info | cut -f1 | uniq"
	run bash -c "ms-import -m $BUSI/masks -f 100000 $BUSI/images/benign_1.png | wc -c"
	[ "$output" -eq 0 ]
	# no mask: no foreground
	run bash -c "ms-import -f 0 $PNG/basn0g08.png | wc -c"
	[ "$output" -eq 0 ]
}

@test "import: spacing from pHYs, scaled by --size" {
	f="$BATS_TEST_TMPDIR/s"
	/usr/bin/python3 $REF/png_mkstream.py 'sp:image:f32:1x4x8:ramp:spacing=0.5,0.25' | ms-export -b -d "$f"
	sh_is "id=sp source=$f/sp.png spacing=0.5,0.25" "ms-import $f/sp.png | ms-info | cut -f8"
	sh_is "id=sp source=$f/sp.png spacing=1,0.5" "ms-import -s 4x2 $f/sp.png | ms-info | cut -f8"
}

@test "import: -z writes compressed records with the same content" {
	run bash -c "ms-import $BUSI/images/benign_1.png | ms-info"
	plain="$output"
	sh_is "$plain" "ms-import -z $BUSI/images/benign_1.png | ms-info"
	a=$(ms-import $BUSI/images/benign_1.png | wc -c)
	b=$(ms-import -z $BUSI/images/benign_1.png | wc -c)
	[ "$b" -lt "$a" ]
}

@test "import: the same id twice in a row is an error" {
	run -1 ms-import $PNG/basn0g08.png $PNG/basn0g08.png
	[[ "$output" == *"id 'basn0g08' repeats the previous sample's id" ]]
}

@test "import: crashers: exit 1, one line naming the file, no output" {
	for f in $PNG/crashers/*.png; do
		run --separate-stderr ms-import "$f"
		[ "$status" -eq 1 ] || { echo "$f: status $status"; false; }
		[ -z "$output" ]
		[ "${#stderr_lines[@]}" -eq 1 ]
		[[ "$stderr" == "ms-import: $f: "* ]] || { echo "$stderr"; false; }
	done
}

@test "import: badpal files import cleanly or fail cleanly" {
	for f in $PNG/badpal/*.png; do
		run --separate-stderr ms-import "$f"
		if [ "$status" -eq 0 ]; then
			[ -z "$stderr" ]
			ms-import "$f" | ms-info >/dev/null
		else
			[ "$status" -eq 1 ] && [ "${#stderr_lines[@]}" -eq 1 ] && [ -z "$output" ]
		fi
	done
}

@test "import: empty, random, truncated and missing files exit 1 with a message" {
	t="$BATS_TEST_TMPDIR"
	: > "$t/empty.png"
	head -c 4096 /dev/urandom > "$t/random.png"
	head -c 2000 $BUSI/images/benign_1.png > "$t/trunc.png"
	head -c 40 $PNG/basn0g08.png > "$t/trunc2.png"
	for f in empty random; do
		run_is 1 "ms-import: $t/$f.png: not a PNG file" ms-import "$t/$f.png"
	done
	for f in trunc trunc2; do
		run_is 1 "ms-import: $t/$f.png: truncated PNG file" ms-import "$t/$f.png"
	done
	run_is 1 "ms-import: cannot open $t/nonexistent.png: No such file or directory" \
		ms-import "$t/nonexistent.png"
	mkdir "$t/none"
	run_is 1 "ms-import: $t/none: no .png, .nii or .nii.gz files" ms-import "$t/none"
	run -1 ms-import -m "$t/nonexistent" $PNG/basn0g08.png
}

# a grey 8-bit PNG of W x H zero pixels written row by row, of which only the first ROWS
# rows (default H) are stored: small files that decode to many bytes
zero_png() {
	/usr/bin/python3 - "$@" <<-'EOF'
	import struct, sys, zlib
	out, w, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
	rows = int(sys.argv[4]) if len(sys.argv) > 4 else h
	def chunk(t, d):
	    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
	z, row = zlib.compressobj(9), bytes(w + 1)
	idat = b"".join(z.compress(row) for _ in range(rows)) + z.flush()
	open(out, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
	                      + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
	EOF
}

# ms-import's exit status, output bytes and peak memory (MiB, max RSS)
peak() {
	/usr/bin/python3 -c '
import resource, subprocess, sys
p = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE)
print(p.returncode, len(p.stdout), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)' ms-import "$@"
}

@test "import: a large PNG with --size is reduced row by row, never held as f32" {
	t="$BATS_TEST_TMPDIR"
	zero_png "$t/big.png" 8000 8000       # 61 MiB of pixels, 244 MiB as f32
	run peak -s 64x64 "$t/big.png"
	echo "$output"
	read -r st bytes mib <<<"$output"
	[ "$st" -eq 0 ] && [ "$bytes" -gt 16384 ]
	[ "$mib" -lt 48 ]
	# --clip holds the image at 8 bits for its percentiles, not as f32
	run peak -s 64x64 -c 1,99 "$t/big.png"
	echo "$output"
	read -r st bytes mib <<<"$output"
	[ "$st" -eq 0 ] && [ "$mib" -lt 160 ]
	# the mask too, and its foreground is counted at full size
	mkdir "$t/m" && cp "$t/big.png" "$t/m/"
	run peak -s 64x64 -m "$t/m" -f 0 "$t/big.png"
	read -r st bytes mib <<<"$output"
	[ "$st" -eq 0 ] && [ "$bytes" -eq 0 ] && [ "$mib" -lt 48 ]
}

@test "import: --max-decoded caps the decoded bytes of a PNG (decompression bombs)" {
	t="$BATS_TEST_TMPDIR"
	zero_png "$t/big.png" 8000 8000
	run -1 ms-import -s 64x64 --max-decoded 32M "$t/big.png"
	[ "$output" = "ms-import: $t/big.png: image of 8000x8000 is too large: 61 MiB of pixels, the limit is 32 MiB (--max-decoded raises it)" ]
	run -0 bash -c "ms-import -s 64x64 --max-decoded 64000000 '$t/big.png' | ms-info | cut -f4,5,6"
	[ "$output" = "$(printf '1x64x64\t0\t0')" ]
	# the default limit, 1 GiB, is checked on the header: nothing is decoded
	zero_png "$t/bomb.png" 40000 30000 1
	run -1 ms-import -s 64x64 "$t/bomb.png"
	[ "$output" = "ms-import: $t/bomb.png: image of 40000x30000 is too large: 1144 MiB of pixels, the limit is 1024 MiB (--max-decoded raises it)" ]
	run -1 ms-import -s 64x64 --max-decoded 2G "$t/bomb.png"
	[ "$output" = "ms-import: $t/bomb.png: Not enough image data" ]
	run -2 ms-import --max-decoded 0 "$t/big.png"
	run -2 ms-import --max-decoded 3T "$t/big.png"
	run -2 ms-import --max-decoded -1 "$t/big.png"
}

# NIfTI: volumes written by nibabel, read back slice by slice and compared with nibabel
make_volumes() {
	/usr/bin/python3 - "$1" <<-'EOF'
	import os, sys
	import nibabel as nib, numpy as np
	os.chdir(sys.argv[1])
	os.makedirs("m", exist_ok=True)
	rng = np.random.default_rng(1)
	v = (rng.random((7, 5, 4)) * 1000 - 300).astype(np.float32)
	nib.save(nib.Nifti1Image(v, np.diag([0.5, 0.75, 2.0, 1])), "vol.nii.gz")
	nib.save(nib.Nifti1Image((v > 200).astype(np.uint8), np.eye(4)), "m/vol.nii.gz")
	v4 = rng.integers(-100, 100, (6, 5, 3, 2)).astype(np.int16)
	nib.save(nib.Nifti1Image(v4, np.diag([1.5, 0.8, 3.0, 1])), "v4.nii")
	nib.save(nib.Nifti1Image((v4[..., 0] > 50).astype(np.uint8), np.eye(4)), "m/v4.nii")
	EOF
}

@test "import: NIfTI slices along x, y, z agree with nibabel, masks too" {
	t="$BATS_TEST_TMPDIR"
	make_volumes "$t"
	for a in x y z; do
		run bash -c "ms-import -a $a -m $t/m $t/vol.nii.gz | /usr/bin/python3 $REF/import_nifti.py $t/vol.nii.gz $a $t/m/vol.nii.gz"
		echo "$output"
		[ "$status" -eq 0 ]
	done
	run bash -c "ms-import -c 2,98 $t/vol.nii.gz | /usr/bin/python3 $REF/import_nifti.py --clip 2,98 $t/vol.nii.gz z"
	[ "$status" -eq 0 ]
	# then the volume's geometry (nii.* keys: tests/22-volume.bats)
	sh_is "vol_s0	1x5x7	id=vol_s0 source=$t/vol.nii.gz spacing=0.75,0.5 slice=0 axis=z nii.id=vol" "ms-import $t/vol.nii.gz | ms-info | cut -f1,4,8 | head -1 | sed 's/ nii.dim=.*//'"
}

@test "import: NIfTI 4-D: every slice of every volume, one 3-D mask for all" {
	t="$BATS_TEST_TMPDIR"
	make_volumes "$t"
	run bash -c "ms-import -a y -m $t/m $t/v4.nii | /usr/bin/python3 $REF/import_nifti.py $t/v4.nii y $t/m/v4.nii"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "20 of 20 records agree" ]
	sh_is "$(printf 'v4_t0_s0\nv4_t1_s0')" "ms-import $t/v4.nii | ms-info | cut -f1 | sed -n '1p;4p'"
}

@test "import: NIfTI errors: mask kind or dimensions that do not match, bad files" {
	t="$BATS_TEST_TMPDIR"
	make_volumes "$t"
	cp "$t/m/vol.nii.gz" "$t/m/v4.nii"
	run -1 ms-import -m "$t/m" "$t/v4.nii"
	[ "$output" = "ms-import: $t/m/v4.nii: mask volume is 7x5x4 but its image is 6x5x3" ]
	rm "$t/m/v4.nii"
	cp $PNG/basn0g08.png "$t/m/v4.png"
	run -1 ms-import -m "$t/m" "$t/v4.nii"
	[ "$output" = "ms-import: $t/m/v4.png: a volume image needs a volume mask" ]
	head -c 100 "$t/vol.nii.gz" > "$t/cut.nii.gz"
	run -1 ms-import "$t/cut.nii.gz"
	[[ "$output" == "ms-import: $t/cut.nii.gz: "* ]]
	[ "${#lines[@]}" -eq 1 ]
	: > "$t/empty.nii"
	run -1 ms-import "$t/empty.nii"
	[[ "$output" == "ms-import: $t/empty.nii: "* ]]
}

@test "import: a write error on standard output says <stdout>" {
	run -1 bash -c 'ms-import --mask-dir "$1/masks" "$1/images" > /dev/full' _ "$BUSI"
	[ "$output" = "ms-import: cannot write record 'image' to <stdout>: No space left on device" ]
}
