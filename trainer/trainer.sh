#!/usr/bin/env bash
# Runs the trainer CLI from this checkout (after `mvn -pl trainer -am install -DskipTests`).
# JAVA_OPTS defaults to -Xmx8g; the classpath is resolved offline by maven-dependency-plugin once.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cp_file="$here/target/classpath.txt"
if [[ ! -s "$cp_file" || "$here/pom.xml" -nt "$cp_file" ]]; then
  (cd "$here" && mvn -B -o -q dependency:build-classpath -Dmdep.outputFile="$cp_file" >&2)
fi
exec java ${JAVA_OPTS:--Xmx8g} -Dai.djl.offline=true -Djava.awt.headless=true \
  -cp "$here/target/classes:$(cat "$cp_file")" org.xrayscreening.trainer.TrainerCli "$@"
