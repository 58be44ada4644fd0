// Package lock is the cross-site lock of mutating multi-site commands: one coordination.k8s.io Lease
// per site (e.g. apic-failover in the API Connect namespace), held on every site for the whole run,
// naming its holder (user@host, pid, command), renewed while the run lives and expiring when it is
// abandoned, so that two failovers can never interleave their patches.
//
//	l, err := lock.Acquire(ctx, targets, lock.CurrentHolder("kubectl apic failover --from dc1 --to dc2"), lock.Options{})
//	if err != nil { return err } // a *HeldError names the holder
//	defer l.Release(context.Background())
//	go l.Keep(ctx)                // renews every Renew; l.Lost() closes if another run took it over
//
// A Lease is never deleted: releasing clears its holder and keeps its annotations, which callers use
// as a journal of the last run (Annotate).
package lock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
)

// Defaults: a crashed run's lease is taken over a minute after its last renewal; a live run renews
// four times per lease duration so one slow API call never loses it.
const (
	DefaultName     = "apic-failover"
	DefaultDuration = 60 * time.Second
	DefaultRenew    = 15 * time.Second
)

// Annotations naming the holder beyond Lease.spec.holderIdentity ("user@host pid N").
const (
	AnnotationCommand = "kubectl-apic.io/command"
	AnnotationRunID   = "kubectl-apic.io/run-id"
	AnnotationHost    = "kubectl-apic.io/host"
	AnnotationPID     = "kubectl-apic.io/pid"
)

// Holder identifies one run of a command.
type Holder struct {
	User    string
	Host    string
	PID     int
	Command string
	// RunID tells two runs of the same process apart (tests run commands in-process).
	RunID string
}

// CurrentHolder describes this process running command.
func CurrentHolder(command string) Holder {
	h := Holder{User: "unknown", PID: os.Getpid(), Command: command, RunID: rand.String(10)}
	if u, err := user.Current(); err == nil && u.Username != "" {
		h.User = u.Username
	}
	if host, err := os.Hostname(); err == nil {
		h.Host = host
	}
	return h
}

// Identity is "user@host pid N", the Lease's holderIdentity.
func (h Holder) Identity() string { return fmt.Sprintf("%s@%s pid %d", h.User, h.Host, h.PID) }

// String is the identity and the command, for messages.
func (h Holder) String() string {
	if h.Command == "" {
		return h.Identity()
	}
	return fmt.Sprintf("%s (%s)", h.Identity(), h.Command)
}

// Target is one site's Lease location.
type Target struct {
	Site      string
	Client    kubernetes.Interface
	Namespace string
}

// Options tune the lock; zero values take the defaults.
type Options struct {
	Name     string
	Duration time.Duration
	Renew    time.Duration
	// Force takes the lease over even from a live holder (--force-unlock).
	Force bool
	Clock clock.WithTicker
	// Alive reports whether a process of this host is running; a lease held by a dead process of
	// this host is taken over at once instead of after expiry. Nil means a signal-0 probe.
	Alive func(pid int) bool
}

func (o *Options) defaults() {
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.Duration <= 0 {
		o.Duration = DefaultDuration
	}
	if o.Renew <= 0 {
		o.Renew = DefaultRenew
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Alive == nil {
		o.Alive = processAlive
	}
}

// ReleasedError says this run's lease was released by someone else (another run took it over and
// finished, or a person cleared it).
type ReleasedError struct{ Site, Lease string }

func (e *ReleasedError) Error() string {
	return fmt.Sprintf("lease %s on %s was released by someone else (another run took it over meanwhile)", e.Lease, e.Site)
}

// HeldError says another run holds the lock.
type HeldError struct {
	Site      string
	Lease     string
	Namespace string
	Holder    Holder
	Renewed   time.Time
	Expires   time.Time
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("another run holds lease %s/%s on %s: %s, last renewed %s; it expires at %s if that run is gone (or re-run with --force-unlock once you are sure it is)",
		e.Namespace, e.Lease, e.Site, e.Holder, e.Renewed.UTC().Format(time.RFC3339), e.Expires.UTC().Format(time.RFC3339))
}

// TakeOver records a stale lease this run took over, for the caller to report.
type TakeOver struct {
	Site     string
	Previous Holder
	Reason   string
}

// Lock is held Leases on every target.
type Lock struct {
	holder  Holder
	opts    Options
	targets []Target

	mu     sync.Mutex
	leases map[string]*coordinationv1.Lease // last written, by site
	// Previous holds each lease as it was before this run acquired it (nil: created).
	Previous  map[string]*coordinationv1.Lease
	TakeOvers []TakeOver

	lostOnce sync.Once
	lost     chan struct{}
	lostErr  error
}

// Acquire takes the lease on every target, in site-name order so that two runs over the same sites
// contend on the same lease first. On failure it releases what it took and returns the first error
// (a *HeldError when another run holds a lease).
func Acquire(ctx context.Context, targets []Target, holder Holder, opts Options) (*Lock, error) {
	opts.defaults()
	sorted := append([]Target(nil), targets...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Site < sorted[j].Site })
	l := &Lock{holder: holder, opts: opts, targets: sorted, leases: map[string]*coordinationv1.Lease{},
		Previous: map[string]*coordinationv1.Lease{}, lost: make(chan struct{})}
	for _, t := range sorted {
		if err := l.acquire(ctx, t); err != nil {
			_ = l.Release(context.WithoutCancel(ctx))
			return nil, err
		}
	}
	return l, nil
}

