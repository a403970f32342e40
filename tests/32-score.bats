#!/usr/bin/env bats
# ms-score: options, bad input, output format, and every metric against independent
# references (scipy EDT, skimage SSIM/PSNR, a numpy MS-SSIM) on the masks and images of
# tests/data.

load helpers

DATA=$BATS_TEST_DIRNAME/data

# write a stream from Python lines using w(name, id, array, **meta)
mk() {
	$PY - "$1" "$2" <<'PY'
import sys; sys.path.insert(0, "tests/ref")
import numpy as np, msstream
f = open(sys.argv[1], "wb")
def w(name, sid, a, **meta):
    msstream.write(f, name, {"id": sid, **meta} if sid is not None else meta, np.asarray(a))
exec(sys.argv[2])
PY
}

# ref_agrees KIND STREAM TABLE [ARGS]: score_ref.py KIND finds in TABLE, ms-score's table
# of STREAM, its own numbers (and prints what it compared)
ref_agrees() {
	run $PY "$REF/score_ref.py" "$@"
	echo "$output"
	[ "$status" -eq 0 ]
}

# two 8x8 squares: pred shifted 2 columns right of mask
SQ='m = np.zeros((1, 16, 16), np.uint8); m[0, 4:12, 2:10] = 1
p = np.roll(m, 2, 2)'

@test "ms-score --help prints usage and exits 0" {
	help_ok ms-score -- 'usage: ms-score *' '*--diversity NAME*'
}

@test "ms-score usage errors exit 2" {
	for args in "--bogus" "--images image" "--images a,b --diversity c" "--images a,b -t 0.3" \
		"--diversity a --pred p" "-d 20" "-t abc" "--pred bad/name" "--images a,b,c" "--images a,a"; do
		run ms-score $args < /dev/null
		[ "$status" -eq 2 ] || { echo "args: $args -> $status"; false; }
		[[ "$output" == *"usage: ms-score "* ]]
	done
	run -2 ms-score --pred bad/name < /dev/null
	[[ "${lines[0]}" == "ms-score: --pred: 'bad/name' is not a valid record name" ]]
	run -2 ms-score --diversity a --images b,c < /dev/null
	[[ "${lines[0]}" == "ms-score: --images: excludes --diversity" ]]
}

@test "ms-score rejects a bad stream with exit 1 and a message" {
	run bash -c 'echo "not a stream at all, not a stream at all, not a stream" | ms-score'
	[ "$status" -eq 1 ]
	[[ "$output" == "ms-score: <stdin>: bad magic"* ]]
	mk "$BATS_TEST_TMPDIR/s.ms" "$SQ
w('mask', 'a', m); w('pred', 'a', p)"
	head -c 100 "$BATS_TEST_TMPDIR/s.ms" > "$BATS_TEST_TMPDIR/t.ms"
	run ms-score "$BATS_TEST_TMPDIR/t.ms"
	[ "$status" -eq 1 ]
	[[ "$output" == *"ms-score: $BATS_TEST_TMPDIR/t.ms: truncated"* ]]
	run ms-score "$BATS_TEST_TMPDIR/missing.ms"
	[ "$status" -eq 1 ]
	[[ "$output" == "ms-score: cannot open $BATS_TEST_TMPDIR/missing.ms: No such file"* ]]
}

