package rollout

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	"github.com/kubectl-apic/kubectl-apic/hack/lab/labtest"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/probe"
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

// Both sites, each drained at the lab's global router before its first member (--drain-hook calls
// the lab's control socket, as a user's load-balancer hook calls theirs) and undrained after its
// last, with --probe through the router: not one API call fails.
func TestLabRestartBothSitesDrainedLosesNothing(t *testing.T) {
	l := labtest.Require(t, env)
	leaveHealthy(t, l)
	sock := controlSocket(t, l)
	hook := func(action string) string {
		return fmt.Sprintf(`curl -sSf --unix-socket %s -X POST -H 'Content-Type: application/json' -d '{"action":"%s","site":"'"$ROLLOUT_SITE"'"}' http://lab/router`, sock, action)
	}
	var mu sync.Mutex
	drainedAtRestart := map[string]bool{} // site/pod -> its site drained when its RESTART started
	watcher := &eventWatcher{on: func(e event) {
		if e.Event != "start" || !strings.HasSuffix(e.Step, " "+prollout.PhaseRestart) {
			return
		}
		ref := strings.TrimSuffix(e.Step, " "+prollout.PhaseRestart)
		siteName, _, _ := strings.Cut(ref, "/")
		drained := false
		for _, r := range l.Router().Status() {
			if r.Site == siteName {
				drained = r.Drained
			}
		}
		mu.Lock()
		drainedAtRestart[ref] = drained
		mu.Unlock()
	}}
	before := map[string]map[string]string{}
	for _, s := range []string{"dc1", "dc2"} {
		before[s] = map[string]string{}
		for n, u := range uids(t, l, s) {
			before[s][n] = string(u)
		}
	}
	res := run(t, l, runOpts{errOut: watcher}, append([]string{"restart", gw, "--context", "dc1", "--peer-context", "dc2", "-o", "json", "--progress", "jsonl",
		"--drain-hook", hook("drain"), "--undrain-hook", hook("undrain"),
		"--probe", l.RouterURL(), "--probe-rate", "50", "--probe-baseline", "1s"}, fastFlags(t)...)...)
	mustCode(t, res, exitcode.OK)
	d := decodeReport(t, res)
	if len(d.Members) != 6 {
		t.Fatalf("%d members, want 6", len(d.Members))
	}
	for _, st := range d.Steps {
		if (st.Step == prollout.StepDrain || st.Step == prollout.StepUndrain) && st.Status != prollout.Passed {
			t.Errorf("%s %s: %s %s", st.Site, st.Step, st.Status, st.Message)
		}
	}
	mu.Lock()
	for _, m := range d.Members {
		if ref := m.Site + "/" + m.Pod; !drainedAtRestart[ref] {
			t.Errorf("%s restarted while %s was not drained at the router (seen: %v)", ref, m.Site, drainedAtRestart)
		}
	}
	mu.Unlock()
	for _, r := range l.Router().Status() {
		if r.Drained {
			t.Errorf("site %s left drained", r.Site)
		}
	}
	p := d.Probe
	if p == nil || p.Requests == 0 {
		t.Fatalf("no probe summary: %+v", p)
	}
	if p.Failed != 0 {
		t.Errorf("drained rollout lost %d of %d API calls through the router: %+v", p.Failed, p.Requests, p.Rows)
	}
	for _, m := range d.Members {
		if st := m.Phase(prollout.PhaseProbe); st.Status != prollout.Passed {
			t.Errorf("%s/%s PROBE %s %s", m.Site, m.Pod, st.Status, st.Message)
		}
	}
	for _, s := range []string{"dc1", "dc2"} {
		for n, u := range uids(t, l, s) {
			if before[s][n] == string(u) {
				t.Errorf("%s/%s not restarted", s, n)
			}
		}
	}
	t.Logf("probe through the router: %d requests, %d failed; run %.1fs", p.Requests, p.Failed, d.DurationSeconds)
}

