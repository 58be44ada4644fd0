package kubelet

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestIPAllocator(t *testing.T) {
	a, err := newIPAllocator(netip.MustParsePrefix("10.3.0.0/30")) // usable: .1 and .2
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		op, owner, ip string
		wantIP        string
		wantErr       bool
	}{
		{op: "alloc", owner: "p1", wantIP: "10.3.0.1"},
		{op: "alloc", owner: "p2", wantIP: "10.3.0.2"},
		{op: "alloc", owner: "p3", wantErr: true},
		{op: "release", owner: "p1", ip: "10.3.0.1"},
		{op: "alloc", owner: "p3", wantIP: "10.3.0.1"},
		{op: "claim-fail", owner: "p4", ip: "10.3.0.1"},        // taken
		{op: "claim-fail", owner: "p4", ip: "10.3.0.3"},        // broadcast-like
		{op: "claim-fail", owner: "p4", ip: "10.4.0.1"},        // outside
		{op: "claim", owner: "p3", ip: "10.3.0.1"},             // its own
		{op: "release", owner: "someone-else", ip: "10.3.0.2"}, // not the owner: no effect
		{op: "alloc", owner: "p5", wantErr: true},
	}
	for i, s := range steps {
		switch s.op {
		case "alloc":
			ip, err := a.Allocate(s.owner)
			if (err != nil) != s.wantErr || (!s.wantErr && ip.String() != s.wantIP) {
				t.Fatalf("step %d: Allocate = %v, %v; want %s (error %t)", i, ip, err, s.wantIP, s.wantErr)
			}
		case "release":
			a.Release(netip.MustParseAddr(s.ip), s.owner)
		case "claim", "claim-fail":
			if got := a.Claim(netip.MustParseAddr(s.ip), s.owner); got != (s.op == "claim") {
				t.Fatalf("step %d: Claim(%s) = %t", i, s.ip, got)
			}
		}
	}
	if _, err := newIPAllocator(netip.MustParsePrefix("10.0.0.1/32")); err == nil {
		t.Error("a /32 pod CIDR was accepted")
	}
}

func TestImageID(t *testing.T) {
	tests := []struct{ image, wantPrefix string }{
		{"icr.io/cpopen/datapower:10.6", "icr.io/cpopen/datapower@sha256:"},
		{"registry:5000/apic/mgmt", "registry:5000/apic/mgmt@sha256:"},
		{"nginx@sha256:abc", "nginx@sha256:abc"},
	}
	for _, tt := range tests {
		if got := imageID(tt.image); !strings.HasPrefix(got, tt.wantPrefix) {
			t.Errorf("imageID(%q) = %q, want prefix %q", tt.image, got, tt.wantPrefix)
		}
	}
}

