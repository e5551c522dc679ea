#!/usr/bin/env bash
# Short form of the chaos run (README, docs/reliability.md): a real standalone Flink cluster (1 JobManager +
# 2 TaskManagers) and a Kafka broker as separate JVMs (scripts/cluster.sh), 60 studies + 1 marked one through two
# small demo models, while a TaskManager and the broker are killed with -9, a model operator throws once and the
# job is stopped with a savepoint and resubmitted. Fails unless every input has exactly one result and the
# Prometheus counters agree. The chaos command stops every process it started; the trap removes its files.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/smoke-lib.sh
start=$(date +%s)
tmp="$(mktemp -d -t chaos-short.XXXXXX)"
trap 'XRAY_CLUSTER_DIR="$tmp/cluster" bash scripts/cluster.sh stop >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
log="$tmp/chaos.log"

XRAY_JAVA_OPTS="${XRAY_JAVA_OPTS:--Xmx2g}" smoke_run "$log" ./xray-screening chaos --work-dir "$tmp" --studies 60 --rate 3 \
  --models mobilenet@production,resnet50@production --demo-images 32 --demo-epochs 1 --image-size 128

grep -q 'chaos: every input has exactly one result; results for unknown keys 0; metrics agree' "$log" \
  || smoke_fail "no exactly-once verdict line"
grep -qE '^total +- +61 ' "$log" || smoke_fail "expected 61 inputs (60 + the marked study) in the total row"
echo "chaos-short: OK in $(( $(date +%s) - start )) s"
