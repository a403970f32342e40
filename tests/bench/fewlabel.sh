#!/bin/bash
# The few-label benchmark (issue 17): with N labelled train images of a data set, does
# synthetic data raise a segmentor's Dice on the held-out test split, against the best
# real-only baseline? Splits: pipelines/splits/SET-nN.txt (labelled), the rest of
# SET-train.txt (unlabelled pool: masks dropped on import), SET-test.txt (scored).
#
# Usage: tests/bench/fewlabel.sh busi|kvasir N [SEEDS [STEPS [OUTDIR [SIZE]]]]
#   SEEDS segmentor seeds 1..SEEDS (3); STEPS segmentor steps (1000); SIZE (64x64).
# Environment: ARMS (default "flips strong mix-L mix-LU"), R synthetic images per
#   labelled image (8), GEN_STEPS (4000), WIDTH segmentor and generator width (16),
#   GEN_WIDTH the generators' width (WIDTH), GEN_THREADS the threads of their training
#   and of the pairs' inpainting (1; 2 goes faster: the real-only segmentors trained
#   beside a generator's chain run 9 nice levels below it, so that the chain goes first),
#   REPORT validation interval (STEPS/20), NEAR (3, generators ending in n), ALIGN_SEG
#   (a segmentor model: the generator statistics add its alignment Dice), FILTER_SEG
#   and FILTER_SHARE (generators ending in f), JOBS trainings at a time (2), MS_DATA
#   (../shared/data beside the repository), MS_PRECISION (fp32; bf16: every tool's
#   products in bfloat16, ms(7); logged).
# Arms, every segmentor trained with the same steps and seed on all N labelled images,
# validated every REPORT steps on the fixed validation split SET-val.txt (60 train images
# outside the N = 100 subset, not in the pool) and scored with the weights of its best
# validation Dice (--val, --best): the training length is chosen on validation, never on
# the test split:
#   flips   real only, flips (the segmentor before augmentation);
#   strong  real only, --augment strong: the baseline the others must beat;
#   strong2x  the same with twice the steps: a mix step segments a real and a synthetic
#           batch, so this one has seen as many images as a mix arm;
#   ARM-x2  any arm below with twice the steps (against strong2x: both trained longer);
#   mix-L   + R images per labelled image from a generator trained on the labelled
#           images only (--cond edges,mask; DiffBoost), random merging mask;
#   mix-LU  the same from a generator trained on the labelled images and the pool
#           (--cond edges,mask --cond-optional: pool images have edges, no mask);
#   extra-L, extra-LU  the same images as plain extra samples (--synthetic extra);
#   mix-Lz, mix-LUz, extra-Lz, extra-LUz  generators trained with --zero-snr
#           (zero terminal SNR, v-prediction);
#   mix-LUzn, extra-LUzn (any generator name ending in n)  the edge condition kept only
#           within NEAR (3) pixels of the mask border (ms-edges --near): the generator
#           follows the mask there and invents the rest; pool images have no conditions.
#   extra-J1, extra-J2, extra-J3 (generators J<r>)  Saragih et al.'s synthetic pairs
#           (issue 20): a joint image + mask generator trained on the labelled images
#           (ms-sample train --joint), r new lesions per labelled image inpainted around
#           its mask (ms-sample --inpaint $PAIRS, default "--steps 100 --resample 3
#           --guidance 1"), used with their own masks (--synthetic extra, probability
#           alpha r / (1 + alpha r) with alpha = 0.5: each real image brings its r pairs
#           with probability alpha); every J<r> samples from the one model gen-J.ms,
#           or takes the first r pairs of each image from a larger J<m> already made
#           (the same pairs up to float rounding);
#   extra-J<r>d<D>... (generators J<r>d<D>, with the suffixes of J<r>)  the pairs of
#           J<r> inpainted with --dilate D added to PAIRS (extra-J3d13f-p40: dilation 13),
#           so that arms of two dilations share one directory, joint model and baseline;
#   extra-J<r>fk  the filtered pairs of extra-J<r>f drawn with probability alpha r' /
#           (1 + alpha r'), r' the pairs kept per labelled image: each real image still
#           brings its kept pairs with probability alpha (extra-J<r>f keeps r's probability,
#           so that fewer pairs are drawn more often each);
#   extra-J<r>f-p<DD>  the filtered pairs of extra-J<r>f drawn with probability 0.<DD>
#           (extra-J3f-p20: 0.20), to choose that probability on validation per N;
#   extra-JP<r>... (generators JP<r>, with the suffixes of J<r>)  the same pairs from a
#           joint model trained on the labelled images and the pool with pseudo-masks:
#           FILTER_SEG (below) segments the pool, and the pool images whose predicted
#           mask is not empty join the labelled ones (gen-JP.ms); pairs are still
#           inpainted into the labelled images only. Without FILTER_SEG, strong seed 1
#           is trained first, in the generator's chain;
#   extra-JQ<r>... (generators JQ<r>, with the suffixes of J<r>, one JQ or JP kind per
#           run)  the pairs of J<r> and pairs of unlabelled images: FILTER_SEG segments
#           the pool, and the first QN (200) pool images with a predicted lesion get QR
#           (1) pairs each from gen-J, inpainted around that pseudo-mask, so that the
#           model redraws the lesion with a mask of its own; the pool images themselves
#           are not used (ms-segment keeps pairs whose real sample is not in the stream);
#   mix-LUzf, extra-LUzf (any generator name ending in f)  the synthetic images of
#           generator LUz filtered by a real-only segmentor (the cheap form of GenSeg's
#           feedback): FILTER_SEG (default strong seed 1's best weights, trained in
#           phase 1 when "strong" is not an arm) segments every synthetic image, and an image is kept when the Dice of its prediction against
#           the mask it was made for reaches that segmentor's median Dice on the
#           validation images (a synthetic lesion at least as recognisable as a typical
#           real one; the threshold comes from validation, never from the test split);
#           with FILTER_SHARE S (0 < S <= 1), the images of the top share S of that Dice
#           instead (ties kept): the same number kept whatever the judge (a new OUTDIR,
#           or the keep and syn files of the f generator removed).
# Each stage's output is kept in OUTDIR and not made again when present, and a stopped
# training continues from its last checkpoint (every 500 steps), so a stopped run
# resumes. Writes OUTDIR/fewlabel.log (commands' timings, the paired comparisons of
# every arm against "strong", of an arm ending in -x2 against "strong2x", where those
# ran, and of "strong" against "flips"). Run from the repository.
set -e
set_=${1:?usage: $0 busi|kvasir N [SEEDS [STEPS [OUTDIR [SIZE]]]]}
n=${2:?usage: $0 busi|kvasir N [SEEDS [STEPS [OUTDIR [SIZE]]]]}
seeds=${3:-3}
steps=${4:-1000}
out=${5:-/tmp/fewlabel-$set_-$n}
size=${6:-64x64}
arms=${ARMS:-flips strong mix-L mix-LU}
r=${R:-8}
gsteps=${GEN_STEPS:-4000}
width=${WIDTH:-16}
gwidth=${GEN_WIDTH:-$width}
gthreads=${GEN_THREADS:-1}
nearr=${NEAR:-3}
report=${REPORT:-$((steps / 20 > 0 ? steps / 20 : 1))}
. "$(dirname "$0")/common.sh"
case $set_ in
busi) prompt="breast ultrasound" ;;
kvasir) prompt="colonoscopy polyp" ;;
*) echo "$0: unknown data set '$set_' (busi or kvasir)" >&2; exit 2 ;;
esac
data=$(bench_data "$set_")
cd "$(dirname "$0")/../.."
splits=$PWD/pipelines/splits
[ -f "$splits/$set_-n$n.txt" ] || { echo "$0: no split $splits/$set_-n$n.txt" >&2; exit 2; }
[ -d "$data/images" ] || { echo "$0: no images in $data (set MS_DATA)" >&2; exit 2; }
bench_tools "$out/bin" ms-import ms-pick ms-edges ms-sample ms-segment ms-score ms-info
bench_log=$out/fewlabel.log
say() { echo "$*" | tee -a "$bench_log"; }
# again CHECKPOINT: --resume when a stopped run left CHECKPOINT (a resumed training ends
# with the bytes of an uninterrupted one; trainings save every 500 steps)
again() { if [ -s "$1" ]; then echo --resume; fi; }
# stage NAME CMD...: bench_stage of OUTDIR/NAME
stage() { local f=$out/$1; shift; bench_stage "$f" "$@"; }
say "$(bench_stamp)"
say "commit $(git rev-parse --short HEAD) set $set_ n $n size $size seeds $seeds steps $steps r $r gen_steps $gsteps width $width gen_width $gwidth gen_threads $gthreads report $report precision ${MS_PRECISION:-fp32} arms $arms"

