package failover

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/explain"
	"github.com/kubectl-apic/kubectl-apic/pkg/kube"
	"github.com/kubectl-apic/kubectl-apic/pkg/printers"
	"github.com/kubectl-apic/kubectl-apic/pkg/progress"
)

// HookFunc runs the user's router hook with extra environment variables (KEY=value).
type HookFunc func(ctx context.Context, env []string) error

// Journaler records progress on the lock's Leases (lock.Lock.Annotate).
type Journaler interface {
	Annotate(ctx context.Context, kv map[string]string) error
}

// TraceEvent is one instant of the run, for the benchmark: "observed" when a wait's condition was
// seen in a watch event, "patch"/"delete" just before a change is sent.
type TraceEvent struct {
	At   time.Time
	Kind string
	Step string
}

// Engine runs a plan against the two sites.
type Engine struct {
	Req      Request
	From, To *kube.Site // From is nil when fenced
	Reporter *progress.Reporter
	Journal  Journaler
	Hook     HookFunc
	Now      func() time.Time
	Trace    func(TraceEvent)
	// Command is the command line, for the resume hint.
	Command string
	// Probe, when set, is asked before each step (a safe point) whether its gates were breached,
	// and told the step that starts (pkg/probe; nil: no probe).
	Probe TrafficProbe
	// PeerLost ends a wait that needs the peer once the waited-on site has reported PeerNotReachable
	// this long (zero: DefaultPeerLost).
	PeerLost time.Duration

	sent map[string]bool // steps whose change was sent (by step name)
}

// TrafficProbe is the part of pkg/probe the engine drives.
type TrafficProbe interface {
	Phase(member, step string)
	Breached() error
}

// DefaultPeerLost is how long a site may report PeerNotReachable during a step that needs its peer
// before the run stops and says so, instead of waiting for the step's timeout.
const DefaultPeerLost = 30 * time.Second

func (e *Engine) peerLost() time.Duration {
	if e.Req.Fenced {
		return 0 // the peer is down on purpose
	}
	if e.PeerLost <= 0 {
		return DefaultPeerLost
	}
	return e.PeerLost
}

func (e *Engine) now() time.Time {
	if e.Now == nil {
		return time.Now()
	}
	return e.Now()
}

func (e *Engine) trace(kind, step string) {
	if e.Trace != nil {
		e.Trace(TraceEvent{At: time.Now(), Kind: kind, Step: step})
	}
}

// Status of a step in the summary (seed 004's PASSED/FAILED words).
const (
	StatusPassed  = "PASSED"
	StatusFailed  = "FAILED"
	StatusSkipped = "SKIPPED"
	StatusPlanned = "PLANNED"
	StatusNotRun  = "NOT RUN"
	// StatusInterrupted: stopped by Ctrl-C or a cancellation; the message says what it left.
	StatusInterrupted = "INTERRUPTED"
	// StatusUnknown: the step's change was sent (or its wait timed out) and its outcome was not seen;
	// the operator may still complete it.
	StatusUnknown = "UNKNOWN"
)

// unknownError marks a failure whose outcome is not known (the change may still take effect).
type unknownError struct{ error }

func (e unknownError) Unwrap() error { return e.error }

func resultUnknown(err error) error { return unknownError{err} }

// StepResult is one step's outcome.
type StepResult struct {
	Step
	Status          string      `json:"status"`
	Message         string      `json:"message,omitempty"`
	StartTime       metav1.Time `json:"startTime,omitempty"`
	ElapsedSeconds  float64     `json:"elapsedSeconds"`
	ExpectedSeconds float64     `json:"expectedSeconds,omitempty"`
	TimeoutSeconds  float64     `json:"timeoutSeconds,omitempty"`
}

func newResult(st Step, status string) StepResult {
	return StepResult{Step: st, Status: status, ExpectedSeconds: st.Expected.Seconds(), TimeoutSeconds: st.Timeout.Seconds()}
}

