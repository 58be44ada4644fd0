package spread

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/explain"
	"github.com/kubectl-apic/kubectl-apic/pkg/inventory"
	"github.com/kubectl-apic/kubectl-apic/pkg/zones"
)

// Placement says whether every pod of one microservice can run under a hard zone term, which puts
// each pod in a zone of its own: that takes at least as many zones with a ready, schedulable node
// as there are pods. It judges what the nodes report (Ready, cordoned, taints against the pods'
// tolerations, nodeSelector), not their free CPU and memory.
type Placement struct {
	// Group names the pods, e.g. production-gw or "production-mgmt apim".
	Group    string
	Selector map[string]string
	// Pods is the number of the group's pods (its members; Pending ones included).
	Pods int
	// Zones are the zones with a node that can take one of the pods.
	Zones []string
	// Blocked are the other zones, each with why none of its nodes can ("node-5 NotReady, ...").
	Blocked map[string]string
}

// Unplaceable is the number of pods a hard zone term would leave Pending.
func (p Placement) Unplaceable() int { return max(0, p.Pods-len(p.Zones)) }

// Why explains Unplaceable, e.g. "only 2 zone(s) (zone-a, zone-b) have a ready, schedulable node
// for 3 pods; zone-c: node-5 NotReady, node-6 NotReady".
func (p Placement) Why() string {
	var b strings.Builder
	if len(p.Zones) == 0 && len(p.Blocked) == 0 {
		fmt.Fprintf(&b, "no node has a %s label", apic.ZoneLabel)
		return b.String()
	}
	fmt.Fprintf(&b, "only %d zone(s) (%s) have a ready, schedulable node for %d pods", len(p.Zones), strings.Join(p.Zones, ", "), p.Pods)
	for _, z := range p.BlockedZones() {
		fmt.Fprintf(&b, "; %s: %s", z, p.Blocked[z])
	}
	return b.String()
}

// BlockedZones are the zones of Blocked, sorted.
func (p Placement) BlockedZones() []string {
	out := make([]string, 0, len(p.Blocked))
	for z := range p.Blocked {
		out = append(out, z)
	}
	sort.Strings(out)
	return out
}

// Placements judges every expectation's pods against the nodes. Expectations without pods (the
// microservice is not deployed) are left out.
func Placements(nodes []corev1.Node, pods []corev1.Pod, expects []Expect) []Placement {
	var out []Placement
	for _, e := range expects {
		var mine []*corev1.Pod
		for i := range pods {
			p := &pods[i]
			if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && matches(p.Labels, e.Selector) {
				mine = append(mine, p)
			}
		}
		if len(mine) == 0 {
			continue
		}
		zs, blocked := zones.PlaceableZones(zones.NodeStates(nodes, &mine[0].Spec))
		out = append(out, Placement{Group: groupName(e.Selector), Selector: e.Selector, Pods: len(mine), Zones: zs, Blocked: blocked})
	}
	return out
}

// ReadPlacements lists the nodes and the API Connect pods of ns and judges expects.
func ReadPlacements(ctx context.Context, kube kubernetes.Interface, site, ns string, expects []Expect) ([]Placement, error) {
	nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, explain.Error(err, site, schema.GroupVersionResource{Version: "v1", Resource: "nodes"}, "list")
	}
	pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: inventory.PodSelector()})
	if err != nil {
		return nil, explain.Error(err, site, schema.GroupVersionResource{Version: "v1", Resource: "pods"}, "list")
	}
	return Placements(nodes.Items, pods.Items, expects), nil
}

// PendingPod is a pod of ours the scheduler cannot place.
type PendingPod struct {
	Name string
	// Message is the scheduler's, from the PodScheduled condition (e.g. "0/6 nodes are available:
	// ... didn't match pod anti-affinity rules").
	Message string
}

// ReadPending lists the pods of ns that expects select and that are not scheduled.
func ReadPending(ctx context.Context, kube kubernetes.Interface, ns string, expects []Expect) ([]PendingPod, error) {
	pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: inventory.PodSelector()})
	if err != nil {
		return nil, err
	}
	var out []PendingPod
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Spec.NodeName != "" || p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodPending {
			continue
		}
		selected := false
		for _, e := range expects {
			selected = selected || matches(p.Labels, e.Selector)
		}
		if !selected {
			continue
		}
		pp := PendingPod{Name: p.Name}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
				pp.Message = c.Message
			}
		}
		out = append(out, pp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func matches(labels, sel map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// groupName names a selector's pods as pkg/zones names their group.
func groupName(sel map[string]string) string {
	if ms := sel[MicroserviceLabel]; ms != "" {
		return sel[apic.InstanceLabel] + " " + ms
	}
	return sel[apic.InstanceLabel]
}
