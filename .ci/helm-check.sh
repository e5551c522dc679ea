#!/usr/bin/env bash
# Lints and renders the Helm chart helm/xray-screening in two configurations:
#   default   - values.yaml as shipped
#   all-on    - every optional part on (GPU, Strimzi topics, PodMonitor, PrometheusRule, trainer
#               Deployment, SASL_SSL Kafka): helm/xray-screening/ci/all-on-values.yaml
# and checks that values which would only break at run time are refused at render time.
#
# Rendered manifests go to $HELM_RENDER_DIR (default helm/xray-screening/target-render/), one file
# per configuration. Installs helm into .ci/bin/ first when needed (.ci/install-helm.sh).
# Exit code: 0 when everything passed. Usage: bash .ci/helm-check.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHART="$ROOT/helm/xray-screening"
OUT="${HELM_RENDER_DIR:-$CHART/target-render}"
RELEASE=xray
NAMESPACE=xray-screening

if [[ -n "${HELM_BIN:-}" && -x "${HELM_BIN}" ]]; then
  HELM="$HELM_BIN"
else
  HELM="$(bash "$ROOT/.ci/install-helm.sh" | tail -n1)"
fi
echo "[helm-check] using $HELM ($("$HELM" version --short))"

# Keep helm's cache/config out of the user's home and the repository.
HELM_HOME_TMP="$(mktemp -d)"
trap 'rm -rf "$HELM_HOME_TMP"' EXIT
export HELM_CACHE_HOME="$HELM_HOME_TMP/cache" HELM_CONFIG_HOME="$HELM_HOME_TMP/config" HELM_DATA_HOME="$HELM_HOME_TMP/data"

mkdir -p "$OUT"
failures=0
pass() { echo "[helm-check] ok   $*"; }
fail() { echo "[helm-check] FAIL $*" >&2; failures=$((failures + 1)); }

render() { # name, extra helm args...
  local name="$1"; shift
  if "$HELM" lint --strict "$CHART" "$@" >"$OUT/$name.lint.txt" 2>&1; then
    pass "helm lint --strict ($name)"
  else
    cat "$OUT/$name.lint.txt" >&2; fail "helm lint --strict ($name)"
  fi
  if "$HELM" template "$RELEASE" "$CHART" --namespace "$NAMESPACE" "$@" >"$OUT/$name.yaml" 2>"$OUT/$name.err.txt"; then
    pass "helm template ($name): $(grep -c '^kind:' "$OUT/$name.yaml") resources -> $OUT/$name.yaml"
  else
    cat "$OUT/$name.err.txt" >&2; fail "helm template ($name)"
  fi
}

render default
render all-on -f "$CHART/ci/all-on-values.yaml"

refused() { # description, expected message part, helm args...
  local what="$1" expect="$2"; shift 2
  local err
  if err="$("$HELM" template "$RELEASE" "$CHART" "$@" 2>&1 >/dev/null)"; then
    fail "not refused: $what"
  elif [[ "$err" != *"$expect"* ]]; then
    echo "$err" >&2; fail "refused for another reason: $what"
  else
    pass "refused: $what"
  fi
}
refused "SASL without a credentials Secret" "kafka.auth.existingSecret" --set kafka.securityProtocol=SASL_SSL
refused "a password in kafka.clientProperties" "looks like a credential" --set-string 'kafka.clientProperties.ssl\.truststore\.password=changeit'
refused "trainer CronJob and Deployment together" "enable one" --set trainer.serve.enabled=true
refused "an allocator the images cannot preload" "nativeRuntime.allocator must be" --set nativeRuntime.allocator=tcmalloc
refused "an unknown upgrade mode" "upgradeMode" --set streamJob.upgradeMode=fast
refused "an image URL prefix that is not http(s)" "must start with https://" --set 'streamJob.imageSources.urlPrefixes={ftp://pacs/}'
refused "the DICOM gateway without a credentials Secret" "gateway.credentialsSecret" --set gateway.enabled=true
refused "a relative image file root" "must be an absolute path" --set 'trainer.imageSources.fileRoots={spool}'
refused "the worklist with HTTP basic but no TLS" "worklist.tls.existingSecret" --set worklist.enabled=true --set worklist.auth.usersSecret=u
refused "the worklist behind a proxy it cannot tell apart" "trustedProxies" --set worklist.enabled=true --set worklist.auth.usersSecret=u --set worklist.auth.mode=proxy

# No credential may reach a rendered manifest: only references to Secrets.
for f in "$OUT/default.yaml" "$OUT/all-on.yaml"; do
  if grep -n -i -E 'password="|password=[^$]|ScramLoginModule|PlainLoginModule' "$f"; then
    fail "credential-like text in $(basename "$f")"
  else
    pass "no credential text in $(basename "$f")"
  fi
done

if (( failures > 0 )); then
  echo "[helm-check] $failures check(s) failed" >&2
  exit 1
fi
echo "[helm-check] all checks passed"
