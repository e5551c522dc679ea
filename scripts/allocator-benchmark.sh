#!/usr/bin/env bash
# Compares native memory allocators for PyTorch (DJL) in this project: each configuration runs the same
# inference and training workloads in a fresh JVM, configurations alternating within each round so that a
# shared machine's noise spreads over all of them. Prints a Markdown table (img/s, peak RSS, kernel-time share,
# minor page faults) with the CPU model; progress goes to stderr.
#
#   scripts/allocator-benchmark.sh [--rounds 2] [--configs glibc,glibc-tuned,jemalloc,jemalloc-decay,tcmalloc]
#
# ALLOC_BENCH_OUT=DIR keeps the raw outputs there (default: a new temporary folder, printed).
# Needs: the models module compiled (mvn -B -q -pl models compile) and Debian's libjemalloc2 and
# libtcmalloc-minimal4 (a missing library skips its configurations). Results: docs/benchmarks.md.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
rounds=2
configs="glibc,glibc-tuned,jemalloc,jemalloc-decay,tcmalloc"
infer_args="--arch resnet50,xception --batch 1,8 --min-seconds 6 --min-iterations 4 --warmup 2"
train_args="--arch mobilenet,resnet50 --steps 5 --train-batch 16 --infer-batch 0 --rounds 1"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --configs) configs="$2"; shift 2 ;;
    --inference-args) infer_args="$2"; shift 2 ;;
    --training-args) train_args="$2"; shift 2 ;;
    -h|--help) sed -n 2,12p "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

cd "$root/models"
[[ -d target/classes ]] || mvn -B -q compile
[[ -s target/classpath.txt && pom.xml -ot target/classpath.txt ]] || mvn -B -q dependency:build-classpath -Dmdep.outputFile=target/classpath.txt >/dev/null
cp="target/classes:$(cat target/classpath.txt)"
jemalloc=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
tcmalloc=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
out="${ALLOC_BENCH_OUT:-$(mktemp -d -t allocator-benchmark.XXXXXX)}"
mkdir -p "$out"
echo "raw outputs in $out" >&2

# env assignments for one configuration (empty output: skip it)
config_env() {
  case "$1" in
    glibc) echo "XRAY_BENCH=glibc" ;;
    # no mmap for big blocks and no trimming: glibc keeps freed tensors in its heap instead of unmapping them
    glibc-tuned) echo "MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=4294967295 MALLOC_TOP_PAD_=268435456" ;;
    jemalloc) [[ -e $jemalloc ]] && echo "LD_PRELOAD=$jemalloc MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1" ;;
    jemalloc-decay) [[ -e $jemalloc ]] && echo "LD_PRELOAD=$jemalloc MALLOC_CONF=dirty_decay_ms:10000,muzzy_decay_ms:10000" ;;
    jemalloc-default) [[ -e $jemalloc ]] && echo "LD_PRELOAD=$jemalloc" ;;
    tcmalloc) [[ -e $tcmalloc ]] && echo "LD_PRELOAD=$tcmalloc" ;;
    *) echo "unknown configuration $1" >&2; exit 2 ;;
  esac
}

run() { # config workload round
  local env_line; env_line="$(config_env "$1")" || true
  [[ -n "$env_line" ]] || { echo "skip $1 (library missing)" >&2; return 0; }
  local main args
  if [[ $2 == inference ]]; then main=org.xrayscreening.models.bench.InferenceBenchmark; args="$infer_args --threads 2"
  else main=org.xrayscreening.models.bench.TrainingBenchmark; args="$train_args --threads 2"; fi
  echo "[$(date +%T)] round $3: $1 $2 ($env_line)" >&2
  # shellcheck disable=SC2086
  env -u LD_PRELOAD -u MALLOC_CONF $env_line OMP_WAIT_POLICY=PASSIVE \
    /usr/bin/time -f "%M %S %U %R" -o "$out/$1.$2.$3.time" \
    java -Xmx6g -Dai.djl.offline=true -cp "$cp" $main $args > "$out/$1.$2.$3.md" 2> "$out/$1.$2.$3.log" \
    || { echo "  failed: see below" >&2; tail -5 "$out/$1.$2.$3.log" >&2; return 0; }
}

