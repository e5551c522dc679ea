#!/usr/bin/env bash
# Scoring configurations (batch size / batch wait ms / intra-op threads per model operator) compared at fixed
# offered loads: `./xray-screening benchmark --compare` once per configuration, each in a fresh JVM (memory one
# pipeline's batches leave with the allocator would otherwise count against the next), configurations
# alternating within each round. Prints one Markdown table: every round's rows, saturation as a ratio to the
# round's first configuration, peak RSS of each JVM.
#
# Usage: scripts/batching-benchmark.sh [--configs 1/0/2,1/0/1,4/100/1] [--rounds 1] [benchmark options ...]
# (default benchmark options: --untrained-native --warmup 8 --studies 30 --load-studies 24)
set -euo pipefail
cd "$(dirname "$0")/.."
configs="1/0/2,1/0/1,4/100/1"
rounds=1
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --configs) configs="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
[ ${#args[@]} -gt 0 ] || args=(--untrained-native --warmup 8 --studies 30 --load-studies 24)
out="$(mktemp -d "${TMPDIR:-/tmp}/batching-benchmark.XXXXXX")"
IFS=',' read -r -a list <<< "$configs"
started="$(date -u +%FT%TZ)"; load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$rounds"); do
  for c in "${list[@]}"; do
    log="$out/r$round-${c//\//_}.log"
    echo "round $round/$rounds, configuration $c (log: $log)" >&2
    /usr/bin/time -f "peak RSS %M kB" -o "$log.rss" ./xray-screening benchmark --work-dir "$out/work" --compare "$c" \
      "${args[@]}" > "$log" 2>&1 || { echo "configuration $c failed: see $log" >&2; tail -5 "$log" >&2; exit 1; }
    grep -E '^  (saturation|[0-9]+% load)' "$log" >&2 || true
  done
done
# the first run's header names the machine and the columns; rows come from every run
first="$out/r1-${list[0]//\//_}.log"
echo
grep -m1 '^Scoring configurations compared' "$first" | sed "s/ to [^ ]* on / (first run; all runs $started to $(date -u +%FT%TZ)) on /"
echo "Load average $load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after. Each configuration in its own JVM."
echo
header="$(grep -m1 '^| batch size' "$first")"
echo "| round ${header} peak RSS GB |"
echo "| ---: | $(grep -m1 '^| --- ' "$first" | sed 's/^| //') ---: |"
for round in $(seq 1 "$rounds"); do
  base=""
  for c in "${list[@]}"; do
    log="$out/r$round-${c//\//_}.log"
    row="$(grep -m1 "^| $c |" "$log")"
    sat="$(echo "$row" | awk -F'|' '{gsub(/ /, "", $3); print $3}')"
    [ -n "$base" ] || base="$sat"
    ratio="$(awk -v s="$sat" -v b="$base" 'BEGIN { printf "%.2fx", s / b }')"
    rss="$(awk '{ printf "%.1f", $3 / 1048576 }' "$log.rss")"
    echo "| $round $(echo "$row" | awk -F'|' -v r="$ratio" 'BEGIN{OFS="|"} {$4 = " " r " "; print}') $rss |"
  done
done
