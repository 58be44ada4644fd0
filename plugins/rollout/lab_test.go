package rollout

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/kubectl-apic/kubectl-apic/hack/lab/labtest"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	prollout "github.com/kubectl-apic/kubectl-apic/pkg/rollout"
)

// Integration tests of `kubectl apic rollout` on the lab (the "Done when"). Each test
// starts from and leaves a healthy lab (leaveHealthy); the upgrade test, which changes versions,
// restores them and runs last.

// --dry-run changes nothing: the GatewayCluster, the pods and the journal keep their
// resourceVersions (or the journal stays absent), on both sites.
func TestLabDryRunChangesNothing(t *testing.T) {
	l := labtest.Require(t, env)
	leaveHealthy(t, l)
	type state struct {
		gateway, journal string
		pods             map[string]string
	}
	read := func() map[string]state {
		out := map[string]state{}
		for _, s := range []string{"dc1", "dc2"} {
			st := state{gateway: gatewayObject(t, l, s).U.GetResourceVersion(), journal: "(absent)", pods: map[string]string{}}
			if cm := journal(t, l, s); cm != nil {
				st.journal = cm.ResourceVersion
			}
			for n, p := range gatewayPods(t, l, s) {
				st.pods[n] = string(p.UID) + "@" + p.ResourceVersion
			}
			out[s] = st
		}
		return out
	}
	before := read()
	res := run(t, l, runOpts{}, append([]string{"restart", gw, "--context", "dc1", "--peer-context", "dc2", "--dry-run", "-o", "json"}, fastFlags(t)...)...)
	mustCode(t, res, exitcode.OK)
	d := decodeReport(t, res)
	if !d.DryRun || d.Outcome != prollout.OutcomePlanned || len(d.Members) != 6 {
		t.Errorf("dry run: dryRun %t outcome %s, %d members", d.DryRun, d.Outcome, len(d.Members))
	}
	for _, m := range d.Members {
		if len(m.Phases) != 0 {
			t.Errorf("dry run ran phases of %s/%s: %+v", m.Site, m.Pod, m.Phases)
		}
	}
	// The table form too (the plan, no summary).
	res = run(t, l, runOpts{}, append([]string{"restart", gw, "--context", "dc1", "--peer-context", "dc2", "--dry-run"}, fastFlags(t)...)...)
	mustCode(t, res, exitcode.OK)
	if !strings.Contains(res.out, "PLAN restart") {
		t.Errorf("dry run prints no plan:\n%s", res.out)
	}
	after := read()
	for _, s := range []string{"dc1", "dc2"} {
		b, a := before[s], after[s]
		if b.gateway != a.gateway || b.journal != a.journal {
			t.Errorf("%s: GatewayCluster resourceVersion %s -> %s, journal %s -> %s", s, b.gateway, a.gateway, b.journal, a.journal)
		}
		for n, v := range b.pods {
			if a.pods[n] != v {
				t.Errorf("%s pod %s: %s -> %s", s, n, v, a.pods[n])
			}
		}
	}
}

// restart of one site's 3 members: the members primary of nothing go first, the member primary of
// every peering object last, after its SWITCH-PRIMARY moved every primary to the first member
// restarted (the lab's peering primaries read when its RESTART starts); every pod is new.
func TestLabRestartOneSitePrimaryLast(t *testing.T) {
	l := labtest.Require(t, env)
	leaveHealthy(t, l)
	before := uids(t, l, "dc1")
	prim := primaries(t, l, "dc1")
	keeper := prim["gwd"]
	for p, pod := range prim {
		if pod != keeper {
			t.Fatalf("the lab's primaries are split (%v): this test wants one member primary of all (%s of %s)", prim, pod, p)
		}
	}
	var mu sync.Mutex
	var atKeeperRestart map[string]string
	watcher := &eventWatcher{on: func(e event) {
		if e.Event == "start" && e.Step == phaseStep("dc1", keeper, prollout.PhaseRestart) {
			p := primaries(t, l, "dc1")
			mu.Lock()
			atKeeperRestart = p
			mu.Unlock()
		}
	}}
	res := run(t, l, runOpts{errOut: watcher}, append([]string{"restart", gw, "--context", "dc1", "-o", "json", "--progress", "jsonl"}, fastFlags(t)...)...)
	mustCode(t, res, exitcode.OK)
	d := decodeReport(t, res)
	if d.Outcome != prollout.OutcomeSucceeded || d.Resumed || d.ExitCode != 0 {
		t.Errorf("outcome %s resumed %t exit %d", d.Outcome, d.Resumed, d.ExitCode)
	}
	got := order(d, "dc1")
	if len(got) != 3 || got[2] != keeper {
		t.Fatalf("order %v: want 3 members, %s (primary of every peering object) last", got, keeper)
	}
	first := got[0]
	k := d.Member("dc1", keeper)
	sw := k.Phase(prollout.PhaseSwitchPrimary)
	if sw.Status != prollout.Passed || !strings.Contains(sw.Message, "now primary on "+first) || k.SwitchTo != first {
		t.Errorf("%s SWITCH-PRIMARY %s %q (switchTo %s), want PASSED to %s", keeper, sw.Status, sw.Message, k.SwitchTo, first)
	}
	for _, p := range peeringNames {
		if !strings.Contains(sw.Message, p) {
			t.Errorf("SWITCH-PRIMARY message %q does not name peering %s", sw.Message, p)
		}
	}
	mu.Lock()
	for _, p := range peeringNames {
		if atKeeperRestart[p] != first {
			t.Errorf("when %s's RESTART started, peering %s primary was %q, want %s (the first member restarted)", keeper, p, atKeeperRestart[p], first)
		}
	}
	mu.Unlock()
	for _, pod := range got[:2] {
		m := d.Member("dc1", pod)
		if st := m.Phase(prollout.PhaseSwitchPrimary); st.Status != prollout.Skipped || len(m.PrimaryOf) != 0 {
			t.Errorf("%s (primary of %v) SWITCH-PRIMARY %s %q, want SKIPPED", pod, m.PrimaryOf, st.Status, st.Message)
		}
	}
	for _, m := range d.Members {
		for _, ph := range prollout.Phases() {
			want := prollout.Passed
			if ph == prollout.PhaseProbe || (ph == prollout.PhaseSwitchPrimary && m.Pod != keeper) {
				want = prollout.Skipped
			}
			if st := m.Phase(ph); st.Status != want {
				t.Errorf("%s %s: %s %q, want %s", m.Pod, ph, st.Status, st.Message, want)
			}
		}
	}
	after := uids(t, l, "dc1")
	for pod, uid := range before {
		if after[pod] == uid || after[pod] == "" {
			t.Errorf("pod %s kept UID %s (now %q): not restarted", pod, uid, after[pod])
		}
	}
	// The RESTARTs went one at a time in the plan's order.
	for i := 1; i < len(got); i++ {
		a, b := d.Member("dc1", got[i-1]).Phase(prollout.PhaseProbe), d.Member("dc1", got[i]).Phase(prollout.PhaseRestart)
		if !b.StartedAt.After(a.StartedAt) {
			t.Errorf("%s RESTART started %s, before %s was done (%s)", got[i], b.StartedAt, got[i-1], a.StartedAt)
		}
	}
	t.Logf("order %v; run took %.1fs", got, d.DurationSeconds)
}

func init() { _ = fmt.Sprint; _ = context.Background }
