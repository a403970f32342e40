#!/bin/sh
# 3x3 stride 1 convolutions with and without Winograd, one thread, batch 8: per channel
# pair (8 to 256) and image side (8 to 64) the median CPU time of the forward and the
# backward pass each way (tests/bench/conv_bench.c); lib/nn/conv2d.c's rule for when
# Winograd is used (wino) comes from this table. With f4: F(2x2,3x3) against F(4x4,3x3),
# sides 32 to 128 (winograd.c's rule for the larger tile, ms_wino_m). With all: the rule
# against Winograd's way forced for the channel pairs it leaves out (below 16 on either
# side, 16 on both), sides 32 to 128. With pairs: bf16 products, their operands rounded
# as the GEMM packs them against written once as bfloat16 pairs (ms_conv2d_pairs),
# 16 or more input channels, sides 32 to 128 (needs AVX512_BF16).
# Usage: tests/bench/conv.sh [REPS [f4|all|pairs]]   (run from the repository root)
set -e
reps=${1:-5}
. "$(dirname "$0")/common.sh"
cd "$(dirname "$0")/../.."
bench_build conv_bench
"$bin" "$reps" ${2:+"$2"}
