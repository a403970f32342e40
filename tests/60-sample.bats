#!/usr/bin/env bats
# ms-sample: training (checkpoint contents, determinism, resume, signals, data errors),
# sampling (synthetic-sample convention, pass-through, determinism), usage errors.
# Tiny 16x16 images of tests/data, U-Net width 8, a few steps.
load helpers
DATA=$BATS_TEST_DIRNAME/data
T="--width 8 --batch 2 --threads 1"

setup_file() {
	local d=$BATS_FILE_TMPDIR b=$DATA/busi k=$DATA/rgb
	mkdir -p "$d/grey" "$d/rgb"
	for s in benign_1 benign_2 malignant_10; do cp "$b/images/$s.png" "$d/grey/"; done
	for s in polyp_1 polyp_2; do cp "$k/images/$s.png" "$d/rgb/"; done
	ms-import --size 16x16 -m $b/masks -p "breast ultrasound" "$d/grey" > "$d/grey.ms"
	ms-import --size 16x16 -m $k/masks -p "colonoscopy polyp" "$d/rgb" > "$d/rgb.ms"
	ms-edges < "$d/grey.ms" > "$d/in.ms"
	cat "$d/grey.ms" "$d/rgb.ms" | ms-edges > "$d/mixed.ms"
	ms-sample train -o "$d/m.ms" --steps 6 $T < "$d/in.ms" 2>/dev/null
}

# the Python check of a sampled stream: python code with s = list of (name, meta, array)
pycheck() {
	$PY - "$1" "$REF" <<PYEOF
import sys; sys.path.insert(0, sys.argv[2])
import numpy as np
from msstream import read, raw_records
s = list(read(open(sys.argv[1], "rb")))
$2
PYEOF
}

# FILE holds 6 synthetic 1x16x16 images in [0, 1], the first two different
six_samples() {
	run pycheck "$1" '
syn = [a for n, m, a in s if n == "image" and "of" in m]
assert len(syn) == 6, len(syn)
for a in syn:
    assert a.shape == (1, 16, 16) and np.isfinite(a).all() and a.min() >= 0 and a.max() <= 1
assert not np.array_equal(syn[0], syn[1])
print("ok")
'
	[ "$output" = ok ]
}

@test "--help prints usage to stdout and exits 0" {
	help_ok ms-sample -- 'usage:*' '*--guidance*'
	help_ok ms-sample train --
}

@test "usage errors exit 2 with a reason" {
	run -2 ms-sample < /dev/null
	[[ "$output" == *"needs -m MODEL"* ]]
	run -2 ms-sample train --steps 3 < /dev/null
	[[ "$output" == *"needs -o MODEL"* ]]
	run -2 ms-sample train -o x.ms --steps 0
	[[ "$output" == *--steps* ]]
	run -2 ms-sample train -o x.ms --schedule quadratic
	[[ "$output" == *quadratic* ]]
	run -2 ms-sample train -o x.ms --cond edges,,mask < /dev/null
	[[ "$output" == *--cond* ]]
	run -2 ms-sample -m x.ms --steps 2000
	run -2 ms-sample -m x.ms extra
	run -2 ms-sample -m x.ms --bogus
	run -2 ms-sample -m x.ms --eta x
	run -2 ms-sample -m x.ms --lr 0.1
	[[ "$output" == *"--lr is for train"* ]]
	run -2 ms-sample train -o x.ms -n 2
	[[ "$output" == *"-n is for sampling"* ]]
	[ ! -e x.ms ]
}

@test "bad model files exit 1 naming the file" {
	local d=$BATS_TEST_TMPDIR
	run -1 ms-sample -m "$d/none.ms" < /dev/null
	[[ "$output" == *"cannot open $d/none.ms"* ]]
	echo "not a stream at all, no" > "$d/bad.ms"
	run -1 ms-sample -m "$d/bad.ms" < /dev/null
	[[ "$output" == *"$d/bad.ms"* ]]
	run -1 ms-sample -m "$BATS_FILE_TMPDIR/in.ms" < /dev/null
	[[ "$output" == *"not a checkpoint"* ]]
	head -c 20000 "$BATS_FILE_TMPDIR/m.ms" > "$d/cut.ms"
	run -1 ms-sample -m "$d/cut.ms" < /dev/null
	[[ "$output" == *"$d/cut.ms"* ]]
}

