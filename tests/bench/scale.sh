#!/bin/sh
# Data-parallel training (ms-scale(7)): ms-segment train on 1 rank x 1 thread against
# 2 ranks x 1 thread (mpirun), the same global batch; images/s, speed-up, efficiency and
# the seconds rank 0 spent in communication (waiting for the other rank included), and
# the CPU seconds of each run (the ranks' together), from which the speed-up two idle
# cores would give follows where the machine is shared: 2 x CPU(1) / CPU(2). Waiting
# ranks yield the CPU (mpi_yield_when_idle) rather than spin, as on a shared machine
# they should. The bundled BUSI images at SIZES (64 128), STEPS steps (20; 10 at 128 and
# above), width 32, batch 8. Skipped without mpirun or an MPI build. A few minutes.
. "$(dirname "$0")/common.sh"
cd "$(dirname "$0")/../.." || exit 1
command -v mpirun >/dev/null || { echo "scale.sh: no mpirun: skipped"; exit 0; }
ldd bin/ms-segment | grep -q libmpi || { echo "scale.sh: ms-segment built without MPI: skipped"; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bench_tools "$tmp/bin" ms-import ms-segment
# these machines run as root, which Open MPI refuses unless told
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
bench_stamp
d=pipelines/data/busi
ips() { grep -o '[0-9.]* img/s' "$1" | tail -1 | cut -d' ' -f1; }
# cpu CMD: runs the shell line CMD; prints the user + system seconds of its processes
cpu() {
	sh -c "$1 || exit; times" | tail -1 | tr 'ms' '  ' | awk '{ print 60 * ($1 + $3) + $2 + $4 }'
}
for s in ${SIZES:-64 128}; do
	steps=${STEPS:-$([ "$s" -ge 128 ] && echo 10 || echo 20)}
	ms-import --size "${s}x$s" --mask-dir $d/masks $d/images >"$tmp/in.ms"
	a="--steps $steps --batch 8 --width 32 --threads 1 --save-every 0 --report $steps"
	cpu1=$(cpu "ms-segment train -o $tmp/one.ms $a <$tmp/in.ms 2>$tmp/one.log") || exit 1
	cpu2=$(cpu "mpirun --oversubscribe -np 2 ms-segment train -o $tmp/two.ms $a \
		<$tmp/in.ms 2>$tmp/two.log") || exit 1
	grep -q done "$tmp/one.log" && grep -q done "$tmp/two.log" || { cat "$tmp"/*.log; exit 1; }
	one=$(ips "$tmp/one.log")
	two=$(ips "$tmp/two.log")
	comm=$(grep -o '[0-9.]* s of [0-9.]* s in communication' "$tmp/two.log")
	echo "$s $steps $one $two $cpu1 $cpu2 $comm" | awk '{ printf "%dx%d, %d steps of 8: " \
		"1 rank %.2f img/s, 2 ranks %.2f img/s: speed-up %.2f, efficiency %.0f%%; rank 0: " \
		"%s s of %s s in communication; CPU %.1f s and %.1f s: on two idle cores %.2f\n",
		$1, $1, $2, $3, $4, $4 / $3, 50 * $4 / $3, $7, $10, $5, $6, 2 * $5 / $6 }'
done
