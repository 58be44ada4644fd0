package kubelet

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/streaming/pkg/httpstream"

	"github.com/kubectl-apic/kubectl-apic/internal/testenv"
)

// Integration tests: a real kube-apiserver proxies attach and exec to the simulator.

var env *testenv.Env

func TestMain(m *testing.M) {
	os.Exit(testenv.RunWith(m, &env, testenv.Options{APIServerFlags: map[string]string{
		// All simulated nodes share one address; the apiserver must dial it, not their names.
		"kubelet-preferred-address-types": "InternalIP",
	}}))
}

// fastConfig is the env's rest.Config with the QPS the simulator needs (see the package comment).
func fastConfig(e *testenv.Env) *rest.Config {
	cfg := rest.CopyConfig(e.Config)
	cfg.QPS, cfg.Burst = 500, 1000
	return cfg
}

// startReal starts a Kubelet with n nodes named after the test (in zones zone-a, zone-b, zone-c)
// against the real apiserver.
func startReal(t *testing.T, e *testenv.Env, n int) (*Kubelet, kubernetes.Interface, []string) {
	t.Helper()
	client := kubernetes.NewForConfigOrDie(fastConfig(e))
	prefix := strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	var names []string
	var specs []NodeSpec
	for i := range n {
		zone := string(rune('a' + i%3))
		names = append(names, fmt.Sprintf("%s-%s%d", prefix, zone, i/3))
		specs = append(specs, NodeSpec{Name: names[i], Zone: "zone-" + zone})
	}
	cfg := testConfig(client, specs...)
	cfg.LeaseInterval = time.Second
	start := time.Now()
	k := startKubelet(t, cfg)
	t.Logf("%d nodes registered in %v", n, time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		for _, n := range names {
			_ = client.CoreV1().Nodes().Delete(context.Background(), n, metav1.DeleteOptions{})
		}
	})
	return k, client, names
}

func createRunningPod(t *testing.T, client kubernetes.Interface, ns, name, node string) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PodSpec{
			NodeName: node, // no scheduler in envtest
			Containers: []corev1.Container{{
				Name: "datapower", Image: "icr.io/cpopen/datapower/datapower-limited:10.6.0.0", Stdin: true,
			}},
		},
	}
	if _, err := client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var got *corev1.Pod
	eventually(t, "pod "+name+" running", func() (bool, error) {
		var err error
		got, err = client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		return err == nil && isRunningReady(got) && got.Status.PodIP != "", err
	})
	return got
}

// executor builds one of the executors kubectl uses.
type executorKind string

const (
	spdyExec      executorKind = "spdy"
	websocketExec executorKind = "websocket"
	fallbackExec  executorKind = "fallback" // kubectl's default: WebSocket v5, SPDY on upgrade failure
)

