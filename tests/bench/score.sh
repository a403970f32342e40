#!/bin/sh
# Benchmark: ms-score on N (default 10000) samples of 256x256 mask + pred, against a
# read-only pass over the same stream (cat, a bare libms reader, ms-info). Run from the repo
# root after a normal make (not SANITIZE=1: the bare reader links lib/libms.a).
#   sh tests/bench/score.sh [N]
set -eu
n=${1:-10000}
dir=${TMPDIR:-/tmp}/ms-bench-score.$$
mkdir -p "$dir"
trap 'rm -rf "$dir"' EXIT
s="$dir/masks.ms"
/usr/bin/python3 - "$s" "$n" <<'PY'
# 100 distinct (mask, pred) pairs of random ellipses, the pred a shifted, resized
# ellipse; cycled with distinct ids
import sys; sys.path.insert(0, "tests/ref")
import numpy as np, msstream
path, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
yy, xx = np.mgrid[0:256, 0:256]
def ellipse(cy, cx, ry, rx):
    return ((((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2) <= 1).astype(np.uint8)[None]
bank = []
for i in range(100):
    cy, cx = rng.uniform(60, 196, 2); ry, rx = rng.uniform(10, 60, 2)
    d = rng.normal(0, 4, 4)
    bank.append((ellipse(cy, cx, ry, rx), ellipse(cy + d[0], cx + d[1], ry * (1 + d[2] / 20), rx * (1 + d[3] / 20))))
with open(path, "wb") as f:
    for i in range(n):
        m, p = bank[i % 100]
        msstream.write(f, "mask", {"id": f"s{i}"}, m)
        msstream.write(f, "pred", {"id": f"s{i}"}, p)
PY
echo "stream: $n samples, $(du -m "$s" | cut -f1) MiB"
# the pure reading cost: decode every record with the library and free it
cat > "$dir/read.c" <<'C'
#include "ms.h"
int main(int argc, char **argv)
{
	ms_rec r;
	FILE *f = fopen(argv[1], "rb");
	int ret;
	(void)argc;
	ms_rec_init(&r);
	while ((ret = ms_rec_read(f, &r)) == 1)
		;
	ms_rec_free(&r);
	return ret < 0;
}
C
${CC:-cc} -O2 -Ilib -o "$dir/read" "$dir/read.c" lib/libms.a $(pkg-config --libs zlib openblas 2>/dev/null || echo -lz -lopenblas) -lm \
	2>/dev/null || { echo "cannot link lib/libms.a: run make (without SANITIZE=1) first"; exit 1; }
cat "$s" > /dev/null   # warm the page cache
t() { # label command...: best of 3 wall-clock seconds
	label=$1; shift
	best=
	for i in 1 2 3; do
		a=$(date +%s.%N); "$@" > /dev/null; b=$(date +%s.%N)
		best=$(echo "$a $b ${best:-999}" | awk '{ d = $2 - $1; print d < $3 ? d : $3 }')
	done
	printf '%-36s %6.3f s  %8.0f samples/s\n' "$label" "$best" "$(echo "$n $best" | awk '{ print $1 / $2 }')"
}
t "cat stream" cat "$s"
t "read only (ms_rec_read, libms)" "$dir/read" "$s"
t "ms-info (decode + stats)" bin/ms-info "$s"
t "ms-score (all mask metrics)" bin/ms-score "$s"
t "cat | read only (pipe)" sh -c "cat '$s' | '$dir/read' /dev/stdin"
t "cat | ms-score (pipe)" sh -c "cat '$s' | bin/ms-score"
