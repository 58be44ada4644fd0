package failover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/explain"
	"github.com/kubectl-apic/kubectl-apic/pkg/hastate"
	"github.com/kubectl-apic/kubectl-apic/pkg/kube"
	"github.com/kubectl-apic/kubectl-apic/pkg/lock"
	"github.com/kubectl-apic/kubectl-apic/pkg/printers"
	"github.com/kubectl-apic/kubectl-apic/pkg/progress"
)

// Config is one failover run.
type Config struct {
	Req      Request
	Timeouts Timeouts
	// Yes skips the confirmation; DryRun plans and changes nothing.
	Yes, DryRun bool
	// ForceUnlock takes the lease over even from a live holder.
	ForceUnlock bool
	// RouterHook runs the user's --router-hook; nil when there is none.
	RouterHook HookFunc
	// Command is the command line, for the lease holder and the resume hint.
	Command string
	Lock    lock.Options
	// Holder identifies this run on the lease; zero means lock.CurrentHolder(Command).
	Holder lock.Holder
	// Confirm asks a yes/no question; an error refuses. It must return when ctx ends (Ctrl-C).
	Confirm  func(ctx context.Context, question string) error
	Reporter *progress.Reporter
	// PlanOut receives the plan before the run starts (stderr); nil discards it.
	PlanOut io.Writer
	// ReachTimeout bounds the first contact with each site; zero means 15s.
	ReachTimeout time.Duration
	// PeerLost: see Engine.PeerLost.
	PeerLost time.Duration
	Now      func() time.Time
	Trace    func(TraceEvent)
	// Probe: see Engine.Probe.
	Probe TrafficProbe
}

var namespacesGVR = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}

// Run performs the failover from --from to --to: pre-flight (reachability, cluster identity, state,
// RBAC, the lease on both sites), the plan, the confirmation, the steps and the verification. It
// always returns a Result (for the summary) and, on failure, an error carrying the exit code.
func Run(ctx context.Context, cfg Config, from, to *kube.Site) (*Result, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ReachTimeout <= 0 {
		cfg.ReachTimeout = 15 * time.Second
	}
	if cfg.Holder.RunID == "" {
		cfg.Holder = lock.CurrentHolder(cfg.Command)
	}
	if cfg.PlanOut == nil {
		cfg.PlanOut = io.Discard
	}
	start := cfg.Now()
	res := &Result{From: cfg.Req.From, To: cfg.Req.To, Subsystems: cfg.Req.Subsystems, DryRun: cfg.DryRun,
		StartTime: metav1.NewTime(start)}
	r := &run{cfg: cfg, from: from, to: to, res: res}
	err := r.do(ctx)
	res.Elapsed = printers.Seconds(cfg.Now().Sub(start))
	if err != nil && len(r.subjects) > 0 && r.started {
		err = r.afterFailure(ctx, err)
	}
	code := exitcode.FromError(err)
	res.ExitCode, res.ExitName = int(code), code.String()
	switch {
	case err == nil && cfg.DryRun:
		res.Outcome = OutcomePlanned
	case err == nil && r.nothingToDo:
		res.Outcome = OutcomeNothingToDo
	case err == nil:
		res.Outcome = OutcomeSucceeded
	case code == exitcode.Refused || code == exitcode.Usage:
		res.Outcome = OutcomeRefused
	case code == exitcode.Interrupted:
		res.Outcome = OutcomeInterrupted
	case code == exitcode.Timeout:
		res.Outcome = OutcomeTimedOut
	default:
		res.Outcome = OutcomeFailed
	}
	if err != nil {
		res.Message = err.Error()
	}
	ns := to.Namespace
	res.Pairs = pairRefs(r.subjects)
	res.WriteNextSteps(r.subjects, ns, r.hookRan(), cfg.Command)
	if len(r.advice) > 0 {
		// From the state found after the failure, instead of a blind "re-run to resume".
		res.NextSteps = append(r.advice, fmt.Sprintf("watch both sites: kubectl --context %s get mgmt,ptl; kubectl --context %s get mgmt,ptl", res.From, res.To))
	}
	return res, err
}

