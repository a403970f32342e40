#!/usr/bin/env bats
# ms-segment: training a few steps on tiny images, prediction, determinism, resume,
# signals, synthetic samples, bad model files, stream handling.
load helpers
BUSI="$BATS_TEST_DIRNAME/../pipelines/data/busi"

setup() {
	T=$BATS_TEST_TMPDIR
	ms-import --size 16x16 --mask-dir "$BUSI/masks" "$BUSI/images" >"$T/in.ms"
	TR="--width 8 --batch 2 --threads 1"
}

# a stream of 6 real samples r0..r5 (grey 16x16), each followed by NSYN synthetic samples
# r<i>.s<k> (image with of=r<i>, the real mask); extra: a synthetic one of a missing id
synth_stream() {
	PYTHONPATH="$REF" /usr/bin/python3 - "$@" <<-'EOF'
	import sys
	import numpy as np
	from msstream import write
	nsyn = int(sys.argv[1])
	out = sys.stdout.buffer
	rng = np.random.default_rng(7)
	for i in range(6):
	    m = (rng.random((1, 16, 16)) > 0.6).astype(np.uint8)
	    write(out, "image", {"id": f"r{i}"}, rng.random((1, 16, 16), dtype=np.float32))
	    write(out, "mask", {"id": f"r{i}"}, m)
	    for k in range(nsyn):
	        sid = f"r{i}.s{k}"
	        write(out, "image", {"id": sid, "of": f"r{i}"}, rng.random((1, 16, 16), dtype=np.float32))
	        write(out, "mask", {"id": sid}, m)
	if len(sys.argv) > 2:
	    write(out, "image", {"id": "x.s0", "of": "gone"}, np.zeros((1, 16, 16), np.float32))
	EOF
}

@test "--help prints usage to stdout and exits 0" {
	help_ok ms-segment -- 'usage: ms-segment train*' '*--merge-alpha*'
	help_ok ms-segment train --
}

@test "usage errors exit 2 and say why" {
	for args in "" "train" "train -o m --steps 0" "train -o m --steps x" "train -o m --lr -1" \
	            "train -o m --schedule step" "train -o m --synthetic both" \
	            "train -o m --width 12" "train -o m --merge-alpha 2" "train -o m --steps 3 --epochs 1" \
	            "train -o m -m m" "-m m --steps 3" "-m m --threshold 2" "-m m extra" "--bogus"; do
		run -2 ms-segment $args </dev/null
		[[ "$output" == *usage:* ]]
	done
	run -2 ms-segment train
	[[ "$output" == "ms-segment: train needs -o MODEL"* ]]
	run -2 ms-segment train -o m --width 12
	[[ "$output" == *"--width: 12 is not a multiple of 8"* ]]
	run -2 ms-segment -m m --steps 3
	[[ "$output" == *"--steps is for train"* ]]
	run -2 ms-segment train -o m -m m
	[[ "$output" == *"-m is for prediction"* ]]
}

