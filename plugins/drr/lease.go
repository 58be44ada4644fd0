package drr

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	pdrr "github.com/kubectl-apic/kubectl-apic/pkg/drr"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/lock"
	"github.com/kubectl-apic/kubectl-apic/pkg/progress"
)

// One DRR per gateway: a run takes the gateway's Lease (pdrr.LeaseName) before it attaches to any
// console, and keeps its journal there. --dry-run and --status take nothing, but they attach to
// the same consoles, so they too stand back while a run holds the lease.

// finishCommand is the command that finishes this gateway's DRR.
func (o *Options) finishCommand(gw *pdrr.Gateway) string {
	return pdrr.FinishCommand(gw.Name, gw.Namespace, o.site.Name)
}

// readJournal reads the gateway's journal for --dry-run and --status, refusing while a run holds
// the lease: typing into the consoles it drives would interleave with its input. A journal the
// user may not read is a warning: the rest still runs.
func (o *Options) readJournal(ctx context.Context, gw *pdrr.Gateway, rep *progress.Reporter) (pdrr.Journal, error) {
	j, err := pdrr.ReadJournal(ctx, o.site.Kube, gw.Namespace, gw.Name, time.Now())
	if apierrors.IsForbidden(err) {
		rep.Warnf("cannot read lease %s/%s (the DRR journal): %v; an unfinished or running DRR would not be seen",
			gw.Namespace, pdrr.LeaseName(gw.Name), err)
		return pdrr.Journal{}, nil
	}
	if err != nil {
		return pdrr.Journal{}, fmt.Errorf("reading lease %s/%s (the DRR journal): %w", gw.Namespace, pdrr.LeaseName(gw.Name), err)
	}
	if j.InProgress() {
		return j, exitcode.Newf(exitcode.Refused, "a DRR of gateway %s/%s is running (%s holds lease %s/%s; it expires at %s if that run is gone): not attaching to the consoles it drives; try again when it ends",
			gw.Namespace, gw.Name, j.Holder, gw.Namespace, pdrr.LeaseName(gw.Name), j.Expires.UTC().Format(time.RFC3339))
	}
	return j, nil
}

// takeLease takes the gateway's DRR lease for a run; a live holder refuses it (exit 5, naming the
// holder), as failover refuses a concurrent failover.
func (o *Options) takeLease(ctx context.Context, gw *pdrr.Gateway, rep *progress.Reporter) (*pdrr.Guard, error) {
	holder := lock.CurrentHolder(fmt.Sprintf("kubectl apic drr %s -n %s --context %s", gw.Name, gw.Namespace, o.site.Name))
	g, err := pdrr.TakeLease(ctx, o.site.Kube, o.site.Name, gw.Namespace, gw.Name, holder, lock.Options{Force: o.ForceUnlock})
	if err != nil {
		return nil, err
	}
	for _, t := range g.TakeOvers() {
		rep.Warnf("%s", t)
	}
	if prev := g.Previous(); prev.Unfinished() {
		rep.Warnf("gateway %s/%s was left mid-DRR (%s): this run finishes it", gw.Namespace, gw.Name, prev.Describe())
	}
	return g, nil
}

// leftHint adds to a failed run's error what it left behind and the command that finishes it.
// flushed is the journal's word (Guard.Flushed): the flush is sent only after it is recorded.
func (o *Options) leftHint(err error, gw *pdrr.Gateway, r *pdrr.Report, flushed bool) error {
	if err == nil {
		return nil
	}
	if flushed {
		return fmt.Errorf("%w. Gateway %s/%s is left mid-DRR (peering %s may be flushed, apic-gw-service may be disabled): finish it with %s",
			err, gw.Namespace, gw.Name, r.Peering, o.finishCommand(gw))
	}
	return fmt.Errorf("%w. Nothing was flushed; re-running is safe: %s", err, o.finishCommand(gw))
}
