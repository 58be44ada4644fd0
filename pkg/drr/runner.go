package drr

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kubectl-apic/kubectl-apic/pkg/datapower"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/progress"
)

// Defaults of Config.
const (
	// DefaultRegistrationTimeout covers one management heartbeat (every 5 minutes, seed 000) with a
	// minute to spare.
	DefaultRegistrationTimeout = 6 * time.Minute
	DefaultPollInterval        = 5 * time.Second
	// DefaultLogTimeout bounds the wait for the "Waiting for gateway service registration." line
	// after apic-gw-service is enabled again. IBM gives no figure; the line follows the enable at once
	// on the simulator, and we allow for a slow device.
	DefaultLogTimeout = 30 * time.Second
)

// Member is one gateway pod.
type Member struct {
	Pod  string
	Node string
	// IP is the pod IP: the address the member has in gateway-peering-status.
	IP    string
	Ready bool
	// NotReadyReason says why Ready is false, for messages.
	NotReadyReason string
}

// Config is one DRR run.
type Config struct {
	Gateway   string
	Namespace string
	Context   string
	// Domain is the API Connect application domain (seed 000's <APIC_APP_DOMAIN>).
	Domain  string
	Members []Member
	// Open attaches to a member's console, logs in and switches to Domain (datapower.Opener).
	Open func(ctx context.Context, m Member) (*datapower.Session, error)
	// MaxConcurrency bounds the members worked on at once; 0 means all.
	MaxConcurrency int
	// RegistrationTimeout bounds the wait for the re-registration; default DefaultRegistrationTimeout.
	RegistrationTimeout time.Duration
	// PollInterval is how often the registration and the log are read; default DefaultPollInterval.
	PollInterval time.Duration
	// LogTimeout bounds the wait for the waiting-for-registration log line; default DefaultLogTimeout.
	LogTimeout time.Duration
	// Force proceeds despite pre-flight problems (lost quorum, members not ready or unreachable).
	Force bool
	// Primary is the member to make primary and flush from; "" chooses the current primary.
	Primary string
	// Trigger, when set, forces the re-registration (an API Manager webhook) instead of waiting for
	// the heartbeat alone.
	Trigger func(ctx context.Context) (string, error)
	// Progress receives step events (nil: none).
	Progress *progress.Reporter
	// Journal records the step the run enters, before it starts (nil: none; journal.go).
	Journal StepJournal
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Runner runs one DRR: Preflight, then (unless a dry run) Execute, then Close.
type Runner struct {
	cfg Config

	mu       sync.Mutex
	sessions map[string]*datapower.Session
	members  map[string]Member
	report   *Report
	peering  string
	primary  string // the primary pod before the run ("" when unknown)
}

// New returns a runner for cfg.
func New(cfg Config) *Runner {
	if cfg.RegistrationTimeout <= 0 {
		cfg.RegistrationTimeout = DefaultRegistrationTimeout
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.LogTimeout <= 0 {
		cfg.LogTimeout = DefaultLogTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Runner{cfg: cfg, sessions: map[string]*datapower.Session{}, members: map[string]Member{}}
	for _, m := range cfg.Members {
		r.members[m.Pod] = m
	}
	r.report = &Report{Gateway: cfg.Gateway, Namespace: cfg.Namespace, Context: cfg.Context, Domain: cfg.Domain,
		Forced: cfg.Force, StartedAt: cfg.Now(), Results: []StepState{}, Plan: Plan{Steps: []PlannedStep{}},
		Preflight: Preflight{Members: []MemberState{}}}
	return r
}

// Report is the run's report so far.
func (r *Runner) Report() *Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.report.DurationSeconds = seconds(r.cfg.Now().Sub(r.report.StartedAt))
	sortResults(r.report.Results, r.cfg.Members)
	return r.report
}

// Close detaches from every member (never with Ctrl-D), in parallel.
func (r *Runner) Close() {
	r.mu.Lock()
	ss := make([]*datapower.Session, 0, len(r.sessions))
	for _, s := range r.sessions {
		ss = append(ss, s)
	}
	r.sessions = map[string]*datapower.Session{}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range ss {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.Close()
		}()
	}
	wg.Wait()
}

func (r *Runner) session(pod string) *datapower.Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sessions[pod]
}

