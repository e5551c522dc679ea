#!/usr/bin/env bash
# Issue 10, Xception: no ImageNet Xception weights are reachable here, so three ways of spending the training
# budget on a from-scratch Xception are compared on shared/data/cxr-dev (docs/results.md, "Xception: scratch,
# distillation, longer schedule"). Same seed (42, so the same split and the same shuffling/augmentation per
# epoch), same input size (160 px: the machine is shared by many jobs), same preset (default: Adam lr 1e-3,
# class-weighted cross-entropy, augmentation, the epoch with the lowest validation loss kept), batch 16, no early
# stop (--patience 0, so every arm sees all its images), each epoch cut at 40 batches (640 of the 1,281
# training images, a different draw each epoch; the validation pass after every epoch is the costly part):
#   scratch  2 epochs of 40 batches (1,280 training images seen)
#   distill  2 epochs of 40 batches, the same images, loss (1-A) * weighted CE + A * T^2 * KL(teacher_T || student_T),
#            A = 0.5, T = 4, teacher = a published ImageNet-initialised ResNet50 at 224 px, whose P(COVID-19)
#            is computed once per training image (one extra teacher pass over the 1,281 images)
#   longer   4 epochs of 40 batches (2,560 images): a copy of the scratch run resumed to 4 epochs (epochs 1-2
#            are the scratch arm's; Adam's moments restart at epoch 3, as on any resume)
# Budget per arm: images seen (wall clock is meaningless under this load). Usage, from the repository root:
#   trainer/trainer.sh --freeze /work/xc-frozen
#   TRAINER_FROZEN=/work/xc-frozen JAVA_OPTS=-Xmx4g nohup nice -n 5 trainer/experiments/xception-distill.sh ARM \
#       > /work/xc-exp/ARM.log 2>&1 &
# with ARM one of scratch, distill, longer (needs scratch), evaluate (needs all three), or score MODEL. Each training arm then
# scores its model on the validation and test splits into the score cache (so the final evaluate, which reads
# them from there, is quick and the scoring overlaps with the other arms' training).
set -uo pipefail
DATA=${DATA:-/work/shared/data/cxr-dev}
OUT=${OUT:-/work/xc-exp}
REG=$OUT/registry
TEACHER=${TEACHER:-resnet50@prod-20261203}
TEACHER_REG=${TEACHER_REG:-/work/prod/registry}
T=trainer/trainer.sh
score() { # fills the score cache for one model; the reports of these runs are not the results
  for split in validation test; do
    $T evaluate --registry "$REG" --model "$1" --data "$DATA" --split $split --seed 42 --threads 2 --bootstrap 0 \
        --runs "$OUT/runs" --score-cache "$OUT/score-cache" --name "score-${1/@/-}-$split"
  done
}
COMMON=(--arch xception --data "$DATA" --input-size 160 --seed 42 --patience 0 --max-batches 40 --threads 2 --runs "$OUT/runs" --publish "$REG")
case "${1:?arm: scratch, distill, longer or evaluate}" in
  scratch)
    $T train "${COMMON[@]}" --epochs 2 --name xc160-scratch --model-version scratch-160-e2 && score xception@scratch-160-e2 ;;
  distill)
    $T train "${COMMON[@]}" --epochs 2 --name xc160-distill --model-version distill-160-e2 \
        --teacher "$TEACHER" --teacher-registry "$TEACHER_REG" --distill-weight 0.5 --distill-temperature 4 && score xception@distill-160-e2 ;;
  longer)
    src=$(ls -d "$OUT"/runs/*-xc160-scratch | tail -1)
    rm -rf "$OUT/runs/xc160-longer"; cp -r "$src" "$OUT/runs/xc160-longer"
    $T train --resume "$OUT/runs/xc160-longer" --epochs 4 --threads 2 --publish "$REG" --model-version scratch-160-e4 && score xception@scratch-160-e4 ;;
  score) score "${2:?model}" ;;
  evaluate)
    for split in validation test; do
      $T evaluate --registry "$REG" --model xception@scratch-160-e2 --model xception@distill-160-e2 \
          --model xception@scratch-160-e4 --data "$DATA" --split $split --seed 42 --threads 2 --no-ensemble-fit \
          --runs "$OUT/runs" --score-cache "$OUT/score-cache" --name xc160-$split
    done ;;
  *) echo "unknown arm $1" >&2; exit 2 ;;
esac
