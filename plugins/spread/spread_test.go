package spread

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"

	"github.com/kubectl-apic/kubectl-apic/internal/goldenfile"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/kube"
	"github.com/kubectl-apic/kubectl-apic/pkg/lock"
)

func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenfile.Assert(t, filepath.Join("testdata", name+".golden"), []byte(got))
}

type node struct{ name, zone string }

func fakeSite(t *testing.T, nodes []node, pods []corev1.Pod, crs ...*unstructured.Unstructured) *kube.Site {
	t.Helper()
	scheme := metadatafake.NewTestScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	var metas []runtime.Object
	for _, n := range nodes {
		m := &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Node"},
			ObjectMeta: metav1.ObjectMeta{Name: n.name, Labels: map[string]string{}}}
		if n.zone != "" {
			m.Labels[apic.ZoneLabel] = n.zone
		}
		metas = append(metas, m)
	}
	var objs []runtime.Object
	for i := range pods {
		objs = append(objs, &pods[i])
	}
	for _, n := range nodes {
		typed := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.name, Labels: map[string]string{}},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
		if n.zone != "" {
			typed.Labels[apic.ZoneLabel] = n.zone
		}
		objs = append(objs, typed)
	}
	lists := map[schema.GroupVersionResource]string{}
	for _, k := range apic.Kinds() {
		lists[k.GVR()] = k.Kind + "List"
	}
	var dyn []runtime.Object
	for _, u := range crs {
		dyn = append(dyn, u)
	}
	return &kube.Site{Name: "dc1", Namespace: "apic",
		Kube:     kubefake.NewClientset(objs...),
		Metadata: metadatafake.NewSimpleMetadataClient(scheme, metas...),
		Dynamic:  dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), lists, dyn...),
	}
}

func pod(name, instance, kind, ms, nodeName string, ready bool) corev1.Pod {
	labels := map[string]string{apic.InstanceLabel: instance, apic.KindLabel: kind}
	if ms != "" {
		labels["app.kubernetes.io/name"] = ms
	}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "apic", Labels: labels},
		Spec:   corev1.PodSpec{NodeName: nodeName},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}}}
}

func gateways(nodes ...string) []corev1.Pod {
	var out []corev1.Pod
	for i, n := range nodes {
		out = append(out, pod(fmt.Sprintf("gw-%d", i), "gw", "datapower", "", n, true))
	}
	return out
}

var sixNodes = []node{{"node-1", "zone-a"}, {"node-2", "zone-a"}, {"node-3", "zone-b"}, {"node-4", "zone-b"}, {"node-5", "zone-c"}, {"node-6", "zone-c"}}

// runWith runs the command in-process on a fake site.
func runWith(t *testing.T, site *kube.Site, args ...string) (string, string, exitcode.Code) {
	t.Helper()
	var out, errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	o := NewOptions(streams)
	o.NewSite = func(*genericclioptions.ConfigFlags) (*kube.Site, error) { return site, nil }
	o.Getenv = func(string) string { return "" }
	cmd := NewCommandWithOptions("kubectl apic spread", o)
	cmd.SetArgs(append([]string{}, args...)) // never nil: cobra would read os.Args
	code := exitcode.Code(cli.Execute(context.Background(), cmd, streams))
	return out.String(), errOut.String(), code
}