@test "train a few steps, then predict: prob and pred appended to every sample" {
	run ms-segment train -o "$T/m.ms" --steps 4 $TR <"$T/in.ms"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"6 real samples"* ]]
	[[ "$output" == *"step 4/4 loss "*" img/s left "* ]]
	[[ "$output" == *"done, 4 steps"* ]]
	run bash -c "ms-info '$T/m.ms' | head -1"
	[[ "$output" == *"arch=unet"*"width=8"*"step=4"*"seed=1"*"size=16x16"* ]]
	run bash -c "ms-segment -m '$T/m.ms' <'$T/in.ms' | ms-info | cut -f 1-4"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 24 ]
	[ "${lines[2]}" = "$(printf 'benign_286\tprob\tf32\t1x16x16')" ]
	[ "${lines[3]}" = "$(printf 'benign_286\tpred\tu8\t1x16x16')" ]
	[ "${lines[23]}" = "$(printf 'malignant_36\tpred\tu8\t1x16x16')" ]
	# prob in [0,1], pred = prob > 0.5, for every batch size
	ms-segment -m "$T/m.ms" --batch 4 <"$T/in.ms" >"$T/p4.ms"
	ms-segment -m "$T/m.ms" --batch 1 <"$T/in.ms" >"$T/p1.ms"
	PYTHONPATH="$REF" /usr/bin/python3 - "$T/p4.ms" "$T/p1.ms" <<-'EOF'
	import sys
	import numpy as np
	from msstream import read
	a = [r for r in read(open(sys.argv[1], "rb"))]
	b = [r for r in read(open(sys.argv[2], "rb"))]
	probs = [x for n, m, x in a if n == "prob"]
	preds = [x for n, m, x in a if n == "pred"]
	assert len(probs) == 6 and len(preds) == 6
	for p, q in zip(probs, preds):
	    assert p.min() >= 0 and p.max() <= 1
	    assert (q == (p > 0.5)).all()
	for (n1, m1, x1), (n2, m2, x2) in zip(a, b):
	    assert n1 == n2 and m1 == m2
	    assert np.allclose(x1.astype(float), x2.astype(float), atol=1e-5), n1
	EOF
	ms-segment -m "$T/m.ms" --threshold 0.99 <"$T/in.ms" | ms-info | grep pred >"$T/hi"
	run awk -F '\t' '$6 > 0' "$T/hi"
	[ -z "$output" ]
}

@test "predict passes unrelated records through byte for byte; empty stream" {
	ms-segment train -o "$T/m.ms" --steps 2 $TR <"$T/in.ms" 2>/dev/null
	/usr/bin/python3 "$REF/merge_make.py" -n 3 --size 16x16 --channels 1 --extra >"$T/x.ms"
	ms-segment -m "$T/m.ms" <"$T/x.ms" >"$T/y.ms"
	ms-pick --drop prob,pred <"$T/y.ms" | cmp - "$T/x.ms"
	run bash -c "ms-info '$T/y.ms' | cut -f 1,2 | tr '\t\n' ': '"
	[ "$output" = "s0:note s0:image s0:mask s0:tail s0:prob s0:pred s1:note s1:image s1:mask s1:tail s1:prob s1:pred s2:note s2:image s2:mask s2:tail s2:prob s2:pred " ]
	# samples without an image pass through untouched
	/usr/bin/python3 "$REF/merge_make.py" -n 2 --size 16x16 --mask-only >"$T/mo.ms"
	ms-segment -m "$T/m.ms" <"$T/mo.ms" | cmp - "$T/mo.ms"
	run bash -c "ms-segment -m '$T/m.ms' </dev/null | wc -c"
	[ "$status" -eq 0 ]
	[ "$output" -eq 0 ]
}

@test "predict: other sizes padded and cropped back; RGB to a grey model by luma" {
	ms-segment train -o "$T/m.ms" --steps 2 $TR <"$T/in.ms" 2>/dev/null
	/usr/bin/python3 "$REF/merge_make.py" -n 3 --size 21x10,16x16,7x5 --channels 3 >"$T/x.ms"
	run bash -c "ms-segment -m '$T/m.ms' <'$T/x.ms' | ms-info | grep pred | cut -f 1-4"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$(printf 's0\tpred\tu8\t1x10x21')" ]
	[ "${lines[2]}" = "$(printf 's2\tpred\tu8\t1x5x7')" ]
	/usr/bin/python3 "$REF/merge_make.py" -n 1 --size 16x16 --channels 2 >"$T/c2.ms"
	run -1 ms-segment -m "$T/m.ms" <"$T/c2.ms"
	[[ "$output" == *"ms-segment: sample 's0': image has 2 channels, the model takes 1"* ]]
}

@test "same seed and threads give the same checkpoint; another seed does not" {
	training_follows_seed ms-segment "$T/in.ms" 5 6
}

