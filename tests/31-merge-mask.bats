#!/usr/bin/env bats
# ms-merge-mask: grid statistics and geometry, determinism, --apply, stream handling.
load helpers

mk() { /usr/bin/python3 "$REF/merge_make.py" "$@"; }
check() { /usr/bin/python3 "$REF/merge_check.py" "$@"; }

setup() {
	T=$BATS_TEST_TMPDIR
}

@test "--help prints usage to stdout and exits 0" {
	help_ok ms-merge-mask -- 'usage: ms-merge-mask*' '*--apply*'
}

@test "usage errors exit 2 and say why" {
	for args in "-a 1.5" "--alpha -0.01" "--alpha nan" "-a x" "-p 0" "--patch -3" \
	            "-p 2.5" "-s -1" "--seed x" "--name a/b" "--apply image" "extra" "--bogus"; do
		run -2 ms-merge-mask $args </dev/null
		[[ "$output" == *usage:* ]]
	done
	run -2 ms-merge-mask --alpha 1.5
	[[ "$output" == *"--alpha: '1.5' is not a number in [0, 1]"* ]]
	run -2 ms-merge-mask -p 0
	[[ "$output" == *"--patch:"* ]]
}

@test "empty stream gives an empty stream" {
	run bash -c 'ms-merge-mask </dev/null | wc -c'
	[ "$status" -eq 0 ]
	[ "$output" -eq 0 ]
}

@test "bad streams exit 1 with a message" {
	run -1 bash -c 'head -c 100 /dev/zero | ms-merge-mask'
	[[ "$output" == "ms-merge-mask: <stdin>: bad magic"* ]]
	mk -n 2 >"$T/in.ms"
	run -1 bash -c "head -c 300 '$T/in.ms' | ms-merge-mask >/dev/null"
	[[ "$output" == "ms-merge-mask: <stdin>: truncated"* ]]
}

@test "fraction of real cells within a 99% binomial interval, alpha 0 and 1 exact" {
	mk -n 100 --size 40x40,37x50 >"$T/in.ms"      # 25 + 35 cells of 8 px per sample
	pairs=
	for a in 0 0.25 0.6 0.9 1; do
		ms-merge-mask -p 8 -a $a -s 3 <"$T/in.ms" >"$T/out$a.ms"
		pairs="$pairs $T/out$a.ms $a"
	done
	ms-merge-mask -p 8 <"$T/in.ms" >"$T/out.ms"   # default alpha 0.6
	run check binom --patch 8 $pairs "$T/out.ms" 0.6
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 6 ]
	# the check can fail: alpha 0.6 drawn, 0.5 claimed
	run ! check binom --patch 8 "$T/out.ms" 0.5
}

@test "cells are exactly P x P, aligned at (0,0), cropped at the border" {
	mk -n 60 --size 37x50,32x32,7x5,1x1 >"$T/in.ms"
	for p in 1 3 8 16 64; do
		ms-merge-mask -p $p -a 0.5 <"$T/in.ms" >"$T/out.ms"
		check cells "$T/out.ms" --patch $p --flips
	done
	# a grid of 2P cells is not one of P cells: the check can fail
	ms-merge-mask -p 16 -a 0.5 <"$T/in.ms" >"$T/out.ms"
	run ! check cells "$T/out.ms" --patch 8 --flips
}

@test "default patch is ceil(min(H,W)/6)" {
	mk -n 60 --size 128x128,50x37,40x96 >"$T/in.ms"
	ms-merge-mask -a 0.5 <"$T/in.ms" >"$T/out.ms"
	check cells "$T/out.ms" --flips
}

@test "same seed same bytes, other seed other grids, order does not matter" {
	mk -n 40 --extra >"$T/in.ms"
	mk -n 40 --extra --reverse >"$T/rev.ms"
	ms-merge-mask -s 11 <"$T/in.ms" >"$T/a.ms"
	ms-merge-mask --seed 11 <"$T/in.ms" >"$T/b.ms"
	cmp "$T/a.ms" "$T/b.ms"
	ms-merge-mask -s 12 <"$T/in.ms" >"$T/c.ms"
	run ! cmp -s "$T/a.ms" "$T/c.ms"
	check differ "$T/a.ms" "$T/c.ms"
	ms-merge-mask -s 11 <"$T/rev.ms" >"$T/r.ms"
	check same "$T/a.ms" "$T/r.ms"
}

