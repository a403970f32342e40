#!/bin/sh
# Does a change keep every output byte for byte? Builds REV (default HEAD) in a fresh clone
# and runs the same short jobs with its tools and with this tree's bin/: import, edges,
# 20 training steps of a segmentor (strong augmentation), a conditional generator, a joint
# generator and a refiner, and their predictions and samples (plain, inpainted pairs),
# all on the bundled BUSI images at 32x32; then cmp of each output pair. Exit status 0
# when all are equal. For refactors (issue 19) and kernels that must not change results.
# Usage: tests/bench/same-outputs.sh [REV [WORKDIR]]   (run from the repository; make first)
set -e
rev=${1:-HEAD}
w=${2:-$(mktemp -d)}
top=$(pwd)
rm -rf "$w/ref"
git clone -q "$top" "$w/ref"
(cd "$w/ref" && git checkout -q "$rev" && make -s -j2 >/dev/null 2>&1)

run_all() {   # BINDIR OUTDIR
	b=$1 o=$2 d=tests/data/busi t="--width 8 --batch 4 --seed 3 --threads 2"
	mkdir -p "$o"
	"$b/ms-import" --size 32x32 -m $d/masks $d/images >"$o/in.ms"
	"$b/ms-edges" <"$o/in.ms" >"$o/edges.ms"
	"$b/ms-segment" train -o "$o/seg.ms" --steps 20 $t --augment strong <"$o/in.ms" 2>/dev/null
	"$b/ms-segment" -m "$o/seg.ms" --threads 2 <"$o/in.ms" >"$o/pred.ms"
	"$b/ms-sample" train -o "$o/gen.ms" --steps 20 $t --cond edges,mask <"$o/edges.ms" 2>/dev/null
	"$b/ms-sample" -m "$o/gen.ms" -n 2 --steps 5 --seed 1 --threads 2 <"$o/edges.ms" >"$o/syn.ms"
	"$b/ms-sample" train -o "$o/joint.ms" --joint --steps 20 $t <"$o/in.ms" 2>/dev/null
	"$b/ms-sample" -m "$o/joint.ms" --inpaint -n 1 --steps 10 --resample 2 --seed 1 \
		--threads 2 <"$o/in.ms" >"$o/pairs.ms"
	"$b/ms-refine" train -o "$o/ref.ms" --steps 20 $t <"$o/pred.ms" 2>/dev/null
	"$b/ms-refine" -m "$o/ref.ms" --samples 2 --threads 2 <"$o/pred.ms" >"$o/refined.ms"
}
run_all "$w/ref/bin" "$w/a"
run_all bin "$w/b"
st=0
for f in "$w/a"/*.ms; do
	n=$(basename "$f")
	if cmp -s "$f" "$w/b/$n"; then echo "same $n"; else echo "DIFFERS $n"; st=1; fi
done
echo "$rev against the working tree: $([ $st = 0 ] && echo all equal || echo some differ) ($w)"
exit $st