@test "ms-score exits 1 when no sample can be scored" {
	run bash -c 'ms-score < /dev/null'
	[ "$status" -eq 1 ]
	[ "$output" = "ms-score: no sample in the input" ]
	mk "$BATS_TEST_TMPDIR/s.ms" "$SQ
w('image', 'a', m.astype(np.float32)); w('mask', 'b', m); w('pred', 'c', p)
w('mask', 'd', m); w('pred', 'd', np.zeros((1, 4, 4), np.uint8))"
	run ms-score "$BATS_TEST_TMPDIR/s.ms"
	[ "$status" -eq 1 ]
	lines_are <<-'EOF'
	ms-score: sample a: no 'mask' record, skipped
	ms-score: sample b: no 'pred' or 'prob' record, skipped
	ms-score: sample c: no 'mask' record, skipped
	ms-score: sample d: 'pred' is 4x4 but 'mask' is 16x16, skipped
	ms-score: 4 of 4 samples skipped
	ms-score: no sample could be scored
	EOF
	run ms-score --images image,synth "$BATS_TEST_TMPDIR/s.ms"
	[ "$status" -eq 1 ]
	[ "${lines[0]}" = "ms-score: sample a: no 'synth' record, skipped" ]
	mk "$BATS_TEST_TMPDIR/small.ms" "
w('image', 'a', np.zeros((1, 10, 40), np.float32)); w('synth', 'a', np.ones((1, 10, 40), np.float32))
w('image', 'b', np.zeros((1, 20, 20), np.float32)); w('synth', 'b', np.ones((3, 20, 20), np.float32))"
	run ms-score --images image,synth "$BATS_TEST_TMPDIR/small.ms"
	[ "$status" -eq 1 ]
	[ "${lines[0]}" = "ms-score: sample a: images are smaller than 11x11, skipped" ]
	[ "${lines[1]}" = "ms-score: sample b: 'image' and 'synth' differ in shape, skipped" ]
	run ms-score --diversity image "$BATS_TEST_TMPDIR/s.ms"
	[ "$status" -eq 1 ]
	[ "$output" = "ms-score: fewer than 2 'image' images: no pair to compare" ]
}

@test "ms-score table: header, a row per sample in order, summary rows" {
	mk "$BATS_TEST_TMPDIR/s.ms" "$SQ
for i in range(5):
    w('image', f's{i}', np.zeros((3, 16, 16), np.float32))
    w('mask', f's{i}', m); w('pred', f's{i}', np.roll(p, i, 1))
w('mask', 's5', m)"
	run bash -c "ms-score '$BATS_TEST_TMPDIR/s.ms' 2>'$BATS_TEST_TMPDIR/err'"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 10 ]
	[ "${lines[0]}" = "$(printf 'id\tdice\tiou\tprecision\trecall\tspecificity\taccuracy\thd95\tassd')" ]
	[ "$(printf '%s\n' "${lines[@]}" | cut -f1 | tr '\n' ' ')" = "id s0 s1 s2 s3 s4 mean std median n " ]
	# s0: 8x8 squares 2 columns apart: 48 of 64 shared
	[ "${lines[1]}" = "$(printf 's0\t0.750000\t0.600000\t0.750000\t0.750000\t0.916667\t0.875000\t2.000000\t1.000000')" ]
	[ "$(printf '%s\n' "${lines[@]}" | awk -F'\t' '$1 == "n" { print $2, $8 }')" = "5 5" ]
	[ "$(cat "$BATS_TEST_TMPDIR/err")" = "$(printf 'ms-score: sample s5: no %s or %s record, skipped\nms-score: 1 of 6 samples skipped' "'pred'" "'prob'")" ]
	# the summary agrees with awk over the rows
	mean=$(printf '%s\n' "${lines[@]:1:5}" | awk -F'\t' '{ s += $2 } END { printf "%.6f", s / NR }')
	[ "$(printf '%s\n' "${lines[@]}" | awk -F'\t' '$1 == "mean" { print $2 }')" = "$mean" ]
}

@test "ms-score empty-mask rules: both empty, one empty, nan excluded from the summary" {
	mk "$BATS_TEST_TMPDIR/s.ms" "$SQ
z = np.zeros_like(m)
w('mask', 'both', z); w('pred', 'both', z)
w('mask', 'refempty', z); w('pred', 'refempty', p)
w('mask', 'predempty', m); w('pred', 'predempty', z)
w('mask', 'ok', m); w('pred', 'ok', p)"
	run ms-score -d 4 "$BATS_TEST_TMPDIR/s.ms"
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "$(printf 'both\t1.0000\t1.0000\t1.0000\t1.0000\t1.0000\t1.0000\t0.0000\t0.0000')" ]
	[ "${lines[2]}" = "$(printf 'refempty\t0.0000\t0.0000\t0.0000\t0.0000\t0.7500\t0.7500\tnan\tnan')" ]
	[ "${lines[3]}" = "$(printf 'predempty\t0.0000\t0.0000\t0.0000\t0.0000\t1.0000\t0.7500\tnan\tnan')" ]
	[ "${lines[5]}" = "$(printf 'mean\t0.4375\t0.4000\t0.4375\t0.4375\t0.9167\t0.8438\t1.0000\t0.5000')" ]
	[ "${lines[8]}" = "$(printf 'n\t4\t4\t4\t4\t4\t4\t2\t2')" ]
}

