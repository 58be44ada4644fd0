package kubelet

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

// These unit tests run the Kubelet against client-go's fake clientset (no control plane).

type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (l *logSink) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func testConfig(client kubernetes.Interface, nodes ...NodeSpec) Config {
	if len(nodes) == 0 {
		nodes = []NodeSpec{{Name: "node-a", Zone: "zone-a"}, {Name: "node-b", Zone: "zone-b"}, {Name: "node-c", Zone: "zone-b"}}
	}
	return Config{
		Client:        client,
		Nodes:         nodes,
		Address:       "127.0.0.1",
		PodCIDR:       netip.MustParsePrefix("10.7.0.0/16"),
		LeaseInterval: 100 * time.Millisecond,
		RestartDelay:  300 * time.Millisecond,
		JobRunTime:    300 * time.Millisecond,
	}
}

func startKubelet(t *testing.T, cfg Config) *Kubelet {
	t.Helper()
	logs := &logSink{}
	cfg.Logger = logs.logf
	k, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		k.Stop()
		if t.Failed() {
			logs.mu.Lock()
			t.Logf("kubelet log:\n%s", strings.Join(logs.lines, "\n"))
			logs.mu.Unlock()
		}
	})
	return k
}

func eventually(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 10*time.Second, true,
		func(context.Context) (bool, error) {
			ok, err := cond()
			last = err
			return ok && err == nil, nil
		})
	if err != nil {
		t.Fatalf("timed out waiting for %s (last error: %v)", what, last)
	}
}

func testPod(name, node string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "apic", UID: types.UID("uid-" + name), Generation: 1},
		Spec: corev1.PodSpec{
			NodeName:      node,
			RestartPolicy: corev1.RestartPolicyAlways,
			Containers:    []corev1.Container{{Name: "datapower", Image: "icr.io/cpopen/datapower/datapower-limited:10.6.0.0"}},
		},
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
}

func getPod(t *testing.T, c kubernetes.Interface, name string) *corev1.Pod {
	t.Helper()
	p, err := c.CoreV1().Pods("apic").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get pod %s: %v", name, err)
	}
	return p
}

func podCondition(p *corev1.Pod, typ corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range p.Status.Conditions {
		if c.Type == typ {
			return c.Status
		}
	}
	return ""
}

func nodeCondition(n *corev1.Node, typ corev1.NodeConditionType) corev1.ConditionStatus {
	for _, c := range n.Status.Conditions {
		if c.Type == typ {
			return c.Status
		}
	}
	return ""
}

func isRunningReady(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodRunning && podCondition(p, corev1.PodReady) == corev1.ConditionTrue
}

