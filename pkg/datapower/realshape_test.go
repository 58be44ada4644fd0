package datapower

import (
	"strings"
	"testing"

	"github.com/kubectl-apic/kubectl-apic/internal/fixtures"
)

// commandOutput is what a console printed for the fixture's command typed as input, without the
// prompt that follows it (Session hands its parsers the output up to the prompt).
func commandOutput(t *testing.T, name, input string) string {
	t.Helper()
	out, err := fixtures.CommandOutput(name, input)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The apic-gw-service's admin-state, which drr --status and status --peering read to report a
// member left disabled, parses from the shape IBM's support pages and must-gather tool show.
func TestParseGatewayServiceRealShape(t *testing.T) {
	out := commandOutput(t, "console/show-apic-gw-service.console", "show apic-gw-service")
	g, err := ParseGatewayService(out)
	if err != nil {
		t.Fatalf("ParseGatewayService: %v\n%s", err, out)
	}
	if g.AdminState != "enabled" {
		t.Errorf("AdminState = %q, want enabled (from %q)", g.AdminState, out)
	}
	if disabled := strings.Replace(out, "admin-state enabled", "admin-state disabled", 1); disabled != out {
		if g, err := ParseGatewayService(disabled); err != nil || g.AdminState != "disabled" {
			t.Errorf("disabled member: %+v %v", g, err)
		}
	} else {
		t.Fatal("fixture has no admin-state line")
	}
}
