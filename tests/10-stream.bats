#!/usr/bin/env bats
# The stream format through ms-info: valid streams, every kind of malformed input.

load helpers

# a valid two-sample stream written by the independent Python writer
mkstream() {
	/usr/bin/python3 - "$1" <<'PY'
import sys; sys.path.insert(0, "tests/ref")
import numpy as np, msstream
with open(sys.argv[1], "wb") as f:
    for i, z in ((0, False), (1, True)):
        msstream.write(f, "image", {"id": f"s{i}", "prompt": "breast ultrasound"},
                       np.linspace(0, 1, 3 * 4 * 5, dtype=np.float32).reshape(3, 4, 5), compress=z)
        msstream.write(f, "mask", {"id": f"s{i}"}, (np.arange(20).reshape(1, 4, 5) % 2).astype(np.uint8))
PY
}

@test "ms-info describes every record" {
	mkstream "$BATS_TEST_TMPDIR/s.ms"
	run ms-info -H "$BATS_TEST_TMPDIR/s.ms"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 5 ]
	[ "${lines[0]}" = "$(printf 'id\tname\tdtype\tshape\tmin\tmax\tmean\tmeta')" ]
	[[ "${lines[1]}" == "$(printf 's0\timage\tf32\t3x4x5\t0\t1\t0.5\t')"*"prompt=breast ultrasound" ]]
	[[ "${lines[4]}" == "$(printf 's1\tmask\tu8\t1x4x5\t0\t1\t0.5\tid=s1')" ]]
}

@test "ms-info reads stdin and handles an empty stream" {
	run bash -c 'ms-info < /dev/null'
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "ms-info: FILE - is standard input, in its place among the files" {
	mkstream "$BATS_TEST_TMPDIR/s.ms"
	ms-pick -n 1 < "$BATS_TEST_TMPDIR/s.ms" > "$BATS_TEST_TMPDIR/one.ms"
	run bash -c "ms-info '$BATS_TEST_TMPDIR/one.ms' - < '$BATS_TEST_TMPDIR/s.ms'"
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "${lines[@]}" | cut -f1 | tr '\n' ' ')" = "s0 s0 s0 s0 s1 s1 " ]
}

@test "the stream written with printf in ms-stream(5) parses" {
	sed -n '/^{ printf/,/| ms-info/p' man/ms-stream.5 | sed 's/\\e/\\/g' > "$BATS_TEST_TMPDIR/ex.sh"
	run bash "$BATS_TEST_TMPDIR/ex.sh"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'a\tmask\tu8\t1x2x3\t0\t1\t0.5\tid=a')" ]
}

@test "truncated stream: lines for the good records, then exit 1" {
	mkstream "$BATS_TEST_TMPDIR/s.ms"
	head -c 700 "$BATS_TEST_TMPDIR/s.ms" > "$BATS_TEST_TMPDIR/t.ms"
	run ms-info "$BATS_TEST_TMPDIR/t.ms"
	[ "$status" -eq 1 ]
	[[ "$output" == *"ms-info: "*"truncated"* ]]
}

@test "random bytes: bad magic, exit 1" {
	head -c 4096 /dev/urandom > "$BATS_TEST_TMPDIR/r"
	run ms-info "$BATS_TEST_TMPDIR/r"
	[ "$status" -eq 1 ]
	[[ "$output" == "ms-info: "*"bad magic"* ]]
}

@test "a header claiming a huge shape is refused without allocating" {
	# 65535^3 f32 = 1 PiB, self-consistent lengths, no payload
	/usr/bin/python3 -c '
import struct, sys
n = 65535 ** 3 * 4
sys.stdout.buffer.write(struct.pack("<4sBBBB4IHHIQQ", b"MSTR", 1, 4, 3, 0, 65535, 65535, 65535, 0, 5, 0, 0, n, n) + b"image" + bytes(11))' > "$BATS_TEST_TMPDIR/h"
	run ms-info "$BATS_TEST_TMPDIR/h"
	[ "$status" -eq 1 ]
	[[ "$output" == *"exceeds the limit"* ]]
	# a plausible shape whose payload never comes: truncated, not out of memory
	/usr/bin/python3 -c '
import struct, sys
n = 16384 * 16384 * 4
sys.stdout.buffer.write(struct.pack("<4sBBBB4IHHIQQ", b"MSTR", 1, 4, 2, 0, 16384, 16384, 0, 0, 5, 0, 0, n, n) + b"image" + bytes(11) + bytes(1000))' > "$BATS_TEST_TMPDIR/h2"
	run ms-info "$BATS_TEST_TMPDIR/h2"
	[ "$status" -eq 1 ]
	[[ "$output" == *"truncated payload"* ]]
}

@test "unknown dtype, flags and version are named" {
	mkstream "$BATS_TEST_TMPDIR/s.ms"
	for spec in "5:9:unknown dtype" "7:128:unknown flags" "4:2:version"; do
		IFS=: read -r off val msg <<< "$spec"
		cp "$BATS_TEST_TMPDIR/s.ms" "$BATS_TEST_TMPDIR/b.ms"
		printf "$(printf '\\%03o' "$val")" | dd of="$BATS_TEST_TMPDIR/b.ms" bs=1 seek="$off" conv=notrunc 2>/dev/null
		run ms-info "$BATS_TEST_TMPDIR/b.ms"
		[ "$status" -eq 1 ]
		[[ "$output" == *"$msg"* ]]
	done
}

@test "usage errors exit 2, --help exits 0" {
	run ms-info --bogus
	[ "$status" -eq 2 ]
	[[ "$output" == *"usage: ms-info"* ]]
	help_ok ms-info -- '*usage: ms-info*'
	run ms-info /nonexistent
	[ "$status" -eq 1 ]
	[[ "$output" == "ms-info: cannot open /nonexistent: No such file or directory" ]]
}

# the 2x3 u8 record of ms-stream(5)'s example with a 4-byte name and 5 bytes of
# metadata given as printf formats (issue 18: a NUL in a name or key was accepted)
rec4x5() {
	printf 'MSTR\001\001\003\0\001\0\0\0\002\0\0\0\003\0\0\0\0\0\0\0'
	printf '\004\0\0\0\005\0\0\0\006\0\0\0\0\0\0\0\006\0\0\0\0\0\0\0'
	printf "$1$2"
	head -c 7 /dev/zero
	printf '\0\1\1\0\1\0'
	head -c 58 /dev/zero
}

@test "names and metadata keys outside letters, digits, _ . - are refused on read" {
	rec4x5 'mask' 'id=a\n' > "$BATS_TEST_TMPDIR/ok.ms"
	run bash -c 'ms-pick < "$1" | cmp - "$1"' _ "$BATS_TEST_TMPDIR/ok.ms"
	[ "$status" -eq 0 ]
	for bad in 'ma\0k:id=a\n' 'ma k:id=a\n' 'm\303\251k:id=a\n' 'mask:i\0=a\n' 'mask:i/=a\n'; do
		rec4x5 "${bad%%:*}" "${bad#*:}" > "$BATS_TEST_TMPDIR/bad.ms"
		[ "$(wc -c < "$BATS_TEST_TMPDIR/bad.ms")" -eq 128 ]
		run ms-info "$BATS_TEST_TMPDIR/bad.ms"
		[ "$status" -eq 1 ]
		[[ "$output" == "ms-info: "*"letters, digits"* ]]
		run bash -c 'ms-pick < "$1" > /dev/null' _ "$BATS_TEST_TMPDIR/bad.ms"
		[ "$status" -eq 1 ]
	done
}
