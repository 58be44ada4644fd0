package spread_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-apic/kubectl-apic/hack/lab/labtest"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	"github.com/kubectl-apic/kubectl-apic/hack/lab/operator"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/spread"
	plugin "github.com/kubectl-apic/kubectl-apic/plugins/spread"
)

// One lab for the package: the top-level shape (APIConnectCluster) on 4 nodes in only 2 zones.
var env *labtest.Env

func TestMain(m *testing.M) {
	os.Exit(labtest.Main(m, &env, lab.Config{Shape: lab.ShapeTopLevel, Nodes: lab.DefaultNodes(4, "zone-a", "zone-b")}))
}

func requireLab(t *testing.T) *lab.Lab {
	t.Helper()
	return labtest.Require(t, env)
}

func run(t *testing.T, l *lab.Lab, args ...string) (string, exitcode.Code) {
	t.Helper()
	var out, errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	cmd := plugin.NewCommand("kubectl apic spread", streams)
	cmd.SetArgs(append(args, "--kubeconfig", l.Kubeconfig(), "--context", "dc1", "-n", "apic"))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := exitcode.Code(cli.Execute(ctx, cmd, streams))
	t.Logf("$ kubectl apic spread %s → exit %d (%s)\n%s%s", strings.Join(args, " "), c, c, out.String(), errOut.String())
	return out.String(), c
}

func TestTwoZonesAreExplained(t *testing.T) {
	l := requireLab(t)
	out, code := run(t, l, "check", "--subsystem", "gateway")
	if code != exitcode.Degraded || !strings.Contains(out, "only 2 zone(s) (zone-a, zone-b)") {
		t.Errorf("two zones: exit %s, want Degraded with the FewZones explanation", code)
	}
}

