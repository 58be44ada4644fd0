package spread

import (
	"strings"
	"testing"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

func TestLeaseName(t *testing.T) {
	if got := LeaseName(apic.New(apic.GatewayClusterKind, "apic", "production-gw")); got != "apic-spread-gw-production-gw" {
		t.Errorf("gateway: %s", got)
	}
	if got := LeaseName(apic.New(apic.APIConnectClusterKind, "apic", "production")); got != "apic-spread-apiconnectcluster-production" {
		t.Errorf("top-level: %s", got)
	}
	long := strings.Repeat("a", 250)
	a, b := LeaseName(apic.New(apic.GatewayClusterKind, "apic", long)), LeaseName(apic.New(apic.GatewayClusterKind, "apic", long+"b"))
	if len(a) > 253 || len(b) > 253 || a == b {
		t.Errorf("long names: %d %d, distinct %v", len(a), len(b), a != b)
	}
}
