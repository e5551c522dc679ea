#!/usr/bin/env bash
# The docs/ablations.md study (issue 10 item 3): what works against the source shortcut on cxr-dev.
# MobileNet v1 from ImageNet, one short fixed schedule and seed 42 for every arm; arms: the baseline, each
# option alone and all combined, plus a leave-one-source-out pair (NIH left out) for baseline vs combined.
#
#   trainer/trainer.sh --freeze /work/abl-runs/frozen      # or build the jar with `mvn package` and copy it there
#   TRAINER_FROZEN=/work/abl-runs/frozen nohup trainer/experiments/ablations.sh train > $OUT/train.log 2>&1 &
#   ... then `validation` (decide on it), and only then, once, `test`; `summary` redraws the tables and charts.
#
# Phases (first argument): train | validation | test | summary. Each arm is trained once: an arm whose version is
# already in the registry is skipped, so the script can be re-run after an interruption. ARMS restricts the arms
# (e.g. ARMS="baseline balanced"); arms whose options the jar does not know (--intensity, --mask-*) are skipped
# with a message. Run from the repository root.
set -uo pipefail
PHASE=${1:-train}
DATA=${DATA:-/work/shared/data/cxr-dev}
OUT=${OUT:-/work/abl-runs/study}
REG=${REG:-$OUT/registry}
PRETRAINED=${PRETRAINED:-/work/shared/pretrained/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite}
SIZE=${SIZE:-128}
EPOCHS=${EPOCHS:-1}
MAX_BATCHES=${MAX_BATCHES:-0}
SEED=42
NIH=muhammedtalo/COVID-19
INTENSITY=${INTENSITY:-clahe}          # the intensity method of the combined arm
MASK="--mask-border 0.05 --mask-text"
export JAVA_OPTS=${JAVA_OPTS:--Xmx3g}
: "${TRAINER_FROZEN:?set TRAINER_FROZEN to a frozen trainer jar folder (trainer/trainer.sh --freeze DIR)}"
export TRAINER_FROZEN
T="nice -n 5 trainer/trainer.sh"

# name | options beyond the common ones
declare -A ARM_OPTS=(
  [baseline]=""
  [balanced]="--sampling source-balanced"
  [strong]="--augment strong"
  [clahe]="--intensity clahe"
  [equalize]="--intensity equalize"
  [mask]="$MASK"
  [combined]="--sampling source-balanced --augment strong --intensity $INTENSITY $MASK"
  [loso-baseline]="--exclude-source $NIH"
  [loso-combined]="--exclude-source $NIH --sampling source-balanced --augment strong --intensity $INTENSITY $MASK"
)
ORDER=(baseline balanced strong clahe mask combined loso-baseline loso-combined equalize)
IN_DISTRIBUTION=(baseline balanced strong clahe equalize mask combined)
ARMS=(${ARMS:-${ORDER[@]}})

stamp() { date -u +%H:%M:%S; }
mkdir -p "$OUT"
HELP=$($T train --help 2>/dev/null)

supported() { # every --option of the arm is known to this jar
  local o
  for o in ${ARM_OPTS[$1]}; do
    [[ $o == --* ]] || continue
    grep -q -- "$o" <<<"$HELP" || return 1
  done
}

published() { [[ -f "$REG/mobilenet/abl-$1/metadata.json" ]]; }

