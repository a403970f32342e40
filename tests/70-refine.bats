#!/usr/bin/env bats
# ms-refine: training a few steps on tiny images with a synthetic prior, refinement
# records, determinism, resume, signals, usage errors, bad models, stream handling.
load helpers
BUSI="$BATS_TEST_DIRNAME/../pipelines/data/busi"

setup_file() {
	D=$BATS_FILE_TMPDIR
	ms-import --size 16x16 --mask-dir "$BUSI/masks" "$BUSI/images" >"$D/in.ms"
	/usr/bin/python3 "$REF/refine_prior.py" 1 <"$D/in.ms" >"$D/p.ms"
	ms-refine train -o "$D/r.ms" --steps 4 --width 8 --batch 2 --threads 1 <"$D/p.ms" 2>/dev/null
}

setup() {
	D=$BATS_FILE_TMPDIR
	T=$BATS_TEST_TMPDIR
	TR="--width 8 --batch 2 --threads 1"
}

@test "--help prints usage and options" {
	help_ok ms-refine -- 'usage: ms-refine train -o MODEL*' '*--sampler ancestral|ddim|mixture*'
}

@test "usage errors exit 2 with a reason" {
	run -2 ms-refine
	[[ "$output" == "ms-refine: -m MODEL is needed"* ]]
	run -2 ms-refine train --steps 3
	[[ "$output" == "ms-refine: train needs -o MODEL"* ]]
	run -2 ms-refine -m "$D/r.ms" --samples 0
	[[ "$output" == "ms-refine: --samples:"* ]]
	run -2 ms-refine -m "$D/r.ms" --batch 2
	[[ "$output" == "ms-refine: --batch is for train"* ]]
	run -2 ms-refine -m "$D/r.ms" --sampler euler
	[[ "$output" == "ms-refine: --sampler: unknown value 'euler'"* ]]
	run -2 ms-refine train -o "$T/x.ms" --alternate
	[[ "$output" == "ms-refine: --alternate and --segmentor go together"* ]]
	run -2 ms-refine train -o "$T/x.ms" --width 12
	run -2 ms-refine train -o "$T/x.ms" --posterior ddim
	[[ "$output" == "ms-refine: --posterior: ancestral or mixture"* ]]
	run -2 ms-refine train -o "$T/x.ms" --samples 2
	run -2 ms-refine -m "$D/r.ms" extra
	run -2 ms-refine --bogus
	[ ! -e "$T/x.ms" ]
}

@test "train writes a refiner checkpoint with its metadata and reports progress" {
	run ms-refine train -o "$T/r.ms" --steps 3 --report 1 --T 6 --schedule cosine --loss bce $TR <"$D/p.ms"
	[ "$status" -eq 0 ]
	[[ "$output" == *"6 samples 1x16x16, steps 3 from 0"* ]]
	[[ "$output" == *"step 3/3 loss "* ]]
	run ms-info "$T/r.ms"
	[[ "${lines[0]}" == *"in=3 out=1 width=8"*"temb=1"*"step=3"*"kind=refine T=6 schedule=cosine channels=1 loss=bce output=direct posterior=ancestral prior=sigmoid"* ]]
}

@test "--output residual: an untrained refiner keeps the prior (DDIM, mean over 64 runs)" {
	ms-refine train -o "$T/z.ms" --output residual --steps 1 --lr 0 $TR <"$D/p.ms" 2>/dev/null
	run ms-info "$T/z.ms"
	[[ "${lines[0]}" == *"loss=bce output=residual posterior=ancestral prior=sigmoid"* ]]
	ms-refine -m "$T/z.ms" --samples 64 --sampler ddim --threads 1 <"$D/p.ms" >"$T/z.out"
	run /usr/bin/python3 -c '
import sys; sys.path.insert(0, sys.argv[1])
from msstream import read
r = {}
for name, meta, a in read(open(sys.argv[2], "rb")):
    r.setdefault(meta["id"], {})[name] = a
d = max(abs(float(s["prob"].mean()) - float(s["prior"].mean())) for s in r.values())
print("ok" if d < 0.02 else "off by %g" % d)' "$REF" "$T/z.out"
	[ "$output" = "ok" ]
	run -2 ms-refine train -o "$T/x.ms" --output bent
	[[ "$output" == "ms-refine: --output: unknown value 'bent'"* ]]
}

