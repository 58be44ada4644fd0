#!/usr/bin/env bash
# The kubectl-apic demo. Runs against the lab SIMULATOR (bin/apic-lab, started when not running) unless
# a cluster is given:
#
#   make demo                                             # the lab in .lab/
#   DEMO_KUBECONFIG=~/.kube/config CONTEXT=prod-dc1 PEER_CONTEXT=prod-dc2 NAMESPACE=apic hack/demo.sh
#
# Add steps with `step "title" command...`: a step whose command is not built yet is reported and
# skipped, so the demo grows with the plugins.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-bin}
LAB_DIR=${LAB_DIR:-.lab}
CONTEXT=${CONTEXT:-dc1}
PEER_CONTEXT=${PEER_CONTEXT:-dc2}
NAMESPACE=${NAMESPACE:-apic}

if [[ -z "${DEMO_KUBECONFIG:-}" ]]; then
  if ! "$BIN/apic-lab" status --dir "$LAB_DIR" >/dev/null 2>&1; then
    "$BIN/apic-lab" up --dir "$LAB_DIR"
  fi
  DEMO_KUBECONFIG="$LAB_DIR/kubeconfig"
  echo "Running against the lab simulator ($DEMO_KUBECONFIG)."
fi
export KUBECONFIG="$DEMO_KUBECONFIG"

failed=0
# step TITLE CMD [ARGS...]: print the title and the command, run it; a missing binary is skipped.
step() {
  local title=$1; shift
  printf '\n=== %s\n$ %s\n' "$title" "$*"
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "(skipped: $1 is not built yet)"
    return 0
  fi
  local rc=0
  "$@" || rc=$?
  if ((rc != 0)); then
    echo "(step failed: exit $rc)"
    failed=1
  fi
}

step "The API Connect custom resources on both sites" \
  kubectl --context "$CONTEXT" get mgmt,ptl,gw,a7s -n "$NAMESPACE"
step "HA status of both sites" \
  "$BIN/kubectl-apic-status" --context "$CONTEXT" --peer-context "$PEER_CONTEXT" -n "$NAMESPACE"

exit "$failed"
