package drr

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/kubectl-apic/kubectl-apic/pkg/datapower"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
)

// Execute runs the plan. It stops at the first failed step (the other members finish the step
// they are in), marks the rest SKIPPED and returns an error carrying the phase's exit code.
func (r *Runner) Execute(ctx context.Context, p Plan) error {
	err := r.execute(ctx, p)
	if err == nil {
		r.mu.Lock()
		r.report.Outcome, r.report.ExitCode = OutcomeSucceeded, 0
		r.mu.Unlock()
	}
	return err
}

// execute is the runbook's steps 4 to 9, one phase each; the first failed phase stops the run.
func (r *Runner) execute(ctx context.Context, p Plan) error {
	r.skipUnreachable()
	phases := []struct {
		step string
		run  func(context.Context, Plan) error
	}{
		{StepPrimary, r.primaryPhase},           // step 4: the member we flush from must be primary
		{StepFlush, r.flushPhase},               // step 5: flush the apic-gw-service peering
		{StepCycle, r.cyclePhase},               // steps 6 and 7: cycle apic-gw-service, then the log line
		{StepRegistration, r.registrationPhase}, // step 9 (optional) and the heartbeat: re-registration
		{StepHealth, r.healthPhase},             // the peering is healthy again
	}
	for _, ph := range phases {
		if err := ph.run(ctx, p); err != nil {
			step := ph.step
			var pe *phaseError
			if errors.As(err, &pe) {
				step, err = pe.step, pe.err
			}
			return r.failPhase(ctx, p, step, err)
		}
	}
	return nil
}

// phaseError is a phase's failure in a step other than the phase's first (waiting-log in the cycle
// phase).
type phaseError struct {
	step string
	err  error
}

func (e *phaseError) Error() string { return e.err.Error() }
func (e *phaseError) Unwrap() error { return e.err }

// failPhase marks the steps after step SKIPPED and returns the error with step's exit code.
func (r *Runner) failPhase(ctx context.Context, p Plan, step string, err error) error {
	started := false
	for _, st := range Steps() {
		if st == step {
			started = true
			continue
		}
		if !started {
			continue
		}
		members := p.Members
		if st == StepPrimary || st == StepFlush {
			members = []string{p.Member}
		}
		for _, m := range members {
			r.recordIfAbsent(m, st, Skipped, "an earlier step failed")
		}
	}
	code := PhaseCode(step)
	if exitcode.FromError(err) == exitcode.ProbeBreached {
		code = exitcode.ProbeBreached // stopped at a safe point, not a failure of the step
	} else if errors.Is(err, context.Canceled) || errors.Is(ctx.Err(), context.Canceled) {
		code = exitcode.Interrupted // the error may be the console stream the cancel tore down
	}
	return r.finish(step, exitcode.New(code, flat{err}))
}

func (r *Runner) primaryPhase(ctx context.Context, p Plan) error {
	if err := r.mark(ctx, StepPrimary); err != nil {
		return err
	}
	if !p.SwitchPrimary {
		r.record(p.Member, StepPrimary, Skipped, r.cfg.Now(), "already primary")
		return nil
	}
	return r.onMember(ctx, p.Member, StepPrimary, "switch primary of "+r.peering, r.switchPrimary)
}

func (r *Runner) flushPhase(ctx context.Context, p Plan) error {
	if err := r.mark(ctx, StepFlush); err != nil {
		return err
	}
	return r.onMember(ctx, p.Member, StepFlush, "flush gateway peering "+r.peering, r.flush)
}

// cyclePhase disables and enables apic-gw-service on every member (--max-concurrency at once),
// each member then confirming the waiting-for-registration log line.
func (r *Runner) cyclePhase(ctx context.Context, p Plan) error {
	var cycleErr, logErr error
	var mu sync.Mutex
	_ = r.mark(ctx, StepCycle)
	r.each(ctx, len(p.Members), r.cfg.MaxConcurrency, func(ctx context.Context, i int) {
		pod := p.Members[i]
		var baseline []string
		err := r.onMember(ctx, pod, StepCycle, "disable and enable apic-gw-service", func(ctx context.Context, s *datapower.Session, m Member) (string, error) {
			var err error
			baseline, err = r.cycle(ctx, s)
			return "admin-state disabled, then enabled", err
		})
		if err != nil {
			r.record(pod, StepWaitingLog, Skipped, r.cfg.Now(), "apic-gw-service was not cycled")
			mu.Lock()
			cycleErr = errors.Join(cycleErr, err)
			mu.Unlock()
			return
		}
		err = r.onMember(ctx, pod, StepWaitingLog, "confirm \"Waiting for gateway service registration.\"", func(ctx context.Context, s *datapower.Session, m Member) (string, error) {
			return r.waitingLog(ctx, s, baseline)
		})
		if err != nil {
			mu.Lock()
			logErr = errors.Join(logErr, err)
			mu.Unlock()
		}
	})
	if cycleErr != nil {
		return errors.Join(cycleErr, logErr)
	}
	if logErr != nil {
		return &phaseError{step: StepWaitingLog, err: logErr}
	}
	return nil
}

func (r *Runner) registrationPhase(ctx context.Context, p Plan) error {
	_ = r.mark(ctx, StepRegistration)
	return r.registration(ctx, p.Members)
}

func (r *Runner) healthPhase(ctx context.Context, p Plan) error {
	var healthErr error
	var mu sync.Mutex
	_ = r.mark(ctx, StepHealth)
	r.each(ctx, len(p.Members), r.cfg.MaxConcurrency, func(ctx context.Context, i int) {
		if err := r.onMember(ctx, p.Members[i], StepHealth, "check gateway peering "+r.peering, r.health); err != nil {
			mu.Lock()
			healthErr = errors.Join(healthErr, err)
			mu.Unlock()
		}
	})
	return healthErr
}

// skipUnreachable records SKIPPED for members pre-flight could not reach (only with --force).
func (r *Runner) skipUnreachable() {
	r.mu.Lock()
	var pods []string
	for _, m := range r.cfg.Members {
		if r.sessions[m.Pod] == nil {
			pods = append(pods, m.Pod)
		}
	}
	r.mu.Unlock()
	for _, pod := range pods {
		for _, st := range []string{StepCycle, StepWaitingLog, StepRegistration, StepHealth} {
			r.record(pod, st, Skipped, r.cfg.Now(), "unreachable in pre-flight (--force)")
		}
	}
}

// onMember runs fn on pod's session as step, recording the result and reporting progress.
func (r *Runner) onMember(ctx context.Context, pod, step, title string, fn func(context.Context, *datapower.Session, Member) (string, error)) error {
	start := r.cfg.Now()
	if r.cfg.Probe != nil {
		if err := r.cfg.Probe.Breached(); err != nil {
			r.record(pod, step, Skipped, start, "not started: the traffic probe stopped the run")
			return err
		}
		r.cfg.Probe.Phase(pod, step)
	}
	ps := r.progressStep(pod, title)
	s := r.session(pod)
	var msg string
	var err error
	if s == nil {
		err = errors.New("no console session (unreachable in pre-flight)")
	} else {
		msg, err = fn(ctx, s, r.members[pod])
	}
	if err != nil {
		if datapower.IsStreamEnded(err) {
			err = fmt.Errorf("lost the member's console (pod deleted or restarted?): %w", err)
		}
		r.record(pod, step, Failed, start, err.Error())
		ps.fail(err)
		return fmt.Errorf("member %s: step %s: %w", pod, step, err)
	}
	r.record(pod, step, Passed, start, msg)
	ps.done(msg)
	return nil
}
