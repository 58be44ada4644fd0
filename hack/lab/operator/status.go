package operator

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

// Condition and haStatus lists. IBM's own jsonpath/jq filters select the entry whose status is "True"
// (seed 002), which implies lists holding several types; the simulator writes exactly one True, so
// the MESSAGE printer column always shows one message. A False entry keeps reason "na" and
// `"message": ""`, as in the public 2DCDR lab's output.
func conditionTypes() []string { return []string{condReady, condPending, condWarning} }

// haStatusTypes are the entries of v's haStatus list, in order. The public 2DCDR lab
// (sbodapati06/labs-apiconnect 2dcdr-cp4i, fixtures objects/managementcluster-*) shows two entries
// per state: PeerNotReachable True then BlockedWarmStandbyConversion False (a new site without its
// peer), Ready True then Pending False (the warm-standby), Warning False then Ready True (active);
// for the other states it printed the True entry only, and so does the simulator (our choice).
func haStatusTypes(v haView) []string {
	switch {
	case v.HAType == apic.HAStatusPeerNotReachable:
		return []string{apic.HAStatusPeerNotReachable, apic.HAStatusBlocked}
	case v.HAType == apic.HAStatusReady && v.HAMode == apic.HAModeActive:
		return []string{apic.HAStatusWarning, apic.HAStatusReady}
	case v.HAType == apic.HAStatusReady:
		return []string{apic.HAStatusReady, apic.HAStatusPending}
	}
	return []string{v.HAType}
}

// oneTrue builds a list of types with trueType True (reason "na", as in IBM's sample), keeping each
// entry's lastTransitionTime while its status does not change.
func oneTrue(types []string, trueType, message string, prev []apic.Condition, now time.Time) []apic.Condition {
	old := map[string]apic.Condition{}
	for _, c := range prev {
		old[c.Type] = c
	}
	out := make([]apic.Condition, 0, len(types))
	for _, t := range types {
		c := apic.Condition{Type: t, Status: "False", Reason: "na"}
		if t == trueType {
			c.Status, c.Message = "True", message
		}
		if p, ok := old[t]; ok && p.Status == c.Status && !p.LastTransitionTime.IsZero() {
			c.LastTransitionTime = p.LastTransitionTime
		} else {
			c.LastTransitionTime = metav1.NewTime(now)
		}
		out = append(out, c)
	}
	return out
}

// reconciledVersion is status.versions.reconciled. IBM's sample shows VERSION 10.0.8.0 with RECONCILED
// VERSION 10.0.8.0-7178; the simulator appends that build number to spec.version.
func reconciledVersion(version string) string {
	if strings.Contains(version, "-") {
		return version
	}
	return version + "-7178"
}

// defaultVersion is used where spec.version is empty (the version of IBM's samples).
const defaultVersion = "10.0.8.0"

func versionOf(o apic.Object) string {
	if v := o.Version(); v != "" {
		return v
	}
	return defaultVersion
}

func readyString(ready, desired int32) string { return fmt.Sprintf("%d/%d", ready, desired) }

// Simulator bookkeeping lives in status.simulator (ours, not IBM's); times use RFC3339Nano because
// scaled durations are often below a second.
func readHAState(u *unstructured.Unstructured) haState {
	s := func(f string) string {
		v, _, _ := unstructured.NestedString(u.Object, "status", "simulator", f)
		return v
	}
	t := func(v string) time.Time { x, _ := time.Parse(time.RFC3339Nano, v); return x }
	st := haState{Stage: stage(s("stage")), Since: t(s("since")), PromotedAt: t(s("promotedAt"))}
	st.PromoteFor, _ = time.ParseDuration(s("promoteFor"))
	d, _, _ := unstructured.NestedString(u.Object, "status", "replication", "divergedSince")
	st.DivergedSince = t(d)
	return st
}

func writeHAState(u *unstructured.Unstructured, st haState) {
	ts := func(x time.Time) string {
		if x.IsZero() {
			return ""
		}
		return x.UTC().Format(time.RFC3339Nano)
	}
	sim, _, _ := unstructured.NestedMap(u.Object, "status", "simulator")
	if sim == nil {
		sim = map[string]interface{}{}
	}
	sim["stage"], sim["since"] = string(st.Stage), ts(st.Since)
	setOrDelete(sim, "promoteFor", durString(st.PromoteFor))
	setOrDelete(sim, "promotedAt", ts(st.PromotedAt))
	_ = unstructured.SetNestedMap(u.Object, sim, "status", "simulator")
}

func durString(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

func setOrDelete(m map[string]interface{}, k, v string) {
	if v == "" {
		delete(m, k)
		return
	}
	m[k] = v
}

// writeReplication sets status.replication, the simulator's documented-as-ours replication hint:
// state (Replicating, PeerNotReachable, SplitBrain, Resynchronizing, Stopped), peerHAMode (as last
// read over the link) and divergedSince (set while a split-brain lets this site's data diverge).
func writeReplication(u *unstructured.Unstructured, state, peerHAMode string, divergedSince time.Time) {
	r := map[string]interface{}{"state": state}
	if peerHAMode != "" {
		r["peerHAMode"] = peerHAMode
	}
	if !divergedSince.IsZero() {
		r["divergedSince"] = divergedSince.UTC().Format(time.RFC3339Nano)
	}
	_ = unstructured.SetNestedMap(u.Object, r, "status", "replication")
}

func statusOf(u *unstructured.Unstructured) map[string]interface{} {
	m, _, _ := unstructured.NestedMap(u.Object, "status")
	return m
}
