#!/usr/bin/env bats
# Past one machine (ms-scale(7)): data-parallel training under mpirun (skipped where
# mpirun is absent or the tools were built without MPI), --parts, and --shard K/N.
# Tiny 16x16 images, U-Net width 8, a few steps.
load helpers
BUSI="$BATS_TEST_DIRNAME/../pipelines/data/busi"

setup() {
	T=$BATS_TEST_TMPDIR
	ms-import --size 16x16 --mask-dir "$BUSI/masks" "$BUSI/images" >"$T/in.ms"
	TR="--width 8 --batch 4 --threads 1 --save-every 0"
}

# the MPI tests: skipped without mpirun or without an MPI build of ms-segment
need_mpi() {
	command -v mpirun >/dev/null || skip "no mpirun"
	ldd "$(command -v ms-segment)" | grep -q libmpi || skip "ms-segment built without MPI"
}

# np N CMD...: CMD on N ranks of this machine. Open MPI refuses to start as root unless
# told (CI runs as root); AddressSanitizer builds (CI) do not check leaks there: Open
# MPI's components leak at exit and are unloaded before LeakSanitizer reports, so no
# suppression can name them (the one-rank tests check ms's own leaks)
np() {
	local n=$1
	shift
	OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		mpirun --oversubscribe -np "$n" "$@"
}

# rank_pid CKPT R: the process id of rank R of the run writing CKPT
rank_pid() {
	local p
	for p in $(pgrep -f -- "train -o $1 "); do
		if tr '\0' '\n' <"/proc/$p/environ" | grep -qx "OMPI_COMM_WORLD_RANK=$2"; then
			echo "$p"
		fi
	done
}

# a failed test leaves no run behind (bats would wait for it): mpirun, MP's child
teardown() {
	local p
	for p in $(pgrep -P "${MP:-0}"); do kill -TERM "$p" 2>/dev/null || true; done
}

# sorted_by_id <IN >OUT: the records of a stream, stably sorted by id
sorted_by_id() {
	PYTHONPATH="$REF" $PY -c '
import io, sys
from msstream import read, raw_records
data = sys.stdin.buffer.read()
recs = [(m.get("id", ""), raw) for (_, m, _), (_, raw) in zip(read(io.BytesIO(data)), raw_records(data))]
sys.stdout.buffer.write(b"".join(r for _, r in sorted(recs, key=lambda x: x[0])))'
}

@test "2 ranks give the checkpoint of one rank with --parts 2, bit for bit; --parts 4 too" {
	need_mpi
	ms-segment train -o "$T/one.ms" --steps 4 --parts 2 --val-fraction 0.3 $TR <"$T/in.ms" 2>/dev/null
	run -0 np 2 ms-segment train -o "$T/two.ms" --steps 4 --val-fraction 0.3 --report 2 $TR <"$T/in.ms"
	cmp "$T/one.ms" "$T/two.ms"
	# rank 0 alone reports: one summary, one line per report, one done
	[ "$(grep -c 'real samples' <<<"$output")" -eq 1 ]
	[ "$(grep -c '^ms-segment: step' <<<"$output")" -eq 2 ]
	[ "$(grep -c 'done, 4 steps, validation Dice' <<<"$output")" -eq 1 ]
	ms-segment train -o "$T/one4.ms" --steps 3 --parts 4 $TR <"$T/in.ms" 2>/dev/null
	np 2 ms-segment train -o "$T/two4.ms" --steps 3 --parts 4 $TR <"$T/in.ms" 2>/dev/null
	cmp "$T/one4.ms" "$T/two4.ms"
	run ! cmp -s "$T/one4.ms" "$T/one.ms"
}