// finish sets the outcome from err and returns err.
func (r *Runner) finish(step string, err error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		return nil
	}
	r.report.Outcome = OutcomeFailed
	if step == StepPreflight {
		r.report.Outcome = OutcomeRefused
	}
	r.report.FailedStep = step
	r.report.Error = err.Error()
	r.report.ExitCode = int(exitcode.FromError(err))
	if r.report.ExitCode == int(exitcode.Interrupted) {
		r.report.Outcome = OutcomeInterrupted
	}
	return err
}

// Preflight attaches to every member in parallel and runs the read-only checks: the
// apic-gw-service peering's name (`show gateway-peering`), its status and quorum
// (`show gateway-peering-status`) and registration (`show apic-gw-service`). Problems (lost quorum,
// a member not Ready or unreachable) refuse the run (exitcode.Refused) unless Force. A rejected
// login is an error no Force overrides.
func (r *Runner) Preflight(ctx context.Context) error {
	return r.finish(StepPreflight, r.preflight(ctx))
}

type memberView struct {
	state    MemberState
	peering  string
	statuses []datapower.PeeringStatus
	err      error
	fatal    bool
}

func (r *Runner) preflight(ctx context.Context) error {
	if len(r.cfg.Members) == 0 {
		return exitcode.Newf(exitcode.Refused, "gateway %s has no member pods", r.cfg.Gateway)
	}
	views := make([]memberView, len(r.cfg.Members))
	// One member first: a rejected login stops there instead of counting failed logins against
	// the admin account on every member at once.
	views[0] = r.preflightMember(ctx, r.cfg.Members[0])
	if err := loginRefusal(views[:1]); err != nil {
		return err
	}
	r.each(ctx, len(r.cfg.Members)-1, 0, func(ctx context.Context, i int) {
		views[i+1] = r.preflightMember(ctx, r.cfg.Members[i+1])
	})
	if err := loginRefusal(views); err != nil {
		return err
	}

	var problems []string
	peerings := map[string][]string{}
	for _, v := range views {
		if v.peering != "" {
			peerings[v.peering] = append(peerings[v.peering], v.state.Pod)
		}
	}
	switch len(peerings) {
	case 0:
		if anyReachable(views) {
			problems = append(problems, fmt.Sprintf("no member lists an %s gateway-peering in domain %s (show gateway-peering)",
				datapower.APICGatewayServiceOwner, r.cfg.Domain))
		}
	case 1:
		for p := range peerings {
			r.peering = p
		}
	default:
		names := make([]string, 0, len(peerings))
		for p, pods := range peerings {
			names = append(names, fmt.Sprintf("%s on %s", p, strings.Join(pods, ",")))
		}
		sort.Strings(names)
		problems = append(problems, "members disagree on the apic-gw-service peering: "+strings.Join(names, "; "))
		r.peering = views[0].peering
	}

	ipToPod := map[string]string{}
	for _, m := range r.cfg.Members {
		ipToPod[m.IP] = m.Pod
	}
	var quorum *QuorumState
	for i := range views {
		v := &views[i]
		m := r.cfg.Members[i]
		var memberProblems []string
		if !m.Ready {
			why := "not Ready"
			if m.NotReadyReason != "" {
				why += " (" + m.NotReadyReason + ")"
			}
			memberProblems = append(memberProblems, fmt.Sprintf("member %s is %s", m.Pod, why))
		}
		if v.err != nil {
			memberProblems = append(memberProblems, fmt.Sprintf("member %s: %v", m.Pod, v.err))
		}
		if v.err == nil && r.peering != "" {
			q := datapower.Quorum(v.statuses, r.peering)
			qs := QuorumState{Members: q.Members, Active: q.Active, Needed: q.Needed, Primary: q.Primary,
				HasQuorum: q.HasQuorum, Reason: q.Reason}
			if quorum == nil || (!qs.HasQuorum && quorum.HasQuorum) {
				quorum = &qs
			}
			if !q.HasQuorum {
				memberProblems = append(memberProblems, fmt.Sprintf("gateway peering %s has no quorum as member %s sees it: %s",
					r.peering, m.Pod, q.Reason))
			} else if r.primary == "" {
				r.primary = ipToPod[q.Primary]
			}
			found := false
			for _, s := range v.statuses {
				if s.ConfigurationName == r.peering && s.Address == m.IP {
					found = true
					v.state.LinkStatus = s.LinkStatus
					v.state.Primary = s.Primary
				}
			}
			if !found {
				memberProblems = append(memberProblems, fmt.Sprintf("member %s (%s) is not in gateway peering %s", m.Pod, m.IP, r.peering))
			}
		}
		status, msg := Passed, describeMember(v.state)
		if len(memberProblems) > 0 {
			status, msg = Failed, strings.Join(memberProblems, "; ")
			problems = append(problems, memberProblems...)
		}
		r.record(m.Pod, StepPreflight, status, r.report.StartedAt, msg)
	}
	r.mu.Lock()
	for _, v := range views {
		r.report.Preflight.Members = append(r.report.Preflight.Members, v.state)
	}
	if quorum != nil {
		r.report.Preflight.Quorum = *quorum
	}
	r.report.Peering = r.peering
	r.report.Preflight.Problems = dedupe(problems)
	r.mu.Unlock()

	if len(problems) > 0 && !r.cfg.Force {
		return exitcode.Newf(exitcode.Refused, "pre-flight refused the DRR of gateway %s, nothing was changed: %s (--force overrides)",
			r.cfg.Gateway, strings.Join(dedupe(problems), "; "))
	}
	if r.peering == "" {
		return exitcode.Newf(exitcode.Refused, "pre-flight: no member of gateway %s showed its %s gateway-peering; nothing was changed",
			r.cfg.Gateway, datapower.APICGatewayServiceOwner)
	}
	if !anyReachable(views) {
		return exitcode.Newf(exitcode.Refused, "pre-flight: no member of gateway %s could be reached; nothing was changed", r.cfg.Gateway)
	}
	if len(problems) > 0 && r.cfg.Progress != nil {
		r.cfg.Progress.Warnf("--force: proceeding despite: %s", strings.Join(dedupe(problems), "; "))
	}
	return nil
}