@test "ms-score --json is valid JSON with the same numbers, nan as null" {
	mk "$BATS_TEST_TMPDIR/s.ms" "$SQ
w('mask', 'a', m); w('pred', 'a', p)
w('mask', 'tab\there \"q\"', m); w('pred', 'tab\there \"q\"', np.zeros_like(m))"
	ms-score "$BATS_TEST_TMPDIR/s.ms" > "$BATS_TEST_TMPDIR/t.tsv"
	ms-score --json "$BATS_TEST_TMPDIR/s.ms" > "$BATS_TEST_TMPDIR/j.json"
	run $PY - "$BATS_TEST_TMPDIR/j.json" "$BATS_TEST_TMPDIR/t.tsv" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
rows = [l.split("\t") for l in open(sys.argv[2]).read().splitlines()]
assert j["mode"] == "masks" and j["scored"] == 2 and j["skipped"] == 0, j
assert [s["id"] for s in j["samples"]] == ["a", 'tab\there "q"']
assert rows[2][0] == 'tab here "q"'
for s, r in zip(j["samples"], rows[1:]):
    for k, v in zip(rows[0][1:], r[1:]):
        assert (s[k] is None and v == "nan") or abs(s[k] - float(v)) < 1e-6, (k, s[k], v)
assert j["summary"]["n"]["hd95"] == 1 and j["summary"]["n"]["dice"] == 2
assert abs(j["summary"]["mean"]["dice"] - 0.375) < 1e-9
print("ok")
PY
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
	# identical images: PSNR inf in TSV (and in the mean), null in JSON
	mk "$BATS_TEST_TMPDIR/i.ms" "
x = np.linspace(0, 1, 3 * 40 * 40, dtype=np.float32).reshape(3, 40, 40)
w('image', 'a', x); w('synth', 'a', x); w('image', 'b', x); w('synth', 'b', x * 0.9)"
	run ms-score -d 3 --images image,synth "$BATS_TEST_TMPDIR/i.ms"
	[ "${lines[1]}" = "$(printf 'a\tinf\t1.000\t1.000')" ]
	[[ "${lines[3]}" == "$(printf 'mean\tinf\t')"* ]]
	run bash -c "ms-score --json --images image,synth '$BATS_TEST_TMPDIR/i.ms' | $PY -c 'import json,sys; j = json.load(sys.stdin); print(j[\"samples\"][0][\"psnr\"], j[\"summary\"][\"mean\"][\"psnr\"], j[\"mode\"])'"
	[ "$output" = "None None images" ]
	run bash -c "ms-score --json --images image,synth < /dev/null"
	[ "$status" -eq 1 ]
	[ -z "$(ms-score --json --images a,b < /dev/null 2>/dev/null)" ]
}