@test "--val-fraction validates held-out samples at each report; --best keeps the best weights" {
	run ms-refine train -o "$T/x.ms" --steps 4 --report 2 --val-fraction 0.5 --best "$T/b.ms" \
		$TR <"$D/p.ms"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "ms-refine: 6 samples (3 validation) 1x16x16, steps 4 from 0" ]]
	[ "$(grep -c '^ms-refine: step [024] validation Dice 0\.[0-9]* (prior 0\.[0-9]*, 3 images)' \
		<<<"$output")" -eq 3 ]
	# the last "best so far" is the step the best checkpoint holds, and it refines
	s=$(grep 'best so far' <<<"$output" | tail -n 1 | cut -d' ' -f3)
	[[ "$(ms-info "$T/b.ms" | head -n 1)" == *" step=$s "* ]]
	! ms-info "$T/b.ms" | cut -f2 | grep -q '^adam\.'
	ms-refine -m "$T/b.ms" --threads 1 <"$D/p.ms" | ms-info | grep -q uncertainty
	# the training checkpoint is the last step's, as without validation
	[[ "$(ms-info "$T/x.ms" | head -n 1)" == *" step=4 "* ]]
	# the checkpoint keeps the best so far; resumed with the learning rate at 0, no report
	# beats it (strictly), so b.ms keeps the first run's best
	b=$(grep 'best so far' <<<"$output" | tail -n 1 | cut -d' ' -f6)
	m=$(ms-info "$T/x.ms" | head -n 1)
	[[ "$m" == *" best_step=$s"* ]]
	[ "$(printf %.4f "$(grep -o 'best_val=[0-9.]*' <<<"$m" | cut -d= -f2)")" = "$b" ]
	run ms-refine train -o "$T/x.ms" --steps 6 --report 2 --val-fraction 0.5 --best "$T/b.ms" \
		--resume --lr 0 $TR <"$D/p.ms"
	[ "$status" -eq 0 ]
	! grep -q 'best so far' <<<"$output"
	[[ "$output" == *"done: best validation Dice $b "* ]]
	[[ "$(ms-info "$T/b.ms" | head -n 1)" == *" step=$s "* ]]
	run -1 ms-refine train -o "$T/y.ms" --val-fraction 0.01 --best "$T/c.ms" $TR <"$D/p.ms"
	[ "$output" = "ms-refine: --val-fraction 0.01 holds out none of the 6 samples" ]
	run -2 ms-refine train -o "$T/y.ms" --best "$T/c.ms" $TR
	[[ "$output" == "ms-refine: --best needs --val-fraction"* ]]
	run -2 ms-refine -m "$T/x.ms" --val-fraction 0.5
	[[ "$output" == "ms-refine: --val-fraction is for train"* ]]
	[ ! -e "$T/c.ms" ]
}

@test "refine: prob and pred replaced, uncertainty, prior, prior_pred appended, values in range" {
	for k in 1 3; do
		ms-refine -m "$D/r.ms" --samples $k --threads 1 <"$D/p.ms" >"$T/o$k.ms"
		run /usr/bin/python3 "$REF/refine_check.py" "$D/p.ms" "$T/o$k.ms" $k
		[ "$output" = "ok 6" ]
	done
	for s in ddim mixture; do
		ms-refine -m "$D/r.ms" --samples 2 --sampler $s --steps 3 <"$D/p.ms" >"$T/$s.ms"
		run /usr/bin/python3 "$REF/refine_check.py" "$D/p.ms" "$T/$s.ms" 2
		[ "$output" = "ok 6" ]
	done
	# three rules, three outputs (the same seed)
	ms-refine -m "$D/r.ms" --samples 2 --steps 3 <"$D/p.ms" >"$T/ancestral.ms"
	run ! cmp -s "$T/ancestral.ms" "$T/mixture.ms"
	run ! cmp -s "$T/ddim.ms" "$T/mixture.ms"
	# the checker can fail: a stream that is not the refined one
	run ! /usr/bin/python3 "$REF/refine_check.py" "$D/p.ms" "$D/p.ms" 1
}