// Run executes steps in order and returns every step's result. It stops at the first failure; the
// error carries the exit code of the phase (DemoteFailed, PromoteFailed, PostFailoverFailed), or
// Timeout / Interrupted.
func (e *Engine) Run(ctx context.Context, steps []Step) ([]StepResult, error) {
	out := make([]StepResult, 0, len(steps))
	for i, st := range steps {
		if st.Skip != "" {
			e.Reporter.Step(st.Name).Skip(st.Skip)
			r := newResult(st, StatusSkipped)
			r.Message = st.Skip
			out = append(out, r)
			continue
		}
		if e.Probe != nil {
			if err := e.Probe.Breached(); err != nil {
				for _, rest := range steps[i:] {
					out = append(out, newResult(rest, StatusNotRun))
				}
				return out, err
			}
			e.Probe.Phase(st.Instance, st.Name)
		}
		r := newResult(st, StatusPassed)
		start := e.now()
		r.StartTime = metav1.NewTime(start)
		ps := e.Reporter.StepWithExpected(st.Name, st.Expected)
		msg, skipped, err := e.runStep(ctx, st, ps)
		r.ElapsedSeconds = printers.Seconds(e.now().Sub(start))
		r.Message = msg
		if err != nil {
			r.Status, err = e.stopped(ctx, st, ps, err)
			r.Message = err.Error()
			out = append(out, r)
			for _, rest := range steps[i+1:] {
				out = append(out, newResult(rest, StatusNotRun))
			}
			return out, err
		}
		if skipped {
			r.Status = StatusSkipped
			ps.Skip(msg)
		} else {
			ps.Done(msg)
		}
		out = append(out, r)
	}
	return out, nil
}

// stopped ends a step that did not complete: INTERRUPTED (Ctrl-C) with the state it left and the
// resume command, UNKNOWN when its outcome was not seen (timeout, lost link or lease, or a failure
// after its change was sent), FAILED when it is known not to have happened.
func (e *Engine) stopped(ctx context.Context, st Step, ps *progress.Step, err error) (string, error) {
	sent := e.sent[st.Name]
	cause := context.Cause(ctx)
	lostCtx := cause != nil && !errors.Is(cause, context.Canceled)
	var pl *PeerLostError
	peerLost := errors.As(err, &pl)
	if !lostCtx && (errors.Is(err, context.Canceled) || exitcode.FromError(err) == exitcode.Interrupted) {
		now := e.now2(ctx, st)
		what := "before this step changed anything"
		if sent {
			what = "after its change was sent (" + st.Target + ")"
		}
		msg := fmt.Sprintf("interrupted during %s %s; now %s. %s", st.Name, what, now.describe(), sentence(now.advice(e.Command)))
		ps.Interrupt(fmt.Sprintf("%s; now %s", what, now.describe()))
		return StatusInterrupted, exitcode.Newf(exitcode.Interrupted, "%s", msg)
	}
	if peerLost {
		now := e.now2(ctx, st)
		err = phaseError(st, fmt.Errorf("%w; stopped instead of waiting for the %s timeout. Now %s. %s", err, st.Timeout, now.describe(), sentence(now.advice(e.Command))))
		if sent || st.Phase == PhaseVerify {
			ps.Unknown(err.Error())
			return StatusUnknown, err
		}
		ps.Fail(err)
		return StatusFailed, err
	}
	if lostCtx {
		err = fmt.Errorf("%s: %w", st.Name, cause)
	}
	err = phaseError(st, err)
	var unk unknownError
	// A lost lease stops the step: its outcome is unknown only if it had sent its change.
	if exitcode.FromError(err) == exitcode.Timeout || errors.As(err, &unk) || (sent && exitcode.FromError(err) != exitcode.Refused) {
		ps.Unknown(err.Error())
		return StatusUnknown, err
	}
	ps.Fail(err)
	return StatusFailed, err
}

