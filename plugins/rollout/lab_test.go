package rollout

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	"github.com/kubectl-apic/kubectl-apic/hack/lab/labtest"
	"github.com/kubectl-apic/kubectl-apic/internal/testenv"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
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
	// Re-run while the member is still down: the run continues at its READY (and fails there
	// again), it is not refused by the pre-flight for the quorum that member's absence costs.
	again := run(t, l, runOpts{}, append(args, "-o", "json", "--ready-timeout", "3s")...)
	mustCode(t, again, exitcode.RolloutReadyFailed)
	if d := decodeReport(t, again); !d.Resumed || d.FailedMember != "dc1/"+first || d.FailedPhase != prollout.PhaseReady {
		t.Errorf("re-run with %s still down: resumed %t, failed at %s %s", first, d.Resumed, d.FailedMember, d.FailedPhase)
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
	// A dry run takes no lease but does not attach to consoles a live run drives either.
	dry := run(t, l, runOpts{}, append([]string{"restart", gw, "--context", "dc1", "--dry-run"}, fastFlags(t)...)...)
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if dry.code != exitcode.Refused || !strings.Contains(dry.errOut, fmt.Sprintf("pid %d", os.Getpid())) {
		t.Errorf("dry run during a rollout: exit %d\n%s", dry.code, dry.errOut)
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
	// The operator simulator writes the member's absence into the GatewayCluster's status (2/3):
	// wait for that write, so the resourceVersion compared below is the settled one.
	labtest.Eventually(t, 30*time.Second, "GatewayCluster status 2/3", func() (bool, string) {
		r := gatewayObject(t, l, "dc1").Ready()
		return r == "2/3", r
	})
	rv := gatewayObject(t, l, "dc1").U.GetResourceVersion()
	before := uids(t, l, "dc1")
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

// SIGKILL at each phase boundary (the phase's start event on --progress jsonl: the journal holds
// the phase already), each time on the run the previous kill left: the next run continues where
// the killed one stopped (the dead holder's lease is taken over), and the last one finishes.
// Members a killed run finished are not restarted again.
func TestLabKilledAtEachPhaseContinues(t *testing.T) {
	l := labtest.Require(t, env)
	leaveHealthy(t, l)
	bin := testenv.Binary(t, "kubectl-apic-rollout")
	plan := dryRunOrder(t, l, "restart", "dc1")
	a, b, k := plan[0], plan[1], plan[2]
	ep, err := l.GatewayEndpoint("dc1")
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"restart", gw, "--context", "dc1", "--kubeconfig", l.Kubeconfig(), "-n", labtest.Namespace,
		"--probe", ep, "--probe-rate", "20", "--probe-baseline", "1s"}, fastFlags(t)...)
	original := uids(t, l, "dc1")
	kills := []struct{ pod, phase string }{
		{a, prollout.PhasePrecheck}, {a, prollout.PhaseRestart}, {a, prollout.PhaseReady},
		{b, prollout.PhaseRejoin}, {b, prollout.PhaseVerify}, {b, prollout.PhaseProbe},
		{k, prollout.PhaseSwitchPrimary},
	}
	var doneA, doneB types.UID // the members' UIDs once a killed run had finished them
	for i, kill := range kills {
		step := phaseStep("dc1", kill.pod, kill.phase)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		c := exec.CommandContext(ctx, bin, append(args, "--progress", "jsonl")...)
		stderr, err := c.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		var lines []string
		killed, resumed := false, false
		scanEvents(stderr, func(e event) {
			lines = append(lines, e.Step+" "+e.Event+" "+e.Message)
			if e.Event == "info" && strings.HasPrefix(e.Message, "continuing restart run") {
				resumed = true
			}
			if !killed && e.Event == "start" && e.Step == step {
				killed = true
				_ = c.Process.Kill()
			}
		})
		err = c.Wait()
		cancel()
		if !killed {
			t.Fatalf("run %d ended (%v) before %s started:\n%s", i+1, err, step, strings.Join(lines, "\n"))
		}
		if i > 0 && !resumed {
			t.Errorf("run %d did not continue the killed run:\n%s", i+1, strings.Join(lines, "\n"))
		}
		// The journal is written before a member's start and before the phases that change
		// something; a kill in a phase that only waits and reads leaves it at the member's RESTART.
		want := kill.phase
		switch want {
		case prollout.PhaseReady, prollout.PhaseRejoin, prollout.PhaseVerify, prollout.PhaseProbe:
			want = prollout.PhaseRestart
		}
		r := journalRun(t, l)
		if r == nil || r.State != prollout.RunRunning || r.Current.Pod != kill.pod || r.Current.Phase != want {
			t.Fatalf("after the kill at %s the journal says %+v, want %s %s", step, r, kill.pod, want)
		}
		switch kill {
		case kills[3]: // a was done before b's REJOIN
			doneA = uids(t, l, "dc1")[a]
		case kills[6]:
			doneB = uids(t, l, "dc1")[b]
		}
		t.Logf("run %d killed at %s", i+1, step)
	}
	res := run(t, l, runOpts{}, append(args, "-o", "json")...)
	mustCode(t, res, exitcode.OK)
	d := decodeReport(t, res)
	if !d.Resumed || d.Outcome != prollout.OutcomeSucceeded {
		t.Errorf("last run: resumed %t outcome %s", d.Resumed, d.Outcome)
	}
	for _, m := range d.Members {
		if !m.Done() {
			t.Errorf("%s not done: %+v", m.Pod, m.Phases)
		}
	}
	final := uids(t, l, "dc1")
	for pod, uid := range original {
		if final[pod] == uid {
			t.Errorf("%s never restarted", pod)
		}
	}
	if final[a] != doneA || final[b] != doneB {
		t.Errorf("a finished member was restarted again: %s %s -> %s, %s %s -> %s", a, doneA, final[a], b, doneB, final[b])
	}
	if !strings.Contains(res.errOut, "took over lease") {
		t.Errorf("the last run did not say it took over the killed run's lease:\n%s", res.errOut)
	}
}

