#!/bin/sh
# The numerical error of a 3x3 convolution on each path (tests/bench/wino_error.c):
# 32 to 128 channels, sides 64 and 128.
# Usage: tests/bench/wino_error.sh   (from the repository root)
set -e
. "$(dirname "$0")/common.sh"
cd "$(dirname "$0")/../.."
bench_build wino_error
for side in 64 128; do
	for ch in 32 64 128; do
		"$bin" "$ch" "$side"
	done
done
