// Package toplevel_test runs the failover runbook on a lab in the top-level CR shape
// (APIConnectCluster, Cloud Pak for Integration): its own package so that it has its own lab.
package toplevel_test

import (
	"os"
	"strings"
	"testing"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	"github.com/kubectl-apic/kubectl-apic/hack/lab/labtest"
)

var env *labtest.Env

func TestMain(m *testing.M) {
	os.Exit(labtest.Main(m, &env, lab.Config{Shape: lab.ShapeTopLevel}))
}

func TestTopLevelObjects(t *testing.T) {
	l := labtest.Require(t, env)
	out := labtest.Kubectl(t, l, "--context", "dc1", "-n", "apic", "get", "apiconnectcluster,mgmt,ptl,gw,a7s")
	t.Log(out)
	for _, want := range []string{"apiconnectcluster.apiconnect.ibm.com/production", "production-mgmt", "production-ptl",
		"production-gw", "production-a7s", "All subsystems are ready"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl get lacks %q", want)
		}
	}
}

// Seed 002 on the top-level CR: patch and edit spec.management / spec.portal of APIConnectCluster,
// watch the subsystem CRs it drives, clear the CP4I configurator Warning.
func TestManualFailoverTopLevel(t *testing.T) {
	l := labtest.Require(t, env)
	t.Run("management", func(t *testing.T) { labtest.FailoverManagement(t, l) })
	t.Run("portal", func(t *testing.T) { labtest.FailoverPortal(t, l) })
	t.Run("active-active and back", func(t *testing.T) { labtest.ActiveActiveAndBack(t, l) })
}
