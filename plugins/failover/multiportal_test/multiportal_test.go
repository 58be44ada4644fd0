// Package multiportal_test runs the failover command against a lab with two portal services per
// site (IBM: "If you have multiple Developer Portal services, you must repeat these steps for
// each Developer Portal subsystem that you want to failover").
package multiportal_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	ft "github.com/kubectl-apic/kubectl-apic/hack/lab/labtest/failovertest"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/failover"
)

const secondPortal = "production-ptl-2"

var env ft.Env

func TestMain(m *testing.M) {
	os.Exit(ft.MainWith(m, lab.Config{Portals: []string{lab.PortalName, secondPortal}}, &env))
}

func activeOf(t *testing.T, l *lab.Lab, k apic.Kind, name string) string {
	t.Helper()
	return ft.Steady(t, l, k, name)
}

func other(site string) string {
	if site == "dc1" {
		return "dc2"
	}
	return "dc1"
}

// Every pair in scope moves, management first, then each portal; one summary row each.
func TestFailoverEveryPortal(t *testing.T) {
	l := env.Require(t)
	rec := ft.Record(t, l)
	defer rec.Check(t)
	from := activeOf(t, l, apic.ManagementClusterKind, lab.MgmtName)
	to := other(from)
	for range 2 {
		out := ft.Run(t, l.Kubeconfig(), "--from", from, "--to", to, "--yes", "--progress=plain")
		if out.Code != 0 {
			t.Fatalf("exit %d", out.Code)
		}
		for _, p := range []string{lab.PortalName, secondPortal} {
			if got := activeOf(t, l, apic.PortalClusterKind, p); got != to {
				t.Errorf("portal %s active on %s, want %s", p, got, to)
			}
		}
		var order []string
		for _, s := range out.Result.Steps {
			if s.Phase == failover.PhasePromote {
				order = append(order, s.Name)
			}
		}
		want := "management: promote " + to + "|portal " + lab.PortalName + ": promote " + to + "|portal " + secondPortal + ": promote " + to
		if strings.Join(order, "|") != want {
			t.Errorf("promotions %q, want %q", order, want)
		}
		for _, name := range []string{lab.PortalName, secondPortal} {
			rows := 0
			for _, line := range strings.Split(out.Stdout, "\n") {
				if strings.HasPrefix(line, "portal ") && strings.Contains(line, " "+name+" ") {
					rows++
				}
			}
			if rows != 2 {
				t.Errorf("summary has %d rows for portal %s, want one per site:\n%s", rows, name, out.Stdout)
			}
		}
		from, to = to, from
	}
}

// --name narrows the run to one portal service; the other stays where it is.
func TestFailoverOnePortalByName(t *testing.T) {
	l := env.Require(t)
	rec := ft.Record(t, l)
	defer rec.Check(t)
	from := activeOf(t, l, apic.PortalClusterKind, secondPortal)
	to := other(from)
	out := ft.Run(t, l.Kubeconfig(), "--from", from, "--to", to, "--subsystem", "portal", "--name", secondPortal, "--yes")
	if out.Code != 0 {
		t.Fatalf("exit %d", out.Code)
	}
	if got := activeOf(t, l, apic.PortalClusterKind, secondPortal); got != to {
		t.Errorf("%s active on %s, want %s", secondPortal, got, to)
	}
	if got := activeOf(t, l, apic.PortalClusterKind, lab.PortalName); got != from {
		t.Errorf("%s moved to %s although --name named the other", lab.PortalName, got)
	}
	// Back.
	if out := ft.Run(t, l.Kubeconfig(), "--from", to, "--to", from, "--subsystem", "portal", "--name", secondPortal, "--yes"); out.Code != 0 {
		t.Fatalf("back: exit %d", out.Code)
	}
}

// One portal pair cannot move (its warm-standby's pods cannot be scheduled): the whole run is
// refused before any change, naming it.
func TestOnePortalNotReadyRefusesAll(t *testing.T) {
	l := env.Require(t)
	rec := ft.Record(t, l)
	defer rec.Check(t)
	from := activeOf(t, l, apic.ManagementClusterKind, lab.MgmtName)
	to := other(from)
	s, _ := l.Site(to)
	ri := s.Dynamic.Resource(apic.PortalClusterKind.GVR()).Namespace(s.Namespace)
	unschedulable := `{"spec":{"template":[{"name":"www","affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"topology.kubernetes.io/zone","operator":"In","values":["nowhere"]}]}]}}}}]}}`
	if _, err := ri.Patch(context.Background(), secondPortal, types.MergePatchType, []byte(unschedulable), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if _, err := ri.Patch(context.Background(), secondPortal, types.MergePatchType, []byte(`{"spec":{"template":null}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := l.WaitReady(context.Background(), 2*time.Minute); err != nil {
			t.Fatal(err)
		}
	}()
	ft.WaitFor(t, l, to, apic.PortalClusterKind, secondPortal, "phase Pending", time.Minute, func(o apic.Object) bool { return o.Phase() == "Pending" })

	before := ft.Snapshot(t, l)
	out := ft.Run(t, l.Kubeconfig(), "--from", from, "--to", to, "--yes")
	if out.Code != int(exitcode.Refused) {
		t.Errorf("exit %d, want Refused", out.Code)
	}
	for _, want := range []string{"portal " + secondPortal + " on " + to + " is phase Pending", "not scheduled", "Nothing was changed"} {
		if !strings.Contains(out.Stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if strings.Contains(out.Stderr, "portal "+lab.PortalName+" on "+to+" is phase") {
		t.Errorf("the healthy portal is reported")
	}
	ft.Unchanged(t, l, before)
}
