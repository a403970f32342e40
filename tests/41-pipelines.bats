#!/usr/bin/env bats
# The shipped pipelines (pipelines/*.yaml) run as shipped, at tiny scale through --set
# (16x16 images, U-Nets of width 8, a few steps, the six bundled pairs), give the same bytes
# as their --dry-run pasted into sh, and the demo runs with the shipped models.
load helpers
ROOT="$BATS_TEST_DIRNAME/.."
export MS_THREADS=1
TINY="--set size=16x16 --set width=8 --set batch=2"

# tiny models by models.yaml, trained on the bundled pairs (all in the test split)
setup_file() {
	cd "$BATS_FILE_TMPDIR"
	ln -s "$ROOT/pipelines" pipelines
	mkdir full tiny
	ms-run $TINY --set ids=pipelines/splits/busi-test.txt --set data=pipelines/data/busi \
		--set seg_steps=2 --set gen_steps=2 --set ref_steps=2 --set ref_val=0.5 --set work=full \
		--set out=tiny pipelines/models.yaml 2>/dev/null
}

setup() {
	cd "$BATS_TEST_TMPDIR"
	ln -s "$ROOT/pipelines" pipelines
	M=$BATS_FILE_TMPDIR/tiny
}

# run pipeline $1 with the other arguments in run/, its dry run pasted into sh in sh/,
# and compare all the files and standard output
same_as_sh() {
	local f=$1
	shift
	mkdir -p run sh
	ln -s "$ROOT/pipelines" run/pipelines && ln -s "$ROOT/pipelines" sh/pipelines
	(cd run && ms-run "$@" "pipelines/$f.yaml" > stdout 2>/dev/null)
	ms-run -n "$@" "pipelines/$f.yaml" > "$f.sh"
	(cd sh && sh "../$f.sh" > stdout 2>/dev/null)
	diff -r run sh
}