// undo restores a ConfigMap change: a baseline restart with the ConfigMap that
// spec.additionalDomainConfig names, a change of it and a restart (members run the new revision),
// then undo: the ConfigMap's data is back and every member runs the restored revision.
func TestLabUndoRestoresConfigMap(t *testing.T) {
	l := labtest.Require(t, env)
	leaveHealthy(t, l)
	ctx := context.Background()
	s := site(t, l, "dc1")
	cms := s.Kube.CoreV1().ConfigMaps(s.Namespace)
	const name = "rollout-lab-domain-config"
	one := map[string]string{"auto-startup.cfg": "top; co; # one\n"}
	cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: one}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	patchGateway(t, l, "dc1", `{"spec":{"additionalDomainConfig":[{"name":"apiconnect","dpApp":{"config":["`+name+`"]}}]}}`)
	t.Cleanup(func() {
		patchGateway(t, l, "dc1", `{"spec":{"additionalDomainConfig":null}}`)
		_ = cms.Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	members := func(want string) {
		t.Helper()
		for pod := range gatewayPods(t, l, "dc1") {
			if r, err := l.MemberRun("dc1", pod); err != nil || r.ConfigString() != want {
				t.Errorf("%s runs %q (%v), want %q", pod, r.ConfigString(), err, want)
			}
		}
	}
	restart := append([]string{"restart", gw, "--context", "dc1", "-o", "json"}, fastFlags(t)...)
	mustCode(t, run(t, l, runOpts{}, restart...), exitcode.OK)
	members(name + "=" + cm.ResourceVersion)
	cm.Data = map[string]string{"auto-startup.cfg": "top; co; # two\n"}
	if cm, err = cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	mustCode(t, run(t, l, runOpts{}, restart...), exitcode.OK)
	members(name + "=" + cm.ResourceVersion)

	res := run(t, l, runOpts{}, append([]string{"undo", gw, "--context", "dc1", "-o", "json"}, fastFlags(t)...)...)
	mustCode(t, res, exitcode.OK)
	d := decodeReport(t, res)
	change := false
	for _, st := range d.Steps {
		if st.Step == prollout.StepChange && st.Status == prollout.Passed {
			change = true
		}
	}
	if !change || len(d.Members) != 3 {
		t.Errorf("undo: steps %+v, %d members", d.Steps, len(d.Members))
	}
	for _, m := range d.Members {
		if st := m.Phase(prollout.PhaseVerify); st.Status != prollout.Passed || !strings.Contains(st.Message, "started after ConfigMap "+name+" changed") {
			t.Errorf("%s VERIFY %s %q", m.Pod, st.Status, st.Message)
		}
	}
	cm, err = cms.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["auto-startup.cfg"] != one["auto-startup.cfg"] || len(cm.Data) != 1 {
		t.Errorf("after undo the ConfigMap holds %v, want %v", cm.Data, one)
	}
	members(name + "=" + cm.ResourceVersion)
}

// upgrade --version 10.0.8.1 (management first at a newer version): every member's VERIFY reads
// productVersion 10.0.8.1 on its pod. undo of a version is refused with IBM's words. With the
// wrong-version fault on a member, an upgrade to 10.0.8.2 stops at that member's VERIFY (exit 45).
// The lab's versions (10.0.8.0) are restored afterwards.
func TestLabUpgradeVerifiesEveryPodAndVersionUndoRefused(t *testing.T) {
	l := labtest.Require(t, env)
	leaveHealthy(t, l)
	const v1, v2 = "10.0.8.1", "10.0.8.2"
	setManagement(t, l, v2)
	t.Cleanup(func() {
		_ = l.ClearDataPowerFaults("dc1", gw)
		patchGateway(t, l, "dc1", `{"spec":{"version":"`+lab.Version+`"}}`)
		labtest.Eventually(t, 3*time.Minute, "the gateway back at "+lab.Version, func() (bool, string) {
			for n, p := range gatewayPods(t, l, "dc1") {
				r, err := l.MemberRun("dc1", n)
				if p.Annotations[lab.ProductVersionAnnotation] != lab.Version || err != nil || r.Version != lab.Version || !podReady(&p) || p.DeletionTimestamp != nil {
					return false, fmt.Sprintf("%s at %s (%+v %v)", n, p.Annotations[lab.ProductVersionAnnotation], r, err)
				}
			}
			return true, ""
		})
		setManagement(t, l, lab.Version)
	})
	res := run(t, l, runOpts{}, append([]string{"upgrade", gw, "--version", v1, "--context", "dc1", "-o", "json"}, fastFlags(t)...)...)
	mustCode(t, res, exitcode.OK)
	d := decodeReport(t, res)
	if got := order(d, "dc1"); strings.Join(got, " ") != gw+"-2 "+gw+"-1 "+gw+"-0" {
		t.Errorf("upgrade order %v, want highest ordinal first", got)
	}
	for _, m := range d.Members {
		if st := m.Phase(prollout.PhaseVerify); st.Status != prollout.Passed || !strings.Contains(st.Message, "productVersion "+v1) {
			t.Errorf("%s VERIFY %s %q, want PASSED with productVersion %s", m.Pod, st.Status, st.Message, v1)
		}
		if r, err := l.MemberRun("dc1", m.Pod); err != nil || r.Version != v1 {
			t.Errorf("%s runs %+v (%v), want %s", m.Pod, r, err, v1)
		}
	}
	if v := gatewayObject(t, l, "dc1").Version(); v != v1 {
		t.Errorf("spec.version %s", v)
	}

	undo := run(t, l, runOpts{}, append([]string{"undo", gw, "--context", "dc1"}, fastFlags(t)...)...)
	mustCode(t, undo, exitcode.Refused)
	if !strings.Contains(undo.errOut, "Interrupting and rolling back API Connect upgrades is not possible") {
		t.Errorf("version undo refused without IBM's reason:\n%s", undo.errOut)
	}
	if v := gatewayObject(t, l, "dc1").Version(); v != v1 {
		t.Errorf("the refused undo changed spec.version to %s", v)
	}

	const wrong = gw + "-1"
	if err := l.WrongVersion("dc1", wrong, v1); err != nil {
		t.Fatal(err)
	}
	res = run(t, l, runOpts{}, append([]string{"upgrade", gw, "--version", v2, "--context", "dc1", "-o", "json"}, fastFlags(t)...)...)
	mustCode(t, res, exitcode.RolloutVerifyFailed)
	d = decodeReport(t, res)
	st := d.Member("dc1", wrong).Phase(prollout.PhaseVerify)
	if st.Status != prollout.Failed || st.Code != int(exitcode.RolloutVerifyFailed) || !strings.Contains(st.Message, "productVersion "+v1+", want "+v2) {
		t.Errorf("%s VERIFY %s (%d) %q, want FAILED (45) naming productVersion %s", wrong, st.Status, st.Code, st.Message, v1)
	}
	if st := d.Member("dc1", gw+"-2").Phase(prollout.PhaseVerify); st.Status != prollout.Passed {
		t.Errorf("%s-2 VERIFY %s %q", gw, st.Status, st.Message)
	}
	if d.FailedMember != "dc1/"+wrong || d.FailedPhase != prollout.PhaseVerify {
		t.Errorf("failed at %s %s", d.FailedMember, d.FailedPhase)
	}
}

// setManagement sets the ManagementCluster's spec.version on dc1 and waits for the operator
// simulator to reconcile it.
func setManagement(t *testing.T, l *lab.Lab, version string) {
	t.Helper()
	s := site(t, l, "dc1")
	mc := s.Dynamic.Resource(apic.ManagementClusterKind.GVR()).Namespace(s.Namespace)
	if _, err := mc.Patch(context.Background(), lab.MgmtName, types.MergePatchType, []byte(`{"spec":{"version":"`+version+`"}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	labtest.Eventually(t, time.Minute, "management reconciled at "+version, func() (bool, string) {
		u, err := mc.Get(context.Background(), lab.MgmtName, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		o, _ := apic.Wrap(u)
		return strings.HasPrefix(o.ReconciledVersion(), version), o.ReconciledVersion()
	})
}