func newExecutor(t *testing.T, cfg *rest.Config, kind executorKind, u *url.URL) remotecommand.Executor {
	t.Helper()
	spdyEx, err := remotecommand.NewSPDYExecutor(cfg, "POST", u)
	if err != nil {
		t.Fatal(err)
	}
	wsEx, err := remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
	if err != nil {
		t.Fatal(err)
	}
	switch kind {
	case spdyExec:
		return spdyEx
	case websocketExec:
		return wsEx
	}
	ex, err := remotecommand.NewFallbackExecutor(wsEx, spdyEx, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

func subresourceURL(client kubernetes.Interface, ns, pod, sub string, opts runtime.Object) *url.URL {
	return client.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).
		SubResource(sub).VersionedParams(opts, scheme.ParameterCodec).URL()
}

func TestIntegrationExecAndAttachThroughAPIServer(t *testing.T) {
	e := testenv.Require(t, env)
	k, client, nodes := startReal(t, e, 3)
	ns := e.Namespace(t)
	pod := createRunningPod(t, client, ns, "gw-0", nodes[1])
	if pod.Status.HostIP != "127.0.0.1" {
		t.Errorf("hostIP %q", pod.Status.HostIP)
	}
	node, err := client.CoreV1().Nodes().Get(context.Background(), nodes[1], metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if int(node.Status.DaemonEndpoints.KubeletEndpoint.Port) != k.Port() || nodeCondition(node, corev1.NodeReady) != "True" {
		t.Fatalf("node status %+v", node.Status)
	}

	for _, kind := range []executorKind{spdyExec, websocketExec, fallbackExec} {
		t.Run(string(kind)+"/exec", func(t *testing.T) {
			u := subresourceURL(client, ns, "gw-0", "exec", &corev1.PodExecOptions{
				Container: "datapower", Command: []string{"echo", "hello", string(kind)}, Stdout: true, Stderr: true,
			})
			var out, errOut bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := newExecutor(t, e.Config, kind, u).StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Stderr: &errOut})
			if err != nil {
				t.Fatalf("exec: %v (stderr %q)", err, errOut.String())
			}
			if want := "hello " + string(kind) + "\n"; out.String() != want {
				t.Errorf("stdout %q, want %q", out.String(), want)
			}
		})
		t.Run(string(kind)+"/attach", func(t *testing.T) {
			u := subresourceURL(client, ns, "gw-0", "attach", &corev1.PodAttachOptions{
				Container: "datapower", Stdin: true, Stdout: true,
			})
			stdin, stdout, done := attachSession(t, newExecutor(t, e.Config, kind, u))
			for _, line := range []string{"config\n", "show gateway-peering-status\n"} {
				if _, err := io.WriteString(stdin, line); err != nil {
					t.Fatal(err)
				}
				if got := readLine(t, stdout); got != line {
					t.Fatalf("echo %q, want %q", got, line)
				}
			}
			stdin.Close()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("attach: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("attach did not end after stdin closed")
			}
		})
	}

	t.Run("exec exit code", func(t *testing.T) {
		u := subresourceURL(client, ns, "gw-0", "exec", &corev1.PodExecOptions{
			Container: "datapower", Command: []string{"reboot"}, Stdout: true, Stderr: true,
		})
		var out, errOut bytes.Buffer
		err := newExecutor(t, e.Config, fallbackExec, u).StreamWithContext(context.Background(), remotecommand.StreamOptions{Stdout: &out, Stderr: &errOut})
		if err == nil || !strings.Contains(err.Error(), "127") {
			t.Errorf("error %v, want exit code 127", err)
		}
	})

	t.Run("kill ends attach", func(t *testing.T) {
		u := subresourceURL(client, ns, "gw-0", "attach", &corev1.PodAttachOptions{Container: "datapower", Stdin: true, Stdout: true})
		stdin, stdout, done := attachSession(t, newExecutor(t, e.Config, fallbackExec, u))
		if _, err := io.WriteString(stdin, "ping\n"); err != nil {
			t.Fatal(err)
		}
		readLine(t, stdout)
		if err := k.KillContainer(ns, "gw-0"); err != nil {
			t.Fatal(err)
		}
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("attach survived KillContainer")
		}
		eventually(t, "restart", func() (bool, error) {
			p, err := client.CoreV1().Pods(ns).Get(context.Background(), "gw-0", metav1.GetOptions{})
			return err == nil && isRunningReady(p) && p.Status.ContainerStatuses[0].RestartCount == 1, err
		})
	})

	t.Run("kubectl exec", func(t *testing.T) {
		out, errOut, err := kubectl(e, "", "exec", "-n", ns, "gw-0", "-c", "datapower", "--", "hostname")
		if err != nil || out != "gw-0\n" {
			t.Errorf("kubectl exec: %v, stdout %q, stderr %q", err, out, errOut)
		}
		out, errOut, err = kubectl(e, "one\ntwo\n", "exec", "-i", "-n", ns, "gw-0", "--", "cat")
		if err != nil || out != "one\ntwo\n" {
			t.Errorf("kubectl exec -i cat: %v, stdout %q, stderr %q", err, out, errOut)
		}
	})
	t.Run("kubectl attach", func(t *testing.T) {
		out, errOut, err := kubectl(e, "idg# show version\n", "attach", "-i", "-n", ns, "gw-0", "-c", "datapower")
		if err != nil || !strings.Contains(out, "idg# show version\n") {
			t.Errorf("kubectl attach -i: %v, stdout %q, stderr %q", err, out, errOut)
		}
	})
}