@test "every pipeline: header comment saying what it does and how to run it, valid file" {
	for f in "$ROOT"/pipelines/*.yaml; do
		n=$(basename "$f" .yaml)
		[[ "$(head -n 1 "$f")" == "# $n: "* ]] || { echo "$f: no header"; false; }
		grep -q "^name: $n\$" "$f"
		sed -n '/^[^#]/q;p' "$f" | grep -Eq '^#  +(ms-run|make) ' || { echo "$f: no how-to"; false; }
		ms-run -n "$f" > /dev/null
	done
	[ "$(ls "$ROOT"/pipelines/*.yaml | wc -l)" -eq 9 ]
}

@test "models: slim checkpoints without optimiser state that give the same bytes" {
	cd "$BATS_FILE_TMPDIR"
	for m in segment sample refine; do
		[ -s "full/$m.ms" ] && [ -s "tiny/$m.ms" ]
		[ "$(stat -c %s "tiny/$m.ms")" -lt "$(stat -c %s "full/$m.ms")" ]
		! ms-info "tiny/$m.ms" | cut -f2 | grep -Eq '^(adam|ema)\.'
		ms-info "full/$m.ms" | cut -f2 | grep -q '^adam\.m\.'
	done
	[[ "$(ms-info tiny/segment.ms | head -n 1)" == *"width=8"*"size=16x16"* ]]
	ms-info full/sample.ms | cut -f2 | grep -q '^ema\.'
	ms-import -s 16x16 -m pipelines/data/busi/masks pipelines/data/busi/images | ms-edges > in.ms
	# the shipped refiner is the one of the best validation Dice
	for m in full tiny; do
		b=; [ $m = full ] && b=-best
		ms-segment -m $m/segment.ms < in.ms > $m-seg.ms
		ms-refine -m $m/refine$b.ms < $m-seg.ms > $m-ref.ms
		ms-sample -m $m/sample.ms -n 1 --steps 2 < in.ms > $m-gen.ms
	done
	cmp full-seg.ms tiny-seg.ms && cmp full-ref.ms tiny-ref.ms && cmp full-gen.ms tiny-gen.ms
	[ "$(ms-info tiny-gen.ms | grep -c '\.s0	image')" -eq 6 ]
	# a stream that is not a checkpoint
	run -1 sh pipelines/slim.sh < in.ms
	[ "$output" = "slim.sh: not a checkpoint" ]
}

@test "models: deterministic, and the same as its dry run in sh" {
	set -- $TINY --set ids=pipelines/splits/busi-test.txt --set data=pipelines/data/busi \
		--set seg_steps=2 --set gen_steps=2 --set ref_steps=2 --set ref_val=0.5 --set work=full \
		--set out=tiny
	mkdir -p run/full run/tiny sh/full sh/tiny
	same_as_sh models "$@"
	for m in segment sample refine; do cmp "run/tiny/$m.ms" "$BATS_FILE_TMPDIR/tiny/$m.ms"; done
	[ ! -s run/stdout ]
	grep -q '^sh pipelines/slim.sh < full/sample.ms > tiny/sample.ms$' models.sh
}

@test "augment: N synthetic samples per real one, as a stream and an ms-import layout" {
	same_as_sh augment --set size=16x16 --set model="$M/sample.ms" --set n=2 --set steps=2
	cd run
	[ "$(ms-info augment.ms | cut -f1 | uniq | wc -l)" -eq 18 ]
	[ "$(ms-info augment.ms | grep -c 'synthetic=1')" -eq 12 ]
	[ "$(ls augment-images | wc -l)" -eq 18 ] && [ "$(ls augment-masks | wc -l)" -eq 18 ]
	[ -f augment-images/benign_286.s1.png ] && [ -f augment-masks/malignant_36.s0.png ]
	# read back: the same masks, the real ones' and their copies
	ms-import -m augment-masks augment-images | ms-pick -k mask > back.ms
	ms-pick -k mask < augment.ms | ms-info | cut -f1-7 > want
	ms-info back.ms | cut -f1-7 | diff want -
}

@test "refine: segment, refine, one table of prior and refined masks" {
	same_as_sh refine --set size=16x16 --set segmentor="$M/segment.ms" --set refiner="$M/refine.ms"
	cd run
	[ "$(wc -l < stdout)" -eq $((1 + 12 + 8)) ]
	[ "$(head -n 1 stdout | cut -f1-3)" = "$(printf 'pred\tid\tdice')" ]
	[ "$(cut -f1 stdout | sort | uniq -c | awk '{ print $1, $2 }' | tr '\n' ' ')" = "11 pred 10 prior_pred " ]
	ms-info refine.ms | cut -f2 | sort -u | tr '\n' ' ' | grep -qx 'image mask pred prior prior_pred prob uncertainty '
	# the same as the hand-written pipe
	ms-import --size 16x16 --mask-dir pipelines/data/busi/masks pipelines/data/busi/images |
		ms-pick --ids pipelines/splits/busi-test.txt | ms-segment -m "$M/segment.ms" |
		ms-refine -m "$M/refine.ms" --samples 1 --seed 1 | cmp - refine.ms
}

@test "train-augmented, then evaluate: baseline, augmented, refined in one table" {
	ids=pipelines/splits/busi-test.txt
	same_as_sh train-augmented $TINY --set data=pipelines/data/busi --set ids=$ids \
		--set generator="$M/sample.ms" --set sample_steps=2 --set steps=2 --set out=aug.ms
	[ -s run/aug.ms ] && [ ! -s run/stdout ]
	[[ "$(ms-info run/aug.ms | head -n 1)" == *"width=8"*"steps=2"* ]]
	# sampled images and synthetic=1 reach the segmentor: the swap to a dump shows it
	ms-run $TINY --set data=pipelines/data/busi --set ids=$ids --set generator="$M/sample.ms" \
		--set sample_steps=2 --set steps=2 --only import,split,edges,sample \
		pipelines/train-augmented.yaml > aug-in.ms
	[ "$(ms-info aug-in.ms | grep -c 'synthetic=1')" -eq 12 ]
	mv run/aug.ms . && rm -r run sh
	same_as_sh evaluate --set size=16x16 --set data=pipelines/data/busi \
		--set baseline="$M/segment.ms" --set refiner="$M/refine.ms" --set augmented="$PWD/aug.ms"
	cd run
	cmp stdout evaluate.tsv
	[ "$(wc -l < stdout)" -eq $((1 + 18 + 12)) ]
	[ "$(awk -F'\t' '$2 == "mean" { print $1 }' stdout | tr '\n' ' ')" = "pred_base pred_aug pred_refined " ]
	ms-info evaluate.ms | cut -f2 | sort -u | tr '\n' ' ' |
		grep -qx 'image mask pred_aug pred_base pred_refined prob_aug prob_base prob_refined uncertainty '
	# each column is what its model gives on its own
	ms-import --size 16x16 --mask-dir pipelines/data/busi/masks pipelines/data/busi/images |
		ms-segment -m ../aug.ms | ms-score -d 4 | tail -n +2 > aug.tsv
	awk -F'\t' '$1 == "pred_aug"' stdout | cut -f2- | diff aug.tsv -
}

@test "fewlabel: both segmentors on the held-out labelled images, their paired difference" {
	# five of the six bundled images labelled; --holdout 0.4 keeps three of them apart,
	# ids in [0.4, 0.7) validate (benign_286), the rest train (benign_77)
	mkdir masks
	for s in benign_286 benign_62 benign_77 malignant_36 malignant_153; do
		ln -s "$ROOT/pipelines/data/busi/masks/$s.png" masks/
	done
	FL="--set size=16x16 --set width=8 --set gen_width=8 --set gen_steps=2 --set steps=3 --set n=2
		--set sample_steps=2 --set resample=1 --set holdout=0.4 --set val_to=0.7
		--set judge_steps=2"
	same_as_sh fewlabel $FL --set masks="$PWD/masks"
	cd run
	# the summary: a header, mean, median, n of each, the five rows of the difference,
	# then each segmentor's best validation Dice, as its weights record it
	[ "$(wc -l < stdout)" -eq $((1 + 3 * 2 + 5 + 2)) ]
	[ "$(cut -f1,2 stdout | tail -n +2 | tr '\t\n' ': ')" = "real:mean real:median real:n synthetic:mean synthetic:median synthetic:n synthetic:diff synthetic:diff_lo95 synthetic:diff_hi95 synthetic:diff_p synthetic:diff_n real:val_dice synthetic:val_dice " ]
	[ "$(awk -F'\t' '$2 == "diff_n" { print $3 }' stdout)" -eq 3 ]
	grep -v '^real	s\|^synthetic	[^d]' fewlabel.tsv | tail -n 5 | diff - <(head -n 12 stdout | tail -n 5)
	for m in real pairs; do ms-info fewlabel-$m.ms | head -n 1 | grep -o 'val_dice=[0-9.]*' | cut -d= -f2
	done | diff - <(tail -n 2 stdout | cut -f3)
	[ "$(tail -n 2 stdout | cut -f3 | grep -Ecx '[01]\.[0-9]{6}')" -eq 2 ]
	# held out, validation, training: disjoint, by ms-pick --holdout; never trained on
	[ "$(ms-info fewlabel-heldout.ms | cut -f1 | uniq | tr '\n' ' ')" = "benign_62 malignant_153 malignant_36 " ]
	[ "$(ms-info fewlabel-val.ms | cut -f1,2 | tr '\t\n' ': ')" = "benign_286:image benign_286:mask " ]
	[ "$(ms-info fewlabel-labelled.ms | cut -f1,2 | tr '\t\n' ': ')" = "benign_77:image benign_77:mask " ]
	# two pairs of the training image, each with a mask of its own
	[ "$(ms-info fewlabel-synthetic.ms | grep -c 'mask.*of=benign_77.*synthetic=1')" -eq 2 ]
	ms-info fewlabel-heldout.ms | cut -f2 | sort -u | tr '\n' ' ' |
		grep -qx 'image mask prob_real prob_synthetic real synthetic '
	[[ "$(ms-info fewlabel-joint.ms | head -n 1)" == *"joint=1"* ]]
	[[ "$(ms-info fewlabel-real.ms | head -n 1)" == *"steps=3"* ]]
	# the pairs were judged by the short-trained segmentor, not the baseline
	[[ "$(ms-info fewlabel-judge.ms | head -n 1)" == *"steps=2"* ]]
	grep -q -- '--judge fewlabel-judge.ms' ../fewlabel.sh
	# each column is what its segmentor gives on its own
	ms-segment -m fewlabel-pairs.ms < fewlabel-heldout.ms | ms-pick -d pred |
		ms-pick -r synthetic=pred | ms-score -d 4 | tail -n +2 > pairs.tsv
	awk -F'\t' '$1 == "synthetic" && $2 !~ /^diff/' fewlabel.tsv | cut -f2- | diff pairs.tsv -
}

@test "fewlabel: images without masks, or masks without images, stop with a message" {
	mkdir nomasks noimages
	FL="--set size=16x16 --set width=8 --set gen_width=8 --set gen_steps=2 --set steps=2
		--set n=1 --set sample_steps=2 --set judge_steps=2"
	run -1 ms-run $FL --set masks=nomasks pipelines/fewlabel.yaml
	[[ "$output" == *"ms-segment: no samples with image and mask on stdin"* ]]
	[ ! -e fewlabel-joint.ms ] && [ ! -e fewlabel-real.ms ] && [ ! -e fewlabel-judge.ms ]
	run -1 ms-run $FL --set images=noimages --set out=noimages pipelines/fewlabel.yaml
	[[ "$output" == *"ms-import: noimages: no .png, .nii or .nii.gz files"* ]]
	[ -z "$(ls noimages-* 2>/dev/null)" ]
}

@test "demo: as shipped, with the shipped models: a score table and a contact sheet" {
	run bash -c "ms-run pipelines/demo.yaml 2>err"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq $((1 + 12 + 8)) ]
	[ "$(printf '%s\n' "${lines[@]:1:12}" | cut -f2 | uniq | tr '\n' ' ')" = \
		"benign_286 benign_62 benign_77 malignant_153 malignant_203 malignant_36 " ]
	[ "$(printf '%s\n' "${lines[@]}" | awk -F'\t' '$2 == "n" { print $1, $3 }' | tr '\n' ' ')" = "prior_pred 6 pred 6 " ]
	[ "$(ms-info demo.ms | cut -f1 | uniq | wc -l)" -eq 18 ]
	[ "$(ms-info demo.ms | grep -c '	uncertainty	')" -eq 18 ]
	[ "$(/usr/bin/python3 -c 'import cv2; print(cv2.imread("demo.png").shape)')" = "(1201, 628, 3)" ]
}

@test "demo: the same bytes as its dry run in sh" {
	same_as_sh demo --set size=16x16 --set models="$M"
	[ -s run/demo.png ] && [ "$(wc -l < run/stdout)" -eq 21 ]
}

@test "pairs: joint model, inpainted pairs with their own masks, a segmentor on them" {
	same_as_sh pairs $TINY --set gen_steps=2 --set steps=4 --set jump=2 --set seg_steps=2 \
		--set threads=1
	cd run
	[ -s pairs-joint.ms ] && [ -s pairs-seg.ms ]
	[[ "$(ms-info pairs-joint.ms | head -1)" == *joint=1* ]]
	# 6 real samples, 3 pairs each, every pair with its own mask
	[ "$(ms-info pairs.ms | grep -c '\.s[0-2]	mask	.*synthetic=1')" -eq 18 ]
	[ "$(ls pairs-images | wc -l)" -eq 24 ] && [ "$(ls pairs-masks | wc -l)" -eq 24 ]
}

@test "volume: a NIfTI volume in, every slice segmented, a label volume on its grid out" {
	$PY -c 'import nibabel' 2>/dev/null || skip "$PY with nibabel is needed"
	mkdir v
	$PY "$REF/volume_ref.py" make v > /dev/null
	same_as_sh volume --set volume="$PWD/v/oblique.nii.gz" --set model="$M/segment.ms" \
		--set size=16x16 --set intensity=--window=500,3000
	[ ! -s run/stdout ]
	# the source's grid and affine, uint8 labels: what the stages give by hand
	$PY "$REF/volume_ref.py" check v/oblique.nii.gz run/volume-labels/oblique.pred.nii.gz \
		--grid
	ms-import -s 16x16 -w 500,3000 v/oblique.nii.gz | ms-segment -m "$M/segment.ms" |
		ms-export -f nii.gz -V pred -d hand
	cmp hand/oblique.pred.nii.gz run/volume-labels/oblique.pred.nii.gz
}
