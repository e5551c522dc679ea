# Helpers for the smoke scripts (sourced). Each smoke script runs the product's own launchers end to end.

# Runs "$@", teeing its output to $log, and returns its exit code; says clearly when the process was killed by
# a signal (exit code > 128), which for a JVM usually means a native crash (see hs_err_pid*.log in the
# crash directory, $XRAY_CRASH_DIR or /tmp) or the kernel's OOM killer.
smoke_run() {
  local log="$1"; shift
  local rc
  echo "+ $*"
  set +e
  "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  set -e
  if (( rc > 128 )); then
    local sig=$(( rc - 128 ))
    echo "SMOKE FAILURE: '$1' was KILLED BY SIGNAL $sig ($(kill -l "$sig" 2>/dev/null || echo '?')), exit code $rc;" \
         "a JVM crash report, if any, is in ${XRAY_CRASH_DIR:-${TMPDIR:-/tmp}}/xray-screening-hs_err_pid*.log" >&2
    ls -t "${XRAY_CRASH_DIR:-${TMPDIR:-/tmp}}"/xray-screening-hs_err_pid*.log 2>/dev/null | head -1 | while read -r f; do
      echo "--- newest crash report: $f" >&2; sed -n "1,40p" "$f" >&2; done || true
  elif (( rc != 0 )); then
    echo "SMOKE FAILURE: '$*' exited with $rc" >&2
  fi
  return "$rc"
}

smoke_fail() {
  echo "SMOKE FAILURE: $*" >&2
  exit 1
}
