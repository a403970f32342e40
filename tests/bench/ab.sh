#!/bin/sh
# Whole-step speed of this tree against another checkout OLD (built with make), in
# interleaved rounds, with the OpenBLAS settings of the environment ("env") and with
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset ("unset"):
#  - tests/bench/unet_bench.c of this tree, linked with either library (the segmentor,
#    128x128 width 32 batch 8, 3 + STEPS training steps) on 1 and 2 threads: median wall
#    and CPU time of a training step;
#  - bin/ms-segment train, 64x64 width 16 batch 8, TSTEPS steps, one thread, on BUSI
#    (MS_DATA/busi) at 64x64: wall and user seconds of the whole run.
# Usage: tests/bench/ab.sh OLD [ROUNDS [STEPS [TSTEPS]]]   (from the repository root)
set -e
old=$(cd "$1" && pwd) rounds=${2:-3} steps=${3:-5} tsteps=${4:-200}
. "$(dirname "$0")/common.sh"
cd "$(dirname "$0")/../.."
new=$(pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for side in old new; do     # the bench of this tree on both libraries
	eval "cd \$$side"
	bench_cc "$dir/unet_$side" "$new/tests/bench/unet_bench.c"
	cp bin/ms-segment "$dir/seg_$side"
done
cd "$new"
bench_stamp
echo "old $old ($(git -C "$old" log -1 --format=%h)), new $new ($(git log -1 --format=%h))"
busi=$(bench_data busi)
bin/ms-import -s 64x64 -m "$busi/masks" "$busi/images" >"$dir/in.ms" 2>/dev/null
run() {    # SETTING SIDE WHAT...
	s=$1 side=$2
	shift 2
	if [ "$s" = unset ]; then set -- env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$@"; fi
	"$@"
}
for r in $(seq "$rounds"); do
	for s in env unset; do
		for th in 1 2; do
			for side in old new; do
				out=$(run $s $side "$dir/unet_$side" 8 128 "$steps" $th 0 0 | grep 'train segmentor')
				echo "round $r $s unet128 threads $th $side: $(echo "$out" | sed 's/.*median \([0-9.]*\) ms ->.*CPU time median \([0-9.]*\) ms/wall \1 ms cpu \2 ms/')"
			done
		done
		for side in old new; do
			t=$( { run $s $side /usr/bin/time -f '%e %U' "$dir/seg_$side" train -o "$dir/m.ms" \
				--steps "$tsteps" --batch 8 --width 16 --threads 1 --save-every 0 \
				<"$dir/in.ms" 2>&1 >/dev/null; } | tail -1)
			echo "round $r $s segment64 train $tsteps steps threads 1 $side: wall $(echo $t | cut -d' ' -f1) s user $(echo $t | cut -d' ' -f2) s"
		done
	done
done