@test "ms-score thresholds prob at >= T, prefers pred, honours --pred/--ref" {
	mk "$BATS_TEST_TMPDIR/s.ms" "
pr = np.array([[[0.2, 0.5, 0.7, 0.49]]], np.float32)
w('mask', 'a', np.array([[[0, 1, 1, 1]]], np.uint8)); w('prob', 'a', pr)
w('mask', 'b', np.array([[[0, 1, 1, 1]]], np.uint8)); w('prob', 'b', pr); w('pred', 'b', np.array([[[1, 1, 1, 1]]], np.uint8))"
	run ms-score -d 4 "$BATS_TEST_TMPDIR/s.ms"
	# a: pred 0110 vs mask 0111; boundary distances 0,0 and 0,0,1: HD95 0.8, ASSD 0.2
	[ "${lines[1]}" = "$(printf 'a\t0.8000\t0.6667\t1.0000\t0.6667\t1.0000\t0.7500\t0.8000\t0.2000')" ]
	[[ "${lines[2]}" == "$(printf 'b\t0.8571\t0.7500\t0.7500\t1.0000\t0.0000\t0.7500\t')"* ]]
	run ms-score -d 4 -t 0.2 "$BATS_TEST_TMPDIR/s.ms"
	[[ "${lines[1]}" == "$(printf 'a\t0.8571\t0.7500\t0.7500\t1.0000\t')"* ]]
	run ms-score -d 4 -t 0.6 --pred prob "$BATS_TEST_TMPDIR/s.ms"
	[[ "${lines[2]}" == "$(printf 'b\t0.5000\t0.3333\t1.0000\t0.3333\t')"* ]]
	run bash -c "ms-score -d 4 --pred pred --ref prob '$BATS_TEST_TMPDIR/s.ms' 2>/dev/null"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 6 ]
	[[ "${lines[1]}" == "$(printf 'b\t0.6667\t0.5000\t0.5000\t1.0000\t')"* ]]
}

@test "ms-score spacing= scales HD95 and ASSD (rows sy, columns sx)" {
	# full-height bars 2 columns apart: every nearest boundary pixel is in the same row;
	# pooled distances 32 x 2, 28 x 1, 12 x 0: HD95 2, ASSD 96 / 72
	mk "$BATS_TEST_TMPDIR/s.ms" "
m = np.zeros((1, 16, 16), np.uint8); m[0, :, 2:6] = 1
p = np.roll(m, 2, 2)
w('mask', 'a', m); w('pred', 'a', p)
w('mask', 'b', m, spacing='3,0.5'); w('pred', 'b', p)
w('mask', 'c', m); w('pred', 'c', p, spacing='3,0.5')
w('mask', 'd', m, spacing='0,1'); w('pred', 'd', p)
w('mask', 'e', m, spacing='1,2,3'); w('pred', 'e', p)
w('mask', 'f', m, spacing='2'); w('pred', 'f', p)"
	run bash -c "ms-score '$BATS_TEST_TMPDIR/s.ms' 2>'$BATS_TEST_TMPDIR/err'"
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "${lines[@]:1:3}" | cut -f1,8,9 | tr '\t\n' ' ')" = "a 2.000000 1.333333 b 1.000000 0.666667 c 1.000000 0.666667 " ]
	grep -q "sample d: bad spacing= metadata (want sy,sx > 0), skipped" "$BATS_TEST_TMPDIR/err"
	grep -q "sample e: bad spacing= metadata (want sy,sx > 0), skipped" "$BATS_TEST_TMPDIR/err"
	[ "$(printf '%s\n' "${lines[4]}" | cut -f1,8,9 | tr '\t' ' ')" = "f 4.000000 2.666667" ]
}

@test "ms-score masks agree with scipy EDT and exact counts on busi and rgb" {
	$PY "$REF/score_make.py" masks "$BATS_TEST_TMPDIR/m.ms"
	ms-score -d 12 "$BATS_TEST_TMPDIR/m.ms" > "$BATS_TEST_TMPDIR/m.tsv"
	ref_agrees masks "$BATS_TEST_TMPDIR/m.ms" "$BATS_TEST_TMPDIR/m.tsv"
	[[ "$output" == *"hd95	samples"*"n=68"* ]]
	ms-score -d 12 -t 0.3 "$BATS_TEST_TMPDIR/m.ms" > "$BATS_TEST_TMPDIR/m3.tsv"
	ref_agrees masks "$BATS_TEST_TMPDIR/m.ms" "$BATS_TEST_TMPDIR/m3.tsv" 0.3
}

