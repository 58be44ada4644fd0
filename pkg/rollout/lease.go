package rollout

import (
	"context"
	"errors"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"

	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/explain"
	"github.com/kubectl-apic/kubectl-apic/pkg/lock"
)

var leasesGVR = coordinationv1.SchemeGroupVersion.WithResource("leases")

// TakeLease takes the gateway's rollout Lease (JournalName) on every site: one rollout per gateway,
// because two would take two members down at once. A live holder refuses this run
// (exitcode.Refused, naming it) before anything is read from a console.
func TakeLease(ctx context.Context, sites []*Site, gateway string, holder lock.Holder, opts lock.Options) (*lock.Lock, error) {
	opts.Name = JournalName(gateway)
	var targets []lock.Target
	for _, s := range sites {
		targets = append(targets, lock.Target{Site: s.Name, Client: s.Kube, Namespace: s.Namespace})
	}
	l, err := lock.Acquire(ctx, targets, holder, opts)
	if err != nil {
		var held *lock.HeldError
		if errors.As(err, &held) {
			return nil, exitcode.Newf(exitcode.Refused, "another rollout of gateway %s is running: %v. Nothing was changed", gateway, err)
		}
		site := ""
		if len(sites) > 0 {
			site = sites[0].Name
		}
		return nil, explain.Error(err, site, leasesGVR, "update")
	}
	return l, nil
}

// LiveHolder names the run holding the gateway's rollout lease on any site ("" when none: no
// lease, released, expired, or held by a process of this host that is gone).
func LiveHolder(ctx context.Context, sites []*Site, gateway string, now time.Time) (string, error) {
	for _, s := range sites {
		le, err := lock.Inspect(ctx, lock.Target{Site: s.Name, Client: s.Kube, Namespace: s.Namespace}, JournalName(gateway))
		if err != nil {
			return "", err
		}
		if le == nil {
			continue
		}
		if h, exp, ok := lock.LiveHolder(le, now); ok {
			return fmt.Sprintf("%s (lease %s/%s on %s, expires %s if that run is gone)", h, s.Namespace, le.Name, s.Name, exp.UTC().Format(time.RFC3339)), nil
		}
	}
	return "", nil
}
