package spread_test

// Lab tests of issue 11 (spread's cases of the hostile run): each reproduces its case with the
// command the issue gives and leaves the lab as it found it (every zone up, no override, every pod
// ready), though not necessarily with the same placement.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/util/retry"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	"github.com/kubectl-apic/kubectl-apic/hack/lab/labtest"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/lock"
	"github.com/kubectl-apic/kubectl-apic/pkg/spread"
	"github.com/kubectl-apic/kubectl-apic/pkg/zones"
	plugin "github.com/kubectl-apic/kubectl-apic/plugins/spread"
	"github.com/kubectl-apic/kubectl-apic/plugins/status"
)

// runNS runs kubectl apic spread in-process against dc1 with the given namespace flags (none: -A).
func runNS(t *testing.T, l *lab.Lab, nsArgs []string, args ...string) (stdout, stderr string, code exitcode.Code) {
	t.Helper()
	var out, errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	cmd := plugin.NewCommand("kubectl apic spread", streams)
	cmd.SetArgs(append(append(args, "--kubeconfig", l.Kubeconfig(), "--context", "dc1"), nsArgs...))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := exitcode.Code(cli.Execute(ctx, cmd, streams))
	t.Logf("$ kubectl apic spread %s %s → exit %d (%s)\n%s%s", strings.Join(args, " "), strings.Join(nsArgs, " "), c, c, out.String(), errOut.String())
	return out.String(), errOut.String(), c
}