@test "ms-score masks agree with scipy on random sizes, densities and spacings" {
	$PY "$REF/score_make.py" random "$BATS_TEST_TMPDIR/r.ms"
	ms-score -d 12 "$BATS_TEST_TMPDIR/r.ms" > "$BATS_TEST_TMPDIR/r.tsv"
	ref_agrees masks "$BATS_TEST_TMPDIR/r.ms" "$BATS_TEST_TMPDIR/r.tsv"
	[[ "$output" == *"assd	samples"*"n=300"* ]]
	# the comparison can fail: a perturbed table is caught
	awk -F'\t' 'BEGIN { OFS = "\t" } NR == 3 { $8 += 0.001 } 1' "$BATS_TEST_TMPDIR/r.tsv" > "$BATS_TEST_TMPDIR/bad.tsv"
	run $PY "$REF/score_ref.py" masks "$BATS_TEST_TMPDIR/r.ms" "$BATS_TEST_TMPDIR/bad.tsv"
	[ "$status" -eq 1 ]
	[[ "$output" == *"hd95	samples	max_abs_diff=0.00"* ]]
}

@test "ms-score --images agrees with skimage PSNR/SSIM and a numpy MS-SSIM" {
	$PY "$REF/score_make.py" images "$BATS_TEST_TMPDIR/i.ms"
	ms-score -d 12 --images image,synth "$BATS_TEST_TMPDIR/i.ms" > "$BATS_TEST_TMPDIR/i.tsv"
	ref_agrees images "$BATS_TEST_TMPDIR/i.ms" "$BATS_TEST_TMPDIR/i.tsv" image synth
	[[ "$output" == *"ssim	samples"*"n=40"* ]]
}

@test "ms-score --diversity agrees with the numpy MS-SSIM over all pairs" {
	$PY "$REF/score_make.py" diversity "$BATS_TEST_TMPDIR/d.ms"
	run ms-score -d 12 --diversity synth "$BATS_TEST_TMPDIR/d.ms"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$(printf 'name\timages\tpairs\tscales\tmean\tstd\tmedian')" ]
	[[ "${lines[1]}" == "$(printf 'synth\t8\t28\t3\t')"* ]]
	printf '%s\n' "${lines[@]}" > "$BATS_TEST_TMPDIR/d.tsv"
	ref_agrees diversity "$BATS_TEST_TMPDIR/d.ms" "$BATS_TEST_TMPDIR/d.tsv" synth
	run bash -c "ms-score --json --diversity synth '$BATS_TEST_TMPDIR/d.ms' | $PY -c 'import json,sys; j = json.load(sys.stdin); print(j[\"pairs\"], j[\"scales\"])'"
	[ "$output" = "28 3" ]
}

@test "ms-score(1) EXAMPLES on saved streams run" {
	mk "$BATS_TEST_TMPDIR/preds.ms" "$SQ
for i in range(7):
    w('mask', f's{i}', m); w('prob', f's{i}', np.roll(m, i, 2).astype(np.float32) * 0.6)"
	mk "$BATS_TEST_TMPDIR/samples.ms" "
rng = np.random.default_rng(0)
for i in range(3):
    x = rng.random((3, 48, 48), np.float32)
    w('image', str(i), x); w('synth', str(i), np.clip(x + 0.1 * rng.standard_normal(x.shape, np.float32), 0, 1))"
	sed -n '/^\.Sh EXAMPLES/,/^\.Sh SEE ALSO/p' "$BATS_TEST_DIRNAME/../man/ms-score.1" |
		grep '^ms-score ' | sed 's/\\e/\\/g' > "$BATS_TEST_TMPDIR/ex.sh"
	[ "$(wc -l < "$BATS_TEST_TMPDIR/ex.sh")" -eq 4 ]
	cd "$BATS_TEST_TMPDIR"
	run bash -e ex.sh
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq $((5 + 8 + 2)) ]
	[ "$(printf '%s\n' "${lines[@]:0:5}" | cut -f1 | tr '\n' ' ')" = "s6 s5 s4 s3 s2 " ]
	[ "$($PY -c 'import json; print(json.load(open("scores.json"))["scored"])')" = 7 ]
	[[ "${lines[14]}" == "$(printf 'synth\t3\t3\t3\t')"* ]]
}

