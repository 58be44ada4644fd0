package drr

import (
	"context"

	pdrr "github.com/kubectl-apic/kubectl-apic/pkg/drr"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/probe"
)

// startProbe starts --probe (nothing without it): its baseline runs before pre-flight, so failing
// traffic refuses the DRR before any change (exit 5). The samples go to --transcript's directory.
func (o *Options) startProbe(ctx context.Context) (pdrr.TrafficProbe, error) {
	p, err := probe.Start(ctx, o.Probe, probe.Config{Phase: pdrr.StepPreflight, Log: o.ErrOut, SamplesDir: o.TranscriptDir})
	if err != nil || p == nil {
		return nil, err
	}
	o.probe = p
	return p, nil
}

// stopProbe stops the probe and puts its summary in the report; a probe result (breach, --probe-cmd
// failure) becomes the outcome of a run that otherwise succeeded.
func (o *Options) stopProbe(report *pdrr.Report, err error) error {
	if o.probe == nil {
		return err
	}
	report.Probe = o.probe.Stop()
	if err == nil {
		if err = report.Probe.Result(); err != nil {
			report.Outcome, report.Error = pdrr.OutcomeFailed, err.Error()
			report.ExitCode = int(exitcode.FromError(err))
		}
	}
	return err
}
