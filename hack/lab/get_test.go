package lab_test

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	"github.com/kubectl-apic/kubectl-apic/hack/lab/labtest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// ageColumn matches the AGE column kubectl prints last (e.g. 12s, 3m4s).
var ageColumn = regexp.MustCompile(`(?m)\s+\d+[smhd]\d*[smh]?$`)

// `kubectl get mgmt,ptl,gw,a7s` shows the simulated objects with the product's columns and messages
// (apic-reference.md: NAME, READY, STATUS, VERSION, RECONCILED VERSION, MESSAGE).
func TestKubectlGetShowsProductColumns(t *testing.T) {
	l := labtest.Require(t, env)
	for _, site := range []string{"dc1", "dc2"} {
		t.Run(site, func(t *testing.T) {
			// Earlier tests inject faults; the lab must have recovered from them on its own.
			if msg := notReadyPods(t, l, site); msg != "" {
				t.Logf("pods not ready on %s:\n%s", site, msg)
			}
			if err := l.WaitReady(t.Context(), 60*time.Second); err != nil {
				t.Fatalf("the lab did not recover: %v\n%s", err, notReadyPods(t, l, site))
			}
			out := labtest.Kubectl(t, l, "--context", site, "get", "mgmt,ptl,gw,a7s", "-n", "apic")
			got := ageColumn.ReplaceAllString(out, "  <age>")
			golden := filepath.Join("testdata", "get-"+site+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("kubectl --context %s get mgmt,ptl,gw,a7s:\n%s\nwant (%s):\n%s", site, got, golden, want)
			}
		})
	}
}

// Gateway pods run on the simulated nodes, placed by the real kube-scheduler (its Scheduled events,
// not a nodeName we set), across zones.
func TestGatewayPodsPlacedByScheduler(t *testing.T) {
	l := labtest.Require(t, env)
	sel := "crd.apiconnect.ibm.com/kind=datapower"
	pods := labtest.Kubectl(t, l, "--context", "dc1", "-n", "apic", "get", "pods", "-l", sel, "-o",
		`jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName} {.status.phase} {.spec.schedulerName} {.status.conditions[?(@.type=="PodScheduled")].status}{"\n"}{end}`)
	zones := map[string]bool{}
	lines := strings.Split(strings.TrimSpace(pods), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 gateway pods, got:\n%s", pods)
	}
	for _, line := range lines {
		f := strings.Fields(line)
		if len(f) != 5 || f[2] != "Running" || f[3] != "default-scheduler" || f[4] != "True" {
			t.Errorf("gateway pod not Running/scheduled by default-scheduler: %q", line)
			continue
		}
		pod, node := f[0], f[1]
		// The scheduler records each binding in a Scheduled event it reports as default-scheduler.
		ev := labtest.Kubectl(t, l, "--context", "dc1", "-n", "apic", "get", "events", "--field-selector",
			"reason=Scheduled,involvedObject.name="+pod, "-o", `jsonpath={range .items[*]}{.reportingComponent}{"|"}{.message}{"\n"}{end}`)
		if !strings.Contains(ev, "default-scheduler|Successfully assigned apic/"+pod+" to "+node) {
			t.Errorf("no Scheduled event from default-scheduler binding %s to %s; events:\n%s", pod, node, ev)
		}
		zone := labtest.Kubectl(t, l, "--context", "dc1", "get", "node", node, "-o", `jsonpath={.metadata.labels.topology\.kubernetes\.io/zone}`)
		if zone == "" {
			t.Errorf("node %s has no zone label", node)
		}
		zones[zone] = true
		t.Logf("%s on %s (%s)", pod, node, zone)
	}
	var zs []string
	for z := range zones {
		zs = append(zs, z)
	}
	sort.Strings(zs)
	if len(zs) < 2 {
		t.Errorf("gateway pods in zones %v, want them spread over more than one zone", zs)
	}
	t.Log(labtest.Kubectl(t, l, "--context", "dc1", "-n", "apic", "get", "pods", "-l", sel, "-o", "wide"))
}

func notReadyPods(t *testing.T, l *lab.Lab, site string) string {
	out := labtest.Kubectl(t, l, "--context", site, "-n", "apic", "get", "pods", "-o",
		`jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName} {.status.phase} {.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].reason}{"\n"}{end}`)
	var bad []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 4 && f[3] != "True" {
			bad = append(bad, line)
		}
	}
	return strings.Join(bad, "\n")
}
