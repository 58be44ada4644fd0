package rollout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kubectl-apic/kubectl-apic/pkg/datapower"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/podstate"
	"github.com/kubectl-apic/kubectl-apic/pkg/printers"
	"github.com/kubectl-apic/kubectl-apic/pkg/progress"
)

// Defaults of Config (our choices unless stated: IBM gives no figure for how long a DataPower pod
// takes to start; its readiness probe starts after 5 s and repeats every 5 s, port 7879).
const (
	DefaultRestartTimeout = 5 * time.Minute
	DefaultReadyTimeout   = 10 * time.Minute
	DefaultRejoinTimeout  = 5 * time.Minute
	DefaultSwitchTimeout  = 30 * time.Second
	DefaultPollInterval   = 2 * time.Second
	DefaultProbeWindow    = 10 * time.Second
)

// TrafficProbe is the part of pkg/probe the engine drives.
type TrafficProbe interface {
	Phase(member, phase string)
	Breached() error
}

// Config is one rollout.
type Config struct {
	Action  string
	Gateway string
	// Sites in the order they are rolled (--context first).
	Sites []*Site
	// Version is upgrade's target; License, when set, goes to spec.license.license with it.
	Version string
	License string
	// Restore is undo's export to restore, per site.
	Restore map[string]Export
	Hooks   Hooks
	RunHook HookFunc

	RestartTimeout time.Duration
	ReadyTimeout   time.Duration
	RejoinTimeout  time.Duration
	SwitchTimeout  time.Duration
	PollInterval   time.Duration
	// ProbeWindow is how long PROBE watches traffic after a member is back.
	ProbeWindow time.Duration
	Probe       TrafficProbe

	Progress *progress.Reporter
	// MemberLog is where a member's phase lines and pod events go (nil: nowhere).
	MemberLog func(site, pod string) io.Writer
	// Journal records the run (nil: a dry run records nothing).
	Journal *Journal
	// Resume is the unfinished run this one continues (nil: a fresh run).
	Resume *RunRecord
	RunID  string
	By     string
	Now    func() time.Time
}

// Runner runs one rollout: Assess, Plan, then (unless a dry run) Execute, then Close.
type Runner struct {
	cfg Config

	mu       sync.Mutex
	report   *Report
	rec      *RunRecord
	gateways map[string]*Gateway
	peering  map[string]Peering
	plan     Plan
	sessions map[string]*datapower.Session // by site/pod
	changed  bool                          // a change was made by this run
	current  Position                      // the phase running now (the journal may hold an earlier one)
}

// New returns a runner for cfg.
func New(cfg Config) *Runner {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.RestartTimeout, DefaultRestartTimeout)
	def(&cfg.ReadyTimeout, DefaultReadyTimeout)
	def(&cfg.RejoinTimeout, DefaultRejoinTimeout)
	def(&cfg.SwitchTimeout, DefaultSwitchTimeout)
	def(&cfg.PollInterval, DefaultPollInterval)
	def(&cfg.ProbeWindow, DefaultProbeWindow)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RunHook == nil {
		cfg.RunHook = RunShell
	}
	r := &Runner{cfg: cfg, gateways: map[string]*Gateway{}, peering: map[string]Peering{}, sessions: map[string]*datapower.Session{}}
	var sites []string
	for _, s := range cfg.Sites {
		sites = append(sites, s.Name)
	}
	ns := ""
	if len(cfg.Sites) > 0 {
		ns = cfg.Sites[0].Namespace
	}
	r.report = &Report{Action: cfg.Action, Gateway: cfg.Gateway, Namespace: ns, Sites: sites, Version: cfg.Version,
		RunID: cfg.RunID, Resumed: cfg.Resume != nil, StartedAt: cfg.Now().UTC().Round(time.Millisecond),
		Preflight: []Check{}, Steps: []StepResult{}, Members: []MemberResult{}}
	return r
}

// Report is the run's report so far.
func (r *Runner) Report() *Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.report.DurationSeconds = printers.Seconds(r.cfg.Now().Sub(r.report.StartedAt))
	return r.report
}

// Plan is the run's plan (after Assess).
func (r *Runner) Plan() Plan { return r.plan }

