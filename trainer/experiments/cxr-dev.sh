#!/usr/bin/env bash
# The docs/results.md experiment: the four networks, trained one after the other on shared/data/cxr-dev
# with the default preset, published to ./registry, plus MobileNet from ImageNet weights. Run from the
# repository root (trainer/trainer.sh builds the trainer jar when it is missing or stale):
#   nohup trainer/experiments/cxr-dev.sh > runs/cxr-dev.log 2>&1 &
# Each run has a training-time budget (2 CPU cores, shared with other jobs; the last epoch is cut short when
# the budget runs out, then validated); the epochs and images actually run are printed
# and stored in state.json and the model metadata; `train ... --epochs <n> --max-batches <k>` without
# --time-budget repeats a budgeted run's schedule when its last epoch was not cut short.
set -uo pipefail
DATA=${DATA:-/work/shared/data/cxr-dev}
REG=${REG:-registry}
PRETRAINED=${PRETRAINED:-/work/shared/pretrained/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite}
T=trainer/trainer.sh
for arch in resnet50 inceptionv3 xception; do
  $T train --arch $arch --data "$DATA" --input-size 80 --epochs 4 --time-budget 7 --threads 2 --publish "$REG" --model-version cxrdev-scratch-80
done
$T train --arch mobilenet --data "$DATA" --input-size 128 --epochs 12 --time-budget 4 --threads 2 --publish "$REG" --model-version cxrdev-scratch-128
$T train --arch mobilenet --data "$DATA" --input-size 128 --epochs 12 --time-budget 4 --threads 2 --init "imagenet:$PRETRAINED" --publish "$REG" --model-version cxrdev-imagenet-128
echo "experiment done"
