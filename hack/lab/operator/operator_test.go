package operator

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	testclock "k8s.io/utils/clock/testing"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

const (
	testNS    = "apic"
	testScale = 1.0 / 3000 // 5 minutes → 100ms of fake time
)

type testLink struct{ down atomic.Bool }

func (l *testLink) Up() bool { return !l.down.Load() }

// lab is two simulated sites driven by one fake clock.
type lab struct {
	t     *testing.T
	ctx   context.Context
	clock *testclock.FakeClock
	link  *testLink
	sites [2]Site
	ops   [2]*Operator
}

func newDynamic() *dynamicfake.FakeDynamicClient {
	lists := map[schema.GroupVersionResource]string{}
	for _, k := range apic.Kinds() {
		lists[k.GVR()] = k.Kind + "List"
	}
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), lists)
}

func newLab(t *testing.T) *lab {
	t.Helper()
	l := &lab{t: t, ctx: context.Background(), clock: testclock.NewFakeClock(time.Date(2026, 5, 29, 18, 0, 0, 0, time.UTC)), link: &testLink{}}
	for i, name := range []string{"dc1", "dc2"} {
		l.sites[i] = Site{Name: name, Dynamic: newDynamic(), Kube: kubefake.NewClientset(), Namespace: testNS}
	}
	opts := Options{TimeScale: testScale, Clock: l.clock, Logf: t.Logf}
	l.ops[0] = New(l.sites[0], l.sites[1], l.link, opts)
	l.ops[1] = New(l.sites[1], l.sites[0], l.link, opts)
	return l
}

// scaled is a documented duration in the lab's fake time.
func scaled(d time.Duration) time.Duration { return time.Duration(float64(d) * testScale) }

// settle runs both simulators, marks every StatefulSet ready (the real controller and kubelet would),
// and runs them again.
func (l *lab) settle() {
	l.t.Helper()
	for round := 0; round < 3; round++ {
		for _, op := range l.ops {
			if err := op.Sync(l.ctx); err != nil {
				l.t.Fatalf("sync %s: %v", op.self.Name, err)
			}
		}
		for _, s := range l.sites {
			markStatefulSetsReady(l.t, s)
		}
	}
}

func (l *lab) step(d time.Duration) {
	l.clock.Step(d)
	l.settle()
}

func markStatefulSetsReady(t *testing.T, s Site) {
	t.Helper()
	c := s.Kube.AppsV1().StatefulSets(s.Namespace)
	list, err := c.List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range list.Items {
		sts := &list.Items[i]
		n := *sts.Spec.Replicas
		if sts.Status.ReadyReplicas == n && sts.Status.Replicas == n {
			continue
		}
		sts.Status = appsv1.StatefulSetStatus{Replicas: n, ReadyReplicas: n, AvailableReplicas: n}
		if _, err := c.UpdateStatus(context.Background(), sts, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

func (l *lab) create(site int, o apic.Object) {
	l.t.Helper()
	s := l.sites[site]
	o.U.SetNamespace(s.Namespace)
	if _, err := s.Dynamic.Resource(o.Kind.GVR()).Namespace(s.Namespace).Create(l.ctx, o.U, metav1.CreateOptions{}); err != nil {
		l.t.Fatal(err)
	}
}

func (l *lab) get(site int, k apic.Kind, name string) apic.Object {
	l.t.Helper()
	s := l.sites[site]
	u, err := s.Dynamic.Resource(k.GVR()).Namespace(s.Namespace).Get(l.ctx, name, metav1.GetOptions{})
	if err != nil {
		l.t.Fatalf("%s: get %s/%s: %v", s.Name, k.Display(), name, err)
	}
	return apic.Object{Kind: k, U: u}
}

func (l *lab) patch(site int, k apic.Kind, name string, patch []byte) {
	l.t.Helper()
	s := l.sites[site]
	if _, err := s.Dynamic.Resource(k.GVR()).Namespace(s.Namespace).Patch(l.ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		l.t.Fatalf("%s: patch %s/%s: %v", s.Name, k.Display(), name, err)
	}
}

// setMode applies IBM's documented merge patch (apic.ModePatch: passive carries the confirmation).
func (l *lab) setMode(site int, k apic.Kind, name string, sub apic.Subsystem, mode string) {
	l.t.Helper()
	p, err := apic.ModePatch(k, sub, mode)
	if err != nil {
		l.t.Fatal(err)
	}
	l.patch(site, k, name, p)
}

// haCR is a subsystem CR with 2DCDR configured.
func haCR(k apic.Kind, name, mode, peerFQDN string) apic.Object {
	o := apic.New(k, testNS, name)
	ha := map[string]interface{}{"mode": mode}
	if peerFQDN != "" {
		ha["replicationPeerFQDN"] = peerFQDN
	}
	o.U.Object["spec"] = map[string]interface{}{"version": "10.0.8.0", "profile": "n1xc4.m16", "multiSiteHA": ha}
	return o
}

// recorder keeps the distinct consecutive values of something observed over time.
type recorder []string

func (r *recorder) see(v string) {
	if len(*r) == 0 || (*r)[len(*r)-1] != v {
		*r = append(*r, v)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func activeHA(t *testing.T, o apic.Object) apic.Condition {
	t.Helper()
	c, ok := o.ActiveHAStatus()
	if !ok {
		t.Fatalf("%s: no haStatus is True: %v", o.Ref(), o.HAStatus())
	}
	return c
}

func countTrue(cs []apic.Condition) int {
	n := 0
	for _, c := range cs {
		if c.IsTrue() {
			n++
		}
	}
	return n
}

func nestedString(u *unstructured.Unstructured, path ...string) string {
	s, _, _ := unstructured.NestedString(u.Object, path...)
	return s
}