// Without drain and with the lab's preStop off (no spec.lifecycle: a deleted pod's listener closes
// at once and the EndpointSlice catches up later), a probe on one site's gateway endpoint sees the
// restarts: the failures are counted in the report's probe summary, not hidden, and they are the
// failed samples of the probe's samples file. No gate (--max-error-rate -1), so the run completes.
func TestLabRestartWithoutDrainCountsFailures(t *testing.T) {
	l := labtest.Require(t, env)
	leaveHealthy(t, l)
	for n, p := range gatewayPods(t, l, "dc1") {
		if c := p.Spec.Containers[0]; c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
			t.Fatalf("pod %s has a preStop hook: the lab's default is none", n)
		}
	}
	ep, err := l.GatewayEndpoint("dc1")
	if err != nil {
		t.Fatal(err)
	}
	// Slow members (300 ms an answer) have calls in flight when they go, as the traffic lab's own
	// preStop test does: without it the lab cut about 1 call in 760 per run, too few to rely on.
	for pod := range gatewayPods(t, l, "dc1") {
		if err := l.SetMemberFault("dc1", pod, 0, 300*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	logDir := t.TempDir()
	args := append([]string{"restart", gw, "--context", "dc1", "--probe", ep, "--probe-rate", "100", "--probe-baseline", "1s",
		"--max-error-rate", "-1"}, fastFlags(t)...)
	args = append(args, "--log-dir", logDir) // after fastFlags' own: the last wins
	res := run(t, l, runOpts{}, args...)
	mustCode(t, res, exitcode.OK)
	requests, failed := samples(t, logDir)
	want := fmt.Sprintf("Probe: %d requests during the operation, %d failed", requests, failed)
	if !strings.Contains(res.out, want) {
		t.Errorf("the summary does not say %q:\n%s", want, res.out)
	}
	// Without preStop a member's SIGTERM cuts the calls in flight (and the EndpointSlice may still
	// route new ones to it for a moment).
	if failed == 0 {
		t.Errorf("no probe request failed in %d while 3 members restarted without drain or preStop", requests)
	}
	t.Logf("probe on the dc1 endpoint: %d requests, %d failed", requests, failed)
}

// controlSocket serves the lab's control interface (what bin/apic-lab talks to) on a unix socket
// for the test's hooks.
func controlSocket(t *testing.T, l *lab.Lab) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "rollout-lab-")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "control.sock")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.ServeControl(ctx, sock) }()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = os.RemoveAll(dir)
	})
	labtest.Eventually(t, 10*time.Second, "control socket", func() (bool, string) {
		_, err := os.Stat(sock)
		return err == nil, fmt.Sprint(err)
	})
	return sock
}

// samples counts the probe samples file's operation samples (the baseline excluded) and failures.
func samples(t *testing.T, dir string) (requests, failed int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, probe.SamplesFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var s probe.Sample
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("samples file line %q: %v", line, err)
		}
		if s.Phase == probe.PhaseBaseline {
			continue
		}
		requests++
		if !s.OK {
			failed++
		}
	}
	return requests, failed
}

// never-ready: the first member to go never turns Ready; the run stops there (exit 43), READY
// FAILED (43) on it and "*" after, the later members untouched. Once the fault is cleared the same
// command continues that run and finishes.
func TestLabNeverReadyStopsThenContinues(t *testing.T) {
	l := labtest.Require(t, env)
	leaveHealthy(t, l)
	plan := dryRunOrder(t, l, "restart", "dc1")
	first := plan[0]
	if err := l.NeverReady("dc1", first); err != nil {
		t.Fatal(err)
	}
	before := uids(t, l, "dc1")
	args := append([]string{"restart", gw, "--context", "dc1"}, fastFlags(t)...)
	args = append(args, "--ready-timeout", "8s")
	res := run(t, l, runOpts{}, args...)
	mustCode(t, res, exitcode.RolloutReadyFailed)
	rows := tableRows(res.out)
	if r := rows[first]; !strings.Contains(r, "FAILED (43)") || !strings.Contains(r, "*") {
		t.Errorf("%s row %q: want READY FAILED (43) and * after", first, r)
	}
	for _, pod := range plan[1:] {
		if r := rows[pod]; strings.Count(r, "*") != len(prollout.Phases()) {
			t.Errorf("%s row %q: want every phase * (not reached)", pod, r)
		}
	}
	after := uids(t, l, "dc1")
	if after[first] == before[first] {
		t.Errorf("%s was not restarted", first)
	}
	for _, pod := range plan[1:] {
		if after[pod] != before[pod] {
			t.Errorf("%s restarted (UID %s -> %s) after the run stopped at %s", pod, before[pod], after[pod], first)
		}
	}
	if r := journalRun(t, l); r == nil || r.State != prollout.RunFailed || r.Current.Pod != first || r.Current.Phase != prollout.PhaseReady {
		t.Errorf("journal: %+v, want failed at %s READY", r, first)
	}
	if err := l.ClearDataPowerFaults("dc1", gw); err != nil {
		t.Fatal(err)
	}
	res = run(t, l, runOpts{}, append(args, "-o", "json")...)
	mustCode(t, res, exitcode.OK)
	d := decodeReport(t, res)
	if !d.Resumed || d.Outcome != prollout.OutcomeSucceeded {
		t.Errorf("re-run: resumed %t outcome %s", d.Resumed, d.Outcome)
	}
	for _, m := range d.Members {
		if !m.Done() {
			t.Errorf("%s not done: %+v", m.Pod, m.Phases)
		}
	}
	final := uids(t, l, "dc1")
	if final[first] != after[first] {
		t.Errorf("the continued run restarted %s again", first)
	}
	for _, pod := range plan[1:] {
		if final[pod] == before[pod] {
			t.Errorf("the continued run did not restart %s", pod)
		}
	}
}