@test "ms-score at the end of a pipeline of real tools (ms-import, ms-pick)" {
	mkdir "$BATS_TEST_TMPDIR/m"
	for s in benign_1 benign_100 malignant_115; do ln -s "$DATA/busi/masks/$s.png" "$BATS_TEST_TMPDIR/m/"; done
	# the masks as images too: prob = the mask as f32, so every score is perfect
	run bash -c "ms-import -m '$BATS_TEST_TMPDIR/m' '$BATS_TEST_TMPDIR/m' | ms-pick -r image=prob | ms-score -d 3"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 8 ]
	[ "${lines[4]}" = "$(printf 'mean\t1.000\t1.000\t1.000\t1.000\t1.000\t1.000\t0.000\t0.000')" ]
}

@test "ms-score --pred A,B: usage errors" {
	for args in "--pred a,a" "--pred a," "--pred ,a" "--pred a,mask" "--pred a,b --ref a" \
		"--pred a,b --images c,d" "--pred a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q" "--pred a,b/c"; do
		run ms-score $args < /dev/null
		[ "$status" -eq 2 ] || { echo "args: $args -> $status"; false; }
		[[ "$output" == *"usage: ms-score "* ]]
	done
	run -2 ms-score --pred a,b --ref a < /dev/null
	[[ "${lines[0]}" == "ms-score: --pred: 'a' is also the reference" ]]
	run -1 ms-score --pred a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p < /dev/null
}

@test "ms-score --pred A,B,C: one table, each part equal to the single --pred table" {
	mk "$BATS_TEST_TMPDIR/s.ms" "$SQ
for i in range(4):
    w('mask', f's{i}', m); w('pa', f's{i}', np.roll(p, i, 1)); w('pb', f's{i}', np.roll(m, -i, 2))
    w('pc', f's{i}', np.roll(m, i, 1).astype(np.float32) * 0.7)
w('mask', 'nob', m); w('pa', 'nob', m); w('pc', 'nob', m)
w('pa', 'noref', m); w('pb', 'noref', m)"
	cd "$BATS_TEST_TMPDIR"
	run bash -c "ms-score -d 4 --pred pa,pb,pc s.ms 2>err"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq $((1 + 4 * 3 + 2 + 3 * 4)) ]
	[ "${lines[0]}" = "$(printf 'pred\tid\tdice\tiou\tprecision\trecall\tspecificity\taccuracy\thd95\tassd')" ]
	[ "$(printf '%s\n' "${lines[@]:1:4}" | cut -f1,2 | tr '\t\n' ' ')" = "pa s0 pb s0 pc s0 pa s1 " ]
	[ "$(printf '%s\n' "${lines[@]:13:2}" | cut -f1,2 | tr '\t\n' ' ')" = "pa nob pc nob " ]
	[ "$(printf '%s\n' "${lines[@]:15}" | cut -f1,2 | tr '\t\n' ' ')" = \
		"pa mean pa std pa median pa n pb mean pb std pb median pb n pc mean pc std pc median pc n " ]
	[ "$(cat err)" = "$(printf '%s\n' "ms-score: sample nob: no 'pb' record, skipped" \
		"ms-score: sample noref: no 'mask' record, skipped" \
		"ms-score: 4 of 18 scores skipped (6 samples x 3 predictions)")" ]
	# the rows of each prediction, name column cut, are its own single --pred table
	for k in pa pb pc; do
		ms-score -d 4 --pred $k s.ms 2>/dev/null | tail -n +2 > single
		printf '%s\n' "${lines[@]}" | awk -F'\t' -v k=$k '$1 == k' | cut -f2- > part
		diff single part
		[ "$(wc -l < part)" -eq $([ $k = pb ] && echo 8 || echo 9) ]
	done
	# JSON: the same numbers, a summary per prediction
	ms-score -d 4 --pred pa,pb,pc s.ms > t.tsv 2>/dev/null
	ms-score --json --pred pa,pb,pc s.ms > j.json 2>/dev/null
	run $PY - <<'PY'
import json
j = json.load(open("j.json"))
rows = [l.split("\t") for l in open("t.tsv").read().splitlines()]
assert j["mode"] == "masks" and j["preds"] == ["pa", "pb", "pc"], j["preds"]
assert j["scored"] == 14 and j["skipped"] == 4, (j["scored"], j["skipped"])
assert [(s["pred"], s["id"]) for s in j["samples"]] == [(r[0], r[1]) for r in rows[1:15]]
for s, r in zip(j["samples"], rows[1:15]):
    for k, v in zip(rows[0][2:], r[2:]):
        assert (s[k] is None and v == "nan") or abs(s[k] - float(v)) < 1e-4, (k, s[k], v)
