#!/bin/sh
# slurm.sh: ms past one machine under Slurm (ms-scale(7)). Two jobs from one script:
#
#   sbatch pipelines/slurm.sh train      data-parallel training of the segmentor: one
#                                        MPI rank per node, the cores of a node its threads
#   sbatch --array=1-16 pipelines/slurm.sh predict
#                                        prediction in 16 shards, one array task each,
#                                        any number at a time; then, on a login node:
#                                        cat out/pred.*.ms > out/pred.ms
#
# DATA (a stream of samples with image and mask, on a file system every node sees),
# MODEL and OUT may be set in the environment; the #SBATCH lines below are defaults that
# sbatch's own options override. On one machine without Slurm the same shards run with
# GNU parallel (or xargs -P):
#   seq 4 | parallel "ms-segment -m seg.ms --threads 1 --shard {}/4 <all.ms >pred.{}.ms"
#SBATCH --job-name=ms
#SBATCH --nodes=8
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=16
#SBATCH --time=12:00:00
#SBATCH --output=ms-%x-%A_%a.log
set -eu
DATA=${DATA:-data/train.ms}
MODEL=${MODEL:-seg.ms}
OUT=${OUT:-out}
mkdir -p "$OUT"
case ${1:-} in
train)
	# rank 0 alone reads the stream (--input=0) and sends it on to the others; rank 0
	# writes the checkpoint, every 500 steps and at the end; resubmitted, --resume
	# carries on, with any number of nodes
	resume=
	[ ! -e "$MODEL" ] || resume=--resume
	srun --mpi=pmix --input=0 ms-segment train -o "$MODEL" $resume --steps 20000 --batch 64 \
		--threads "${SLURM_CPUS_PER_TASK:-1}" --log "$OUT/train.tsv" <"$DATA"
	;;
predict)
	# shard K of N: the samples whose id hashes to K, whatever the others do
	k=${SLURM_ARRAY_TASK_ID:?submit with --array=1-N}
	n=${SLURM_ARRAY_TASK_COUNT:?submit with --array=1-N}
	ms-segment -m "$MODEL" --threads "${SLURM_CPUS_PER_TASK:-1}" --shard "$k/$n" \
		<"$DATA" >"$OUT/pred.$k.ms.tmp"
	mv "$OUT/pred.$k.ms.tmp" "$OUT/pred.$k.ms"
	;;
*)
	echo "usage: sbatch [--array=1-N] slurm.sh train|predict" >&2
	exit 2
	;;
esac
