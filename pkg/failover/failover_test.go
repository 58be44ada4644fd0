package failover

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubectl-apic/kubectl-apic/internal/goldenfile"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/hastate"
	"github.com/kubectl-apic/kubectl-apic/pkg/printers"
)

// mgmt builds a management CR on site with spec mode, status haMode and the True haStatus.
func mgmt(site, mode, haMode, haStatus string) hastate.SiteObjects {
	o := apic.New(apic.ManagementClusterKind, "apic", "production-mgmt")
	o.U.Object["spec"] = map[string]interface{}{"multiSiteHA": map[string]interface{}{"mode": mode}}
	o.SetStatusField(haMode, "haMode")
	o.SetStatusField("Running", "phase")
	o.SetHAStatus([]apic.Condition{{Type: haStatus, Status: "True"}})
	return hastate.SiteObjects{Site: site, Objects: []apic.Object{o}}
}

func TestAssess(t *testing.T) {
	req := Request{From: "dc1", To: "dc2", Subsystems: []apic.Subsystem{apic.Management}}
	running := Journal{From: "dc1", To: "dc2", State: JournalRunning}
	// The public 2DCDR lab's objects (fixtures objects/managementcluster-*): a site whose peer does
	// not exist yet, or that cannot reach it, is not failed over; its demoted and promoted states
	// resume a failover this command started.
	real := func(site string, names ...string) hastate.SiteObjects {
		so := hastate.SiteObjects{Site: site}
		for _, n := range names {
			if n == "dc2-ready-for-promotion" { // no sample: the warm-standby's object in that haMode
				so.Objects = append(so.Objects, withHAMode(fixtureCR(t, "objects/managementcluster-dc2-warm-standby.yaml"),
					apic.HAModeReadyForPromotion, apic.HAStatusReadyToPromote))
				continue
			}
			so.Objects = append(so.Objects, fixtureCR(t, "objects/managementcluster-"+n+".yaml"))
		}
		return so
	}
	tests := []struct {
		name       string
		dc1, dc2   hastate.SiteObjects
		journal    Journal
		want       Situation
		wantRefuse string
	}{
		{"fresh", mgmt("dc1", "active", "active", "Ready"), mgmt("dc2", "passive", "passive", "Ready"), Journal{}, Fresh, ""},
		{"split-brain", mgmt("dc1", "active", "active", "Ready"), mgmt("dc2", "active", "active", "Ready"), Journal{}, "", "split-brain"},
		{"to set active while from active", mgmt("dc1", "active", "active", "Ready"), mgmt("dc2", "active", "passive", "Ready"), Journal{}, "", "set active on both"},
		{"peer not reachable", mgmt("dc1", "active", "active", "Ready"), mgmt("dc2", "passive", "passive", "PeerNotReachable"), Journal{}, "", "PeerNotReachable"},
		{"warm-standby not ready", mgmt("dc1", "active", "active", "Ready"), mgmt("dc2", "passive", "passive", "Pending"), Journal{}, "", "not ready"},
		{"end state holds without a journal: nothing to do", mgmt("dc1", "passive", "passive", "Ready"), mgmt("dc2", "active", "active", "Ready"), Journal{}, AlreadyDone, ""},
		{"done after success: nothing to do", mgmt("dc1", "passive", "passive", "Ready"), mgmt("dc2", "active", "active", "Ready"), Journal{From: "dc1", To: "dc2", State: JournalSucceeded}, AlreadyDone, ""},
		{"end state holds, journal of the other direction", mgmt("dc1", "passive", "passive", "Ready"), mgmt("dc2", "active", "active", "Ready"), Journal{From: "dc2", To: "dc1", State: JournalRunning}, AlreadyDone, ""},
		{"resume: promoted, not verified", mgmt("dc1", "passive", "BlockedWarmStandbyConversion", "BlockedWarmStandbyConversion"), mgmt("dc2", "active", "active", "Ready"), running, Done, ""},
		{"resume: demoted", mgmt("dc1", "passive", "BlockedWarmStandbyConversion", "BlockedWarmStandbyConversion"), mgmt("dc2", "passive", "ReadyForPromotion", "ReadyForPromotion"), running, InProgress, ""},
		{"demoted by someone else", mgmt("dc1", "passive", "BlockedWarmStandbyConversion", "BlockedWarmStandbyConversion"), mgmt("dc2", "passive", "ReadyForPromotion", "ReadyForPromotion"), Journal{}, "", "was started by this command"},
		{"journal of the other direction", mgmt("dc1", "passive", "BlockedWarmStandbyConversion", "BlockedWarmStandbyConversion"), mgmt("dc2", "passive", "ReadyForPromotion", "ReadyForPromotion"), Journal{From: "dc2", To: "dc1", State: JournalRunning}, "", "not active"},
		{"real: dc2 not installed yet", real("dc1", "dc1-peer-not-reachable"), real("dc2"), Journal{}, "", "has no peer on dc2"},
		{"real: active (Warning False first) to a replicating warm-standby", real("dc1", "dc2-active"), real("dc2", "dc2-warm-standby"), Journal{}, Fresh, ""},
		{"real: active that cannot reach its peer", real("dc1", "dc1-peer-not-reachable"), real("dc2", "dc2-warm-standby"), Journal{}, "",
			"cannot reach its replication peer (haStatus PeerNotReachable: Cannot communicate with replication peer FQDN https://mgmt-replication.apps.dc2.example.com/)"},
		{"real: resume, dc1 demoted, dc2 ReadyForPromotion", real("dc1", "dc1-blocked-warm-standby-conversion"), real("dc2", "dc2-ready-for-promotion"), running, InProgress, ""},
		{"real: resume, dc1 converting, dc2 promoted", real("dc1", "dc1-blocked-warm-standby-conversion"), real("dc2", "dc2-active"), running, Done, ""},
		{"real: demoted by hand, no journal", real("dc1", "dc1-blocked-warm-standby-conversion"), real("dc2", "dc2-ready-for-promotion"), Journal{}, "", "was started by this command"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pairs := hastate.Pairs([]hastate.SiteObjects{tc.dc1, tc.dc2}, hastate.Options{})
			got, err := Assess(pairs, req, tc.journal)
			if tc.wantRefuse != "" {
				if exitcode.FromError(err) != exitcode.Refused || !strings.Contains(err.Error(), tc.wantRefuse) {
					t.Fatalf("want refusal %q, got %v", tc.wantRefuse, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].Situation != tc.want {
				t.Fatalf("got %+v, want %s", got, tc.want)
			}
		})
	}
}

func TestAssessFenced(t *testing.T) {
	req := Request{From: "dc1", To: "dc2", Subsystems: []apic.Subsystem{apic.Management}, Fenced: true}
	pairs := hastate.Pairs([]hastate.SiteObjects{{Site: "dc1", Err: os.ErrDeadlineExceeded}, mgmt("dc2", "passive", "passive", "PeerNotReachable")}, hastate.Options{})
	got, err := Assess(pairs, req, Journal{})
	if err != nil || got[0].Situation != Fresh {
		t.Fatalf("%+v %v", got, err)
	}
	steps := Plan(req, got, PlanOptions{Fenced: true})
	if len(steps) != 1 || steps[0].Phase != PhasePromote || steps[0].Expected != PromotePeerDown || steps[0].Timeout != 2*PromotePeerDown {
		t.Errorf("fenced plan: %+v", steps)
	}
	cmds := ReconnectCommands("dc1", "apic", got)
	want := `kubectl --context dc1 -n apic patch mgmt production-mgmt --type merge --patch '{"metadata":{"annotations":{"apiconnect-operator/dr-data-deletion-confirmation":"true"}},"spec":{"multiSiteHA":{"mode":"passive"}}}'`
	if len(cmds) != 1 || cmds[0] != want {
		t.Errorf("reconnect commands %q", cmds)
	}
}

func TestPlanAndSummaryGolden(t *testing.T) {
	req := Request{From: "dc1", To: "dc2", Subsystems: []apic.Subsystem{apic.Management}}
	pairs := hastate.Pairs([]hastate.SiteObjects{mgmt("dc1", "active", "active", "Ready"), mgmt("dc2", "passive", "passive", "Ready")}, hastate.Options{})
	subjects, err := Assess(pairs, req, Journal{})
	if err != nil {
		t.Fatal(err)
	}
	steps := Plan(req, subjects, PlanOptions{RouterHook: true})
	var b strings.Builder
	WritePlan(&b, req, steps)
	res := &Result{From: "dc1", To: "dc2", Subsystems: req.Subsystems, Outcome: OutcomeFailed, ExitCode: 11, ExitName: "PromoteFailed"}
	res.Steps = append(res.Steps, StepResult{Step: Step{Phase: PhasePreflight}, Status: StatusPassed, ElapsedSeconds: 0.4})
	for i, st := range steps {
		status := []string{StatusPassed, StatusFailed, StatusNotRun, StatusNotRun}[i]
		res.Steps = append(res.Steps, StepResult{Step: st, Status: status, ElapsedSeconds: 912})
	}
	res.Pairs = pairRefs(subjects)
	res.WriteNextSteps(subjects, "apic", false, "kubectl apic failover --from=dc1 --to=dc2")
	b.WriteString("\n")
	if err := printers.RenderTable(&b, res.SummaryTable(), false, printers.Style{}); err != nil {
		t.Fatal(err)
	}
	b.WriteString(res.Text())
	golden(t, "plan-and-summary.golden", b.String())
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenfile.Assert(t, filepath.Join("testdata", name), []byte(got))
}

func TestJournalFromLeases(t *testing.T) {
	if j := JournalFromLeases(nil, nil); j.From != "" {
		t.Errorf("empty journal %+v", j)
	}
}

// ptl builds portal CRs named names on site, all in the same state.
func ptl(site, mode, haMode, haStatus string, names ...string) []apic.Object {
	var out []apic.Object
	for _, n := range names {
		o := apic.New(apic.PortalClusterKind, "apic", n)
		o.U.Object["spec"] = map[string]interface{}{"multiSiteHA": map[string]interface{}{"mode": mode}}
		o.SetStatusField(haMode, "haMode")
		o.SetStatusField("Running", "phase")
		o.SetHAStatus([]apic.Condition{{Type: haStatus, Status: "True"}})
		out = append(out, o)
	}
	return out
}

func TestAssessSeveralPortals(t *testing.T) {
	site := func(name, mode, haMode string, portals []apic.Object) hastate.SiteObjects {
		s := mgmt(name, mode, haMode, "Ready")
		s.Objects = append(s.Objects, portals...)
		return s
	}
	dc1 := site("dc1", "active", "active", ptl("dc1", "active", "active", "Ready", "portal-a", "portal-b"))
	dc2 := site("dc2", "passive", "passive", ptl("dc2", "passive", "passive", "Ready", "portal-a", "portal-b"))
	pairs := hastate.Pairs([]hastate.SiteObjects{dc1, dc2}, hastate.Options{})
	req := Request{From: "dc1", To: "dc2", Subsystems: []apic.Subsystem{apic.Management, apic.Portal}}

	got, err := Assess(pairs, req, Journal{})
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, s := range got {
		refs = append(refs, s.Ref())
	}
	if want := "management,portal portal-a,portal portal-b"; strings.Join(refs, ",") != want {
		t.Fatalf("subjects %q, want %q", refs, want)
	}
	steps := Plan(req, got, PlanOptions{})
	var names []string
	for _, st := range steps {
		names = append(names, st.Name)
	}
	want := []string{"management: demote dc1", "management: promote dc2", "portal portal-a: demote dc1", "portal portal-a: promote dc2",
		"portal portal-b: demote dc1", "portal portal-b: promote dc2", "management: verify dc1", "portal portal-a: verify dc1", "portal portal-b: verify dc1"}
	if strings.Join(names, "|") != strings.Join(want, "|") {
		t.Errorf("steps\n %q\nwant\n %q", names, want)
	}

	// --name narrows to one pair.
	req.Names = []string{"portal-b"}
	got, err = Assess(pairs, req, Journal{})
	if err != nil || len(got) != 1 || got[0].Name != "portal-b" {
		t.Fatalf("--name portal-b: %+v %v", got, err)
	}
	req.Names = []string{"nope"}
	if _, err := Assess(pairs, req, Journal{}); exitcode.FromError(err) != exitcode.Refused || !strings.Contains(err.Error(), "named nope") {
		t.Errorf("--name nope: %v", err)
	}

	// One pair that cannot move refuses the whole run, naming it.
	req.Names = nil
	dc2b := site("dc2", "passive", "passive", append(ptl("dc2", "passive", "passive", "Ready", "portal-a"), ptl("dc2", "passive", "passive", "Pending", "portal-b")...))
	pairs = hastate.Pairs([]hastate.SiteObjects{dc1, dc2b}, hastate.Options{})
	if _, err := Assess(pairs, req, Journal{}); exitcode.FromError(err) != exitcode.Refused || !strings.Contains(err.Error(), "portal portal-b") {
		t.Errorf("one pair not ready: %v", err)
	}
}
