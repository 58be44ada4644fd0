package spread

import (
	"context"
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

// Expect is what one microservice's StatefulSets must show once the operator has passed our
// override on: our zone term for Selector in Mode, or none of ours at all when Mode is "".
type Expect struct {
	Selector map[string]string
	Mode     Mode
}

// Expectations are what a plan's target expects after it is written.
func Expectations(reqs []Request, mode Mode) []Expect {
	var out []Expect
	for _, r := range reqs {
		for _, ms := range orDefault(r) {
			out = append(out, Expect{Selector: Selector(r.Subsystem, r.Instance, ms), Mode: mode})
		}
	}
	return out
}

func orDefault(r Request) []string {
	if len(r.Microservices) > 0 {
		return r.Microservices
	}
	return apic.OverridableMicroservices(r.Subsystem)
}

// RolloutStatus is one StatefulSet's progress, for progress lines.
type RolloutStatus struct {
	Name                            string
	Replicas, Updated, Ready        int32
	HasOverride, Rolled, Generation bool
}

func (s RolloutStatus) String() string {
	state := "rolled out"
	switch {
	case !s.HasOverride:
		state = "waiting for the operator to pass the override on"
	case !s.Rolled:
		state = fmt.Sprintf("rolling: %d/%d updated, %d ready", s.Updated, s.Replicas, s.Ready)
	}
	return s.Name + " " + state
}

// WaitRollout watches the StatefulSets of ns until every one whose pods an expectation selects has
// the expected pod template (the operator has passed the override on, or taken it off) and has
// finished rolling: status.updateRevision == currentRevision, every replica updated and ready, and the
// controller has observed the latest generation. report receives each change of status. It needs at
// least one StatefulSet to match; a microservice without one (not deployed) is not waited for.
func WaitRollout(ctx context.Context, kube kubernetes.Interface, ns string, expects []Expect, report func([]RolloutStatus)) error {
	sts := kube.AppsV1().StatefulSets(ns)
	lw := cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return sts.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return sts.Watch(ctx, o)
		},
	}, kube)
	var store cache.Store
	last := ""
	done := func() bool {
		var st []RolloutStatus
		for _, obj := range store.List() {
			s := obj.(*appsv1.StatefulSet)
			if e, ok := expectationFor(s, expects); ok {
				st = append(st, rolloutStatus(s, e))
			}
		}
		sort.Slice(st, func(i, j int) bool { return st[i].Name < st[j].Name })
		if key := fmt.Sprint(st); key != last && report != nil {
			last = key
			report(st)
		}
		if len(st) == 0 {
			return false
		}
		for _, s := range st {
			if !s.HasOverride || !s.Rolled {
				return false
			}
		}
		return true
	}
	_, err := watchtools.UntilWithSync(ctx, lw, &appsv1.StatefulSet{},
		func(s cache.Store) (bool, error) { store = s; return done(), nil },
		func(watch.Event) (bool, error) { return done(), nil })
	if err != nil {
		return fmt.Errorf("waiting for the StatefulSets in %s to roll: %w", ns, err)
	}
	return nil
}

// expectationFor is the expectation whose selector picks s's pods.
func expectationFor(s *appsv1.StatefulSet, expects []Expect) (Expect, bool) {
	labels := s.Spec.Template.Labels
	for _, e := range expects {
		match := len(e.Selector) > 0
		for k, v := range e.Selector {
			if labels[k] != v {
				match = false
				break
			}
		}
		if match {
			return e, true
		}
	}
	return Expect{}, false
}

func rolloutStatus(s *appsv1.StatefulSet, e Expect) RolloutStatus {
	want := int32(1)
	if s.Spec.Replicas != nil {
		want = *s.Spec.Replicas
	}
	st := s.Status
	r := RolloutStatus{Name: s.Name, Replicas: want, Updated: st.UpdatedReplicas, Ready: st.ReadyReplicas}
	r.Generation = st.ObservedGeneration >= s.Generation
	r.Rolled = r.Generation && st.UpdateRevision != "" && st.UpdateRevision == st.CurrentRevision &&
		st.UpdatedReplicas == want && st.ReadyReplicas == want && st.Replicas == want
	soft, hard := HasZoneTerm(s.Spec.Template.Spec.Affinity, e.Selector)
	switch e.Mode {
	case Soft:
		r.HasOverride = soft && !hard
	case Hard:
		r.HasOverride = hard && !soft
	default:
		r.HasOverride = !soft && !hard
	}
	return r
}

// HasZoneTerm reports whether a has our preferred (soft) or required (hard) zone anti-affinity term
// for pods matching sel.
func HasZoneTerm(a *corev1.Affinity, sel map[string]string) (soft, hard bool) {
	if a == nil || a.PodAntiAffinity == nil {
		return false, false
	}
	ours := func(t corev1.PodAffinityTerm) bool {
		return t.TopologyKey == TopologyKey && t.LabelSelector != nil && len(t.LabelSelector.MatchExpressions) == 0 &&
			sameLabels(t.LabelSelector.MatchLabels, sel)
	}
	for _, w := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
		if int64(w.Weight) == Weight && ours(w.PodAffinityTerm) {
			soft = true
		}
	}
	for _, t := range a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
		if ours(t) {
			hard = true
		}
	}
	return soft, hard
}

func sameLabels(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Describe is a one-line summary of statuses for progress output.
func Describe(st []RolloutStatus) string {
	parts := make([]string, len(st))
	for i, s := range st {
		parts[i] = s.String()
	}
	if len(parts) == 0 {
		return "waiting for StatefulSets"
	}
	return strings.Join(parts, "; ")
}