// Close detaches from every console.
func (r *Runner) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, s := range r.sessions {
		_ = s.Close()
		delete(r.sessions, k)
	}
}

// session is an open console on site/pod, reused while the pod lives.
func (r *Runner) session(ctx context.Context, s *Site, m Member) (*datapower.Session, error) {
	key := memberRef(s.Name, m.Pod) + "/" + string(m.UID)
	r.mu.Lock()
	sess := r.sessions[key]
	r.mu.Unlock()
	if sess != nil {
		return sess, nil
	}
	sess, err := s.Open(ctx, m.Pod, m.Container)
	if err != nil {
		return nil, fmt.Errorf("console of %s: %w", memberRef(s.Name, m.Pod), err)
	}
	r.mu.Lock()
	r.sessions[key] = sess
	r.mu.Unlock()
	return sess, nil
}

// drop forgets (and closes) the console of site/pod, e.g. after an error or before a restart.
func (r *Runner) drop(site, pod string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	prefix := memberRef(site, pod) + "/"
	for k, s := range r.sessions {
		if strings.HasPrefix(k, prefix) {
			_ = s.Close()
			delete(r.sessions, k)
		}
	}
}

// readPeering reads gateway-peering-status on site through a Ready member, preferring members
// other than avoid (the one about to go) and those in prefer order.
func (r *Runner) readPeering(ctx context.Context, g *Gateway, avoid string) (Peering, error) {
	return readPeering(ctx, g, avoid, func(ctx context.Context, m Member) (*datapower.Session, func(error), error) {
		sess, err := r.session(ctx, g.Site, m)
		return sess, func(err error) {
			if err != nil {
				r.drop(g.Site.Name, m.Pod)
			}
		}, err
	})
}

// ReadPeering reads gateway-peering-status through the first Ready member that answers, on a
// console opened for it and closed again (rollout status; a run keeps its consoles open).
func ReadPeering(ctx context.Context, g *Gateway) (Peering, error) {
	return readPeering(ctx, g, "", func(ctx context.Context, m Member) (*datapower.Session, func(error), error) {
		sess, err := g.Site.Open(ctx, m.Pod, m.Container)
		return sess, func(error) { _ = sess.Close() }, err
	})
}

