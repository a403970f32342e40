#!/usr/bin/env bats
# ms-pick: sample selection, record keep/drop/rename, byte-exact copying.
load helpers

setup() {
	T=$BATS_TEST_TMPDIR
	# 10 samples s0..s9: note (u8, compressed), image, mask, tail (i32)
	/usr/bin/python3 "$REF/merge_make.py" -n 10 --extra >"$T/in.ms"
}

ids() { ms-info | cut -f 1 | uniq | tr '\n' ' '; }
recs() { ms-info | cut -f 1,2 | tr '\t\n' ': '; }
export -f ids recs   # for run bash -c

@test "--help prints usage to stdout and exits 0" {
	help_ok ms-pick -- 'usage: ms-pick*'
}

@test "usage errors exit 2" {
	for args in "-n -1" "-n x" "-s -2" "-e 0" "--every x" "--keep a/b" "--drop ,/" \
	            "--rename image" "--rename image=a/b" "--rename =x" "extra" "--bogus"; do
		run -2 ms-pick $args </dev/null
		[[ "$output" == *usage:* ]]
	done
	run -2 ms-pick -e 0
	[[ "$output" == "ms-pick: --every: '0' is not an integer"* ]]
}

@test "missing ids file, bad stream: exit 1 with a message" {
	run -1 ms-pick --ids "$T/nope" <"$T/in.ms"
	[[ "$output" == "ms-pick: cannot open $T/nope: No such file"* ]]
	run -1 bash -c 'head -c 64 /dev/zero | ms-pick'
	[[ "$output" == "ms-pick: <stdin>: bad magic"* ]]
	run -1 bash -c "head -c 1000 '$T/in.ms' | ms-pick >/dev/null"
	[[ "$output" == "ms-pick: <stdin>: truncated"* ]]
}

@test "empty stream in, empty stream out; no option copies byte for byte" {
	run bash -c 'ms-pick </dev/null | wc -c'
	[ "$output" -eq 0 ]
	ms-pick <"$T/in.ms" | cmp - "$T/in.ms"
	ms-pick -n 0 <"$T/in.ms" | cmp - /dev/null
}

@test "-s, -e, -n select samples in that order" {
	sh_is "s0 s1 s2 " "ms-pick -n 3 <'$T/in.ms' | ids"
	sh_is "s8 s9 " "ms-pick -s 8 <'$T/in.ms' | ids"
	sh_is "s1 s4 s7 " "ms-pick -s 1 -e 3 <'$T/in.ms' | ids"
	sh_is "s2 s5 " "ms-pick -s 2 -e 3 -n 2 <'$T/in.ms' | ids"
	run bash -c "ms-pick -s 20 <'$T/in.ms' | wc -c"
	[ "$output" -eq 0 ]
	# K folds with -e K -s 0..K-1 partition the stream
	for s in 0 1 2; do ms-pick -e 3 -s $s <"$T/in.ms"; done >"$T/folds.ms"
	run bash -c "ms-info '$T/folds.ms' | wc -l"
	[ "$output" -eq 40 ]
	# whole samples are copied byte for byte
	ms-pick -s 1 -e 3 <"$T/in.ms" >"$T/a.ms"
	run /usr/bin/python3 "$REF/merge_check.py" subset "$T/a.ms" "$T/in.ms"
	[ "$status" -eq 0 ]
	[ "$output" = "subset: 12 records, 3 whole samples" ]
	# the check can fail: a sample cut short is not whole
	ms-pick -s 1 -e 3 -d tail <"$T/in.ms" >"$T/b.ms"
	run ! /usr/bin/python3 "$REF/merge_check.py" subset "$T/b.ms" "$T/in.ms"
}

@test "-n stops reading after N samples" {
	# three samples, then garbage: the garbage is never read
	ms-pick -n 3 <"$T/in.ms" >"$T/three.ms"
	head -c 100 /dev/urandom >>"$T/three.ms"
	run bash -c "ms-pick -n 2 <'$T/three.ms' | ids"
	[ "$status" -eq 0 ]
	[ "$output" = "s0 s1 " ]
	run -1 ms-pick -n 4 <"$T/three.ms"
}

