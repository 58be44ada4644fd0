package lab_test

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	"github.com/kubectl-apic/kubectl-apic/hack/lab/labtest"
)

// contextServer is the server the lab's kubeconfig gives a context.
func contextServer(t *testing.T, l *lab.Lab, context string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(l.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Clusters[cfg.Contexts[context].Cluster].Server
}

// contextClient is a client of the lab's kubeconfig context, as kubectl builds it.
func contextClient(t *testing.T, l *lab.Lab, context string) kubernetes.Interface {
	t.Helper()
	rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: l.Kubeconfig()},
		&clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	return kubernetes.NewForConfigOrDie(rc)
}

// The latency fault: the site's context goes through the proxy, a request through it takes at
// least the round trip, the other site is untouched, and clearing points the context back.
func TestLatencyFault(t *testing.T) {
	l := labtest.Require(t, env)
	const rtt = 100 * time.Millisecond
	dc1, _ := l.Site("dc1")
	dc2, _ := l.Site("dc2")
	t.Cleanup(func() { _ = l.ClearLatency("") })

	fault(t, l, "latency", "dc2", rtt.String())
	if got := contextServer(t, l, "dc2"); got == dc2.Server() || got != dc2.ClientServer() {
		t.Fatalf("dc2's context points at %s with the fault on, want the proxy %s (not the apiserver %s)", got, dc2.ClientServer(), dc2.Server())
	}
	if got := contextServer(t, l, "dc1"); got != dc1.Server() {
		t.Errorf("dc1's context points at %s, want its apiserver %s", got, dc1.Server())
	}
	if st := l.Status(context.Background()); st.Sites[1].Latency != rtt.String() || st.Sites[0].Latency != "" {
		t.Errorf("status latency dc1 %q dc2 %q, want \"\" and %q", st.Sites[0].Latency, st.Sites[1].Latency, rtt)
	}

	ctx := context.Background()
	c := contextClient(t, l, "dc2")
	before, _ := l.LatencyStats("dc2")
	if _, err := c.CoreV1().Namespaces().Get(ctx, "apic", metav1.GetOptions{}); err != nil { // connects
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := c.CoreV1().Namespaces().Get(ctx, "apic", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("one GET through dc2's context on an open connection: %s", took.Round(time.Millisecond))
	if took < rtt {
		t.Errorf("a GET through dc2's context took %s, want at least the round trip %s", took, rtt)
	}
	if d, _ := l.LatencyStats("dc2"); d.Sub(before).Exchanges < 2 || d.Sub(before).Connections < 1 {
		t.Errorf("the proxy counted %+v for a connection and two GETs", d.Sub(before))
	}
	// kubectl goes through it too (TLS passes through: the serving certificate names 127.0.0.1).
	if out := labtest.Kubectl(t, l, "--context", "dc2", "-n", "apic", "get", "mgmt"); !strings.Contains(out, lab.MgmtName) {
		t.Errorf("kubectl get mgmt through the proxy:\n%s", out)
	}

	fault(t, l, "clear-latency", "dc2")
	if got := contextServer(t, l, "dc2"); got != dc2.Server() {
		t.Errorf("dc2's context points at %s after clear-latency, want its apiserver %s", got, dc2.Server())
	}
	// A client that kept the proxy's address still works, undelayed.
	if _, err := c.CoreV1().Namespaces().Get(ctx, "apic", metav1.GetOptions{}); err != nil {
		t.Errorf("a client holding the proxy's address after clear-latency: %v", err)
	}
	if st := l.Status(ctx); st.Sites[1].Latency != "" {
		t.Errorf("status latency of dc2 %q after clear-latency, want none", st.Sites[1].Latency)
	}
}