// sentence starts s with a capital letter.
func sentence(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// now2 reads the state of st's subject after it stopped.
func (e *Engine) now2(ctx context.Context, st Step) pairNow {
	return readNow(ctx, e.Req, st.subject, e.From, e.To)
}

// phaseError gives err the exit code of st's phase unless it is a timeout or an interruption.
func phaseError(st Step, err error) error {
	switch code := exitcode.FromError(err); code {
	case exitcode.Timeout, exitcode.Interrupted, exitcode.Refused:
		return err
	}
	if errors.Is(err, context.Canceled) {
		return exitcode.New(exitcode.Interrupted, fmt.Errorf("interrupted during %s: re-run the same command to resume", st.Name))
	}
	code := exitcode.PostFailoverFailed
	switch st.Phase {
	case PhaseDemote:
		code = exitcode.DemoteFailed
	case PhasePromote:
		code = exitcode.PromoteFailed
	}
	return exitcode.New(code, fmt.Errorf("%s: %w", st.Name, err))
}

func (e *Engine) runStep(ctx context.Context, st Step, ps *progress.Step) (msg string, skipped bool, err error) {
	switch st.Phase {
	case PhaseDemote:
		return e.demote(ctx, st, ps)
	case PhasePromote:
		return e.promote(ctx, st, ps)
	case PhaseRouter:
		return e.router(ctx, st)
	case PhaseConfigurator:
		return e.configurator(ctx, st, ps)
	case PhaseVerify:
		return e.verify(ctx, st, ps)
	}
	return "", false, fmt.Errorf("unknown phase %q", st.Phase)
}

func (e *Engine) wait(ctx context.Context, st Step, ps *progress.Step, site *kube.Site, k apic.Kind, name, what string, timeout time.Duration, cond Condition) (waitResult, error) {
	return e.waitPeer(ctx, st, ps, site, k, name, what, timeout, cond, 0)
}

// waitPeer is wait that also stops once the object has reported PeerNotReachable for peerLost.
func (e *Engine) waitPeer(ctx context.Context, st Step, ps *progress.Step, site *kube.Site, k apic.Kind, name, what string, timeout time.Duration, cond Condition, peerLost time.Duration) (waitResult, error) {
	prefix := ""
	if site != nil && st.Site != site.Name {
		prefix = site.Name + " "
	}
	res, err := until(ctx, waitSpec{site: site, kind: k, name: name, timeout: timeout, what: what, cond: cond, now: time.Now,
		onChange: func(s string) { ps.Update(prefix + s) }, peerLost: peerLost})
	if err == nil {
		e.trace("observed", st.Name)
	}
	return res, err
}

// patchMode applies IBM's documented merge patch (apic.ModePatch) to the object where the mode is set.
func (e *Engine) patchMode(ctx context.Context, st Step, site *kube.Site, spec apic.Object, mode string) error {
	patch, err := apic.ModePatch(spec.Kind, st.Subsystem, mode)
	if err != nil {
		return err
	}
	e.trace("patch", st.Name)
	if e.sent == nil {
		e.sent = map[string]bool{}
	}
	// Sent before the call returns: an interrupted call may still have been applied.
	e.sent[st.Name] = true
	_, err = site.Dynamic.Resource(spec.Kind.GVR()).Namespace(site.Namespace).Patch(ctx, spec.Name(), types.MergePatchType, patch, metav1.PatchOptions{})
	return explain.Error(err, site.Name, spec.Kind.GVR(), "patch")
}

// removeConfirmation removes IBM's data-deletion confirmation annotation from spec on site, once
// the demotion it confirmed is complete (IBM's public 2DCDR lab removes it with
// `oc annotate ... apiconnect-operator/dr-data-deletion-confirmation-`): left in place, a later change
// of that site to passive (by hand or GitOps) would count as confirmed already. It returns what it
// did, "" when the annotation was not there.
func (e *Engine) removeConfirmation(ctx context.Context, st Step, site *kube.Site, ref apic.Object) (string, error) {
	cur, err := getObject(ctx, site, ref.Kind, ref.Name())
	if err != nil {
		return "", err
	}
	if _, ok := cur.U.GetAnnotations()[apic.DataDeletionConfirmationAnnotation]; !ok {
		return "", nil
	}
	patch := []byte(`{"metadata":{"annotations":{"` + apic.DataDeletionConfirmationAnnotation + `":null}}}`)
	e.trace("patch", st.Name)
	if _, err := site.Dynamic.Resource(ref.Kind.GVR()).Namespace(site.Namespace).Patch(ctx, ref.Name(), types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return "", explain.Error(err, site.Name, ref.Kind.GVR(), "patch")
	}
	msg := fmt.Sprintf("removed the annotation %s from %s on %s (the demotion it confirmed is complete; a later demotion must confirm again)",
		apic.DataDeletionConfirmationAnnotation, ref.Ref(), site.Name)
	e.Reporter.Infof("%s: %s", st.Name, msg)
	return msg, nil
}

// demote sets --from to passive with the data-deletion confirmation and waits until its haMode is
// BlockedWarmStandbyConversion (management) or any passive state (portal, "progressing to passive").
func (e *Engine) demote(ctx context.Context, st Step, ps *progress.Step) (string, bool, error) {
	s := st.subject
	cur, err := getObject(ctx, e.From, s.From.Status.Kind, s.From.Status.Name())
	if err != nil {
		return "", false, err
	}
	if apic.IsPassiveHAMode(cur.HAMode()) {
		return fmt.Sprintf("%s is already %s", e.From.Name, cur.HAMode()), true, nil
	}
	if err := e.patchMode(ctx, st, e.From, s.From.Spec, apic.ModePassive); err != nil {
		return "", false, err
	}
	res, err := e.wait(ctx, st, ps, e.From, s.From.Status.Kind, s.From.Status.Name(), st.WaitFor, st.Timeout,
		func(o apic.Object) bool { return apic.IsPassiveHAMode(o.HAMode()) })
	if err != nil {
		return "", false, err
	}
	return "haMode " + res.obj.HAMode(), false, nil
}

// promote waits for --to to be ready for promotion (management), re-reads --from and sees it passive,
// sets --to active and waits until it is active and ready. With --from fenced it promotes at once:
// the user confirmed --from cannot come back active.
func (e *Engine) promote(ctx context.Context, st Step, ps *progress.Step) (string, bool, error) {
	s := st.subject
	to := e.To
	statusKind, statusName := s.To.Status.Kind, s.To.Status.Name()
	cur, err := getObject(ctx, to, statusKind, statusName)
	if err != nil {
		return "", false, err
	}
	ready := promotedCondition(s.Subsystem, e.Req.Fenced)
	if ready(cur) {
		return to.Name + " is already active", true, nil
	}
	spec, err := getObject(ctx, to, s.To.Spec.Kind, s.To.Spec.Name())
	if err != nil {
		return "", false, err
	}
	if ha, _ := spec.MultiSiteHA(s.Subsystem); ha.Mode != apic.ModeActive {
		if !e.Req.Fenced {
			if s.Subsystem == apic.Management {
				// Seed 002 step 3: "wait until the haStatus shows ReadyForPromotion before proceeding".
				if _, err := e.waitPeer(ctx, st, ps, to, statusKind, statusName, "haMode ReadyForPromotion", st.Timeout,
					func(o apic.Object) bool {
						return o.HAMode() == apic.HAModeReadyForPromotion || o.HAMode() == apic.HAModeActive
					}, e.peerLost()); err != nil {
					return "", false, err
				}
			}
			if err := e.checkFromPassive(ctx, s); err != nil {
				return "", false, err
			}
		}
		if e.Journal != nil {
			// Still ours? A run that was paused (or cut off) while others went on must not promote:
			// touching the lease fails once another run took it over or released it.
			if err := e.Journal.Annotate(ctx, nil); err != nil {
				return "", false, refusal("not promoting %s: %v; another run may have changed both sites since. %s was not changed", to.Name, err, to.Name)
			}
		}
		if err := e.patchMode(ctx, st, to, spec, apic.ModeActive); err != nil {
			return "", false, err
		}
	}
	res, err := e.wait(ctx, st, ps, to, statusKind, statusName, st.WaitFor, st.Timeout, ready)
	if err != nil {
		return "", false, err
	}
	msg := "haMode " + res.obj.HAMode()
	if m := res.obj.Message(); m != "" {
		msg += ": " + m
	}
	if s.Subsystem == apic.Management {
		// A confirmation left from an earlier demotion of this site (by hand, or by an older run).
		removed, err := e.removeConfirmation(ctx, st, to, s.To.Spec)
		if err != nil {
			return "", false, fmt.Errorf("%s is active, but removing the leftover %s annotation failed: %w", to.Name, apic.DataDeletionConfirmationAnnotation, err)
		}
		if removed != "" {
			msg += "; " + removed
		}
	}
	return msg, false, nil
}

// checkFromPassive is the split-brain guard: --from is re-read live, under the lock, right before
// the promote patch, and must be in a passive state both in status and in spec.
func (e *Engine) checkFromPassive(ctx context.Context, s *Subject) error {
	cur, err := getObject(ctx, e.From, s.From.Status.Kind, s.From.Status.Name())
	if err != nil {
		return fmt.Errorf("re-reading %s before promotion: %w", e.From.Name, err)
	}
	spec, err := getObject(ctx, e.From, s.From.Spec.Kind, s.From.Spec.Name())
	if err != nil {
		return fmt.Errorf("re-reading %s before promotion: %w", e.From.Name, err)
	}
	ha, _ := spec.MultiSiteHA(s.Subsystem)
	if !apic.IsPassiveHAMode(cur.HAMode()) || ha.Mode != apic.ModePassive {
		return refusal("refusing to promote %s: %s is no longer passive (haMode %s, mode %s): someone or another run changed it since this run demoted it; promoting now would make both sites active. %s was not changed",
			e.To.Name, e.From.Name, cmp.Or(cur.HAMode(), "(none)"), cmp.Or(ha.Mode, "(none)"), e.To.Name)
	}
	return nil
}

// promotedCondition is "failover complete" on the new active site. Management: haMode active, haStatus
// Ready and phase Running (seed 002 step 4, "Management is ready. HA status Ready"); portal: haMode
// active (portal step 5). With the peer down the haStatus is PeerNotReachable, so only haMode counts.
func promotedCondition(sub apic.Subsystem, fenced bool) Condition {
	return func(o apic.Object) bool {
		if o.HAMode() != apic.HAModeActive {
			return false
		}
		if sub != apic.Management || fenced {
			return true
		}
		c, ok := o.ActiveHAStatus()
		return ok && c.Type == apic.HAStatusReady && o.Phase() == "Running"
	}
}

func (e *Engine) router(ctx context.Context, st Step) (string, bool, error) {
	if e.Hook == nil {
		return "no --router-hook", true, nil
	}
	s := st.subject
	env := []string{
		"APIC_FAILOVER_FROM=" + e.Req.From,
		"APIC_FAILOVER_TO=" + e.Req.To,
		"APIC_SUBSYSTEM=" + string(s.Subsystem),
		"APIC_NAME=" + s.Name,
		"APIC_NAMESPACE=" + e.To.Namespace,
		fmt.Sprintf("APIC_FAILOVER_FENCED=%t", e.Req.Fenced),
	}
	e.trace("hook", st.Name)
	if err := e.Hook(ctx, env); err != nil {
		return "", false, fmt.Errorf("--router-hook failed (%v): %s is active on %s, but traffic may still go to %s; update your router by hand (IBM: Failing over to the warm-standby, step 5: redirect all traffic to %s)",
			err, s.Subsystem, e.Req.To, e.Req.From, e.Req.To)
	}
	if e.Journal != nil {
		if err := e.Journal.Annotate(ctx, journalRouterDone(s.Subsystem, s.Name)); err != nil {
			e.Reporter.Warnf("could not record the router hook in the lease journal: %v", err)
		}
	}
	return "router hook succeeded", false, nil
}

// configurator applies IBM's CP4I fix (seed 002 step 6): when the APIConnectCluster shows Warning
// "an error occured while running job <ns>/<name>-configurator" after failover, delete the jobs
// labelled app.kubernetes.io/component=configurator on the new active site.
//
// IBM does not say how soon the Warning appears; we wait (by watch) until the APIConnectCluster
// settles to Running or Warning, and act only on the configurator Warning.
func (e *Engine) configurator(ctx context.Context, st Step, ps *progress.Step) (string, bool, error) {
	s := st.subject
	top := s.To.Spec
	settled := func(o apic.Object) bool { return o.Phase() == "Running" || o.Phase() == "Warning" }
	res, err := e.wait(ctx, st, ps, e.To, top.Kind, top.Name(), "APIConnectCluster Running or Warning", st.Timeout, settled)
	if err != nil {
		return "", false, err
	}
	if !configuratorWarning(res.obj) {
		return "no configurator warning", false, nil
	}
	sel := apic.ComponentLabel + "=" + apic.ConfiguratorComponent
	jobs := e.To.Kube.BatchV1().Jobs(e.To.Namespace)
	list, err := jobs.List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return "", false, explain.Error(err, e.To.Name, batchJobs, "list")
	}
	var names []string
	bg := metav1.DeletePropagationBackground
	e.trace("delete", st.Name)
	for _, j := range list.Items {
		if err := jobs.Delete(ctx, j.Name, metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil && !isNotFound(err) {
			return "", false, explain.Error(err, e.To.Name, batchJobs, "delete")
		}
		names = append(names, j.Name)
	}
	e.Reporter.Infof("%s: APIConnectCluster %s showed %q; deleted configurator job(s) %s on %s (IBM's documented fix: kubectl -n %s delete job -l %s)",
		st.Name, top.Name(), res.obj.Message(), strings.Join(names, ", "), e.To.Name, e.To.Namespace, sel)
	if _, err := e.wait(ctx, st, ps, e.To, top.Kind, top.Name(), "APIConnectCluster without the configurator warning", st.Timeout,
		func(o apic.Object) bool { return settled(o) && !configuratorWarning(o) }); err != nil {
		return "", false, err
	}
	return fmt.Sprintf("deleted configurator job(s) %s", strings.Join(names, ", ")), false, nil
}

func configuratorWarning(o apic.Object) bool {
	_, warned := o.ConfiguratorJobWarning()
	return warned
}

// verify waits for the end state IBM describes: --from passive (management: haStatus Ready, "Warm
// Standby DB is ready", i.e. replicating) and --to still active.
func (e *Engine) verify(ctx context.Context, st Step, ps *progress.Step) (string, bool, error) {
	s := st.subject
	cond := func(o apic.Object) bool {
		if o.HAMode() != apic.HAModePassive {
			return false
		}
		if s.Subsystem != apic.Management {
			return true
		}
		c, ok := o.ActiveHAStatus()
		return ok && c.Type == apic.HAStatusReady
	}
	if _, err := e.waitPeer(ctx, st, ps, e.From, s.From.Status.Kind, s.From.Status.Name(), st.WaitFor, st.Timeout, cond, e.peerLost()); err != nil {
		return "", false, err
	}
	to, err := getObject(ctx, e.To, s.To.Status.Kind, s.To.Status.Name())
	if err != nil {
		return "", false, err
	}
	if to.HAMode() != apic.HAModeActive {
		return "", false, fmt.Errorf("%s is no longer active on %s (haMode %s)", s.Ref(), e.To.Name, cmp.Or(to.HAMode(), "(none)"))
	}
	msg := fmt.Sprintf("%s passive and replicating, %s active", e.From.Name, e.To.Name)
	if s.Subsystem == apic.Management {
		removed, err := e.removeConfirmation(ctx, st, e.From, s.From.Spec)
		if err != nil {
			return "", false, fmt.Errorf("%s is passive and replicating, but removing the %s annotation failed: %w", e.From.Name, apic.DataDeletionConfirmationAnnotation, err)
		}
		if removed != "" {
			msg += "; " + removed
		}
	}
	return msg, false, nil
}