# ---- data: one import, then labelled / pool (no masks) / test by the fixed splits
imp() { ms-import --size "$size" --mask-dir "$data/masks" --prompt "$prompt" "$data/images"; }
stage all.ms imp
stage labelled.ms sh -c "ms-pick -i '$splits/$set_-n$n.txt' <'$out/all.ms' | ms-edges --method diffboost"
stage pool.ms sh -c "ms-pick -i '$splits/$set_-train.txt' -x '$splits/$set_-n$n.txt' -d mask \
	<'$out/all.ms' | ms-pick -x '$splits/$set_-val.txt' | ms-edges --method diffboost"
stage val.ms sh -c "ms-pick -i '$splits/$set_-val.txt' <'$out/all.ms'"
stage test.ms sh -c "ms-pick -i '$splits/$set_-test.txt' <'$out/all.ms'"

# first_pairs SYN R: the real samples of SYN with their first R pairs <id>.s0 .. s<R-1>
first_pairs() {
	(set -o pipefail
	ms-info <"$1" | awk -F'\t' -v r="$2" '$2 == "image" { k = -1
		if (match($1, /\.s[0-9]+$/)) k = substr($1, RSTART + 2) + 0
		if (k < r) print $1 }' >"$1.first$2") &&
	ms-pick -i "$1.first$2" <"$1"
}
# ---- a generator: trained (one thread), sampled, its images against the real ones
genchain() {   # NAME INPUT EXTRA-OPTIONS: train, sample R per labelled image, stats
	case $1 in J*)   # pairs: one joint model (J or JP), r inpainted pairs per labelled image
		local j=${1%%[0-9]*}
		local r=${1#"$j"} d=
		case $r in *d*) d=${r#*d} r=${r%%d*} ;; esac
		stage "gen-$j.ms" sh -c "ms-sample train -o '$out/gen-$j.ck' --joint --steps $gsteps \
			--width $gwidth --batch 8 --seed 1 --threads $gthreads --save-every 500 \
			$(again "$out/gen-$j.ck") <'$2' && cat '$out/gen-$j.ck'"
		# pair k's noise comes from its id alone, so the first r pairs of each image in a
		# larger sample are the r pairs sampled on their own, up to the float rounding of
		# the U-Net's batch (3e-4 in pixel values): taken from one if it exists
		local m src=
		for m in 16 8 4 3 2; do
			[ "$m" -gt "$r" ] && [ -s "$out/syn-$j$m${d:+d$d}.ms" ] &&
				src=$out/syn-$j$m${d:+d$d}.ms
		done
		if [ -n "$src" ]; then
			stage "syn-$1.ms" first_pairs "$src" "$r"
		else
			stage "syn-$1.ms" sh -c "ms-sample -m '$out/gen-$j.ms' --inpaint -n $r \
				${PAIRS:---steps 100 --resample 3 --guidance 1} ${d:+--dilate $d} \
				--seed 1 --threads $gthreads \
				<'$out/labelled.ms'"
		fi
		return ;;
	esac
	stage "gen-$1.ms" sh -c "ms-sample train -o '$out/gen-$1.ck' --steps $gsteps --cond edges,mask \
		$3 --width $gwidth --batch 8 --seed 1 --threads $gthreads --save-every 500 \
		$(again "$out/gen-$1.ck") <'$2' && cat '$out/gen-$1.ck'"
	local l=labelled.ms
	case $1 in *n) l=labelled-near.ms ;; esac
	stage "syn-$1.ms" sh -c "ms-sample -m '$out/gen-$1.ms' -n $r --steps 20 --seed 1 \
		--threads 2 <'$out/$l'"
	stage "stats-$1.txt" /usr/bin/python3 tests/bench/syn_stats.py "$out/syn-$1.ms" \
		${ALIGN_SEG:+"$ALIGN_SEG"}
	say "generator $1: $(tr '\n' ';' <"$out/stats-$1.txt")"
}
# ---- segmentors: two at a time, one thread each
seg() {   # ARM SEED (an arm ending in -x2: that arm with twice the steps)
	local in opt st g a=$1
	case $a in *-x2) a=${a%-x2} st=$((2 * steps)) ;; esac
	case $a in
	flips) in=labelled.ms opt="--augment flips --synthetic ignore" ;;
	strong) in=labelled.ms opt="--augment strong --synthetic ignore" ;;
	strong2x) in=labelled.ms opt="--augment strong --synthetic ignore" st=$((2 * steps)) ;;
	mix-*) in=syn-${a#mix-}.ms opt="--augment strong --synthetic mix" ;;
	extra-J*f-p[0-9]*) g=${a#extra-}; g=${g%-p*}; in=syn-$g.ms opt="--augment strong \
		--synthetic extra --synthetic-prob 0.${a##*-p}" ;;
	extra-J*fk) g=${a#extra-}; g=${g%k}; in=syn-$g.ms opt="--augment strong --synthetic extra \
		--synthetic-prob $(awk -v k="$(($(wc -l <"$out/keep-$g.txt") - n))" -v n="$n" \
			'BEGIN { r = k / n; printf "%.4f", 0.5 * r / (1 + 0.5 * r) }')" ;;
	extra-J*) g=${a#extra-J}; g=${g#[PQ]}; g=${g%%d*}
		in=syn-${a#extra-}.ms opt="--augment strong --synthetic extra \
		--synthetic-prob $(awk -v r="$g" 'BEGIN { printf "%.4f", 0.5 * r / (1 + 0.5 * r) }')" ;;
	extra-*) in=syn-${a#extra-}.ms opt="--augment strong --synthetic extra" ;;
	*) echo "$0: unknown arm '$a'" >&2; exit 2 ;;
	esac
	stage "seg-$1-$2.ms" sh -c "$segnice ms-segment train -o '$out/seg-$1-$2.ck' --steps ${st:-$steps} \
		--width $width --batch 8 --seed $2 --threads 1 --val '$out/val.ms' \
		--best '$out/seg-$1-$2.best' --report $report --save-every 500 \
		$(again "$out/seg-$1-$2.ck") $opt <'$out/$in' && cat '$out/seg-$1-$2.best'"
	say "segmentor $1 seed $2: $(grep -o 'validation Dice.*' "$out/seg-$1-$2.ms.err")"
	stage "score-$1-$2.tsv" sh -c "ms-segment -m '$out/seg-$1-$2.ms' --threads 1 \
		<'$out/test.ms' | ms-score --pred pred"
}
fseg=${FILTER_SEG:-$out/seg-strong-1.best}
# pseudochain JP<r>...: the pool with pseudo-masks from fseg (strong seed 1 trained
# first unless FILTER_SEG is given), the labelled images and those with a lesion train
# gen-JP, then the pairs of each JP<r>
pseudo() {   # GENERATOR: pool-pseudo.ms, pseudo-ids.txt (the pool images with a lesion)
	[ -n "${FILTER_SEG:-}" ] || seg strong 1
	[ -s "$fseg" ] || { echo "$0: generator $1: no filter segmentor $fseg (FILTER_SEG)" >&2; exit 2; }
	stage pool-pseudo.ms sh -c "ms-segment -m '$fseg' --threads 1 <'$out/pool.ms' |
		ms-pick -d prob -r pred=mask"
	stage pseudo-ids.txt sh -c "ms-info <'$out/pool-pseudo.ms' |
		awk -F'\t' '\$2 == \"mask\" && \$6 > 0 { print \$1 }'"
}
pseudochain() {
	pseudo "$1"
	stage labelled-pseudo.ms sh -c "cat '$out/labelled.ms' &&
		ms-pick -i '$out/pseudo-ids.txt' <'$out/pool-pseudo.ms'"
	say "generator JP: $(wc -l <"$out/pseudo-ids.txt") pool images with a predicted lesion" \
		"of $(ms-info <"$out/pool.ms" | awk -F'\t' '$2 == "image"' | wc -l)"
	chain "$out/labelled-pseudo.ms" "$@"
}
# qchain JQ<r>[d<D>]...: the pairs of J<r>[d<D>] and, in the first QN (200) pool images
# with a predicted lesion, QR (1) pairs each, inpainted around the pseudo-mask by the same
# model (the pool images themselves left out: only the pairs, whose masks are the model's)
qchain() {
	local g b d qn=${QN:-200} qr=${QR:-1}
	for g; do
		b=J${g#JQ} d=
		case $b in *d*) d=${b#*d} ;; esac
		genchain "$b" "$out/labelled.ms"
		pseudo "$g"
		stage "pool-lesion-$qn.txt" head -n "$qn" "$out/pseudo-ids.txt"
		stage "pairs-pool$qn-$qr${d:+d$d}.ms" sh -c "ms-pick -i '$out/pool-lesion-$qn.txt' \
			<'$out/pool-pseudo.ms' | ms-sample -m '$out/gen-J.ms' --inpaint -n $qr \
			${PAIRS:---steps 100 --resample 3 --guidance 1} ${d:+--dilate $d} --seed 1 \
			--threads $gthreads | ms-pick -x '$out/pool-lesion-$qn.txt'"
		stage "syn-$g.ms" cat "$out/syn-$b.ms" "$out/pairs-pool$qn-$qr${d:+d$d}.ms"
	done
}
# chain INPUT GENERATOR...: genchain of each in turn, so that the J<r> (or JP<r>) of one
# run train their one joint model once
chain() {
	local in=$1 g
	shift
	for g; do genchain "$g" "$in"; done
}

# ---- phase 1: generators (train, sample, stats) beside the real-only segmentors;
# ---- phase 2: the segmentors on synthetic data, seed by seed
gens= js= jps= jqs= filtered= segnice=
for a in $arms; do
	a=${a%-x2}
	case $a in *f|*fk|*f-p[0-9]*) filtered=1 ;; esac
	case $a in
	flips|strong|strong2x) ;;
	mix-*|extra-*) g=${a#*-}; g=${g%-p*}; g=${g%k}; g=${g%f}
		case " $gens " in *" $g "*) ;; *) gens="$gens $g" ;; esac ;;
	*) echo "$0: unknown arm '$a'" >&2; exit 2 ;;
	esac
