#!/bin/sh
# Speed of ms-sample's generator: training images/s (64x64 and 128x128, batch 8, with and
# without attention) and DDIM 50 steps for 8 images of 64x64, C (tests/bench/sample_bench.c)
# side by side with PyTorch (ref_unet.py --only train,ddim) in one run, same thread count.
# Usage: tests/bench/sample.sh [THREADS [STEPS]]   (run from the repository root after make)
# OpenBLAS settings are left as the environment has them and printed.
set -e
threads=${1:-2} steps=${2:-20}
. "$(dirname "$0")/common.sh"
cd "$(dirname "$0")/../.."
bench_build sample_bench
/usr/bin/time -f "ms max RSS %M KiB" "$bin" "$threads" "$steps"
bench_torch train,ddim
echo "load after $(cut -d' ' -f1-3 /proc/loadavg)"