func describeMember(s MemberState) string {
	parts := []string{"link " + s.LinkStatus}
	if s.Primary {
		parts = append([]string{"primary"}, parts...)
	}
	if s.Registration != "" {
		parts = append(parts, s.Registration)
	}
	return strings.Join(parts, ", ")
}

func anyReachable(vs []memberView) bool {
	for _, v := range vs {
		if v.state.Reachable {
			return true
		}
	}
	return false
}

func (r *Runner) preflightMember(ctx context.Context, m Member) memberView {
	v := memberView{state: MemberState{Pod: m.Pod, Node: m.Node, Address: m.IP, Ready: m.Ready}}
	ps := r.progressStep(m.Pod, "pre-flight (attach, log in, read peering)")
	fail := func(err error) memberView {
		v.err = err
		v.state.Error = err.Error()
		v.fatal = errors.Is(err, datapower.ErrLoginFailed) || errors.Is(err, datapower.ErrUnsafeInput)
		ps.fail(err)
		return v
	}
	s, err := r.cfg.Open(ctx, m)
	if err != nil {
		return fail(err)
	}
	r.mu.Lock()
	r.sessions[m.Pod] = s
	r.mu.Unlock()
	v.state.Reachable = true
	peerings, err := s.ReadPeerings(ctx)
	if err != nil {
		return fail(err)
	}
	v.peering, _ = datapower.GatewayServicePeering(peerings)
	if v.statuses, err = s.ReadPeeringStatus(ctx); err != nil {
		return fail(err)
	}
	// Registration is informative: a device that shows no registration-state still runs the DRR.
	if gs, err := s.ReadGatewayService(ctx); err == nil {
		v.state.Registration = gs.RegistrationState
	} else if datapower.IsStreamEnded(err) {
		return fail(err)
	}
	ps.done("peering " + v.peering)
	return v
}

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
		{Step: StepWaitingLog, Members: reachable, Commands: []string{datapower.ShowAPICGatewayServiceLog},
			Description: "confirm the log line \"Waiting for gateway service registration.\" on every member"},
		{Step: StepRegistration, Members: reachable, Commands: []string{datapower.ShowAPICGatewayService},
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
	if r.cfg.Trigger != nil {
		return fmt.Sprintf("trigger a webhook through API Manager, then wait up to %s for registration-state Registered on every member",
			r.cfg.RegistrationTimeout)
	}
	return fmt.Sprintf("wait up to %s for the management server's heartbeat (every 5 minutes) to re-register the gateway service: registration-state Registered on every member",
		r.cfg.RegistrationTimeout)
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

func (r *Runner) execute(ctx context.Context, p Plan) error {
	all := p.Members
	skipRest := func(from string) {
		started := false
		for _, st := range Steps() {
			if st == from {
				started = true
				continue
			}
			if !started {
				continue
			}
			members := all
			if st == StepPrimary || st == StepFlush {
				members = []string{p.Member}
			}
			for _, m := range members {
				r.recordIfAbsent(m, st, Skipped, "an earlier step failed")
			}
		}
	}
	phase := func(step string, err error) error {
		if err == nil {
			return nil
		}
		skipRest(step)
		code := PhaseCode(step)
		if errors.Is(err, context.Canceled) || errors.Is(ctx.Err(), context.Canceled) {
			code = exitcode.Interrupted // the error may be the console stream the cancel tore down
		}
		return r.finish(step, exitcode.New(code, flat{err}))
	}
	r.skipUnreachable()

	// Step 4 of seed 000: the member we flush from must be primary.
	if err := r.mark(ctx, StepPrimary); err != nil {
		return phase(StepPrimary, err)
	}
	if !p.SwitchPrimary {
		r.record(p.Member, StepPrimary, Skipped, r.cfg.Now(), "already primary")
	} else if err := r.onMember(ctx, p.Member, StepPrimary, "switch primary of "+r.peering, r.switchPrimary); err != nil {
		return phase(StepPrimary, err)
	}
	// Step 5: flush.
	if err := r.mark(ctx, StepFlush); err != nil {
		return phase(StepFlush, err)
	}
	if err := r.onMember(ctx, p.Member, StepFlush, "flush gateway peering "+r.peering, r.flush); err != nil {
		return phase(StepFlush, err)
	}
	// Steps 6 and 7: disable and enable apic-gw-service on every member, then the log line.
	var cycleErr, logErr error
	var mu sync.Mutex
	_ = r.mark(ctx, StepCycle)
	r.each(ctx, len(all), r.cfg.MaxConcurrency, func(ctx context.Context, i int) {
		pod := all[i]
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
		return phase(StepCycle, errors.Join(cycleErr, logErr))
	}
	if logErr != nil {
		return phase(StepWaitingLog, logErr)
	}
	// Step 9 (optional) and the heartbeat: the re-registration.
	_ = r.mark(ctx, StepRegistration)
	if err := r.registration(ctx, all); err != nil {
		return phase(StepRegistration, err)
	}
	var healthErr error
	_ = r.mark(ctx, StepHealth)
	r.each(ctx, len(all), r.cfg.MaxConcurrency, func(ctx context.Context, i int) {
		if err := r.onMember(ctx, all[i], StepHealth, "check gateway peering "+r.peering, r.health); err != nil {
			mu.Lock()
			healthErr = errors.Join(healthErr, err)
			mu.Unlock()
		}
	})
	return phase(StepHealth, healthErr)
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

func (r *Runner) switchPrimary(ctx context.Context, s *datapower.Session, m Member) (string, error) {
	if err := s.Config(ctx); err != nil {
		return "", err
	}
	out, err := s.Run(ctx, "gateway-peering-switch-primary "+r.peering)
	if err != nil {
		return "", err
	}
	if err := s.Top(ctx); err != nil {
		return "", err
	}
	// Confirm: IBM publishes no sample of switch-primary's output, so read the status instead.
	rows, err := s.ReadPeeringStatus(ctx)
	if err != nil {
		return "", err
	}
	if q := datapower.Quorum(rows, r.peering); q.Primary != m.IP || q.Primaries != 1 {
		return "", fmt.Errorf("after gateway-peering-switch-primary %s the primary is %q, not %s", r.peering, q.Primary, m.IP)
	}
	return firstLine(out, "primary is now "+m.IP), nil
}

func (r *Runner) flush(ctx context.Context, s *datapower.Session, _ Member) (string, error) {
	if err := s.Diag(ctx); err != nil {
		return "", err
	}
	out, err := s.RunConfirm(ctx, "gateway-peering-flush "+r.peering, true)
	if err != nil {
		return "", err
	}
	if err := s.Top(ctx); err != nil {
		return "", err
	}
	// The output starts with the y/n question; what the device said after the answer is what counts.
	return lastLine(out, "flushed"), nil
}

// cycle disables and enables apic-gw-service (seed 000 step 6). It returns the debug log as it
// was before, so the waiting line that follows can be told from older ones.
func (r *Runner) cycle(ctx context.Context, s *datapower.Session) ([]string, error) {
	before, err := s.Run(ctx, datapower.ShowAPICGatewayServiceLog)
	var cmdErr *datapower.CommandError
	if err != nil && !errors.As(err, &cmdErr) {
		return nil, err // a missing log file is fine: nothing logged yet
	}
	if err != nil {
		before = ""
	}
	if err := s.Config(ctx); err != nil {
		return nil, err
	}
	for _, state := range []string{"disabled", "enabled"} {
		if _, err := s.Run(ctx, datapower.APICGatewayServiceOwner); err != nil {
			return nil, err
		}
		if m := s.Mode(); m.Level != datapower.LevelSubConfig || m.Object != datapower.APICGatewayServiceOwner {
			return nil, fmt.Errorf("%s: prompt shows %s mode %q, want the apic-gw-service sub-mode", datapower.APICGatewayServiceOwner, m.Level, m.Object)
		}
		if _, err := s.Run(ctx, "admin-state "+state); err != nil {
			return nil, err
		}
		// DataPower applies the object's change on leaving its sub-mode.
		if err := s.Exit(ctx); err != nil {
			return nil, err
		}
	}
	if err := s.Top(ctx); err != nil {
		return nil, err
	}
	return logLines(before), nil
}

// waitingLog polls the apic-gw-service debug log for a "Waiting for gateway service registration."
// line written after baseline (seed 000 step 7).
func (r *Runner) waitingLog(ctx context.Context, s *datapower.Session, baseline []string) (string, error) {
	var found datapower.LogLine
	err := wait.PollUntilContextTimeout(ctx, r.cfg.PollInterval/4+10*time.Millisecond, r.cfg.LogTimeout, true, func(ctx context.Context) (bool, error) {
		out, err := s.Run(ctx, datapower.ShowAPICGatewayServiceLog)
		if err != nil {
			return false, err
		}
		l, ok := datapower.FindWaitingForRegistration(strings.Join(newLines(baseline, logLines(out)), "\n"), time.Time{})
		found = l
		return ok, nil
	})
	if err != nil {
		if wait.Interrupted(err) && ctx.Err() == nil {
			return "", fmt.Errorf("no \"Waiting for gateway service registration.\" line in %s within %s",
				datapower.APICGatewayServiceLog, r.cfg.LogTimeout)
		}
		return "", err
	}
	return fmt.Sprintf("%s [%s] %s", found.Time.Format("15:04:05.000Z"), found.ID, found.Message), nil
}

func logLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(strings.ReplaceAll(out, "\r", ""), "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	return lines
}

// newLines is the part of lines after baseline when lines continue it; otherwise (the log was
// rotated or cleared) every line.
func newLines(baseline, lines []string) []string {
	n := len(baseline)
	if n == 0 || len(lines) < n || lines[n-1] != baseline[n-1] || lines[0] != baseline[0] {
		return lines
	}
	return lines[n:]
}

// registration triggers the webhook if configured and waits until every member shows
// registration-state Registered.
func (r *Runner) registration(ctx context.Context, pods []string) error {
	note := ""
	if r.cfg.Trigger != nil {
		msg, err := r.cfg.Trigger(ctx)
		if err != nil {
			// The heartbeat still comes; the trigger only shortens the wait.
			note = fmt.Sprintf("webhook trigger failed (%v); waiting for the heartbeat", err)
			if r.cfg.Progress != nil {
				r.cfg.Progress.Warnf("%s", note)
			}
		} else {
			note = msg
		}
	}
	deadline, cancel := context.WithTimeout(ctx, r.cfg.RegistrationTimeout)
	defer cancel()
	var mu sync.Mutex
	var errs error
	r.each(deadline, len(pods), 0, func(dctx context.Context, i int) {
		err := r.onMember(dctx, pods[i], StepRegistration, "wait for re-registration", func(dctx context.Context, s *datapower.Session, _ Member) (string, error) {
			var gs datapower.GatewayService
			err := wait.PollUntilContextCancel(dctx, r.cfg.PollInterval, true, func(dctx context.Context) (bool, error) {
				var err error
				if gs, err = s.ReadGatewayService(dctx); err != nil {
					return false, err
				}
				return gs.Registered(), nil
			})
			if err != nil {
				if ctx.Err() == nil && deadline.Err() != nil {
					return "", fmt.Errorf("not re-registered within --registration-timeout %s (registration-state %q); the management server's heartbeat comes every 5 minutes, or pass --api-manager-url to trigger a webhook",
						r.cfg.RegistrationTimeout, gs.RegistrationState)
				}
				return "", err
			}
			msg := fmt.Sprintf("registered, configuration generation %d", gs.ConfigurationGeneration)
			if note != "" {
				msg += " (" + note + ")"
			}
			return msg, nil
		})
		if err != nil {
			mu.Lock()
			errs = errors.Join(errs, err)
			mu.Unlock()
		}
	})
	if errs != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return errs
}

func (r *Runner) health(ctx context.Context, s *datapower.Session, m Member) (string, error) {
	rows, err := s.ReadPeeringStatus(ctx)
	if err != nil {
		return "", err
	}
	q := datapower.Quorum(rows, r.peering)
	if !q.HasQuorum {
		return "", fmt.Errorf("gateway peering %s has no quorum: %s", r.peering, q.Reason)
	}
	for _, row := range rows {
		if row.ConfigurationName == r.peering && row.Address == m.IP {
			if !row.LinkOK() {
				return "", fmt.Errorf("link status %s in gateway peering %s", row.LinkStatus, r.peering)
			}
			return fmt.Sprintf("link ok, %d/%d members active", q.Active, q.Members), nil
		}
	}
	return "", fmt.Errorf("member %s is not in gateway peering %s", m.IP, r.peering)
}

// each runs fn for i in [0,n) in parallel, at most limit at once (0: all).
func (r *Runner) each(ctx context.Context, n, limit int, fn func(ctx context.Context, i int)) {
	if limit <= 0 || limit > n {
		limit = n
	}
	sem := make(chan struct{}, max(limit, 1))
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			fn(ctx, i)
		}()
	}
	wg.Wait()
}

func (r *Runner) record(member, step, status string, start time.Time, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := StepState{Member: member, Step: step, Status: status, StartedAt: start.UTC().Round(time.Millisecond),
		DurationSeconds: seconds(r.cfg.Now().Sub(start)), Message: msg}
	for i, s := range r.report.Results {
		if s.Member == member && s.Step == step {
			r.report.Results[i] = st
			return
		}
	}
	r.report.Results = append(r.report.Results, st)
}

func (r *Runner) recordIfAbsent(member, step, status, msg string) {
	if _, ok := r.result(member, step); !ok {
		r.record(member, step, status, r.cfg.Now(), msg)
	}
}

func (r *Runner) result(member, step string) (StepState, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.report.Result(member, step)
}

func seconds(d time.Duration) float64 {
	return float64(d.Round(time.Millisecond)) / float64(time.Second)
}

func sortResults(rs []StepState, members []Member) {
	order := map[string]int{}
	for i, m := range members {
		order[m.Pod] = i
	}
	stepOrder := map[string]int{}
	for i, s := range Steps() {
		stepOrder[s] = i
	}
	sort.SliceStable(rs, func(i, j int) bool {
		if order[rs[i].Member] != order[rs[j].Member] {
			return order[rs[i].Member] < order[rs[j].Member]
		}
		return stepOrder[rs[i].Step] < stepOrder[rs[j].Step]
	})
}

// progressStep wraps a progress step that may be absent.
type pstep struct{ s *progress.Step }

func (p pstep) done(msg string) {
	if p.s != nil {
		p.s.Done(msg)
	}
}

func (p pstep) fail(err error) {
	if p.s != nil {
		p.s.Fail(err)
	}
}

func (r *Runner) progressStep(pod, title string) pstep {
	if r.cfg.Progress == nil {
		return pstep{}
	}
	return pstep{r.cfg.Progress.Step(pod + ": " + title)}
}

// flat keeps a joined error on one line (members' errors joined by "; ").
type flat struct{ err error }

func (f flat) Error() string { return strings.ReplaceAll(f.err.Error(), "\n", "; ") }
func (f flat) Unwrap() error { return f.err }

func firstLine(out, fallback string) string {
	for _, l := range strings.Split(out, "\n") {
		if t := strings.TrimSpace(l); t != "" && t != "Global mode" {
			return t
		}
	}
	return fallback
}

// lastLine is the last non-blank line of out, or fallback.
func lastLine(out, fallback string) string {
	lines := strings.Split(out, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if t := strings.TrimSpace(lines[i]); t != "" && !strings.HasSuffix(t, "[y/n]:") {
			return t
		}
	}
	return fallback
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func dedupe(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