@test "--apply gives M*real + (1-M)*synth in place, other records untouched" {
	mk -n 20 --size 37x50,32x32 --extra --synth syn >"$T/in.ms"
	ms-merge-mask --apply syn -p 6 -a 0.5 <"$T/in.ms" >"$T/out.ms"
	check apply "$T/in.ms" "$T/out.ms" syn
	check passthrough "$T/in.ms" "$T/out.ms" --except image
	check cells "$T/out.ms" --patch 6
	# the same grid as without --apply
	ms-merge-mask -p 6 -a 0.5 <"$T/in.ms" >"$T/plain.ms"
	check same "$T/out.ms" "$T/plain.ms"
	# grey images too
	mk -n 5 --channels 1 --synth syn >"$T/g.ms"
	ms-merge-mask --apply syn <"$T/g.ms" >"$T/gout.ms"
	check apply "$T/g.ms" "$T/gout.ms" syn
}

@test "--apply errors name the sample" {
	mk -n 3 --synth syn --bad-synth >"$T/in.ms"
	run -1 ms-merge-mask --apply syn <"$T/in.ms"
	[[ "$output" == *"sample 's0': 'image' and 'syn' must both be f32 of the same shape"* ]]
	mk -n 3 >"$T/in.ms"
	run -1 ms-merge-mask --apply syn <"$T/in.ms"
	[[ "$output" == *"sample 's0': --apply needs an 'image' and a 'syn' record"* ]]
}

@test "multi-sample stream: one merge record at the end of each sample, byte-exact pass-through" {
	mk -n 12 --size 37x50,32x32 --extra >"$T/in.ms"
	ms-merge-mask <"$T/in.ms" >"$T/out.ms"
	check passthrough "$T/in.ms" "$T/out.ms"
	check cells "$T/out.ms"
	run bash -c "ms-info '$T/out.ms' | awk '\$2 == \"merge\"' | wc -l"
	[ "$output" -eq 12 ]
	run bash -c "ms-info '$T/out.ms' | awk '\$2 == \"merge\" { print \$1, \$3, \$4 }' | head -2"
	[ "${lines[0]}" = "s0 u8 1x50x37" ]
	[ "${lines[1]}" = "s1 u8 1x32x32" ]
	# --name renames the new record; mask-only samples get one of the mask's size
	mk -n 3 --mask-only --size 9x4 | ms-merge-mask --name grid >"$T/m.ms"
	run bash -c "ms-info '$T/m.ms' | cut -f 1-4"
	[ "${lines[1]}" = "s0	grid	u8	1x4x9" ]
	[ "${#lines[@]}" -eq 6 ]
}

@test "samples without image or mask pass through without a merge record" {
	mk -n 4 --extra >"$T/in.ms"
	# keep only the unrelated records: note and tail
	/usr/bin/python3 - "$T/in.ms" "$T/notes.ms" "$REF" <<'PY'
import sys
sys.path.insert(0, sys.argv[3])
from msstream import read, write
with open(sys.argv[1], "rb") as f, open(sys.argv[2], "wb") as o:
    for name, meta, a in read(f):
        if name in ("note", "tail"):
            write(o, name, meta, a, compress=name == "note")
PY
	ms-merge-mask <"$T/notes.ms" >"$T/out.ms"
	cmp "$T/notes.ms" "$T/out.ms"
	# image and mask of different sizes in one sample is an error
	mk -n 1 --size 8x8 >"$T/a.ms"
	mk -n 1 --size 9x8 --mask-only >"$T/b.ms"
	run -1 bash -c "cat '$T/a.ms' '$T/b.ms' | ms-merge-mask"
	[[ "$output" == *"sample 's0': 'mask' is 9x8, another image or mask is 8x8"* ]]
}
