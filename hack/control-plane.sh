#!/usr/bin/env bash
# Builds the Kubernetes control plane our integration tests and the lab run on: kube-apiserver,
# kube-scheduler, kube-controller-manager (k8s.io/kubernetes) and etcd, from source through the Go module
# proxy, into a versioned cache outside the work tree. Does nothing when the cache is current.
#
# Prints the bin directory on stdout (everything else goes to stderr), so callers can do
#   KUBEBUILDER_ASSETS=$(hack/control-plane.sh)
#
# Why from source: the machines reach only the Go module proxy, so the usual envtest binary downloads
# are not available. Facts this script relies on (measured on 2-core machines):
#   - k8s.io/kubernetes lists its staging modules as ./staging/... replaces; we replace each with the
#     matching v0.37.x release from the proxy.
#   - a cold kube-apiserver build takes ~9 min and ~2.4 GB; scheduler and controller-manager ~75 s each;
#     etcd ~1 min from a one-line main calling etcdmain.Main.
set -euo pipefail

KUBE_VERSION=${KUBE_VERSION:-v1.37.1}
ETCD_VERSION=${ETCD_VERSION:-v3.7.3}
STAGING_VERSION=v0.${KUBE_VERSION#v1.}
GO_VERSION=$(go env GOVERSION)
CACHE_ROOT=${KUBECTL_APIC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-apic}
KEY="kube-${KUBE_VERSION}_etcd-${ETCD_VERSION}_${GO_VERSION}_$(go env GOOS)-$(go env GOARCH)"
DEST="$CACHE_ROOT/control-plane/$KEY"
BIN="$DEST/bin"
COMPONENTS=(kube-apiserver kube-scheduler kube-controller-manager)

log() { printf 'control-plane: %s\n' "$*" >&2; }

if [[ -f "$DEST/.complete" ]]; then
  for c in "${COMPONENTS[@]}" etcd; do [[ -x "$BIN/$c" ]] || { rm -f "$DEST/.complete"; break; }; done
fi
if [[ -f "$DEST/.complete" && ( "${KUBECTL_BUILD:-}" != 1 || -x "$BIN/kubectl" ) ]]; then
  log "cached: $BIN"
  echo "$BIN"
  exit 0
fi

mkdir -p "$BIN" "$DEST/src/kube" "$DEST/src/etcd"
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOWORK=off
start=$SECONDS

# --- Kubernetes components -------------------------------------------------------------------------
staging=(api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider
  cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api cri-client
  cri-streaming csi-translation-lib dynamic-resource-allocation endpointslice externaljwt kms kube-aggregator
  kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics mount-utils
  pod-security-admission sample-apiserver sample-cli-plugin sample-controller streaming)
{
  echo "module kubectl-apic.local/control-plane"
  echo
  echo "go 1.26"
  echo
  echo "require k8s.io/kubernetes $KUBE_VERSION"
  echo
  echo "replace ("
  for m in "${staging[@]}"; do echo "	k8s.io/$m => k8s.io/$m $STAGING_VERSION"; done
  echo ")"
} > "$DEST/src/kube/go.mod"
cat > "$DEST/src/kube/tools.go" <<GO
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
GO

minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
pkg=k8s.io/component-base/version
ldflags="-s -w -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
cpkg=k8s.io/client-go/pkg/version
ldflags+=" -X $cpkg.gitVersion=$KUBE_VERSION -X $cpkg.gitMajor=1 -X $cpkg.gitMinor=$minor -X $cpkg.gitTreeState=clean"

(
  cd "$DEST/src/kube"
  log "resolving k8s.io/kubernetes $KUBE_VERSION (staging modules at $STAGING_VERSION)"
  go mod tidy -e >&2 2>&1 || go get k8s.io/kubernetes@"$KUBE_VERSION" >&2
  for c in "${COMPONENTS[@]}"; do
    if [[ -x "$BIN/$c" ]]; then log "$c already built"; continue; fi
    log "building $c (kube-apiserver takes up to ~9 minutes cold on 2 cores)"
    t=$SECONDS
    go build -trimpath -ldflags "$ldflags" -o "$BIN/$c.tmp" "k8s.io/kubernetes/cmd/$c" >&2
    mv "$BIN/$c.tmp" "$BIN/$c"
    log "$c built in $((SECONDS - t))s"
  done
)

# --- etcd ------------------------------------------------------------------------------------------
if [[ ! -x "$BIN/etcd" ]]; then
  cat > "$DEST/src/etcd/go.mod" <<MOD
module kubectl-apic.local/etcd

go 1.26

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
MOD
  cat > "$DEST/src/etcd/main.go" <<'GO'
// etcd built from go.etcd.io/etcd/server/v3 for kubectl-apic's test control plane.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (
    cd "$DEST/src/etcd"
    log "building etcd $ETCD_VERSION"
    t=$SECONDS
    go mod tidy >&2
    go build -trimpath -ldflags "-s -w" -o "$BIN/etcd.tmp" . >&2
    mv "$BIN/etcd.tmp" "$BIN/etcd"
    log "etcd built in $((SECONDS - t))s"
  )
fi

# kubectl only when asked (machines normally have /usr/bin/kubectl): KUBECTL_BUILD=1.
if [[ "${KUBECTL_BUILD:-}" == 1 && ! -x "$BIN/kubectl" ]]; then
  (cd "$DEST/src/kube" && go build -trimpath -ldflags "$ldflags" -o "$BIN/kubectl" k8s.io/kubernetes/cmd/kubectl >&2)
fi

for c in "${COMPONENTS[@]}" etcd; do "$BIN/$c" --version >&2; done
touch "$DEST/.complete"
log "done in $((SECONDS - start))s: $BIN"
echo "$BIN"