done
for g in $gens; do
	case $g in *n)
		stage labelled-near.ms sh -c "ms-pick -d edges <'$out/labelled.ms' | ms-edges --near $nearr"
		stage pool-near.ms sh -c "ms-pick -d edges <'$out/pool.ms' | ms-edges --near $nearr" ;;
	esac
	case $g in
	L|Lz) in=$out/labelled.ms opt= ;;
	J[0-9]*) js="$js $g"; continue ;;
	JP[0-9]*) jps="$jps $g"; continue ;;
	JQ[0-9]*) jqs="$jqs $g"; continue ;;
	Ln|Lzn) in=$out/labelled-near.ms opt= ;;
	LU|LUz) stage labelled-pool.ms cat "$out/labelled.ms" "$out/pool.ms"
		in=$out/labelled-pool.ms opt=--cond-optional ;;
	LUn|LUzn) stage labelled-pool-near.ms cat "$out/labelled-near.ms" "$out/pool-near.ms"
		in=$out/labelled-pool-near.ms opt=--cond-optional ;;
	*) echo "$0: unknown generator '$g' (L, LU, Lz, LUz, those ending in n, J<r>, JP<r>)" >&2; exit 2 ;;
	esac
	case $g in *z|*zn) opt="$opt --zero-snr" ;; esac
	bench_pool genchain "$g" "$in" "$opt"
