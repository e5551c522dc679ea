#!/usr/bin/env bash
# Smoke test of the trainer as shipped: trainer/trainer.sh (the shaded jar) writes a small synthetic dataset,
# trains all four networks for a few batches, publishes them to a temporary registry and evaluates them.
# Fails if any step fails or dies (a signal is reported as such) or the evaluation report is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/smoke-lib.sh
start=$(date +%s)
tmp="$(mktemp -d -t smoke-trainer.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
T=trainer/trainer.sh

smoke_run "$tmp/dataset.log" $T synthetic-dataset --out "$tmp/data" --images 48 --size 96 --seed 1
# 75 px: InceptionV3's minimum (Xception needs 71, the others less); 2 batches of 8 per epoch, one epoch.
smoke_run "$tmp/train.log" $T train --arch all --data "$tmp/data" --input-size 75 --epochs 1 --batch-size 8 \
  --max-batches 2 --threads 2 --runs "$tmp/runs" --publish "$tmp/registry"
published=$(grep -c '^published ' "$tmp/train.log" || true)
[[ "$published" == 4 ]] || smoke_fail "expected 4 published models, the train log says $published"
smoke_run "$tmp/evaluate.log" $T evaluate --model mobilenet@latest --model resnet50@latest \
  --model inceptionv3@latest --model xception@latest --registry "$tmp/registry" --data "$tmp/data" --split test \
  --threads 2 --runs "$tmp/runs" --name smoke --score-cache none
report_dir=$(ls -d "$tmp"/runs/*-smoke 2>/dev/null | head -1)
[[ -n "$report_dir" ]] || smoke_fail "evaluate wrote no run folder under $tmp/runs"
for f in report.md metrics.json; do
  [[ -s "$report_dir/$f" ]] || smoke_fail "evaluate did not write $f in $report_dir"
done
echo "smoke-trainer: OK in $(( $(date +%s) - start )) s (4 models trained, published and evaluated; $report_dir/report.md)"