func (l *Lock) acquire(ctx context.Context, t Target) error {
	leases := t.Client.CoordinationV1().Leases(t.Namespace)
	// Another run may create or renew the lease between our read and our write: read again.
	raced := func(err error) bool { return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) }
	err := retry.OnError(retry.DefaultRetry, raced, func() error {
		cur, err := leases.Get(ctx, l.opts.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			n := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: l.opts.Name, Namespace: t.Namespace}}
			l.stamp(n, true)
			created, err := leases.Create(ctx, n, metav1.CreateOptions{})
			if err != nil {
				return err
			}
			l.record(t.Site, created, nil)
			return nil
		}
		if err != nil {
			return err
		}
		if held := l.heldByOther(t, cur); held != nil {
			return held
		}
		upd := cur.DeepCopy()
		l.stamp(upd, !l.ours(cur))
		written, err := leases.Update(ctx, upd, metav1.UpdateOptions{})
		if err != nil {
			return err
		}
		l.record(t.Site, written, cur)
		return nil
	})
	if raced(err) {
		return fmt.Errorf("lease %s/%s on %s: kept changing while acquiring it: %w", t.Namespace, l.opts.Name, t.Site, err)
	}
	return err
}

// record keeps the lease as written and, on acquisition, as it was before (nil: created by us).
func (l *Lock) record(site string, written, previous *coordinationv1.Lease) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.leases[site], l.Previous[site] = written, previous
}

// heldByOther returns a HeldError when cur is held, live, by another run; it records take-overs of
// stale leases.
func (l *Lock) heldByOther(t Target, cur *coordinationv1.Lease) *HeldError {
	if l.ours(cur) || ptr.Deref(cur.Spec.HolderIdentity, "") == "" {
		return nil
	}
	other := holderOf(cur)
	now := l.opts.Clock.Now()
	renewed, expires := renewTime(cur), Expiry(cur, l.opts.Duration)
	switch {
	case l.opts.Force:
		l.TakeOvers = append(l.TakeOvers, TakeOver{Site: t.Site, Previous: other, Reason: "--force-unlock"})
		return nil
	case !now.Before(expires):
		l.TakeOvers = append(l.TakeOvers, TakeOver{Site: t.Site, Previous: other,
			Reason: fmt.Sprintf("expired %s ago", now.Sub(expires).Round(time.Second))})
		return nil
	case other.Host != "" && other.Host == l.holder.Host && other.PID > 0 && !l.opts.Alive(other.PID):
		l.TakeOvers = append(l.TakeOvers, TakeOver{Site: t.Site, Previous: other,
			Reason: fmt.Sprintf("process %d is no longer running on this host", other.PID)})
		return nil
	}
	return &HeldError{Site: t.Site, Lease: cur.Name, Namespace: cur.Namespace, Holder: other, Renewed: renewed, Expires: expires}
}

func (l *Lock) ours(le *coordinationv1.Lease) bool {
	return le.Annotations[AnnotationRunID] == l.holder.RunID && ptr.Deref(le.Spec.HolderIdentity, "") != ""
}

