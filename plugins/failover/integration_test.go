package failover_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	ft "github.com/kubectl-apic/kubectl-apic/hack/lab/labtest/failovertest"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/failover"
)

var env ft.Env

func TestMain(m *testing.M) { os.Exit(ft.Main(m, lab.ShapeSubsystems, &env)) }

// activeSite waits until management and portal are steady and returns the active site and the other.
func activeSite(t *testing.T, l *lab.Lab, subs ...apic.Subsystem) (string, string) {
	t.Helper()
	if len(subs) == 0 {
		subs = []apic.Subsystem{apic.Management, apic.Portal}
	}
	a := ""
	for _, sub := range subs {
		k, name := kindName(sub)
		got := ft.Steady(t, l, k, name)
		if a != "" && got != a {
			t.Fatalf("management is active on %s but portal on %s", a, got)
		}
		a = got
	}
	return a, other(a)
}

func kindName(sub apic.Subsystem) (apic.Kind, string) {
	if sub == apic.Portal {
		return apic.PortalClusterKind, lab.PortalName
	}
	return apic.ManagementClusterKind, lab.MgmtName
}

func other(site string) string {
	if site == "dc1" {
		return "dc2"
	}
	return "dc1"
}

func requireActive(t *testing.T, l *lab.Lab, site string, subs ...apic.Subsystem) {
	t.Helper()
	for _, sub := range subs {
		k, name := kindName(sub)
		if got := ft.Steady(t, l, k, name); got != site {
			t.Errorf("%s active on %s, want %s", sub, got, site)
		}
	}
}

func TestFailoverRoundTrips(t *testing.T) {
	l := env.Require(t)
	rec := ft.Record(t, l)
	defer rec.Check(t)
	hookLog := filepath.Join(t.TempDir(), "hook.log")
	hook := "echo \"$APIC_SUBSYSTEM $APIC_FAILOVER_FROM $APIC_FAILOVER_TO $APIC_NAMESPACE\" >> " + hookLog

	for _, tc := range []struct {
		name      string
		subsystem string
		subs      []apic.Subsystem
	}{
		{"all", "all", []apic.Subsystem{apic.Management, apic.Portal}},
		{"management", "management", []apic.Subsystem{apic.Management}},
		{"portal", "portal", []apic.Subsystem{apic.Portal}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 2 { // there and back
				from, to := activeSite(t, l, tc.subs...)
				start := time.Now()
				out := ft.Run(t, l.Kubeconfig(), "--from", from, "--to", to, "--subsystem", tc.subsystem, "--yes", "--progress=plain", "--router-hook", hook)
				if out.Code != 0 {
					t.Fatalf("exit %d", out.Code)
				}
				t.Logf("%s → %s in %s", from, to, time.Since(start).Round(time.Millisecond))
				requireActive(t, l, to, tc.subs...)
				if out.Result.Outcome != failover.OutcomeSucceeded {
					t.Errorf("outcome %s", out.Result.Outcome)
				}
				for _, want := range []string{"FAILOVER SUMMARY " + from + " → " + to, "PASSED", "kubectl apic failover --from " + to + " --to " + from} {
					if !strings.Contains(out.Stdout, want) {
						t.Errorf("stdout lacks %q", want)
					}
				}
			}
		})
	}
	log, _ := os.ReadFile(hookLog)
	if !strings.Contains(string(log), "management dc1 dc2 apic") || !strings.Contains(string(log), "portal dc2 dc1 apic") {
		t.Errorf("router hook environment not as expected:\n%s", log)
	}
}

// A failing router hook exits PostFailoverFailed after the promotion; re-running resumes: the
// promotion is not repeated and the hook runs again.
func TestRouterHookFailureThenResume(t *testing.T) {
	l := env.Require(t)
	rec := ft.Record(t, l)
	defer rec.Check(t)
	from, to := activeSite(t, l)
	out := ft.Run(t, l.Kubeconfig(), "--from", from, "--to", to, "--subsystem", "management", "--yes", "--router-hook", "echo router down >&2; exit 3")
	if out.Code != int(exitcode.PostFailoverFailed) {
		t.Fatalf("exit %d, want PostFailoverFailed", out.Code)
	}
	if !strings.Contains(out.Stderr, "--router-hook failed") || !strings.Contains(out.Stderr, "update your router by hand") {
		t.Errorf("stderr does not explain the hook failure")
	}
	out = ft.Run(t, l.Kubeconfig(), "--from", from, "--to", to, "--subsystem", "management", "--yes", "-o", "json", "--router-hook", "true")
	if out.Code != 0 {
		t.Fatalf("resume exit %d", out.Code)
	}
	for _, s := range out.Result.Steps {
		if s.Phase == failover.PhasePromote && s.Status != failover.StatusSkipped {
			t.Errorf("resume re-ran the promotion: %+v", s)
		}
		if s.Phase == failover.PhaseRouter && s.Status != failover.StatusPassed {
			t.Errorf("resume did not re-run the hook: %+v", s)
		}
	}
	if !strings.Contains(out.Stdout, `"kind": "FailoverResult"`) {
		t.Errorf("-o json lacks the result kind")
	}
	// Same command once more, after it succeeded: the requested end state holds, so there is
	// nothing to do and it exits 0 (idempotent, as kubectl apply is), changing nothing.
	before := ft.Snapshot(t, l)
	out = ft.Run(t, l.Kubeconfig(), "--from", from, "--to", to, "--subsystem", "management", "--yes", "--router-hook", "echo hook ran >&2")
	if out.Code != 0 || out.Result.Outcome != failover.OutcomeNothingToDo || !strings.Contains(out.Stderr, "nothing to do") {
		t.Errorf("re-run after completion: exit %d outcome %s, want 0 NothingToDo", out.Code, out.Result.Outcome)
	}
	if strings.Contains(out.Stderr, "hook ran") {
		t.Errorf("the router hook ran again although nothing was failed over")
	}
	ft.Unchanged(t, l, before)
	// Restore portal alignment for the next tests: management alone moved.
	out = ft.Run(t, l.Kubeconfig(), "--from", from, "--to", to, "--subsystem", "portal", "--yes")
	if out.Code != 0 {
		t.Fatalf("portal exit %d", out.Code)
	}
}