// afterFailure reads both sites once the steps stopped and replaces the resume hint by advice from
// the state found: a hint never suggests a change the current state makes wrong (a stale run's
// "re-run" would start a new failover once someone else has failed back). PromoteFailed means "no
// site may be active": when a site is active for every pair it is not the code.
func (r *run) afterFailure(ctx context.Context, err error) error {
	code := exitcode.FromError(err)
	if code == exitcode.Refused && !r.changed() {
		return err
	}
	from := r.from
	if r.cfg.Req.Fenced {
		from = nil
	}
	lines, allActive := adviceFor(ctx, r.cfg.Req, r.subjects, from, r.to, r.cfg.Command)
	r.advice = lines
	if code == exitcode.PromoteFailed && allActive {
		return exitcode.New(exitcode.Error, fmt.Errorf("%w (a site is active for every pair now: %s)", err, joinLines(lines)))
	}
	return err
}

// changed reports whether a step of this run sent a change.
func (r *run) changed() bool {
	for _, s := range r.res.Steps {
		switch s.Status {
		case StatusPassed, StatusUnknown, StatusInterrupted, StatusFailed:
			if s.Phase == PhaseDemote || s.Phase == PhasePromote || s.Phase == PhaseConfigurator {
				return true
			}
		}
	}
	return false
}

func pairRefs(ss []Subject) []PairRef {
	var out []PairRef
	for _, s := range ss {
		out = append(out, PairRef{Subsystem: s.Subsystem, Name: s.Name})
	}
	return out
}

type run struct {
	cfg         Config
	from, to    *kube.Site
	res         *Result
	subjects    []Subject
	nothingToDo bool
	// observed is the journal read before the lease was taken (dry runs plan with it).
	observed Journal
	// started: the steps began (after pre-flight and confirmation).
	started bool
	// advice replaces the resume hint after a failure (afterFailure).
	advice []string
	// identity: how the two contexts were told apart (cluster identity or, without it, server URLs).
	identity identityCheck
}

func (r *run) hookRan() bool {
	for _, s := range r.res.Steps {
		if s.Phase == PhaseRouter && s.Status == StatusPassed {
			return true
		}
	}
	return false
}

// do is the runbook's phases: pre-flight (checks and the lease), the plan (a dry run stops there),
// the confirmation, then the steps under the lease with their journal.
func (r *run) do(ctx context.Context) error {
	pre := newResult(Step{Phase: PhasePreflight, Name: string(PhasePreflight)}, StatusPassed)
	pre.StartTime = metav1.NewTime(r.cfg.Now())
	ps := r.cfg.Reporter.Step(string(PhasePreflight))
	finishPre := func(err error) error {
		pre.ElapsedSeconds = printers.Seconds(r.cfg.Now().Sub(pre.StartTime.Time))
		if err != nil {
			pre.Status, pre.Message = StatusFailed, err.Error()
			ps.Fail(err)
		} else {
			ps.Done(pre.Message)
		}
		r.res.Steps = append([]StepResult{pre}, r.res.Steps...)
		return err
	}

	l, err := r.preflight(ctx, ps)
	if err != nil {
		return finishPre(err)
	}
	if l != nil {
		defer func() {
			if err := l.Release(context.WithoutCancel(ctx)); err != nil {
				r.cfg.Reporter.Warnf("%v", err)
			}
		}()
	}
	steps := Plan(r.cfg.Req, r.subjects, PlanOptions{Fenced: r.cfg.Req.Fenced, RouterHook: r.cfg.RouterHook != nil,
		Timeouts: r.cfg.Timeouts, Journal: r.journal(l), Namespace: r.to.Namespace})
	pre.Message = describeSubjects(r.subjects)
	if r.cfg.DryRun {
		_ = finishPre(nil)
		r.planned(steps)
		return nil
	}
	WritePlan(r.cfg.PlanOut, r.cfg.Req, steps)

	r.nothingToDo = allAlreadyDone(r.subjects)
	if r.nothingToDo {
		pre.Message = nothingToDoText(r.subjects, r.cfg.Req)
	}
	_ = finishPre(nil)
	if err := r.confirm(ctx); err != nil {
		return err
	}
	r.started = true
	return r.execute(ctx, l, steps, pre.Message)
}

