package failover

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/kubectl-apic/kubectl-apic/internal/fixtures"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/hastate"
	"github.com/kubectl-apic/kubectl-apic/pkg/kube"
	"github.com/kubectl-apic/kubectl-apic/pkg/progress"
)

// The engine's safety guards, without a control plane: each site is client-go's dynamic fake client
// whose watches are fake watchers the test feeds (as kubectl's rollout_status_test.go does), so a test
// decides what a wait sees and when, and counts the patches a guard must (or must not) let through.

// fakeSite is one data center: a dynamic fake client holding the site's objects, and the fake
// watchers its waits opened, in order.
type fakeSite struct {
	site    *kube.Site
	client  *dynamicfake.FakeDynamicClient
	watches chan *watch.RaceFreeFakeWatcher
}

func newFakeSite(name, namespace string, objs ...apic.Object) *fakeSite {
	ro := make([]runtime.Object, 0, len(objs))
	for _, o := range objs {
		ro = append(ro, o.U.DeepCopy())
	}
	lists := map[schema.GroupVersionResource]string{}
	for _, k := range haKinds() {
		lists[k.GVR()] = k.GVK().Kind + "List"
	}
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), lists, ro...)
	fs := &fakeSite{site: &kube.Site{Name: name, Namespace: namespace, Dynamic: client}, client: client,
		watches: make(chan *watch.RaceFreeFakeWatcher, 16)}
	// Race-free fake watchers: an event sent after a wait returned (and stopped its watch) is dropped
	// instead of panicking.
	client.PrependWatchReactor("*", func(clienttesting.Action) (bool, watch.Interface, error) {
		fw := watch.NewRaceFreeFake()
		fs.watches <- fw
		return true, fw, nil
	})
	return fs
}

// nextWatch is the next watch a wait opened on this site: once it is returned, the wait has listed
// and waits for events.
func (fs *fakeSite) nextWatch(t *testing.T) *watch.RaceFreeFakeWatcher {
	t.Helper()
	select {
	case fw := <-fs.watches:
		return fw
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no wait opened a watch", fs.site.Name)
		return nil
	}
}

// patches are the patch requests the site received.
func (fs *fakeSite) patches() []clienttesting.PatchAction {
	var out []clienttesting.PatchAction
	for _, a := range fs.client.Actions() {
		if p, ok := a.(clienttesting.PatchAction); ok && a.GetVerb() == "patch" {
			out = append(out, p)
		}
	}
	return out
}

// haCR is a management or portal CR: spec mode, status haMode, one True haStatus and a phase.
func haCR(k apic.Kind, mode, haMode, haStatus, phase string) apic.Object {
	o := apic.New(k, "apic", "production-"+k.ShortName)
	o.U.Object["spec"] = map[string]interface{}{"multiSiteHA": map[string]interface{}{"mode": mode}}
	o.SetStatusField(haMode, "haMode")
	o.SetStatusField(phase, "phase")
	o.SetHAStatus([]apic.Condition{{Type: haStatus, Status: "True", Reason: "na"}})
	return o
}

