package failover_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/kubectl-apic/kubectl-apic/hack/lab/labtest"
	ft "github.com/kubectl-apic/kubectl-apic/hack/lab/labtest/failovertest"
)

// Failover moves management and portal only: with --probe on both sites' gateway endpoints, not
// one API call fails while management moves.
func TestFailoverKeepsGatewayTraffic(t *testing.T) {
	l := env.Require(t)
	rec := ft.Record(t, l)
	defer rec.Check(t)
	var eps []string
	for _, site := range []string{"dc1", "dc2"} {
		s, _ := l.Site(site)
		labtest.Eventually(t, 90*time.Second, "gateway pods routable on "+site, func() (bool, string) {
			r := s.Traffic().Routable()
			return len(r) == 3, fmt.Sprint(r)
		})
		ep, err := l.GatewayEndpoint(site)
		if err != nil {
			t.Fatal(err)
		}
		eps = append(eps, "--probe", ep)
	}
	for range 2 { // there and back
		from, to := activeSite(t, l)
		args := append([]string{"--from", from, "--to", to, "--yes", "--progress=plain", "--probe-rate", "20", "--probe-baseline", "1s", "--max-error-rate", "0"}, eps...)
		out := ft.Run(t, l.Kubeconfig(), args...)
		if out.Code != 0 {
			t.Fatalf("exit %d", out.Code)
		}
		p := out.Result.Probe
		if p == nil || p.Requests == 0 {
			t.Fatalf("no probe summary: %+v", p)
		}
		if p.Failed != 0 {
			t.Errorf("failover %s → %s cost %d of %d gateway calls", from, to, p.Failed, p.Requests)
		}
		phases := map[string]bool{}
		for _, r := range p.Rows {
			phases[r.Phase] = true
		}
		if want := "management: demote " + from; !phases[want] {
			t.Errorf("no probe row for %q: %v", want, phases)
		}
		t.Logf("%s → %s: %d gateway calls, 0 failed", from, to, p.Requests)
	}
}