// planned records a dry run's steps: PLANNED, or SKIPPED with the reason.
func (r *run) planned(steps []Step) {
	for _, st := range steps {
		res := newResult(st, StatusPlanned)
		if st.Skip != "" {
			res.Status, res.Message = StatusSkipped, st.Skip
		}
		r.res.Steps = append(r.res.Steps, res)
	}
}

// confirm asks the question (not with --yes, nor when nothing would change). The wait for the answer
// is its own step: pre-flight's time is the checks' only.
func (r *run) confirm(ctx context.Context) error {
	changes := false
	for _, s := range r.subjects {
		changes = changes || (s.Situation != Done && s.Situation != AlreadyDone)
	}
	if !changes || r.cfg.Yes {
		return nil
	}
	c := newResult(Step{Phase: PhaseConfirm, Name: string(PhaseConfirm)}, StatusPassed)
	c.StartTime = metav1.NewTime(r.cfg.Now())
	err := r.cfg.Confirm(ctx, r.question())
	c.ElapsedSeconds = printers.Seconds(r.cfg.Now().Sub(c.StartTime.Time))
	if err != nil {
		c.Status, c.Message = StatusFailed, err.Error()
		if exitcode.FromError(err) == exitcode.Interrupted {
			c.Status = StatusInterrupted
		}
	} else {
		c.Message = "confirmed"
	}
	r.res.Steps = append(r.res.Steps, c)
	return err
}

// execute runs the steps while holding the lease (l is nil without one): it starts the journal,
// runs the engine and records the outcome on the lease.
func (r *run) execute(ctx context.Context, l *lock.Lock, steps []Step, preMessage string) error {
	rep := r.cfg.Reporter
	runCtx, stop := ctx, func() {}
	var journal Journaler
	if l != nil {
		journal = l
		runCtx, stop = l.Hold(ctx)
		defer stop()
		if err := r.startJournal(runCtx, l); err != nil {
			return err
		}
	}
	if r.nothingToDo {
		rep.Infof("%s", preMessage)
	}
	eng := &Engine{Req: r.cfg.Req, From: r.from, To: r.to, Reporter: rep, Journal: journal, Hook: r.cfg.RouterHook,
		Now: r.cfg.Now, Trace: r.cfg.Trace, Command: r.cfg.Command, PeerLost: r.cfg.PeerLost, Probe: r.cfg.Probe}
	if r.cfg.Req.Fenced {
		eng.From = nil
	}
	results, err := eng.Run(runCtx, steps)
	r.res.Steps = append(r.res.Steps, results...)
	if cause := context.Cause(runCtx); err != nil && cause != nil && !errors.Is(cause, context.Canceled) && ctx.Err() == nil {
		err = exitcode.New(exitcode.Error, fmt.Errorf("%w; stopped before the next change (see the next steps for what to do in the state found now)", cause))
	}
	if l != nil && !r.nothingToDo && l.Err() == nil {
		state := JournalSucceeded
		if err != nil {
			state = JournalFailed
		}
		if jerr := l.Annotate(context.WithoutCancel(ctx), map[string]string{JournalState: state}); jerr != nil {
			rep.Warnf("could not record the outcome in the lease journal: %v", jerr)
		}
	}
	return err
}

// startJournal writes the failover's start on the lease (kept from the interrupted run it resumes).
// Nothing to do: the journal of the failover that got here stays as it is.
func (r *run) startJournal(ctx context.Context, l *lock.Lock) error {
	if r.nothingToDo {
		return nil
	}
	fresh := true
	for _, s := range r.subjects {
		fresh = fresh && s.Situation == Fresh
	}
	j := r.journal(l)
	started := j.Started
	if fresh || !j.Matches(r.cfg.Req) || started == "" {
		started = r.cfg.Now().UTC().Format(time.RFC3339)
	}
	if err := l.Annotate(ctx, journalStart(r.cfg.Req, started, fresh, j)); err != nil {
		return fmt.Errorf("writing the failover journal on the lease: %w", err)
	}
	return nil
}

func (r *run) journal(l *lock.Lock) Journal {
	if l == nil {
		return r.observed
	}
	var ls []*lockLease
	for _, le := range l.Previous {
		ls = append(ls, le)
	}
	return JournalFromLeases(ls...)
}

