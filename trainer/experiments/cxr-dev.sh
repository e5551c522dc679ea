#!/usr/bin/env bash
# The docs/results.md experiment: the four networks, trained one after the other on shared/data/cxr-dev
# with the default preset, published to ./registry. Run from the repository root:
#   nohup trainer/experiments/cxr-dev.sh > runs/cxr-dev.log 2>&1 &
# Each run has a time budget (2 shared CPU cores); the epochs actually run are printed and stored in the
# model metadata, and `train ... --epochs <that number>` without --time-budget repeats a run exactly.
set -uo pipefail
DATA=${DATA:-/work/shared/data/cxr-dev}
REG=${REG:-registry}
T=trainer/trainer.sh
$T train --arch mobilenet   --data "$DATA" --input-size 128 --epochs 12 --time-budget 10 --threads 2 --publish "$REG" --model-version cxrdev-scratch-128
$T train --arch resnet50    --data "$DATA" --input-size 96  --epochs 8  --time-budget 13 --threads 2 --publish "$REG" --model-version cxrdev-scratch-96
$T train --arch inceptionv3 --data "$DATA" --input-size 96  --epochs 8  --time-budget 13 --threads 2 --publish "$REG" --model-version cxrdev-scratch-96
$T train --arch xception    --data "$DATA" --input-size 96  --epochs 8  --time-budget 13 --threads 2 --publish "$REG" --model-version cxrdev-scratch-96
echo "experiment done"
