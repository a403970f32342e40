#!/bin/sh
# ms_gemm (lib/nn/gemm.c) against OpenBLAS's cblas_sgemm, one thread, on the products one
# training step of the segmentor makes (ms-segment train, batch 8, one thread): 64x64
# width 16 and 128x128 width 32, tests/bench/results/gemm-shapes-*.txt (shape and number
# of calls). tests/bench/gemm_bench.c times every distinct shape both ways, interleaved,
# with the OpenBLAS settings of the environment and with OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE unset.
# The shapes were traced on the tree before ms_gemm (commit 012c671, where the
# convolutions called cblas_sgemm with the same arguments) with the LD_PRELOAD shim
# tests/bench/sgemm_trace.c:
#   cc -O2 -shared -fPIC $(pkg-config --cflags openblas) -o trace.so tests/bench/sgemm_trace.c -ldl
#   ms-import -s 64x64 -m busi/masks busi/images |
#   LD_PRELOAD=./trace.so ms-segment train -o m.ms --steps 1 --batch 8 --width 16 \
#       --threads 1 --val-fraction 0 --save-every 0 2>trace
#   grep '^GEMM' trace | sort | uniq -c | awk '{c=$1; $1=""; sub(/^ /,""); print $0" n="c}'
# Usage: tests/bench/gemm.sh [REPS]   (run from the repository root)
set -e
reps=${1:-7}
. "$(dirname "$0")/common.sh"
cd "$(dirname "$0")/../.."
bench_build gemm_bench
for f in tests/bench/results/gemm-shapes-seg64w16.txt tests/bench/results/gemm-shapes-seg128w32.txt; do
	echo "== $f: $(awk '{sub(/.* n=/,""); s+=$0} END {print s}' "$f") products"
	"$bin" "$reps" <"$f"
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$bin" "$reps" <"$f"
done