// question is the confirmation prompt: it says plainly that demotion deletes the site's data.
func (r *run) question() string {
	req := r.cfg.Req
	if req.Fenced {
		return fmt.Sprintf("%s cannot be reached and you state that its network is fenced (isolated from %s and from clients). %s will be promoted to active. If %s comes back with its network enabled while still active, both sites are active (split-brain). Promote %s",
			req.From, req.To, req.To, req.From, req.To)
	}
	q := fmt.Sprintf("Fail over %s from %s to %s. ", subsystemsText(req.Subsystems), req.From, req.To)
	for _, s := range r.subjects {
		if s.Subsystem == apic.Management && s.Situation == Fresh {
			q += fmt.Sprintf("Setting %s's management to warm-standby DELETES ALL MANAGEMENT DATA on %s; it is replaced by the copy from %s when %s becomes active. ",
				req.From, req.From, req.To, req.To)
		}
	}
	return q + "Management and portal UIs are unavailable until the promotion completes. Proceed"
}

// preflight is the runbook's pre-flight, in the README's order: contact both sites, check that they
// are two different clusters, that exactly one site is active and it is --from with the warm-standby
// replicating, the RBAC the run needs and that the warm-standby can take over; then take the lease on
// both sites (a dry run only says who holds it). It fills r.subjects; nothing is changed before it
// returns.
func (r *run) preflight(ctx context.Context, ps *progress.Step) (*lock.Lock, error) {
	if err := r.contactSites(ctx, ps); err != nil {
		return nil, err
	}
	if err := r.checkTwoClusters(ctx); err != nil {
		return nil, err
	}
	leases, err := r.checkActiveSite(ctx, ps)
	if err != nil {
		return nil, err
	}
	ps.Update("checking permissions")
	if err := r.checkRBAC(ctx, r.subjects, nil); err != nil {
		return nil, err
	}
	if err := r.checkWarmStandby(ctx, ps); err != nil {
		return nil, err
	}
	if r.cfg.DryRun {
		r.warnHeldLeases(leases)
		return nil, nil
	}
	return r.takeLease(ctx, ps)
}

// contactSites reaches both sites (bounded by ReachTimeout) and settles --from-fenced: --to must
// answer; --from down is refused unless the user confirmed it is fenced, and a reachable --from
// overrides --from-fenced.
func (r *run) contactSites(ctx context.Context, ps *progress.Step) error {
	req := &r.cfg.Req
	ps.Update("contacting " + req.From + " and " + req.To)
	errs := kube.EachSite(ctx, []*kube.Site{r.from, r.to}, r.reach)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errs[1] != nil {
		return errs[1]
	}
	fromDown := false
	if errs[0] != nil {
		switch exitcode.FromError(errs[0]) {
		case exitcode.Unreachable, exitcode.Timeout:
			fromDown = true
		default:
			return errs[0]
		}
	}
	switch {
	case fromDown && !req.Fenced:
		return refusal("%v. If %s is down, IBM requires disabling the network to and from its management and portal subsystems before promoting %s (otherwise it may come back active: split-brain); once it is isolated, re-run with --from-fenced. Nothing was changed",
			errs[0], req.From, req.To)
	case !fromDown && req.Fenced:
		r.cfg.Reporter.Warnf("%s is reachable: ignoring --from-fenced and failing over normally (demote %s first)", req.From, req.From)
		req.Fenced = false
	}
	r.res.Fenced = req.Fenced
	return nil
}

// reach is the first contact with s: reading its cluster identity. A user forbidden to read it is
// warned and compared another way (checkTwoClusters).
func (r *run) reach(ctx context.Context, s *kube.Site) error {
	cctx, cancel := context.WithTimeout(ctx, r.cfg.ReachTimeout)
	defer cancel()
	_, err := s.ClusterID(cctx)
	if err == nil {
		return nil
	}
	if apierrors.IsForbidden(err) {
		// Cluster identity needs get on kube-system; kube.CompareClusters falls back to the URLs
		// and identityCheck to the objects' UIDs.
		r.cfg.Reporter.Warnf("cannot read the cluster identity of %s (forbidden to get namespace kube-system): comparing API server URLs and object UIDs instead", s.Name)
		return nil
	}
	return explain.Error(err, s.Name, namespacesGVR, "get")
}

