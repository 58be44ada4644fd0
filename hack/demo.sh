#!/usr/bin/env bash
# The kubectl-apic demo: runs the plugins the way an SRE would, against the lab SIMULATOR (bin/apic-lab,
# started when not running) unless a cluster is given:
#
#   make demo                                              # the lab in .lab/
#   DEMO_KUBECONFIG=~/.kube/config CONTEXT=prod-dc1 PEER_CONTEXT=prod-dc2 NAMESPACE=apic hack/demo.sh
#
# Against your own clusters the demo is read-only (status, spread check, drr --status, failover
# --dry-run, rollout status and restart --dry-run) unless DEMO_MUTATE=1. On the lab it also
# applies the zone spread, fails over dc1→dc2
# and back, runs an outage-less DRR, removes the spread again and restarts every gateway member
# (kubectl apic rollout, drained at the lab's router, probed), leaving the lab as it found it.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-bin}
LAB_DIR=${LAB_DIR:-.lab}
CONTEXT=${CONTEXT:-dc1}
PEER_CONTEXT=${PEER_CONTEXT:-dc2}
NAMESPACE=${NAMESPACE:-apic}
GATEWAY=${GATEWAY:-production-gw}

if [[ -z "${DEMO_KUBECONFIG:-}" ]]; then
  if ! "$BIN/apic-lab" status --dir "$LAB_DIR" >/dev/null 2>&1; then
    "$BIN/apic-lab" up --dir "$LAB_DIR"
  fi
  DEMO_KUBECONFIG="$LAB_DIR/kubeconfig"
  DEMO_MUTATE=${DEMO_MUTATE:-1}
  on_lab=1
  echo "Running against the lab simulator ($DEMO_KUBECONFIG)."
fi
export KUBECONFIG="$DEMO_KUBECONFIG"
DEMO_MUTATE=${DEMO_MUTATE:-0}

failed=0
# step TITLE OK_CODES CMD [ARGS...]: print the title and the command, run it, and count it failed
# unless its exit code is one of OK_CODES (status and check exit 3 for warnings, by design).
step() {
  local title=$1 ok=$2; shift 2
  printf '\n=== %s\n$ %s\n' "$title" "$*"
  local rc=0
  "$@" || rc=$?
  if [[ " $ok " != *" $rc "* ]]; then
    echo "(step failed: exit $rc)"
    failed=1
  elif ((rc != 0)); then
    echo "(exit $rc: see docs/exit-codes.md)"
  fi
}

step "The API Connect custom resources (kubectl itself)" "0" \
  kubectl --context "$CONTEXT" get mgmt,ptl,gw,a7s -n "$NAMESPACE"
step "HA status of both data centers" "0 3" \
  "$BIN/kubectl-apic-status" --context "$CONTEXT" --peer-context "$PEER_CONTEXT" -n "$NAMESPACE"
step "Zone resilience of the gateways" "0 3" \
  "$BIN/kubectl-apic-spread" check --context "$CONTEXT" -n "$NAMESPACE" --subsystem gateway
step "Gateway peering of $GATEWAY, read through kubectl attach" "0 3" \
  "$BIN/kubectl-apic-drr" "$GATEWAY" --status --context "$CONTEXT" -n "$NAMESPACE"
step "The failover plan (dry run: nothing changes)" "0" \
  "$BIN/kubectl-apic-failover" --from "$CONTEXT" --to "$PEER_CONTEXT" -n "$NAMESPACE" --dry-run
step "Gateway members: versions, revisions, peering roles and the last rollout" "0 3" \
  "$BIN/kubectl-apic-rollout" status "$GATEWAY" --context "$CONTEXT" --peer-context "$PEER_CONTEXT" -n "$NAMESPACE"
step "The rollout plan (dry run: member order, primaries handed over)" "0" \
  "$BIN/kubectl-apic-rollout" restart "$GATEWAY" --context "$CONTEXT" --peer-context "$PEER_CONTEXT" -n "$NAMESPACE" --dry-run

if [[ "$DEMO_MUTATE" == 1 ]]; then
  step "Spread the gateways over zones and wait for the real scheduler to move them" "0" \
    "$BIN/kubectl-apic-spread" apply --context "$CONTEXT" -n "$NAMESPACE" --subsystem gateway --yes --wait
  step "Fail over management and portal: $CONTEXT → $PEER_CONTEXT" "0" \
    "$BIN/kubectl-apic-failover" --from "$CONTEXT" --to "$PEER_CONTEXT" -n "$NAMESPACE" --yes
  step "HA status after the failover" "0 3" \
    "$BIN/kubectl-apic-status" --context "$CONTEXT" --peer-context "$PEER_CONTEXT" -n "$NAMESPACE"
  step "Fail back: $PEER_CONTEXT → $CONTEXT" "0" \
    "$BIN/kubectl-apic-failover" --from "$PEER_CONTEXT" --to "$CONTEXT" -n "$NAMESPACE" --yes
  step "Outage-less DRR of $GATEWAY" "0" \
    "$BIN/kubectl-apic-drr" "$GATEWAY" --context "$CONTEXT" -n "$NAMESPACE" --yes
  step "Remove the spread overrides again (as IBM recommends before an upgrade)" "0" \
    "$BIN/kubectl-apic-spread" remove --context "$CONTEXT" -n "$NAMESPACE" --yes
  if [[ -n "${on_lab:-}" ]]; then
    # The lab's global router stands in for the load balancer: each site is drained while its
    # members restart, and the probe counts the API calls that fail through the router.
    router=$("$BIN/apic-lab" router status --dir "$LAB_DIR" | awk '/^Global router:/ {print $3}')
    step "Restart every gateway member, both data centers, primary last, drained, probed" "0" \
      "$BIN/kubectl-apic-rollout" restart "$GATEWAY" --context "$CONTEXT" --peer-context "$PEER_CONTEXT" -n "$NAMESPACE" --yes \
      --drain-hook "$BIN/apic-lab router drain \$ROLLOUT_SITE --dir $LAB_DIR" \
      --undrain-hook "$BIN/apic-lab router undrain \$ROLLOUT_SITE --dir $LAB_DIR" \
      --probe "$router" --probe-window 2s
  fi
fi

echo
if [[ -n "${on_lab:-}" ]]; then
  echo "The lab keeps running (KUBECONFIG=$LAB_DIR/kubeconfig, contexts $CONTEXT and $PEER_CONTEXT); stop it with: make lab-down"
fi
if ((failed)); then
  echo "demo: some steps failed"
else
  echo "demo: all steps ran as expected"
fi
exit "$failed"