// gatewayPods are the gateway's pods on dc1, by name.
func gatewayPods(t *testing.T, s *lab.Site) []corev1.Pod {
	t.Helper()
	l, err := s.Kube.CoreV1().Pods("apic").List(context.Background(), metav1.ListOptions{
		LabelSelector: apic.InstanceLabel + "=" + lab.GatewayName + "," + apic.KindLabel + "=" + apic.DataPowerKindValue})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(l.Items, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return l.Items
}

func nodeZones(t *testing.T, s *lab.Site) map[string]string {
	t.Helper()
	l, err := s.Kube.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, n := range l.Items {
		out[n.Name] = n.Labels[apic.ZoneLabel]
	}
	return out
}

// emptyZone is a zone of dc1 without a gateway pod (the lab's default placement puts two of three
// in zone-a, so zone-b or zone-c is empty), and its nodes. When an earlier test left one gateway
// per zone, it empties zone-c first: cordon its nodes, delete its gateway pods, wait until they run
// elsewhere, uncordon.
func emptyZone(t *testing.T, s *lab.Site) (empty string, nodes []string) {
	t.Helper()
	zoneOf := nodeZones(t, s)
	nodesOf := func(z string) []string {
		var out []string
		for n, nz := range zoneOf {
			if nz == z {
				out = append(out, n)
			}
		}
		slices.Sort(out)
		return out
	}
	used := map[string]bool{}
	for _, p := range gatewayPods(t, s) {
		used[zoneOf[p.Spec.NodeName]] = true
	}
	for _, z := range []string{"zone-c", "zone-b"} {
		if !used[z] {
			return z, nodesOf(z)
		}
	}
	ctx := context.Background()
	z := "zone-c"
	cordon := func(on bool) {
		for _, n := range nodesOf(z) {
			if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
				nd, err := s.Kube.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{})
				if err != nil {
					return err
				}
				nd.Spec.Unschedulable = on
				_, err = s.Kube.CoreV1().Nodes().Update(ctx, nd, metav1.UpdateOptions{})
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	cordon(true)
	defer cordon(false)
	for _, p := range gatewayPods(t, s) {
		if zoneOf[p.Spec.NodeName] == z {
			if err := s.Kube.CoreV1().Pods("apic").Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	labtest.Eventually(t, 3*time.Minute, "gateway pods out of "+z, func() (bool, string) {
		var desc []string
		ok := true
		ps := gatewayPods(t, s)
		for _, p := range ps {
			ready := false
			for _, c := range p.Status.Conditions {
				ready = ready || (c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue)
			}
			ok = ok && ready && p.Spec.NodeName != "" && zoneOf[p.Spec.NodeName] != z
			desc = append(desc, fmt.Sprintf("%s node=%q ready=%t", p.Name, p.Spec.NodeName, ready))
		}
		return ok && len(ps) == 3, strings.Join(desc, "\n")
	})
	return z, nodesOf(z)
}

// restore brings the lab back: every zone up, our overrides out, every pod ready.
func restore(t *testing.T, l *lab.Lab, zone string) {
	t.Helper()
	if zone != "" {
		if err := l.SetZoneReady("dc1", zone, true); err != nil {
			t.Error(err)
		}
	}
	if _, _, code := runNS(t, l, []string{"-n", "apic"}, "remove", "--yes", "--wait", "--timeout", "4m"); code != exitcode.OK && code != exitcode.Degraded {
		t.Errorf("restore: remove --wait exit %s", code)
	}
	if err := l.WaitReady(context.Background(), 4*time.Minute); err != nil {
		t.Errorf("restore: %v", err)
	}
}

func recordOf(t *testing.T, s *lab.Site) (string, bool) {
	t.Helper()
	u, err := s.Dynamic.Resource(apic.GatewayClusterKind.GVR()).Namespace("apic").Get(context.Background(), lab.GatewayName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v, ok := u.GetAnnotations()[spread.RecordAnnotation]
	return v, ok
}

// Issue 11 items 9 and 4: `apic-lab fault zone-down dc1 zone-c; kubectl apic spread apply --context
// dc1 -n apic --hard --yes` used to leave a pod Pending without a word, and check then said OK with
// 2 of 3 ready and quorum 2. Now apply --hard is refused, saying what the soft variant would do; and
// in the state the old apply left (reproduced by writing the hard override as it did), check says
// that losing either zone with a ready gateway breaks quorum.
func TestHardSpreadWithAZoneDownOnTheLab(t *testing.T) {
	l := requireLab(t)
	s, _ := l.Site("dc1")
	ctx := context.Background()
	zone, zoneNodes := emptyZone(t, s)
	before := gatewaySpec(t, s)
	if err := l.SetZoneReady("dc1", zone, false); err != nil {
		t.Fatal(err)
	}
	defer restore(t, l, zone)
	// The scheduler keeps off a NotReady node only once the node lifecycle controller has tainted it
	// (node.kubernetes.io/not-ready or, for a node that stopped reporting, unreachable; NoSchedule); under load that takes a while, and a pod created
	// before it would be bound to the dead node instead of staying unschedulable.
	labtest.Eventually(t, 2*time.Minute, "the nodes of "+zone+" tainted NoSchedule", func() (bool, string) {
		for _, n := range zoneNodes {
			nd, err := s.Kube.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			if !slices.ContainsFunc(nd.Spec.Taints, func(tn corev1.Taint) bool {
				return (tn.Key == corev1.TaintNodeNotReady || tn.Key == corev1.TaintNodeUnreachable) && tn.Effect == corev1.TaintEffectNoSchedule
			}) {
				return false, fmt.Sprintf("%s taints %v", n, nd.Spec.Taints)
			}
		}
		return true, ""
	})

	// Item 9: refused before any change, naming the zone, the fix and the soft variant.
	_, errOut, code := runNS(t, l, []string{"-n", "apic"}, "apply", "--hard", "--yes")
	wants := []string{"--hard would leave 1 of the 3 pods of " + lab.GatewayName + " Pending (",
		zone + ": " + zoneNodes[0] + " NotReady", "Nothing was changed",
		"kubectl get nodes -l topology.kubernetes.io/zone=" + zone,
		"soft variant (kubectl apic spread apply --context dc1 -n apic)"}
	for _, w := range wants {
		if !strings.Contains(errOut, w) {
			t.Errorf("apply --hard: stderr lacks %q", w)
		}
	}
	if code != exitcode.Refused {
		t.Errorf("apply --hard with %s down: exit %s, want Refused", zone, code)
	}
	if !reflect.DeepEqual(gatewaySpec(t, s), before) {
		t.Fatal("the refused apply changed the GatewayCluster")
	}
	if _, ok := recordOf(t, s); ok {
		t.Fatal("the refused apply left a record")
	}
	// --dry-run says the same.
	if _, errOut, code := runNS(t, l, []string{"-n", "apic"}, "apply", "--hard", "--dry-run"); code != exitcode.Refused || !strings.Contains(errOut, wants[0]) {
		t.Errorf("apply --hard --dry-run: exit %s", code)
	}

	// Item 4: the state the old apply left. Write the hard override as it did, unchecked.
	req := []spread.Request{{Subsystem: apic.Gateway, Instance: lab.GatewayName}}
	if _, err := spread.Write(ctx, s.Dynamic, "dc1", apic.GatewayClusterKind, "apic", lab.GatewayName,
		func(o apic.Object) (spread.Plan, error) { return spread.PlanApply(o, req, spread.Hard) }, false); err != nil {
		t.Fatal(err)
	}
	// The rollout stalls on a pod the scheduler has found unschedulable (not one just created and
	// not yet scheduled), with the two others ready; the rollout goes no further from there.
	var pending string
	labtest.Eventually(t, 4*time.Minute, "a gateway pod unschedulable and two ready", func() (bool, string) {
		var desc []string
		ready, pend := 0, ""
		ps := gatewayPods(t, s)
		for _, p := range ps {
			r, unsched := false, false
			for _, c := range p.Status.Conditions {
				r = r || (c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue)
				unsched = unsched || (c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable)
			}
			if r && p.Spec.NodeName != "" && p.DeletionTimestamp == nil {
				ready++
			}
			if p.Spec.NodeName == "" && unsched {
				pend = p.Name
			}
			desc = append(desc, fmt.Sprintf("%s node=%q phase=%s ready=%t unschedulable=%t", p.Name, p.Spec.NodeName, p.Status.Phase, r, unsched))
		}
		pending = pend
		return pend != "" && ready == 2 && len(ps) == 3, strings.Join(desc, "\n")
	})

	out, _, code := runNS(t, l, []string{"-n", "apic"}, "check", "--subsystem", "gateway", "-o", "json")
	var doc plugin.CheckResult
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if code != exitcode.Degraded || doc.Verdict != plugin.VerdictDegraded {
		t.Errorf("check with %s Pending: exit %s, verdict %s; want DEGRADED (2 of 3 ready, quorum 2)", pending, code, doc.Verdict)
	}
	var g plugin.GroupDoc
	for _, x := range doc.Groups {
		if x.Name == lab.GatewayName {
			g = x
		}
	}
	survivorsZones := []string{}
	zoneOf := nodeZones(t, s)
	for _, p := range gatewayPods(t, s) {
		if p.Spec.NodeName != "" {
			survivorsZones = append(survivorsZones, zoneOf[p.Spec.NodeName])
		}
	}
	slices.Sort(survivorsZones)
	if g.Ready != 2 || g.Pods != 3 || g.Quorum != 2 || !reflect.DeepEqual(g.AtRisk, survivorsZones) {
		t.Errorf("group %+v: want 2/3 ready, quorum 2, at risk %v (the zones of the two survivors)", g, survivorsZones)
	}
	// status reads the same pods through the same pkg/zones computation: its zone table agrees.
	nodes, err := s.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var zn []zones.Node
	for _, n := range nodes.Items {
		zn = append(zn, zones.Node{Name: n.Name, Zone: n.Labels[apic.ZoneLabel]})
	}
	a := zones.Analyze(zn, zones.GroupsFromPods(gatewayPods(t, s)))
	if len(a.Groups) != 1 || !reflect.DeepEqual(a.Groups[0].AtRisk, survivorsZones) || a.Safe() {
		t.Errorf("pkg/zones (status's zone table): %+v", a.Groups)
	}
	// And status itself, run as the user would: its zone table and findings agree with check.
	var out2, err2 bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out2, ErrOut: &err2}
	cmd := status.NewCommand("kubectl apic status", streams)
	cmd.SetArgs([]string{"--kubeconfig", l.Kubeconfig(), "--context", "dc1", "-n", "apic", "-o", "json"})
	_ = cli.Execute(ctx, cmd, streams)
	var rep struct {
		Sites []struct {
			Zones struct {
				Groups []struct {
					Name   string   `json:"name"`
					Ready  int      `json:"ready"`
					AtRisk []string `json:"atRisk"`
				} `json:"groups"`
			} `json:"zones"`
		} `json:"sites"`
		Findings []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(out2.Bytes(), &rep); err != nil || len(rep.Sites) != 1 {
		t.Fatalf("status -o json: %v\n%s%s", err, out2.String(), err2.String())
	}
	found := false
	for _, g := range rep.Sites[0].Zones.Groups {
		if g.Name == lab.GatewayName {
			found = true
			if g.Ready != 2 || !reflect.DeepEqual(g.AtRisk, survivorsZones) {
				t.Errorf("status zone table: %+v, want 2 ready, at risk %v", g, survivorsZones)
			}
		}
	}
	if !found {
		t.Errorf("status has no zone row for %s:\n%s", lab.GatewayName, out2.String())
	}
	for _, z := range survivorsZones {
		want := fmt.Sprintf("losing zone %s would leave gateway peer group %s with 1 of 3 members, below quorum 2", z, lab.GatewayName)
		ok := false
		for _, f := range rep.Findings {
			ok = ok || f.Message == want
		}
		if !ok {
			t.Errorf("status lacks the finding %q", want)
		}
	}
}

// Issue 11 item 9, the timeout: the pre-check judges what the nodes report, not their free CPU. A
// zone whose nodes are ready but full passes it; --wait then times out and must name the Pending
// pod and the remove command.
func TestHardSpreadIntoAFullZoneNamesThePendingPodOnTheLab(t *testing.T) {
	l := requireLab(t)
	s, _ := l.Site("dc1")
	ctx := context.Background()
	zone, zoneNodes := emptyZone(t, s)
	pods := s.Kube.CoreV1().Pods(lab.WorkloadsNamespace)
	for _, n := range zoneNodes {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "fill-" + n, Namespace: lab.WorkloadsNamespace},
			Spec: corev1.PodSpec{NodeName: n, Containers: []corev1.Container{{Name: "fill", Image: "sim.local/fill:1",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("16")}}}}}}
		if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, n := range zoneNodes {
			_ = pods.Delete(ctx, "fill-"+n, metav1.DeleteOptions{})
		}
		restore(t, l, "")
	}()

	_, errOut, code := runNS(t, l, []string{"-n", "apic"}, "apply", "--hard", "--yes", "--wait", "--timeout", "45s")
	if code != exitcode.Timeout {
		t.Errorf("apply --hard --wait into full %s: exit %s, want Timeout", zone, code)
	}
	for _, w := range []string{"is Pending (", "The scheduler cannot place it",
		"kubectl apic spread remove --context dc1 -n apic --yes", "or make it soft: kubectl apic spread apply --context dc1 -n apic --yes"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("timeout message lacks %q", w)
		}
	}
	pendingNamed := false
	for _, p := range gatewayPods(t, s) {
		if p.Spec.NodeName == "" && strings.Contains(errOut, "pod "+p.Name+" is Pending") {
			pendingNamed = true
		}
	}
	if !pendingNamed {
		t.Error("the timeout message does not name the Pending gateway pod")
	}
	// And check does not count it as a survivor.
	if _, _, code := runNS(t, l, []string{"-n", "apic"}, "check", "--subsystem", "gateway"); code != exitcode.Degraded {
		t.Errorf("check with a Pending gateway: exit %s, want Degraded", code)
	}
}

