#!/usr/bin/env bash
# Checks scripts/native-env.sh without a JVM: the allocator choice and the oneDNN crash guard (a fake command
# that "crashes" like the JVM does: writes an hs_err report naming a oneDNN frame and dies of SIGFPE).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

( XRAY_ALLOCATOR=glibc; LD_PRELOAD=; source "$here/native-env.sh"
  [[ -z "${LD_PRELOAD:-}" ]] || fail "glibc must not preload anything"
  [[ "$XRAY_NATIVE_ALLOCATOR" == glibc* ]] || fail "glibc choice not reported" )
( unset XRAY_ALLOCATOR; LD_PRELOAD=; source "$here/native-env.sh"
  if [[ -e /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 ]]; then
    [[ "$LD_PRELOAD" == */libjemalloc.so.2 ]] || fail "jemalloc installed but not preloaded"
    [[ "$MALLOC_CONF" == *dirty_decay_ms* ]] || fail "MALLOC_CONF not set"
  fi
  [[ "$XRAY_NATIVE_JAVA_OPTS" == *-XX:ErrorFile=* ]] || fail "crash reports not redirected" )
( XRAY_ALLOCATOR=bogus; source "$here/native-env.sh" ) 2>/dev/null && fail "a bogus allocator must be refused"

export XRAY_CRASH_DIR="$tmp/crash"
source "$here/native-env.sh"
cat > "$tmp/fake-jvm.sh" <<'FAKE'
#!/usr/bin/env bash
echo "run with ONEDNN_MAX_CPU_ISA=${ONEDNN_MAX_CPU_ISA:-unset}" >> "$RUNS"
if [[ -z "${ONEDNN_MAX_CPU_ISA:-}" ]]; then
  printf 'C  [libtorch_cpu.so+0x1]  dnnl::impl::cpu::x64::brgemm_convolution_bwd_utils::brg_blocking_t::est_eff_1x1()+0x2a\n' \
    > "$XRAY_CRASH_DIR/xray-screening-hs_err_pid$$.log"
  kill -FPE $$
fi
exit "${EXIT_CODE:-0}"
FAKE
chmod +x "$tmp/fake-jvm.sh"
export RUNS="$tmp/runs"

xray_run_guarded "$tmp/fake-jvm.sh" 2> "$tmp/err" || fail "the retry should have succeeded"
[[ "$(wc -l < "$RUNS")" == 2 ]] || fail "expected two runs, got: $(cat "$RUNS")"
grep -q "run with ONEDNN_MAX_CPU_ISA=AVX" "$RUNS" || fail "the retry did not set ONEDNN_MAX_CPU_ISA=AVX"
[[ "$(grep -c 'native crash in oneDNN' "$tmp/err")" == 1 ]] || fail "the guard must explain itself in one line: $(cat "$tmp/err")"
grep -q "est_eff_1x1\|dnnl::" "$tmp/err" || fail "the line should name the oneDNN frame: $(cat "$tmp/err")"

rm -f "$RUNS"
code=0; EXIT_CODE=3 ONEDNN_MAX_CPU_ISA=AVX xray_run_guarded "$tmp/fake-jvm.sh" 2>/dev/null || code=$?
[[ "$code" == 3 ]] || fail "an ordinary failure must keep its exit code, got $code"
[[ "$(wc -l < "$RUNS")" == 1 ]] || fail "an ordinary failure must not be retried"

rm -f "$RUNS"
code=0; ONEDNN_MAX_CPU_ISA=AVX2 xray_run_guarded bash -c 'echo x >> "$RUNS"; printf "dnnl::x\n" > "$XRAY_CRASH_DIR/xray-screening-hs_err_pid$$.log"; kill -FPE $$' 2>/dev/null || code=$?
[[ "$code" == 136 ]] || fail "a crash under a user-set ISA must not be retried (exit $code)"
[[ "$(wc -l < "$RUNS")" == 1 ]] || fail "retried although the user chose the ISA"
echo "native-env.sh: ok"