assert list(j["summary"]) == ["pa", "pb", "pc"]
for r in rows[15:]:
    for k, v in zip(rows[0][2:], r[2:]):
        got = j["summary"][r[0]][r[1]][k]
        assert (got is None and v == "nan") or abs(got - float(v)) < 1e-4, (r[0], r[1], k)
print("ok")
PY
	[ "$output" = ok ]
	# no prediction scored anywhere: exit 1
	run -1 ms-score --pred px,py s.ms
	[ "${lines[-1]}" = "ms-score: no sample could be scored" ]
}

@test "ms-score(1) example: two segmentors in one table" {
	cd "$BATS_TEST_TMPDIR"
	mkdir img
	for s in benign_1 benign_100 malignant_115; do ln -s "$DATA/busi/images/$s.png" img/; done
	ms-import -s 16x16 -m "$DATA/busi/masks" img > test.ms
	ms-segment train -o base.model --steps 2 --width 8 --batch 2 --threads 1 < test.ms 2>/dev/null
	ms-segment train -o aug.model --steps 3 --width 8 --batch 2 --threads 1 < test.ms 2>/dev/null
	sed -n '/^Compare two segmentors/,/^\.Ed$/p' "$BATS_TEST_DIRNAME/../man/ms-score.1" |
		grep -v '^\.' | sed '1,3d;s/\\e/\\/g' > ex.sh
	[ "$(wc -l < ex.sh)" -eq 3 ]
	run bash -e ex.sh
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[0]}" == "pred_base 0."* ]] && [[ "${lines[1]}" == "pred 0."* ]]
	[ "$(wc -l < both.tsv)" -eq $((1 + 6 + 8)) ]
	# the first column is the only difference from scoring each on its own
	ms-segment -m base.model < test.ms | ms-score -d 3 | tail -n +2 > single
	awk -F'\t' '$1 == "pred_base"' both.tsv | cut -f2- | diff single -
	# the next example: the paired Dice difference, its interval, p and n
	sed -n '/^Is the second one better/,/^\.Ed$/p' "$BATS_TEST_DIRNAME/../man/ms-score.1" |
		grep -v '^\.' | sed '1,2d;s/\\e/\\/g' > ex2.sh
	[ "$(wc -l < ex2.sh)" -eq 3 ]
	run bash -e ex2.sh
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "${lines[@]}" | cut -d' ' -f1 | tr '\n' ' ')" = "diff diff_lo95 diff_hi95 diff_p diff_n " ]
	[ "${lines[4]}" = "diff_n 3" ]
}

