package datapower

import (
	"strings"
	"testing"

	"github.com/kubectl-apic/kubectl-apic/internal/fixtures"
	dp "github.com/kubectl-apic/kubectl-apic/pkg/datapower"
)

// fixtureStep is what fixture name printed after input, up to (without) the prompt that ends it.
func fixtureStep(t *testing.T, name, input string) string {
	t.Helper()
	out, err := fixtures.CommandOutput(name, input)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The simulator prints the real shapes: set to the state a fixture shows, its output is the
// fixture's byte for byte (the same fixtures the client's tests read).
func TestSimulatorPrintsFixtures(t *testing.T) {
	g := NewGroup("gw", GroupOptions{Clock: fixedClock})
	// fixture show-gateway-peering: pod -0 of a 3-member gateway, peers 172.16.53.39 and 172.16.54.108
	for pod, ip := range map[string]string{"gw-0": "172.16.52.71", "gw-1": "172.16.53.39", "gw-2": "172.16.54.108"} {
		g.AddMember(pod, ip)
	}
	// fixture show-gateway-peering-status-3-members: offsets per member, 172.16.53.39 primary
	status := fixtureStep(t, "console/show-gateway-peering-status-3-members.console", "show gateway-peering-status")
	byIP := map[string]string{"172.16.52.71": "gw-0", "172.16.53.39": "gw-1", "172.16.54.108": "gw-2"}
	rows, err := dp.ParsePeeringStatus(status)
	if err != nil || len(rows) != 15 {
		t.Fatalf("fixture: %d rows %v", len(rows), err)
	}
	g.mu.Lock()
	for _, r := range rows {
		m := g.members[byIP[r.Address]]
		m.offset[r.ConfigurationName] = r.ReplicationOffset
		if r.Primary {
			g.peering(r.ConfigurationName).primary = m.pod
		}
	}
	g.mu.Unlock()
	for _, tc := range []struct{ fixture, input, pod, script string }{
		{"console/show-gateway-peering-status-3-members.console", "show gateway-peering-status", "gw-0", "show gateway-peering-status"},
		{"console/show-gateway-peering-manager.console", "show gateway-peering-manager", "gw-0", "show gateway-peering-manager"},
		{"console/show-gateway-peering.console", "show gateway-peering", "gw-0", "show gateway-peering"},
		{"console/show-apic-gw-service.console", "show apic-gw-service", "gw-1", "show apic-gw-service"},
	} {
		t.Run(tc.input, func(t *testing.T) {
			g.mu.Lock()
			g.members[tc.pod].console = newConsole()
			g.mu.Unlock()
			out, err := session(t, g, tc.pod, login+"switch apiconnect\n"+tc.script+"\n", false)
			if err != nil {
				t.Fatal(err)
			}
			const before = "idg# idg[apiconnect]# "
			i := strings.Index(out, before)
			if i < 0 {
				t.Fatalf("no prompt in %q", out)
			}
			got := strings.TrimSuffix(out[i+len(before):], "idg[apiconnect]# ")
			if want := fixtureStep(t, tc.fixture, tc.input); got != want {
				t.Fatalf("simulator:\n%q\nfixture %s:\n%q", got, tc.fixture, want)
			}
		})
	}
}

// The consoles print real log lines at seeded random points: after a prompt, above an output and
// inside it; the same seed and input print the same; the client reads through them.
func TestConsoleLogLinesSeeded(t *testing.T) {
	script := login + "switch apiconnect\nconfig\nshow gateway-peering-status\nshow gateway-peering-manager\nshow gateway-peering\nshow apic-gw-service\nexit\n"
	script = strings.Repeat(script, 1) + strings.Repeat("show gateway-peering-status\n", 30)
	run := func(seed uint64) string {
		g := newTestGroup(GroupOptions{ConsoleLogs: &ConsoleLogs{Seed: seed, Rate: 0.3}})
		out, err := session(t, g, "gw-0", script, false)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	a, b, c := run(7), run(7), run(8)
	if a != b {
		t.Fatal("same seed, different output")
	}
	if a == c {
		t.Fatal("different seeds, same output")
	}
	var afterPrompt, above, inside, tagged int
	lines := strings.Split(a, "\n")
	for i, l := range lines {
		j := strings.Index(l, "# 2020")
		if j >= 0 && strings.Contains(l, "][0x") {
			afterPrompt++
		}
		if !strings.HasPrefix(l, "2020") {
			continue
		}
		if _, ok := dp.ParseLogLine(l); !ok {
			t.Errorf("not a DataPower log line: %q", l)
		}
		if strings.Contains(l, "Z [apiconnect][0x") {
			tagged++
		}
		if i > 0 && i+1 < len(lines) && strings.HasPrefix(lines[i+1], " ") && strings.HasPrefix(lines[i-1], " ") {
			inside++
		}
		if i+1 < len(lines) && lines[i+1] == "" && !strings.HasPrefix(lines[i-1], "2020") {
			above++
		}
	}
	if afterPrompt == 0 || above == 0 || inside == 0 || tagged == 0 {
		t.Fatalf("log lines after a prompt %d, above an output %d, inside one %d, with the domain tag %d:\n%s", afterPrompt, above, inside, tagged, a)
	}
	if strings.Contains(a, "Waiting for gateway service registration") {
		t.Fatal("noise printed the registration event")
	}
}

func TestOrdinal(t *testing.T) {
	for pod, want := range map[string]int{"gw-0": 0, "production-gw-12": 12, "gw": 0, "gw-x": 0} {
		if got := ordinal(pod); got != want {
			t.Errorf("ordinal(%q) = %d, want %d", pod, got, want)
		}
	}
}
