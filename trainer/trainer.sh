#!/usr/bin/env bash
# Runs the trainer CLI (org.xrayscreening.trainer.TrainerCli) from this checkout: the trainer's runnable shaded
# jar, trainer/target/trainer-0.1.0-SNAPSHOT.jar, built with Maven first when it is missing or older than the
# sources (as ./xray-screening does for the job jar). Relative paths in the arguments are taken from the
# directory it was started in. JAVA_OPTS defaults to -Xmx8g.
# `trainer.sh --freeze DIR` copies the jar to DIR; with TRAINER_FROZEN=DIR later runs use that copy, so long
# experiments survive rebuilds of the working tree.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
jar="$here/target/trainer-0.1.0-SNAPSHOT.jar"

stale() {
  [[ ! -f "$jar" ]] || [[ -n "$(cd "$root" && find pom.xml models connectors trainer -newer "$jar" \( -name '*.java' -o -name 'pom.xml' -o -name '*.properties' -o -name '*.xml' \) -not -path '*/target/*' -print -quit)" ]]
}

if [[ -z "${TRAINER_FROZEN:-}" || "${1:-}" == "--freeze" ]] && stale; then
  echo "building the trainer jar (first time: a few minutes, Maven downloads dependencies) ..." >&2
  (cd "$root" && mvn -B -q -DskipTests -pl trainer -am install >&2)
fi

if [[ "${1:-}" == "--freeze" ]]; then
  dir="${2:?usage: trainer.sh --freeze DIR}"
  rm -rf "$dir"; mkdir -p "$dir"
  cp "$jar" "$dir/trainer.jar"
  echo "frozen to $dir (run with TRAINER_FROZEN=$dir)"; exit 0
fi
if [[ -n "${TRAINER_FROZEN:-}" ]]; then
  jar="$TRAINER_FROZEN/trainer.jar"
  [[ -f "$jar" ]] || { echo "TRAINER_FROZEN=$TRAINER_FROZEN has no trainer.jar (make it with trainer.sh --freeze DIR)" >&2; exit 2; }
fi

# jemalloc, OMP wait policy, crash-report location: one place for every launcher.
source "$root/scripts/native-env.sh"
echo "native allocator: $XRAY_NATIVE_ALLOCATOR" >&2
# A native crash inside oneDNN on a CPU nobody tried is retried once with a safe ISA (native-env.sh).
# shellcheck disable=SC2086  # word splitting of the option strings is intended
xray_run_guarded java ${JAVA_OPTS:--Xmx8g} $XRAY_NATIVE_JAVA_OPTS -Dai.djl.offline=true -Djava.awt.headless=true \
  -jar "$jar" "$@"
