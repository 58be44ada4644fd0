// Package toplevel_test runs kubectl apic status against a lab in the top-level APIConnectCluster
// shape (Cloud Pak for Integration), in its own package so that it gets its own lab.
package toplevel_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-apic/kubectl-apic/hack/lab/labtest"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/plugins/status"
)

var env *labtest.Env

func TestMain(m *testing.M) { os.Exit(labtest.Main(m, &env, lab.Config{Shape: lab.ShapeTopLevel})) }

func requireLab(t *testing.T) *lab.Lab {
	t.Helper()
	return labtest.Require(t, env)
}

func statusJSON(t *testing.T, kc string, args ...string) status.Report {
	t.Helper()
	var out, errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	cmd := status.NewCommand("kubectl apic status", streams)
	cmd.SetArgs(append([]string{"--kubeconfig", kc, "-o", "json"}, args...))
	cli.Execute(context.Background(), cmd, streams)
	var r status.Report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%v\n%s%s", err, out.String(), errOut.String())
	}
	return r
}

func finding(r status.Report, code string) (status.Finding, bool) {
	for _, f := range r.Findings {
		if f.Code == code {
			return f, true
		}
	}
	return status.Finding{}, false
}

func patchTop(t *testing.T, s *lab.Site, mode string) {
	t.Helper()
	p, err := apic.ModePatch(apic.APIConnectClusterKind, apic.Management, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Dynamic.Resource(apic.APIConnectClusterKind.GVR()).Namespace(s.Namespace).
		Patch(context.Background(), lab.TopLevelName, types.MergePatchType, p, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

func until(t *testing.T, kc string, timeout time.Duration, cond func(status.Report) bool) status.Report {
	t.Helper()
	var last status.Report
	if err := wait.PollUntilContextTimeout(context.Background(), 300*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		last = statusJSON(t, kc, "--context", "dc1", "--peer-context", "dc2")
		return cond(last), nil
	}); err != nil {
		b, _ := json.MarshalIndent(last, "", "  ")
		t.Fatalf("condition not reached: %s", b)
	}
	return last
}

func TestTopLevelShape(t *testing.T) {
	l := requireLab(t)
	r := statusJSON(t, l.Kubeconfig(), "--context", "dc1", "--peer-context", "dc2")
	kinds := map[string]bool{}
	for _, s := range r.Sites[0].Subsystems {
		kinds[s.Kind] = true
	}
	if !kinds[apic.APIConnectClusterKind.Display()] || !kinds["mgmt"] || !kinds["gw"] {
		t.Errorf("dc1 objects: %+v", r.Sites[0].Subsystems)
	}
	if len(r.Pairs) != 2 {
		t.Fatalf("pairs: %+v", r.Pairs)
	}
	for _, p := range r.Pairs {
		if strings.Join(p.Active, ",") != "dc1" || p.Members[0].SpecRef != "apiconnectcluster/"+lab.TopLevelName {
			t.Errorf("pair %s: want dc1 active, mode set on the top-level CR: %+v", p.Name, p)
		}
	}
	if len(r.Sites[0].Gateways) != 1 || len(r.Sites[0].Gateways[0].Pods) != 3 {
		t.Errorf("gateways: %+v", r.Sites[0].Gateways)
	}
}

// After a failover on the top-level shape the simulator reproduces the CP4I configurator Warning
// (seed 002 step 6): status names the fix on the new active site.
func TestConfiguratorWarningAfterFailover(t *testing.T) {
	l := requireLab(t)
	dc1, _ := l.Site("dc1")
	dc2, _ := l.Site("dc2")
	patchTop(t, dc1, apic.ModePassive)
	until(t, l.Kubeconfig(), time.Minute, func(r status.Report) bool {
		return len(r.Pairs) > 0 && r.Pairs[0].Members[1].HAMode == apic.HAModeReadyForPromotion
	})
	patchTop(t, dc2, apic.ModeActive)
	r := until(t, l.Kubeconfig(), 2*time.Minute, func(r status.Report) bool {
		_, ok := finding(r, status.FindingConfiguratorJob)
		return ok
	})
	f, _ := finding(r, status.FindingConfiguratorJob)
	if f.Site != "dc2" || !strings.Contains(f.Fix, "kubectl --context dc2 -n apic delete job -l app.kubernetes.io/component=configurator") {
		t.Errorf("configurator finding: %+v", f)
	}
}
