package lab_test

import (
	"testing"

	"github.com/kubectl-apic/kubectl-apic/hack/lab/labtest"
)

// Seed 002's manual failover with kubectl patch and edit only (subsystem CRs; the top-level shape
// runs the same scenario in labtest/toplevel), then both sites active, then back to the start.
func TestManualFailoverWithKubectl(t *testing.T) {
	l := labtest.Require(t, env)
	t.Run("management", func(t *testing.T) { labtest.FailoverManagement(t, l) })
	t.Run("portal", func(t *testing.T) { labtest.FailoverPortal(t, l) })
	t.Run("active-active and back", func(t *testing.T) { labtest.ActiveActiveAndBack(t, l) })
}
