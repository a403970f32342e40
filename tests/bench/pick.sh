#!/bin/sh
# ms-pick pass-through speed: a ~1 GiB stream of 64 records of 16 MiB, copied to /dev/null
# and through a pipe; GB/s = 1e9 bytes per second (target >= 1). Run from the repo root
# after make. The stream is built in a temporary directory (in the page cache after the
# first read) and removed at the end.
set -e
PATH="$(pwd)/bin:$PATH"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
/usr/bin/python3 - "$dir/big.ms" <<'PY'
import sys
sys.path.insert(0, "tests/ref")
import numpy as np
from msstream import write
a = np.arange(1 << 24, dtype=np.uint32).astype(np.uint8).reshape(1, 4096, 4096)
with open(sys.argv[1], "wb") as f:
    for i in range(64):
        write(f, "image" if i % 2 == 0 else "mask", {"id": f"s{i // 2}"}, a)
PY
bytes=$(wc -c <"$dir/big.ms")
cat "$dir/big.ms" >/dev/null   # warm the page cache

rate() {   # label, then a command line for sh -c; best of 3
	best=
	for _ in 1 2 3; do
		t0=$(date +%s.%N)
		sh -c "$2"
		t1=$(date +%s.%N)
		best=$(echo "$t0 $t1 $best" | awk '{ d = $2 - $1; print (NF == 2 || d < $3) ? d : $3 }')
	done
	echo "$best $bytes" | awk -v l="$1" '{ printf "%-40s %6.3f s  %5.2f GB/s\n", l, $1, $2 / $1 / 1e9 }'
}
echo "ms-pick pass-through, $bytes bytes, 64 records of 16 MiB"
rate "cat > /dev/null (baseline)" "cat '$dir/big.ms' >/dev/null"
rate "cat | cat > /dev/null (baseline)" "cat '$dir/big.ms' | cat >/dev/null"
rate "ms-pick > /dev/null" "ms-pick <'$dir/big.ms' >/dev/null"
rate "ms-pick | cat > /dev/null" "ms-pick <'$dir/big.ms' | cat >/dev/null"
rate "ms-pick -r image=x | cat > /dev/null" "ms-pick -r image=x <'$dir/big.ms' | cat >/dev/null"
rate "ms-pick -k mask (skips half) | cat" "ms-pick -k mask <'$dir/big.ms' | cat >/dev/null"
rate "cat | cat | cat > /dev/null (baseline)" "cat '$dir/big.ms' | cat | cat >/dev/null"
rate "cat | ms-pick | cat > /dev/null" "cat '$dir/big.ms' | ms-pick | cat >/dev/null"