@test "ms-refine train (--alternate too): 2 ranks equal one rank with --parts 2, bit for bit, resumed across rank counts too" {
	need_mpi
	/usr/bin/python3 "$REF/refine_prior.py" 1 <"$T/in.ms" >"$T/p.ms"
	ms-refine train -o "$T/one.ms" --steps 3 --parts 2 --val-fraction 0.3 $TR <"$T/p.ms" 2>/dev/null
	run -0 np 2 ms-refine train -o "$T/two.ms" --steps 3 --val-fraction 0.3 --report 1 $TR <"$T/p.ms"
	cmp "$T/one.ms" "$T/two.ms"
	[ "$(grep -c '^ms-refine: step 3/3' <<<"$output")" -eq 1 ]
	[ "$(grep -c 'done: best validation Dice' <<<"$output")" -eq 1 ]
	# resume with another number of ranks: 2 ranks for 3 steps, 1 with --parts 2 for 3 more
	local R="--lr-schedule constant $TR"
	np 2 ms-refine train -o "$T/s.ms" --steps 6 $R <"$T/p.ms" 2>/dev/null
	np 2 ms-refine train -o "$T/r.ms" --steps 3 $R <"$T/p.ms" 2>/dev/null
	ms-refine train -o "$T/r.ms" --resume --steps 6 --parts 2 --threads 1 <"$T/p.ms" 2>/dev/null
	cmp "$T/s.ms" "$T/r.ms"
	# --alternate: the refiner's and the segmentor's gradients, both in parts
	ms-segment train -o "$T/seg.ms" --steps 1 $TR <"$T/in.ms" 2>/dev/null
	ms-refine train -o "$T/a1.ms" --segmentor "$T/seg.ms" --alternate --segmentor-out "$T/s1.ms" \
		--steps 2 --parts 2 $TR <"$T/p.ms" 2>/dev/null
	np 2 ms-refine train -o "$T/a2.ms" --segmentor "$T/seg.ms" --alternate --segmentor-out "$T/s2.ms" \
		--steps 2 $TR <"$T/p.ms" 2>/dev/null
	cmp "$T/a1.ms" "$T/a2.ms"
	cmp "$T/s1.ms" "$T/s2.ms"
}

@test "ms-sample train (--joint too): 2 ranks equal one rank with --parts 2, bit for bit, resumed across rank counts too" {
	need_mpi
	ms-edges <"$T/in.ms" >"$T/e.ms"
	local G="--steps 3 --width 8 --batch 4 --threads 1"
	ms-sample train -o "$T/one.ms" --parts 2 $G <"$T/e.ms" 2>/dev/null
	run -0 np 2 ms-sample train -o "$T/two.ms" --report 1 $G <"$T/e.ms"
	cmp "$T/one.ms" "$T/two.ms"
	[ "$(grep -c '^ms-sample: step' <<<"$output")" -eq 3 ]
	ms-sample train -o "$T/jone.ms" --parts 2 --joint --zero-snr $G <"$T/in.ms" 2>/dev/null
	np 2 ms-sample train -o "$T/jtwo.ms" --joint --zero-snr $G <"$T/in.ms" 2>/dev/null
	cmp "$T/jone.ms" "$T/jtwo.ms"
	# resume with another number of ranks: 2 ranks for 3 steps, 1 with --parts 2 for 3 more
	np 2 ms-sample train -o "$T/s.ms" --steps 6 --width 8 --batch 4 --threads 1 <"$T/e.ms" 2>/dev/null
	ms-sample train -o "$T/r.ms" --parts 2 --steps 3 --width 8 --batch 4 --threads 1 <"$T/e.ms" 2>/dev/null
	np 2 ms-sample train -o "$T/r.ms" --resume --steps 6 --threads 1 <"$T/e.ms" 2>/dev/null
	cmp "$T/s.ms" "$T/r.ms"
}

@test "2 ranks mixing synthetic samples equal one rank with --parts 2" {
	need_mpi
	PYTHONPATH="$REF" $PY - >"$T/syn.ms" <<-'EOF'
	import sys
	import numpy as np
	from msstream import write
	out, rng = sys.stdout.buffer, np.random.default_rng(7)
	for i in range(6):
	    m = (rng.random((1, 16, 16)) > 0.6).astype(np.uint8)
	    write(out, "image", {"id": f"r{i}"}, rng.random((1, 16, 16), dtype=np.float32))
	    write(out, "mask", {"id": f"r{i}"}, m)
	    write(out, "image", {"id": f"r{i}.s0", "of": f"r{i}"}, rng.random((1, 16, 16), dtype=np.float32))
	EOF
	ms-segment train -o "$T/one.ms" --steps 3 --parts 2 --synthetic mix $TR <"$T/syn.ms" 2>/dev/null
	np 2 ms-segment train -o "$T/two.ms" --steps 3 --synthetic mix $TR <"$T/syn.ms" 2>/dev/null
	cmp "$T/one.ms" "$T/two.ms"
}

