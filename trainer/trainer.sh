#!/usr/bin/env bash
# Runs the trainer CLI from this checkout (after `mvn -pl trainer -am install -DskipTests`).
# JAVA_OPTS defaults to -Xmx8g; the classpath is resolved offline by maven-dependency-plugin once.
# `trainer.sh --freeze DIR` copies the compiled classes and the project's own jars (models, connectors) to DIR;
# with TRAINER_FROZEN=DIR later runs use that copy, so long experiments survive rebuilds of the working tree.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cp_file="$here/target/classpath.txt"
if [[ ! -s "$cp_file" || "$here/pom.xml" -nt "$cp_file" ]]; then
  (cd "$here" && mvn -B -o -q dependency:build-classpath -Dmdep.outputFile="$cp_file" >&2)
fi
if [[ "${1:-}" == "--freeze" ]]; then
  dir="$2"; rm -rf "$dir"; mkdir -p "$dir/jars"
  cp -r "$here/target/classes" "$dir/classes"
  out=()
  IFS=: read -ra jars < "$cp_file" || true
  for j in "${jars[@]}"; do
    if [[ "$j" == */org/xrayscreening/* ]]; then cp "$j" "$dir/jars/"; out+=("$dir/jars/$(basename "$j")"); else out+=("$j"); fi
  done
  (IFS=:; echo "${out[*]}") > "$dir/classpath.txt"
  echo "frozen to $dir"; exit 0
fi
classes="$here/target/classes"
if [[ -n "${TRAINER_FROZEN:-}" ]]; then classes="$TRAINER_FROZEN/classes"; cp_file="$TRAINER_FROZEN/classpath.txt"; fi
exec java ${JAVA_OPTS:--Xmx8g} -Dai.djl.offline=true -Djava.awt.headless=true \
  -cp "$classes:$(cat "$cp_file")" org.xrayscreening.trainer.TrainerCli "$@"
