// Package zones answers "what breaks if a zone fails?": for each group of pods that must keep a
// majority (a DataPower peer group, a subsystem's replicas), how its members are spread over zones
// and nodes, and which zones' loss would take it out of quorum.
//
// Quorum is IBM's rule for gateway peering (apic-reference.md): at least n/2+1 members active. The
// same majority applies to a subsystem's replicas. Seed 003 explains why this matters: with soft
// node anti-affinity and more nodes than zones, two of three gateways can share a zone.
package zones

import (
	"fmt"
	"sort"
	"strings"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	schedulingcorev1 "k8s.io/component-helpers/scheduling/corev1"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/podstate"
)

// GroupKind says what quorum means for a group.
type GroupKind string

const (
	// PeerGroup is a DataPower gateway-peering group: n/2+1 members active, or peering is read-only.
	PeerGroup GroupKind = "peer-group"
	// Replicas are a microservice's replicas: a majority must survive.
	Replicas GroupKind = "replicas"
)

// Node is a node and its zone ("" when unlabelled).
type Node struct{ Name, Zone string }

// Member is one pod of a group.
type Member struct {
	Name  string
	Node  string // "" when not scheduled
	Ready bool   // the pod's Ready condition (podutils.IsPodReady)
}

// Survivor reports whether the member counts towards quorum: ready and scheduled on a node. A
// Pending pod is a member (it counts in n of n/2+1) but never a survivor.
func (m Member) Survivor() bool { return m.Ready && m.Node != "" }

// Group is a set of pods that must keep quorum.
type Group struct {
	// Name identifies the group, e.g. "production-gw" or "production-mgmt apim".
	Name string
	// Namespace is the pods' namespace.
	Namespace string
	Subsystem apic.Subsystem
	Kind      GroupKind
	Members   []Member
}

// GroupResult is one group's spread.
type GroupResult struct {
	Group  Group
	Size   int // members
	Quorum int // n/2+1
	// Ready counts the survivors: members ready and scheduled (Member.Survivor).
	Ready int
	// PerZone and PerNode count members where they are placed, ready or not; unscheduled members
	// count under "".
	PerZone map[string]int
	PerNode map[string]int
	// ReadyPerZone counts the survivors per zone.
	ReadyPerZone map[string]int
	// AtRisk are the zones whose loss leaves fewer than Quorum survivors (Survivors). Only a group in
	// quorum now has zones at risk: one out of quorum has nothing left to lose.
	AtRisk []string
	// InQuorum: Ready members reach Quorum now.
	InQuorum bool
}

// Survivors is the number of members still ready and scheduled after zone is lost: members not
// ready, or not scheduled (Pending), never count, wherever they are.
func (r GroupResult) Survivors(zone string) int { return r.Ready - r.ReadyPerZone[zone] }

// Survives reports whether the group keeps quorum when zone is lost.
func (r GroupResult) Survives(zone string) bool {
	for _, z := range r.AtRisk {
		if z == zone {
			return false
		}
	}
	return true
}

// ProblemKind classifies a finding about the cluster's zones themselves.
type ProblemKind string

const (
	UnlabelledNodes ProblemKind = "UnlabelledNodes"
	FewZones        ProblemKind = "FewZones"
	NoZones         ProblemKind = "NoZones"
)

// Problem explains why zone resilience cannot be (fully) achieved or judged.
type Problem struct {
	Kind    ProblemKind
	Message string
}

// Analysis is the result for all groups.
type Analysis struct {
	Zones    []string
	Groups   []GroupResult
	Problems []Problem
}

// Safe reports whether every group keeps quorum now and after losing any one zone, and nothing
// prevents judging it.
func (a Analysis) Safe() bool {
	if len(a.Problems) > 0 {
		return false
	}
	for _, g := range a.Groups {
		if !g.InQuorum || len(g.AtRisk) > 0 {
			return false
		}
	}
	return true
}

// QuorumLost reports whether some group is out of quorum already.
func (a Analysis) QuorumLost() bool {
	for _, g := range a.Groups {
		if !g.InQuorum {
			return true
		}
	}
	return false
}