func TestTopLevelShapeGetsGwDatapower(t *testing.T) {
	l := requireLab(t)
	s, _ := l.Site("dc1")
	ctx := context.Background()

	targets, err := spread.FindTargets(ctx, s.Dynamic, "dc1", "apic")
	if err != nil {
		t.Fatal(err)
	}
	if len(targets) != 1 || !targets[0].TopLevel() || targets[0].Object.Name() != lab.TopLevelName ||
		targets[0].Instances[apic.Gateway] != operator.SubsystemName(lab.TopLevelName, apic.GatewayClusterKind) {
		t.Fatalf("targets %+v: want only the APIConnectCluster, owning the subsystem CRs", targets)
	}
	top := s.Dynamic.Resource(apic.APIConnectClusterKind.GVR()).Namespace("apic")
	gwCRs := s.Dynamic.Resource(apic.GatewayClusterKind.GVR()).Namespace("apic")
	get := func() *unstructured.Unstructured {
		u, err := top.Get(ctx, lab.TopLevelName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	beforeSpec := get().Object["spec"]

	// A server-side dry run stores nothing.
	fn := func(o apic.Object) (spread.Plan, error) {
		return spread.PlanApply(o, targets[0].Requests([]apic.Subsystem{apic.Gateway}), spread.Soft)
	}
	if p, err := spread.Write(ctx, s.Dynamic, "dc1", apic.APIConnectClusterKind, "apic", lab.TopLevelName, fn, true); err != nil || !p.Changed() {
		t.Fatalf("dry run: %v (changed=%v)", err, p.Changed())
	}
	if !reflect.DeepEqual(get().Object["spec"], beforeSpec) {
		t.Fatal("dry run changed the APIConnectCluster")
	}

	out, code := run(t, l, "apply", "--yes", "--wait", "--timeout", "2m")
	// Two zones: the gateways cannot all be safe, but the apply itself and the rollout succeed.
	if code != exitcode.Degraded || !strings.Contains(out, "spec.template (gw-* entries)") {
		t.Fatalf("apply on the top-level shape: exit %s", code)
	}
	// IBM "Replica override for microservices": ONE list at spec.template, prefixed names.
	tmpl, _, _ := unstructured.NestedSlice(get().Object, "spec", "template")
	if len(tmpl) != 1 || tmpl[0].(map[string]interface{})["name"] != "gw-datapower" {
		t.Errorf("APIConnectCluster spec.template = %v, want one gw-datapower entry", tmpl)
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(get().Object, "spec", "gateway", "template"); found {
		t.Error("spec.gateway.template written (the old, undocumented location)")
	}
	gw, err := gwCRs.Get(ctx, targets[0].Instances[apic.Gateway], metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := gw.GetAnnotations()[spread.RecordAnnotation]; ok {
		t.Error("the operator-owned GatewayCluster was written to")
	}
	sts, err := s.Kube.AppsV1().StatefulSets("apic").Get(ctx, gw.GetName(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if soft, _ := spread.HasZoneTerm(sts.Spec.Template.Spec.Affinity, spread.Selector(apic.Gateway, gw.GetName(), "datapower")); !soft {
		t.Errorf("the override did not reach the gateway StatefulSet: %+v", sts.Spec.Template.Spec.Affinity)
	}

	if _, code = run(t, l, "remove", "--yes"); code != exitcode.OK {
		t.Fatalf("remove: exit %s", code)
	}
	if got := get().Object["spec"]; !reflect.DeepEqual(got, beforeSpec) {
		t.Errorf("remove did not restore the APIConnectCluster spec:\n got %v\nwant %v", got, beforeSpec)
	}
}

// Entries an earlier version left at spec.gateway.template of the APIConnectCluster: remove says so
// and changes nothing; remove --move-legacy moves them into spec.template, on a real API server.
func TestRemoveMovesTheOldLocationOnTheLab(t *testing.T) {
	l := requireLab(t)
	s, _ := l.Site("dc1")
	ctx := context.Background()
	top := s.Dynamic.Resource(apic.APIConnectClusterKind.GVR()).Namespace("apic")
	u, err := top.Get(ctx, lab.TopLevelName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_ = unstructured.SetNestedSlice(u.Object, []interface{}{map[string]interface{}{"name": "gw-datapower", "replicaCount": int64(3)}}, "spec", "gateway", "template")
	if _, err := top.Update(ctx, u, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	out, code := run(t, l, "remove", "--yes")
	if code != exitcode.OK || !strings.Contains(out, "spec.gateway.template: 1 template entry (gw-datapower) at the old location") ||
		!strings.Contains(out, "--move-legacy") {
		t.Fatalf("remove with entries at the old location: exit %s", code)
	}
	if _, code = run(t, l, "remove", "--move-legacy", "--yes"); code != exitcode.OK {
		t.Fatalf("remove --move-legacy: exit %s", code)
	}
	u, _ = top.Get(ctx, lab.TopLevelName, metav1.GetOptions{})
	tmpl, _, _ := unstructured.NestedSlice(u.Object, "spec", "template")
	if _, found, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "gateway", "template"); found ||
		len(tmpl) != 1 || tmpl[0].(map[string]interface{})["name"] != "gw-datapower" {
		t.Errorf("after the move: spec.template %v, spec.gateway %v", tmpl, u.Object["spec"].(map[string]interface{})["gateway"])
	}
	// The simulated operator reads the moved entry from spec.template (prefix stripped on the
	// GatewayCluster it derives); the old location it never read.
	labtest.Eventually(t, 30*time.Second, "the derived GatewayCluster carries the moved datapower entry", func() (bool, string) {
		gw := operator.SubsystemName(lab.TopLevelName, apic.GatewayClusterKind)
		g, err := s.Dynamic.Resource(apic.GatewayClusterKind.GVR()).Namespace("apic").Get(ctx, gw, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		e, _ := apic.Object{Kind: apic.GatewayClusterKind, U: g}.Template(apic.Gateway)
		return len(e) == 1 && e[0]["name"] == "datapower", fmt.Sprintf("GatewayCluster spec.template %v", e)
	})
	// Leave the CR as the other tests expect it.
	u, _ = top.Get(ctx, lab.TopLevelName, metav1.GetOptions{})
	unstructured.RemoveNestedField(u.Object, "spec", "template")
	if _, err := top.Update(ctx, u, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}
