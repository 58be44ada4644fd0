package zones

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

func sixNodes() []Node {
	return []Node{{"node-1", "a"}, {"node-2", "a"}, {"node-3", "b"}, {"node-4", "b"}, {"node-5", "c"}, {"node-6", "c"}}
}

func gw(nodes ...string) Group {
	g := Group{Name: "gw", Subsystem: apic.Gateway, Kind: PeerGroup}
	for i, n := range nodes {
		g.Members = append(g.Members, Member{Name: "gw-" + string(rune('0'+i)), Node: n, Ready: true})
	}
	return g
}

func TestAnalyze(t *testing.T) {
	for _, tc := range []struct {
		name     string
		nodes    []Node
		group    Group
		atRisk   []string
		safe     bool
		problems []ProblemKind
	}{
		// Seed 003's undesired placement: two of three in zone a.
		{"two of three share a zone", sixNodes(), gw("node-1", "node-2", "node-5"), []string{"a"}, false, nil},
		{"one per zone", sixNodes(), gw("node-1", "node-3", "node-5"), nil, true, nil},
		{"five members, two zones of two", sixNodes(), gw("node-1", "node-2", "node-3", "node-4", "node-5"), nil, true, nil},
		{"five members, three in one zone", sixNodes(), gw("node-1", "node-2", "node-1", "node-3", "node-5"), []string{"a"}, false, nil},
		{"single replica", sixNodes(), gw("node-3"), []string{"b"}, false, nil},
		{"only two zones", []Node{{"n1", "a"}, {"n2", "a"}, {"n3", "b"}}, gw("n1", "n2", "n3"), []string{"a"}, false, []ProblemKind{FewZones}},
		{"no zone labels", []Node{{"n1", ""}, {"n2", ""}, {"n3", ""}}, gw("n1", "n2", "n3"), nil, false, []ProblemKind{NoZones}},
		{"some unlabelled", append(sixNodes(), Node{"node-7", ""}), gw("node-1", "node-3", "node-7"), nil, false, []ProblemKind{UnlabelledNodes}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := Analyze(tc.nodes, []Group{tc.group})
			r := a.Groups[0]
			if !reflect.DeepEqual(r.AtRisk, tc.atRisk) {
				t.Errorf("AtRisk = %v, want %v", r.AtRisk, tc.atRisk)
			}
			if a.Safe() != tc.safe {
				t.Errorf("Safe = %v, want %v", a.Safe(), tc.safe)
			}
			var kinds []ProblemKind
			for _, p := range a.Problems {
				kinds = append(kinds, p.Kind)
				if p.Message == "" {
					t.Error("problem without explanation")
				}
			}
			if !reflect.DeepEqual(kinds, tc.problems) {
				t.Errorf("problems = %v, want %v", kinds, tc.problems)
			}
			if r.Quorum != len(tc.group.Members)/2+1 {
				t.Errorf("quorum = %d", r.Quorum)
			}
		})
	}
}

func TestQuorumLostNow(t *testing.T) {
	g := gw("node-1", "node-3", "node-5")
	g.Members[0].Ready, g.Members[1].Ready = false, false
	a := Analyze(sixNodes(), []Group{g})
	if !a.QuorumLost() || a.Groups[0].InQuorum || a.Safe() {
		t.Errorf("1 of 3 ready must be out of quorum: %+v", a.Groups[0])
	}
	if got := Quorum(3); got != 2 {
		t.Errorf("Quorum(3) = %d", got)
	}
	if got := Quorum(4); got != 3 {
		t.Errorf("Quorum(4) = %d", got)
	}
}

func TestFewZonesMessageExplains(t *testing.T) {
	a := Analyze([]Node{{"n1", "a"}, {"n2", "b"}}, nil)
	if len(a.Problems) != 1 || !strings.Contains(a.Problems[0].Message, "fewer than 3 zones") {
		t.Errorf("problems = %+v", a.Problems)
	}
}

func TestGroupsFromPods(t *testing.T) {
	pod := func(name, inst, kind, ms, node string, ready bool) corev1.Pod {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{apic.InstanceLabel: inst, apic.KindLabel: kind}},
			Spec: corev1.PodSpec{NodeName: node}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
		if ms != "" {
			p.Labels["app.kubernetes.io/name"] = ms
		}
		st := corev1.ConditionFalse
		if ready {
			st = corev1.ConditionTrue
		}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}
		return p
	}
	pods := []corev1.Pod{
		pod("gw-1", "gw", "datapower", "", "node-2", true),
		pod("gw-0", "gw", "datapower", "", "node-1", false),
		pod("mgmt-apim-0", "mgmt", "management", "apim", "node-1", true),
		pod("mgmt-ui-0", "mgmt", "management", "ui", "node-3", true),
		{ObjectMeta: metav1.ObjectMeta{Name: "other"}},
	}
	groups := GroupsFromPods(pods)
	var names []string
	for _, g := range groups {
		names = append(names, g.Name+":"+string(g.Kind)+":"+string(g.Subsystem))
	}
	want := []string{"gw:peer-group:gateway", "mgmt apim:replicas:management", "mgmt ui:replicas:management"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("groups = %v, want %v", names, want)
	}
	if groups[0].Members[0].Name != "gw-0" || groups[0].Members[0].Ready {
		t.Errorf("members not sorted or readiness wrong: %+v", groups[0].Members)
	}
}

