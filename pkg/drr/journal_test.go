package drr

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/lock"
)

func TestJournalVerdicts(t *testing.T) {
	now := time.Date(2026, 12, 1, 23, 0, 0, 0, time.UTC)
	lease := func(held bool, renewed time.Time, kv map[string]string) *coordinationv1.Lease {
		le := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: LeaseName("gw"), Annotations: kv}}
		if held {
			le.Spec.HolderIdentity = ptr.To("sre@host pid 7")
			le.Spec.RenewTime = &metav1.MicroTime{Time: renewed}
			le.Spec.LeaseDurationSeconds = ptr.To(int32(60))
		}
		return le
	}
	for _, tt := range []struct {
		name                   string
		le                     *coordinationv1.Lease
		unfinished, inProgress bool
	}{
		{name: "no lease", le: nil},
		{name: "succeeded", le: lease(false, now, map[string]string{JournalState: JournalSucceeded, JournalStep: StepHealth})},
		{name: "interrupted after the flush", le: lease(false, now, map[string]string{JournalState: JournalInterrupted, JournalStep: StepFlush, JournalFlushed: "true"}),
			unfinished: true},
		{name: "failed before the flush", le: lease(false, now, map[string]string{JournalState: JournalFailed, JournalStep: StepPrimary})},
		{name: "running, live", le: lease(true, now.Add(-10*time.Second), map[string]string{JournalState: JournalRunning, JournalStep: StepCycle, JournalFlushed: "true"}),
			inProgress: true},
		{name: "running, lease expired (killed)", le: lease(true, now.Add(-2*time.Minute), map[string]string{JournalState: JournalRunning, JournalStep: StepCycle, JournalFlushed: "true"}),
			unfinished: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			j := JournalFromLease(tt.le, now)
			if j.Unfinished() != tt.unfinished || j.InProgress() != tt.inProgress {
				t.Errorf("unfinished %v in progress %v, want %v %v (%+v)", j.Unfinished(), j.InProgress(), tt.unfinished, tt.inProgress, j)
			}
			left := Left(j, map[string]string{"gw-0": "enabled", "gw-1": "disabled"}, []string{"gw-0", "gw-1"})
			if want := 1 + b2i(tt.unfinished); len(left) != want || !strings.Contains(left[len(left)-1], "member gw-1: apic-gw-service admin-state is disabled") {
				t.Errorf("left %q", left)
			}
		})
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// stepLog is a StepJournal recording what the runner marked, and what the device had seen by then.
type stepLog struct {
	mu    sync.Mutex
	steps []string
	fail  string
	seen  func() bool
	early bool // a step was marked after the device had already been flushed
}

func (s *stepLog) Step(_ context.Context, step string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.steps = append(s.steps, step)
	if step == StepFlush && s.seen() {
		s.early = true
	}
	if step == s.fail {
		return context.DeadlineExceeded
	}
	return nil
}

func TestJournalMarksTheFlushBeforeTheDevice(t *testing.T) {
	f := newFixture(t, 3)
	j := &stepLog{seen: func() bool { return f.g.Flushed("gwd") }}
	if _, err := run(t, f.config(func(c *Config) { c.Journal = j })); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(j.steps, ","); got != "switch-primary,flush,cycle-gw-service,registration,peering-health" || j.early {
		t.Errorf("marked %s (flush marked after the device flushed: %v)", got, j.early)
	}

	// A journal that cannot record the flush stops the run before the flush.
	f = newFixture(t, 3)
	j = &stepLog{seen: func() bool { return false }, fail: StepFlush}
	_, err := run(t, f.config(func(c *Config) { c.Journal = j }))
	if exitcode.FromError(err) != exitcode.DRRFlushFailed || !strings.Contains(err.Error(), "nothing was flushed") || f.g.Flushed("gwd") {
		t.Errorf("err %v, flushed %v", err, f.g.Flushed("gwd"))
	}
}