IFS=, read -ra list <<< "$configs"
for ((r = 1; r <= rounds; r++)); do
  for c in "${list[@]}"; do run "$c" inference "$r"; run "$c" training "$r"; done
done

cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') (family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' '))"
echo "Allocators compared $(date -u +%FT%TZ) on $cpu, $(nproc) cores; $rounds round(s), each configuration in a fresh JVM."
echo "Inference: InferenceBenchmark $infer_args. Training: TrainingBenchmark $train_args."
echo
# columns: every "model input batch" of the inference table, every model of the training table
python3 - "$out" "$rounds" "${list[@]}" <<'PY'
import re, sys, os, statistics
out, rounds, configs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def rows(path, kind):
    res = {}
    if not os.path.exists(path): return res
    header = None
    for line in open(path):
        c = [x.strip() for x in line.strip().strip('|').split('|')]
        # InferenceBenchmark's table: found by its header, so added columns do not break the parse
        if kind == 'inference' and c[:3] == ['model', 'input', 'batch']:
            header = c
            continue
        if kind == 'inference' and header and len(c) == len(header) and c[2].isdigit():
            row = dict(zip(header, c))
            if row.get('variant', 'fp32') in ('fp32', 'fp32 folded'):
                res[f"{c[0]} {c[1]} b{c[2]} infer"] = float(row['img/s'])
        # TrainingBenchmark: model | layout | round | input | train img/s | train CPU s/img | ...
        if kind == 'training' and len(c) == 8 and c[2].isdigit():
            res[f"{c[0]} {c[3]} train"] = float(c[4])
    return res
cols, data, mem = [], {}, {}
for cfg in configs:
    for r in range(1, rounds + 1):
        for kind in ('inference', 'training'):
            for k, v in rows(f"{out}/{cfg}.{kind}.{r}.md", kind).items():
                if k not in cols: cols.append(k)
                data.setdefault((cfg, k), []).append(v)
            t = f"{out}/{cfg}.{kind}.{r}.time"
            if os.path.exists(t):
                f = open(t).read().split()
                try:
                    rss, sys_s, usr_s, minflt = int(f[-4]), float(f[-3]), float(f[-2]), int(f[-1])
                    m = mem.setdefault((cfg, kind), [])
                    m.append((rss, sys_s / max(sys_s + usr_s, 1e-9), minflt))
                except (ValueError, IndexError):
                    pass
base = 'glibc'
print("| allocator | " + " | ".join(cols) + " | peak RSS infer / train (GB) | kernel time infer / train | minor faults train |")
print("| --- | " + " | ".join("---:" for _ in cols) + " | ---: | ---: | ---: |")
for cfg in configs:
    cells = []
    for k in cols:
        v = data.get((cfg, k))
        if not v: cells.append("-"); continue
        med = statistics.median(v)
        b = data.get((base, k))
        ratio = f" ({med / statistics.median(b):.1f}x)" if b and cfg != base else ""
        cells.append(f"{med:.1f}{ratio}")
    def m(kind, i, fmt):
        v = mem.get((cfg, kind))
        return fmt(max(x[i] for x in v)) if v else "-"
    print(f"| {cfg} | " + " | ".join(cells) + f" | {m('inference',0,lambda x: f'{x/1048576:.2f}')} / {m('training',0,lambda x: f'{x/1048576:.2f}')}"
          f" | {m('inference',1,lambda x: f'{x:.0%}')} / {m('training',1,lambda x: f'{x:.0%}')} | {m('training',2,lambda x: f'{x:,}')} |")
print()
print("img/s, median over rounds; in brackets the ratio to glibc in the same run.")
PY
