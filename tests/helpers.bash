# Shared by the bats suites (load helpers): the tools under test on PATH, the Python
# references, and the checks that several suites make in the same way. Each check fails
# (returns 1, saying what it got) when what it checks does not hold.
bats_require_minimum_version 1.5.0
PATH="$BATS_TEST_DIRNAME/../bin:$PATH"
REF="$BATS_TEST_DIRNAME/ref"
PY=/usr/bin/python3

# is_ WANT GOT: the two strings are equal; otherwise both are printed
is_() {
	[ "$2" = "$1" ] && return
	printf 'want: %s\ngot:  %s\n' "$1" "$2"
	return 1
}

# run_is STATUS WANT CMD...: CMD exits STATUS and prints exactly WANT
run_is() {
	local st=$1 want=$2
	shift 2
	run -"$st" "$@" || return 1
	is_ "$want" "$output"
}

# sh_is WANT LINE: the shell line LINE (bash -c, so it may pipe) prints exactly WANT
sh_is() {
	run bash -c "$2"
	is_ "$1" "$output"
}

# help_ok CMD... -- PATTERN...: CMD --help exits 0 and its output matches each glob
# PATTERN (usage:* or *--option*)
help_ok() {
	local cmd=() p
	while [ "$1" != -- ]; do cmd+=("$1"); shift; done
	shift
	run "${cmd[@]}" --help || return 1
	[ "$status" -eq 0 ] || { echo "${cmd[*]} --help: exit $status"; return 1; }
	for p; do
		[[ "$output" == $p ]] || { echo "${cmd[*]} --help: no match for $p"; return 1; }
	done
}

# lines_are <<EOF: the output's lines (run's lines, without the empty ones), from the
# first, are the lines of the here-document (at least one)
lines_are() {
	local want i
	mapfile -t want
	[ "${#want[@]}" -gt 0 ] || { echo "lines_are: nothing to compare"; return 1; }
	for i in "${!want[@]}"; do
		is_ "${want[i]}" "${lines[i]-}" || { echo "(line $i)"; return 1; }
	done
}

# set_model_meta KEY=VALUE <CKPT >OUT: the checkpoint with KEY=VALUE in its model record
# (VALUE empty: without KEY)
set_model_meta() {
	PYTHONPATH="$REF" $PY -c '
import sys
from msstream import read, write
k, v = sys.argv[1].split("=")
o = sys.stdout.buffer
for n, m, a in read(sys.stdin.buffer):
    if n == "model":
        m.pop(k) if v == "" else m.__setitem__(k, v)
    write(o, n, m, a)' "$1"
}

# training_follows_seed TOOL IN SEED OTHER: 3 steps of TOOL train on IN (options $TR) give
# the same checkpoint twice with --seed SEED, and another with --seed OTHER
training_follows_seed() {
	local tool=$1 in=$2 t=$BATS_TEST_TMPDIR f
	for f in a:$3 b:$3 c:$4; do
		"$tool" train -o "$t/${f%%:*}.ms" --steps 3 --seed "${f#*:}" $TR <"$in" 2>/dev/null || return 1
	done
	cmp "$t/a.ms" "$t/b.ms" || return 1
	run ! cmp -s "$t/a.ms" "$t/c.ms"
}

# resumes_as_straight TOOL IN STRAIGHT PART: PART, a checkpoint of 3 steps of the run that
# made STRAIGHT (6 steps), differs from it, and TOOL train --resume --steps 6 on IN takes
# it from step 3 to the same bytes, with no option but --threads (the others come from
# the checkpoint); --resume of a missing checkpoint is an error
resumes_as_straight() {
	local tool=$1 in=$2 s=$3 r=$4 none=$BATS_TEST_TMPDIR/none.ms
	run ! cmp -s "$s" "$r" || return 1
	run -0 "$tool" train -o "$r" --resume --steps 6 --threads 1 <"$in" || return 1
	[[ "$output" == *"steps 6 from 3"* ]] || { echo "$output"; return 1; }
	cmp "$s" "$r" || return 1
	run -1 "$tool" train -o "$none" --resume $TR <"$in" || return 1
	[[ "$output" == "$tool: cannot open $none: No such file"* ]] || { echo "$output"; return 1; }
}

# resume_keeps_precision TOOL IN ARGS...: the checkpoint records the precision of its
# products (bf16 where the CPU has AVX512_BF16, else fp32); 3 steps of TOOL train ARGS...
# --precision bf16 on IN, resumed to 6 without --precision (and MS_PRECISION=fp32 in the
# environment), equal 6 straight; --precision fp32 given to the resume wins
resume_keeps_precision() {
	local tool=$1 in=$2 d=$BATS_TEST_TMPDIR/precision want=fp32
	shift 2
	grep -qw avx512_bf16 /proc/cpuinfo && want=bf16
	mkdir -p "$d"
	"$tool" train -o "$d/s.ms" --steps 6 --save-every 0 --precision bf16 "$@" <"$in" 2>/dev/null || return 1
	"$tool" train -o "$d/r.ms" --steps 3 --save-every 0 --precision bf16 "$@" <"$in" 2>/dev/null || return 1
	ms-info "$d/r.ms" | head -1 | grep -q " precision=$want" || return 1
	cp "$d/r.ms" "$d/f.ms"
	MS_PRECISION=fp32 "$tool" train -o "$d/r.ms" --resume --steps 6 --threads 1 <"$in" 2>/dev/null || return 1
	cmp "$d/s.ms" "$d/r.ms" || return 1
	"$tool" train -o "$d/f.ms" --resume --steps 6 --threads 1 --precision fp32 <"$in" 2>/dev/null || return 1
	ms-info "$d/f.ms" | head -1 | grep -q ' precision=fp32' || return 1
	[ $want = fp32 ] || ! cmp -s "$d/s.ms" "$d/f.ms"
}

# sigterm_training TOOL CKPT IN ARGS...: TOOL train -o CKPT ARGS... <IN, sent SIGTERM once
# it reports step 3, exits 143 having written CKPT at a step of 3 or more, left in STEP
# (its log is $BATS_TEST_TMPDIR/log)
sigterm_training() {
	local tool=$1 ckpt=$2 in=$3 log=$BATS_TEST_TMPDIR/log pid rc=0 i
	shift 3
	"$tool" train -o "$ckpt" "$@" <"$in" 2>"$log" &
	pid=$!
	for i in $(seq 200); do grep -q 'step 3/' "$log" && break; sleep 0.05; done
	kill -TERM $pid
	wait $pid || rc=$?
	cat "$log"
	[ "$rc" -eq 143 ] || return 1
	grep -q "terminated at step [0-9]*: checkpoint written to $ckpt" "$log" || return 1
	STEP=$(ms-info "$ckpt" | head -1 | grep -o ' step=[0-9]*' | cut -d= -f2)
	[ "$STEP" -ge 3 ]
}