@test "--posterior mixture: recorded, trains on another KL, refines with the mixture by default" {
	ms-refine train -o "$T/m.ms" --posterior mixture --steps 4 $TR <"$D/p.ms" 2>/dev/null
	[[ "$(ms-info "$T/m.ms" | head -1)" == *" output=direct posterior=mixture prior=sigmoid"* ]]
	run ! cmp -s "$T/m.ms" "$D/r.ms"    # same seed and steps, another loss
	ms-refine -m "$T/m.ms" --samples 2 <"$D/p.ms" >"$T/default.ms"
	ms-refine -m "$T/m.ms" --samples 2 --sampler mixture <"$D/p.ms" >"$T/mixture.ms"
	ms-refine -m "$T/m.ms" --samples 2 --sampler ancestral <"$D/p.ms" >"$T/ancestral.ms"
	cmp "$T/default.ms" "$T/mixture.ms"
	run ! cmp -s "$T/default.ms" "$T/ancestral.ms"
	# a checkpoint without posterior= (older ones) is ancestral; ddim is not a posterior
	set_model_meta "posterior=" <"$D/r.ms" >"$T/old.ms"
	ms-refine -m "$T/old.ms" <"$D/p.ms" >"$T/old-out.ms"
	ms-refine -m "$D/r.ms" --sampler ancestral <"$D/p.ms" >"$T/new-out.ms"
	cmp "$T/old-out.ms" "$T/new-out.ms"
	set_model_meta "posterior=ddim" <"$D/r.ms" >"$T/bad.ms"
	run -1 ms-refine -m "$T/bad.ms" <"$D/p.ms"
	[ "$output" = "ms-refine: $T/bad.ms: refiner checkpoint has an unknown posterior=ddim" ]
}

@test "refine is deterministic for a seed; another seed differs" {
	ms-refine -m "$D/r.ms" --samples 2 --seed 5 <"$D/p.ms" >"$T/a.ms"
	ms-refine -m "$D/r.ms" --samples 2 --seed 5 <"$D/p.ms" >"$T/b.ms"
	cmp "$T/a.ms" "$T/b.ms"
	ms-refine -m "$D/r.ms" --samples 2 --seed 6 <"$D/p.ms" >"$T/c.ms"
	run ! cmp -s "$T/a.ms" "$T/c.ms"
}

@test "training is deterministic: same seed and threads give the same checkpoint" {
	training_follows_seed ms-refine "$D/p.ms" 9 10
}

@test "--parts 2: the batch's gradient in two parts trains, the same twice (--alternate too); parts that do not fit: exit 1" {
	ms-refine train -o "$T/a.ms" --steps 3 --parts 2 $TR <"$D/p.ms" 2>/dev/null
	ms-refine train -o "$T/b.ms" --steps 3 --parts 2 $TR <"$D/p.ms" 2>/dev/null
	cmp "$T/a.ms" "$T/b.ms"
	ms-info "$T/a.ms" | head -1 | grep -q " step=3"
	ms-segment train -o "$T/seg.ms" --steps 1 $TR <"$D/in.ms" 2>/dev/null
	for k in 1 2; do
		ms-refine train -o "$T/a$k.ms" --segmentor "$T/seg.ms" --alternate --segmentor-out "$T/s$k.ms" \
			--steps 2 --parts 2 $TR <"$D/p.ms" 2>/dev/null
	done
	cmp "$T/a1.ms" "$T/a2.ms"
	cmp "$T/s1.ms" "$T/s2.ms"
	run ! cmp -s "$T/s1.ms" "$T/seg.ms"
	run -1 ms-refine train -o "$T/x.ms" --steps 2 --parts 3 $TR <"$D/p.ms"
	[[ "$output" == *"a batch of 2 cannot be cut into 3 equal parts"* ]]
	run -2 ms-refine -m "$D/r.ms" --parts 2
	[[ "$output" == "ms-refine: --parts is for train"* ]]
	[ ! -e "$T/x.ms" ]
}

@test "resume: 3 steps then 3 more equal 6 straight (cmp), options from the checkpoint" {
	ms-refine train -o "$T/s.ms" --steps 6 --lr-schedule constant --save-every 0 $TR <"$D/p.ms" 2>/dev/null
	ms-refine train -o "$T/r.ms" --steps 3 --lr-schedule constant $TR <"$D/p.ms" 2>/dev/null
	resumes_as_straight ms-refine "$D/p.ms" "$T/s.ms" "$T/r.ms"
}