// checkTwoClusters refuses when --from and --to are one cluster, and records which sites lack a
// cluster identity (checkActiveSite then compares object UIDs).
func (r *run) checkTwoClusters(ctx context.Context) error {
	req := r.cfg.Req
	r.identity = identityCheck{req: req, servers: [2]string{r.from.Server, r.to.Server}}
	for i, s := range []*kube.Site{r.from, r.to} {
		if i == 0 && req.Fenced {
			continue // unreachable, and fenced: there is no second cluster to mistake it for
		}
		// Site.ClusterID keeps what reach read: a site still without an identity was forbidden it.
		if _, err := s.ClusterID(ctx); err != nil {
			r.identity.unknown = append(r.identity.unknown, s.Name)
		}
	}
	if req.Fenced {
		return nil
	}
	// One implementation of "is this one cluster?" for every command (pkg/kube).
	if cmp, err := kube.CompareClusters(ctx, r.from, r.to); err == nil && cmp.Match == kube.OneCluster {
		return refusal("contexts %s and %s are the same cluster (%s): a failover needs two data centers", req.From, req.To, cmp.Evidence)
	}
	return nil
}

// checkActiveSite reads both sites' API Connect objects and the leases' journal, and judges each
// pair (Assess): exactly one site active and it is --from, the warm-standby replicating, or a
// failover of this command to resume. It fills r.subjects and returns the leases as read.
func (r *run) checkActiveSite(ctx context.Context, ps *progress.Step) ([]*lockLease, error) {
	state, err := r.readState(ctx, ps)
	if err != nil {
		return nil, r.checkRBAC(ctx, nil, err)
	}
	r.res.Shape = state.shape
	if err := r.identity.sameObjects(state.pairs); err != nil {
		return nil, err
	}
	var observed []*lockLease
	for _, t := range r.lockTargets() {
		le, err := lock.Inspect(ctx, t, r.cfg.Lock.Name)
		if err != nil {
			return nil, r.checkRBAC(ctx, nil, explain.Error(err, t.Site, leases, "get"))
		}
		observed = append(observed, le)
	}
	r.observed = JournalFromLeases(observed...)
	if r.subjects, err = Assess(state.pairs, r.cfg.Req, r.observed); err != nil {
		return nil, r.identity.note(err)
	}
	return observed, nil
}

// checkWarmStandby runs the checks that the warm-standby can take over (PreflightChecks: phase,
// READY, pods).
func (r *run) checkWarmStandby(ctx context.Context, ps *progress.Step) error {
	ps.Update("checking the warm-standby")
	return runPreflightChecks(ctx, CheckInput{Req: r.cfg.Req, Subjects: r.subjects, To: r.to})
}

// warnHeldLeases is the dry run's lease check: it says who holds a lease that a real run would be
// refused by.
func (r *run) warnHeldLeases(observed []*lockLease) {
	targets := r.lockTargets()
	for i, le := range observed {
		if h, held := lock.HolderOf(le); held {
			r.cfg.Reporter.Warnf("lease %s on %s is held by %s: a real run would be refused until it is released or expires", lockName(r.cfg.Lock), targets[i].Site, h)
		}
	}
}

// takeLease holds the lease on both sites (refusing while another failover holds it), then reads
// and judges both sites again under it: another run may have finished just before it was taken.
func (r *run) takeLease(ctx context.Context, ps *progress.Step) (*lock.Lock, error) {
	targets := r.lockTargets()
	ps.Update("taking lease " + lockName(r.cfg.Lock) + " on " + siteNames(targets))
	lopts := r.cfg.Lock
	lopts.Force = lopts.Force || r.cfg.ForceUnlock
	l, err := lock.Acquire(ctx, targets, r.cfg.Holder, lopts)
	if err != nil {
		var held *lock.HeldError
		if errors.As(err, &held) {
			return nil, refusal("another failover is in progress: %v. Nothing was changed", err)
		}
		return nil, explain.Error(err, "", leases, "update")
	}
	r.res.Lock = &LockInfo{Lease: lockName(r.cfg.Lock), Holder: r.cfg.Holder.String(), Sites: l.Sites()}
	for _, t := range l.TakeOvers {
		msg := fmt.Sprintf("took over lease %s on %s from %s: %s", lockName(r.cfg.Lock), t.Site, t.Previous, t.Reason)
		r.res.Lock.TakeOvers = append(r.res.Lock.TakeOvers, msg)
		r.cfg.Reporter.Warnf("%s", msg)
	}

	state, err := r.readState(ctx, ps)
	if err == nil {
		r.subjects, err = Assess(state.pairs, r.cfg.Req, r.journal(l))
	}
	if err != nil {
		_ = l.Release(context.WithoutCancel(ctx))
		return nil, err
	}
	return l, nil
}

