package status

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-apic/kubectl-apic/internal/fixtures"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/inventory"
)

func fixtureObject(t *testing.T, name string) apic.Object {
	t.Helper()
	u, err := fixtures.Unstructured(name)
	if err != nil {
		t.Fatal(err)
	}
	o, err := apic.Wrap(u)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// DataPowerServices in IBM's real shape (fixtures from IBM/datapower-operator-doc): READY, VERSION
// and MESSAGE are what the DataPower operator writes and kubectl prints, and the findings carry the
// Ready condition's message and the operator's Warning conditions.
func TestDataPowerServiceFromTheRealShape(t *testing.T) {
	for _, tc := range []struct {
		fixture, phase, ready, version, message string
		finding, findingText                    string
	}{
		{"objects/datapowerservice-running.yaml", "Running", "True", "10.0.1.0", "StatefulSet replicas ready: 3/3", "", ""},
		{"objects/datapowerservice-pending.yaml", "Pending", "False", "10.0.1.0", "StatefulSet replicas ready: 1/3",
			FindingSubsystemNotReady, "dp/apic-rr-gw is Pending (ready False): StatefulSet replicas ready: 1/3"},
		{"objects/datapowerservice-paused.yaml", "Running", "True", "10.0.1.0", "StatefulSet replicas ready: 3/3",
			FindingDataPowerWarning, "dp/apic-rr-gw: Warning ReconcileWarning: Reconciliation is paused indefinitely"},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			o := fixtureObject(t, tc.fixture)
			// spec.version may be a channel (IBM v1beta3 "version"); VERSION is the reconciled one.
			_ = unstructured.SetNestedField(o.U.Object, "10.0-lts", "spec", "version")
			in := []SiteInput{{Name: "dc1", Namespace: "dev", Snapshot: &inventory.Snapshot{Site: "dc1", Objects: []apic.Object{o}}}}
			r := Build(in, BuildOptions{Now: now})
			s := r.Sites[0].Subsystems[0]
			if s.Phase != tc.phase || s.Ready != tc.ready || s.Version != tc.version || s.Message != tc.message {
				t.Errorf("phase %q ready %q version %q message %q; want %q %q %q %q", s.Phase, s.Ready, s.Version, s.Message,
					tc.phase, tc.ready, tc.version, tc.message)
			}
			var got []string
			for _, f := range r.Findings {
				if f.Code == FindingSubsystemNotReady || f.Code == FindingDataPowerWarning {
					got = append(got, f.Code+": "+f.Message)
				}
			}
			switch {
			case tc.finding == "" && len(got) > 0:
				t.Errorf("findings %q, want none", got)
			case tc.finding != "" && (len(got) != 1 || !strings.Contains(got[0], tc.finding+": "+tc.findingText)):
				t.Errorf("findings %q, want %s: %s", got, tc.finding, tc.findingText)
			}
		})
	}
}

// Top-level entries at the old location spec.<subsystem>.template are reported with the move command.
func TestLegacyTemplateLocationReported(t *testing.T) {
	top := fixtureObject(t, "objects/apiconnectcluster-template.yaml")
	_ = unstructured.SetNestedSlice(top.U.Object, []interface{}{map[string]interface{}{"name": "gw-datapower"}}, "spec", "gateway", "template")
	in := []SiteInput{{Name: "dc1", Namespace: "cp4i-apic", Snapshot: &inventory.Snapshot{Site: "dc1", Objects: []apic.Object{top}}}}
	r := Build(in, BuildOptions{Now: now})
	for _, f := range r.Findings {
		if f.Code == FindingLegacyTemplate {
			if !strings.Contains(f.Message, "spec.gateway.template") || !strings.Contains(f.Fix, "spread remove --context dc1 -n cp4i-apic --move-legacy") {
				t.Errorf("finding %+v", f)
			}
			return
		}
	}
	t.Errorf("no %s finding: %v", FindingLegacyTemplate, r.Findings)
}
