package lab_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	"github.com/kubectl-apic/kubectl-apic/hack/lab/labtest"
	"github.com/kubectl-apic/kubectl-apic/internal/testenv"
)

// fault injects a fault the way `apic-lab fault` does.
func fault(t *testing.T, l *lab.Lab, kind string, args ...string) {
	t.Helper()
	msg, err := l.Fault(context.Background(), kind, args...)
	if err != nil {
		t.Fatalf("fault %s %v: %v", kind, args, err)
	}
	t.Logf("fault %s %s: %s", kind, strings.Join(args, " "), msg)
}

// waitLabReady waits until every site is back to Running and Ready.
func waitLabReady(t *testing.T, l *lab.Lab) {
	t.Helper()
	if err := l.WaitReady(context.Background(), 60*time.Second); err != nil {
		t.Fatal(err)
	}
}

// Every fault of the lab, observed with kubectl (and the console for DataPower's).
func TestFaults(t *testing.T) {
	l := labtest.Require(t, env)
	get := func(site string, args ...string) string {
		return labtest.Kubectl(t, l, append([]string{"--context", site, "-n", "apic"}, args...)...)
	}

	t.Run("cut and restore the link", func(t *testing.T) {
		t.Cleanup(l.RestoreLink)
		fault(t, l, "cut-link")
		for _, site := range []string{"dc1", "dc2"} {
			labtest.Eventually(t, 20*time.Second, site+" MESSAGE PeerNotReachable", func() (bool, string) {
				out := get(site, "get", "mgmt")
				return strings.Contains(out, "Warning") && strings.Contains(out, "HA status PeerNotReachable - see HAStatus in CR for details"), out
			})
		}
		t.Log(get("dc1", "get", "mgmt"))
		fault(t, l, "restore-link")
		for _, site := range []string{"dc1", "dc2"} {
			labtest.Eventually(t, 20*time.Second, site+" Ready again", func() (bool, string) {
				out := get(site, "get", "mgmt")
				return strings.Contains(out, "Management is ready. HA status Ready"), out
			})
		}
	})

	t.Run("stop and start an API server", func(t *testing.T) {
		t.Cleanup(func() { _ = l.StartAPIServer(context.Background(), "dc2") })
		fault(t, l, "stop-apiserver", "dc2")
		_, errOut, err := testenv.RunKubectl(l.Kubeconfig(), "--context", "dc2", "-n", "apic", "get", "mgmt", "--request-timeout=5s")
		if err == nil || !strings.Contains(errOut, "refused") {
			t.Errorf("kubectl against a stopped kube-apiserver: err=%v stderr=%q, want connection refused", err, errOut)
		}
		fault(t, l, "start-apiserver", "dc2")
		if out := get("dc2", "get", "mgmt"); !strings.Contains(out, "production-mgmt") {
			t.Errorf("kubectl after start-apiserver:\n%s", out)
		}
		waitLabReady(t, l)
	})

	t.Run("delete a gateway pod", func(t *testing.T) {
		const pod = "production-gw-1"
		uid := get("dc1", "get", "pod", pod, "-o", "jsonpath={.metadata.uid}")
		fault(t, l, "delete-pod", "dc1", pod)
		labtest.Eventually(t, 60*time.Second, "the gateway pod recreated and ready", func() (bool, string) {
			out, _, err := testenv.RunKubectl(l.Kubeconfig(), "--context", "dc1", "-n", "apic", "get", "pod", pod, "-o",
				`jsonpath={.metadata.uid} {.status.phase} {.status.conditions[?(@.type=="Ready")].status}`)
			f := strings.Fields(out)
			return err == nil && len(f) == 3 && f[0] != uid && f[1] == "Running" && f[2] == "True", out
		})
		// It rejoins peering: its console works and lists three members, itself with link ok.
		ip := get("dc1", "get", "pod", pod, "-o", "jsonpath={.status.podIP}")
		var out string
		labtest.Eventually(t, 20*time.Second, "the new pod in gateway peering", func() (bool, string) {
			out = labtest.Attach(t, l, "dc1", pod, append(labtest.Login(t, l, "dc1"), "show gateway-peering-status", "exit")...)
			members := peeringLine.FindAllStringSubmatch(out, -1)
			for _, m := range members {
				if m[1] == ip && m[4] == "ok" && len(members) == 3 {
					return true, ""
				}
			}
			return false, out
		})
		waitLabReady(t, l)
	})

	t.Run("node down", func(t *testing.T) {
		node := get("dc2", "get", "pod", "production-gw-0", "-o", "jsonpath={.spec.nodeName}")
		t.Cleanup(func() { _ = l.SetNodeReady("dc2", node, true) })
		fault(t, l, "node-down", "dc2", node)
		waitNodes(t, l, "dc2", "NotReady", node)
		waitPodsOn(t, l, "dc2", "False", node)
		fault(t, l, "node-up", "dc2", node)
		waitNodes(t, l, "dc2", "Ready", node)
		waitLabReady(t, l)
	})

	t.Run("zone down", func(t *testing.T) {
		t.Cleanup(func() { _ = l.SetZoneReady("dc2", "zone-a", true) })
		nodes := strings.Fields(get("dc2", "get", "nodes", "-l", "topology.kubernetes.io/zone=zone-a", "-o", "jsonpath={.items[*].metadata.name}"))
		if len(nodes) == 0 {
			t.Fatal("no node in zone-a")
		}
		fault(t, l, "zone-down", "dc2", "zone-a")
		waitNodes(t, l, "dc2", "NotReady", nodes...)
		waitPodsOn(t, l, "dc2", "False", nodes...)
		t.Log(labtest.Kubectl(t, l, "--context", "dc2", "get", "nodes", "-L", "topology.kubernetes.io/zone"))
		fault(t, l, "zone-up", "dc2", "zone-a")
		waitNodes(t, l, "dc2", "Ready", nodes...)
		waitLabReady(t, l)
	})

	t.Run("DataPower command failure", func(t *testing.T) {
		t.Cleanup(func() { _ = l.ClearDataPowerFaults("dc1", lab.GatewayName) })
		const pod = "production-gw-2"
		fault(t, l, "fail-command", "dc1", lab.GatewayName, pod, "show gateway-peering-status", "% Simulated: peering status unavailable")
		out := labtest.Attach(t, l, "dc1", pod, append(labtest.Login(t, l, "dc1"), "show gateway-peering-status", "exit")...)
		if !strings.Contains(out, "% Simulated: peering status unavailable") || peeringLine.MatchString(out) {
			t.Errorf("the injected failure is not what the console shows:\n%s", out)
		}
		fault(t, l, "clear-faults", "dc1", lab.GatewayName)
		out = labtest.Attach(t, l, "dc1", pod, append(labtest.Login(t, l, "dc1"), "show gateway-peering-status", "exit")...)
		if strings.Contains(out, "Simulated") || !peeringLine.MatchString(out) {
			t.Errorf("after clear-faults the console still fails:\n%s", out)
		}
	})

	t.Run("DataPower password rotated, Secret unchanged", func(t *testing.T) {
		t.Cleanup(func() { _ = l.RestoreDataPowerPassword("dc1", lab.GatewayName) })
		const pod = "production-gw-1"
		fault(t, l, "rotate-password", "dc1", lab.GatewayName)
		out := labtest.Attach(t, l, "dc1", pod, append(labtest.Login(t, l, "dc1"), "exit")...)
		if !strings.Contains(out, "% Login failed") || strings.Contains(out, "Welcome") {
			t.Errorf("the Secret's password still logs in after rotate-password:\n%s", out)
		}
		fault(t, l, "restore-password", "dc1", lab.GatewayName)
		out = labtest.Attach(t, l, "dc1", pod, append(labtest.Login(t, l, "dc1"), "exit")...)
		if !strings.Contains(out, "Welcome") {
			t.Errorf("after restore-password the Secret's password does not log in:\n%s", out)
		}
	})
}

// waitNodes waits until kubectl shows every node with status (Ready or NotReady).
func waitNodes(t *testing.T, l *lab.Lab, site, status string, nodes ...string) {
	t.Helper()
	labtest.Eventually(t, 30*time.Second, "nodes "+status, func() (bool, string) {
		out := labtest.Kubectl(t, l, append([]string{"--context", site, "get", "nodes", "--no-headers"}, nodes...)...)
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if f := strings.Fields(line); len(f) < 2 || f[1] != status {
				return false, out
			}
		}
		return true, ""
	})
}

// waitPodsOn waits until every API Connect pod on nodes has condition Ready=ready.
func waitPodsOn(t *testing.T, l *lab.Lab, site, ready string, nodes ...string) {
	t.Helper()
	for _, node := range nodes {
		labtest.Eventually(t, 30*time.Second, "pods on "+node+" Ready="+ready, func() (bool, string) {
			out := labtest.Kubectl(t, l, "--context", site, "-n", "apic", "get", "pods", "--field-selector", "spec.nodeName="+node,
				"-o", `jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			for _, line := range lines {
				if f := strings.Fields(line); len(f) != 2 || f[1] != ready {
					return false, out
				}
			}
			return len(lines) > 0 && lines[0] != "", out
		})
	}
}
