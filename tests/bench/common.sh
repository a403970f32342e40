# Shared by the bench scripts of tests/bench, sourced (POSIX sh) before they cd to the
# repository root: . "$(dirname "$0")/common.sh"
bench_top=$(cd "$(dirname "$0")/../../.." && pwd)   # the repository's parent folder

# bench_data_root: the data sets' folder, MS_DATA, by default ../shared/data
bench_data_root() { echo "${MS_DATA:-$bench_top/shared/data}"; }

# bench_data NAME: the folder of data set NAME (busi, kvasir) there; fails on any other
# NAME
bench_data() {
	case $1 in
	busi) echo "$(bench_data_root)/busi" ;;
	kvasir) echo "$(bench_data_root)/kvasir-seg" ;;
	*) return 1 ;;
	esac
}

# bench_tools DIR TOOL...: copies of bin/TOOL in DIR, first on PATH (rebuilds during a
# long run leave them alone)
bench_tools() {
	bench_d=$1
	shift
	mkdir -p "$bench_d"
	for bench_t; do cp "bin/$bench_t" "$bench_d/"; done
	PATH=$bench_d:$PATH
}

# bench_stamp: the first line of a bench log (date, host, CPUs, load)
bench_stamp() {
	echo "date $(date -u +%FT%TZ) host $(uname -n) cpus $(nproc) load $(cut -d' ' -f1-3 /proc/loadavg)"
}

# bench_stage FILE CMD...: CMD's stdout into FILE (through FILE.tmp, so that FILE is
# whole or absent) and its stderr into FILE.err, unless FILE is there already (a stopped
# run resumes where it stopped); a failure ends the script with exit 1; "stage NAME
# seconds S" on stdout and appended to $bench_log where that is set
bench_stage() {
	local f=$1 t0
	shift
	[ -s "$f" ] && return 0
	t0=$(date +%s)
	"$@" >"$f.tmp" 2>"$f.err" || { echo "$0: $f failed, see $f.err" >&2; exit 1; }
	mv "$f.tmp" "$f"
	echo "stage $(basename "$f") seconds $(($(date +%s) - t0))" | tee -a "${bench_log:-/dev/null}"
}

# bench_pool CMD...: CMD in the background, at most JOBS (2) at a time; bench_drain: waits
# for them all. bash only (wait -n); a failed job ends a script under set -e when reaped
bench_pool() {
	while [ "$(jobs -rp | wc -l)" -ge "${JOBS:-2}" ]; do wait -n; done
	"$@" &
}
bench_drain() { while [ -n "$(jobs -rp)" ]; do wait -n; done; wait; }

# bench_cc OUT SRC...: builds lib/libms.a and the C bench SRC into OUT (-Ilib, and
# -Itests/bench for bench.h)
bench_cc() {
	bench_o=$1
	shift
	make -s lib/libms.a 2>/dev/null
	cc -std=c11 -D_DEFAULT_SOURCE -O2 -march=native -Ilib -Itests/bench \
		$(pkg-config --cflags openblas) -o "$bench_o" "$@" lib/libms.a \
		$(pkg-config --libs libpng zlib yaml-0.1 openblas) -lm -lpthread
}

# bench_build NAME: tests/bench/NAME.c built into $bin (removed on exit), then a line
# with date, host and load and one with the OpenBLAS settings
bench_build() {
	bin=${TMPDIR:-/tmp}/ms_$1.$$
	trap 'rm -f "$bin"' EXIT
	bench_cc "$bin" "tests/bench/$1.c"
	bench_stamp
	echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-unset}"
}

# bench_torch SECTIONS: ref_unet.py (MS_REF_UNET, else ../shared/bench/ref_unet.py) --only
# SECTIONS on $threads threads (--quick under 10 $steps), with its peak memory; skipped
# without torch or the script
bench_torch() {
	bench_ref=${MS_REF_UNET:-}
	for bench_c in "$bench_ref" ../shared/bench/ref_unet.py; do
		[ -n "$bench_c" ] && [ -f "$bench_c" ] && { bench_ref=$bench_c; break; }
	done
	if [ -n "$bench_ref" ] && /usr/bin/python3 -c 'import torch' 2>/dev/null; then
		bench_q=; [ "$steps" -lt 10 ] && bench_q=--quick
		/usr/bin/time -f "torch max RSS %M KiB" /usr/bin/python3 "$bench_ref" --threads "$threads" \
			--only "$1" $bench_q
	else
		echo "torch: skipped (no torch or ref_unet.py)"
	fi
}