@test "--precision bf16: the same bytes run after run, not fp32's; MS_PRECISION the default; a bad name exits 2" {
	ms-segment train -o "$T/f.ms" --steps 3 $TR <"$T/in.ms"
	run ms-segment train -o "$T/b1.ms" --steps 3 --precision bf16 $TR <"$T/in.ms"
	[ "$status" -eq 0 ]
	MS_PRECISION=bf16 ms-segment train -o "$T/b2.ms" --steps 3 $TR <"$T/in.ms"
	cmp "$T/b1.ms" "$T/b2.ms"
	if [[ "$output" == *"products in fp32"* ]]; then    # no AVX512_BF16 on this CPU
		cmp "$T/f.ms" "$T/b1.ms"
	else
		! cmp -s "$T/f.ms" "$T/b1.ms"
	fi
	MS_PRECISION=bf16 ms-segment train -o "$T/f2.ms" --steps 3 --precision fp32 $TR <"$T/in.ms"
	cmp "$T/f.ms" "$T/f2.ms"
	run -2 ms-segment train -o m --precision fp16 </dev/null
	[[ "$output" == *"--precision: not fp32 or bf16: 'fp16'"* ]]
}

@test "--augment: strong by default, stored, deterministic; flips and none differ; resume keeps it" {
	ms-segment train -o "$T/s.ms" --steps 3 --save-every 0 $TR <"$T/in.ms" 2>/dev/null
	ms-info "$T/s.ms" | head -1 | grep -q ' augment=2'
	ms-segment train -o "$T/s2.ms" --steps 3 --augment strong --save-every 0 $TR <"$T/in.ms" 2>/dev/null
	cmp "$T/s.ms" "$T/s2.ms"
	ms-segment train -o "$T/f.ms" --steps 3 --augment flips --save-every 0 $TR <"$T/in.ms" 2>/dev/null
	ms-info "$T/f.ms" | head -1 | grep -q ' augment=1'
	ms-segment train -o "$T/n.ms" --steps 3 --augment none --save-every 0 $TR <"$T/in.ms" 2>/dev/null
	run ! cmp -s "$T/s.ms" "$T/f.ms"
	run ! cmp -s "$T/f.ms" "$T/n.ms"
	# resuming takes the level from the checkpoint
	ms-segment train -o "$T/r.ms" --steps 6 --augment none --schedule constant --save-every 0 $TR <"$T/in.ms" 2>/dev/null
	ms-segment train -o "$T/q.ms" --steps 3 --augment none --schedule constant --save-every 0 $TR <"$T/in.ms" 2>/dev/null
	ms-segment train -o "$T/q.ms" --resume --steps 6 --threads 1 <"$T/in.ms" 2>/dev/null
	cmp "$T/r.ms" "$T/q.ms"
	run -2 ms-segment train -o "$T/x.ms" --augment heavy $TR <"$T/in.ms"
	[[ "$output" == *"--augment: unknown value 'heavy' (none, flips, strong)"* ]]
}

@test "resume: 3 steps then 3 more equal 6 straight (cmp), options from the checkpoint" {
	ms-segment train -o "$T/s.ms" --steps 6 --schedule constant --save-every 0 $TR <"$T/in.ms" 2>/dev/null
	ms-segment train -o "$T/r.ms" --steps 3 --schedule constant $TR <"$T/in.ms" 2>/dev/null
	# schedule, width, batch come from the checkpoint
	resumes_as_straight ms-segment "$T/in.ms" "$T/s.ms" "$T/r.ms"
}

@test "resume: the precision comes from the checkpoint unless given" {
	resume_keeps_precision ms-segment "$T/in.ms" --schedule constant $TR
}

@test "resume: the validation fraction comes from the checkpoint before the data are split" {
	ms-segment train -o "$T/s.ms" --steps 6 --schedule constant --val-fraction 0.5 \
		--save-every 0 $TR <"$T/in.ms" 2>/dev/null
	ms-segment train -o "$T/r.ms" --steps 3 --schedule constant --val-fraction 0.5 $TR \
		<"$T/in.ms" 2>/dev/null
	resumes_as_straight ms-segment "$T/in.ms" "$T/s.ms" "$T/r.ms"
	[[ "$(ms-info "$T/r.ms" | head -n 1)" == *"val_fraction=0.5"* ]]
}

