package drr

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/explain"
	"github.com/kubectl-apic/kubectl-apic/pkg/lock"
)

var leasesGVR = coordinationv1.SchemeGroupVersion.WithResource("leases")

// Guard is a DRR's hold on its gateway's Lease (LeaseName), as failover holds apic-failover: one
// run per gateway drives the members' consoles, and the journal on the lease records its progress.
type Guard struct {
	l       *lock.Lock
	site    string
	gateway string
	prev    Journal
	now     func() time.Time
	// flushRecorded: this run recorded the flush step, which is sent only once recorded.
	flushRecorded atomic.Bool
}

// TakeLease takes gateway's DRR lease in namespace. Another live run holding it refuses this one
// (exitcode.Refused, naming the holder) before any console is touched.
func TakeLease(ctx context.Context, kube kubernetes.Interface, site, namespace, gateway string, holder lock.Holder, opts lock.Options) (*Guard, error) {
	opts.Name = LeaseName(gateway)
	l, err := lock.Acquire(ctx, []lock.Target{{Site: site, Client: kube, Namespace: namespace}}, holder, opts)
	if err != nil {
		var held *lock.HeldError
		if errors.As(err, &held) {
			return nil, exitcode.Newf(exitcode.Refused, "another DRR of gateway %s/%s is running: %v. Nothing was changed", namespace, gateway, err)
		}
		return nil, explain.Error(err, site, leasesGVR, "update")
	}
	now := time.Now
	if opts.Clock != nil {
		now = opts.Clock.Now
	}
	g := &Guard{l: l, site: site, gateway: gateway, now: now}
	g.prev = JournalFromLease(l.Previous[site], now())
	g.prev.Holder, g.prev.Expires = "", nil // ours now
	return g, nil
}

// Previous is the journal as the lease held it before this run.
func (g *Guard) Previous() Journal { return g.prev }

// TakeOvers describes stale leases this run took over, for warnings.
func (g *Guard) TakeOvers() []string {
	var out []string
	for _, t := range g.l.TakeOvers {
		out = append(out, fmt.Sprintf("took over lease %s on %s from %s: %s", LeaseName(g.gateway), t.Site, t.Previous, t.Reason))
	}
	return out
}

// Hold renews the lease while the returned context lives, and ends that context (the lock's error
// as its cause) once the lease is lost, so that the run stops typing into the consoles.
func (g *Guard) Hold(ctx context.Context) (context.Context, func()) { return g.l.Hold(ctx) }

// Start records a run starting on peering.
func (g *Guard) Start(ctx context.Context, peering string) error {
	kv := journalStart(peering, g.now().UTC().Format(time.RFC3339), g.l.Holder().String(), g.prev)
	if err := g.l.Annotate(ctx, kv); err != nil {
		return fmt.Errorf("writing the DRR journal on lease %s: %w", LeaseName(g.gateway), err)
	}
	return nil
}

// Step records the step a run enters (StepJournal).
func (g *Guard) Step(ctx context.Context, step string) error {
	err := g.l.Annotate(ctx, journalStep(step))
	if err == nil && step == StepFlush {
		g.flushRecorded.Store(true)
	}
	return err
}

// Flushed reports whether the journal holds the gateway's peering as possibly flushed: the run
// this one finishes left it flushed, or this run recorded its flush step (the flush is sent only
// after that record, so a failed record means nothing was flushed).
func (g *Guard) Flushed() bool { return g.prev.Unfinished() || g.flushRecorded.Load() }

// Finish records how the run ended: err nil succeeded, an interruption interrupted, else failed.
func (g *Guard) Finish(ctx context.Context, err error) error {
	state := JournalSucceeded
	switch {
	case err == nil:
	case exitcode.FromError(err) == exitcode.Interrupted || errors.Is(err, context.Canceled):
		state = JournalInterrupted
	default:
		state = JournalFailed
	}
	return g.l.Annotate(context.WithoutCancel(ctx), journalEnd(state))
}

// Release gives the lease up; the journal stays.
func (g *Guard) Release(ctx context.Context) error { return g.l.Release(context.WithoutCancel(ctx)) }