func TestStartValidatesConfig(t *testing.T) {
	client := fake.NewClientset()
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no client", func(c *Config) { c.Client = nil }, "Client is required"},
		{"no nodes", func(c *Config) { c.Nodes = nil }, "Nodes is empty"},
		{"bad address", func(c *Config) { c.Address = "localhost" }, "Config.Address"},
		{"unnamed node", func(c *Config) { c.Nodes = []NodeSpec{{}} }, "has no name"},
		{"duplicate node", func(c *Config) { c.Nodes = []NodeSpec{{Name: "a"}, {Name: "a"}} }, "listed twice"},
		{"bad cpu", func(c *Config) { c.Nodes = []NodeSpec{{Name: "a", CPU: "lots"}} }, "CPU"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(client)
			tt.edit(&cfg)
			k, err := Start(context.Background(), cfg)
			if err == nil {
				k.Stop()
				t.Fatal("Start succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestRegistersNodes(t *testing.T) {
	// node-a exists already (a restarted lab): it keeps foreign labels and gets ours.
	client := fake.NewClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name: "node-a", Labels: map[string]string{"keep": "me", LabelZone: "stale"}}})
	cfg := testConfig(client,
		NodeSpec{Name: "node-a", Zone: "zone-a", Labels: map[string]string{"lab/site": "dc1"}},
		NodeSpec{Name: "node-b", Zone: "zone-b", CPU: "4", Memory: "8Gi", MaxPods: 20},
	)
	k := startKubelet(t, cfg)

	tests := []struct {
		node                  string
		zone, cpu, mem, pods  string
		extraLabel, extraWant string
	}{
		{"node-a", "zone-a", DefaultCPU, DefaultMemory, "250", "keep", "me"},
		{"node-a", "zone-a", DefaultCPU, DefaultMemory, "250", "lab/site", "dc1"},
		{"node-b", "zone-b", "4", "8Gi", "20", LabelInstanceType, "simulator.4c.8gi"},
	}
	for _, tt := range tests {
		t.Run(tt.node+"/"+tt.extraLabel, func(t *testing.T) {
			n, err := client.CoreV1().Nodes().Get(context.Background(), tt.node, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for label, want := range map[string]string{
				LabelZone: tt.zone, LabelHostname: tt.node, LabelOS: "linux", tt.extraLabel: tt.extraWant,
			} {
				if got := n.Labels[label]; got != want {
					t.Errorf("label %s = %q, want %q", label, got, want)
				}
			}
			if got := n.Status.Capacity.Cpu().String(); got != tt.cpu {
				t.Errorf("cpu capacity %s, want %s", got, tt.cpu)
			}
			if got := n.Status.Allocatable.Memory().String(); got != tt.mem {
				t.Errorf("memory allocatable %s, want %s", got, tt.mem)
			}
			if got := n.Status.Capacity.Pods().String(); got != tt.pods {
				t.Errorf("pods capacity %s, want %s", got, tt.pods)
			}
			want := map[corev1.NodeConditionType]corev1.ConditionStatus{
				corev1.NodeReady: "True", corev1.NodeMemoryPressure: "False",
				corev1.NodeDiskPressure: "False", corev1.NodePIDPressure: "False",
			}
			for typ, status := range want {
				if got := nodeCondition(n, typ); got != status {
					t.Errorf("condition %s = %q, want %q", typ, got, status)
				}
			}
			if got := int(n.Status.DaemonEndpoints.KubeletEndpoint.Port); got != k.Port() || got == 0 {
				t.Errorf("kubelet port %d, want %d", got, k.Port())
			}
			addrs := map[corev1.NodeAddressType]string{}
			for _, a := range n.Status.Addresses {
				addrs[a.Type] = a.Address
			}
			if addrs[corev1.NodeInternalIP] != "127.0.0.1" || addrs[corev1.NodeHostName] != tt.node {
				t.Errorf("addresses %v", n.Status.Addresses)
			}
			if n.Status.NodeInfo.KubeletVersion != "v1.37.1" {
				t.Errorf("kubelet version %q", n.Status.NodeInfo.KubeletVersion)
			}
		})
	}
	// Leases exist and are renewed.
	var first time.Time
	eventually(t, "lease of node-b", func() (bool, error) {
		l, err := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(context.Background(), "node-b", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if *l.Spec.HolderIdentity != "node-b" || *l.Spec.LeaseDurationSeconds != 40 {
			return false, fmt.Errorf("lease spec %+v", l.Spec)
		}
		if first.IsZero() {
			first = l.Spec.RenewTime.Time
			return false, nil
		}
		return l.Spec.RenewTime.After(first), nil
	})
}

func TestPodsRunWithUniqueIPs(t *testing.T) {
	client := fake.NewClientset()
	k := startKubelet(t, testConfig(client))
	_ = k
	ctx := context.Background()
	const n = 30
	for i := range n {
		node := []string{"node-a", "node-b", "node-c"}[i%3]
		if _, err := client.CoreV1().Pods("apic").Create(ctx, testPod(fmt.Sprintf("p%d", i), node), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	foreign := testPod("foreign", "somebody-elses-node")
	if _, err := client.CoreV1().Pods("apic").Create(ctx, foreign, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "all pods running", func() (bool, error) {
		list, err := client.CoreV1().Pods("apic").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		running := 0
		for _, p := range list.Items {
			if isRunningReady(&p) {
				running++
			}
		}
		return running == n, nil
	})
	ips := map[string]string{}
	for i := range n {
		p := getPod(t, client, fmt.Sprintf("p%d", i))
		ip := netip.MustParseAddr(p.Status.PodIP)
		if !netip.MustParsePrefix("10.7.0.0/16").Contains(ip) {
			t.Errorf("%s: IP %s outside the pod CIDR", p.Name, ip)
		}
		if other, dup := ips[p.Status.PodIP]; dup {
			t.Errorf("%s and %s share IP %s", p.Name, other, ip)
		}
		ips[p.Status.PodIP] = p.Name
		if p.Status.HostIP != "127.0.0.1" || p.Status.StartTime == nil || len(p.Status.PodIPs) != 1 {
			t.Errorf("%s: status %+v", p.Name, p.Status)
		}
		cs := p.Status.ContainerStatuses
		if len(cs) != 1 || !cs[0].Ready || cs[0].State.Running == nil || !*cs[0].Started ||
			!strings.HasPrefix(cs[0].ContainerID, "sim://") || cs[0].ImageID == "" || cs[0].Image != p.Spec.Containers[0].Image {
			t.Errorf("%s: container statuses %+v", p.Name, cs)
		}
		for _, typ := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
			if podCondition(p, typ) != corev1.ConditionTrue {
				t.Errorf("%s: condition %s not True", p.Name, typ)
			}
		}
	}
	if p := getPod(t, client, "foreign"); p.Status.Phase != corev1.PodPending {
		t.Errorf("a pod on a foreign node was touched: %+v", p.Status)
	}
}

func TestStatusWrittenOnce(t *testing.T) {
	client := fake.NewClientset()
	startKubelet(t, testConfig(client))
	if _, err := client.CoreV1().Pods("apic").Create(context.Background(), testPod("once", "node-a"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "pod running", func() (bool, error) { return isRunningReady(getPod(t, client, "once")), nil })
	time.Sleep(300 * time.Millisecond) // our own update event has come back through the informer
	updates := 0
	for _, a := range client.Actions() {
		if a.Matches("update", "pods") && a.GetSubresource() == "status" {
			updates++
		}
	}
	if updates != 1 {
		t.Errorf("%d status updates, want 1 (recomputing the status must find nothing to write)", updates)
	}
}

func TestTerminatingPodIsDeleted(t *testing.T) {
	client := fake.NewClientset()
	startKubelet(t, testConfig(client))
	p := testPod("going", "node-b")
	p.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	p.DeletionGracePeriodSeconds = ptr.To[int64](30)
	if _, err := client.CoreV1().Pods("apic").Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "pod deleted", func() (bool, error) {
		_, err := client.CoreV1().Pods("apic").Get(context.Background(), "going", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	for _, a := range client.Actions() {
		if d, ok := a.(k8stesting.DeleteAction); ok && d.GetName() == "going" {
			if g := d.GetDeleteOptions().GracePeriodSeconds; g == nil || *g != 0 {
				t.Errorf("deleted with grace %v, want 0", g)
			}
			return
		}
	}
	t.Error("no delete action recorded")
}

func TestNodeAndZoneFaults(t *testing.T) {
	client := fake.NewClientset()
	k := startKubelet(t, testConfig(client))
	ctx := context.Background()
	for _, pn := range []struct{ pod, node string }{{"pa", "node-a"}, {"pb", "node-b"}, {"pc", "node-c"}} {
		if _, err := client.CoreV1().Pods("apic").Create(ctx, testPod(pn.pod, pn.node), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "pods running", func() (bool, error) {
		return isRunningReady(getPod(t, client, "pa")) && isRunningReady(getPod(t, client, "pb")) && isRunningReady(getPod(t, client, "pc")), nil
	})
	if err := k.SetZoneReady("zone-b", false); err != nil {
		t.Fatal(err)
	}
	if err := k.SetZoneReady("zone-x", false); err == nil {
		t.Error("SetZoneReady of an unknown zone succeeded")
	}
	if err := k.SetNodeReady("nope", false); err == nil {
		t.Error("SetNodeReady of an unknown node succeeded")
	}
	for _, tt := range []struct {
		node string
		want corev1.ConditionStatus
	}{{"node-a", "True"}, {"node-b", "Unknown"}, {"node-c", "Unknown"}} {
		n, err := client.CoreV1().Nodes().Get(ctx, tt.node, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := nodeCondition(n, corev1.NodeReady); got != tt.want {
			t.Errorf("%s Ready=%s, want %s", tt.node, got, tt.want)
		}
	}
	eventually(t, "zone-b pods not ready", func() (bool, error) {
		pb, pc := getPod(t, client, "pb"), getPod(t, client, "pc")
		return podCondition(pb, corev1.PodReady) == "False" && podCondition(pc, corev1.PodReady) == "False", nil
	})
	if !isRunningReady(getPod(t, client, "pa")) {
		t.Error("pod on the healthy node became unready")
	}
	// The dead node's lease is no longer renewed.
	lease := func() time.Time {
		l, err := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, "node-b", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return l.Spec.RenewTime.Time
	}
	before := lease()
	time.Sleep(3 * k.cfg.LeaseInterval)
	if after := lease(); !after.Equal(before) {
		t.Errorf("lease of a NotReady node renewed (%v → %v)", before, after)
	}
	// A new pod bound to a dead node does not start; a terminating one is not finished.
	if _, err := client.CoreV1().Pods("apic").Create(ctx, testPod("late", "node-b"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if p := getPod(t, client, "late"); p.Status.Phase != corev1.PodPending {
		t.Errorf("pod on a NotReady node started: %s", p.Status.Phase)
	}

	if err := k.SetNodeReady("node-b", true); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node-b pods ready again", func() (bool, error) {
		return isRunningReady(getPod(t, client, "pb")) && isRunningReady(getPod(t, client, "late")), nil
	})
	if podCondition(getPod(t, client, "pc"), corev1.PodReady) != "False" {
		t.Error("pod on node-c (still NotReady) became ready")
	}
	if got := k.Nodes(); !got["node-b"] || got["node-c"] {
		t.Errorf("Nodes() = %v", got)
	}
}

func TestKillContainerRestarts(t *testing.T) {
	client := fake.NewClientset()
	k := startKubelet(t, testConfig(client))
	if _, err := client.CoreV1().Pods("apic").Create(context.Background(), testPod("victim", "node-a"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "pod running", func() (bool, error) { return isRunningReady(getPod(t, client, "victim")), nil })
	firstID := getPod(t, client, "victim").Status.ContainerStatuses[0].ContainerID
	if err := k.KillContainer("apic", "victim"); err != nil {
		t.Fatal(err)
	}
	if err := k.KillContainer("apic", "nobody"); err == nil {
		t.Error("KillContainer of an unknown pod succeeded")
	}
	eventually(t, "container terminated", func() (bool, error) {
		p := getPod(t, client, "victim")
		cs := p.Status.ContainerStatuses[0]
		return cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 137 && !cs.Ready &&
			podCondition(p, corev1.PodReady) == "False" && p.Status.Phase == corev1.PodRunning, nil
	})
	eventually(t, "container restarted", func() (bool, error) {
		p := getPod(t, client, "victim")
		cs := p.Status.ContainerStatuses[0]
		return cs.State.Running != nil && cs.RestartCount == 1 && cs.Ready && isRunningReady(p) &&
			cs.LastTerminationState.Terminated != nil && cs.LastTerminationState.Terminated.ContainerID == firstID &&
			cs.ContainerID != firstID, nil
	})
}

func TestJobPodSucceeds(t *testing.T) {
	client := fake.NewClientset()
	startKubelet(t, testConfig(client))
	p := testPod("configurator", "node-c")
	p.Spec.RestartPolicy = corev1.RestartPolicyNever
	if _, err := client.CoreV1().Pods("apic").Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "job pod succeeded", func() (bool, error) {
		p := getPod(t, client, "configurator")
		cs := p.Status.ContainerStatuses
		return p.Status.Phase == corev1.PodSucceeded && len(cs) == 1 && cs[0].State.Terminated != nil &&
			cs[0].State.Terminated.Reason == "Completed", nil
	})
}

func TestStopLeaksNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	client := fake.NewClientset(testPod("p", "node-a"))
	k, err := Start(context.Background(), testConfig(client))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "pod running", func() (bool, error) { return isRunningReady(getPod(t, client, "p")), nil })
	done := make(chan struct{})
	go func() { k.Stop(); k.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not return within 5s")
	}
	eventually(t, "goroutines to end", func() (bool, error) {
		// The fake clientset's watchers linger briefly after their consumers go.
		return runtime.NumGoroutine() <= before+2, nil
	})
}

func TestCancelledContextStops(t *testing.T) {
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	k, err := Start(ctx, testConfig(fake.NewClientset()))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	eventually(t, "goroutines to end", func() (bool, error) { return runtime.NumGoroutine() <= before+2, nil })
	k.Stop() // still fine afterwards
}

// TestFailReadiness: the never-ready fault spares the running incarnation, holds the recreated pod
// Running but not Ready, and clearing it makes the pod Ready.
func TestFailReadiness(t *testing.T) {
	client := fake.NewClientset()
	k := startKubelet(t, testConfig(client))
	ctx := context.Background()
	pods := client.CoreV1().Pods("apic")
	if _, err := pods.Create(ctx, testPod("gw-0", "node-a"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "pod ready", func() (bool, error) { return isRunningReady(getPod(t, client, "gw-0")), nil })
	k.FailReadiness("apic", "gw-0", getPod(t, client, "gw-0").UID)
	if got := k.ReadinessFaults(); len(got) != 1 || got[0] != "apic/gw-0" {
		t.Fatalf("ReadinessFaults = %v", got)
	}
	time.Sleep(100 * time.Millisecond)
	if !isRunningReady(getPod(t, client, "gw-0")) {
		t.Fatal("the running incarnation lost its readiness")
	}
	// The StatefulSet's replacement: same name, new UID.
	if err := pods.Delete(ctx, "gw-0", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "pod gone", func() (bool, error) {
		_, err := pods.Get(ctx, "gw-0", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	again := testPod("gw-0", "node-a")
	again.UID = "uid-gw-0-second"
	if _, err := pods.Create(ctx, again, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "recreated pod running, not ready", func() (bool, error) {
		p := getPod(t, client, "gw-0")
		return p.Status.Phase == corev1.PodRunning && len(p.Status.ContainerStatuses) == 1 &&
			p.Status.ContainerStatuses[0].State.Running != nil && podCondition(p, corev1.PodReady) == "False", nil
	})
	time.Sleep(200 * time.Millisecond)
	if p := getPod(t, client, "gw-0"); isRunningReady(p) {
		t.Fatal("pod under the never-ready fault turned Ready")
	}
	if !k.ClearReadinessFault("apic", "gw-0") || k.ClearReadinessFault("apic", "gw-0") {
		t.Error("ClearReadinessFault did not report the fault once")
	}
	eventually(t, "pod ready after clearing", func() (bool, error) { return isRunningReady(getPod(t, client, "gw-0")), nil })
}