// Issue 11 item 8: `spread remove` after the user tuned our term (weight 100 → 50) said "no
// overrides recorded" and left the term. Now it recognises the term, takes it out, and says what was
// changed since apply.
func TestRemoveAfterUserTunedOurTermOnTheLab(t *testing.T) {
	l := requireLab(t)
	s, _ := l.Site("dc1")
	ctx := context.Background()
	before := gatewaySpec(t, s)
	defer restore(t, l, "")
	if _, _, code := runNS(t, l, []string{"-n", "apic"}, "apply", "--yes"); code != exitcode.OK {
		t.Fatalf("apply: exit %s", code)
	}
	// The user tunes our term by hand (as kubectl edit would).
	ri := s.Dynamic.Resource(apic.GatewayClusterKind.GVR()).Namespace("apic")
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		u, err := ri.Get(ctx, lab.GatewayName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		l, _, _ := unstructured.NestedSlice(u.Object, "spec", "template")
		for _, e := range l {
			e := e.(map[string]interface{})
			if e["name"] != "datapower" {
				continue
			}
			terms, _, _ := unstructured.NestedSlice(e, "affinity", "podAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution")
			for _, term := range terms {
				term.(map[string]interface{})["weight"] = int64(50)
			}
			_ = unstructured.SetNestedSlice(e, terms, "affinity", "podAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution")
		}
		_ = unstructured.SetNestedSlice(u.Object, l, "spec", "template")
		_, err = ri.Update(ctx, u, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}

	out, errOut, code := runNS(t, l, []string{"-n", "apic"}, "remove", "--yes", "--wait", "--timeout", "4m")
	if code != exitcode.OK && code != exitcode.Degraded { // --wait ends with check's verdict: the default placement is Degraded
		t.Errorf("remove: exit %s", code)
	}
	if strings.Contains(out+errOut, "no overrides recorded") {
		t.Error(`remove still says "no overrides recorded"`)
	}
	if !strings.Contains(out, "datapower: our zone term was changed since apply (weight changed 100→50); removing it all the same") {
		t.Error("remove does not say what was changed since apply")
	}
	if got := gatewaySpec(t, s); !reflect.DeepEqual(got, before) {
		t.Errorf("remove left the tuned term:\n got %v\nwant %v", got, before)
	}
	if _, ok := recordOf(t, s); ok {
		t.Error("record annotation left behind")
	}
}

// Issue 11 item 7 (spread's part): apply and remove take a Lease per CR; a second run while one holds
// it is refused, naming the holder, and changes nothing.
func TestConcurrentSpreadRunRefusedOnTheLab(t *testing.T) {
	l := requireLab(t)
	s, _ := l.Site("dc1")
	ctx := context.Background()
	before := gatewaySpec(t, s)
	other := lock.Holder{User: "alice", Host: "jump-1", PID: 4242, RunID: "other-run",
		Command: "kubectl apic spread apply --context dc1 -n apic --hard"}
	target := lock.Target{Site: "dc1", Client: s.Kube, Namespace: "apic"}
	name := "apic-spread-gw-" + lab.GatewayName
	held, err := lock.Acquire(ctx, []lock.Target{target}, other, lock.Options{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = held.Release(ctx) }()

	for _, action := range []string{"apply", "remove"} {
		if action == "remove" {
			// remove needs something of ours to take out: a record of a term that is gone.
			if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
				ri := s.Dynamic.Resource(apic.GatewayClusterKind.GVR()).Namespace("apic")
				u, err := ri.Get(ctx, lab.GatewayName, metav1.GetOptions{})
				if err != nil {
					return err
				}
				ann := u.GetAnnotations()
				if ann == nil {
					ann = map[string]string{}
				}
				ann[spread.RecordAnnotation] = `{"entries":[{"subsystem":"gateway","name":"datapower","mode":"soft","selector":{"crd.apiconnect.ibm.com/instance":"production-gw","crd.apiconnect.ibm.com/kind":"datapower"}}]}`
				u.SetAnnotations(ann)
				_, err = ri.Update(ctx, u, metav1.UpdateOptions{})
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		_, errOut, code := runNS(t, l, []string{"-n", "apic"}, action, "--yes")
		if code != exitcode.Refused || !strings.Contains(errOut, "another kubectl apic spread run is changing gw/"+lab.GatewayName) ||
			!strings.Contains(errOut, "alice@jump-1 pid 4242 (kubectl apic spread apply --context dc1 -n apic --hard)") {
			t.Errorf("%s while another run holds %s: exit %s", action, name, code)
		}
		if !reflect.DeepEqual(gatewaySpec(t, s), before) {
			t.Fatalf("the refused %s changed the GatewayCluster", action)
		}
	}
	// The other run ends: remove drops the stale record, taking and giving back the lease.
	if err := held.Release(ctx); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runNS(t, l, []string{"-n", "apic"}, "remove", "--yes")
	if code != exitcode.OK || !strings.Contains(errOut, "held by ") {
		t.Errorf("remove after release: exit %s", code)
	}
	if _, ok := recordOf(t, s); ok {
		t.Error("stale record kept")
	}
	le, err := lock.Inspect(ctx, target, name)
	if err != nil {
		t.Fatal(err)
	}
	if h, ok := lock.HolderOf(le); ok {
		t.Errorf("lease %s still held by %s after the run", name, h)
	}
}

// Issue 11 ("the rest"): spread exited 1 where status exits 3 for "no API Connect here"; and issue 16:
// -A on check.
func TestNoAPIConnectHereAndAllNamespacesOnTheLab(t *testing.T) {
	l := requireLab(t)
	for _, args := range [][]string{{"check"}, {"plan"}, {"apply", "--yes"}, {"remove", "--yes"}} {
		_, errOut, code := runNS(t, l, []string{"-n", "default"}, args...)
		if code != exitcode.Degraded || !strings.Contains(errOut, "no API Connect") {
			t.Errorf("%s -n default: exit %s, want Degraded (3) as status", args[0], code)
		}
	}
	_, _, c1 := runNS(t, l, []string{"-n", "apic"}, "check")
	all, _, cA := runNS(t, l, nil, "check", "-A")
	if c1 != cA || !strings.Contains(all, "PODS PER ZONE (context dc1, all namespaces)") || !strings.Contains(all, "NAMESPACE") ||
		!strings.Contains(all, lab.GatewayName) {
		t.Errorf("check -A: exit %s (check -n apic: %s)", cA, c1)
	}
}

// Two real runs at once: while `apply --wait` holds the Lease through its rollout, `remove` is
// refused, naming it; once it ends, remove runs.
func TestTwoSpreadRunsAtOnceOnTheLab(t *testing.T) {
	l := requireLab(t)
	s, _ := l.Site("dc1")
	ctx := context.Background()
	defer restore(t, l, "")
	target := lock.Target{Site: "dc1", Client: s.Kube, Namespace: "apic"}
	name := "apic-spread-gw-" + lab.GatewayName

	done := make(chan exitcode.Code, 1)
	go func() {
		_, _, code := runNS(t, l, []string{"-n", "apic"}, "apply", "--yes", "--wait", "--timeout", "3m")
		done <- code
	}()
	var holder lock.Holder
	labtest.Eventually(t, time.Minute, "the first run to hold "+name, func() (bool, string) {
		le, err := lock.Inspect(ctx, target, name)
		if err != nil {
			return false, err.Error()
		}
		h, held := lock.HolderOf(le)
		holder = h
		return held, fmt.Sprintf("%+v", le)
	})
	_, errOut, code := runNS(t, l, []string{"-n", "apic"}, "remove", "--yes")
	first := <-done
	if first == exitcode.Error || first >= exitcode.Refused {
		t.Errorf("first run (apply --wait): exit %s", first)
	}
	// The first run may have finished before the second asked; then the second simply ran.
	if code == exitcode.Refused {
		if !strings.Contains(errOut, "another kubectl apic spread run is changing gw/"+lab.GatewayName) ||
			!strings.Contains(errOut, holder.Identity()+" (kubectl apic spread apply --context dc1 -n apic)") {
			t.Errorf("refusal does not name the holder %s", holder)
		}
	} else if code != exitcode.OK {
		t.Errorf("second run (remove): exit %s, want Refused while the first holds the lease", code)
	}
}
