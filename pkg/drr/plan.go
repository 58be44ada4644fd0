package drr

import (
	"fmt"

	"github.com/kubectl-apic/kubectl-apic/pkg/datapower"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
)

// Plan chooses the member to make primary and flush from, and lists the steps. It needs a
// successful Preflight.
func (r *Runner) Plan() (Plan, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	reachable := r.reachableLocked()
	chosen := r.cfg.Primary
	switch {
	case chosen != "":
		if _, ok := r.members[chosen]; !ok {
			return Plan{}, r.failPlan(exitcode.Newf(exitcode.Usage, "--primary-member %s is not a member of gateway %s", chosen, r.cfg.Gateway))
		}
		if !contains(reachable, chosen) {
			return Plan{}, r.failPlan(exitcode.Newf(exitcode.Refused, "--primary-member %s could not be reached in pre-flight", chosen))
		}
	case r.primary != "" && contains(reachable, r.primary):
		chosen = r.primary
	case len(reachable) > 0:
		chosen = reachable[0]
	default:
		return Plan{}, r.failPlan(exitcode.Newf(exitcode.Refused, "no member of gateway %s is reachable", r.cfg.Gateway))
	}
	p := Plan{Member: chosen, SwitchPrimary: chosen != r.primary, Members: reachable}
	sw := PlannedStep{Step: StepPrimary, Members: []string{chosen},
		Commands:    []string{"switch " + r.cfg.Domain, "config", "gateway-peering-switch-primary " + r.peering},
		Description: fmt.Sprintf("make %s primary for gateway peering %s", chosen, r.peering)}
	if !p.SwitchPrimary {
		sw.Commands = []string{}
		sw.Description = fmt.Sprintf("skipped: %s already is primary for gateway peering %s", chosen, r.peering)
	}
	p.Steps = []PlannedStep{sw,
		{Step: StepFlush, Members: []string{chosen}, Commands: []string{"diag", "gateway-peering-flush " + r.peering, "y"},
			Description: fmt.Sprintf("flush gateway peering %s (its data on every member), confirming with y", r.peering)},
		{Step: StepCycle, Members: reachable,
			Commands:    []string{"config", "apic-gw-service", "admin-state disabled", "exit", "apic-gw-service", "admin-state enabled", "exit"},
			Description: fmt.Sprintf("disable and enable apic-gw-service on every member, %s at a time", concurrencyText(r.cfg.MaxConcurrency, len(reachable)))},
		{Step: StepWaitingLog, Members: reachable, Commands: []string{datapower.ShowFile(r.cfg.LogFile)},
			Description: "confirm the log line \"Waiting for gateway service registration.\" on every member"},
		{Step: StepRegistration, Members: reachable, Commands: []string{},
			Description: r.registrationText()},
		{Step: StepHealth, Members: reachable, Commands: []string{datapower.ShowPeeringStatus},
			Description: fmt.Sprintf("check gateway peering %s: quorum and every member's link ok", r.peering)},
	}
	r.report.Plan = p
	return p, nil
}

func (r *Runner) failPlan(err error) error {
	r.report.Outcome, r.report.FailedStep, r.report.Error = OutcomeRefused, StepPreflight, err.Error()
	r.report.ExitCode = int(exitcode.FromError(err))
	return err
}

func (r *Runner) registrationText() string {
	how := "no registration check: UNVERIFIED, with the command to check by hand (pass --api-manager-url to check)"
	if r.cfg.Registration != nil {
		how = fmt.Sprintf("wait up to %s until API Manager shows the gateway service up to date (configured-gateway-services)", r.cfg.RegistrationTimeout)
	}
	if r.cfg.Trigger != nil {
		return "trigger a webhook through API Manager, then " + how
	}
	return "the management server's heartbeat (every 5 minutes) re-registers the gateway service; " + how
}

func concurrencyText(n, members int) string {
	if n <= 0 || n >= members {
		return "all"
	}
	return fmt.Sprint(n)
}

func (r *Runner) reachableLocked() []string {
	var out []string
	for _, m := range r.cfg.Members {
		if r.sessions[m.Pod] != nil {
			out = append(out, m.Pod)
		}
	}
	return out
}