// readPeering tries g's Ready members in ordinal order, avoid last, on the console open gives
// (done is told how the read went), and stops at a rejected login: one failed login, not one per
// member.
func readPeering(ctx context.Context, g *Gateway, avoid string,
	open func(ctx context.Context, m Member) (sess *datapower.Session, done func(error), err error)) (Peering, error) {
	var errs []error
	for _, pass := range []bool{false, true} {
		for _, m := range g.Members {
			if !m.Ready || m.Terminating || (m.Pod == avoid) != pass {
				continue
			}
			sess, done, err := open(ctx, m)
			if err == nil {
				var rows []datapower.PeeringStatus
				rows, err = sess.ReadPeeringStatus(ctx)
				done(err)
				if err == nil {
					return Peering{From: m.Pod, Rows: rows}, nil
				}
			}
			if errors.Is(err, datapower.ErrLoginFailed) {
				return Peering{}, err
			}
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		return Peering{}, fmt.Errorf("no Ready member of gateway %s on %s to read gateway-peering-status from", g.Name(), g.Site.Name)
	}
	return Peering{}, errors.Join(errs...)
}

// refresh re-reads a site's gateway.
func (r *Runner) refresh(ctx context.Context, s *Site) (*Gateway, error) {
	g, err := ReadGateway(ctx, s, r.cfg.Gateway)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.gateways[s.Name] = g
	r.mu.Unlock()
	return g, nil
}

func (r *Runner) site(name string) *Site {
	for _, s := range r.cfg.Sites {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// log writes a line to the member's log.
func (r *Runner) log(site, pod, format string, args ...any) {
	if r.cfg.MemberLog == nil {
		return
	}
	if w := r.cfg.MemberLog(site, pod); w != nil {
		fmt.Fprintf(w, "%s %s\n", r.cfg.Now().UTC().Format(time.RFC3339), fmt.Sprintf(format, args...))
	}
}

// phaseError is a member phase's failure: its exit code and where.
type phaseError struct {
	site, pod, phase string
	code             exitcode.Code
	err              error
}

func (e *phaseError) Error() string {
	return fmt.Sprintf("%s %s: %v", memberRef(e.site, e.pod), e.phase, e.err)
}
func (e *phaseError) Unwrap() error { return exitcode.New(e.code, e.err) }

var phaseCodes = map[string]exitcode.Code{
	PhasePrecheck: exitcode.RolloutPrecheckFailed, PhaseSwitchPrimary: exitcode.RolloutSwitchPrimaryFailed,
	PhaseRestart: exitcode.RolloutRestartFailed, PhaseReady: exitcode.RolloutReadyFailed,
	PhaseRejoin: exitcode.RolloutRejoinFailed, PhaseVerify: exitcode.RolloutVerifyFailed,
	PhaseProbe: exitcode.RolloutProbeFailed,
	StepDrain:  exitcode.RolloutHookFailed, StepSmoke: exitcode.RolloutHookFailed, StepUndrain: exitcode.RolloutHookFailed,
	StepExport: exitcode.RolloutSpecChangeFailed, StepChange: exitcode.RolloutSpecChangeFailed,
}

// journaled are the phases written to the journal before they start: a member's first, and those
// that change something. The phases that only wait and read (READY, REJOIN, VERIFY, PROBE) are
// redone by a re-run, so recording them would cost a write each (a round trip per site) and
// tell a re-run nothing it needs.
var journaled = map[string]bool{PhasePrecheck: true, PhaseSwitchPrimary: true, PhaseRestart: true}

// phaseFunc runs a phase: its status (PASSED, SKIPPED, UNVERIFIED) and message, or an error.
type phaseFunc func(ctx context.Context) (status, msg string, err error)

// runPhase runs one member phase: journal first (journaled phases), then the phase, then its
// result in the report.
func (r *Runner) runPhase(ctx context.Context, site, pod, phase string, fn phaseFunc) error {
	if r.cfg.Probe != nil {
		r.cfg.Probe.Phase(memberRef(site, pod), phase) // pod names repeat across sites
	}
	if journaled[phase] {
		if err := r.journal(ctx, Position{Site: site, Pod: pod, Phase: phase}); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.current = Position{Site: site, Pod: pod, Phase: phase} // what the end of the run records
	r.mu.Unlock()
	r.log(site, pod, "%s: started", phase)
	res, err := r.do(ctx, memberRef(site, pod), phase, fn)
	r.log(site, pod, "%s: %s %s", phase, res.Status, res.Message)
	r.mu.Lock()
	if m := r.report.Member(site, pod); m != nil {
		m.set(res)
	}
	r.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		return &phaseError{site: site, pod: pod, phase: phase, code: exitcode.Code(res.Code), err: err}
	}
	return err
}

// runStep runs a site or spec step (always journaled).
func (r *Runner) runStep(ctx context.Context, site, name string, fn phaseFunc) error {
	if err := r.journal(ctx, Position{Site: site, Phase: name}); err != nil {
		return err
	}
	res, err := r.do(ctx, site, name, fn)
	st := StepResult{Step: name, Site: site, Status: res.Status, Code: res.Code, StartedAt: res.StartedAt,
		DurationSeconds: res.DurationSeconds, Message: res.Message}
	r.mu.Lock()
	replaced := false
	for i, s := range r.report.Steps {
		if s.Step == name && s.Site == site {
			r.report.Steps[i], replaced = st, true
		}
	}
	if !replaced {
		r.report.Steps = append(r.report.Steps, st)
	}
	r.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		return &phaseError{site: site, phase: name, code: exitcode.Code(res.Code), err: err}
	}
	return err
}

// do runs fn as phase (or step) name of what (site/pod or site) with its progress line, and says
// how it ended: UNKNOWN when the run stopped while it ran (the error is then ctx's), FAILED with
// the phase's exit code (or the refusal's or probe breach's it returned).
func (r *Runner) do(ctx context.Context, what, name string, fn phaseFunc) (PhaseResult, error) {
	start := r.cfg.Now()
	var step *progress.Step
	if r.cfg.Progress != nil {
		step = r.cfg.Progress.Step(what + " " + name)
	}
	status, msg, err := fn(ctx)
	res := PhaseResult{Phase: name, Status: status, StartedAt: start.UTC().Round(time.Millisecond),
		DurationSeconds: printers.Seconds(r.cfg.Now().Sub(start)), Message: msg}
	switch {
	case err != nil && ctx.Err() != nil:
		res.Status, res.Message = Unknown, "the run stopped during "+name+": result unknown until a re-run reads the state ("+context.Cause(ctx).Error()+")"
		if step != nil {
			step.Unknown(res.Message)
		}
		return res, ctx.Err()
	case err != nil:
		res.Status, res.Code, res.Message = Failed, int(phaseCodes[name]), err.Error()
		var ee *exitcode.ExitError
		if errors.As(err, &ee) && (ee.Code == exitcode.ProbeBreached || ee.Code == exitcode.Refused) {
			res.Code = int(ee.Code)
		}
		if step != nil {
			step.Fail(err)
		}
	case step != nil && status == Skipped:
		step.Skip(msg)
	case step != nil:
		step.Done(doneMessage(status, msg))
	}
	return res, err
}

// journal records the position before a phase starts. A dry run has no journal.
func (r *Runner) journal(ctx context.Context, pos Position) error {
	if r.cfg.Journal == nil || r.rec == nil {
		return nil
	}
	r.mu.Lock()
	r.rec.Current, r.current = pos, pos
	r.rec.Updated = r.cfg.Now().UTC()
	r.rec.Members = append([]MemberResult(nil), r.report.Members...)
	r.rec.Steps = append([]StepResult(nil), r.report.Steps...)
	rec := *r.rec
	r.mu.Unlock()
	if err := r.cfg.Journal.SaveRun(ctx, &rec); err != nil {
		return fmt.Errorf("recording %s in the rollout journal (ConfigMap %s) failed, so it was not started: %w",
			strings.TrimSpace(pos.Pod+" "+pos.Phase), JournalName(r.cfg.Gateway), err)
	}
	return nil
}

// pollPeering reads peering on g (avoiding pod) until check says "" or timeout passes.
func (r *Runner) pollPeering(ctx context.Context, s *Site, avoid string, timeout time.Duration, check func(Peering) string) (Peering, string, error) {
	var last Peering
	why := ""
	err := wait.PollUntilContextTimeout(ctx, r.cfg.PollInterval, timeout, true, func(ctx context.Context) (bool, error) {
		g, err := r.refresh(ctx, s)
		if err != nil {
			return false, err
		}
		p, err := r.readPeering(ctx, g, avoid)
		if err != nil {
			if errors.Is(err, datapower.ErrLoginFailed) {
				return false, err
			}
			why = err.Error()
			return false, nil
		}
		last, why = p, check(p)
		return why == "", nil
	})
	if err != nil && wait.Interrupted(err) && ctx.Err() == nil {
		return last, why, fmt.Errorf("not within %s: %s", timeout, why)
	}
	return last, why, err
}

// podEvents writes the pod's events to its log (what Kubernetes said about the restart).
func (r *Runner) podEvents(ctx context.Context, s *Site, pod string) {
	if r.cfg.MemberLog == nil {
		return
	}
	evs, err := s.Kube.CoreV1().Events(s.Namespace).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + pod})
	if err != nil {
		r.log(s.Name, pod, "events: %v", err)
		return
	}
	for _, e := range evs.Items {
		r.log(s.Name, pod, "event %s %s: %s", e.Type, e.Reason, e.Message)
	}
}

// podProblem explains why a pod is not Ready, for READY's failure.
func podProblem(p *corev1.Pod) string {
	if p == nil {
		return "the pod does not exist"
	}
	if why := podstate.Problem(p); why != "" {
		return why
	}
	return "not Ready"
}

// doneMessage is a finished phase's progress line: its message, with the status when it is not PASSED.
func doneMessage(status, msg string) string {
	if status == Passed {
		return msg
	}
	return strings.TrimSpace(status + " " + msg)
}