// Quorum is n/2+1.
func Quorum(n int) int { return n/2 + 1 }

// Analyze computes every group's spread. Members on unlabelled nodes are counted as a zone of their
// own ("" in PerZone), and a Problem says why that makes the verdict unreliable.
func Analyze(nodes []Node, groups []Group) Analysis {
	zoneOf := make(map[string]string, len(nodes))
	zoneSet := map[string]bool{}
	var unlabelled []string
	for _, n := range nodes {
		zoneOf[n.Name] = n.Zone
		if n.Zone == "" {
			unlabelled = append(unlabelled, n.Name)
		} else {
			zoneSet[n.Zone] = true
		}
	}
	a := Analysis{Zones: sortedKeys(zoneSet)}
	usedUnlabelled := map[string]bool{}
	for _, g := range groups {
		r := GroupResult{Group: g, Size: len(g.Members), Quorum: Quorum(len(g.Members)),
			PerZone: map[string]int{}, PerNode: map[string]int{}, ReadyPerZone: map[string]int{}}
		for _, m := range g.Members {
			z := zoneOf[m.Node]
			r.PerZone[z]++
			r.PerNode[m.Node]++
			if m.Survivor() {
				r.Ready++
				r.ReadyPerZone[z]++
			}
			if z == "" && m.Node != "" {
				usedUnlabelled[m.Node] = true
			}
		}
		r.InQuorum = r.Ready >= r.Quorum && r.Size > 0
		for _, z := range a.Zones {
			if r.InQuorum && r.Survivors(z) < r.Quorum {
				r.AtRisk = append(r.AtRisk, z)
			}
		}
		a.Groups = append(a.Groups, r)
	}
	switch {
	case len(a.Zones) == 0:
		a.Problems = append(a.Problems, Problem{NoZones, fmt.Sprintf(
			"no node has a %s label: zone resilience cannot be judged; label nodes with their zone (kubectl label node <node> %s=<zone>)",
			apic.ZoneLabel, apic.ZoneLabel)})
	case len(a.Zones) < 3:
		a.Problems = append(a.Problems, Problem{FewZones, fmt.Sprintf(
			"only %d zone(s) (%s): with fewer than 3 zones one zone always holds a majority of a 3-member group, so losing it loses quorum whatever the placement; spread the cluster over 3 zones",
			len(a.Zones), strings.Join(a.Zones, ", "))})
	}
	if len(unlabelled) > 0 && len(a.Zones) > 0 {
		sort.Strings(unlabelled)
		msg := fmt.Sprintf("nodes without a %s label: %s", apic.ZoneLabel, strings.Join(unlabelled, ", "))
		if len(usedUnlabelled) > 0 {
			msg += "; API Connect pods run there, so their zone is unknown and the verdict may be wrong"
		}
		a.Problems = append(a.Problems, Problem{UnlabelledNodes, msg})
	}
	return a
}

// NodesFrom reads nodes' zone labels; it takes metadata-only objects so callers can LIST nodes
// with the metadata client.
func NodesFrom(items []metav1.PartialObjectMetadata) []Node {
	out := make([]Node, 0, len(items))
	for _, n := range items {
		out = append(out, Node{Name: n.Name, Zone: n.Labels[apic.ZoneLabel]})
	}
	return out
}

