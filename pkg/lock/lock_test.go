package lock

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

func sites() []Target {
	return []Target{
		{Site: "dc2", Client: fake.NewClientset(), Namespace: "apic"},
		{Site: "dc1", Client: fake.NewClientset(), Namespace: "apic"},
	}
}

func holder(run string, pid int) Holder {
	return Holder{User: "alice", Host: "laptop", PID: pid, Command: "kubectl apic failover --from dc1 --to dc2", RunID: run}
}

func TestAcquireOnEverySiteAndRelease(t *testing.T) {
	ctx := context.Background()
	ts := sites()
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l, err := Acquire(ctx, ts, holder("a", 10), Options{Clock: clk, Alive: func(int) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range ts {
		le, err := Inspect(ctx, tg, "")
		if err != nil || le == nil {
			t.Fatalf("%s: lease %v %v", tg.Site, le, err)
		}
		if got := ptr.Deref(le.Spec.HolderIdentity, ""); got != "alice@laptop pid 10" {
			t.Errorf("%s: holder %q", tg.Site, got)
		}
		if le.Annotations[AnnotationCommand] == "" || *le.Spec.LeaseDurationSeconds != 60 {
			t.Errorf("%s: lease %+v", tg.Site, le)
		}
	}
	if err := l.Annotate(ctx, map[string]string{"journal": "x"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tg := range ts {
		le, _ := Inspect(ctx, tg, "")
		if _, held := HolderOf(le); held {
			t.Errorf("%s still held after Release", tg.Site)
		}
		if le.Annotations["journal"] != "x" {
			t.Errorf("%s: journal annotation lost on release", tg.Site)
		}
	}
}

func TestContention(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		advance   time.Duration
		alive     bool
		otherHost bool
		force     bool
		wantHeld  bool
	}{
		{name: "live holder refuses", advance: 10 * time.Second, alive: true, wantHeld: true},
		{name: "expired lease is taken over", advance: 61 * time.Second, alive: true},
		{name: "dead process on this host is taken over", advance: time.Second, alive: false},
		{name: "dead pid on another host still counts", advance: time.Second, alive: false, otherHost: true, wantHeld: true},
		{name: "force-unlock", advance: time.Second, alive: true, force: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := sites()
			clk := clocktesting.NewFakeClock(start)
			first := holder("first", 10)
			if tc.otherHost {
				first.Host = "other"
			}
			alive := func(int) bool { return tc.alive }
			if _, err := Acquire(ctx, ts, first, Options{Clock: clk, Alive: alive}); err != nil {
				t.Fatal(err)
			}
			clk.Step(tc.advance)
			second, err := Acquire(ctx, ts, holder("second", 20), Options{Clock: clk, Alive: alive, Force: tc.force})
			var held *HeldError
			if tc.wantHeld {
				if !errors.As(err, &held) {
					t.Fatalf("want HeldError, got %v", err)
				}
				if held.Site != "dc1" || !strings.Contains(err.Error(), "alice@") || !strings.Contains(err.Error(), "--from dc1 --to dc2") {
					t.Errorf("error does not name the holder and first site: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(second.TakeOvers) != 2 {
				t.Errorf("take-overs %+v", second.TakeOvers)
			}
		})
	}
}

func TestFailedAcquireReleasesWhatItTook(t *testing.T) {
	ctx := context.Background()
	ts := sites()
	clk := clocktesting.NewFakeClock(time.Now())
	alive := func(int) bool { return true }
	// Someone holds only dc2: acquisition takes dc1 first, then fails on dc2, and must give dc1 back.
	if _, err := Acquire(ctx, ts[:1], holder("other", 5), Options{Clock: clk, Alive: alive}); err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(ctx, ts, holder("me", 6), Options{Clock: clk, Alive: alive}); err == nil {
		t.Fatal("acquired a lease held by another run")
	}
	le, _ := Inspect(ctx, ts[1], "")
	if _, held := HolderOf(le); held {
		t.Errorf("dc1 left held after a failed acquisition: %v", le.Spec.HolderIdentity)
	}
}

func TestKeepLosesToATakeOver(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ts := sites()
	clk := clocktesting.NewFakeClock(time.Now())
	l, err := Acquire(ctx, ts, holder("me", 6), Options{Clock: clk, Alive: func(int) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	go l.Keep(ctx)
	// Another run forces the lease on dc1.
	le, _ := ts[1].Client.CoordinationV1().Leases("apic").Get(ctx, DefaultName, metav1.GetOptions{})
	le.Annotations[AnnotationRunID] = "thief"
	if _, err := ts[1].Client.CoordinationV1().Leases("apic").Update(ctx, le, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(5 * time.Second)
	for {
		clk.Step(DefaultRenew)
		select {
		case <-l.Lost():
			if !strings.Contains(l.Err().Error(), "lost the lock") {
				t.Errorf("Err = %v", l.Err())
			}
			return
		case <-deadline:
			t.Fatal("Keep did not notice the take-over")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestRacesRetry: another run writing the lease between our read and our write (a conflict on
// update, an AlreadyExists on create) makes us read again; a lease that never stops changing ends
// in an error that says so.
func TestRacesRetry(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		verb     string
		failures int
		wantErr  string
	}{
		{name: "create races another creator", verb: "create", failures: 1},
		{name: "update conflicts twice", verb: "update", failures: 2},
		{name: "update conflicts forever", verb: "update", failures: 100, wantErr: "kept changing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs := fake.NewClientset()
			tg := Target{Site: "dc1", Client: cs, Namespace: "apic"}
			if tc.verb == "update" { // a released lease exists, so acquiring updates it
				l, err := Acquire(ctx, []Target{tg}, holder("old", 1), Options{})
				if err != nil {
					t.Fatal(err)
				}
				if err := l.Release(ctx); err != nil {
					t.Fatal(err)
				}
			}
			calls := 0
			cs.PrependReactor(tc.verb, "leases", func(action k8stesting.Action) (bool, runtime.Object, error) {
				calls++
				if calls > tc.failures {
					return false, nil, nil
				}
				gr := schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}
				if tc.verb == "create" {
					return true, nil, apierrors.NewAlreadyExists(gr, DefaultName)
				}
				return true, nil, apierrors.NewConflict(gr, DefaultName, errors.New("the object has been modified"))
			})
			l, err := Acquire(ctx, []Target{tg}, holder("new", 2), Options{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Acquire after %d %s race(s): %v", tc.failures, tc.verb, err)
			}
			if calls != tc.failures+1 {
				t.Errorf("%d %s calls, want %d", calls, tc.verb, tc.failures+1)
			}
			le, _ := Inspect(ctx, tg, "")
			if h, held := HolderOf(le); !held || h.PID != 2 {
				t.Errorf("lease holder %+v held=%v, want pid 2", h, held)
			}
			_ = l.Release(ctx)
		})
	}
}

// TestHoldEndsTheRunWhenTheLockIsLost: the context a run changes things under ends, with the lock's
// error as its cause, once another run has taken the lease over; stop ends it otherwise.
func TestHoldEndsTheRunWhenTheLockIsLost(t *testing.T) {
	ctx := context.Background()
	ts := sites()
	clk := clocktesting.NewFakeClock(time.Now())
	l, err := Acquire(ctx, ts, holder("me", 7), Options{Clock: clk, Alive: func(int) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	held, stop := l.Hold(ctx)
	defer stop()
	le, _ := ts[1].Client.CoordinationV1().Leases("apic").Get(ctx, DefaultName, metav1.GetOptions{})
	le.Annotations[AnnotationRunID] = "thief"
	if _, err := ts[1].Client.CoordinationV1().Leases("apic").Update(ctx, le, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(5 * time.Second)
	for {
		clk.Step(DefaultRenew)
		select {
		case <-held.Done():
			if cause := context.Cause(held); cause == nil || !strings.Contains(cause.Error(), "lost the lock") {
				t.Errorf("cause = %v, want the lock's error", cause)
			}
			return
		case <-deadline:
			t.Fatal("the held context did not end when the lock was lost")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestHoldStop(t *testing.T) {
	l, err := Acquire(context.Background(), sites(), holder("me", 8), Options{})
	if err != nil {
		t.Fatal(err)
	}
	held, stop := l.Hold(context.Background())
	stop()
	<-held.Done()
	if cause := context.Cause(held); !errors.Is(cause, context.Canceled) {
		t.Errorf("cause after stop = %v, want context.Canceled", cause)
	}
}

func TestExpiryAndLiveHolder(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *metav1.MicroTime { return &metav1.MicroTime{Time: t0.Add(d)} }
	for _, tt := range []struct {
		name string
		spec coordinationv1.LeaseSpec
		want time.Time
		live bool // at t0+30s
	}{
		{name: "renewed", spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("a@elsewhere pid 1"), RenewTime: at(10 * time.Second),
			AcquireTime: at(0), LeaseDurationSeconds: ptr.To(int32(60))}, want: t0.Add(70 * time.Second), live: true},
		{name: "acquired only", spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("a@elsewhere pid 1"), AcquireTime: at(0),
			LeaseDurationSeconds: ptr.To(int32(20))}, want: t0.Add(20 * time.Second)},
		{name: "creation, default duration", spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("a@elsewhere pid 1")},
			want: t0.Add(DefaultDuration), live: DefaultDuration > 30*time.Second},
		{name: "nobody holds it", spec: coordinationv1.LeaseSpec{RenewTime: at(0)}, want: t0.Add(DefaultDuration)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			le := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.Time{Time: t0}}, Spec: tt.spec}
			if got := Expiry(le, DefaultDuration); !got.Equal(tt.want) {
				t.Errorf("Expiry %v, want %v", got, tt.want)
			}
			if _, exp, live := LiveHolder(le, t0.Add(30*time.Second)); live != tt.live || (live && !exp.Equal(tt.want)) {
				t.Errorf("LiveHolder live %v expires %v, want %v", live, exp, tt.live)
			}
		})
	}
}
