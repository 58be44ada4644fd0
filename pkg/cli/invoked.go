package cli

import "strings"

// InvokedAsEnv carries how the user invoked a plugin when a launcher stands between kubectl and the
// plugin's binary: the umbrella (`kubectl apic status` → kubectl-apic → kubectl-apic-status) and the
// kubectl-apic_<plugin> aliases (`kubectl apic-status` → kubectl-apic_status → kubectl-apic-status)
// set it for the binary they run, whose argv[0] no longer says how it was invoked.
const InvokedAsEnv = "KUBECTL_APIC_INVOKED_AS"

// InvokedAs is the name for a plugin's usage lines: invokedAs (the value of InvokedAsEnv) when a
// launcher set it to a plausible command ("kubectl apic status", "kubectl apic-status"), else the
// name derived from argv0 (DisplayName).
func InvokedAs(argv0, invokedAs, fallback string) string {
	words := strings.Fields(invokedAs)
	if len(words) >= 2 && len(words) <= 4 && (words[0] == "kubectl" || words[0] == "oc") &&
		strings.HasPrefix(words[1], "apic") && !strings.ContainsAny(invokedAs, "\r\n\t") {
		return strings.Join(words, " ")
	}
	return DisplayName(argv0, fallback)
}
