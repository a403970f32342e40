#!/bin/sh
# Training and forward speed of the default U-Net segmentor, 128x128 batch 8 (BCE + soft
# Dice, Adam), C (tests/bench/unet_bench.c) side by side with PyTorch
# (ref_unet.py --only seg) in one run, same thread count; peak memory of both.
# Usage: tests/bench/unet.sh [THREADS [STEPS]]   (run from the repository root after make)
# OpenBLAS settings are left as the environment has them and printed.
set -e
threads=${1:-2}
steps=${2:-20}
cd "$(dirname "$0")/../.."
ref=${MS_REF_UNET:-}
for c in "$ref" ../shared/bench/ref_unet.py; do
	[ -n "$c" ] && [ -f "$c" ] && { ref=$c; break; }
done
make -s lib/libms.a 2>/dev/null
bin=${TMPDIR:-/tmp}/ms_unet_bench.$$
trap 'rm -f "$bin"' EXIT
cc -std=c11 -D_DEFAULT_SOURCE -O2 -march=native -Ilib $(pkg-config --cflags openblas) \
	-o "$bin" tests/bench/unet_bench.c lib/libms.a \
	$(pkg-config --libs libpng zlib yaml-0.1 openblas) -lm -lpthread
echo "date $(date -u +%FT%TZ) host $(uname -n) cpus $(nproc) load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-unset}"
/usr/bin/time -f "ms max RSS %M KiB" "$bin" 8 128 "$steps" "$threads"
if [ -n "$ref" ] && /usr/bin/python3 -c 'import torch' 2>/dev/null; then
	q=; [ "$steps" -lt 10 ] && q=--quick
	/usr/bin/time -f "torch max RSS %M KiB" /usr/bin/python3 "$ref" --threads "$threads" \
		--only flops,seg $q 2>&1 | grep -v -e '^profiler' -e diffusion
else
	echo "torch: skipped (no torch or ref_unet.py)"
fi