func TestPodStatus(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Minute))
	base := func() *corev1.Pod {
		p := testPod("p", "node-a")
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "sidecar", Image: "busybox"})
		return p
	}
	runtimeFor := func(p *corev1.Pod) *podRuntime {
		rt := &podRuntime{uid: p.UID, node: p.Spec.NodeName, ip: netip.MustParseAddr("10.7.0.9"), started: t0,
			containers: map[string]*containerRuntime{}, cancel: func() {}}
		for _, c := range p.Spec.Containers {
			rt.containers[c.Name] = &containerRuntime{running: true, startedAt: t0}
		}
		return rt
	}
	tests := []struct {
		name      string
		pod       func() *corev1.Pod
		rt        func(*podRuntime)
		nodeReady bool
		phase     corev1.PodPhase
		ready     corev1.ConditionStatus
		reason    string
	}{
		{name: "running", pod: base, nodeReady: true, phase: corev1.PodRunning, ready: "True"},
		{name: "node not ready", pod: base, nodeReady: false, phase: corev1.PodRunning, ready: "False", reason: "NodeNotReady"},
		{name: "killed, restarting", pod: base, nodeReady: true, phase: corev1.PodRunning, ready: "False", reason: "ContainersNotReady",
			rt: func(rt *podRuntime) { rt.stop(137, "Error"); rt.restartAt = time.Now().Add(time.Hour) }},
		{name: "killed, never restarted", pod: base, nodeReady: true, phase: corev1.PodFailed, ready: "False", reason: "PodCompleted",
			rt: func(rt *podRuntime) { rt.stop(137, "Error") }},
		{name: "job completed", pod: base, nodeReady: true, phase: corev1.PodSucceeded, ready: "False", reason: "PodCompleted",
			rt: func(rt *podRuntime) { rt.stop(0, "Completed") }},
		{name: "readiness gate missing", nodeReady: true, phase: corev1.PodRunning, ready: "False", reason: "ReadinessGatesNotReady",
			pod: func() *corev1.Pod {
				p := base()
				p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "lab/ok"}}
				return p
			}},
		{name: "readiness gate true", nodeReady: true, phase: corev1.PodRunning, ready: "True",
			pod: func() *corev1.Pod {
				p := base()
				p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "lab/ok"}}
				p.Status.Conditions = []corev1.PodCondition{{Type: "lab/ok", Status: "True"}}
				return p
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := tt.pod()
			rt := runtimeFor(pod)
			if tt.rt != nil {
				tt.rt(rt)
			}
			st := podStatus(pod, rt, "127.0.0.1", tt.nodeReady, t1)
			if st.Phase != tt.phase {
				t.Errorf("phase %s, want %s", st.Phase, tt.phase)
			}
			var ready corev1.PodCondition
			for _, c := range st.Conditions {
				if c.Type == corev1.PodReady {
					ready = c
				}
			}
			if ready.Status != tt.ready || ready.Reason != tt.reason {
				t.Errorf("Ready %s/%q, want %s/%q", ready.Status, ready.Reason, tt.ready, tt.reason)
			}
			if ready.LastTransitionTime != t1 || ready.ObservedGeneration != pod.Generation {
				t.Errorf("Ready condition times %+v", ready)
			}
			if st.PodIP != "10.7.0.9" || st.HostIP != "127.0.0.1" || *st.StartTime != t0 || len(st.ContainerStatuses) != 2 {
				t.Errorf("status %+v", st)
			}
			// A pod reporting this status is up to date: nothing left to write, transition times kept.
			pod.Status = st
			if again := podStatus(pod, rt, "127.0.0.1", tt.nodeReady, metav1.NewTime(t1.Add(time.Hour))); !equalStatus(again, st) {
				t.Errorf("recomputed status differs:\n%+v\n%+v", again, st)
			}
		})
	}
}

// equalStatus is the comparison syncPod makes before writing.
func equalStatus(a, b corev1.PodStatus) bool { return apiequality.Semantic.DeepEqual(a, b) }

func TestRuntimeAdvance(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	rt := &podRuntime{base: context.Background(), ctx: ctx, cancel: cancel,
		containers: map[string]*containerRuntime{"c": {running: true}}}
	start := time.Now()
	rt.stop(137, "Error")
	rt.restartAt = start.Add(time.Second)
	rt.exitAt = start.Add(2 * time.Second)
	if ctx.Err() == nil {
		t.Fatal("stop did not end the incarnation's context")
	}
	if d := rt.advance(start); d != time.Second {
		t.Errorf("next event in %v, want 1s", d)
	}
	if d := rt.advance(start.Add(time.Second)); d != time.Second || !rt.containers["c"].running || rt.containers["c"].restarts != 1 {
		t.Errorf("after restart: next %v, container %+v", d, rt.containers["c"])
	}
	if rt.ctx.Err() != nil {
		t.Error("restarted container has a cancelled context")
	}
	if d := rt.advance(start.Add(2 * time.Second)); d != 0 || rt.containers["c"].running || rt.containers["c"].state.Reason != "Completed" {
		t.Errorf("after job end: next %v, container %+v", d, rt.containers["c"])
	}
}
