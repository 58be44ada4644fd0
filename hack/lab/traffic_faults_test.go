package lab_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/kubectl-apic/kubectl-apic/hack/lab/labtest"
)

// The traffic faults, observed with plain HTTP calls: a member answering 5xx, a member answering
// late, a site's gateway endpoint refusing connections and coming back on the same address.
func TestTrafficFaults(t *testing.T) {
	l := labtest.Require(t, env)
	s, err := l.Site("dc1")
	if err != nil {
		t.Fatal(err)
	}
	const pod = "production-gw-0"
	labtest.Eventually(t, 60*time.Second, "member "+pod+" answering", func() (bool, string) {
		return s.Traffic().MemberURL(pod) != "", "no listener"
	})
	c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	call := func(url string) (int, time.Duration, error) {
		start := time.Now()
		resp, err := c.Get(url)
		if err != nil {
			return 0, time.Since(start), err
		}
		resp.Body.Close()
		return resp.StatusCode, time.Since(start), nil
	}
	t.Cleanup(func() {
		_, _ = l.Fault(t.Context(), "clear-member-faults", "dc1")
		_, _ = l.Fault(t.Context(), "endpoint-up", "dc1")
	})

	fault(t, l, "member-5xx", "dc1", pod)
	if code, _, err := call(s.Traffic().MemberURL(pod)); code != 503 {
		t.Errorf("member-5xx: %d %v, want 503", code, err)
	}
	fault(t, l, "member-slow", "dc1", pod, "700ms")
	if code, d, err := call(s.Traffic().MemberURL(pod)); code != 200 || d < 700*time.Millisecond {
		t.Errorf("member-slow 700ms: %d after %s (%v)", code, d, err)
	}
	fault(t, l, "clear-member-faults", "dc1")
	if code, d, _ := call(s.Traffic().MemberURL(pod)); code != 200 || d > 500*time.Millisecond {
		t.Errorf("cleared: %d after %s", code, d)
	}
	if _, err := l.Fault(t.Context(), "member-5xx", "dc1", "no-such-pod"); err == nil {
		t.Error("member-5xx on a pod that serves nothing succeeded")
	}

	ep, _ := l.GatewayEndpoint("dc1")
	fault(t, l, "endpoint-down", "dc1")
	if _, _, err := call(ep); err == nil {
		t.Error("endpoint-down: the endpoint still answered")
	}
	fault(t, l, "endpoint-up", "dc1")
	if code, _, err := call(ep); code != 200 {
		t.Errorf("endpoint-up: %d %v", code, err)
	}
}
