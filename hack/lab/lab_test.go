package lab_test

import (
	"os"
	"testing"
	"time"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	"github.com/kubectl-apic/kubectl-apic/hack/lab/labtest"
)

// One lab (subsystem CRs) for the package; tests leave it as they found it (dc1 active, link up,
// every node and pod ready, consoles logged out).
var env *labtest.Env

func TestMain(m *testing.M) { os.Exit(labtest.Main(m, &env, lab.Config{})) }

// The budget: the two-site lab starts warm (control-plane binaries cached) in under 20 s.
func TestLabStartsWarmUnder20s(t *testing.T) {
	labtest.Require(t, env)
	t.Logf("lab.Start took %s", env.StartTime.Round(time.Millisecond))
	if env.StartTime >= 20*time.Second {
		t.Errorf("the two-site lab took %s to start, want under 20s", env.StartTime.Round(time.Millisecond))
	}
}