@test "train writes one checkpoint: model record, U-Net, text, Adam and EMA" {
	run ms-info "$BATS_FILE_TMPDIR/m.ms"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *model*kind=sample* ]]
	[[ "${lines[0]}" == *" in=2 out=1 width=8 "* ]]
	[[ "${lines[0]}" == *"image_channels=1 cond=edges cond_optional=0 schedule=linear T=1000"* ]]
	[[ "${lines[0]}" == *"size=16x16 step=6 adam_t=6"* ]]
	[[ "$output" == *text.table*1024x64* ]]
	[[ "$output" == *adam.m.conv_in.weight* ]]
	[[ "$output" == *ema.text.proj.bias* ]]
}

@test "progress on stderr, nothing on stdout; --report and --log" {
	run --separate-stderr ms-sample train -o "$BATS_TEST_TMPDIR/p.ms" --steps 3 $T \
		--report 1 --log "$BATS_TEST_TMPDIR/log.tsv" < "$BATS_FILE_TMPDIR/in.ms"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[[ "$stderr" == *"ms-sample: step 1/3 loss "*"ms-sample: step 3/3 loss "*" img/s "* ]]
	[[ "$stderr" != *" val "* ]]
	run cut -f 1 "$BATS_TEST_TMPDIR/log.tsv"
	[ "$(echo $output)" = "step 1 2 3" ]
	awk -F'\t' 'NR > 1 && !($2 > 0 && $5 > 0 && $6 == 0.0002) { exit 1 }' "$BATS_TEST_TMPDIR/log.tsv"
}

@test "sampling: the real sample, then N synthetic samples <id>.s<k> with of=, mask and edges copies" {
	local d=$BATS_FILE_TMPDIR
	ms-sample -m "$d/m.ms" -n 3 --steps 4 < "$d/in.ms" > "$BATS_TEST_TMPDIR/out.ms"
	run pycheck "$BATS_TEST_TMPDIR/out.ms" '
ids = [m["id"] for n, m, a in s]
assert len(s) == 3 * 3 * 4, len(s)
by = {}
for n, m, a in s:
    by.setdefault(m["id"], {})[n] = (m, a)
for rid in ("benign_1", "benign_2", "malignant_10"):
    assert set(by[rid]) == {"image", "mask", "edges"}
    for k in range(3):
        sid = f"{rid}.s{k}"
        rec = by[sid]
        assert list(rec) == ["image", "mask", "edges"], list(rec)
        m, a = rec["image"]
        assert a.dtype == np.float32 and a.shape == (1, 16, 16), a.shape
        assert a.min() >= 0 and a.max() <= 1
        assert m["of"] == rid and m["synthetic"] == "1" and m["seed"] == "0"
        assert m["prompt"] == "breast ultrasound" and "source" not in m
        for n in ("mask", "edges"):
            mm, aa = rec[n]
            assert mm["of"] == rid and mm["id"] == sid
            assert aa.dtype == by[rid][n][1].dtype and np.array_equal(aa, by[rid][n][1])
    assert not np.array_equal(by[rid + ".s0"]["image"][1], by[rid + ".s1"]["image"][1])
order = []
for i in ids:
    if not order or order[-1] != i:
        order.append(i)
assert order[:4] == ["benign_1", "benign_1.s0", "benign_1.s1", "benign_1.s2"], order
print("ok")
'
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
}

@test "sampling passes the real samples through byte for byte" {
	local d=$BATS_FILE_TMPDIR
	ms-sample -m "$d/m.ms" -n 1 --steps 2 < "$d/in.ms" > "$BATS_TEST_TMPDIR/out.ms"
	run $PY - "$d/in.ms" "$BATS_TEST_TMPDIR/out.ms" "$REF" <<'PYEOF'
import sys; sys.path.insert(0, sys.argv[3])
from msstream import raw_records
a = [r for n, r in raw_records(open(sys.argv[1], "rb").read())]
b = [r for n, r in raw_records(open(sys.argv[2], "rb").read())]
real = [r for r in b if b"of=" not in r]
assert real == a, (len(real), len(a))
print("ok")
PYEOF
	[ "$output" = ok ]
}

