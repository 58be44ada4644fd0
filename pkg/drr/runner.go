package drr

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kubectl-apic/kubectl-apic/pkg/datapower"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/printers"
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
	// LogFile is the apic-gw-service debug log's file; default datapower.APICGatewayServiceLog.
	LogFile string
	// Force proceeds despite pre-flight problems (lost quorum, members not ready or unreachable).
	Force bool
	// Primary is the member to make primary and flush from; "" chooses the current primary.
	Primary string
	// Registration confirms the re-registration (API Manager's view); nil: the registration step is
	// UNVERIFIED with the command to check by hand.
	Registration RegistrationCheck
	// Trigger, when set, forces the re-registration (an API Manager webhook) instead of waiting for
	// the heartbeat alone.
	Trigger func(ctx context.Context) (string, error)
	// Progress receives step events (nil: none).
	Progress *progress.Reporter
	// Journal records the step the run enters, before it starts (nil: none; journal.go).
	Journal StepJournal
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Probe, when set, is told each member and step as it starts and asked, before it starts,
	// whether its gates were breached (pkg/probe; nil: no probe).
	Probe TrafficProbe
}

// TrafficProbe is the part of pkg/probe the runner drives: before a member's step (a safe point)
// Breached may stop the run; Phase tags the samples that follow.
type TrafficProbe interface {
	Phase(member, step string)
	Breached() error
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
	if cfg.LogFile == "" {
		cfg.LogFile = datapower.APICGatewayServiceLog
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
	r.report.DurationSeconds = printers.Seconds(r.cfg.Now().Sub(r.report.StartedAt))
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
	var g errgroup.Group
	for _, s := range ss {
		g.Go(s.Close)
	}
	_ = g.Wait()
}

// open opens m's console (Config.Open) and keeps the session for the steps and Close.
func (r *Runner) open(ctx context.Context, m Member) (*datapower.Session, error) {
	s, err := r.cfg.Open(ctx, m)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.sessions[m.Pod] = s
	r.mu.Unlock()
	return s, nil
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

// each runs fn for i in [0,n) in parallel, at most limit at once (0: all).
func (r *Runner) each(ctx context.Context, n, limit int, fn func(ctx context.Context, i int)) {
	var g errgroup.Group
	if limit > 0 {
		g.SetLimit(limit)
	}
	for i := range n {
		g.Go(func() error { fn(ctx, i); return nil })
	}
	_ = g.Wait()
}

func (r *Runner) record(member, step, status string, start time.Time, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := StepState{Member: member, Step: step, Status: status, StartedAt: start.UTC().Round(time.Millisecond),
		DurationSeconds: printers.Seconds(r.cfg.Now().Sub(start)), Message: msg}
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