@test "--log: one tab-separated line per report, a header once, appended on resume" {
	ms-segment train -o "$T/m.ms" --steps 4 --report 2 --val-fraction 0.3 --log "$T/log.tsv" $TR <"$T/in.ms" 2>/dev/null
	run cat "$T/log.tsv"
	[ "${#lines[@]}" -eq 3 ]
	[ "${lines[0]}" = "$(printf 'step\tloss\taux\tval_dice\timages_per_s\tlr\tseconds')" ]
	[[ "${lines[1]}" == "2	"* && "${lines[2]}" == "4	"* ]]
	# every row: 7 fields, a finite loss, a validation Dice in [0, 1], a positive rate
	awk -F'\t' 'NR > 1 && !(NF == 7 && $2 > 0 && $4 >= 0 && $4 <= 1 && $5 > 0) { exit 1 }' "$T/log.tsv"
	ms-segment train -o "$T/m.ms" --steps 6 --report 2 --resume --log "$T/log.tsv" --threads 1 <"$T/in.ms" 2>/dev/null
	run cut -f 1 "$T/log.tsv"
	[ "$(echo $output)" = "step 2 4 6" ]
	run -2 ms-segment -m "$T/m.ms" --log "$T/x.tsv"
	[[ "$output" == *"--log is for train"* ]]
}

@test "resume: an enumerated or numeric option in the checkpoint that is not valid is an error" {
	ms-segment train -o "$T/s.ms" --steps 2 --save-every 0 $TR <"$T/in.ms" 2>/dev/null
	for kv in augment=7 augment=strong schedule=9 synthetic=-1 lr=fast seed=x; do
		set_model_meta "$kv" <"$T/s.ms" >"$T/e.ms"
		run -1 ms-segment train -o "$T/e.ms" --resume --steps 3 --threads 1 <"$T/in.ms"
		[ "$output" = "ms-segment: $T/e.ms: checkpoint has an invalid $kv" ]
	done
}

@test "SIGTERM during training writes a checkpoint and exits 143; resuming it ends as straight" {
	sigterm_training ms-segment "$T/k.ms" "$T/in.ms" --steps 100000 --schedule constant \
		--report 1 --save-every 0 $TR
	n=$((STEP + 2))
	ms-segment train -o "$T/k.ms" --resume --steps $n --threads 1 <"$T/in.ms" 2>/dev/null
	ms-segment train -o "$T/s.ms" --steps $n --schedule constant --report 1 \
		--save-every 0 $TR <"$T/in.ms" 2>/dev/null
	cmp "$T/k.ms" "$T/s.ms"
	run bash -c "ls '$T' | grep tmp"
	[ -z "$output" ]
}

@test "validation: a fixed fraction of real samples chosen by id, not by position" {
	run ms-segment train -o "$T/m.ms" --steps 2 --val-fraction 0.5 $TR <"$T/in.ms"
	[ "$status" -eq 0 ]
	counts=$(echo "$output" | grep -o '6 real samples ([0-9]* train, [0-9]* validation)')
	[[ "$output" == *"val_dice 0."* || "$output" == *"val_dice 1."* ]]
	# the same samples in reverse order
	PYTHONPATH="$REF" /usr/bin/python3 - "$T/in.ms" "$T/rev.ms" <<-'EOF'
	import sys
	from msstream import read, write
	recs = list(read(open(sys.argv[1], "rb")))
	with open(sys.argv[2], "wb") as f:
	    for i in range(len(recs) - 2, -1, -2):
	        for n, m, x in recs[i:i + 2]:
	            write(f, n, m, x)
	EOF
	run ms-segment train -o "$T/m2.ms" --steps 2 --val-fraction 0.5 $TR <"$T/rev.ms"
	[[ "$output" == *"$counts"* ]]
	run bash -c "ms-info '$T/m.ms' | head -1"
	[[ "$output" == *"val_dice=0."* || "$output" == *"val_dice=1."* ]]
}

