package lab_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	"github.com/kubectl-apic/kubectl-apic/hack/lab/labtest"
	"github.com/kubectl-apic/kubectl-apic/internal/fixtures"
)

// `kubectl get dp` (the real kubectl) against IBM's DataPowerService CRD, which the lab installs:
// the columns of IBM's `oc get dp` sample (fixture kubectl/get-dp.txt), filled from what the
// simulated DataPower operator writes, and an object that settles (the simulator's own tests check
// with fixtures.CheckDataPowerService that the API server keeps what it writes: an update the
// server reduces to a no-op does not move the resourceVersion, so this test cannot see that).
func TestKubectlGetDataPowerServiceShowsTheRealColumns(t *testing.T) {
	l := labtest.Require(t, env)
	if err := l.WaitReady(t.Context(), 60*time.Second); err != nil {
		t.Fatal(err)
	}
	body, err := fixtures.Body("kubectl/get-dp.txt")
	if err != nil {
		t.Fatal(err)
	}
	wantHeader := strings.Fields(strings.SplitN(string(body), "\n", 2)[0])

	var out string
	labtest.Eventually(t, 30*time.Second, "kubectl get dp shows the gateway Running and Ready", func() (bool, string) {
		out = labtest.Kubectl(t, l, "--context", "dc1", "-n", "apic", "get", "dp")
		return strings.Contains(out, "Running") && strings.Contains(out, "True"), out
	})
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if got := strings.Fields(lines[0]); strings.Join(got, " ") != strings.Join(wantHeader, " ") {
		t.Errorf("kubectl get dp header %q, want the real columns %q", got, wantHeader)
	}
	if len(lines) != 2 {
		t.Fatalf("kubectl get dp:\n%s", out)
	}
	row := strings.Fields(lines[1])
	// NAME PHASE READY SUMMARY (4 words) VERSION AGE
	want := []string{lab.GatewayName, "Running", "True", "StatefulSet", "replicas", "ready:", "3/3", lab.Version}
	if len(row) != len(want)+1 || strings.Join(row[:len(want)], " ") != strings.Join(want, " ") {
		t.Errorf("kubectl get dp row %q, want %q then the age", row, want)
	}
	// The short name and IBM's categories resolve.
	if cat := labtest.Kubectl(t, l, "--context", "dc1", "-n", "apic", "get", "apic", "-o", "name"); !strings.Contains(cat, "datapowerservice.datapower.ibm.com/"+lab.GatewayName) {
		t.Errorf("kubectl get apic (IBM's category) = %q", cat)
	}
	// The object settles: no timestamp or count that changes on every pass.
	rv := func() string {
		return labtest.Kubectl(t, l, "--context", "dc1", "-n", "apic", "get", "dp", lab.GatewayName, "-o", "jsonpath={.metadata.resourceVersion}")
	}
	before := rv()
	time.Sleep(3 * time.Second) // six resyncs of the simulator
	if after := rv(); after != before {
		t.Errorf("the DataPowerService was rewritten while nothing changed (resourceVersion %s → %s)", before, after)
	}
	if r := labtest.Kubectl(t, l, "--context", "dc1", "-n", "apic", "get", "dp", lab.GatewayName, "-o", "jsonpath={.status.ready}"); r != "" {
		t.Errorf("status.ready = %q on IBM's schema", r)
	}
}