func TestCheckVerdicts(t *testing.T) {
	mgmt := []corev1.Pod{
		pod("apim-0", "mgmt", "management", "apim", "node-1", true),
		pod("apim-1", "mgmt", "management", "apim", "node-3", true),
		pod("apim-2", "mgmt", "management", "apim", "node-5", true),
	}
	tests := []struct {
		name   string
		nodes  []node
		pods   []corev1.Pod
		args   []string
		code   exitcode.Code
		golden string
		want   string
	}{
		{name: "two of three in zone-a", nodes: sixNodes, pods: append(gateways("node-1", "node-2", "node-3"), mgmt...),
			code: exitcode.Degraded, golden: "check-at-risk", want: "losing zone-a breaks gw"},
		{name: "spread", nodes: sixNodes, pods: append(gateways("node-1", "node-3", "node-6"), mgmt...),
			code: exitcode.OK, golden: "check-ok", want: "Verdict: OK"},
		{name: "wide shows pods per node", nodes: sixNodes, pods: gateways("node-1", "node-3", "node-6"), args: []string{"-o", "wide"},
			code: exitcode.OK, golden: "check-wide", want: "node-1=1,node-3=1,node-6=1"},
		{name: "quorum lost now", nodes: sixNodes,
			pods: append(gateways("node-1", "node-3"), pod("gw-2", "gw", "datapower", "", "node-5", false), pod("gw-3", "gw", "datapower", "", "", false)),
			code: exitcode.Critical, golden: "check-critical", want: "out of quorum now: gw (2/4 ready, needs 3)"},
		{name: "nodes without zone labels", nodes: []node{{"node-1", ""}, {"node-2", ""}, {"node-3", ""}},
			pods: gateways("node-1", "node-2", "node-3"), code: exitcode.Degraded, golden: "check-unlabelled",
			want: "no node has a topology.kubernetes.io/zone label"},
		{name: "some nodes unlabelled", nodes: append(sixNodes[:5:5], node{"node-6", ""}),
			pods: gateways("node-1", "node-3", "node-6"), code: exitcode.Degraded, golden: "check-some-unlabelled",
			want: "nodes without a topology.kubernetes.io/zone label: node-6; API Connect pods run there"},
		{name: "subsystem filter", nodes: sixNodes, pods: append(gateways("node-1", "node-3", "node-6"), mgmt...),
			args: []string{"--subsystem", "mgmt"}, code: exitcode.OK, want: "mgmt apim"},
		// Issue 11 item 4: a hard spread with zone-c down left gw-2 Pending; 2 of 3 ready, quorum 2.
		{name: "pending member is no survivor", nodes: sixNodes,
			pods: append(gateways("node-1", "node-3"), pod("gw-2", "gw", "datapower", "", "", false)),
			code: exitcode.Degraded, golden: "check-pending", want: "losing zone-a breaks gw; losing zone-b breaks gw"},
		// The same code as status for "no API Connect here".
		{name: "no pods", nodes: sixNodes, code: exitcode.Degraded, want: "no API Connect pods"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runWith(t, fakeSite(t, tt.nodes, tt.pods), append([]string{"check"}, tt.args...)...)
			if code != tt.code {
				t.Errorf("exit %s, want %s\n%s%s", code, tt.code, out, errOut)
			}
			if !strings.Contains(out+errOut, tt.want) {
				t.Errorf("output lacks %q:\n%s%s", tt.want, out, errOut)
			}
			if tt.golden != "" {
				golden(t, tt.golden, out)
			}
		})
	}
}

func TestCheckDefaultsToCheck(t *testing.T) {
	site := fakeSite(t, sixNodes, gateways("node-1", "node-2", "node-3"))
	a, _, ca := runWith(t, site)
	b, _, cb := runWith(t, site, "check")
	if a != b || ca != cb || ca != exitcode.Degraded {
		t.Errorf("bare command differs from check: %s vs %s", ca, cb)
	}
	out, _, code := runWith(t, site, "check", "-o", "yaml")
	if code != exitcode.Degraded || !strings.Contains(out, "kind: SpreadCheck") || !strings.Contains(out, "verdict: DEGRADED") {
		t.Errorf("yaml: %s\n%s", code, out)
	}
}

func TestUsageErrors(t *testing.T) {
	site := fakeSite(t, sixNodes, nil)
	for _, args := range [][]string{
		{"check", "--subsystem", "nginx"},
		{"apply", "--wait", "--dry-run"},
		{"check", "-o", "xml"},
		{"bogus"},
		{"check", "--hard"},
	} {
		if _, _, code := runWith(t, site, args...); code != exitcode.Usage {
			t.Errorf("%v: exit %s, want Usage", args, code)
		}
	}
}

func gatewayCR(template ...map[string]interface{}) *unstructured.Unstructured {
	o := apic.New(apic.GatewayClusterKind, "apic", "gw")
	o.U.Object["spec"] = map[string]interface{}{"version": "10.0.8.0", "profile": "n3xc4.m8"}
	_ = o.SetTemplate(apic.Gateway, template)
	return o.U
}

func TestPlanGolden(t *testing.T) {
	site := fakeSite(t, sixNodes, nil, gatewayCR(map[string]interface{}{"name": "datapower", "replicaCount": int64(3)}))
	out, _, code := runWith(t, site, "plan")
	if code != exitcode.OK {
		t.Fatalf("plan: exit %s", code)
	}
	golden(t, "plan-gateway", out)
	out, _, _ = runWith(t, site, "plan", "--hard", "-o", "json")
	golden(t, "plan-gateway-hard.json", out)
	// Remove with nothing recorded changes nothing.
	out, _, code = runWith(t, site, "remove", "--yes")
	if code != exitcode.OK || !strings.Contains(out, "none") {
		t.Errorf("remove without a record: exit %s\n%s", code, out)
	}
}