@test "--val FILE validates on its samples only; --best keeps the weights of the best report" {
	ms-pick -n 4 <"$T/in.ms" >"$T/tr.ms"
	ms-pick -s 4 <"$T/in.ms" >"$T/va.ms"
	run ms-segment train -o "$T/m.ms" --val "$T/va.ms" --best "$T/b.ms" --steps 6 --report 2 \
		$TR <"$T/tr.ms"
	[ "$status" -eq 0 ]
	[[ "$output" == *"6 real samples (4 train, 2 validation)"* ]]
	# the best of the three reported validation Dice values, at its step, is in b.ms
	best=$(echo "$output" | grep -o 'val_dice [0-9.]*' | cut -d' ' -f2 | sort -g | tail -1)
	[[ "$output" == *"best $best at step "*" in $T/b.ms"* ]]
	step=$(echo "$output" | sed -n 's/.*best [0-9.]* at step \([0-9]*\) in.*/\1/p')
	run bash -c "ms-info '$T/b.ms' | head -1"
	[[ "$output" == *" step=$step "* && "$output" == *"val_dice=$best"* ]]
	[[ "$output" == *"val_fraction=0 "* ]]
	ms-segment -m "$T/b.ms" --threads 1 <"$T/va.ms" | ms-info | grep -q pred
	# --val-fraction given too: both sets validate
	run ms-segment train -o "$T/m.ms" --val "$T/va.ms" --val-fraction 0.5 --steps 1 $TR <"$T/tr.ms"
	[[ "$output" == *"6 real samples ("*" train, "*" validation)"* ]]
	[[ "$output" != *"(4 train, 2 validation)"* ]]
}

