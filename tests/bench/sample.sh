#!/bin/sh
# Speed of ms-sample's generator: training images/s (64x64 and 128x128, batch 8, with and
# without attention) and DDIM 50 steps for 8 images of 64x64, C (tests/bench/sample_bench.c)
# side by side with PyTorch (ref_unet.py --only train,ddim) in one run, same thread count.
# Usage: tests/bench/sample.sh [THREADS [STEPS]]   (run from the repository root after make)
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
bin=${TMPDIR:-/tmp}/ms_sample_bench.$$
trap 'rm -f "$bin"' EXIT
cc -std=c11 -D_DEFAULT_SOURCE -O2 -march=native -Ilib $(pkg-config --cflags openblas) \
	-o "$bin" tests/bench/sample_bench.c lib/libms.a \
	$(pkg-config --libs libpng zlib yaml-0.1 openblas) -lm -lpthread
echo "date $(date -u +%FT%TZ) host $(uname -n) cpus $(nproc) load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-unset}"
/usr/bin/time -f "ms max RSS %M KiB" "$bin" "$threads" "$steps"
if [ -n "$ref" ] && /usr/bin/python3 -c 'import torch' 2>/dev/null; then
	q=; [ "$steps" -lt 10 ] && q=--quick
	/usr/bin/time -f "torch max RSS %M KiB" /usr/bin/python3 "$ref" --threads "$threads" \
		--only train,ddim $q
else
	echo "torch: skipped (no torch or ref_unet.py)"
fi
echo "load after $(cut -d' ' -f1-3 /proc/loadavg)"
