package apic_test

import (
	"context"
	"os"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-apic/kubectl-apic/internal/testenv"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Run(m, &env)) }

// The resource model against the real apiserver: create a documentation-shaped object, demote it with
// the documented merge patch, set status through the status subresource, read both back through the
// typed view, and list it with the real kubectl (short name, product-like columns). Both shapes.
func TestResourceModelOnRealAPIServer(t *testing.T) {
	e := testenv.Require(t, env)
	ctx := context.Background()
	for _, tc := range []struct {
		file, short string
		sub         apic.Subsystem
		wantMessage string
	}{
		{"mgmt-active.yaml", "mgmt", apic.Management, "Management is ready. HA status Ready - see HAStatus in CR for details"},
		{"apiconnectcluster.yaml", "apiconnectcluster", apic.Management, "Warning - see status condition for details"},
	} {
		t.Run(tc.short, func(t *testing.T) {
			ns := e.Namespace(t)
			raw, err := os.ReadFile("testdata/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			u := &unstructured.Unstructured{}
			if err := yaml.Unmarshal(raw, &u.Object); err != nil {
				t.Fatal(err)
			}
			u.SetNamespace(ns)
			status := u.Object["status"]
			obj, err := apic.Wrap(u)
			if err != nil {
				t.Fatal(err)
			}
			res := e.Dynamic.Resource(obj.Kind.GVR()).Namespace(ns)
			created, err := res.Create(ctx, u, metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			// status is a subresource: create ignores it, UpdateStatus sets it.
			if _, found := created.Object["status"]; found {
				t.Error("status was stored by create; the status subresource is not enabled")
			}
			created.Object["status"] = status
			if _, err := res.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
				t.Fatalf("update status: %v", err)
			}

			patch, err := apic.ModePatch(obj.Kind, tc.sub, apic.ModePassive)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := res.Patch(ctx, u.GetName(), types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
				t.Fatalf("merge patch: %v", err)
			}
			statusPatch := []byte(`{"status":{"haMode":"BlockedWarmStandbyConversion"}}`)
			if _, err := res.Patch(ctx, u.GetName(), types.MergePatchType, statusPatch, metav1.PatchOptions{}, "status"); err != nil {
				t.Fatalf("status patch: %v", err)
			}

			got, err := res.Get(ctx, u.GetName(), metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			view, _ := apic.Wrap(got)
			if ha, _ := view.MultiSiteHA(tc.sub); ha.Mode != apic.ModePassive {
				t.Errorf("mode = %q, want passive", ha.Mode)
			}
			if view.HAMode() != "BlockedWarmStandbyConversion" {
				t.Errorf("haMode = %q", view.HAMode())
			}
			if got.GetAnnotations()[apic.DataDeletionConfirmationAnnotation] != "true" {
				t.Error("confirmation annotation missing")
			}
			if _, found, _ := unstructured.NestedMap(got.Object, "spec", "license"); !found {
				t.Error("unknown field spec.license was pruned")
			}
			if view.Message() != tc.wantMessage {
				t.Errorf("message = %q", view.Message())
			}

			out := e.Kubectl(t, "get", tc.short, "-n", ns)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 2 {
				t.Fatalf("kubectl get %s printed:\n%s", tc.short, out)
			}
			header := strings.Fields(lines[0])
			want := []string{"NAME", "READY", "STATUS", "VERSION", "RECONCILED", "VERSION", "MESSAGE", "AGE"}
			if strings.Join(header, " ") != strings.Join(want, " ") {
				t.Errorf("columns = %v, want %v", header, want)
			}
			for _, s := range []string{u.GetName(), view.Ready(), view.Phase(), "10.0.8.0", "10.0.8.0-7178", tc.wantMessage} {
				if !strings.Contains(lines[1], s) {
					t.Errorf("kubectl get %s row lacks %q:\n%s", tc.short, s, out)
				}
			}
			wide := e.Kubectl(t, "get", tc.short, "-n", ns, "-o", "wide")
			if !strings.Contains(wide, "HA MODE") || !strings.Contains(wide, "BlockedWarmStandbyConversion") {
				t.Errorf("kubectl get -o wide lacks HA MODE:\n%s", wide)
			}
		})
	}
}

// Every kind is served under its documented group, version and short name. IBM's DataPowerService
// CRD is in categories all, apic, integration and cp4i, not apiconnect, so all resources are listed.
func TestAllKindsServed(t *testing.T) {
	e := testenv.Require(t, env)
	out := e.Kubectl(t, "api-resources", "-o", "wide")
	for _, k := range apic.Kinds() {
		if !strings.Contains(out, k.Plural) || !strings.Contains(out, k.APIVersion()) || !strings.Contains(out, k.Kind) {
			t.Errorf("api-resources lacks %s (%s):\n%s", k.Kind, k.APIVersion(), out)
		}
		if k.ShortName != "" && !strings.Contains(out, " "+k.ShortName+" ") {
			t.Errorf("short name %s not served", k.ShortName)
		}
	}
}