// fixtureCR loads a custom resource from internal/fixtures (real shapes from public sources).
func fixtureCR(t *testing.T, name string) apic.Object {
	o, err := apic.Wrap(fixtures.MustUnstructured(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// withHAMode is o with another status.haMode (and True haStatus, when given).
func withHAMode(o apic.Object, haMode, haStatus string) apic.Object {
	c := apic.Object{Kind: o.Kind, U: o.U.DeepCopy()}
	c.SetStatusField(haMode, "haMode")
	if haStatus != "" {
		c.SetHAStatus([]apic.Condition{{Type: haStatus, Status: "True", Reason: "na"}})
	}
	return c
}

// guardRun is one engine run of a single planned step over two fake sites.
type guardRun struct {
	dc1, dc2 *fakeSite
	req      Request
	subjects []Subject
}

// newGuardRun plans a failover of one pair: fromPlanned is --from as the assessment read it (the plan
// is built from it), from and to are what the sites hold when the step runs.
func newGuardRun(sub apic.Subsystem, fromPlanned, from, to apic.Object) *guardRun {
	g := &guardRun{
		dc1: newFakeSite("dc1", from.Namespace(), from),
		dc2: newFakeSite("dc2", to.Namespace(), to),
		req: Request{From: "dc1", To: "dc2", Subsystems: []apic.Subsystem{sub}},
	}
	member := func(site string, o apic.Object) hastate.Member {
		ha, _ := o.MultiSiteHA(sub)
		c, _ := o.ActiveHAStatus()
		return hastate.Member{Site: site, Status: o, Spec: o, Mode: ha.Mode, HAMode: o.HAMode(), HAStatus: c, Phase: o.Phase()}
	}
	g.subjects = []Subject{{Subsystem: sub, Name: to.Name(), From: member("dc1", fromPlanned), To: member("dc2", to), Situation: Fresh}}
	return g
}

// run runs the plan's step of phase, with every wait bounded by timeout.
func (g *guardRun) run(t *testing.T, phase Phase, timeout time.Duration) (StepResult, error) {
	t.Helper()
	var step *Step
	steps := Plan(g.req, g.subjects, PlanOptions{Timeouts: Timeouts{Demote: timeout, Promote: timeout}})
	for i := range steps {
		if steps[i].Phase == phase {
			step = &steps[i]
		}
	}
	if step == nil {
		t.Errorf("no %s step in the plan %+v", phase, steps) // not Fatal: runAsync calls run off the test goroutine
		return StepResult{}, nil
	}
	e := &Engine{Req: g.req, From: g.dc1.site, To: g.dc2.site, Reporter: progress.New(io.Discard, progress.Options{})}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := e.Run(ctx, []Step{*step})
	if len(res) != 1 {
		t.Errorf("results: %+v", res)
		return StepResult{}, err
	}
	return res[0], err
}

// runAsync is run in the background, for tests that feed the waits' watches meanwhile.
func (g *guardRun) runAsync(t *testing.T, phase Phase, timeout time.Duration) func() (StepResult, error) {
	var (
		wg  sync.WaitGroup
		res StepResult
		err error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		res, err = g.run(t, phase, timeout)
	}()
	return func() (StepResult, error) { wg.Wait(); return res, err }
}

// The split-brain guard: the promote patch is sent only when --from, re-read right before it, is
// passive in status and in spec.
func TestPromoteRefusedWhileFromReReadsActive(t *testing.T) {
	readyForPromotion := haCR(apic.ManagementClusterKind, "passive", apic.HAModeReadyForPromotion, apic.HAStatusReadyToPromote, "Blocked")
	tests := []struct {
		name      string
		sub       apic.Subsystem
		from, to  apic.Object
		wantPatch bool
	}{
		{"management: --from status active again", apic.Management,
			haCR(apic.ManagementClusterKind, "passive", "active", "Ready", "Running"), readyForPromotion, false},
		{"management: --from spec set back to active", apic.Management,
			haCR(apic.ManagementClusterKind, "active", apic.HAModeBlockedWarmStandbyConversion, apic.HAStatusBlocked, "Blocked"), readyForPromotion, false},
		{"management: --from status without haMode", apic.Management,
			haCR(apic.ManagementClusterKind, "passive", "", "Ready", "Running"), readyForPromotion, false},
		{"portal: --from active again", apic.Portal,
			haCR(apic.PortalClusterKind, "active", "active", "Ready", "Running"),
			haCR(apic.PortalClusterKind, "passive", "passive", "Ready", "Running"), false},
		{"management: --from BlockedWarmStandbyConversion (the real sample) is passive: promote", apic.Management,
			fixtureCR(t, "objects/managementcluster-dc1-blocked-warm-standby-conversion.yaml"),
			withHAMode(fixtureCR(t, "objects/managementcluster-dc2-warm-standby.yaml"), apic.HAModeReadyForPromotion, apic.HAStatusReadyToPromote), true},
		{"portal: --from passive: promote", apic.Portal,
			haCR(apic.PortalClusterKind, "passive", "passive", "Ready", "Running"),
			haCR(apic.PortalClusterKind, "passive", "passive", "Ready", "Running"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			planned := withHAMode(tc.from, apic.HAModeBlockedWarmStandbyConversion, "")
			g := newGuardRun(tc.sub, planned, tc.from, tc.to)
			res, err := g.run(t, PhasePromote, 300*time.Millisecond)
			if got := len(g.dc2.patches()) > 0; got != tc.wantPatch {
				t.Fatalf("promote patch sent to dc2: %t, want %t (result %s: %v)", got, tc.wantPatch, res.Status, err)
			}
			if len(g.dc1.patches()) != 0 {
				t.Errorf("dc1 was patched: %v", g.dc1.patches())
			}
			if tc.wantPatch {
				// Nothing plays the operator here: the wait for active times out, outcome unknown.
				if exitcode.FromError(err) != exitcode.Timeout || res.Status != StatusUnknown {
					t.Errorf("after the patch: %s %v, want UNKNOWN and a timeout", res.Status, err)
				}
				return
			}
			if exitcode.FromError(err) != exitcode.Refused || res.Status != StatusFailed ||
				!strings.Contains(err.Error(), "refusing to promote dc2: dc1 is no longer passive") ||
				!strings.Contains(err.Error(), "dc2 was not changed") {
				t.Errorf("got %s %v (exit %s), want FAILED and a refusal naming dc1", res.Status, err, exitcode.FromError(err))
			}
		})
	}
}

// Demotion deletes the site's management data: the engine re-reads --from and does not send the
// demote patch again when it is already in a passive state (the plan may have been made before).
func TestDemoteSkippedWhenAlreadyPassive(t *testing.T) {
	mgmtActive := haCR(apic.ManagementClusterKind, "active", "active", "Ready", "Running")
	ptlActive := haCR(apic.PortalClusterKind, "active", "active", "Ready", "Running")
	passiveTo := func(k apic.Kind) apic.Object { return haCR(k, "passive", "passive", "Ready", "Running") }
	tests := []struct {
		name      string
		sub       apic.Subsystem
		live      apic.Object // --from when the step runs; the plan saw it active
		wantPatch bool
	}{
		{"passive", apic.Management, haCR(apic.ManagementClusterKind, "passive", "passive", "Ready", "Running"), false},
		{"BlockedWarmStandbyConversion (the real sample)", apic.Management,
			fixtureCR(t, "objects/managementcluster-dc1-blocked-warm-standby-conversion.yaml"), false},
		{"warm-standby (the real sample)", apic.Management, fixtureCR(t, "objects/managementcluster-dc2-warm-standby.yaml"), false},
		{"ReadyForPromotion", apic.Management, withHAMode(mgmtActive, apic.HAModeReadyForPromotion, apic.HAStatusReadyToPromote), false},
		{"portal progressing to passive", apic.Portal, withHAMode(ptlActive, apic.HAModeProgressingToPassive, apic.HAStatusPending), false},
		{"management still active: demote", apic.Management, mgmtActive, true},
		{"portal still active: demote", apic.Portal, ptlActive, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			planned := withHAMode(tc.live, "active", "Ready")
			g := newGuardRun(tc.sub, planned, tc.live, passiveTo(tc.live.Kind))
			res, err := g.run(t, PhaseDemote, 300*time.Millisecond)
			patches := g.dc1.patches()
			if got := len(patches) > 0; got != tc.wantPatch {
				t.Fatalf("demote patch sent: %t, want %t (result %s %q: %v)", got, tc.wantPatch, res.Status, res.Message, err)
			}
			if tc.wantPatch {
				want := `"spec":{"multiSiteHA":{"mode":"passive"}}`
				if tc.sub == apic.Management {
					want = `{"metadata":{"annotations":{"` + apic.DataDeletionConfirmationAnnotation + `":"true"}},` + want + `}`
				}
				if !strings.Contains(string(patches[0].GetPatch()), want) {
					t.Errorf("patch %s, want IBM's merge patch %s", patches[0].GetPatch(), want)
				}
				return
			}
			if err != nil || res.Status != StatusSkipped || !strings.Contains(res.Message, "dc1 is already "+tc.live.HAMode()) {
				t.Errorf("got %s %q %v, want SKIPPED: dc1 is already %s", res.Status, res.Message, err, tc.live.HAMode())
			}
		})
	}
}

// Seed 002 step 3: management's promote patch waits until --to shows haMode ReadyForPromotion; the
// portal has no such state and is promoted once --from is passive.
func TestPromoteWaitsForReadyForPromotion(t *testing.T) {
	from := fixtureCR(t, "objects/managementcluster-dc1-blocked-warm-standby-conversion.yaml")
	to := fixtureCR(t, "objects/managementcluster-dc2-warm-standby.yaml") // passive, Warm Standby DB is ready

	t.Run("never ReadyForPromotion: no patch, timeout", func(t *testing.T) {
		g := newGuardRun(apic.Management, from, from, to)
		res, err := g.run(t, PhasePromote, 200*time.Millisecond)
		if n := len(g.dc2.patches()); n != 0 {
			t.Fatalf("%d promote patch(es) sent before ReadyForPromotion", n)
		}
		if exitcode.FromError(err) != exitcode.Timeout || !strings.Contains(err.Error(), "haMode ReadyForPromotion") || res.Status != StatusUnknown {
			t.Errorf("got %s %v, want a timeout waiting for haMode ReadyForPromotion", res.Status, err)
		}
	})

	t.Run("patch only after ReadyForPromotion is seen", func(t *testing.T) {
		g := newGuardRun(apic.Management, from, from, to)
		wait := g.runAsync(t, PhasePromote, 2*time.Second)
		fw := g.dc2.nextWatch(t) // the ReadyForPromotion wait has listed --to (passive) and watches
		time.Sleep(50 * time.Millisecond)
		if n := len(g.dc2.patches()); n != 0 {
			t.Fatalf("%d promote patch(es) sent while --to is passive", n)
		}
		fw.Modify(withHAMode(to, apic.HAModeReadyForPromotion, apic.HAStatusReadyToPromote).U)
		fw = g.dc2.nextWatch(t) // the wait for active
		if n := len(g.dc2.patches()); n != 1 {
			t.Fatalf("%d promote patches after ReadyForPromotion, want 1", n)
		}
		active := fixtureCR(t, "objects/managementcluster-dc2-active.yaml")
		active.SetStatusField("Running", "phase")
		fw.Modify(active.U)
		res, err := wait()
		if err != nil || res.Status != StatusPassed || !strings.Contains(res.Message, "haMode active") {
			t.Errorf("got %s %q %v, want PASSED", res.Status, res.Message, err)
		}
	})

	t.Run("portal: no ReadyForPromotion state, promoted at once", func(t *testing.T) {
		ptl := haCR(apic.PortalClusterKind, "passive", "passive", "Ready", "Running")
		g := newGuardRun(apic.Portal, ptl, ptl, ptl)
		_, _ = g.run(t, PhasePromote, 200*time.Millisecond)
		if n := len(g.dc2.patches()); n != 1 {
			t.Errorf("%d portal promote patches, want 1", n)
		}
	})
}

// An object deleted while a step waits on it ends the wait at once with an error naming it, even
// when its last state would meet the condition: it is not "ready for promotion", it is gone.
func TestDeletedDuringWait(t *testing.T) {
	from := fixtureCR(t, "objects/managementcluster-dc1-blocked-warm-standby-conversion.yaml")
	to := fixtureCR(t, "objects/managementcluster-dc2-warm-standby.yaml")
	tests := []struct {
		name string
		last apic.Object // the object in the Deleted event
	}{
		{"while passive", to},
		{"last state ReadyForPromotion", withHAMode(to, apic.HAModeReadyForPromotion, apic.HAStatusReadyToPromote)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newGuardRun(apic.Management, from, from, to)
			start := time.Now()
			wait := g.runAsync(t, PhasePromote, 3*time.Second)
			g.dc2.nextWatch(t).Delete(tc.last.U)
			res, err := wait()
			if n := len(g.dc2.patches()); n != 0 {
				t.Fatalf("%d promote patch(es) sent after the object was deleted", n)
			}
			if err == nil || !strings.Contains(err.Error(), "mgmt/apim-demo-mgmt was deleted on dc2") ||
				exitcode.FromError(err) != exitcode.PromoteFailed || res.Status != StatusFailed {
				t.Errorf("got %s %v (exit %s), want FAILED: mgmt/apim-demo-mgmt was deleted on dc2", res.Status, err, exitcode.FromError(err))
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("the wait ended after %s, not at the Deleted event", d)
			}
		})
	}
}

// A wait that times out says what it waited for, where, what it last saw, that the operator may
// still complete it and how to resume or allow more time; the step's outcome is UNKNOWN.
func TestWaitTimeoutMessage(t *testing.T) {
	from := haCR(apic.ManagementClusterKind, "active", "active", "Ready", "Running")
	to := haCR(apic.ManagementClusterKind, "passive", "passive", "Ready", "Running")
	g := newGuardRun(apic.Management, from, from, to)
	wait := g.runAsync(t, PhaseDemote, 150*time.Millisecond)
	// The operator starts the demotion but does not finish it in time.
	g.dc1.nextWatch(t).Modify(withHAMode(from, "active", apic.HAStatusPending).U)
	res, err := wait()
	if exitcode.FromError(err) != exitcode.Timeout || res.Status != StatusUnknown {
		t.Fatalf("got %s %v (exit %s), want UNKNOWN and exit Timeout", res.Status, err, exitcode.FromError(err))
	}
	for _, want := range []string{
		"timed out after 150ms waiting on dc1 for mgmt/production-mgmt: haMode BlockedWarmStandbyConversion (or passive)",
		"(last seen: haMode=active haStatus=Pending phase=Running)",
		"The operator may still complete it: check the API Connect operator log on dc1",
		"re-run the same command to resume",
		"allow more time with --demote-timeout/--promote-timeout",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("timeout message %q\nlacks %q", err, want)
		}
	}
	if len(g.dc1.patches()) != 1 {
		t.Errorf("demote patches: %d, want 1", len(g.dc1.patches()))
	}
}
