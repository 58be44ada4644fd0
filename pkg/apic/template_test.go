package apic

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-apic/kubectl-apic/internal/fixtures"
)

// fixtureObject loads an object fixture (a real shape with its public source) as an Object.
func fixtureObject(t *testing.T, name string) Object {
	t.Helper()
	u, err := fixtures.Unstructured(name)
	if err != nil {
		t.Fatal(err)
	}
	o, err := Wrap(u)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func names(es []map[string]interface{}) []string {
	out := []string{}
	for _, e := range es {
		n, _ := e["name"].(string)
		out = append(out, n)
	}
	return out
}

// On the top-level CR the overrides are ONE list at spec.template with prefixed names; each
// subsystem's view is its slice of that list, and setting one leaves the others' entries in place.
func TestTopLevelTemplateIsOneList(t *testing.T) {
	o := fixtureObject(t, "objects/apiconnectcluster-template.yaml")
	if p, _ := o.TemplatePath(Gateway); !reflect.DeepEqual(p, []string{"spec", "template"}) {
		t.Errorf("TemplatePath(gateway) = %v, want spec.template", p)
	}
	gw, err := o.Template(Gateway)
	if err != nil || !reflect.DeepEqual(names(gw), []string{"gw-datapower"}) {
		t.Fatalf("Template(gateway) = %v, %v", names(gw), err)
	}
	if mg, _ := o.Template(Management); !reflect.DeepEqual(names(mg), []string{"mgmt-apim"}) {
		t.Errorf("Template(management) = %v", names(mg))
	}
	if got := o.Replicas(); got != 3 {
		t.Errorf("Replicas = %d, want 3 (gw-datapower replicaCount)", got)
	}
	if !o.HasTemplateOverrides() {
		t.Error("overrides at spec.template not detected")
	}

	// Replace the gateway's slice: management's entry keeps its place.
	gw = append(gw, map[string]interface{}{"name": "gw-extra"})
	if err := o.SetTemplate(Gateway, gw); err != nil {
		t.Fatal(err)
	}
	all, _, _ := unstructured.NestedSlice(o.U.Object, "spec", "template")
	if got := names(toMaps(all)); !reflect.DeepEqual(got, []string{"mgmt-apim", "gw-datapower", "gw-extra"}) {
		t.Errorf("spec.template after SetTemplate(gateway) = %v", got)
	}
	// A subsystem with no entries yet goes at the end.
	if err := o.SetTemplate(Analytics, []map[string]interface{}{{"name": "a7s-storage"}}); err != nil {
		t.Fatal(err)
	}
	all, _, _ = unstructured.NestedSlice(o.U.Object, "spec", "template")
	if got := names(toMaps(all)); !reflect.DeepEqual(got, []string{"mgmt-apim", "gw-datapower", "gw-extra", "a7s-storage"}) {
		t.Errorf("spec.template after SetTemplate(analytics) = %v", got)
	}
	// Emptying every slice removes spec.template.
	for _, s := range Subsystems() {
		if err := o.SetTemplate(s, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(o.U.Object, "spec", "template"); found {
		t.Error("spec.template left behind with no entries")
	}
	if o.HasTemplateOverrides() {
		t.Error("HasTemplateOverrides with none")
	}
	// Nothing is ever written to the old location.
	if _, found, _ := unstructured.NestedFieldNoCopy(o.U.Object, "spec", "gateway"); found {
		t.Error("spec.gateway created")
	}
}

func toMaps(l []interface{}) []map[string]interface{} {
	out := make([]map[string]interface{}, 0, len(l))
	for _, x := range l {
		out = append(out, x.(map[string]interface{}))
	}
	return out
}

// spec.<subsystem>.template is where earlier versions wrote top-level overrides: read for moving
// and reporting only.
func TestLegacyTemplateLocation(t *testing.T) {
	o := fixtureObject(t, "objects/apiconnectcluster-template.yaml")
	if got := o.LegacyTemplates(); len(got) != 0 {
		t.Errorf("LegacyTemplates of the real shape = %v", got)
	}
	_ = unstructured.SetNestedSlice(o.U.Object, []interface{}{map[string]interface{}{"name": "gw-datapower"}}, "spec", "gateway", "template")
	if got := o.LegacyTemplates(); !reflect.DeepEqual(got, []Subsystem{Gateway}) {
		t.Errorf("LegacyTemplates = %v", got)
	}
	if gw, _ := o.Template(Gateway); len(gw) != 1 || gw[0]["replicaCount"] == nil {
		t.Errorf("Template(gateway) read the old location: %v", gw)
	}
	o.RemoveLegacyTemplate(Gateway, true)
	if _, found, _ := unstructured.NestedFieldNoCopy(o.U.Object, "spec", "gateway"); found {
		t.Error("empty spec.gateway left behind")
	}
	// A subsystem CR has no old location.
	gw := New(GatewayClusterKind, "ns", "gw")
	if gw.LegacyTemplatePath(Gateway) != nil {
		t.Error("subsystem CR with a legacy path")
	}
}

// A DataPowerService prints what IBM's operator writes: READY the Ready condition's status, SUMMARY
// its message, VERSION status.versions.reconciled (fixtures from IBM/datapower-operator-doc).
func TestDataPowerServiceColumns(t *testing.T) {
	for _, c := range []struct {
		fixture, phase, ready, message, version string
	}{
		{"objects/datapowerservice-running.yaml", "Running", "True", "StatefulSet replicas ready: 3/3", "10.0.1.0"},
		{"objects/datapowerservice-pending.yaml", "Pending", "False", "StatefulSet replicas ready: 1/3", "10.0.1.0"},
		{"objects/datapowerservice-paused.yaml", "Running", "True", "StatefulSet replicas ready: 3/3", "10.0.1.0"},
	} {
		o := fixtureObject(t, c.fixture)
		if o.Phase() != c.phase || o.Ready() != c.ready || o.Message() != c.message || o.PrintedVersion() != c.version {
			t.Errorf("%s: phase %q ready %q message %q version %q; want %q %q %q %q", c.fixture,
				o.Phase(), o.Ready(), o.Message(), o.PrintedVersion(), c.phase, c.ready, c.message, c.version)
		}
	}
	// The API Connect kinds keep status.ready and spec.version.
	m := load(t, "mgmt-active.yaml")
	if m.Ready() != "23/23" || m.PrintedVersion() != "10.0.8.0" {
		t.Errorf("mgmt ready %q version %q", m.Ready(), m.PrintedVersion())
	}
}
