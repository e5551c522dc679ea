#!/usr/bin/env bash
# Smoke test of the local run as shipped: ./xray-screening local from an empty work dir, so it first trains the
# four demo models into an empty registry (small: 32 images, 1 epoch), then streams 30 studies (the 25th record
# is the malformed one) and must exit 0 by itself with 29 recommendations and 1 dead letter printed.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/smoke-lib.sh
start=$(date +%s)
tmp="$(mktemp -d -t smoke-local.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
log="$tmp/local.log"

smoke_run "$log" ./xray-screening local --work-dir "$tmp" --count 30 --rate 10 --demo-images 32 --demo-epochs 1 \
  --metrics-port 0 --exit-timeout PT5M --worklist-port 0

trained=$(grep -c 'published demo version' "$log" || true)
recommendations=$(grep -cE '^\[ *[0-9.]+s\] +[^ ]+ +(COVID_SUSPECTED|NO_COVID_FINDINGS|INDETERMINATE) ' "$log" || true)
dead_letters=$(grep -cE '^\[ *[0-9.]+s\] +[^ ]+ +DEAD LETTER ' "$log" || true)
echo "smoke-local: demo models trained $trained, recommendation lines $recommendations, DEAD LETTER lines $dead_letters"
[[ "$trained" == 4 ]] || smoke_fail "expected 4 demo models trained from the empty registry, saw $trained"
[[ "$recommendations" == 29 ]] || smoke_fail "expected exactly 29 recommendation lines, saw $recommendations"
[[ "$dead_letters" == 1 ]] || smoke_fail "expected exactly 1 DEAD LETTER line, saw $dead_letters"
grep -q '^summary: produced 30, recommendations 29, dead letters 1$' "$log" || smoke_fail "no or wrong summary line"
# every flagged study's heatmap was printed as a file: URI, and that file is a PNG under the work dir
flagged=$(grep -cE '^\[ *[0-9.]+s\] +[^ ]+ +(COVID_SUSPECTED|INDETERMINATE) ' "$log" || true)
heatmaps=$(grep -oE ' heatmap file:[^ ]+' "$log" | sed 's/^ heatmap file://' || true)
echo "smoke-local: flagged $flagged, heatmap URIs $(echo -n "$heatmaps" | grep -c . || true)"
[[ "$(echo -n "$heatmaps" | grep -c . || true)" == "$flagged" ]] || smoke_fail "expected one heatmap URI per flagged study"
while read -r path; do
  [[ -z "$path" ]] && continue
  path="/${path#"${path%%[!/]*}"}"   # file:///x -> /x
  [[ "$path" == "$tmp"/heatmaps/* ]] || smoke_fail "heatmap outside the work dir: $path"
  [[ "$(head -c 4 "$path" | tail -c 3)" == PNG ]] || smoke_fail "heatmap is not a PNG: $path"
done <<< "$heatmaps"
grep -qE '^worklist at http://127\.0\.0\.1:[0-9]+/$' "$log" || smoke_fail "the worklist did not start beside the pipeline"
echo "smoke-local: OK in $(( $(date +%s) - start )) s"