func kubectl(e *testenv.Env, stdin string, args ...string) (string, string, error) {
	bin := os.Getenv("KUBECTL")
	if bin == "" {
		bin = "/usr/bin/kubectl"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig", e.Kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

func TestIntegrationStatusAndFaults(t *testing.T) {
	e := testenv.Require(t, env)
	k, client, nodes := startReal(t, e, 3)
	ns := e.Namespace(t)
	ctx := context.Background()
	p := createRunningPod(t, client, ns, "mgmt-0", nodes[0])
	// The real apiserver accepts our status as is: recomputing it writes nothing more.
	time.Sleep(time.Second)
	again, err := client.CoreV1().Pods(ns).Get(ctx, "mgmt-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if again.ResourceVersion != p.ResourceVersion {
		t.Errorf("pod rewritten after it ran (resourceVersion %s → %s): status not stable", p.ResourceVersion, again.ResourceVersion)
	}
	lease, err := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, nodes[0], metav1.GetOptions{})
	if err != nil {
		t.Fatalf("lease: %v", err)
	}
	if len(lease.OwnerReferences) != 1 || lease.OwnerReferences[0].Name != nodes[0] {
		t.Errorf("lease owner %v", lease.OwnerReferences)
	}

	if err := k.SetZoneReady("zone-a", false); err != nil {
		t.Fatal(err)
	}
	eventually(t, "pod not ready on a NotReady node", func() (bool, error) {
		p, err := client.CoreV1().Pods(ns).Get(ctx, "mgmt-0", metav1.GetOptions{})
		return err == nil && podCondition(p, corev1.PodReady) == "False", err
	})
	// A terminating pod on a dead node stays Terminating; it goes once the node is back.
	if err := client.CoreV1().Pods(ns).Delete(ctx, "mgmt-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if _, err := client.CoreV1().Pods(ns).Get(ctx, "mgmt-0", metav1.GetOptions{}); err != nil {
		t.Errorf("pod on a dead node was deleted: %v", err)
	}
	if err := k.SetZoneReady("zone-a", true); err != nil {
		t.Fatal(err)
	}
	eventually(t, "terminating pod deleted", func() (bool, error) {
		_, err := client.CoreV1().Pods(ns).Get(ctx, "mgmt-0", metav1.GetOptions{})
		return err != nil, nil
	})
}

// TestIntegrationScale marks many pods Running through the real apiserver: 1,000 pods on 3 nodes
// by default; KUBELET_SIM_SCALE_PODS=5000 KUBELET_SIM_SCALE_NODES=500 for the benchmark size.
func TestIntegrationScale(t *testing.T) {
	e := testenv.Require(t, env)
	n := 1000
	if s := os.Getenv("KUBELET_SIM_SCALE_PODS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	nodeCount := 3
	if s := os.Getenv("KUBELET_SIM_SCALE_NODES"); s != "" {
		var err error
		if nodeCount, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	_, client, nodes := startReal(t, e, nodeCount)
	ns := e.Namespace(t)
	ctx := context.Background()
	start := time.Now()
	var g errgroup.Group
	g.SetLimit(32)
	for i := range n {
		g.Go(func() error {
			p := testPod(fmt.Sprintf("p-%05d", i), nodes[i%len(nodes)])
			p.Namespace, p.UID, p.Generation, p.Status = ns, "", 0, corev1.PodStatus{}
			_, err := client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	created := time.Since(start)
	var running atomic.Int64
	err := waitRunning(ctx, client, ns, n, 120*time.Second, &running)
	if err != nil {
		t.Fatalf("%d of %d pods running after 120s: %v", running.Load(), n, err)
	}
	t.Logf("%d pods: created in %v, all Running %v after the first create", n, created.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

func waitRunning(ctx context.Context, client kubernetes.Interface, ns string, n int, timeout time.Duration, running *atomic.Int64) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		list, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{ResourceVersion: "0"})
		if err == nil {
			c := 0
			for i := range list.Items {
				if isRunningReady(&list.Items[i]) {
					c++
				}
			}
			running.Store(int64(c))
			if c == n {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