@test "resume with another number of ranks: 2 ranks, then 1 with --parts 2, equal 2 straight" {
	need_mpi
	np 2 ms-segment train -o "$T/s.ms" --steps 6 --schedule constant $TR <"$T/in.ms" 2>/dev/null
	np 2 ms-segment train -o "$T/r.ms" --steps 3 --schedule constant $TR <"$T/in.ms" 2>/dev/null
	run -0 ms-segment train -o "$T/r.ms" --resume --steps 6 --parts 2 --threads 1 <"$T/in.ms"
	[[ "$output" == *"steps 6 from 3"* ]]
	cmp "$T/s.ms" "$T/r.ms"
	# and back: one rank with --parts 2 for 3 steps, 2 ranks for the rest
	ms-segment train -o "$T/q.ms" --steps 3 --parts 2 --schedule constant $TR <"$T/in.ms" 2>/dev/null
	np 2 ms-segment train -o "$T/q.ms" --resume --steps 6 --threads 1 <"$T/in.ms" 2>/dev/null
	cmp "$T/s.ms" "$T/q.ms"
}

# signal_rank SIG STEP ARGS...: 2 ranks train $T/k.ms (ARGS) until rank 0 reports STEP;
# rank 1 gets SIG; RC is mpirun's exit status, LOG its messages (printed), STEP the
# checkpoint's step
signal_rank() {
	local sig=$1 at=$2 pid i
	shift 2
	LOG=$T/log
	RC=0
	np 2 ms-segment train -o "$T/k.ms" --steps 100000 --report 1 $TR "$@" <"$T/in.ms" 2>"$LOG" &
	MP=$!
	for i in $(seq 300); do grep -q "step $at/" "$LOG" && break; sleep 0.05; done
	pid=$(rank_pid "$T/k.ms" 1)
	[ -n "$pid" ] || return 1
	kill -"$sig" "$pid"
	wait $MP || RC=$?
	cat "$LOG"
	STEP=$(ms-info "$T/k.ms" | head -1 | grep -o ' step=[0-9]*' | cut -d= -f2)
}

@test "SIGTERM to one rank: every rank stops after the same step, rank 0 checkpoints, 143" {
	need_mpi
	signal_rank TERM 3
	[ "$RC" -eq 143 ]
	grep -q "terminated at step [0-9]*: checkpoint written to $T/k.ms" "$LOG"
	[ "$STEP" -ge 3 ]
}

@test "SIGKILL of one rank: mpirun stops the others and says so; the last checkpoint is intact" {
	need_mpi
	signal_rank KILL 5 --save-every 2
	[ "$RC" -ne 0 ]
	grep -q "rank 1 .*exited on signal 9" "$LOG"
	[ "$STEP" -ge 4 ] && [ $((STEP % 2)) -eq 0 ]
	[ -z "$(ls "$T" | grep tmp)" ]
	ms-segment -m "$T/k.ms" --threads 1 <"$T/in.ms" >/dev/null
}

@test "--parts the ranks or the batch do not divide; on 2 ranks, what runs on one: exit 1" {
	run -1 ms-segment train -o "$T/m.ms" --steps 2 --parts 3 $TR <"$T/in.ms"
	[[ "$output" == *"a batch of 4 cannot be cut into 3 equal parts"* ]]
	[ ! -e "$T/m.ms" ]
	run -2 ms-segment train -o "$T/m.ms" --parts 0 <"$T/in.ms"
	[[ "$output" == *usage:* ]]
	need_mpi
	run -1 np 2 ms-segment train -o "$T/m.ms" --steps 2 --parts 3 $TR <"$T/in.ms"
	[[ "$output" == *"3 parts of the batch cannot be shared by 2 ranks"* ]]
	run -1 np 2 ms-sample -m "$T/m.ms" </dev/null
	[[ "$output" == *"ms-sample: sampling runs on one rank, not 2: shards (--shard K/N) run apart"* ]]
	run -1 np 2 ms-refine -m "$T/m.ms" </dev/null
	[[ "$output" == *"ms-refine: refinement runs on one rank, not 2"* ]]
	run -1 np 2 ms-segment -m "$T/m.ms" </dev/null
	[[ "$output" == *"ms-segment: prediction runs on one rank, not 2"* ]]
}

@test "--shard: usage errors exit 2 and say why" {
	for s in 0/3 4/3 3 x/2 1/0 -1/2 1/2x; do
		run -2 ms-pick --shard "$s" </dev/null
		[[ "$output" == *"--shard: '$s': need K/N with 1 <= K <= N"* ]]
	done
	run -2 ms-segment train -o m --shard 1/2
	[[ "$output" == *"--shard is for prediction"* ]]
}

