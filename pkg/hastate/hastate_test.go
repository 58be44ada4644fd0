package hastate

import (
	"errors"
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// mk builds a subsystem CR with spec mode, status haMode and the active haStatus, shaped like IBM's.
func mk(k apic.Kind, name, mode, haMode, haType, msg string, since time.Duration) apic.Object {
	o := apic.New(k, "apic", name)
	_ = unstructured.SetNestedField(o.U.Object, mode, "spec", "multiSiteHA", "mode")
	o.SetStatusField(haMode, "haMode")
	o.SetStatusField("Running", "phase")
	o.SetHAStatus([]apic.Condition{{Type: haType, Status: "True", Reason: "na", Message: msg, LastTransitionTime: metav1.NewTime(now.Add(-since))}})
	return o
}

func mgmt(mode, haMode, haType string, since time.Duration) apic.Object {
	return mk(apic.ManagementClusterKind, "production-mgmt", mode, haMode, haType, "", since)
}

func codes(p Pair) []string {
	var out []string
	for _, f := range p.Findings {
		out = append(out, f.Severity.String()+" "+f.Code)
	}
	return out
}

func TestPairs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		dc1    []apic.Object
		dc2    []apic.Object
		dc2Err error
		active []string
		want   []string
	}{
		{"healthy", []apic.Object{mgmt("active", "active", "Ready", time.Hour)},
			[]apic.Object{mgmt("passive", "passive", "Ready", time.Hour)}, nil, []string{"dc1"}, nil},
		{"split-brain", []apic.Object{mgmt("active", "active", "Ready", time.Hour)},
			[]apic.Object{mgmt("active", "active", "Ready", time.Minute)}, nil, []string{"dc1", "dc2"}, []string{"CRITICAL SplitBrain"}},
		{"both set active, one still promoting", []apic.Object{mgmt("active", "active", "Ready", time.Hour)},
			[]apic.Object{mgmt("active", "ReadyForPromotion", "ReadyForPromotion", time.Minute)}, nil, []string{"dc1"}, []string{"CRITICAL SplitBrain"}},
		{"neither active", []apic.Object{mgmt("passive", "passive", "Ready", time.Hour)},
			[]apic.Object{mgmt("passive", "passive", "Ready", time.Hour)}, nil, nil, []string{"CRITICAL NoActiveSite"}},
		{"failover in progress", []apic.Object{mgmt("passive", "BlockedWarmStandbyConversion", "BlockedWarmStandbyConversion", time.Minute)},
			[]apic.Object{mgmt("active", "ReadyForPromotion", "ReadyForPromotion", time.Minute)}, nil, nil, []string{"WARNING FailoverInProgress"}},
		{"stuck demotion", []apic.Object{mgmt("passive", "BlockedWarmStandbyConversion", "BlockedWarmStandbyConversion", 45*time.Minute)},
			[]apic.Object{mgmt("passive", "passive", "Ready", time.Hour)}, nil, nil, []string{"CRITICAL NoActiveSite", "WARNING StuckDemotion"}},
		{"peer not reachable", []apic.Object{mk(apic.ManagementClusterKind, "production-mgmt", "active", "active", "PeerNotReachable", "Cannot communicate with replication peer FQDN https://x", time.Minute)},
			[]apic.Object{mgmt("passive", "passive", "Ready", time.Hour)}, nil, []string{"dc1"}, []string{"WARNING PeerNotReachable"}},
		{"site unreachable", []apic.Object{mgmt("active", "active", "Ready", time.Hour)}, nil, errors.New("connection refused"),
			[]string{"dc1"}, []string{"WARNING SiteUnreachable"}},
		{"standby not replicating", []apic.Object{mgmt("active", "active", "Ready", time.Hour)},
			[]apic.Object{mgmt("passive", "passive", "Pending", time.Hour)}, nil, []string{"dc1"}, []string{"WARNING NotReplicating"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pairs := Pairs([]SiteObjects{{Site: "dc1", Objects: tc.dc1}, {Site: "dc2", Objects: tc.dc2, Err: tc.dc2Err}}, Options{Now: now})
			if len(pairs) != 1 {
				t.Fatalf("got %d pairs", len(pairs))
			}
			p := pairs[0]
			if !reflect.DeepEqual(p.ActiveSites(), tc.active) {
				t.Errorf("active = %v, want %v", p.ActiveSites(), tc.active)
			}
			if got := codes(p); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("findings = %v, want %v", got, tc.want)
			}
			for _, f := range p.Findings {
				if f.Message == "" || f.Fix == "" {
					t.Errorf("finding without message or fix: %+v", f)
				}
			}
		})
	}
}

// On the top-level shape the mode lives on the APIConnectCluster and haMode on the operator-made
// subsystem CR it owns.
func TestTopLevelShape(t *testing.T) {
	site := func(name, mode, haMode string) SiteObjects {
		top := apic.New(apic.APIConnectClusterKind, "apic", "production")
		top.U.SetUID(types.UID("uid-" + name))
		_ = unstructured.SetNestedField(top.U.Object, mode, "spec", "management", "multiSiteHA", "mode")
		sub := mk(apic.ManagementClusterKind, "production-mgmt", "", haMode, "Ready", "", time.Hour)
		unstructured.RemoveNestedField(sub.U.Object, "spec")
		sub.U.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: apic.APIConnectClusterKind.APIVersion(), Kind: "APIConnectCluster", Name: "production", UID: top.U.GetUID()}})
		return SiteObjects{Site: name, Objects: []apic.Object{top, sub}}
	}
	pairs := Pairs([]SiteObjects{site("dc1", "active", "active"), site("dc2", "passive", "passive")}, Options{Now: now})
	if len(pairs) != 1 {
		t.Fatalf("pairs = %+v", pairs)
	}
	m, _ := pairs[0].Member("dc1")
	if !m.TopLevel() || m.Spec.Name() != "production" || m.Mode != "active" || m.Name() != "production-mgmt" {
		t.Errorf("member = %+v (spec %s)", m, m.Spec.Ref())
	}
	if len(pairs[0].Findings) != 0 {
		t.Errorf("findings = %v", codes(pairs[0]))
	}
}

func TestPairsByNameAndSingleton(t *testing.T) {
	ptl := func(name, mode string) apic.Object {
		return mk(apic.PortalClusterKind, name, mode, mode, "Ready", "", time.Hour)
	}
	// Differently named singletons pair by subsystem.
	pairs := Pairs([]SiteObjects{
		{Site: "dc1", Objects: []apic.Object{mgmt("active", "active", "Ready", time.Hour), ptl("portal-dc1", "active")}},
		{Site: "dc2", Objects: []apic.Object{mgmt("passive", "passive", "Ready", time.Hour), ptl("portal-dc2", "passive")}},
	}, Options{Now: now})
	if len(pairs) != 2 || pairs[0].Subsystem != apic.Management || pairs[1].Subsystem != apic.Portal || len(pairs[1].Members) != 2 {
		t.Fatalf("pairs = %+v", pairs)
	}
	// Two portals per site pair by name.
	pairs = Pairs([]SiteObjects{
		{Site: "dc1", Objects: []apic.Object{ptl("a", "active"), ptl("b", "active")}},
		{Site: "dc2", Objects: []apic.Object{ptl("a", "passive"), ptl("b", "passive")}},
	}, Options{Now: now})
	if len(pairs) != 2 || pairs[0].Name != "a" || len(pairs[0].Members) != 2 {
		t.Fatalf("pairs = %+v", pairs)
	}
}