@test "--resume with --best counts the best of the run before it" {
	ms-pick -n 4 <"$T/in.ms" >"$T/tr.ms"
	ms-pick -s 4 <"$T/in.ms" >"$T/va.ms"
	ms-segment train -o "$T/m.ms" --val "$T/va.ms" --best "$T/b.ms" --steps 4 --report 1 \
		$TR <"$T/tr.ms" 2>"$T/err1"
	best=$(grep -o 'best [0-9.]* at step [0-9]*' "$T/err1")
	# the checkpoint keeps the best so far
	v=${best#best }; v=${v% at*}; s=${best##* }
	m=$(ms-info "$T/m.ms" | head -n 1)
	[[ "$m" == *" best_step=$s" ]]
	[ "$(printf %.4f "$(grep -o 'best_val=[0-9.]*' <<<"$m" | cut -d= -f2)")" = "$v" ]
	# resumed with the learning rate at 0, no report can beat the first run's best: the
	# weights of that best stay in b.ms, and the run says so
	run ms-segment train -o "$T/m.ms" --val "$T/va.ms" --best "$T/b.ms" --steps 6 --report 1 \
		--resume --lr 0 $TR <"$T/tr.ms"
	[ "$status" -eq 0 ]
	[[ "$output" == *"steps 6 from 4"* && "$output" == *"$best in $T/b.ms"* ]]
	[[ "$(ms-info "$T/b.ms" | head -n 1)" == *" step=$s "* ]]
}

@test "--val and --best: bad uses are errors that say why" {
	ms-pick -n 4 <"$T/in.ms" >"$T/tr.ms"
	ms-pick -s 4 <"$T/in.ms" >"$T/va.ms"
	run ms-segment train -o "$T/m.ms" --best "$T/b.ms" --val-fraction 0 --steps 1 $TR <"$T/tr.ms"
	[ "$status" -eq 2 ]
	[[ "$output" == *"--best needs validation samples"* ]]
	run ms-segment train -o "$T/m.ms" --val "$T/none.ms" --steps 1 $TR <"$T/tr.ms"
	[ "$status" -eq 1 ]
	[[ "$output" == *"ms-segment: cannot open $T/none.ms"* ]]
	: >"$T/empty.ms"
	run ms-segment train -o "$T/m.ms" --val "$T/empty.ms" --steps 1 $TR <"$T/tr.ms"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$T/empty.ms: no samples with image and mask"* ]]
	head -c 100 "$T/va.ms" >"$T/cut.ms"
	run ms-segment train -o "$T/m.ms" --val "$T/cut.ms" --steps 1 $TR <"$T/tr.ms"
	[ "$status" -eq 1 ]
	[[ "$output" == *"ms-segment: $T/cut.ms: "*"truncated"* ]]
	run ms-segment train -o "$T/m.ms" --val "$T/in.ms" --steps 1 $TR <"$T/tr.ms"
	[ "$status" -eq 1 ]
	[[ "$output" == *"occurs twice"* ]]
	synth_stream 1 >"$T/syn.ms"
	run ms-segment train -o "$T/m.ms" --val "$T/syn.ms" --steps 1 $TR <"$T/tr.ms"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$T/syn.ms: sample 'r0.s0' is synthetic (of=r0)"* ]]
	[ ! -e "$T/m.ms" ] && [ ! -e "$T/b.ms" ]
	run ms-segment -m "$T/m.ms" --best "$T/b.ms" <"$T/tr.ms"
	[ "$status" -eq 2 ]
}

@test "the man page's EXAMPLES on bundled data run (fewer steps)" {
	man="$BATS_TEST_DIRNAME/../man/ms-segment.1"
	cd "$BATS_TEST_DIRNAME/.."
	for start in '^Train on the bundled' '^Validate on the labelled'; do
		sed -n "/$start/,/^\.Ed\$/p" "$man" | sed '1,/^\.Bd/d;$d' |
			sed 's/--steps [0-9]*/--steps 4/; s/--report [0-9]*/--report 2/; s/\\e/\\/g' |
			sed "s|seg\.ms|$T/seg.ms|g; s|best\.ms|$T/best.ms|g; s|busi\.ms|$T/busi.ms|g;
				s|train\.ms|$T/train.ms|g; s|val\.ms|$T/val.ms|g" >"$T/ex.sh"
		grep -q ms-segment "$T/ex.sh"
		run bash -e -o pipefail "$T/ex.sh"
		[ "$status" -eq 0 ]
		[[ "$output" == *"dice"* ]]
	done
	[ -s "$T/best.ms" ]
}

@test "synthetic samples: mix pairs each real image with one of its synthetic ones" {
	synth_stream 2 extra >"$T/syn.ms"
	run ms-segment train -o "$T/m.ms" --steps 3 --val-fraction 0 $TR <"$T/syn.ms"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"6 real samples (6 train, 0 validation), 12 synthetic used (1 without their real sample, 0 of validation samples: dropped); synthetic mix"* ]]
	ms-segment train -o "$T/m2.ms" --steps 3 --val-fraction 0 $TR <"$T/syn.ms" 2>/dev/null
	cmp "$T/m.ms" "$T/m2.ms"
	run ms-segment train -o "$T/e.ms" --steps 3 --val-fraction 0 --synthetic extra --synthetic-prob 0.3 $TR <"$T/syn.ms"
	[[ "$output" == *"12 synthetic used"*"synthetic extra"* ]]
	run ms-segment train -o "$T/i.ms" --steps 3 --val-fraction 0 --synthetic ignore $TR <"$T/syn.ms"
	[[ "$output" == *"0 synthetic used"*"synthetic ignore"* ]]
	# the three modes train differently
	run ! cmp -s "$T/m.ms" "$T/e.ms"
	run ! cmp -s "$T/m.ms" "$T/i.ms"
	# merge-alpha 1 takes only real blocks: the same as ignoring the synthetic images
	# apart from the batch of 2B (not compared); patch and alpha stored in the checkpoint
	ms-segment train -o "$T/a.ms" --steps 1 --merge-alpha 1 --merge-patch 4 $TR <"$T/syn.ms" 2>/dev/null
	run bash -c "ms-info '$T/a.ms' | head -1"
	[[ "$output" == *"merge_patch=4"*"merge_alpha=1"*"synthetic=1"* ]]
	# synthetic samples of validation samples are dropped (leakage)
	run ms-segment train -o "$T/v.ms" --steps 1 --val-fraction 0.5 $TR <"$T/syn.ms"
	v=$(echo "$output" | grep -o '[0-9]* validation' | cut -d' ' -f1)
	[ "$v" -gt 0 ]
	[[ "$output" == *"$((12 - 2 * v)) synthetic used (1 without their real sample, $((2 * v)) of validation samples: dropped)"* ]]
}

