package lab_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	"github.com/kubectl-apic/kubectl-apic/hack/lab/labtest"
)

// The outage-less DRR of seed 000, run by hand through `kubectl attach -i` step by step: the gateway
// service loses its configuration with the flush, waits for registration once apic-gw-service was
// disabled and enabled on every member, and gets its configuration back with the management heartbeat.
func TestManualDRRThroughKubectlAttach(t *testing.T) {
	l := labtest.Require(t, env)
	const site = "dc1"
	pods := []string{"production-gw-0", "production-gw-1", "production-gw-2"}
	login := labtest.Login(t, l, site)
	session := func(pod string, steps ...string) string {
		t.Helper()
		return labtest.Attach(t, l, site, pod, append(append(append([]string{}, login...), steps...), "top", "exit")...)
	}
	mustShow := func(out string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("console output lacks %q", w)
			}
		}
	}

	// Steps 1-3 on a member that is not the gwd primary, so step 4 has work to do.
	out := session(pods[0], "show gateway-peering-status")
	primaryIP := ""
	for _, m := range peeringLine.FindAllStringSubmatch(out, -1) {
		if m[5] == "yes" {
			primaryIP = m[1]
		}
	}
	ips := map[string]string{}
	for _, pod := range pods {
		ips[pod] = labtest.Kubectl(t, l, "--context", site, "-n", "apic", "get", "pod", pod, "-o", "jsonpath={.status.podIP}")
	}
	first := pods[0]
	for _, pod := range pods {
		if ips[pod] != primaryIP {
			first = pod
			break
		}
	}
	others := []string{}
	for _, pod := range pods {
		if pod != first {
			others = append(others, pod)
		}
	}
	t.Logf("gwd primary %s; running the DRR from %s (%s)", primaryIP, first, ips[first])

	// Steps 2-7 on the first member.
	out = session(first,
		"show gateway-peering-status",
		"config; gateway-peering-switch-primary gwd",
		"diag; gateway-peering-flush gwd; exit",
		"y",
		"config; apic-gw-service; admin-state disabled; exit",
		"apic-gw-service; admin-state enabled; exit; exit",
		"show apic-gw-service",
		"show file logtemp:///gwd-log.log",
	)
	mustShow(out, "Global mode", "primary is now "+ips[first], "[y/n]: ", "Gateway peering gwd flushed.",
		"apic-gw-service: default [up]",
		"[0x88e000d7][apic-gw-service][notice] apic-gw-service(default): tid(")
	if strings.Contains(out, "registration-state") {
		t.Errorf("the console shows a registration-state (no real DataPower property does):\n%s", out)
	}
	if strings.Contains(out, "% ") {
		t.Errorf("a DataPower command failed during the DRR:\n%s", out)
	}

	// Step 6 on every other member. Until the last one is done the configuration stays flushed
	// (the management side's view; no DataPower property shows it).
	for _, pod := range others {
		if g, err := l.Gateway(site, lab.GatewayName); err != nil || g.Registered() {
			t.Errorf("registered before apic-gw-service was cycled on %s (%v)", pod, err)
		}
		out = session(pod,
			"config; apic-gw-service; admin-state disabled; exit",
			"apic-gw-service; admin-state enabled; exit; exit",
			"show file logtemp:///gwd-log.log",
		)
		mustShow(out, "Waiting for gateway service registration.")
	}

	// The management server's heartbeat (every five minutes, scaled; apic-lab fault heartbeat sends
	// one now) triggers the DRR: the configuration returns, as the CLI shows.
	if _, err := l.Fault(t.Context(), "heartbeat", site); err != nil {
		t.Fatal(err)
	}
	labtest.Eventually(t, 20*time.Second, "registration after the heartbeat", func() (bool, string) {
		out := session(first, "show file logtemp:///gwd-log.log")
		return strings.Contains(out, "Gateway service registration received from the management server"), out
	})
	out = session(others[0], "show apic-gw-service", "show file logtemp:///gwd-log.log", "show gateway-peering-status")
	mustShow(out, "admin-state enabled", "Gateway service registration received from the management server", "synchronized")
	if m := peeringLine.FindAllStringSubmatch(out, -1); len(m) != 3 {
		t.Errorf("after the DRR want 3 gwd members, got:\n%s", out)
	}
}
