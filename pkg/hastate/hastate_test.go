package hastate

import (
	"errors"
	"reflect"
	"strings"
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

// One context given (status --context dc1): a warm-standby is what a healthy standby data center
// looks like; its active peer was not read, so there is no verdict about it.
func TestSingleSiteWarmStandby(t *testing.T) {
	for _, tc := range []struct {
		name string
		obj  apic.Object
		want []string
	}{
		{"replicating", mgmt("passive", "passive", "Ready", time.Hour), []string{"INFO PeerNotChecked"}},
		{"not replicating", mgmt("passive", "passive", "Pending", time.Hour), []string{"INFO PeerNotChecked", "WARNING NotReplicating"}},
		{"active", mgmt("active", "active", "Ready", time.Hour), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pairs := Pairs([]SiteObjects{{Site: "dc1", Objects: []apic.Object{tc.obj}}}, Options{Now: now})
			if got := codes(pairs[0]); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("findings = %v, want %v", got, tc.want)
			}
			for _, f := range pairs[0].Findings {
				if f.Code == PeerNotChecked && !strings.Contains(f.Fix, "--peer-context") {
					t.Errorf("fix does not name --peer-context: %q", f.Fix)
				}
			}
		})
	}
}

// The fixes of NoActiveSite and SplitBrain are kubectl patches (failover refuses both states), on
// the right site, with IBM's confirmation annotation where management is demoted.
func TestFixesAreCommandsForTheState(t *testing.T) {
	pair := func(dc1, dc2 apic.Object) Pair {
		return Pairs([]SiteObjects{{Site: "dc1", Objects: []apic.Object{dc1}}, {Site: "dc2", Objects: []apic.Object{dc2}}}, Options{Now: now})[0]
	}
	fix := func(p Pair, code string) string {
		for _, f := range p.Findings {
			if f.Code == code {
				return f.Fix
			}
		}
		t.Fatalf("no %s in %v", code, codes(p))
		return ""
	}
	// Demotion of dc1 done, dc2 never promoted: promote dc2, and only dc2.
	f := fix(pair(mgmt("passive", "BlockedWarmStandbyConversion", "BlockedWarmStandbyConversion", time.Hour), mgmt("passive", "passive", "Ready", time.Hour)), NoActiveSite)
	want := `kubectl --context dc2 -n apic patch managementclusters.management.apiconnect.ibm.com production-mgmt --type merge -p '{"spec":{"multiSiteHA":{"mode":"active"}}}'`
	if !strings.Contains(f, want) || strings.Contains(f, "--context dc1") || strings.Contains(f, "kubectl apic failover") {
		t.Errorf("NoActiveSite fix = %q, want only %s", f, want)
	}
	// Split-brain: one demotion command per choice, each carrying the data-deletion confirmation.
	f = fix(pair(mgmt("active", "active", "Ready", time.Hour), mgmt("active", "active", "Ready", time.Hour)), SplitBrain)
	for _, site := range []string{"dc1", "dc2"} {
		if !strings.Contains(f, "kubectl --context "+site+" -n apic patch managementclusters.management.apiconnect.ibm.com production-mgmt --type merge -p '{\"metadata\":{\"annotations\":{\""+apic.DataDeletionConfirmationAnnotation+"\":\"true\"}},\"spec\":{\"multiSiteHA\":{\"mode\":\"passive\"}}}'") {
			t.Errorf("split-brain fix lacks the demotion of %s: %q", site, f)
		}
	}
	if strings.Contains(f, "kubectl apic failover") {
		t.Errorf("split-brain fix names failover, which refuses split-brain: %q", f)
	}
}

func TestManagementAndPortalActiveApart(t *testing.T) {
	ptl := func(mode string) apic.Object {
		return mk(apic.PortalClusterKind, "production-ptl", mode, mode, "Ready", "", time.Hour)
	}
	pairs := Pairs([]SiteObjects{
		{Site: "dc1", Objects: []apic.Object{mgmt("active", "active", "Ready", time.Hour), ptl("passive")}},
		{Site: "dc2", Objects: []apic.Object{mgmt("passive", "passive", "Ready", time.Hour), ptl("active")}},
	}, Options{Now: now})
	fs := AcrossPairs(pairs)
	if len(fs) != 1 || fs[0].Severity != Info || fs[0].Code != ActiveApart || !strings.Contains(fs[0].Message, "IBM documents failing over either subsystem alone and does not document a warning") ||
		!strings.Contains(fs[0].Fix, "kubectl apic failover --from dc2 --to dc1 -n apic --subsystem portal") {
		t.Errorf("findings = %+v", fs)
	}
	pairs = Pairs([]SiteObjects{
		{Site: "dc1", Objects: []apic.Object{mgmt("active", "active", "Ready", time.Hour), ptl("active")}},
		{Site: "dc2", Objects: []apic.Object{mgmt("passive", "passive", "Ready", time.Hour), ptl("passive")}},
	}, Options{Now: now})
	if fs := AcrossPairs(pairs); len(fs) != 0 {
		t.Errorf("together on dc1: %+v", fs)
	}
}