@test "bad inputs: sizes not multiples of 4, mixed sizes, no masks, empty stream" {
	ms-import --size 18x18 --mask-dir "$BUSI/masks" "$BUSI/images" >"$T/18.ms"
	run -1 ms-segment train -o "$T/m.ms" $TR <"$T/18.ms"
	[[ "$output" == *"image 18x18: width and height must be multiples of 4 (resize with ms-import --size)"* ]]
	/usr/bin/python3 "$REF/merge_make.py" -n 2 --size 16x16,20x16 --channels 1 >"$T/mixed.ms"
	run -1 ms-segment train -o "$T/m.ms" $TR <"$T/mixed.ms"
	[[ "$output" == *"differs from the first"* ]]
	ms-pick --drop mask <"$T/in.ms" >"$T/nomask.ms"
	run -1 ms-segment train -o "$T/m.ms" $TR <"$T/nomask.ms"
	[[ "$output" == *"6 samples without image and mask ignored"*"no samples with image and mask on stdin"* ]]
	run -1 ms-segment train -o "$T/m.ms" $TR </dev/null
	[[ "$output" == "ms-segment: no samples with image and mask on stdin" ]]
	run -1 bash -c "head -c 1000 '$T/in.ms' | ms-segment train -o '$T/m.ms'"
	[[ "$output" == "ms-segment: <stdin>: truncated"* ]]
	[ ! -e "$T/m.ms" ]
}

@test "bad model files exit 1 with a message naming the file" {
	ms-segment train -o "$T/m.ms" --steps 1 $TR <"$T/in.ms" 2>/dev/null
	printf 'GIF89a this is not a model, but it is long enough for a header....' >"$T/magic.ms"
	run -1 ms-segment -m "$T/magic.ms" <"$T/in.ms"
	[[ "$output" == "ms-segment: $T/magic.ms: bad magic"* ]]
	head -c 5000 "$T/m.ms" >"$T/trunc.ms"
	run -1 ms-segment -m "$T/trunc.ms" <"$T/in.ms"
	[[ "$output" == "ms-segment: $T/trunc.ms: truncated"* ]]
	run -1 ms-segment -m "$T/nope.ms" <"$T/in.ms"
	[[ "$output" == "ms-segment: cannot open $T/nope.ms: No such file"* ]]
	# the model record claims width 16, the parameters are width 8; one parameter missing
	PYTHONPATH="$REF" /usr/bin/python3 - "$T/m.ms" "$T/shape.ms" "$T/miss.ms" <<-'EOF'
	import sys
	from msstream import read, write
	recs = list(read(open(sys.argv[1], "rb")))
	with open(sys.argv[2], "wb") as f:
	    for n, m, x in recs:
	        if n == "model":
	            m = dict(m, width="16")
	        write(f, n, m, x)
	with open(sys.argv[3], "wb") as f:
	    for n, m, x in recs:
	        if n != "conv_out.bias":
	            write(f, n, m, x)
	EOF
	run -1 ms-segment -m "$T/shape.ms" <"$T/in.ms"
	[[ "$output" == "ms-segment: $T/shape.ms: checkpoint does not fit the model: "*"conv_in.weight has shape 8x1x3x3, expected 16x1x3x3"* ]]
	run -1 ms-segment -m "$T/miss.ms" <"$T/in.ms"
	[[ "$output" == "ms-segment: $T/miss.ms: checkpoint does not fit the model: missing conv_out.bias"* ]]
	run -1 ms-segment train -o "$T/magic.ms" --resume $TR <"$T/in.ms"
	[[ "$output" == "ms-segment: $T/magic.ms: bad magic"* ]]
	# a refiner's checkpoint (a U-Net with a timestep) is refused, not run
	local r=$BATS_TEST_DIRNAME/../pipelines/models/refine.ms
	run -1 ms-segment -m "$r" <"$T/in.ms"
	[ "$output" = "ms-segment: $r: not a segmentor (a diffusion model, kind=refine)" ]
}