// Two runs on one gateway: the second is refused, naming the holder; the journal survives release.
func TestLeaseRefusesASecondRun(t *testing.T) {
	ctx := context.Background()
	kube := fake.NewClientset()
	first, err := TakeLease(ctx, kube, "dc1", "apic", "gw", lock.CurrentHolder("kubectl apic drr gw"), lock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(ctx, "gwd"); err != nil {
		t.Fatal(err)
	}
	if err := first.Step(ctx, StepFlush); err != nil {
		t.Fatal(err)
	}
	_, err = TakeLease(ctx, kube, "dc1", "apic", "gw", lock.CurrentHolder("kubectl apic drr gw"), lock.Options{})
	if exitcode.FromError(err) != exitcode.Refused || !strings.Contains(err.Error(), "another DRR of gateway apic/gw is running") ||
		!strings.Contains(err.Error(), "kubectl apic drr gw") {
		t.Errorf("second run: %v", err)
	}
	if err := first.Finish(ctx, exitcode.New(exitcode.Interrupted, context.Canceled)); err != nil {
		t.Fatal(err)
	}
	if err := first.Release(ctx); err != nil {
		t.Fatal(err)
	}
	j, err := ReadJournal(ctx, kube, "apic", "gw", time.Now())
	if err != nil || !j.Unfinished() || j.State != JournalInterrupted || j.Step != StepFlush {
		t.Errorf("journal %+v %v", j, err)
	}
	second, err := TakeLease(ctx, kube, "dc1", "apic", "gw", lock.CurrentHolder("kubectl apic drr gw"), lock.Options{})
	if err != nil || !second.Previous().Unfinished() {
		t.Fatalf("%v %+v", err, second)
	}
	_ = second.Start(ctx, "gwd")
	_ = second.Finish(ctx, nil)
	_ = second.Release(ctx)
	if j, _ := ReadJournal(ctx, kube, "apic", "gw", time.Now()); j.Unfinished() || j.State != JournalSucceeded {
		t.Errorf("after a finished run: %+v", j)
	}
}

// A run killed with SIGKILL leaves its lease held until it expires; a holder of this host whose
// process is gone is not a DRR in progress: the gateway is left mid-DRR.
func TestJournalOfAKilledRun(t *testing.T) {
	host, _ := os.Hostname()
	now := time.Now()
	le := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: LeaseName("gw"), Annotations: map[string]string{
		JournalState: JournalRunning, JournalStep: StepCycle, JournalFlushed: "true",
		lock.AnnotationHost: host, lock.AnnotationPID: "999999999"}}}
	le.Spec.HolderIdentity = ptr.To("sre@" + host + " pid 999999999")
	le.Spec.RenewTime = &metav1.MicroTime{Time: now}
	le.Spec.LeaseDurationSeconds = ptr.To(int32(60))
	j := JournalFromLease(le, now)
	if j.InProgress() || !j.Unfinished() || !strings.Contains(j.Describe(), "without recording an end") {
		t.Errorf("%+v: %s", j, j.Describe())
	}
}

// Flushed is the journal's word: true once this run recorded its flush step, or when the run it
// finishes left the peering flushed; a flush step whose record failed flushed nothing.
func TestGuardFlushed(t *testing.T) {
	ctx := context.Background()
	kube := fake.NewClientset()
	g, err := TakeLease(ctx, kube, "dc1", "apic", "gw", lock.CurrentHolder("kubectl apic drr gw"), lock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(ctx, "gwd"); err != nil {
		t.Fatal(err)
	}
	if err := g.Step(ctx, StepPrimary); err != nil || g.Flushed() {
		t.Fatalf("before the flush: flushed %v, %v", g.Flushed(), err)
	}
	kube.PrependReactor("update", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("apiserver unreachable")
	})
	if err := g.Step(ctx, StepFlush); err == nil || g.Flushed() {
		t.Fatalf("flush not recorded: flushed %v, %v", g.Flushed(), err)
	}
	kube.ReactionChain = kube.ReactionChain[1:]
	if err := g.Step(ctx, StepFlush); err != nil || !g.Flushed() {
		t.Fatalf("flush recorded: flushed %v, %v", g.Flushed(), err)
	}
	_ = g.Finish(ctx, errors.New("cycle failed"))
	_ = g.Release(ctx)
	next, err := TakeLease(ctx, kube, "dc1", "apic", "gw", lock.CurrentHolder("kubectl apic drr gw"), lock.Options{})
	if err != nil || !next.Flushed() {
		t.Fatalf("finishing run: flushed %v, %v", next != nil && next.Flushed(), err)
	}
}