// GroupsFromPods groups API Connect pods: DataPower pods (kind=datapower) form one peer group per
// namespace and gateway instance; other pods carrying the instance label form one replica group per
// namespace, instance and microservice (app.kubernetes.io/name). Pods without the instance label,
// being deleted or finished are ignored. Readiness is the pod's Ready condition
// (podutils.IsPodReady); a Pending pod is a member that is not ready.
func GroupsFromPods(pods []corev1.Pod) []Group {
	byKey := map[string]*Group{}
	var order []string
	for i := range pods {
		p := &pods[i]
		inst := p.Labels[apic.InstanceLabel]
		if inst == "" || p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		kind := p.Labels[apic.KindLabel]
		// NUL-separated, so groups sort by namespace, then instance, then microservice.
		key, name, gk, sub := p.Namespace+"\x00"+inst, inst, Replicas, subsystemOf(kind)
		if kind == apic.DataPowerKindValue {
			gk, sub = PeerGroup, apic.Gateway
		} else if ms := p.Labels["app.kubernetes.io/name"]; ms != "" {
			key, name = key+"\x00"+ms, inst+" "+ms
		}
		g, ok := byKey[key]
		if !ok {
			g = &Group{Name: name, Namespace: p.Namespace, Subsystem: sub, Kind: gk}
			byKey[key] = g
			order = append(order, key)
		}
		g.Members = append(g.Members, Member{Name: p.Name, Node: p.Spec.NodeName, Ready: podstate.Ready(p)})
	}
	sort.Strings(order)
	out := make([]Group, 0, len(order))
	for _, k := range order {
		g := byKey[k]
		sort.Slice(g.Members, func(i, j int) bool { return g.Members[i].Name < g.Members[j].Name })
		out = append(out, *g)
	}
	return out
}

func subsystemOf(kindLabel string) apic.Subsystem {
	for _, s := range apic.Subsystems() {
		if string(s) == kindLabel {
			return s
		}
	}
	return apic.Subsystem(kindLabel)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// NodeState is whether the scheduler can place a new pod on a node, judged by what the node
// reports, not by its free capacity.
type NodeState struct {
	Name string
	Zone string // "" when unlabelled
	// Reason is why a pod cannot go there ("" when it can): not ready, cordoned, an untolerated
	// taint, or a nodeSelector the node's labels do not match.
	Reason string
}

// Placeable reports whether the node can take the pod.
func (n NodeState) Placeable() bool { return n.Reason == "" }

// NodeStates judges every node for a pod like spec (its tolerations and nodeSelector): Ready
// condition True, not cordoned (spec.unschedulable), every NoSchedule and NoExecute taint tolerated
// and the nodeSelector matched. CPU and memory are not judged: a zone with room on paper can still
// be full.
func NodeStates(nodes []corev1.Node, spec *corev1.PodSpec) []NodeState {
	out := make([]NodeState, 0, len(nodes))
	for i := range nodes {
		n := &nodes[i]
		st := NodeState{Name: n.Name, Zone: n.Labels[apic.ZoneLabel], Reason: unplaceable(n, spec)}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func unplaceable(n *corev1.Node, spec *corev1.PodSpec) string {
	ready := false
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			ready = c.Status == corev1.ConditionTrue
		}
	}
	if !ready {
		return "NotReady"
	}
	if n.Spec.Unschedulable {
		return "cordoned"
	}
	var tolerations []corev1.Toleration
	var selector map[string]string
	if spec != nil {
		tolerations, selector = spec.Tolerations, spec.NodeSelector
	}
	// The scheduler's own taint filter: NoSchedule and NoExecute taints keep a pod off the node.
	if t, untolerated := schedulingcorev1.FindMatchingUntoleratedTaint(logr.Discard(), n.Spec.Taints, tolerations, func(t *corev1.Taint) bool {
		return t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute
	}, false); untolerated {
		return "taint " + t.ToString()
	}
	for k, v := range selector {
		if n.Labels[k] != v {
			return fmt.Sprintf("nodeSelector %s=%s not matched", k, v)
		}
	}
	return ""
}

// PlaceableZones are the zones with at least one placeable node, sorted, and for each other zone
// why none of its nodes can take a pod (e.g. "node-5 NotReady, node-6 NotReady"). Unlabelled
// nodes count for no zone.
func PlaceableZones(states []NodeState) (zones []string, blocked map[string]string) {
	ok := map[string]bool{}
	why := map[string][]string{}
	for _, s := range states {
		if s.Zone == "" {
			continue
		}
		if s.Placeable() {
			ok[s.Zone] = true
		} else {
			why[s.Zone] = append(why[s.Zone], s.Name+" "+s.Reason)
		}
	}
	blocked = map[string]string{}
	for z, w := range why {
		if !ok[z] {
			blocked[z] = strings.Join(w, ", ")
		}
	}
	return sortedKeys(ok), blocked
}
