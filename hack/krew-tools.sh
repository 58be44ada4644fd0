#!/usr/bin/env bash
# Builds the real krew and krew's manifest validator (sigs.k8s.io/krew: cmd/krew and
# cmd/validate-krew-manifest) through the Go module proxy, once, into a versioned cache outside the
# work tree; later runs reuse it. Cold, the build takes well under a minute on two cores.
#
# Prints the bin directory on stdout (everything else goes to stderr), so callers can do
#   KREW_TOOLS=$(hack/krew-tools.sh)
# krew/packaging_test.go runs these binaries (the proxy serves krew v0.5.0; it refuses v0.4.5).
set -euo pipefail

KREW_VERSION=${KREW_VERSION:-v0.5.0}
CACHE_ROOT=${KUBECTL_APIC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-apic}
DEST="$CACHE_ROOT/tools/krew-${KREW_VERSION}_$(go env GOVERSION)_$(go env GOOS)-$(go env GOARCH)"

if [[ -x "$DEST/krew" && -x "$DEST/validate-krew-manifest" ]]; then
  printf 'krew-tools: cached: %s\n' "$DEST" >&2
  echo "$DEST"
  exit 0
fi

printf 'krew-tools: building sigs.k8s.io/krew %s into %s\n' "$KREW_VERSION" "$DEST" >&2
mkdir -p "$CACHE_ROOT/tools"
tmp=$(mktemp -d "$CACHE_ROOT/tools/.krew-build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# Outside any module, so the repository's go.mod plays no part; the versions are krew's own go.sum.
(cd "$tmp" && GOBIN="$tmp/bin" GOFLAGS=-buildvcs=false GOWORK=off CGO_ENABLED=0 \
  go install "sigs.k8s.io/krew/cmd/krew@$KREW_VERSION" "sigs.k8s.io/krew/cmd/validate-krew-manifest@$KREW_VERSION" >&2)
mkdir -p "$DEST"
mv "$tmp/bin/krew" "$tmp/bin/validate-krew-manifest" "$DEST/"
echo "$DEST"
