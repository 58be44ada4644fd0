package failover

import (
	"context"

	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/failover"
	"github.com/kubectl-apic/kubectl-apic/pkg/probe"
)

// startProbe starts --probe (nothing without it, nor with --dry-run): its baseline runs before
// pre-flight, so failing gateway traffic refuses the failover before any change (exit 5).
func (o *Options) startProbe(ctx context.Context) (failover.TrafficProbe, error) {
	if o.DryRun {
		return nil, nil
	}
	p, err := probe.Start(ctx, o.Probe, probe.Config{Phase: "preflight", Log: o.ErrOut})
	if err != nil || p == nil {
		return nil, err
	}
	o.probe = p
	return p, nil
}

// stopProbe stops the probe and puts its summary in the result; a probe result (breach, --probe-cmd
// failure) becomes the outcome of a run that otherwise succeeded.
func (o *Options) stopProbe(res *failover.Result, err error) error {
	if o.probe == nil || res == nil {
		return err
	}
	res.Probe = o.probe.Stop()
	if err == nil {
		if err = res.Probe.Result(); err != nil {
			code := exitcode.FromError(err)
			res.ExitCode, res.ExitName, res.Message = int(code), code.String(), err.Error()
		}
	}
	return err
}
