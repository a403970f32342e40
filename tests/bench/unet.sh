#!/bin/sh
# Training and forward speed of the default U-Net segmentor, 128x128 batch 8 (BCE + soft
# Dice, Adam), C (tests/bench/unet_bench.c) side by side with PyTorch
# (ref_unet.py --only seg) in one run, same thread count; peak memory of both.
# Usage: tests/bench/unet.sh [THREADS [STEPS]]   (run from the repository root after make)
# OpenBLAS settings are left as the environment has them and printed.
set -e
threads=${1:-2} steps=${2:-20}
. "$(dirname "$0")/common.sh"
cd "$(dirname "$0")/../.."
bench_build unet_bench
/usr/bin/time -f "ms max RSS %M KiB" "$bin" 8 128 "$steps" "$threads"
bench_torch flops,seg 2>&1 | grep -v -e '^profiler' -e diffusion