@test "--time: a wall-clock budget stops training and is stored" {
	run ms-segment train -o "$T/t.ms" --time 1 --report 1000000 $TR <"$T/in.ms"
	[ "$status" -eq 0 ]
	[[ "$output" == *"1 s budget from step 0"*"done, "*" steps"* ]]
	run bash -c "ms-info '$T/t.ms' | head -1"
	[[ "$output" == *" time=1 time_used=1."* ]]
	# --steps, when it comes first, ends it
	run ms-segment train -o "$T/t.ms" --time 1000 --steps 2 $TR <"$T/in.ms"
	[[ "$output" == *"done, 2 steps"* ]]
}

@test "-o: a FIFO or a device is written in place, not replaced; a full disk names the file" {
	ms-segment train -o "$T/m.ms" --steps 1 $TR <"$T/in.ms" 2>/dev/null
	mkfifo "$T/fifo"
	timeout 60 cat "$T/fifo" > "$T/got" &   # a replaced FIFO never gets a writer
	run ms-segment train -o "$T/fifo" --steps 1 $TR <"$T/in.ms"
	wait
	[ "$status" -eq 0 ]
	[ -p "$T/fifo" ]
	cmp "$T/got" "$T/m.ms"
	ln -s /dev/full "$T/full"
	run -1 ms-segment train -o "$T/full" --steps 1 $TR <"$T/in.ms"
	[[ "$output" == *"ms-segment: $T/full: cannot write "*"No space left on device" ]]
	[ -L "$T/full" ] && [ -c /dev/full ]
	[ "$(ls "$T")" = "$(printf 'fifo\nfull\ngot\nin.ms\nm.ms')" ]
}

# 6 samples r0..r5 (grey 16x16, f32 image and mask); $1 record of r2 gets value $2 at
# [0,3,4]
bad_stream() {
	PYTHONPATH="$REF" /usr/bin/python3 - "$@" <<-'EOF'
	import sys
	import numpy as np
	from msstream import write
	rec, val = sys.argv[1], sys.argv[2]
	rng = np.random.default_rng(3)
	for i in range(6):
	    x = {"image": rng.random((1, 16, 16), dtype=np.float32),
	         "mask": (rng.random((1, 16, 16)) > 0.5).astype(np.float32)}
	    if i == 2:
	        x[rec][0, 3, 4] = float(val)
	    for n in ("image", "mask"):
	        write(sys.stdout.buffer, n, {"id": f"r{i}"}, x[n])
	EOF
}

@test "non-finite values: an error naming sample and record in training and prediction" {
	for spec in image:nan mask:inf image:-inf; do
		bad_stream "${spec%:*}" "${spec#*:}" > "$T/bad.ms"
		run -1 ms-segment train -o "$T/m.ms" --steps 2 $TR <"$T/bad.ms"
		[ "$output" = "ms-segment: sample 'r2', record '${spec%:*}': non-finite value ${spec#*:} at [0,3,4]" ]
		[ ! -e "$T/m.ms" ]
	done
	# prediction: one NaN pixel is an error, not an all-NaN prob
	ms-segment train -o "$T/m.ms" --steps 2 $TR <"$T/in.ms" 2>/dev/null
	bad_stream image nan > "$T/bad.ms"
	run -1 bash -c 'ms-segment -m "$1" < "$2" > /dev/null' _ "$T/m.ms" "$T/bad.ms"
	[ "$output" = "ms-segment: sample 'r2', record 'image': non-finite value nan at [0,3,4]" ]
}
