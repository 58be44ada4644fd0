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

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
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
	Ready bool
}

// Group is a set of pods that must keep quorum.
type Group struct {
	// Name identifies the group, e.g. "production-gw" or "production-mgmt apim".
	Name      string
	Subsystem apic.Subsystem
	Kind      GroupKind
	Members   []Member
}

// GroupResult is one group's spread.
type GroupResult struct {
	Group  Group
	Size   int // members
	Quorum int // n/2+1
	Ready  int
	// PerZone and PerNode count members; unscheduled members count under "".
	PerZone map[string]int
	PerNode map[string]int
	// AtRisk are the zones whose loss leaves fewer than Quorum members.
	AtRisk []string
	// InQuorum: Ready members reach Quorum now.
	InQuorum bool
}

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
			PerZone: map[string]int{}, PerNode: map[string]int{}}
		for _, m := range g.Members {
			z := zoneOf[m.Node]
			r.PerZone[z]++
			r.PerNode[m.Node]++
			if m.Ready {
				r.Ready++
			}
			if z == "" && m.Node != "" {
				usedUnlabelled[m.Node] = true
			}
		}
		r.InQuorum = r.Ready >= r.Quorum && r.Size > 0
		for _, z := range a.Zones {
			if r.Size-r.PerZone[z] < r.Quorum {
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
// gateway instance; other pods carrying the instance label form one replica group per instance and
// microservice (app.kubernetes.io/name). Pods without the instance label are ignored.
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
		key, name, gk, sub := inst, inst, Replicas, subsystemOf(kind)
		if kind == apic.DataPowerKindValue {
			gk, sub = PeerGroup, apic.Gateway
		} else if ms := p.Labels["app.kubernetes.io/name"]; ms != "" {
			key, name = inst+"/"+ms, inst+" "+ms
		}
		g, ok := byKey[key]
		if !ok {
			g = &Group{Name: name, Subsystem: sub, Kind: gk}
			byKey[key] = g
			order = append(order, key)
		}
		g.Members = append(g.Members, Member{Name: p.Name, Node: p.Spec.NodeName, Ready: podReady(p)})
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

func podReady(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
