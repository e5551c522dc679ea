#!/usr/bin/env bash
# A real standalone Flink cluster and a Kafka broker on this machine, each its own JVM: 1 JobManager, N
# TaskManagers (default 2) and one Kafka 4.2 broker (KRaft, combined broker + controller) with its own log
# directory. flink-dist is not on Maven Central, so Flink's lib/ is assembled from the jars that are
# (scripts/cluster/pom.xml): flink-runtime (StandaloneSessionClusterEntrypoint, TaskManagerRunner), flink-clients
# (CliFrontend), log4j, and DJL + PyTorch parent-first exactly as docker/stream-job and the Helm chart do.
#
#   scripts/cluster.sh start [--taskmanagers N] [--tm-memory SIZE]   assemble lib/, write conf/, start everything
#   scripts/cluster.sh status                                        processes, ports, jobs
#   scripts/cluster.sh stop                                          stop every process this cluster started
#   scripts/cluster.sh submit [--from-savepoint PATH] [JOB OPTIONS...]  flink run -d the cluster job jar
#   scripts/cluster.sh flink ARGS...                                 Flink's CLI against this cluster (list, stop, run ...)
#   scripts/cluster.sh kill-taskmanager N | start-taskmanager N      kill -9 / (re)start TaskManager N
#   scripts/cluster.sh kill-kafka | start-kafka                      kill -9 / (re)start the broker on the same log dir
#   scripts/cluster.sh env                                           the cluster's ports and paths as shell variables
#
# Everything lives in XRAY_CLUSTER_DIR (default ${TMPDIR:-/tmp}/xray-cluster): conf/, log/, pids/, kafka-data/,
# checkpoints/, savepoints/, cluster.env. Ports are picked free at start and kept for restarts (a restarted broker
# must come back where its clients look for it). The assembled jars are cached in scripts/cluster/target/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${XRAY_CLUSTER_DIR:-${TMPDIR:-/tmp}/xray-cluster}"
cache="$root/scripts/cluster/target"
flink_lib="$cache/flink-lib"
kafka_lib="$cache/kafka-lib"
job_jar="$root/stream-job/target/stream-job-0.1.0-SNAPSHOT-cluster.jar"

# The module opens Flink's own launch scripts pass on Java 17 (its default config.yaml, env.java.opts.all).
flink_java_opts=(--add-exports=java.base/sun.net.util=ALL-UNNAMED --add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED
  --add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED
  --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.net=ALL-UNNAMED
  --add-opens=java.base/java.io=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED
  --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/java.lang.reflect=ALL-UNNAMED
  --add-opens=java.base/java.text=ALL-UNNAMED --add-opens=java.base/java.time=ALL-UNNAMED
  --add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.util.concurrent=ALL-UNNAMED
  --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED --add-opens=java.base/java.util.concurrent.locks=ALL-UNNAMED
  -Djava.awt.headless=true)

