package traffic_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	"github.com/kubectl-apic/kubectl-apic/hack/lab/labtest"
	"github.com/kubectl-apic/kubectl-apic/hack/lab/traffic"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/probe"
)

var env *labtest.Env

func TestMain(m *testing.M) { os.Exit(labtest.Main(m, &env, lab.Config{})) }

// plainLoop is the separate client the probe is checked against: one request after another at about
// rate per second, a new connection each, counting what does not answer 200.
type plainLoop struct {
	requests, failed atomic.Int64
	stop             chan struct{}
	wg               sync.WaitGroup
}

func startLoop(url string, rate float64) *plainLoop {
	l := &plainLoop{stop: make(chan struct{})}
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		t := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer t.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-t.C:
			}
			l.requests.Add(1)
			resp, err := c.Get(url)
			if err == nil {
				resp.Body.Close()
			}
			if err != nil || resp.StatusCode != 200 {
				l.failed.Add(1)
			}
		}
	}()
	return l
}

func (l *plainLoop) Stop() (requests, failed int64) {
	close(l.stop)
	l.wg.Wait()
	return l.requests.Load(), l.failed.Load()
}

func waitRoutable(t *testing.T, l *lab.Lab, site string, n int) {
	t.Helper()
	s, err := l.Site(site)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Eventually(t, 90*time.Second, fmt.Sprintf("%d routable gateway pods on %s", n, site), func() (bool, string) {
		r := s.Traffic().Routable()
		return len(r) == n, fmt.Sprint(r)
	})
}

// deleteWhileProbing deletes victim (as kubectl delete pod does: the pod's own grace period) while
// the probe and a plain loop send requests to the site's gateway endpoint, and returns both counts
// once the replacement is Ready and routed to.
func deleteWhileProbing(t *testing.T, l *lab.Lab, site, victim string) (*probe.Summary, int64, int64) {
	t.Helper()
	ctx := context.Background()
	s, _ := l.Site(site)
	ep := s.Traffic().Endpoint()
	waitRoutable(t, l, site, 3)
	old, err := s.Kube.CoreV1().Pods(s.Namespace).Get(ctx, victim, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A slow member has requests in flight when it goes: those are what preStop saves.
	if err := l.SetMemberFault(site, victim, 0, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	defer s.Traffic().ClearMemberFaults()
	p, err := probe.Start(ctx, probe.Options{URLs: []string{ep}, Rate: 100, ExpectStatus: 200, Timeout: 2 * time.Second,
		Baseline: time.Second, MaxErrorRate: -1}, probe.Config{})
	if err != nil {
		t.Fatalf("probe baseline: %v", err)
	}
	loop := startLoop(ep, 50)
	p.Phase(victim, "delete")
	if err := s.Kube.CoreV1().Pods(s.Namespace).Delete(ctx, victim, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	labtest.Eventually(t, 90*time.Second, "the replacement pod routed to", func() (bool, string) {
		pod, err := s.Kube.CoreV1().Pods(s.Namespace).Get(ctx, victim, metav1.GetOptions{})
		if err != nil || pod.UID == old.UID {
			return false, "old pod still there"
		}
		r := s.Traffic().Routable()
		return len(r) == 3, fmt.Sprint(r)
	})
	p.Phase(victim, "after")
	time.Sleep(500 * time.Millisecond)
	lr, lf := loop.Stop()
	sum := p.Stop()
	t.Logf("probe: %d requests, %d failed %v; plain loop: %d requests, %d failed", sum.Requests, sum.Failed, errorsOf(sum), lr, lf)
	return sum, lr, lf
}

func errorsOf(s *probe.Summary) map[string]int {
	out := map[string]int{}
	for _, r := range s.Rows {
		for k, v := range r.Errors {
			out[k] += v
		}
	}
	return out
}

func setPreStop(t *testing.T, l *lab.Lab, site string, seconds int) {
	t.Helper()
	ctx := context.Background()
	s, _ := l.Site(site)
	patch := `{"spec":{"lifecycle":null}}`
	if seconds > 0 {
		patch = fmt.Sprintf(`{"spec":{"lifecycle":{"preStop":{"sleep":{"seconds":%d}}}}}`, seconds)
	}
	if _, err := s.Dynamic.Resource(apic.GatewayClusterKind.GVR()).Namespace(s.Namespace).Patch(ctx, lab.GatewayName,
		types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	labtest.Eventually(t, 3*time.Minute, "the gateway rolled to the new lifecycle", func() (bool, string) {
		pods, err := s.Kube.CoreV1().Pods(s.Namespace).List(ctx, metav1.ListOptions{LabelSelector: apic.InstanceLabel + "=" + lab.GatewayName})
		if err != nil || len(pods.Items) != 3 {
			return false, fmt.Sprint(err)
		}
		for _, p := range pods.Items {
			has := p.Spec.Containers[0].Lifecycle != nil && p.Spec.Containers[0].Lifecycle.PreStop != nil
			if has != (seconds > 0) || p.DeletionTimestamp != nil || !ready(&p) {
				return false, p.Name + " not rolled"
			}
		}
		return len(s.Traffic().Routable()) == 3, fmt.Sprint(s.Traffic().Routable())
	})
}

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// IBM: replacing gateway pods makes "a small number of API transactions ... fail ... socket hang
// ups" unless a preStop hook lets them finish. Deleting one pod while probing the site endpoint:
// without preStop the cut requests are counted, with preStop none fail; the probe never counts
// fewer failures than a plain client loop (sending half as many requests) in the same window.
func TestPodDeletionCutsRequestsUnlessPreStop(t *testing.T) {
	l := labtest.Require(t, env)
	const site, victim = "dc1", "production-gw-1"

	sum, lr, lf := deleteWhileProbing(t, l, site, victim)
	if sum.Failed == 0 {
		t.Errorf("without preStop no request failed (probe %d requests): the cut is not simulated", sum.Requests)
	}
	if int64(sum.Failed) < lf {
		t.Errorf("probe counted %d failures, the plain loop %d (of %d)", sum.Failed, lf, lr)
	}

	setPreStop(t, l, site, 3)
	defer setPreStop(t, l, site, 0)
	sum, lr, lf = deleteWhileProbing(t, l, site, victim)
	if sum.Failed != 0 || lf != 0 {
		t.Errorf("with a 3 s preStop: probe %d failed of %d, plain loop %d of %d; want 0", sum.Failed, sum.Requests, lf, lr)
	}
}

// The global router spreads over both sites; a drained site gets no new connection.
func TestRouterDrainsASite(t *testing.T) {
	l := labtest.Require(t, env)
	waitRoutable(t, l, "dc1", 3)
	waitRoutable(t, l, "dc2", 3)
	if err := l.Router().SetDrained("dc1", true); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Router().SetDrained("dc1", false) }()
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for range 6 {
		resp, err := c.Get(l.RouterURL())
		if err != nil {
			t.Fatal(err)
		}
		var a traffic.Answer
		err = json.NewDecoder(resp.Body).Decode(&a)
		resp.Body.Close()
		if err != nil || a.Site != "dc2" || a.Member == "" {
			t.Errorf("with dc1 drained the router sent a call to %+v (%v), want dc2", a, err)
		}
	}
	out, err := l.RouterAction(lab.RouterRequest{Action: "status", Site: "dc1"})
	if err != nil || len(out.Sites) != 1 || !out.Sites[0].Drained {
		t.Errorf("router status dc1: %+v %v", out, err)
	}
}