@test "--shard: shards partition the samples, by id, the same in ms-pick and ms-import" {
	local k
	for k in 1 2 3; do ms-pick --shard $k/3 <"$T/in.ms" >"$T/p$k.ms"; done
	for k in 1 2 3; do
		ms-import --shard $k/3 --size 16x16 --mask-dir "$BUSI/masks" "$BUSI/images" >"$T/i$k.ms"
		cmp "$T/p$k.ms" "$T/i$k.ms"
	done
	cat "$T"/p[123].ms | sorted_by_id >"$T/a"
	sorted_by_id <"$T/in.ms" >"$T/b"
	cmp "$T/a" "$T/b"
	# stable: the shard of an id does not depend on the other samples
	ms-pick -n 3 <"$T/in.ms" | ms-pick --shard 2/3 >"$T/c"
	ms-pick --shard 2/3 <"$T/in.ms" | ms-pick -i <(ms-pick -n 3 <"$T/in.ms" | ms-info | awk '{print $1}' | sort -u) >"$T/d"
	cmp "$T/c" "$T/d"
}

@test "--shard: shards of a prediction, sampling, refinement concatenated equal the whole, by id" {
	local k
	ms-segment train -o "$T/m.ms" --steps 2 $TR <"$T/in.ms" 2>/dev/null
	ms-segment -m "$T/m.ms" --threads 1 <"$T/in.ms" | sorted_by_id >"$T/whole"
	for k in 1 2 3; do ms-segment -m "$T/m.ms" --threads 1 --shard $k/3 <"$T/in.ms"; done |
		sorted_by_id >"$T/shards"
	cmp "$T/whole" "$T/shards"
	ms-edges <"$T/in.ms" >"$T/e.ms"
	ms-sample train -o "$T/g.ms" --steps 2 --width 8 --batch 2 --threads 1 <"$T/e.ms" 2>/dev/null
	ms-sample -m "$T/g.ms" -n 1 --steps 2 --threads 1 <"$T/e.ms" | sorted_by_id >"$T/whole"
	for k in 1 2; do ms-sample -m "$T/g.ms" -n 1 --steps 2 --threads 1 --shard $k/2 <"$T/e.ms"; done |
		sorted_by_id >"$T/shards"
	cmp "$T/whole" "$T/shards"
	/usr/bin/python3 "$REF/refine_prior.py" 1 <"$T/in.ms" >"$T/p.ms"
	ms-refine train -o "$T/r.ms" --steps 2 --width 8 --batch 2 --threads 1 <"$T/p.ms" 2>/dev/null
	ms-refine -m "$T/r.ms" --threads 1 <"$T/p.ms" | sorted_by_id >"$T/whole"
	for k in 1 2; do ms-refine -m "$T/r.ms" --threads 1 --shard $k/2 <"$T/p.ms"; done |
		sorted_by_id >"$T/shards"
	cmp "$T/whole" "$T/shards"
}

# the EXAMPLES block of ms-scale(7) that starts with START, with fewer steps, as a script
# $T/ex.sh to run in $T (which has pipelines/data/busi)
example() {
	sed -n "/$1/,/^\.Ed\$/p" "$BATS_TEST_DIRNAME/../man/ms-scale.7" | sed '1,/^\.Bd/d;$d' |
		sed 's/--steps [0-9]*/--steps 2/; s/\\e/\\/g; s/mpirun -np/mpirun --oversubscribe -np/' \
		>"$T/ex.sh"
	mkdir -p "$T/pipelines/data"
	ln -sfn "$BUSI" "$T/pipelines/data/busi"
}

@test "the man page's EXAMPLES on bundled data run: shards on one machine, 2 ranks" {
	cd "$T"
	example '^Four shards on one machine'
	ms-import --size 16x16 --mask-dir "$BUSI/masks" "$BUSI/images" >busi.ms
	ms-segment train -o seg.ms --steps 2 $TR <busi.ms 2>/dev/null
	grep -q -- '--shard' ex.sh
	run -0 bash -e -o pipefail ex.sh
	[[ "$output" == *dice* ]]
	need_mpi
	example '^Two ranks on one machine'
	grep -q mpirun ex.sh
	OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" run -0 bash -e ex.sh
	[[ "$output" == *"2 ranks:"* ]]
}