@test "--keep and --drop select records by name" {
	sh_is "s0:mask s0:tail s1:mask s1:tail " "ms-pick -n 2 --keep mask,tail <'$T/in.ms' | recs"
	sh_is "s0:image s0:mask " "ms-pick -n 1 -d note -d tail <'$T/in.ms' | recs"
	sh_is "s0:image " "ms-pick -n 1 -k image,mask -d mask <'$T/in.ms' | recs"
}

@test "--rename rewrites only the header name" {
	sh_is "s0:n2 s0:real s0:mask s0:tail " "ms-pick -n 1 -r image=real,note=n2 <'$T/in.ms' | recs"
	# a round trip restores every byte, compressed payloads included
	ms-pick -r image=real,note=n2 <"$T/in.ms" | ms-pick -r real=image,n2=note | cmp - "$T/in.ms"
	# names of other lengths change the header padding, not the payload
	ms-pick -r image=a_much_longer_name_for_the_image <"$T/in.ms" >"$T/r.ms"
	/usr/bin/python3 - "$T/in.ms" "$T/r.ms" "$REF" <<'PY'
import sys
sys.path.insert(0, sys.argv[3])
import numpy as np
from msstream import read
a = list(read(open(sys.argv[1], "rb")))
b = list(read(open(sys.argv[2], "rb")))
assert len(a) == len(b) == 40
for (na, ma, xa), (nb, mb, xb) in zip(a, b):
    assert nb == (na if na != "image" else "a_much_longer_name_for_the_image"), nb
    assert ma == mb and xa.dtype == xb.dtype and np.array_equal(xa, xb)
PY
}

@test "--ids and --exclude split the stream by id" {
	printf 's3\ns7\r\n\ns9\nnot_there\n' >"$T/val.txt"
	sh_is "s3 s7 s9 " "ms-pick --ids '$T/val.txt' <'$T/in.ms' | ids"
	sh_is "s0 s1 s2 s4 s5 s6 s8 " "ms-pick -x '$T/val.txt' <'$T/in.ms' | ids"
	# counting starts after the id filter
	sh_is "s1 s4 s6 " "ms-pick -x '$T/val.txt' -s 1 -e 2 <'$T/in.ms' | ids"
	run bash -c "ms-pick -i /dev/null <'$T/in.ms' | wc -c"
	[ "$output" -eq 0 ]
}

@test "--with and --without select samples by a record they have; counting comes after" {
	ms-pick -e 3 -d mask <"$T/in.ms" >"$T/nomask.ms"          # s0 s3 s6 s9 lose their mask
	ms-pick -x <(printf 's0\ns3\ns6\ns9\n') <"$T/in.ms" >"$T/withmask.ms"
	cat "$T/withmask.ms" "$T/nomask.ms" >"$T/mixed.ms"
	sh_is "s1 s2 s4 s5 s7 s8 " "ms-pick --with mask <'$T/mixed.ms' | ids"
	ms-pick -w mask <"$T/mixed.ms" | cmp - "$T/withmask.ms"   # byte for byte
	sh_is "s0 s3 s6 s9 " "ms-pick --without mask <'$T/mixed.ms' | ids"
	ms-pick -W mask <"$T/mixed.ms" | cmp - "$T/nomask.ms"
	sh_is "s2:note s2:mask s5:note s5:mask " "ms-pick -w mask -s 1 -e 2 -n 2 -k mask,note <'$T/mixed.ms' | recs"
	run bash -c "ms-pick -w mask -W mask <'$T/mixed.ms' | wc -c"
	[ "$output" -eq 0 ]
	run bash -c "ms-pick -w image -x <(echo s4) -r mask=m <'$T/mixed.ms' | recs"
	[[ "$output" == "s1:note s1:image s1:m s1:tail s2:"* ]] && [[ "$output" != *s4:* ]]
	run -2 ms-pick --with a/b </dev/null
	[[ "${lines[0]}" == "ms-pick: --with: 'a/b' is not a valid record name" ]]
}