// tableRows maps each member to its row of the summary table (the first line starting with the pod
// after the ROLLOUT title).
func tableRows(out string) map[string]string {
	rows := map[string]string{}
	_, sum, ok := strings.Cut(out, "ROLLOUT ")
	if !ok {
		return rows
	}
	for _, line := range strings.Split(sum, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && strings.HasPrefix(f[0], gw+"-") {
			if _, seen := rows[f[0]]; !seen {
				rows[f[0]] = line
			}
		}
	}
	return rows
}

// A second rollout of the same gateway while one runs is refused (exit 5) and names the holder;
// the first one, held in its --drain-hook, then finishes.
func TestLabConcurrentRolloutRefused(t *testing.T) {
	l := labtest.Require(t, env)
	leaveHealthy(t, l)
	dir := t.TempDir()
	started, release := filepath.Join(dir, "started"), filepath.Join(dir, "release")
	hold := fmt.Sprintf("touch %s; while [ ! -f %s ]; do sleep 0.1; done", started, release)
	first := make(chan result, 1)
	go func() {
		first <- run(t, l, runOpts{}, append([]string{"restart", gw, "--context", "dc1", "--drain-hook", hold}, fastFlags(t)...)...)
	}()
	labtest.Eventually(t, 30*time.Second, "the first rollout in its drain hook", func() (bool, string) {
		_, err := os.Stat(started)
		return err == nil, fmt.Sprint(err)
	})
	before := uids(t, l, "dc1")
	second := run(t, l, runOpts{}, append([]string{"restart", gw, "--context", "dc1"}, fastFlags(t)...)...)
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	mustCode(t, second, exitcode.Refused)
	for _, want := range []string{"another rollout of gateway " + gw + " is running", fmt.Sprintf("pid %d", os.Getpid()),
		"kubectl apic rollout restart " + gw, prollout.JournalName(gw)} {
		if !strings.Contains(second.errOut, want) {
			t.Errorf("refusal does not name the holder (%q):\n%s", want, second.errOut)
		}
	}
	after := uids(t, l, "dc1")
	for pod, uid := range before {
		if after[pod] != uid {
			t.Errorf("the refused run (or the held one) restarted %s", pod)
		}
	}
	res := <-first
	mustCode(t, res, exitcode.OK)
}

// A member down before the run (never-ready, its pod recreated unready): restarting another would
// lose quorum, so the run is refused (exit 5) and nothing changes: every pod UID, the
// GatewayCluster's resourceVersion and the journal stay as they were.
func TestLabLostQuorumRefused(t *testing.T) {
	l := labtest.Require(t, env)
	leaveHealthy(t, l)
	const down = gw + "-1"
	if err := l.NeverReady("dc1", down); err != nil {
		t.Fatal(err)
	}
	old := uids(t, l, "dc1")[down]
	if err := l.DeletePod(context.Background(), "dc1", down); err != nil {
		t.Fatal(err)
	}
	g, err := l.Gateway("dc1", gw)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Eventually(t, 30*time.Second, down+" recreated, unready and down in peering", func() (bool, string) {
		p, ok := gatewayPods(t, l, "dc1")[down]
		if !ok || p.UID == old || p.DeletionTimestamp != nil {
			return false, "not recreated"
		}
		_, err := l.MemberRun("dc1", down)
		return err == nil && !podReady(&p) && g.HasQuorum("gwd"), fmt.Sprint(err)
	})
	before, rv := uids(t, l, "dc1"), gatewayObject(t, l, "dc1").U.GetResourceVersion()
	jrv := "(absent)"
	if cm := journal(t, l, "dc1"); cm != nil {
		jrv = cm.ResourceVersion
	}
	res := run(t, l, runOpts{}, append([]string{"restart", gw, "--context", "dc1", "-o", "json"}, fastFlags(t)...)...)
	mustCode(t, res, exitcode.Refused)
	d := decodeReport(t, res)
	if d.Outcome != prollout.OutcomeRefused || !strings.Contains(d.Error, down) || !strings.Contains(d.Error, "nothing was changed") {
		t.Errorf("outcome %s, error %q: want refused naming %s", d.Outcome, d.Error, down)
	}
	quorum := false
	for _, c := range d.Preflight {
		if c.Name == "quorum" && c.Status == prollout.Failed {
			quorum = true
		}
	}
	if !quorum {
		t.Errorf("no failed quorum check in the pre-flight: %+v", d.Preflight)
	}
	for _, m := range d.Members {
		if len(m.Phases) != 0 {
			t.Errorf("%s ran phases: %+v", m.Pod, m.Phases)
		}
	}
	after := uids(t, l, "dc1")
	for pod, uid := range before {
		if after[pod] != uid {
			t.Errorf("pod %s changed UID %s -> %s", pod, uid, after[pod])
		}
	}
	if now := gatewayObject(t, l, "dc1").U.GetResourceVersion(); now != rv {
		t.Errorf("GatewayCluster resourceVersion %s -> %s", rv, now)
	}
	jnow := "(absent)"
	if cm := journal(t, l, "dc1"); cm != nil {
		jnow = cm.ResourceVersion
	}
	if jnow != jrv {
		t.Errorf("journal resourceVersion %s -> %s", jrv, jnow)
	}
}