// stamp writes this run as holder; acquire also resets the acquisition time.
func (l *Lock) stamp(le *coordinationv1.Lease, acquire bool) {
	now := metav1.NewMicroTime(l.opts.Clock.Now())
	if le.Annotations == nil {
		le.Annotations = map[string]string{}
	}
	le.Annotations[AnnotationCommand] = l.holder.Command
	le.Annotations[AnnotationRunID] = l.holder.RunID
	le.Annotations[AnnotationHost] = l.holder.Host
	le.Annotations[AnnotationPID] = strconv.Itoa(l.holder.PID)
	le.Spec.HolderIdentity = ptr.To(l.holder.Identity())
	le.Spec.LeaseDurationSeconds = ptr.To(int32(l.opts.Duration / time.Second))
	le.Spec.RenewTime = &now
	if acquire {
		le.Spec.AcquireTime = &now
		le.Spec.LeaseTransitions = ptr.To(ptr.Deref(le.Spec.LeaseTransitions, 0) + 1)
	}
}

func holderOf(le *coordinationv1.Lease) Holder {
	h := Holder{Command: le.Annotations[AnnotationCommand], RunID: le.Annotations[AnnotationRunID],
		Host: le.Annotations[AnnotationHost]}
	h.PID, _ = strconv.Atoi(le.Annotations[AnnotationPID])
	id := ptr.Deref(le.Spec.HolderIdentity, "")
	// holderIdentity is "user@host pid N"; leases written by other tools carry any string.
	if at := strings.IndexByte(id, '@'); at > 0 {
		h.User = id[:at]
	}
	if h.Host == "" && h.User == "" {
		h.User = id
	}
	return h
}

func renewTime(le *coordinationv1.Lease) time.Time {
	switch {
	case le.Spec.RenewTime != nil:
		return le.Spec.RenewTime.Time
	case le.Spec.AcquireTime != nil:
		return le.Spec.AcquireTime.Time
	}
	return le.CreationTimestamp.Time
}

// Expiry is when le's claim ends: its last renewal (else its acquisition, else its creation) plus
// its duration, def when it names none.
func Expiry(le *coordinationv1.Lease, def time.Duration) time.Time {
	return renewTime(le).Add(time.Duration(ptr.Deref(le.Spec.LeaseDurationSeconds, int32(def/time.Second))) * time.Second)
}

// LiveHolder describes le's holder and when its claim expires; ok is false when nobody holds le,
// its claim expired by now (a lease naming no duration lasts DefaultDuration), or its holder is a
// process of this host that no longer runs (HolderGone). For status views.
func LiveHolder(le *coordinationv1.Lease, now time.Time) (h Holder, expires time.Time, ok bool) {
	h, held := HolderOf(le)
	if !held {
		return Holder{}, time.Time{}, false
	}
	expires = Expiry(le, DefaultDuration)
	if !now.Before(expires) || HolderGone(h) {
		return Holder{}, time.Time{}, false
	}
	return h, expires, true
}

// Holder is this lock's holder.
func (l *Lock) Holder() Holder { return l.holder }

// Sites lists the sites the lock is held on.
func (l *Lock) Sites() []string {
	out := make([]string, 0, len(l.targets))
	for _, t := range l.targets {
		out = append(out, t.Site)
	}
	return out
}

// Keep renews every lease each Renew until ctx ends. If a lease is found held by another run (ours
// expired while the network was down and someone took it over) or cannot be renewed for a whole
// lease duration, Lost() closes and Err says why: the caller must stop changing things.
func (l *Lock) Keep(ctx context.Context) {
	t := l.opts.Clock.NewTicker(l.opts.Renew)
	defer t.Stop()
	lastOK := map[string]time.Time{}
	for _, tg := range l.targets {
		lastOK[tg.Site] = l.opts.Clock.Now()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.lost:
			return
		case <-t.C():
		}
		for _, tg := range l.targets {
			err := l.renew(ctx, tg)
			if err == nil {
				lastOK[tg.Site] = l.opts.Clock.Now()
				continue
			}
			if ctx.Err() != nil {
				return
			}
			var held *HeldError
			var released *ReleasedError
			if errors.As(err, &held) || errors.As(err, &released) {
				// Someone else holds it, or took it and let it go (a run that went on after this one
				// was paused): either way this run's changes are no longer its own to make.
				l.lose(fmt.Errorf("lost the lock: %w", err))
				return
			}
			if l.opts.Clock.Since(lastOK[tg.Site]) >= l.opts.Duration {
				l.lose(fmt.Errorf("lost the lock: lease %s on %s could not be renewed for %s: %w", l.opts.Name, tg.Site, l.opts.Duration, err))
				return
			}
		}
	}
}

func (l *Lock) renew(ctx context.Context, t Target) error {
	return l.update(ctx, t, func(le *coordinationv1.Lease) { l.stamp(le, false) })
}