train_arms() {
  local i=0 arm
  for arm in "${ARMS[@]}"; do
    i=$((i + 1))
    if published "$arm"; then echo "[$(stamp)] arm $i/${#ARMS[@]} $arm: already in $REG, skipped"; continue; fi
    if ! supported "$arm"; then echo "[$(stamp)] arm $i/${#ARMS[@]} $arm: this jar lacks ${ARM_OPTS[$arm]}, skipped"; continue; fi
    echo "[$(stamp)] arm $i/${#ARMS[@]} $arm: train ${ARM_OPTS[$arm]}"
    # shellcheck disable=SC2086  # the arm's options are words
    $T train --arch mobilenet --data "$DATA" --input-size "$SIZE" --epochs "$EPOCHS" --max-batches "$MAX_BATCHES" \
      --seed "$SEED" --threads 2 --init "imagenet:$PRETRAINED" ${ARM_OPTS[$arm]} \
      --runs "$OUT/runs" --name "abl-$arm" --publish "$REG" --model-version "abl-$arm" \
      > "$OUT/train-$arm.log" 2>&1
    echo "[$(stamp)] arm $arm: exit $?; $(grep -E 'epoch [0-9]+/[0-9]+ done' "$OUT/train-$arm.log" | sed 's/.*done: //' | tr '\n' ' ')"
  done
}

models_of() { local a m=(); for a in "$@"; do published "$a" && m+=(--model "mobilenet@abl-$a"); done; echo "${m[@]}"; }

evaluate() { # split, name, arms...
  local split=$1 name=$2; shift 2
  local models; models=$(models_of "$@")
  [[ -n $models ]] || { echo "[$(stamp)] $name: no published arm"; return; }
  echo "[$(stamp)] evaluate $name: $models"
  # shellcheck disable=SC2086
  $T evaluate $models --registry "$REG" --data "$DATA" --split "$split" --seed "$SEED" --bootstrap 1000 \
    --no-ensemble-fit --threads 2 --runs "$OUT/eval" --name "$name" --score-cache "$OUT/score-cache" \
    "${EXTRA[@]}" > "$OUT/eval-$name.log" 2>&1
  echo "[$(stamp)] evaluate $name: exit $?; $(grep '^report:' "$OUT/eval-$name.log")"
}

summarize() { # report name, baseline arm, chart title
  local dir; dir=$(ls -d "$OUT"/eval/*[0-9]-"$1" 2>/dev/null | tail -1)  # not *-loso-$1
  [[ -n $dir ]] || { echo "[$(stamp)] summary $1: no report yet"; return; }
  nice -n 5 java -Xmx1g -Djava.awt.headless=true -cp "$TRAINER_FROZEN/trainer.jar" \
    org.xrayscreening.trainer.report.AblationSummary "$dir" "$DATA" "mobilenet@abl-$2" "$OUT/summary-$1.md" \
    "$OUT/ablation-$1.png" s-mostafa-a/covid-chestxray-dataset "$3" > /dev/null \
    && echo "[$(stamp)] summary $1: $OUT/summary-$1.md, $OUT/ablation-$1.png ($dir)"
}

case $PHASE in
  train) train_arms ;;
  validation)
    EXTRA=(); evaluate validation validation "${IN_DISTRIBUTION[@]}"
    EXTRA=(--exclude-source "$NIH"); evaluate validation loso-validation loso-baseline loso-combined
    summarize validation baseline "validation split (cxr-dev, seed 42): each option against the shortcut"
    summarize loso-validation loso-baseline "validation split without NIH (leave-one-source-out arms)" ;;
  test)
    EXTRA=(); evaluate test test "${IN_DISTRIBUTION[@]}"
    EXTRA=(--exclude-source "$NIH"); evaluate excluded loso-excluded loso-baseline loso-combined
    summarize test baseline "test split (cxr-dev, seed 42), reported once after choosing on validation"
    summarize loso-excluded loso-baseline "NIH ChestX-ray8, never seen in training (763 non-COVID images)" ;;
  summary)
    summarize validation baseline "validation split (cxr-dev, seed 42): each option against the shortcut"
    summarize loso-validation loso-baseline "validation split without NIH (leave-one-source-out arms)"
    summarize test baseline "test split (cxr-dev, seed 42), reported once after choosing on validation"
    summarize loso-excluded loso-baseline "NIH ChestX-ray8, never seen in training (763 non-COVID images)" ;;
  *) echo "unknown phase $PHASE (train | validation | test | summary)"; exit 2 ;;
esac
echo "[$(stamp)] $PHASE done"