@test "a sample without the condition records passes through unchanged" {
	local d=$BATS_FILE_TMPDIR
	ms-sample -m "$d/m.ms" -n 2 --steps 2 < "$d/grey.ms" > "$BATS_TEST_TMPDIR/out.ms"
	cmp "$d/grey.ms" "$BATS_TEST_TMPDIR/out.ms"
}

@test "empty stream: sampling gives an empty stream, training an error" {
	run -0 bash -c "ms-sample -m '$BATS_FILE_TMPDIR/m.ms' < /dev/null | wc -c"
	[ "$output" -eq 0 ]
	run -1 ms-sample train -o "$BATS_TEST_TMPDIR/e.ms" < /dev/null
	[[ "$output" == *"no sample with an 'image' record"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/e.ms" ]
}

@test "training and sampling are deterministic; the seed matters" {
	local d=$BATS_FILE_TMPDIR t=$BATS_TEST_TMPDIR
	ms-sample train -o "$t/a.ms" --steps 6 $T < "$d/in.ms" 2>/dev/null
	cmp "$t/a.ms" "$d/m.ms"
	ms-sample train -o "$t/b.ms" --steps 6 --seed 1 $T < "$d/in.ms" 2>/dev/null
	! cmp -s "$t/b.ms" "$d/m.ms"
	ms-sample train -o "$t/c.ms" --steps 6 --save-every 0 $T < "$d/in.ms" 2>/dev/null
	cmp "$t/c.ms" "$d/m.ms"
	ms-sample -m "$d/m.ms" -n 2 --steps 3 --eta 1 < "$d/in.ms" > "$t/s1.ms"
	ms-sample -m "$d/m.ms" -n 2 --steps 3 --eta 1 < "$d/in.ms" > "$t/s2.ms"
	cmp "$t/s1.ms" "$t/s2.ms"
	ms-sample -m "$d/m.ms" -n 2 --steps 3 --eta 1 --seed 4 < "$d/in.ms" > "$t/s3.ms"
	! cmp -s "$t/s1.ms" "$t/s3.ms"
}

@test "--parts 2: the batch's gradient in two parts trains, the same twice (--joint too); parts that do not fit: exit 1" {
	local d=$BATS_FILE_TMPDIR t=$BATS_TEST_TMPDIR
	ms-sample train -o "$t/a.ms" --steps 3 --parts 2 $T < "$d/in.ms" 2>/dev/null
	ms-sample train -o "$t/b.ms" --steps 3 --parts 2 $T < "$d/in.ms" 2>/dev/null
	cmp "$t/a.ms" "$t/b.ms"
	ms-info "$t/a.ms" | head -1 | grep -q " step=3"
	ms-sample train -o "$t/j.ms" --steps 2 --parts 2 --joint $T < "$d/grey.ms" 2>/dev/null
	ms-sample train -o "$t/k.ms" --steps 2 --parts 2 --joint $T < "$d/grey.ms" 2>/dev/null
	cmp "$t/j.ms" "$t/k.ms"
	run -1 ms-sample train -o "$t/x.ms" --steps 2 --parts 3 $T < "$d/in.ms"
	[[ "$output" == *"a batch of 2 cannot be cut into 3 equal parts"* ]]
	[ ! -e "$t/x.ms" ]
	run -2 ms-sample -m "$d/m.ms" --parts 2
	[[ "$output" == "ms-sample: --parts is for train"* ]]
}

@test "--sampler dpm++2m: eps, zero-SNR v and joint models, the same bytes twice, not DDIM's; with --inpaint or --eta: a usage error (exit 2), nothing on stdout" {
	local d=$BATS_FILE_TMPDIR t=$BATS_TEST_TMPDIR
	help_ok ms-sample -- '*--sampler ddim|dpm++2m*'
	ms-sample -m "$d/m.ms" -n 2 --steps 5 --sampler dpm++2m < "$d/in.ms" > "$t/p1.ms"
	ms-sample -m "$d/m.ms" -n 2 --steps 5 --sampler dpm++2m --eta 0 < "$d/in.ms" > "$t/p2.ms"
	cmp "$t/p1.ms" "$t/p2.ms"
	ms-sample -m "$d/m.ms" -n 2 --steps 5 < "$d/in.ms" > "$t/d.ms"
	! cmp -s "$t/p1.ms" "$t/d.ms"
	cmp <(ms-info "$t/p1.ms" | cut -f1-4) <(ms-info "$t/d.ms" | cut -f1-4)
	ms-sample train -o "$t/z.ms" --zero-snr --steps 2 $T < "$d/in.ms" 2>/dev/null
	ms-sample train -o "$t/j.ms" --joint --steps 2 $T < "$d/grey.ms" 2>/dev/null
	for k in 1 2 7; do
		ms-sample -m "$t/z.ms" -n 2 --steps $k --sampler dpm++2m < "$d/in.ms" > "$t/z$k.ms"
	done
	ms-sample -m "$t/j.ms" -n 2 --steps 5 --sampler dpm++2m < "$d/grey.ms" > "$t/j1.ms"
	ms-sample -m "$t/j.ms" -n 2 --steps 5 --sampler dpm++2m < "$d/grey.ms" > "$t/j2.ms"
	cmp "$t/j1.ms" "$t/j2.ms"
	six_samples "$t/z7.ms"
	run -0 bash -c "ms-info '$t/j1.ms' | grep -c '^benign_1\.s.*mask.*synthetic=1'"
	[ "$output" -eq 2 ]
	run --separate-stderr ms-sample -m "$t/j.ms" --inpaint --sampler dpm++2m < "$d/grey.ms"
	[ "$status" -eq 2 ] && [ -z "$output" ]
	[[ "$stderr" == "ms-sample: --inpaint needs --sampler ddim: RePaint takes stochastic DDIM steps"$'\n'usage:* ]]
	run --separate-stderr ms-sample -m "$d/m.ms" --eta 0.5 --sampler dpm++2m < "$d/in.ms"
	[ "$status" -eq 2 ] && [ -z "$output" ]
	[[ "$stderr" == "ms-sample: --eta: --sampler dpm++2m is deterministic (eta 0)"$'\n'usage:* ]]
	run -2 ms-sample -m "$d/m.ms" --sampler euler < "$d/in.ms"
	[[ "$output" == *--sampler*euler* ]]
}

@test "--resume continues exactly: 3 + 3 steps equal 6 steps" {
	local d=$BATS_FILE_TMPDIR t=$BATS_TEST_TMPDIR
	ms-sample train -o "$t/r.ms" --steps 3 $T < "$d/in.ms" 2>/dev/null
	ms-sample train -o "$t/r.ms" --steps 6 --resume --threads 1 < "$d/in.ms" 2>/dev/null
	cmp "$t/r.ms" "$d/m.ms"
	cp "$t/r.ms" "$t/r0.ms"
	run -0 ms-sample train -o "$t/r.ms" --steps 6 --resume < "$d/in.ms"
	cmp "$t/r.ms" "$t/r0.ms"
	run -1 ms-sample train -o "$t/r.ms" --steps 9 --resume --width 16 < "$d/in.ms"
	[[ "$output" == *"--width differs from the checkpoint"* ]]
	ms-sample train -o "$t/new.ms" --steps 2 --resume $T < "$d/in.ms" 2>/dev/null
	[ -s "$t/new.ms" ]
}

@test "--resume: the precision comes from the checkpoint unless given" {
	resume_keeps_precision ms-sample "$BATS_FILE_TMPDIR/in.ms" $T
}

@test "--resume: a value in the checkpoint that its option refuses is an error" {
	local d=$BATS_FILE_TMPDIR t=$BATS_TEST_TMPDIR
	for kv in seed=x batch=0 lr=2 p_uncond=-1 ema=x precision=fp16; do
		set_model_meta "$kv" <"$d/m.ms" >"$t/e.ms"
		run -1 ms-sample train -o "$t/e.ms" --resume --steps 8 --threads 1 <"$d/in.ms"
		[[ "$output" == "ms-sample: $t/e.ms: checkpoint has an invalid $kv: --"* ]]
	done
}

@test "--zero-snr: zero_snr=1 prediction=v, sampling, resume; a conflicting resume is an error" {
	local d=$BATS_FILE_TMPDIR t=$BATS_TEST_TMPDIR
	help_ok ms-sample train -- '*--zero-snr*'
	ms-sample train -o "$t/z.ms" --zero-snr --steps 4 $T < "$d/in.ms" 2>/dev/null
	run ms-info "$t/z.ms"
	[[ "${lines[0]}" == *"schedule=linear zero_snr=1 prediction=v T=1000"* ]]
	run ms-info "$d/m.ms"
	[[ "${lines[0]}" != *zero_snr=* && "${lines[0]}" != *prediction=* ]]
	ms-sample -m "$t/z.ms" -n 2 --steps 3 --eta 0.5 < "$d/in.ms" > "$t/s.ms"
	six_samples "$t/s.ms"
	# one DDIM step, from abar = 0 at T
	run -0 bash -c "ms-sample -m '$t/z.ms' -n 1 --steps 1 < '$d/in.ms' | ms-info | grep -c 'of=benign_1'"
	[ "$output" -eq 3 ]
	# resumed without --zero-snr, the checkpoint's setting holds: 2 + 2 steps equal 4
	ms-sample train -o "$t/r.ms" --zero-snr --steps 2 $T < "$d/in.ms" 2>/dev/null
	ms-sample train -o "$t/r.ms" --steps 4 --resume --threads 1 < "$d/in.ms" 2>/dev/null
	cmp "$t/r.ms" "$t/z.ms"
	cp "$d/m.ms" "$t/m.ms"
	run -1 ms-sample train -o "$t/m.ms" --steps 8 --resume --zero-snr $T < "$d/in.ms"
	[[ "$output" == *"--zero-snr differs from the checkpoint being resumed"* ]]
	cmp "$t/m.ms" "$d/m.ms"
	ms-sample train -o "$t/c.ms" --zero-snr --schedule cosine --steps 2 $T < "$d/in.ms" 2>/dev/null
	run ms-info "$t/c.ms"
	[[ "${lines[0]}" == *"schedule=cosine zero_snr=1 prediction=v"* ]]
}

@test "SIGINT writes a checkpoint, then exits 130" {
	local d=$BATS_FILE_TMPDIR t=$BATS_TEST_TMPDIR
	ms-sample train -o "$t/i.ms" --steps 1000000 $T < "$d/in.ms" 2>"$t/err" &
	local pid=$!
	sleep 1
	kill -INT $pid
	local st=0
	wait $pid || st=$?
	[ "$st" -eq 130 ]
	grep -q "interrupted at step" "$t/err"
	run ms-info "$t/i.ms"
	[[ "${lines[0]}" == *kind=sample*step=* ]]
	! ls "$t"/i.ms.tmp* 2>/dev/null
}

@test "mixed grey and RGB data: an RGB model, grey images repeated" {
	local d=$BATS_FILE_TMPDIR t=$BATS_TEST_TMPDIR
	ms-sample train -o "$t/rgb.ms" --steps 2 $T < "$d/mixed.ms" 2>/dev/null
	run ms-info "$t/rgb.ms"
	[[ "${lines[0]}" == *" in=4 out=3 "*image_channels=3* ]]
	run bash -c "ms-sample -m '$t/rgb.ms' -n 1 --steps 2 < '$d/in.ms' | ms-info | grep 'benign_1.s0.image'"
	[[ "$output" == *"f32	3x16x16"* ]]
	run -1 ms-sample train -o "$d/m.ms" --resume --steps 8 $T < "$d/mixed.ms"
	[[ "$output" == *"the model is grey"* ]]
}

@test "several condition records; missing ones: error naming the sample, or --cond-optional" {
	local d=$BATS_FILE_TMPDIR t=$BATS_TEST_TMPDIR
	ms-sample train -o "$t/c.ms" --steps 2 --cond edges,mask $T < "$d/in.ms" 2>/dev/null
	run ms-info "$t/c.ms"
	[[ "${lines[0]}" == *" in=3 out=1 "*"cond=edges,mask cond_optional=0"* ]]
	run -1 ms-sample train -o "$t/c2.ms" --cond edges,band $T < "$d/in.ms"
	[[ "$output" == *"sample 'benign_1': no 'band' record"*--cond-optional* ]]
	ms-sample train -o "$t/c3.ms" --steps 2 --cond edges,band --cond-optional $T \
		< "$d/in.ms" 2>/dev/null
	run ms-info "$t/c3.ms"
	[[ "${lines[0]}" == *" in=4 out=1 "*"cond=edges,band cond_optional=1"* ]]
	# sampling needs all the condition records: here none has band
	ms-sample -m "$t/c3.ms" -n 1 --steps 2 < "$d/in.ms" > "$t/o.ms"
	cmp "$d/in.ms" "$t/o.ms"
}

@test "images of different sizes: error suggesting --size; --size resizes" {
	local d=$BATS_FILE_TMPDIR t=$BATS_TEST_TMPDIR
	ms-import --size 20x20 "$d/rgb" | ms-edges > "$t/20.ms"
	run -1 bash -c "cat '$d/in.ms' '$t/20.ms' | ms-sample train -o '$t/x.ms' $T"
	[[ "$output" == *"is 20x20, the first was 16x16"*"--size"* ]]
	run -0 bash -c "cat '$d/in.ms' '$t/20.ms' | ms-sample train -o '$t/x.ms' --size 8x8 --steps 2 $T"
	run ms-info "$t/x.ms"
	[[ "${lines[0]}" == *size=8x8* ]]
	ms-import --size 18x18 "$d/rgb" | ms-edges > "$t/18.ms"
	run -1 ms-sample train -o "$t/y.ms" $T < "$t/18.ms"
	[[ "$output" == *"multiples of 4"* ]]
	[ ! -e "$t/y.ms" ]
}

@test "guidance 1 and 0 use one branch; other prompts give other images" {
	local d=$BATS_FILE_TMPDIR t=$BATS_TEST_TMPDIR
	ms-sample -m "$d/m.ms" -n 1 --steps 3 --guidance 1 < "$d/in.ms" > "$t/g1.ms"
	ms-sample -m "$d/m.ms" -n 1 --steps 3 --guidance 1 --prompt "colonoscopy polyp" \
		< "$d/in.ms" > "$t/g2.ms"
	! cmp -s "$t/g1.ms" "$t/g2.ms"
	run bash -c "ms-info '$t/g2.ms' | grep -c 'prompt=colonoscopy polyp seed'"
	[ "$output" -eq 3 ]
	ms-sample -m "$d/m.ms" -n 1 --steps 3 --guidance 0 < "$d/in.ms" > "$t/g0.ms"
	ms-sample -m "$d/m.ms" -n 1 --steps 3 --guidance 0 --prompt other < "$d/in.ms" > "$t/g3.ms"
	cmp <(ms-info "$t/g0.ms" | cut -f1-7) <(ms-info "$t/g3.ms" | cut -f1-7)
}

@test "pipes into ms-export --montage" {
	local d=$BATS_FILE_TMPDIR t=$BATS_TEST_TMPDIR
	run -0 bash -c "ms-sample -m '$d/m.ms' -n 2 --steps 2 < '$d/in.ms' | ms-export --no-labels --montage '$t/sheet.png'"
	[ -s "$t/sheet.png" ]
	# 9 rows (3 real, 6 synthetic samples) of 16-pixel cells and their gaps
	run $PY -c "import cv2, sys; print(cv2.imread(sys.argv[1]).shape[0])" "$t/sheet.png"
	[ "$output" -ge 144 ] && [ "$output" -lt 176 ]
}

@test "the man page's EXAMPLES run (at 16x16, 2 steps) and do what they say" {
	local t=$BATS_TEST_TMPDIR
	ln -s "$BATS_TEST_DIRNAME/../pipelines" "$t/pipelines"
	awk '/^\.Sh /{e=($2=="EXAMPLES")} e&&/^\.Ed/{b=0} e&&b{print} e&&/^\.Bd -literal/{b=1}' \
		"$BATS_TEST_DIRNAME/../man/ms-sample.1" |
		sed -e 's/\\e/\\/g' -e 's/32x32/16x16/g' -e 's/--steps 20/--steps 2/g' \
		    -e 's/--steps 40/--steps 4/' -e 's/--save-every 10/--save-every 1/' > "$t/ex.sh"
	grep -q 'ms-sample train' "$t/ex.sh"
	grep -q 'ms-sample -m gen.ms -n 2 |' "$t/ex.sh"
	grep -q 'ms-segment train' "$t/ex.sh"
	grep -q 'ms-export --montage' "$t/ex.sh"
	cd "$t"
	run --separate-stderr env MS_THREADS=1 bash -e -o pipefail ex.sh
	[ "$status" -eq 0 ]
	# the chain: ms-segment links the 12 synthetic samples to the 6 real ones
	[[ "$stderr" == *"ms-segment: 6 real samples"*"12 synthetic used (0 without"* ]]
	[[ "${lines[0]}" == *kind=sample*size=16x16*step=2* ]]
	# -n 1 sampling: image, mask and edges of 6 synthetic samples, all with the prompt
	[ "$(grep -c 'of=' <<<"$output")" -eq 18 ]
	[ "$(grep -c 'synthetic=1 prompt=breast seed=0' <<<"$output")" -eq 6 ]
	# the mask-aware model: only the 3 labelled samples are followed by synthetic ones
	[ "${lines[-1]}" = 3 ]
	# pairs: 3 inpainted per image, trained on with their own masks
	[[ "$stderr" == *"18 synthetic used"*"synthetic extra (18 pairs with masks of their own)"* ]]
	[[ "$(ms-info joint.ms | head -1)" == *" in=2 out=2 "*cond=none*joint=1* ]]
	run ms-info gen.ms
	[[ "${lines[0]}" == *step=4\ adam_t=4* ]]
	[[ "$(ms-info gen2.ms | head -1)" == *" in=4 "*cond=soft,mask\ cond_optional=1* ]]
	[ -s seg.ms ]
	# 18 rows (6 real samples, 12 synthetic) of 16-pixel cells and their gaps
	run /usr/bin/python3 -c "import cv2, sys; print(cv2.imread(sys.argv[1]).shape[0])" sheet.png
	[ "$output" -ge 288 ] && [ "$output" -lt 360 ]
}

@test "non-finite values in training images or conditions are an error naming sample and record" {
	local d=$BATS_FILE_TMPDIR t=$BATS_TEST_TMPDIR
	# set $1 of sample benign_2 to $2 at [0,3,4]
	poke() {
		$PY -c '
import sys; sys.path.insert(0, sys.argv[1])
from msstream import read, write
for n, m, a in read(sys.stdin.buffer):
    if n == sys.argv[2] and m.get("id") == "benign_2":
        a = a.copy(); a[0, 3, 4] = float(sys.argv[3])
    write(sys.stdout.buffer, n, m, a)' "$REF" "$1" "$2" < "$d/in.ms"
	}
	poke image nan > "$t/bad.ms"
	run -1 ms-sample train -o "$t/m.ms" --steps 2 $T < "$t/bad.ms"
	[ "$output" = "ms-sample: sample 'benign_2', record 'image': non-finite value nan at [0,3,4]" ]
	[ ! -e "$t/m.ms" ]
	poke edges inf > "$t/bad.ms"
	run -1 ms-sample train -o "$t/m.ms" --steps 2 $T < "$t/bad.ms"
	[ "$output" = "ms-sample: sample 'benign_2', record 'edges': non-finite value inf at [0,3,4]" ]
	run -1 bash -c 'ms-sample -m "$1" -n 1 < "$2" > /dev/null' _ "$d/m.ms" "$t/bad.ms"
	[ "$output" = "ms-sample: sample 'benign_2', record 'edges': non-finite value inf at [0,3,4]" ]
}