// update applies fn to the site's lease if this run still holds it, retrying conflicts.
func (l *Lock) update(ctx context.Context, t Target, fn func(*coordinationv1.Lease)) error {
	leases := t.Client.CoordinationV1().Leases(t.Namespace)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := leases.Get(ctx, l.opts.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !l.ours(cur) {
			if ptr.Deref(cur.Spec.HolderIdentity, "") == "" {
				return &ReleasedError{Site: t.Site, Lease: l.opts.Name}
			}
			return &HeldError{Site: t.Site, Lease: cur.Name, Namespace: cur.Namespace, Holder: holderOf(cur), Renewed: renewTime(cur)}
		}
		upd := cur.DeepCopy()
		fn(upd)
		written, err := leases.Update(ctx, upd, metav1.UpdateOptions{})
		if err != nil {
			return err
		}
		l.mu.Lock()
		l.leases[t.Site] = written
		l.mu.Unlock()
		return nil
	})
	if apierrors.IsConflict(err) {
		return fmt.Errorf("lease %s on %s kept changing: %w", l.opts.Name, t.Site, err)
	}
	return err
}

func (l *Lock) lose(err error) {
	l.lostOnce.Do(func() {
		l.mu.Lock()
		l.lostErr = err
		l.mu.Unlock()
		close(l.lost)
	})
}

// Hold renews the lock while the returned context lives (Keep) and ends that context, with Err as
// its cause, as soon as the lock is lost: a run does its changes under it, so that it stops once
// another run may have taken over. stop ends the renewal.
func (l *Lock) Hold(ctx context.Context) (held context.Context, stop func()) {
	runCtx, cancel := context.WithCancelCause(ctx)
	go l.Keep(runCtx)
	go func() {
		select {
		case <-l.Lost():
			cancel(l.Err())
		case <-runCtx.Done():
		}
	}()
	return runCtx, func() { cancel(nil) }
}

// Lost closes when the lock is lost.
func (l *Lock) Lost() <-chan struct{} { return l.lost }

// Err is why the lock was lost, or nil.
func (l *Lock) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lostErr
}

// Annotate sets annotations on every held lease (callers keep a journal there: it survives Release).
// An empty value removes the key.
func (l *Lock) Annotate(ctx context.Context, kv map[string]string) error {
	var errs []error
	for _, t := range l.targets {
		errs = append(errs, l.update(ctx, t, func(le *coordinationv1.Lease) {
			if le.Annotations == nil {
				le.Annotations = map[string]string{}
			}
			for k, v := range kv {
				if v == "" {
					delete(le.Annotations, k)
				} else {
					le.Annotations[k] = v
				}
			}
			l.stamp(le, false)
		}))
	}
	return errors.Join(errs...)
}

// Release clears the holder of every lease this run still holds; the annotations of the journal
// stay. Leases held by someone else meanwhile are left alone.
func (l *Lock) Release(ctx context.Context) error {
	var errs []error
	l.mu.Lock()
	held := make([]Target, 0, len(l.targets))
	for _, t := range l.targets {
		if l.leases[t.Site] != nil {
			held = append(held, t)
		}
	}
	l.mu.Unlock()
	for _, t := range held {
		err := l.update(ctx, t, func(le *coordinationv1.Lease) {
			le.Spec.HolderIdentity = nil
			le.Spec.RenewTime = nil
			for _, k := range []string{AnnotationCommand, AnnotationRunID, AnnotationHost, AnnotationPID} {
				delete(le.Annotations, k)
			}
		})
		var heldErr *HeldError
		var released *ReleasedError
		if err != nil && !errors.As(err, &heldErr) && !errors.As(err, &released) {
			errs = append(errs, fmt.Errorf("releasing lease %s on %s: %w", l.opts.Name, t.Site, err))
		}
	}
	return errors.Join(errs...)
}

// Inspect reads a site's lease without taking it: nil when absent. For --dry-run and status views.
func Inspect(ctx context.Context, t Target, name string) (*coordinationv1.Lease, error) {
	if name == "" {
		name = DefaultName
	}
	le, err := t.Client.CoordinationV1().Leases(t.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return le, err
}

// HolderOf describes a lease's holder; ok is false when nobody holds it.
func HolderOf(le *coordinationv1.Lease) (Holder, bool) {
	if le == nil || ptr.Deref(le.Spec.HolderIdentity, "") == "" {
		return Holder{}, false
	}
	return holderOf(le), true
}