@test "ms-score --paired: each prediction against the first, as scipy's ttest_rel and wilcoxon" {
	mk "$BATS_TEST_TMPDIR/s.ms" "rng = np.random.default_rng(3)
for i in range(30):
    m = np.zeros((1, 24, 24), np.uint8); y, x = rng.integers(4, 12, 2); m[0, y:y+8, x:x+9] = 1
    w('mask', f's{i}', m)
    w('pa', f's{i}', np.roll(m, int(rng.integers(-3, 4)), 2))
    w('pb', f's{i}', np.roll(m, int(rng.integers(-2, 3)), 1))
    if i != 7: w('pc', f's{i}', (rng.random((1, 24, 24)) < 0.2).astype(np.uint8) | m)"
	cd "$BATS_TEST_TMPDIR"
	run -2 ms-score --paired < s.ms
	[[ "${lines[0]}" == "ms-score: --paired needs --pred A,B[,...]" ]]
	run -2 ms-score --paired --pred pa < s.ms
	ms-score -d 8 --pred pa,pb,pc s.ms > all.tsv 2>/dev/null
	ms-score -d 8 --pred pa,pb,pc --paired s.ms > paired.tsv 2>/dev/null
	ms-score -s -d 8 --pred pa,pb,pc --paired s.ms > summary.tsv 2>/dev/null
	ms-score -j -s -d 10 --pred pa,pb,pc --paired s.ms > p.json 2>/dev/null
	# --paired adds rows at the end; -s leaves out the rows per sample
	diff all.tsv <(head -n "$(wc -l < all.tsv)" paired.tsv)
	[ "$(wc -l < paired.tsv)" -eq $(($(wc -l < all.tsv) + 2 * 5)) ]
	diff <(head -1 paired.tsv; tail -n $((12 + 10)) paired.tsv) summary.tsv
	[ "$(tail -n 10 summary.tsv | cut -f1,2 | tr '\t\n' ' ')" = "pb diff pb diff_lo95 pb diff_hi95 pb diff_p pb diff_n pc diff pc diff_lo95 pc diff_hi95 pc diff_p pc diff_n " ]
	run $PY - <<'PY'
import json, warnings, numpy as np
warnings.simplefilter("ignore")
from scipy import stats
rows = [l.split("\t") for l in open("paired.tsv").read().splitlines()]
head, rows = rows[0], rows[1:]
per = {}
for r in rows:
    if r[1][0] == "s" and r[1][1:].isdigit():
        per.setdefault(r[0], {})[r[1]] = [float(x) for x in r[2:]]
got = {(r[0], r[1]): [float(x) for x in r[2:]] for r in rows if r[1].startswith("diff")}
j = json.load(open("p.json"))
assert j["samples"] == [] and list(j["paired"]) == ["pb", "pc"], j["paired"].keys()
for b in ("pb", "pc"):
    assert j["paired"][b]["against"] == "pa"
    ids = [i for i in per["pa"] if i in per[b]]
    for c, name in enumerate(head[2:]):
        x = np.array([per["pa"][i][c] for i in ids]); y = np.array([per[b][i][c] for i in ids])
        ok = np.isfinite(x) & np.isfinite(y); d = y[ok] - x[ok]
        lo, hi = stats.ttest_rel(y[ok], x[ok]).confidence_interval(0.95)
        p = stats.wilcoxon(d).pvalue if np.any(d != 0) else 1.0
        want = [d.mean(), lo, hi, p, len(d)]
        for k, key in enumerate(("diff", "diff_lo95", "diff_hi95", "diff_p", "diff_n")):
            g = got[(b, key)][c]
            assert abs(g - want[k]) <= 2e-6 * max(1, abs(want[k])), (b, name, key, g, want[k])
            gj = j["paired"][b][key][name]
            assert abs(gj - want[k]) <= 2e-6 * max(1, abs(want[k])), (b, name, key, gj)
    assert got[(b, "diff_n")][0] == (29 if b == "pc" else 30)
print("ok")
PY
	[ "$output" = ok ]
}

@test "ms-score -j writes ids that are not UTF-8 as U+FFFD, valid UTF-8 as it is" {
	mk "$BATS_TEST_TMPDIR/s.ms" "m = np.zeros((1, 8, 8), np.uint8); m[0, 2:5, 2:6] = 1
for sid in ('P1____', 'P2________', 'P3__________'):
    w('mask', sid, m); w('pred', sid, m)"
	cd "$BATS_TEST_TMPDIR"
	run $PY - <<'PY'
import json, subprocess
raw = [b'x\xff\xfe"\\y', 'gr\u00fc\u00df-\u6f22'.encode(),
       b'\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80z\xe2\x82']
s = open("s.ms", "rb").read()
for k, r in enumerate(raw):
    ph = f"P{k + 1}".encode().ljust(len(r), b"_")   # placeholders of the same length
    assert s.count(ph) == 2, ph
    s = s.replace(ph, r)
open("s.ms", "wb").write(s)
out = subprocess.run(["ms-score", "-j", "s.ms"], capture_output=True, check=True).stdout
ids = [x["id"] for x in json.loads(out.decode("utf-8"))["samples"]]
assert ids == ['x\ufffd\ufffd"\\y', 'gr\u00fc\u00df-\u6f22', '\ufffd' * 9 + 'z' + '\ufffd' * 2], ids
print("ok")
PY
	[ "$output" = ok ]
}
