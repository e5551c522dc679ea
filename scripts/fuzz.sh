#!/usr/bin/env bash
# A longer coverage-guided fuzzing session (Jazzer) of the event codec and the image decoders, one target after
# another, each for --duration (docs/bad-inputs.md, "Fuzzing"). mvn verify runs the same targets in regression
# mode only (their committed seeds, once); this runs libFuzzer on them.
#
#   scripts/fuzz.sh [--duration 1h] [--target ImageDecoderFuzzTest#dicom ...]
#
#   --duration D   fuzzing time per target: 90s, 30m, 1h, 2h30m (default 10m, the annotations' maxDuration)
#   --target T     TestClass#method; repeatable (default: every target below)
#
# The duration is passed to libFuzzer as -max_total_time through Jazzer's JUnit configuration parameters
# (jazzer.internal.arg.N: Jazzer appends them after the annotation's own -max_total_time, and libFuzzer takes the
# last value). The generated corpus grows in connectors/.cifuzz-corpus/ (ignored by git) and is reused by the
# next session; a finding (crash, hang, out-of-memory) is written by Jazzer into the target's seed folder under
# connectors/src/test/resources/, where it becomes a regression test. Exits 1 if any target found something.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

all_targets=(EventCodecFuzzTest#parseAcquired EventCodecFuzzTest#parseModelUpdate
  ImageDecoderFuzzTest#dicom ImageDecoderFuzzTest#png ImageDecoderFuzzTest#jpeg)
duration=10m
targets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) duration="${2:?--duration needs a value}"; shift 2 ;;
    --target) targets+=("${2:?--target needs TestClass#method}"); shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ ${#targets[@]} -gt 0 ]] || targets=("${all_targets[@]}")

# 1h30m -> 5400; a bare number is seconds
seconds_of() {
  local d="$1" total=0 n unit
  [[ "$d" =~ ^[0-9]+$ ]] && { echo "$d"; return; }
  [[ "$d" =~ ^([0-9]+[hms])+$ ]] || { echo "fuzz.sh: --duration $d: use e.g. 90s, 30m, 1h, 1h30m" >&2; exit 2; }
  while [[ "$d" =~ ^([0-9]+)([hms])(.*)$ ]]; do
    n="${BASH_REMATCH[1]}"; unit="${BASH_REMATCH[2]}"; d="${BASH_REMATCH[3]}"
    case "$unit" in h) total=$((total + n * 3600)) ;; m) total=$((total + n * 60)) ;; s) total=$((total + n)) ;; esac
  done
  echo "$total"
}
secs="$(seconds_of "$duration")"
(( secs > 0 )) || { echo "fuzz.sh: --duration must be more than 0" >&2; exit 2; }

seeds_before="$(mktemp)"
trap 'rm -f "$seeds_before"' EXIT
find connectors/src/test/resources -path '*FuzzTestInputs*' -type f | sort > "$seeds_before"

found=0
summary=()
for target in "${targets[@]}"; do
  class="${target%%#*}"
  echo "== fuzzing $target for $duration ($secs s) =="
  start=$(date +%s)
  log="connectors/target/fuzz-${target/\#/-}.log"
  mkdir -p connectors/target
  rm -f connectors/target/surefire-reports/*"$class"-output.txt # not last session's status lines
  set +e
  JAZZER_FUZZ=1 mvn -B ${MVN_OFFLINE:-} -pl connectors test -Dtest="$target" -Dsurefire.failIfNoSpecifiedTests=false \
    -Djazzer.internal.arg.0=fuzz -Djazzer.internal.arg.1=-max_total_time="$secs" \
    > "$log" 2>&1
  rc=$?
  set -e
  # libFuzzer's last status line ("#runs DONE cov: N ft: N corp: N/size exec/s: N ...") and its "Done N runs in
  # S second(s)": in the Maven log, or in surefire's -output.txt when the pom redirects test output
  last="$(cat "$log" connectors/target/surefire-reports/*"$class"-output.txt 2>/dev/null \
    | grep -aE '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)|^Done [0-9]+ runs' | tail -n2 | tr '\n' ' ' || true)"
  took=$(( $(date +%s) - start ))
  if (( rc != 0 )); then
    found=1
    summary+=("$target: FAILED after $took s (Maven exit $rc): a finding or a broken run, see $log")
  else
    summary+=("$target: no finding in $took s; ${last:-no libFuzzer status line in $log}")
  fi
  echo "${summary[-1]}"
done

echo
echo "== summary (duration $duration per target) =="
printf '%s\n' "${summary[@]}"
new_seeds="$(find connectors/src/test/resources -path '*FuzzTestInputs*' -type f | sort | comm -13 "$seeds_before" - || true)"
if [[ -n "$new_seeds" ]]; then
  echo "new inputs in the seed folders (findings: make each a corpus entry and a fix, docs/bad-inputs.md):"
  echo "$new_seeds"
fi
exit "$found"