die() { echo "cluster.sh: $*" >&2; exit 1; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

load_env() {
  [[ -f "$dir/cluster.env" ]] || die "no cluster in $dir (scripts/cluster.sh start)"
  # shellcheck disable=SC1091
  source "$dir/cluster.env"
}

# copy-dependencies once; a marker file says the folder is complete.
assemble_libs() {
  local profile
  for profile in flink-lib kafka-lib; do
    if [[ ! -f "$cache/$profile/.complete" ]]; then
      echo "assembling $cache/$profile from Maven ..."
      rm -rf "${cache:?}/$profile"
      mvn -B -q ${MVN_OFFLINE:-} -f "$root/scripts/cluster/pom.xml" -P "$profile" \
        org.apache.maven.plugins:maven-dependency-plugin:3.9.0:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$cache/$profile" >/dev/null
      touch "$cache/$profile/.complete"
    fi
  done
}

write_conf() {
  mkdir -p "$dir/conf" "$dir/log" "$dir/pids" "$dir/checkpoints" "$dir/savepoints" "$dir/kafka-data"
  rm -f "$dir/conf/tm-resource-params"
  cat > "$dir/cluster.env" <<EOF
XRAY_CLUSTER_DIR=$dir
REST_PORT=$(free_port)
RPC_PORT=$(free_port)
KAFKA_PORT=$(free_port)
CONTROLLER_PORT=$(free_port)
TASKMANAGERS=$taskmanagers
TM_MEMORY=$tm_memory
TM_METRICS_PORTS="$(for _ in $(seq "$taskmanagers"); do printf '%s ' "$(free_port)"; done)"
EOF
  load_env
  cat > "$dir/conf/config.yaml" <<EOF
# Written by scripts/cluster.sh: one machine, 1 JobManager + $TASKMANAGERS TaskManagers as separate JVMs.
jobmanager.rpc.address: 127.0.0.1
jobmanager.bind-host: 127.0.0.1
jobmanager.rpc.port: $RPC_PORT
rest.address: 127.0.0.1
rest.bind-address: 127.0.0.1
rest.port: $REST_PORT
taskmanager.host: 127.0.0.1
taskmanager.bind-host: 127.0.0.1
jobmanager.memory.process.size: 768m
# One slot per TaskManager: a job of parallelism 2 runs one slice of the pipeline (all four models) on each.
taskmanager.numberOfTaskSlots: 1
taskmanager.memory.process.size: $TM_MEMORY
# No RocksDB: the heap state backend needs (almost) no managed memory, and PyTorch's native memory is
# outside Flink's accounting, so the process size above is the JVM's share only.
taskmanager.memory.managed.fraction: 0.05
# DJL reads model parameters through direct buffers: with the default (0) four networks loading in one
# TaskManager failed with "OutOfMemoryError: Direct buffer memory" and the job restarted forever.
taskmanager.memory.task.off-heap.size: 512m
parallelism.default: 2
cluster.evenly-spread-out-slots: true
state.backend.type: hashmap
execution.checkpointing.dir: file://$dir/checkpoints
execution.checkpointing.savepoint-dir: file://$dir/savepoints
execution.checkpointing.num-retained: 2
restart-strategy.type: exponential-delay
restart-strategy.exponential-delay.initial-backoff: 1 s
restart-strategy.exponential-delay.max-backoff: 10 s
restart-strategy.exponential-delay.attempts-before-reset-backoff: 1000
# A TaskManager killed with -9 is declared lost after this long (default 50 s); its slot is then freed.
heartbeat.interval: 2000
heartbeat.timeout: 10000
# DJL (and PyTorch's native library) is loaded once per TaskManager from lib/, not per job from the job jar.
classloader.parent-first-patterns.additional: ai.djl.
EOF
  cat > "$dir/conf/log4j.properties" <<'EOF'
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = MainAppender
appender.main.name = MainAppender
appender.main.type = File
appender.main.append = true
appender.main.fileName = ${sys:log.file}
appender.main.layout.type = PatternLayout
appender.main.layout.pattern = %d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %-60c %x - %m%n
logger.kafka.name = org.apache.kafka
logger.kafka.level = WARN
EOF
  cp "$dir/conf/log4j.properties" "$dir/conf/log4j-cli.properties"
  cat > "$dir/conf/kafka-log4j2.properties" <<EOF
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = File
appender.file.name = File
appender.file.type = File
appender.file.fileName = $dir/log/kafka.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
EOF
  cat > "$dir/conf/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/kafka-data
num.partitions=2
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
default.replication.factor=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
transaction.max.timeout.ms=900000
auto.create.topics.enable=false
message.max.bytes=$((48 << 20))
replica.fetch.max.bytes=$((48 << 20))
EOF
}

pid_of() { cat "$dir/pids/$1.pid" 2>/dev/null || true; }
# A process killed with -9 stays a zombie until its parent reaps it, and kill -0 still succeeds on a zombie.
alive() {
  local p state
  p="$(pid_of "$1")"
  [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null || return 1
  state="$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null || echo X)"
  [[ "$state" != Z && "$state" != X ]]
}

# kill_9 NAME: SIGKILL, then wait until the process is really gone (its ports free) before returning.
kill_9() {
  local p i
  p="$(pid_of "$1")"; [[ -n "$p" ]] || die "no $1"
  kill -KILL "$p"
  for ((i = 0; i < 100; i++)); do alive "$1" || break; sleep 0.1; done
  alive "$1" && die "$1 (pid $p) still alive 10 s after SIGKILL"
  echo "killed $1 (pid $p) with SIGKILL"
}

# spawn NAME LOGFILE CMD...: starts CMD in the background (its own process group) and records its pid.
spawn() {
  local name="$1" log="$2"; shift 2
  alive "$name" && die "$name is already running (pid $(pid_of "$name"))"
  setsid "$@" >>"$log" 2>&1 < /dev/null &
  echo $! > "$dir/pids/$name.pid"
}

# BashJavaUtils is what Flink's own bin/ scripts call to turn the memory settings into JVM flags (-Xmx ...)
# and dynamic properties; its result lines carry this prefix.
resource_params() {
  local out
  out="$(java -Xmx128m -cp "$flink_lib/*" -Dlog4j2.configurationFile="file:$dir/conf/log4j-cli.properties" \
    -Dlog.file="$dir/log/bash-java-utils.log" org.apache.flink.runtime.util.bash.BashJavaUtils "$1" \
    --configDir "$dir/conf" 2>&1)" || die "BashJavaUtils $1 failed: $out"
  grep '^BASH_JAVA_UTILS_EXEC_RESULT:' <<<"$out" | sed 's/^BASH_JAVA_UTILS_EXEC_RESULT://'
}

start_jobmanager() {
  local params jvm dyn
  params="$(resource_params GET_JM_RESOURCE_PARAMS)"
  jvm="$(sed -n 1p <<<"$params")"; dyn="$(sed -n 2p <<<"$params")"
  # shellcheck disable=SC2086
  spawn jobmanager "$dir/log/jobmanager.out" java $jvm "${flink_java_opts[@]}" \
    -Dlog.file="$dir/log/jobmanager.log" -Dlog4j2.configurationFile="file:$dir/conf/log4j.properties" \
    -cp "$flink_lib/*" org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint \
    --configDir "$dir/conf" --executionMode cluster $dyn
}

start_taskmanager() {
  local n="$1" params jvm dyn ports metrics_port
  load_env
  read -r -a ports <<<"$TM_METRICS_PORTS"
  metrics_port="${ports[$((n - 1))]:-0}"
  # the same for every TaskManager: worked out once (a JVM start is seconds on a busy machine)
  [[ -s "$dir/conf/tm-resource-params" ]] || resource_params GET_TM_RESOURCE_PARAMS > "$dir/conf/tm-resource-params"
  params="$(cat "$dir/conf/tm-resource-params")"
  jvm="$(sed -n 1p <<<"$params")"; dyn="$(sed -n 2p <<<"$params")"
  # jemalloc, OMP wait policy and crash-report location for the JVMs that run PyTorch (scripts/native-env.sh).
  # xray.metrics.port: each TaskManager on this host serves the job's Prometheus metrics on its own port.
  # shellcheck disable=SC2086,SC1091
  (source "$root/scripts/native-env.sh" && \
    spawn "taskmanager-$n" "$dir/log/taskmanager-$n.out" java $jvm "${flink_java_opts[@]}" $XRAY_NATIVE_JAVA_OPTS \
      -Dai.djl.offline=true -Dxray.metrics.port="$metrics_port" ${XRAY_TM_JAVA_OPTS:-} \
      -Dlog.file="$dir/log/taskmanager-$n.log" -Dlog4j2.configurationFile="file:$dir/conf/log4j.properties" \
      -cp "$flink_lib/*" org.apache.flink.runtime.taskexecutor.TaskManagerRunner --configDir "$dir/conf" $dyn)
}

start_kafka() {
  load_env
  if [[ ! -f "$dir/kafka-data/meta.properties" ]]; then
    local id
    id="$(java -Xmx128m -cp "$kafka_lib/*" kafka.tools.StorageTool random-uuid)"
    java -Xmx256m -Dlog4j2.configurationFile="file:$dir/conf/kafka-log4j2.properties" -cp "$kafka_lib/*" \
      kafka.tools.StorageTool format -t "$id" -c "$dir/conf/server.properties" >> "$dir/log/kafka.out" 2>&1 \
      || die "formatting the broker's log directory failed: see $dir/log/kafka.out"
  fi
  spawn kafka "$dir/log/kafka.out" java -Xmx512m -Xms256m -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="file:$dir/conf/kafka-log4j2.properties" -cp "$kafka_lib/*" \
    kafka.Kafka "$dir/conf/server.properties"
}

wait_port() { # wait_port PORT NAME SECONDS
  local i
  for ((i = 0; i < $3 * 5; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    alive "$2" || die "$2 died while starting: see $dir/log/"
    sleep 0.2
  done
  die "$2 did not open port $1 within $3 s: see $dir/log/"
}

# Registered TaskManagers, from the JobManager's REST API.
registered_taskmanagers() {
  curl -fsS "http://127.0.0.1:$REST_PORT/taskmanagers" 2>/dev/null | python3 -c \
    'import json,sys; print(len(json.load(sys.stdin)["taskmanagers"]))' 2>/dev/null || echo 0
}

flink_cli() {
  load_env
  FLINK_CONF_DIR="$dir/conf" java -Xmx256m "${flink_java_opts[@]}" -Dlog.file="$dir/log/cli.log" \
    -Dlog4j2.configurationFile="file:$dir/conf/log4j-cli.properties" -cp "$flink_lib/*" \
    org.apache.flink.client.cli.CliFrontend "$@"
}

cmd="${1:-}"; shift || true
case "$cmd" in
  start)
    taskmanagers=2; tm_memory=2560m
    while [[ $# -gt 0 ]]; do
      case "$1" in
        --taskmanagers) taskmanagers="$2"; shift 2 ;;
        --tm-memory) tm_memory="$2"; shift 2 ;;
        *) die "unknown option $1" ;;
      esac
    done
    [[ -f "$dir/cluster.env" ]] && alive jobmanager && die "a cluster is already running in $dir (stop it first)"
    assemble_libs
    write_conf
    start_kafka
    start_jobmanager
    for n in $(seq "$TASKMANAGERS"); do start_taskmanager "$n"; done
    wait_port "$KAFKA_PORT" kafka 60
    wait_port "$REST_PORT" jobmanager 60
    for ((i = 0; i < 300; i++)); do
      [[ "$(registered_taskmanagers)" -ge "$TASKMANAGERS" ]] && break
      sleep 0.2
    done
    [[ "$(registered_taskmanagers)" -ge "$TASKMANAGERS" ]] || die "TaskManagers did not register within 60 s: see $dir/log/"
    echo "cluster up in $dir: Flink REST http://127.0.0.1:$REST_PORT ($TASKMANAGERS TaskManagers), Kafka 127.0.0.1:$KAFKA_PORT"
    ;;
  stop)
    [[ -d "$dir/pids" ]] || exit 0
    for f in "$dir"/pids/*.pid; do
      [[ -e "$f" ]] || continue
      p="$(cat "$f")"
      kill -TERM "$p" 2>/dev/null || true
    done
    for ((i = 0; i < 50; i++)); do
      left=0
      for f in "$dir"/pids/*.pid; do [[ -e "$f" ]] && kill -0 "$(cat "$f")" 2>/dev/null && left=1; done
      [[ $left == 0 ]] && break
      sleep 0.2
    done
    for f in "$dir"/pids/*.pid; do
      [[ -e "$f" ]] || continue
      kill -KILL "$(cat "$f")" 2>/dev/null || true
      rm -f "$f"
    done
    echo "cluster in $dir stopped"
    ;;
  status)
    load_env
    for f in "$dir"/pids/*.pid; do
      [[ -e "$f" ]] || continue
      name="$(basename "$f" .pid)"
      if alive "$name"; then echo "$name: running (pid $(pid_of "$name"))"; else echo "$name: not running"; fi
    done
    echo "Flink REST http://127.0.0.1:$REST_PORT, registered TaskManagers: $(registered_taskmanagers)"
    echo "Kafka 127.0.0.1:$KAFKA_PORT"
    ;;
  env)
    load_env
    cat "$dir/cluster.env"
    ;;
  submit)
    [[ -f "$job_jar" ]] || die "no $job_jar: mvn -B -DskipTests -pl stream-job -am package"
    load_env
    run_opts=()
    if [[ "${1:-}" == --from-savepoint ]]; then run_opts=(--fromSavepoint "$2"); shift 2; fi
    flink_cli run -d "${run_opts[@]}" -c org.xrayscreening.stream.ScreeningJob "$job_jar" \
      --bootstrap-servers "127.0.0.1:$KAFKA_PORT" "$@"
    ;;
  flink)
    load_env
    flink_cli "$@"
    ;;
  kill-taskmanager)
    kill_9 "taskmanager-${1:?N}"
    ;;
  start-taskmanager)
    load_env; start_taskmanager "${1:?N}"; echo "taskmanager-$1 started (pid $(pid_of "taskmanager-$1"))"
    ;;
  kill-kafka)
    kill_9 kafka
    ;;
  start-kafka)
    load_env; start_kafka; wait_port "$KAFKA_PORT" kafka 60; echo "kafka started (pid $(pid_of kafka)) on $dir/kafka-data"
    ;;
  *)
    sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
    [[ -z "$cmd" || "$cmd" == help || "$cmd" == --help ]] || exit 2
    ;;
esac