done
[ -z "$jps" ] || [ -z "$jqs" ] ||
	{ echo "$0: JP and JQ generators in one run: give them two directories" >&2; exit 2; }
jchain() { chain "$out/labelled.ms" $js; qchain $jqs; }   # one job: JQ<r> uses gen-J
[ -z "$js$jqs" ] || bench_pool jchain
[ -z "$jps" ] || bench_pool pseudochain $jps
# the real-only segmentors beside a generator's chain yield to it (nice 9 more): with
# GEN_THREADS 2 the chain (its model, then its samples or pairs, then the segmentors on
# them) is the critical path
[ -z "$gens$js$jps$jqs" ] || segnice="nice -n 9"
for s in $(seq "$seeds"); do
	for a in $arms; do
		# (strong seed 1 trained in pseudochain or qchain)
		[ "$a$s" = strong1 ] && [ -n "$jps$jqs" ] && [ -z "${FILTER_SEG:-}" ] && continue
		case $a in flips|strong*) bench_pool seg "$a" "$s" ;; esac
	done
done
# the filter's segmentor, where an arm filters and none of the above trains it
case " $arms " in *" strong "*) ;; *)
	[ -z "$filtered" ] || [ -n "${FILTER_SEG:-}$jps$jqs" ] || bench_pool seg strong 1 ;;