@test "resume: the precision comes from the checkpoint unless given" {
	resume_keeps_precision ms-refine "$D/p.ms" --lr-schedule constant $TR
}

@test "SIGTERM during training writes a checkpoint and exits 143; resuming it ends as straight" {
	sigterm_training ms-refine "$T/k.ms" "$D/p.ms" --steps 100000 --lr-schedule constant \
		--report 1 --save-every 0 $TR
	n=$((STEP + 2))
	ms-refine train -o "$T/k.ms" --resume --steps $n --threads 1 <"$D/p.ms" 2>/dev/null
	ms-refine train -o "$T/s.ms" --steps $n --lr-schedule constant --save-every 0 $TR <"$D/p.ms" 2>/dev/null
	cmp "$T/k.ms" "$T/s.ms"
	run bash -c "ls '$T' | grep tmp"
	[ -z "$output" ]
}

@test "bad model files exit 1 and name the problem" {
	run -1 ms-refine -m "$T/missing.ms" <"$D/p.ms"
	[[ "$output" == "ms-refine: cannot open $T/missing.ms: No such file"* ]]
	run -1 ms-refine -m "$D/p.ms" <"$D/p.ms"
	[[ "$output" == *"not a checkpoint"* ]]
	: >"$T/empty.ms"
	run -1 ms-refine -m "$T/empty.ms" <"$D/p.ms"
	[[ "$output" == *"empty file"* ]]
	head -c 3000 "$D/r.ms" >"$T/cut.ms"
	run -1 ms-refine -m "$T/cut.ms" <"$D/p.ms"
	# a U-Net checkpoint of another kind
	ms-info "$D/r.ms" >/dev/null
	run bash -c "cat '$D/r.ms' | /usr/bin/python3 -c '
import sys; sys.path.insert(0, \"$REF\"); from msstream import read, write
o = sys.stdout.buffer
for n, m, a in read(sys.stdin.buffer):
    m.pop(\"kind\", None) if n == \"model\" else None
    write(o, n, m, a)' >'$T/nokind.ms'"
	run -1 ms-refine -m "$T/nokind.ms" <"$D/p.ms"
	[[ "$output" == "ms-refine: $T/nokind.ms: not a refiner checkpoint"* ]]
}

@test "enumerated metadata of a checkpoint is checked: misspelled or missing loss=, bad lr_schedule=" {
	# edit KEY=VALUE of the model record (VALUE empty: delete the key)
	edit() { set_model_meta "$1=$2" <"$D/r.ms" >"$T/e.ms"; }
	for v in focul ""; do
		edit loss "$v"
		run -1 ms-refine -m "$T/e.ms" <"$D/p.ms"
		[ "$output" = "ms-refine: $T/e.ms: refiner checkpoint lacks a known loss= (focal or bce)" ]
		run -1 ms-refine train --resume -o "$T/e.ms" --steps 5 $TR <"$D/p.ms"
		[[ "$output" == *"lacks a known loss="* ]]
	done
	edit lr_schedule cosin
	run -1 ms-refine train --resume -o "$T/e.ms" --steps 5 $TR <"$D/p.ms"
	[[ "$output" == "ms-refine: $T/e.ms: checkpoint has an invalid lr_schedule=cosin"* ]]
	edit loss bce
	run ms-refine train --resume -o "$T/e.ms" --steps 5 $TR <"$D/p.ms"
	[ "$status" -eq 0 ]
	[[ "$(ms-info "$T/e.ms" | head -1)" == *" loss=bce "* ]]
}

@test "non-finite values in image or prob are an error naming sample and record" {
	# set $1 of the first sample to $2 at [0,3,4]
	poke() {
		/usr/bin/python3 -c '
import sys; sys.path.insert(0, sys.argv[1])
from msstream import read, write
first = None
for n, m, a in read(sys.stdin.buffer):
    first = first or m.get("id")
    if n == sys.argv[2] and m.get("id") == first:
        a = a.copy(); a[0, 3, 4] = float(sys.argv[3])
    write(sys.stdout.buffer, n, m, a)' "$REF" "$1" "$2" <"$D/p.ms"
	}
	id=$(ms-info "$D/p.ms" | head -1 | cut -f1)
	poke prob nan >"$T/bad.ms"
	run -1 ms-refine train -o "$T/m.ms" --steps 2 $TR <"$T/bad.ms"
	[ "$output" = "ms-refine: sample '$id', record 'prob': non-finite value nan at [0,3,4]" ]
	[ ! -e "$T/m.ms" ]
	run -1 bash -c 'ms-refine -m "$1" < "$2" > /dev/null' _ "$D/r.ms" "$T/bad.ms"
	[ "$output" = "ms-refine: sample '$id', record 'prob': non-finite value nan at [0,3,4]" ]
	poke image -inf >"$T/bad.ms"
	run -1 bash -c 'ms-refine -m "$1" < "$2" > /dev/null' _ "$D/r.ms" "$T/bad.ms"
	[ "$output" = "ms-refine: sample '$id', record 'image': non-finite value -inf at [0,3,4]" ]
}

@test "empty stream in, empty stream out; training on nothing fails" {
	run bash -c "ms-refine -m '$D/r.ms' </dev/null | wc -c"
	[ "$status" -eq 0 ]
	[ "$output" -eq 0 ]
	run -1 ms-refine train -o "$T/e.ms" $TR </dev/null
	[[ "$output" == "ms-refine: no samples with image, mask and prob"* ]]
	[ ! -e "$T/e.ms" ]
}

@test "samples without prob pass through unchanged; training skips them" {
	ms-refine -m "$D/r.ms" <"$D/in.ms" >"$T/o.ms"
	cmp "$D/in.ms" "$T/o.ms"
	cat "$D/in.ms" "$D/p.ms" >"$T/mix.ms"
	run ms-refine train -o "$T/m.ms" --steps 1 $TR <"$T/mix.ms"
	[ "$status" -eq 0 ]
	[[ "$output" == *"6 samples without image, mask or prob skipped"* ]]
}

@test "a prob of the wrong shape is a data error" {
	run bash -c "ms-import --size 16x16 '$BUSI/images/benign_286.png' >'$T/a.ms'; ms-import --size 32x32 '$BUSI/images/benign_286.png' >'$T/b.ms'"
	/usr/bin/python3 -c "
import sys; sys.path.insert(0, '$REF'); from msstream import read, write
import numpy as np
o = open('$T/bad.ms', 'wb')
for n, m, a in read(open('$T/a.ms', 'rb')): write(o, n, m, a)
write(o, 'prob', {'id': 'benign_286'}, np.zeros((1, 8, 8), np.float32))"
	run -1 ms-refine -m "$D/r.ms" <"$T/bad.ms"
	[[ "$output" == "ms-refine: sample 'benign_286': prob must be f32 [1,16,16] like the image"* ]]
}

@test "alternate training writes both models (needs ms-segment)" {
	command -v ms-segment >/dev/null || skip "ms-segment not built"
	ms-segment train -o "$T/seg.ms" --steps 2 $TR <"$D/in.ms" 2>/dev/null
	cp "$T/seg.ms" "$T/seg0.ms"
	run ms-refine train -o "$T/ra.ms" --segmentor "$T/seg.ms" --alternate --lambda 1 \
		--segmentor-out "$T/seg2.ms" --steps 2 --report 1 --log "$T/log.tsv" $TR <"$D/in.ms"
	[ "$status" -eq 0 ]
	[[ "$output" == *"step 2/2 loss "*" segmentor "* ]]
	# the log: a header, one row per report with both losses finite
	[ "$(head -1 "$T/log.tsv" | cut -f 1-4)" = "$(printf 'step\tloss\tsegmentor\tval_dice')" ]
	[ "$(awk -F'\t' 'NR > 1 && $2 > 0 && $3 > 0 { n++ } END { print n }' "$T/log.tsv")" = 2 ]
	cmp "$T/seg.ms" "$T/seg0.ms"
	run ! cmp -s "$T/seg.ms" "$T/seg2.ms"
	ms-info "$T/seg2.ms" | head -1 | grep -q "step=4"
	run bash -c "ms-segment -m '$T/seg2.ms' <'$D/in.ms' | ms-refine -m '$T/ra.ms' --samples 2 >'$T/o.ms'"
	[ "$status" -eq 0 ]
	run /usr/bin/python3 "$REF/refine_check.py" <(ms-segment -m "$T/seg2.ms" <"$D/in.ms") "$T/o.ms" 2
	[ "$output" = "ok 6" ]
}
