# Native runtime settings for every JVM of this project that runs PyTorch through DJL. Sourced (not run) by
# ./xray-screening, trainer/trainer.sh, .ci/run, the Docker entrypoints and the standalone cluster scripts, so
# the choice lives in this one file. Override with the variables below; `XRAY_ALLOCATOR=glibc` turns it off.
#
#   XRAY_ALLOCATOR   jemalloc (default) | tcmalloc | glibc
#   XRAY_CRASH_DIR   where a JVM crash report (hs_err_pid*.log) goes; default ${TMPDIR:-/tmp}, never the checkout
#
# Why an allocator at all: glibc malloc hands every block above 32 MB to mmap and unmaps it on free, so each
# forward/backward pass maps, faults in and zeroes hundreds of megabytes again; jemalloc keeps them. Measured
# 2.6-7x faster inference and ~3x faster training (docs/benchmarks.md, "Memory allocator").
# Exports: LD_PRELOAD / MALLOC_CONF (or TCMALLOC_*), OMP_WAIT_POLICY, XRAY_NATIVE_JAVA_OPTS (JVM flags) and
# XRAY_NATIVE_ALLOCATOR (what was chosen, for the one-line log).

xray_find_lib() {
  local name="$1" dir
  for dir in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib; do
    if [[ -e "$dir/$name" ]]; then echo "$dir/$name"; return 0; fi
  done
  return 1
}

xray_preload() {
  case ":${LD_PRELOAD:-}:" in
    *":$1:"*) ;;
    *) export LD_PRELOAD="$1${LD_PRELOAD:+:$LD_PRELOAD}" ;;
  esac
}

case "${XRAY_ALLOCATOR:-jemalloc}" in
  jemalloc)
    if lib="$(xray_find_lib libjemalloc.so.2)"; then
      xray_preload "$lib"
      # Never give freed pages back (decay off): the same tensor sizes come back on every pass.
      export MALLOC_CONF="${MALLOC_CONF:-dirty_decay_ms:-1,muzzy_decay_ms:-1}"
      XRAY_NATIVE_ALLOCATOR="jemalloc ($lib, MALLOC_CONF=$MALLOC_CONF)"
    else
      XRAY_NATIVE_ALLOCATOR="glibc (libjemalloc.so.2 not found: apt-get install libjemalloc2 makes PyTorch 1.1-3x faster)"
    fi ;;
  tcmalloc)
    if lib="$(xray_find_lib libtcmalloc_minimal.so.4)"; then
      xray_preload "$lib"
      XRAY_NATIVE_ALLOCATOR="tcmalloc ($lib)"
    else
      XRAY_NATIVE_ALLOCATOR="glibc (libtcmalloc_minimal.so.4 not found: apt-get install libtcmalloc-minimal4)"
    fi ;;
  glibc)
    XRAY_NATIVE_ALLOCATOR="glibc (XRAY_ALLOCATOR=glibc)" ;;
  *)
    echo "XRAY_ALLOCATOR must be jemalloc, tcmalloc or glibc, was '${XRAY_ALLOCATOR}'" >&2; return 2 2>/dev/null || exit 2 ;;
esac
export XRAY_NATIVE_ALLOCATOR

# libtorch's OpenMP threads spin-wait by default, which starves the other operators on few cores.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"

# A JVM crash report belongs in a crash directory, not in the working tree the command was started from.
xray_crash_dir="${XRAY_CRASH_DIR:-${TMPDIR:-/tmp}}"
mkdir -p "$xray_crash_dir" 2>/dev/null || true
export XRAY_NATIVE_JAVA_OPTS="-XX:ErrorFile=$xray_crash_dir/xray-screening-hs_err_pid%p.log -XX:ReplayDataFile=$xray_crash_dir/xray-screening-replay_pid%p.log"
unset lib xray_crash_dir

# xray_run_guarded CMD...: runs a JVM command; if it dies of a native crash inside oneDNN (PyTorch's CPU kernels),
# says so in one line and runs it once more with ONEDNN_MAX_CPU_ISA=AVX, a setting that avoids the AVX2/AVX-512
# kernels (slower convolutions). The networks are built so that the one crash known on AMD Zen 5 cannot happen
# (models/.../network/StrideFreePointwise.java); this is the net under it, for CPUs nobody has tried yet. Only
# for commands that can simply start again (the local run, the trainer's train/evaluate). Returns the exit code.
xray_run_guarded() {
  local dir="${XRAY_CRASH_DIR:-${TMPDIR:-/tmp}}" before code report
  before="$(ls "$dir"/xray-screening-hs_err_pid*.log 2>/dev/null || true)"
  xray_run_forwarding "$@" && return 0 || code=$?
  # 128 + signal: SIGILL 132, SIGABRT 134, SIGFPE 136, SIGSEGV 139; a JVM that crashes natively exits 134
  case "$code" in 132|134|136|139) ;; *) return "$code" ;; esac
  report="$(comm -13 <(echo "$before") <(ls "$dir"/xray-screening-hs_err_pid*.log 2>/dev/null || true) | tail -n1)"
  if [[ -n "${ONEDNN_MAX_CPU_ISA:-}" || -z "$report" ]] || ! grep -q -E 'dnnl|mkldnn|ideep' "$report"; then
    echo "the JVM died of a native crash (exit $code); crash report: ${report:-none}" >&2
    return "$code"
  fi
  echo "native crash in oneDNN on this CPU ($(grep -m1 -o -E 'dnnl::[A-Za-z0-9_:]+' "$report" || echo 'see report')); retrying once with ONEDNN_MAX_CPU_ISA=AVX (slower convolutions); crash report: $report" >&2
  ONEDNN_MAX_CPU_ISA=AVX xray_run_forwarding "$@"
}

# xray_run_forwarding CMD...: runs CMD as a child (not exec: the guard above needs its exit code) and forwards
# Ctrl-C and SIGTERM to it as SIGTERM, so the JVM's shutdown hooks stop Flink and Kafka cleanly. stdin stays
# the caller's (an async command would otherwise read /dev/null). Returns the child's exit code.
xray_run_forwarding() {
  local pid code
  "$@" <&0 &
  pid=$!
  trap 'kill -TERM "$pid" 2>/dev/null || true' INT TERM
  while true; do
    code=0; wait "$pid" || code=$?
    kill -0 "$pid" 2>/dev/null || break   # wait was interrupted by a forwarded signal: wait again
  done
  trap - INT TERM
  return "$code"
}