esac
bench_drain
segnice=
# ---- the segmentor's feedback: synthetic images its real-only predictions agree with
filt() {   # GENERATOR (ending in f): syn-GENERATOR.ms from syn-${GENERATOR%f}.ms
	local b=${1%f}
	[ -s "$fseg" ] || { echo "$0: arm $1: no filter segmentor $fseg (FILTER_SEG)" >&2; exit 2; }
	stage align-val.tsv sh -c "ms-segment -m '$fseg' --threads 2 <'$out/val.ms' |
		ms-score --pred pred"
	stage "align-$b.tsv" sh -c "ms-segment -m '$fseg' --threads 2 <'$out/syn-$b.ms' |
		ms-score --pred pred"
	local t why
	if [ -n "${FILTER_SHARE:-}" ]; then     # the Dice at rank ceil(S x synthetic images)
		t=$(awk -F'\t' 'NR == FNR { real[$1]; next }
			FNR > 1 && $1 !~ /^(mean|std|median|n)$/ && !($1 in real) { print $2 }' \
			"$splits/$set_-n$n.txt" "$out/align-$b.tsv" | sort -gr |
			awk -v s="$FILTER_SHARE" '{ d[NR] = $1 } END { k = int(s * NR + 0.999999)
				if (k < 1) k = 1; if (k > NR) k = NR; print d[k] }')
		why="the Dice of $fseg at the top share $FILTER_SHARE of the synthetic images"
	else
		t=$(awk -F'\t' '$1 == "median" { print $2 }' "$out/align-val.tsv")
		why="median validation Dice of $fseg"
	fi
	stage "keep-$1.txt" awk -F'\t' -v t="$t" 'NR == FNR { real[$1]; next }
		FNR > 1 && $1 !~ /^(mean|std|median|n)$/ && ($1 in real || $2 >= t) { print $1 }' \
		"$splits/$set_-n$n.txt" "$out/align-$b.tsv"
	stage "syn-$1.ms" sh -c "ms-pick -i '$out/keep-$1.txt' <'$out/syn-$b.ms'"
	say "filter $1: threshold $t ($why); synthetic kept" \
		"$(($(wc -l <"$out/keep-$1.txt") - n)) of $(awk -F'\t' 'NR == FNR { real[$1]; next }
		FNR > 1 && $1 !~ /^(mean|std|median|n)$/ && !($1 in real)' \
		"$splits/$set_-n$n.txt" "$out/align-$b.tsv" | wc -l)"
}
for a in $arms; do
	a=${a%-x2}
	case $a in
	mix-*f|extra-*f) g=${a#*-}; filt "$g" ;;
	extra-*fk) g=${a#*-}; filt "${g%k}" ;;
	extra-*f-p*) g=${a#*-}; filt "${g%-p*}" ;;
	esac
done
for s in $(seq "$seeds"); do
	for a in $arms; do
		case $a in flips|strong*) ;; *) bench_pool seg "$a" "$s" ;; esac
	done
done
bench_drain
for s in $(seq "$seeds"); do
	for a in $arms; do
		[ -s "$out/score-$a-$s.tsv" ] || { echo "$0: no score-$a-$s.tsv" >&2; exit 1; }
	done
done

# ---- paired comparisons, per-image means over seeds
tabs() { t=; for s in $(seq "$seeds"); do t=$t${t:+,}$out/score-$1-$s.tsv; done; echo "$t"; }
cmp_() {
	say "== $2 against $1"
	/usr/bin/python3 tests/bench/paired.py "$(tabs "$1")" "$(tabs "$2")" "$out/test.ms" |
		tee -a "$bench_log"
}
has() { case " $arms " in *" $1 "*) ;; *) return 1 ;; esac; }
! has flips || ! has strong || cmp_ flips strong
for a in $arms; do     # against strong; an arm with twice the steps against strong2x
	case $a in flips|strong) continue ;; *-x2) b=strong2x ;; *) b=strong ;; esac
	! has "$b" || cmp_ "$b" "$a"
done
say "date $(date -u +%FT%TZ) done"
