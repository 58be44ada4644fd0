// Package toplevel_test runs the failover command against the Cloud Pak for Integration shape: the
// mode is set on the top-level APIConnectCluster, haMode is read from the mgmt/ptl CRs the operator
// simulator derives from it, and the configurator job Warning must be fixed after failover.
package toplevel_test

import (
	"context"
	"os"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	ft "github.com/kubectl-apic/kubectl-apic/hack/lab/labtest/failovertest"
	"github.com/kubectl-apic/kubectl-apic/hack/lab/operator"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/failover"
)

var env ft.Env

func TestMain(m *testing.M) { os.Exit(ft.Main(m, lab.ShapeTopLevel, &env)) }

func kindName(sub apic.Subsystem) (apic.Kind, string) {
	if sub == apic.Portal {
		return apic.PortalClusterKind, operator.SubsystemName(lab.TopLevelName, apic.PortalClusterKind)
	}
	return apic.ManagementClusterKind, operator.SubsystemName(lab.TopLevelName, apic.ManagementClusterKind)
}

func active(t *testing.T, l *lab.Lab, sub apic.Subsystem) string {
	k, name := kindName(sub)
	return ft.Steady(t, l, k, name)
}

func TestTopLevelRoundTrips(t *testing.T) {
	l := env.Require(t)
	rec := ft.Record(t, l)
	defer rec.Check(t)
	for _, tc := range []struct {
		subsystem string
		subs      []apic.Subsystem
	}{
		{"all", []apic.Subsystem{apic.Management, apic.Portal}},
		{"management", []apic.Subsystem{apic.Management}},
		{"portal", []apic.Subsystem{apic.Portal}},
	} {
		t.Run(tc.subsystem, func(t *testing.T) {
			for range 2 {
				from := active(t, l, tc.subs[0])
				to := "dc1"
				if from == "dc1" {
					to = "dc2"
				}
				out := ft.Run(t, l.Kubeconfig(), "--from", from, "--to", to, "--subsystem", tc.subsystem, "--yes", "--progress=plain")
				if out.Code != 0 {
					t.Fatalf("exit %d", out.Code)
				}
				if out.Result.Shape != failover.ShapeTopLevel {
					t.Errorf("shape %q", out.Result.Shape)
				}
				for _, sub := range tc.subs {
					if got := active(t, l, sub); got != to {
						t.Errorf("%s active on %s, want %s", sub, got, to)
					}
				}
				if !strings.Contains(out.Stderr, "patch apiconnectcluster/"+lab.TopLevelName) {
					t.Errorf("plan does not patch the APIConnectCluster")
				}
				configurator := false
				for _, s := range out.Result.Steps {
					if s.Phase == failover.PhaseConfigurator {
						configurator = s.Status == failover.StatusPassed
						if tc.subsystem != "portal" && !strings.Contains(s.Message, "deleted configurator job") {
							t.Errorf("configurator step: %s", s.Message)
						}
					}
				}
				if !configurator {
					t.Errorf("no passed configurator step")
				}
				if tc.subsystem != "portal" {
					s, _ := l.Site(to)
					jobs, err := s.Kube.BatchV1().Jobs(s.Namespace).List(context.Background(), metav1.ListOptions{LabelSelector: apic.ComponentLabel + "=" + apic.ConfiguratorComponent})
					if err != nil || len(jobs.Items) != 0 {
						t.Errorf("configurator jobs left on %s: %v %v", to, err, jobs)
					}
				}
			}
		})
	}
}

func TestTopLevelReconnectCommand(t *testing.T) {
	l := env.Require(t)
	from := active(t, l, apic.Management)
	to := "dc1"
	if from == "dc1" {
		to = "dc2"
	}
	out := ft.Run(t, l.Kubeconfig(), "--from", from, "--to", to, "--dry-run", "-o", "yaml")
	if out.Code != 0 || !strings.Contains(out.Stdout, `{"metadata":{"annotations":{"apiconnect-operator/dr-data-deletion-confirmation":"true"}},"spec":{"management":{"multiSiteHA":{"mode":"passive"}}}}`) {
		t.Errorf("dry run plan lacks the top-level demote patch (exit %d)", out.Code)
	}
}