// Issue 11 item 4: after a hard spread with zone c down, one member is Pending (no node) and the
// other two run in a and b. 2 of 3 are ready and quorum is 2, so losing a or b breaks quorum: the
// Pending pod must not count as a survivor of either loss.
func TestPendingMemberIsNoSurvivor(t *testing.T) {
	for _, tc := range []struct {
		name    string
		members []Member
		atRisk  []string
	}{
		{"pending, never scheduled", []Member{{"gw-0", "node-1", true}, {"gw-1", "", false}, {"gw-2", "node-3", true}}, []string{"a", "b"}},
		{"scheduled in a down zone, not ready", []Member{{"gw-0", "node-1", true}, {"gw-1", "node-5", false}, {"gw-2", "node-3", true}}, []string{"a", "b"}},
		{"all ready", []Member{{"gw-0", "node-1", true}, {"gw-1", "node-5", true}, {"gw-2", "node-3", true}}, nil},
		{"five, one pending", []Member{{"gw-0", "node-1", true}, {"gw-1", "node-2", true}, {"gw-2", "node-3", true}, {"gw-3", "node-5", true}, {"gw-4", "", false}}, []string{"a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := Group{Name: "gw", Subsystem: apic.Gateway, Kind: PeerGroup, Members: tc.members}
			a := Analyze(sixNodes(), []Group{g})
			r := a.Groups[0]
			if !reflect.DeepEqual(r.AtRisk, tc.atRisk) {
				t.Errorf("AtRisk = %v, want %v (ready %d, quorum %d, ready per zone %v)", r.AtRisk, tc.atRisk, r.Ready, r.Quorum, r.ReadyPerZone)
			}
			for _, z := range []string{"a", "b", "c"} {
				want := 0
				for _, m := range tc.members {
					if m.Ready && m.Node != "" && zoneOfNode(m.Node) != z {
						want++
					}
				}
				if got := r.Survivors(z); got != want {
					t.Errorf("Survivors(%s) = %d, want %d", z, got, want)
				}
			}
		})
	}
}

func zoneOfNode(n string) string {
	for _, x := range sixNodes() {
		if x.Name == n {
			return x.Zone
		}
	}
	return ""
}

func TestGroupsFromPodsReadinessAndNamespaces(t *testing.T) {
	mk := func(ns, name, node string, cond corev1.ConditionStatus, phase corev1.PodPhase) corev1.Pod {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
			Labels: map[string]string{apic.InstanceLabel: "gw", apic.KindLabel: apic.DataPowerKindValue}},
			Spec: corev1.PodSpec{NodeName: node}, Status: corev1.PodStatus{Phase: phase}}
		if cond != "" {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: cond}}
		}
		return p
	}
	groups := GroupsFromPods([]corev1.Pod{
		mk("apic", "gw-0", "node-1", corev1.ConditionTrue, corev1.PodRunning),
		mk("apic", "gw-1", "", "", corev1.PodPending), // unschedulable: no Ready condition at all
		mk("apic", "gw-2", "node-5", corev1.ConditionFalse, corev1.PodRunning),
		mk("other", "gw-0", "node-2", corev1.ConditionTrue, corev1.PodRunning),
	})
	if len(groups) != 2 || groups[0].Namespace != "apic" || groups[1].Namespace != "other" {
		t.Fatalf("one group per namespace and instance expected: %+v", groups)
	}
	var ready []bool
	for _, m := range groups[0].Members {
		ready = append(ready, m.Survivor())
	}
	if !reflect.DeepEqual(ready, []bool{true, false, false}) {
		t.Errorf("survivors = %v", ready)
	}
}

func TestNodeStates(t *testing.T) {
	node := func(name, zone string, ready bool, mod func(*corev1.Node)) corev1.Node {
		n := corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}}}
		if zone != "" {
			n.Labels[apic.ZoneLabel] = zone
		}
		st := corev1.ConditionFalse
		if ready {
			st = corev1.ConditionTrue
		}
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}}
		if mod != nil {
			mod(&n)
		}
		return n
	}
	nodes := []corev1.Node{
		node("node-1", "a", true, nil),
		node("node-2", "a", false, nil),
		node("node-3", "b", true, func(n *corev1.Node) { n.Spec.Unschedulable = true }),
		node("node-4", "b", true, func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}}
		}),
		node("node-5", "c", true, func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{{Key: "gw", Effect: corev1.TaintEffectNoSchedule}, {Key: "soft", Effect: corev1.TaintEffectPreferNoSchedule}}
		}),
		node("node-6", "", true, nil),
	}
	spec := &corev1.PodSpec{Tolerations: []corev1.Toleration{{Key: "gw", Operator: corev1.TolerationOpExists}}}
	zones, blocked := PlaceableZones(NodeStates(nodes, spec))
	if !reflect.DeepEqual(zones, []string{"a", "c"}) {
		t.Errorf("placeable zones = %v", zones)
	}
	if want := map[string]string{"b": "node-3 cordoned, node-4 taint dedicated=db:NoSchedule"}; !reflect.DeepEqual(blocked, want) {
		t.Errorf("blocked = %q, want %q", blocked, want)
	}
	spec.NodeSelector = map[string]string{"pool": "gw"}
	if zones, _ := PlaceableZones(NodeStates(nodes, spec)); len(zones) != 0 {
		t.Errorf("nodeSelector ignored: %v", zones)
	}
}
