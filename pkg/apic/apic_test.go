package apic

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func load(t *testing.T, file string) Object {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(raw, &u.Object); err != nil {
		t.Fatal(err)
	}
	o, err := Wrap(u)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestSubsystemCRViews(t *testing.T) {
	o := load(t, "mgmt-active.yaml")
	checks := []struct{ name, got, want string }{
		{"kind", o.Kind.ShortName, "mgmt"},
		{"ref", o.Ref(), "mgmt/production-mgmt"},
		{"phase", o.Phase(), "Running"},
		{"haMode", o.HAMode(), "active"},
		{"version", o.Version(), "10.0.8.0"},
		{"reconciled", o.ReconciledVersion(), "10.0.8.0-7178"},
		{"ready", o.Ready(), "23/23"},
		{"message", o.Message(), "Management is ready. HA status Ready - see HAStatus in CR for details"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	active, ok := o.ActiveHAStatus()
	if !ok || active.Type != "Ready" || active.Message != "Active DB is ready" || active.LastTransitionTime.IsZero() {
		t.Errorf("ActiveHAStatus = %+v, %v", active, ok)
	}
	if got := len(o.HAStatus()); got != 2 {
		t.Errorf("HAStatus has %d entries, want 2", got)
	}
	ha, ok := o.MultiSiteHA(Management)
	if !ok || ha.Mode != "active" || ha.ReplicationPeerFQDN != "mgmt-replication.dc2.example.com" || ha.SiteName != "dc1" {
		t.Errorf("MultiSiteHA = %+v, %v", ha, ok)
	}
	if _, ok := o.MultiSiteHA(Portal); ok {
		t.Error("a ManagementCluster must not report a portal multiSiteHA")
	}
	if got := o.HASubsystems(); !reflect.DeepEqual(got, []Subsystem{Management}) {
		t.Errorf("HASubsystems = %v", got)
	}
	if !o.HasTemplateOverrides() {
		t.Error("template overrides not detected")
	}
}

func TestTopLevelCRViews(t *testing.T) {
	o := load(t, "apiconnectcluster.yaml")
	if !o.IsTopLevel() || o.Kind.Display() != "apiconnectcluster" {
		t.Fatalf("top-level kind not recognised: %+v", o.Kind)
	}
	if got := o.HASubsystems(); !reflect.DeepEqual(got, []Subsystem{Management, Portal}) {
		t.Errorf("HASubsystems = %v", got)
	}
	ha, _ := o.MultiSiteHA(Management)
	if ha.Mode != "active" || ha.SiteName != "dc2" {
		t.Errorf("management multiSiteHA = %+v", ha)
	}
	c, ok := o.ActiveCondition()
	if !ok || c.Type != "Warning" || c.Message != "an error occured while running job apic/production-configurator" {
		t.Errorf("ActiveCondition = %+v", c)
	}
	if o.Message() != "Warning - see status condition for details" {
		t.Errorf("Message = %q", o.Message())
	}
	if got := o.TemplateEntryName(Gateway, "datapower"); got != "gw-datapower" {
		t.Errorf("top-level gateway entry = %q", got)
	}
	if got := o.Replicas(); got != 3 {
		t.Errorf("Replicas = %d, want 3 (from gw-datapower replicaCount)", got)
	}
}

// The documented demotion patch, applied as `kubectl patch --type merge` would, keeps every other field.
func TestModePatchKeepsUnknownFields(t *testing.T) {
	for _, tc := range []struct {
		file, sub string
		path      []string
	}{
		{"mgmt-active.yaml", "management", []string{"spec", "multiSiteHA", "mode"}},
		{"apiconnectcluster.yaml", "management", []string{"spec", "management", "multiSiteHA", "mode"}},
		{"apiconnectcluster.yaml", "portal", []string{"spec", "portal", "multiSiteHA", "mode"}},
	} {
		t.Run(tc.file+"/"+tc.sub, func(t *testing.T) {
			o := load(t, tc.file)
			patch, err := ModePatch(o.Kind, Subsystem(tc.sub), ModePassive)
			if err != nil {
				t.Fatal(err)
			}
			before, _ := json.Marshal(o.U.Object)
			after, err := jsonpatch.MergePatch(before, patch)
			if err != nil {
				t.Fatal(err)
			}
			u := &unstructured.Unstructured{}
			if err := json.Unmarshal(after, &u.Object); err != nil {
				t.Fatal(err)
			}
			if m, _, _ := unstructured.NestedString(u.Object, tc.path...); m != "passive" {
				t.Errorf("mode = %q after patch", m)
			}
			if got := u.GetAnnotations()[DataDeletionConfirmationAnnotation] == "true"; got != (tc.sub == "management") {
				t.Errorf("data-deletion confirmation annotation present = %v; IBM documents it for management only", got)
			}
			// Everything except the mode and annotation is unchanged.
			_ = unstructured.SetNestedField(u.Object, "x", tc.path...)
			orig := o.U.DeepCopy()
			_ = unstructured.SetNestedField(orig.Object, "x", tc.path...)
			u.SetAnnotations(nil)
			if !reflect.DeepEqual(orig.Object, u.Object) {
				t.Errorf("patch changed other fields:\n%v\n%v", orig.Object, u.Object)
			}
		})
	}
}

func TestModePatchActiveHasNoConfirmation(t *testing.T) {
	p, err := ModePatch(PortalClusterKind, Portal, ModeActive)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(p); got != `{"spec":{"multiSiteHA":{"mode":"active"}}}` {
		t.Errorf("patch = %s", got)
	}
	if _, err := ModePatch(PortalClusterKind, Management, ModeActive); err == nil {
		t.Error("patching management on a PortalCluster must fail")
	}
}

func TestSetTemplateRoundTrip(t *testing.T) {
	o := load(t, "mgmt-active.yaml")
	entries, err := o.Template(Management)
	if err != nil || len(entries) != 1 {
		t.Fatalf("Template = %v, %v", entries, err)
	}
	entries = append(entries, map[string]interface{}{"name": "ui", "replicaCount": int64(1)})
	if err := o.SetTemplate(Management, entries); err != nil {
		t.Fatal(err)
	}
	got, _ := o.Template(Management)
	if len(got) != 2 || got[1]["name"] != "ui" {
		t.Errorf("after SetTemplate: %v", got)
	}
	if err := o.SetTemplate(Management, nil); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := unstructured.NestedSlice(o.U.Object, "spec", "template"); found {
		t.Error("empty template must remove spec.template")
	}
	if _, found, _ := unstructured.NestedMap(o.U.Object, "spec", "license"); !found {
		t.Error("unknown spec.license lost")
	}
}

func TestKindLookup(t *testing.T) {
	for name, want := range map[string]string{"mgmt": "ManagementCluster", "ptl": "PortalCluster", "gw": "GatewayCluster",
		"a7s": "AnalyticsCluster", "dp": "DataPowerService", "apiconnectcluster": "APIConnectCluster",
		"gatewayclusters": "GatewayCluster", "ManagementCluster": "ManagementCluster"} {
		k, ok := KindFor(name)
		if !ok || k.Kind != want {
			t.Errorf("KindFor(%q) = %v, %v; want %s", name, k.Kind, ok, want)
		}
	}
	if _, ok := KindFor("pods"); ok {
		t.Error("pods is not an API Connect kind")
	}
	if _, err := Wrap(&unstructured.Unstructured{Object: map[string]interface{}{"apiVersion": "v1", "kind": "Pod"}}); err == nil {
		t.Error("Wrap accepted a Pod")
	}
}

func TestProfileReplicas(t *testing.T) {
	for profile, want := range map[string]int{"n1xc4.m8": 1, "n3xc4.m8": 3, "n12xc4": 12, "": 0, "x3": 0} {
		o := New(GatewayClusterKind, "apic", "gw")
		_ = unstructured.SetNestedField(o.U.Object, profile, "spec", "profile")
		if got := o.ProfileReplicas(); got != want {
			t.Errorf("ProfileReplicas(%q) = %d, want %d", profile, got, want)
		}
	}
}

func TestIsPassiveHAMode(t *testing.T) {
	for m, want := range map[string]bool{"passive": true, "progressing to passive": true, "BlockedWarmStandbyConversion": true,
		"ReadyForPromotion": true, "active": false, "": false, "progressing to active": false} {
		if got := IsPassiveHAMode(m); got != want {
			t.Errorf("IsPassiveHAMode(%q) = %v", m, got)
		}
	}
}

func TestParseSubsystems(t *testing.T) {
	failover := []Subsystem{Management, Portal}
	tests := []struct {
		spec    string
		among   []Subsystem
		want    []Subsystem
		wantErr string
	}{
		{"gw, mgmt,portal,gateway", Subsystems(), []Subsystem{Gateway, Management, Portal}, ""},
		{"all", Subsystems(), Subsystems(), ""},
		{"all", failover, failover, ""},
		{"ptl", failover, []Subsystem{Portal}, ""},
		{"Management", failover, []Subsystem{Management}, ""},
		{"gateway", failover, nil, `unknown subsystem "gateway": use management, portal or all`},
		{"", failover, nil, `unknown subsystem ""`},
	}
	for _, tc := range tests {
		got, err := ParseSubsystems(tc.spec, tc.among)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: err %v, want %q", tc.spec, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%q: %v %v, want %v", tc.spec, got, err, tc.want)
		}
	}
}

func TestConfiguratorJobWarning(t *testing.T) {
	ibm := "an error occured while running job apic/production-configurator" // IBM's spelling
	obj := func(kind, group, status, message string) Object {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": group + "/v1beta1", "kind": kind, "metadata": map[string]any{"name": "production", "namespace": "apic"},
			"status": map[string]any{"phase": "Warning", "conditions": []any{
				map[string]any{"type": "Warning", "status": status, "message": message}}}}}
		o, err := Wrap(u)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	tests := []struct {
		name string
		o    Object
		want bool
	}{
		{"top-level with IBM's condition", obj("APIConnectCluster", "apiconnect.ibm.com", "True", ibm), true},
		{"condition no longer true", obj("APIConnectCluster", "apiconnect.ibm.com", "False", ibm), false},
		{"another job's error", obj("APIConnectCluster", "apiconnect.ibm.com", "True", "an error occured while running job apic/production-upgrade"), false},
		{"a subsystem CR is never the CP4I case", obj("ManagementCluster", "management.apiconnect.ibm.com", "True", ibm), false},
	}
	for _, tc := range tests {
		if c, got := tc.o.ConfiguratorJobWarning(); got != tc.want || (got && c.Message != ibm) {
			t.Errorf("%s: %v %+v, want %v", tc.name, got, c, tc.want)
		}
	}
}