func TestApplyNeedsConfirmation(t *testing.T) {
	site := fakeSite(t, sixNodes, nil, gatewayCR())
	out, errOut, code := runWith(t, site, "apply")
	if code != exitcode.Refused || !strings.Contains(errOut, "--yes") || !strings.Contains(out, "+  name: datapower") {
		t.Errorf("apply without --yes: exit %s\n%s%s", code, out, errOut)
	}
	u, _ := site.Dynamic.Resource(apic.GatewayClusterKind.GVR()).Namespace("apic").Get(context.Background(), "gw", metav1.GetOptions{})
	if _, found, _ := unstructured.NestedSlice(u.Object, "spec", "template"); found {
		t.Error("refused apply changed the CR")
	}
}

func TestParseSubsystems(t *testing.T) {
	got, err := ParseSubsystems("gw, mgmt,portal,gateway")
	if err != nil || len(got) != 3 || got[0] != apic.Gateway || got[1] != apic.Management || got[2] != apic.Portal {
		t.Errorf("%v %v", got, err)
	}
	if all, _ := ParseSubsystems("all"); len(all) != 4 {
		t.Errorf("all = %v", all)
	}
}

// markDown makes nodes NotReady, as apic-lab fault zone-down does.
func markDown(t *testing.T, site *kube.Site, names ...string) {
	t.Helper()
	for _, n := range names {
		nd, err := site.Kube.CoreV1().Nodes().Get(context.Background(), n, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		nd.Status.Conditions[0].Status = corev1.ConditionFalse
		if _, err := site.Kube.CoreV1().Nodes().Update(context.Background(), nd, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

func gatewayCRNamed(name string) *unstructured.Unstructured {
	u := gatewayCR()
	u.SetName(name)
	return u
}

func TestCheckAllNamespaces(t *testing.T) {
	pods := append(gateways("node-1", "node-3", "node-5"), gateways("node-1", "node-2", "node-4")...)
	for i := 3; i < 6; i++ {
		pods[i].Namespace = "apic-test"
	}
	site := fakeSite(t, sixNodes, pods)
	out, errOut, code := runWith(t, site, "check", "-A")
	if code != exitcode.Degraded || !strings.Contains(out, "losing zone-a breaks apic-test/gw") {
		t.Errorf("-A: exit %s\n%s%s", code, out, errOut)
	}
	golden(t, "check-all-namespaces", out)
	out, _, _ = runWith(t, site, "check", "--all-namespaces", "-o", "json")
	golden(t, "check-all-namespaces.json", out)
	// Without -A only namespace apic is read: its gateways are spread.
	if _, _, code := runWith(t, site, "check", "-n", "apic"); code != exitcode.OK {
		t.Errorf("-n apic: exit %s", code)
	}
	for _, args := range [][]string{{"check", "-A", "-n", "apic"}, {"apply", "-A"}, {"plan", "--all-namespaces"}} {
		if _, errOut, code := runWith(t, site, args...); code != exitcode.Usage {
			t.Errorf("%v: exit %s, want Usage\n%s", args, code, errOut)
		}
	}
}

// Issue 11 item 9: with zone-c down, --hard cannot give each of 3 gateways a zone of its own.
func TestApplyHardRefusedWhenAZoneIsDown(t *testing.T) {
	site := fakeSite(t, sixNodes, gateways("node-1", "node-2", "node-3"), gatewayCR())
	markDown(t, site, "node-5", "node-6")
	out, errOut, code := runWith(t, site, "apply", "--hard", "--yes")
	for _, want := range []string{"--hard would leave 1 of the 3 pods of gw Pending (only 2 zone(s) (zone-a, zone-b)", "zone-c: node-5 NotReady, node-6 NotReady",
		"Nothing was changed", "kubectl get nodes -l topology.kubernetes.io/zone=zone-c",
		"soft variant (kubectl apic spread apply --context dc1 -n apic)"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if code != exitcode.Refused {
		t.Errorf("exit %s, want Refused\n%s%s", code, out, errOut)
	}
	u, _ := site.Dynamic.Resource(apic.GatewayClusterKind.GVR()).Namespace("apic").Get(context.Background(), "gw", metav1.GetOptions{})
	if _, found, _ := unstructured.NestedSlice(u.Object, "spec", "template"); found {
		t.Error("refused apply changed the CR")
	}
	// plan --hard says so and changes nothing; soft apply warns and goes ahead.
	out, errOut, code = runWith(t, site, "plan", "--hard", "-o", "json")
	if code != exitcode.OK || !strings.Contains(out, `"apply --hard would be refused: --hard would leave 1 of the 3 pods of gw Pending`) {
		t.Errorf("plan --hard: exit %s\n%s%s", code, out, errOut)
	}
	_, errOut, code = runWith(t, site, "apply", "--yes")
	if code != exitcode.OK || !strings.Contains(errOut, "the soft term lets its pods share the 2 zone(s) left until zone-c is back") {
		t.Errorf("soft apply: exit %s\n%s", code, errOut)
	}
	// All zones up: --hard goes ahead.
	site = fakeSite(t, sixNodes, gateways("node-1", "node-2", "node-3"), gatewayCR())
	if _, errOut, code := runWith(t, site, "apply", "--hard", "--yes"); code != exitcode.OK {
		t.Errorf("apply --hard with every zone up: exit %s\n%s", code, errOut)
	}
}

// Issue 11 item 7: a second run on the same CR is refused, naming the holder; nothing changes.
func TestApplyRefusedWhileAnotherRunHoldsTheLease(t *testing.T) {
	site := fakeSite(t, sixNodes, nil, gatewayCR())
	other := lock.Holder{User: "alice", Host: "jump-1", PID: 4242, Command: "kubectl apic spread remove --context dc1 -n apic", RunID: "other"}
	l, err := lock.Acquire(context.Background(), []lock.Target{{Site: "dc1", Client: site.Kube, Namespace: "apic"}}, other,
		lock.Options{Name: "apic-spread-gw-gw"})
	if err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runWith(t, site, "apply", "--yes")
	if code != exitcode.Refused || !strings.Contains(errOut, "another kubectl apic spread run is changing gw/gw") ||
		!strings.Contains(errOut, "alice@jump-1 pid 4242 (kubectl apic spread remove --context dc1 -n apic)") {
		t.Errorf("exit %s\n%s", code, errOut)
	}
	u, _ := site.Dynamic.Resource(apic.GatewayClusterKind.GVR()).Namespace("apic").Get(context.Background(), "gw", metav1.GetOptions{})
	if _, found, _ := unstructured.NestedSlice(u.Object, "spec", "template"); found {
		t.Error("refused apply changed the CR")
	}
	if _, errOut, code := runWith(t, site, "apply", "--dry-run"); code != exitcode.OK || !strings.Contains(errOut, "held by alice@jump-1") {
		t.Errorf("dry run: exit %s\n%s", code, errOut)
	}
	// Once it is released, the run takes the lease, applies, and gives it back.
	if err := l.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runWith(t, site, "apply", "--yes"); code != exitcode.OK {
		t.Fatalf("after release: exit %s\n%s", code, errOut)
	}
	le, _ := lock.Inspect(context.Background(), lock.Target{Site: "dc1", Client: site.Kube, Namespace: "apic"}, "apic-spread-gw-gw")
	if _, held := lock.HolderOf(le); held {
		t.Error("lease still held after the run")
	}
}

// Issue 11 item 8 (fast part; the lab test is TestRemoveAfterUserTunedOurTermOnTheLab).
func TestRemoveAfterTheUserTunedOurTerm(t *testing.T) {
	site := fakeSite(t, sixNodes, nil, gatewayCR())
	if _, errOut, code := runWith(t, site, "apply", "--yes"); code != exitcode.OK {
		t.Fatalf("apply: %s\n%s", code, errOut)
	}
	ri := site.Dynamic.Resource(apic.GatewayClusterKind.GVR()).Namespace("apic")
	u, _ := ri.Get(context.Background(), "gw", metav1.GetOptions{})
	l, _, _ := unstructured.NestedSlice(u.Object, "spec", "template")
	terms, _, _ := unstructured.NestedSlice(l[0].(map[string]interface{}), "affinity", "podAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution")
	terms[0].(map[string]interface{})["weight"] = int64(50)
	_ = unstructured.SetNestedSlice(l[0].(map[string]interface{}), terms, "affinity", "podAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution")
	_ = unstructured.SetNestedSlice(u.Object, l, "spec", "template")
	if _, err := ri.Update(context.Background(), u, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runWith(t, site, "remove", "--yes")
	if code != exitcode.OK || !strings.Contains(out, "NOTE: GatewayCluster/gw spec.template: datapower: our zone term was changed since apply (weight changed 100→50); removing it all the same") ||
		strings.Contains(errOut, "no overrides recorded") {
		t.Errorf("remove: exit %s\n%s%s", code, out, errOut)
	}
	u, _ = ri.Get(context.Background(), "gw", metav1.GetOptions{})
	if _, found, _ := unstructured.NestedSlice(u.Object, "spec", "template"); found {
		t.Errorf("tuned term left: %v", u.Object["spec"])
	}
}