// checkRBAC asks both sites (SelfSubjectAccessReview) for every permission the run needs and
// refuses once, listing every gap on every site. cause is the error that made it look (a read
// denied), returned as it is when no gap explains it.
func (r *run) checkRBAC(ctx context.Context, subjects []Subject, cause error) error {
	if cause != nil && !apierrors.IsForbidden(cause) {
		return cause
	}
	sites := r.sites()
	denied := make([][]Permission, len(sites))
	errs := kube.EachSite(ctx, sites, func(ctx context.Context, s *kube.Site) (err error) {
		denied[slices.Index(sites, s)], err = CheckPermissions(ctx, s, RequiredPermissions(subjects, s.Name, r.cfg.Req))
		return err
	})
	var parts []string
	for i, s := range sites {
		if err := errs[i]; err != nil {
			if cause != nil {
				return cause
			}
			return explain.Error(err, s.Name, schema.GroupVersionResource{Group: "authorization.k8s.io", Version: "v1", Resource: "selfsubjectaccessreviews"}, "create")
		}
		if len(denied[i]) > 0 {
			parts = append(parts, deniedText(s.Name, s.Namespace, denied[i]))
		}
	}
	if len(parts) == 0 {
		if cause != nil {
			return exitcode.New(exitcode.Refused, fmt.Errorf("%w; nothing was changed", cause))
		}
		return nil
	}
	more := ""
	if subjects == nil {
		more = " (the permissions to patch the CRs that carry multiSiteHA are checked once these reads are allowed)"
	}
	return refusal("missing RBAC %s%s: ask your cluster administrator for these permissions; nothing was changed", strings.Join(parts, "; "), more)
}

type siteState struct {
	pairs []hastate.Pair
	shape Shape
}

func (r *run) sites() []*kube.Site {
	if r.cfg.Req.Fenced {
		return []*kube.Site{r.to}
	}
	return []*kube.Site{r.from, r.to}
}

func (r *run) readState(ctx context.Context, ps *progress.Step) (siteState, error) {
	ps.Update("reading API Connect objects")
	sites := r.sites()
	objs := make([]hastate.SiteObjects, len(sites))
	kube.EachSite(ctx, sites, func(ctx context.Context, s *kube.Site) error {
		for i := range sites {
			if sites[i] == s {
				objs[i] = ReadSite(ctx, s)
			}
		}
		return nil
	})
	for _, o := range objs {
		if o.Err != nil {
			return siteState{}, o.Err
		}
	}
	st := siteState{pairs: hastate.Pairs(objs, hastate.Options{Now: r.cfg.Now()}), shape: ShapeSubsystems}
	for _, p := range st.pairs {
		if m, ok := p.Member(r.to.Name); ok && m.TopLevel() {
			st.shape = ShapeTopLevel
		}
	}
	return st, nil
}

func (r *run) lockTargets() []lock.Target {
	var ts []lock.Target
	for _, s := range r.sites() {
		ts = append(ts, lock.Target{Site: s.Name, Client: s.Kube, Namespace: s.Namespace})
	}
	return ts
}

func lockName(o lock.Options) string {
	if o.Name == "" {
		return lock.DefaultName
	}
	return o.Name
}

func siteNames(ts []lock.Target) string {
	s := ""
	for i, t := range ts {
		if i > 0 {
			s += " and "
		}
		s += t.Site
	}
	return s
}
