package cli

import "testing"

// Every way a plugin can be reached, and the usage name it must print.
func TestInvokedAs(t *testing.T) {
	for _, tc := range []struct{ argv0, env, want string }{
		// kubectl ran the binary itself: argv[0] says it.
		{"/usr/local/bin/kubectl-apic-status", "", "kubectl apic status"},
		{"/home/u/.krew/bin/kubectl-apic_status", "", "kubectl apic-status"},
		// The umbrella ran it (`kubectl apic status`), whatever the binary's name.
		{"/home/u/.krew/store/apic/v0.1.0/kubectl-apic-status", "kubectl apic status", "kubectl apic status"},
		{"/usr/local/bin/kubectl-apic_status", "kubectl apic status", "kubectl apic status"},
		// The alias ran it (`kubectl apic-status`).
		{"/usr/local/bin/kubectl-apic-status", "kubectl apic-status", "kubectl apic-status"},
		{`C:\bin\kubectl-apic-status.exe`, "kubectl apic-status", "kubectl apic-status"},
		{"/usr/local/bin/kubectl-apic-failover", "oc apic failover", "oc apic failover"},
		// Anything else in the variable is ignored.
		{"/usr/local/bin/kubectl-apic-status", "rm -rf /", "kubectl apic status"},
		{"/usr/local/bin/kubectl-apic-status", "kubectl\napic", "kubectl apic status"},
		{"/tmp/go-build1/status.test", "", "fallback"},
	} {
		if got := InvokedAs(tc.argv0, tc.env, "fallback"); got != tc.want {
			t.Errorf("InvokedAs(%q, %q) = %q, want %q", tc.argv0, tc.env, got, tc.want)
		}
	}
}
