package spread_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-apic/kubectl-apic/hack/lab/labtest"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/util/retry"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/spread"
	plugin "github.com/kubectl-apic/kubectl-apic/plugins/spread"
)

// One lab for the package: the default two sites, 6 nodes in 3 zones, busy nodes outside zone-a, so
// the real scheduler puts two of three gateways in zone-a (seed 003's undesired placement).
var env *labtest.Env

func TestMain(m *testing.M) { os.Exit(labtest.Main(m, &env, lab.Config{})) }

func requireLab(t *testing.T) *lab.Lab {
	t.Helper()
	return labtest.Require(t, env)
}

// run runs kubectl apic spread in-process against the lab's dc1.
func run(t *testing.T, l *lab.Lab, args ...string) (stdout, stderr string, code exitcode.Code) {
	t.Helper()
	var out, errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	cmd := plugin.NewCommand("kubectl apic spread", streams)
	cmd.SetArgs(append(args, "--kubeconfig", l.Kubeconfig(), "--context", "dc1", "-n", "apic"))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := exitcode.Code(cli.Execute(ctx, cmd, streams))
	t.Logf("$ kubectl apic spread %s → exit %d (%s)\n%s%s", strings.Join(args, " "), c, c, out.String(), errOut.String())
	return out.String(), errOut.String(), c
}

func gatewaySpec(t *testing.T, s *lab.Site) map[string]interface{} {
	t.Helper()
	u, err := s.Dynamic.Resource(apic.GatewayClusterKind.GVR()).Namespace("apic").Get(context.Background(), lab.GatewayName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	spec, _, _ := unstructured.NestedMap(u.Object, "spec")
	return spec
}

func TestCheckApplyRemoveOnTheLab(t *testing.T) {
	l := requireLab(t)
	s, _ := l.Site("dc1")
	ctx := context.Background()

	// Default placement: two gateways share zone-a; losing it breaks quorum.
	out, _, code := run(t, l, "check", "--subsystem", "gateway")
	if code != exitcode.Degraded || !strings.Contains(out, "losing zone-a breaks "+lab.GatewayName) {
		t.Fatalf("default placement: exit %s, want Degraded naming zone-a", code)
	}

	// The user already has a template entry of their own: replicaCount (same as the profile's 3, so
	// the operator simulator renders the same StatefulSet).
	ri := s.Dynamic.Resource(apic.GatewayClusterKind.GVR()).Namespace("apic")
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		u, err := ri.Get(ctx, lab.GatewayName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		_ = unstructured.SetNestedSlice(u.Object, []interface{}{
			map[string]interface{}{"name": "datapower", "replicaCount": int64(3)},
			map[string]interface{}{"name": "some-other-entry", "enabled": true},
		}, "spec", "template")
		_, err = ri.Update(ctx, u, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	before := gatewaySpec(t, s)

	// plan shows the diff and changes nothing.
	out, _, code = run(t, l, "plan")
	if code != exitcode.OK || !strings.Contains(out, "+++ b/gw/"+lab.GatewayName+" spec.template") ||
		!strings.Contains(out, "topologyKey: topology.kubernetes.io/zone") {
		t.Fatalf("plan: exit %s", code)
	}
	if !reflect.DeepEqual(gatewaySpec(t, s), before) {
		t.Fatal("plan changed the CR")
	}
	// Without --yes and without a terminal: refused, nothing changed.
	if _, _, code = run(t, l, "apply"); code != exitcode.Refused {
		t.Fatalf("apply without --yes: exit %s, want Refused", code)
	}
	// --dry-run: accepted by the server, not stored.
	if _, _, code = run(t, l, "apply", "--dry-run"); code != exitcode.OK || !reflect.DeepEqual(gatewaySpec(t, s), before) {
		t.Fatalf("apply --dry-run: exit %s or the CR changed", code)
	}

	// apply --wait: the operator simulator rolls the StatefulSet, the real scheduler re-spreads.
	out, _, code = run(t, l, "apply", "--yes", "--wait", "--timeout", "2m")
	if code != exitcode.OK || !strings.Contains(out, "Verdict: OK") {
		t.Fatalf("apply --wait: exit %s, want OK after the re-spread", code)
	}
	after := gatewaySpec(t, s)
	tmpl, _, _ := unstructured.NestedSlice(after, "template")
	if len(tmpl) != 2 || tmpl[0].(map[string]interface{})["replicaCount"] == nil || tmpl[1].(map[string]interface{})["name"] != "some-other-entry" {
		t.Errorf("apply lost the user's entries: %v", tmpl)
	}
	sts, err := s.Kube.AppsV1().StatefulSets("apic").Get(ctx, lab.GatewayName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if soft, _ := spread.HasZoneTerm(sts.Spec.Template.Spec.Affinity, spread.Selector(apic.Gateway, lab.GatewayName, "datapower")); !soft {
		t.Errorf("StatefulSet has no zone term: %+v", sts.Spec.Template.Spec.Affinity)
	}
	if _, _, code = run(t, l, "check", "--subsystem", "gateway"); code != exitcode.OK {
		t.Errorf("check after apply: exit %s", code)
	}
	// apply again: nothing to do.
	out, _, code = run(t, l, "apply", "--yes", "-o", "json")
	var doc plugin.PlanResult
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != exitcode.OK || doc.Applied || doc.Objects[0].Changed {
		t.Errorf("second apply: exit %s, %+v, %v", code, doc, err)
	}

	// remove restores the spec exactly; the user's entries survive.
	if _, _, code = run(t, l, "remove", "--yes", "--wait", "--timeout", "2m"); code == exitcode.Error || code >= exitcode.Refused {
		t.Fatalf("remove --wait: exit %s", code)
	}
	if got := gatewaySpec(t, s); !reflect.DeepEqual(got, before) {
		t.Errorf("remove did not restore the spec:\n got %v\nwant %v", got, before)
	}
	u, _ := ri.Get(ctx, lab.GatewayName, metav1.GetOptions{})
	if _, ok := u.GetAnnotations()[spread.RecordAnnotation]; ok {
		t.Error("record annotation left behind")
	}
}

func TestCheckJSONSchema(t *testing.T) {
	l := requireLab(t)
	out, _, code := run(t, l, "check", "-o", "json")
	var doc map[string]interface{}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["kind"] != plugin.KindCheck || doc["apiVersion"] != "apic.kubectl-apic.io/v1alpha1" || int(doc["exitCode"].(float64)) != int(code) {
		t.Errorf("document header %v %v exit %v/%s", doc["kind"], doc["apiVersion"], doc["exitCode"], code)
	}
	for _, k := range []string{"zones", "groups", "zoneLoss", "verdict", "context", "namespace"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("missing %s", k)
		}
	}
}