@test "--holdout F and --no-holdout F split by id as ms-segment --val-fraction F does" {
	/usr/bin/python3 - "$T/h.ms" <<'PY'
import sys; sys.path.insert(0, "tests/ref")
import numpy as np, msstream
f = open(sys.argv[1], "wb")
m = np.zeros((1, 8, 8), np.uint8); m[0, 2:6, 2:6] = 1
for i in range(40):
    msstream.write(f, "image", {"id": f"r{i}"}, np.full((1, 8, 8), i / 40, np.float32))
    msstream.write(f, "mask", {"id": f"r{i}"}, m)
    for k in range(2):
        msstream.write(f, "image", {"id": f"r{i}.{k}", "of": f"r{i}"},
                       np.full((1, 8, 8), k / 2, np.float32))
        msstream.write(f, "mask", {"id": f"r{i}.{k}", "of": f"r{i}"}, m)
PY
	ms-pick --holdout 0.3 <"$T/h.ms" >"$T/held.ms"
	ms-pick --no-holdout 0.3 <"$T/h.ms" >"$T/rest.ms"
	held=$(ms-info "$T/held.ms" | cut -f1 | uniq | tr '\n' ' ')
	rest=$(ms-info "$T/rest.ms" | cut -f1 | uniq | tr '\n' ' ')
	# a partition, in stream order, synthetic samples (of=) with their real one
	[ "$(echo $held $rest | tr ' ' '\n' | sort | tr '\n' ' ')" = \
	  "$(ms-info "$T/h.ms" | cut -f1 | uniq | sort | tr '\n' ' ')" ]
	for s in $held; do [[ " $held " == *" ${s%.*} "* ]]; done
	for s in $rest; do [[ " $rest " == *" ${s%.*} "* ]]; done
	nreal=$(echo $held | tr ' ' '\n' | grep -vc '\.')
	[ "$nreal" -gt 5 ] && [ "$nreal" -lt 20 ]
	# the same real samples as ms-segment's validation split
	ms-segment train -o "$T/m.ms" --steps 1 --width 8 --batch 2 --threads 1 \
		--val-fraction 0.3 --save-every 0 <"$T/h.ms" 2>"$T/log"
	grep -q "40 real samples ($((40 - nreal)) train, $nreal validation), $((2 * (40 - nreal))) synthetic used (0 without their real sample, $((2 * nreal)) of validation samples" "$T/log"
	ms-pick --holdout 0 <"$T/h.ms" | cmp - /dev/null
	ms-pick --no-holdout 0 <"$T/h.ms" | cmp - "$T/h.ms"
	for args in "--holdout 2" "--holdout x" "--holdout 0.1 --no-holdout 0.2" "--no-holdout -1"; do
		run -2 ms-pick $args </dev/null
	done
}

@test "ms-pick(1) example: held-out, labelled and unlabelled parts partition the stream" {
	cd "$T"
	{ ms-pick -e 3 -d mask <in.ms; ms-pick -x <(printf 's0\ns3\ns6\ns9\n') <in.ms; } >busi.ms
	sed -n '/^A fifth of the labelled samples/,/^\.Ed$/p' "$BATS_TEST_DIRNAME/../man/ms-pick.1" |
		grep -v '^\.' | sed '1,2d' >ex.sh
	[ "$(wc -l <ex.sh)" -eq 3 ]
	bash -e ex.sh
	# each labelled sample in exactly one of heldout.ms and labelled.ms
	[ "$(ms-info heldout.ms labelled.ms | cut -f1 | uniq | sort | tr '\n' ' ')" = "s1 s2 s4 s5 s7 s8 " ]
	# unlabelled.ms: the samples without a mask that are not held out
	[ "$(ms-info unlabelled.ms | cut -f2 | grep -cx mask)" -eq 0 ]
	[ "$({ ids <unlabelled.ms; ms-pick -W mask --holdout 0.2 <busi.ms | ids; } | tr ' ' '\n' |
		grep . | sort | tr '\n' ' ')" = "s0 s3 s6 s9 " ]
}
