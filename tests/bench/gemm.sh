#!/bin/sh
# ms_gemm (lib/nn/gemm.c) against OpenBLAS's cblas_sgemm on the products the segmentor's
# training makes: one step of ms-segment train on BUSI (MS_DATA/busi), 64x64 width 16 and
# 128x128 width 32, batch 8, one thread, traced by an LD_PRELOAD shim
# (tests/bench/sgemm_trace.c); then tests/bench/gemm_bench.c times every distinct shape
# both ways, with the OpenBLAS settings of the environment and with OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE unset.
# Usage: tests/bench/gemm.sh [REPS]   (run from the repository root after make)
set -e
reps=${1:-7}
. "$(dirname "$0")/common.sh"
cd "$(dirname "$0")/../.."
busi=$(bench_data busi)
[ -d "$busi/images" ] || { echo "gemm.sh: no BUSI data in $busi, skipped"; exit 0; }
bench_build gemm_bench
dir=$(mktemp -d)
trap 'rm -rf "$dir" "$bin"' EXIT
cc -O2 -shared -fPIC $(pkg-config --cflags openblas) -o "$dir/trace.so" tests/bench/sgemm_trace.c -ldl
for cfg in "64 16" "128 32"; do
	set -- $cfg
	bin/ms-import -s "$1x$1" -m "$busi/masks" "$busi/images" >"$dir/in.ms" 2>/dev/null
	LD_PRELOAD=$dir/trace.so bin/ms-segment train -o "$dir/m.ms" --steps 1 --batch 8 \
		--width "$2" --threads 1 --val-fraction 0 --save-every 0 <"$dir/in.ms" 2>"$dir/trace"
	echo "== segmentor ${1}x$1 width $2 batch 8: $(grep -c '^GEMM' "$dir/trace") products a training step"
	"$bin" "$reps" <"$dir/trace"
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$bin" "$reps" <"$dir/trace"
done
