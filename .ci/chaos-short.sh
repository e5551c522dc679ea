#!/usr/bin/env bash
# Short form of the chaos run (README, docs/reliability.md): a real standalone Flink cluster (1 JobManager +
# 2 TaskManagers) and a Kafka broker as separate JVMs (scripts/cluster.sh), 100 inputs (the whole bad-input corpus,
# 70 entries, and 30 synthetic studies) + 2 marked studies through two small demo models, while a TaskManager and
# the broker are killed with -9, a model operator throws once, a poison image halts the TaskManager JVM that scores
# it (twice, then it is dead-lettered) and the job is stopped with a savepoint and resubmitted. Fails unless every
# input has exactly one result (each corpus entry its manifest's reason), the poison image was contained and the
# Prometheus counters agree. The chaos command stops every process it started; the trap removes its files.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/smoke-lib.sh
start=$(date +%s)
tmp="$(mktemp -d -t chaos-short.XXXXXX)"
# On failure, what the cluster said goes to CI's log before the files are removed: the job's restarts and their
# causes are only in the JobManager's and TaskManagers' logs.
cleanup() {
  local rc=$?
  if [[ $rc -ne 0 && -d "$tmp/cluster/log" ]]; then
    echo "--- chaos-short failed ($rc): exceptions in the cluster logs (first 40 distinct)" >&2
    grep -h -E 'Exception|Error:|Caused by' "$tmp"/cluster/log/*.log 2>/dev/null | sed -E 's/^[0-9-]+ [0-9:,.]+ //' \
      | sort | uniq -c | sort -rn | head -40 >&2 || true
    tail -n 30 "$tmp"/cluster/log/jobmanager.log >&2 2>/dev/null || true
  fi
  XRAY_CLUSTER_DIR="$tmp/cluster" bash scripts/cluster.sh stop >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
log="$tmp/chaos.log"

XRAY_JAVA_OPTS="${XRAY_JAVA_OPTS:--Xmx2g}" smoke_run "$log" ./xray-screening chaos --work-dir "$tmp" --studies 100 --rate 3 \
  --models mobilenet@production,resnet50@production --demo-images 32 --demo-epochs 1 --image-size 128

grep -q 'chaos: every input has exactly one result; results for unknown keys 0; metrics agree; poison image contained' "$log" \
  || smoke_fail "no exactly-once verdict line"
grep -qE '^total +- +102 ' "$log" || smoke_fail "expected 102 inputs (100 + the two marked studies) in the total row"
grep -qE '^bad-input corpus: ([0-9]+) of \1 entries as the manifest expects' "$log" || smoke_fail "a corpus entry got another outcome"
echo "chaos-short: OK in $(( $(date +%s) - start )) s"
