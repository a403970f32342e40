#!/bin/sh
# Benchmark (not a test): ms-edges --method canny on 512x512 grey images against
# OpenCV's cv2.Canny on one thread, measured in the same run.  Run from the repo root
# after make.  Images: N busi images resized to 512x512, repeated R times.
# usage: sh tests/bench/edges.sh [N [R]]
set -e
N=${1:-64} R=${2:-4}
. "$(dirname "$0")/common.sh"
PY=/usr/bin/python3
D=$(mktemp -d) && trap 'rm -rf "$D"' EXIT
imgs=$(ls "$(bench_data busi)"/images/*.png | head -n "$N")
$PY tests/ref/edges_make.py --size 512 "$D/one.ms" $imgs
i=0; while [ $i -lt "$R" ]; do cat "$D/one.ms"; i=$((i + 1)); done > "$D/in.ms"
n=$((N * R))
bench_cc "$D/kernel" tests/bench/edges_kernel.c

# best of 3 of a command's CPU time (user + sys, one process), printed as images/s
best() {
	for k in 1 2 3; do
		{ /usr/bin/time -f '%U %S' "$@" < "$D/in.ms" > /dev/null; } 2>&1 | tail -n 1
	done | awk -v n="$n" '{ s = $1 + $2; if (NR == 1 || s < b) b = s }
		END { printf "%.0f (%.3f s)", n / b, b }'
}
export OPENBLAS_NUM_THREADS=1   # ms-edges makes no BLAS call; idle BLAS threads spin
echo "512x512 grey, $n images (images/s per core, CPU time of one process, best of 3)"
echo "ms-edges -m canny (sigma 1, stream I/O)  $(best bin/ms-edges -m canny)"
echo "ms-edges -m canny --sigma 0 (stream I/O) $(best bin/ms-edges -m canny --sigma 0)"
echo "kernel canny sigma 1 (no I/O)            $("$D/kernel" canny 1 3 < "$D/one.ms")"
echo "kernel canny sigma 0 (no I/O)            $("$D/kernel" canny 0 3 < "$D/one.ms")"
echo "kernel soft sigma 1 (no I/O)             $("$D/kernel" soft 1 3 < "$D/one.ms")"
$PY - "$D/one.ms" "$R" <<'PYEOF'
import sys, time
import cv2, numpy as np
sys.path.insert(0, "tests/ref")
from msstream import read
cv2.setNumThreads(1)
imgs = [np.floor(np.clip(a[0] * 255 + 0.5, 0, 255)).astype(np.uint8)
        for name, meta, a in read(open(sys.argv[1], "rb")) if name == "image"]
imgs = imgs * int(sys.argv[2])
def rate(f):
    best = 1e9
    for _ in range(3):
        t = time.process_time()
        for q in imgs:
            f(q)
        best = min(best, time.process_time() - t)
    return len(imgs) / best
print("cv2.Canny(50, 150), 1 thread            %.0f" % rate(lambda q: cv2.Canny(q, 50, 150)))
print("cv2.GaussianBlur(7x7, 1) + cv2.Canny    %.0f" %
      rate(lambda q: cv2.Canny(cv2.GaussianBlur(q, (7, 7), 1), 50, 150)))
PYEOF
