package failover

import (
	"cmp"
	"fmt"
	"io"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

// Phase is one phase of the failover, a column of the summary.
type Phase string

const (
	PhasePreflight Phase = "preflight"
	// PhaseConfirm is the wait for the user's answer at the confirmation prompt (not with --yes).
	PhaseConfirm      Phase = "confirm"
	PhaseDemote       Phase = "demote"
	PhasePromote      Phase = "promote"
	PhaseRouter       Phase = "router"
	PhaseConfigurator Phase = "configurator"
	PhaseVerify       Phase = "verify"
)

// Phases lists the phases in run order.
func Phases() []Phase {
	return []Phase{PhasePreflight, PhaseConfirm, PhaseDemote, PhasePromote, PhaseRouter, PhaseConfigurator, PhaseVerify}
}

// Documented durations (pkg/apic). Portal promotion is documented as 15-40 minutes; plans show the
// upper bound.
const (
	ManagementDemote  = apic.ManagementDemoteDuration
	ManagementPromote = apic.ManagementPromoteDuration
	PortalDemote      = apic.PortalDemoteDuration
	PortalPromote     = apic.PortalPromoteMaxDuration
	PromotePeerDown   = apic.PromotePeerDownDuration
)

// Expected returns the documented duration of phase for sub.
func Expected(sub apic.Subsystem, phase Phase, fenced bool) time.Duration {
	switch {
	case phase == PhasePromote && fenced:
		if sub == apic.Portal {
			return max(PortalPromote, PromotePeerDown)
		}
		return PromotePeerDown
	case phase == PhaseDemote || phase == PhaseVerify:
		if sub == apic.Portal {
			return PortalDemote
		}
		return ManagementDemote
	case phase == PhasePromote:
		if sub == apic.Portal {
			return PortalPromote
		}
		return ManagementPromote
	}
	return 0
}

// TimeoutFactor: default waits allow twice the documented duration.
const TimeoutFactor = 2

// Timeouts are the per-phase wait limits; zero means TimeoutFactor × the documented duration.
type Timeouts struct {
	Demote, Promote time.Duration
}

func (t Timeouts) For(sub apic.Subsystem, phase Phase, fenced bool) time.Duration {
	switch phase {
	case PhaseDemote, PhaseVerify:
		if t.Demote > 0 {
			return t.Demote
		}
	case PhasePromote, PhaseConfigurator:
		if t.Promote > 0 {
			return t.Promote
		}
		if phase == PhaseConfigurator {
			return TimeoutFactor * Expected(sub, PhasePromote, fenced)
		}
	}
	return TimeoutFactor * Expected(sub, phase, fenced)
}

// Step is one planned step.
type Step struct {
	Subsystem apic.Subsystem `json:"subsystem,omitempty"`
	// Instance is the subsystem CR's name (the pair's name), e.g. production-ptl.
	Instance string `json:"instance,omitempty"`
	Site     string `json:"site,omitempty"`
	Phase    Phase  `json:"phase"`
	// Name is the progress line and JSON-lines "step" (stable: scripts find step boundaries by it).
	Name string `json:"name"`
	// Target is the object patched or deleted, e.g. mgmt/production-mgmt.
	Target string `json:"target,omitempty"`
	// Patch is the merge patch applied to Target.
	Patch string `json:"patch,omitempty"`
	// WaitFor is the condition the step waits for.
	WaitFor  string        `json:"waitFor,omitempty"`
	Expected time.Duration `json:"-"`
	Timeout  time.Duration `json:"-"`
	// Skip is why the step will not run (already done), or "".
	Skip string `json:"skip,omitempty"`

	subject *Subject `json:"-"`
}

// StepName is the stable progress name of a step, e.g. "management: demote dc1".
func StepName(sub apic.Subsystem, phase Phase, site string) string {
	if sub == "" {
		return string(phase) + " " + site
	}
	return fmt.Sprintf("%s: %s %s", sub, phase, site)
}

// stepNameOf is StepName for a subject: with several pairs of its subsystem in the run the CR name
// follows the subsystem, e.g. "portal production-ptl-2: demote dc1".
func stepNameOf(s *Subject, phase Phase, site string) string {
	return fmt.Sprintf("%s: %s %s", s.Ref(), phase, site)
}

// PlanOptions shape the plan.
type PlanOptions struct {
	Fenced     bool
	RouterHook bool
	Timeouts   Timeouts
	Journal    Journal
	Namespace  string
}

// Plan is the ordered steps of one failover: per subsystem (management first, as documented) demote
// --from, promote --to, the router hook; then the CP4I configurator check and verification of both
// sites.
func Plan(req Request, subjects []Subject, o PlanOptions) []Step {
	var steps []Step
	add := func(s *Subject, st Step) {
		st.subject = s
		st.Subsystem = s.Subsystem
		st.Instance = s.Name
		st.Name = stepNameOf(s, st.Phase, st.Site)
		st.Expected = Expected(s.Subsystem, st.Phase, o.Fenced)
		st.Timeout = o.Timeouts.For(s.Subsystem, st.Phase, o.Fenced)
		steps = append(steps, st)
	}
	topLevel := false
	for i := range subjects {
		s := &subjects[i]
		topLevel = topLevel || s.Shape() == ShapeTopLevel
		if !o.Fenced {
			st := Step{Site: req.From, Phase: PhaseDemote, Target: s.From.Spec.Ref(), Patch: mustPatch(s.From.Spec.Kind, s.Subsystem, apic.ModePassive),
				WaitFor: demoteCondition(s.Subsystem)}
			if s.Situation == Done || s.Situation == AlreadyDone || apic.IsPassiveHAMode(s.From.HAMode) {
				st.Skip = fmt.Sprintf("%s is already %s", req.From, cmp.Or(s.From.HAMode, "(none)"))
			}
			add(s, st)
		}
		st := Step{Site: req.To, Phase: PhasePromote, Target: s.To.Spec.Ref(), Patch: mustPatch(s.To.Spec.Kind, s.Subsystem, apic.ModeActive),
			WaitFor: promoteCondition(s.Subsystem, o.Fenced)}
		if s.Situation == Done || s.Situation == AlreadyDone {
			st.Skip = req.To + " is already active"
		}
		add(s, st)
		if o.RouterHook {
			st := Step{Site: req.To, Phase: PhaseRouter, WaitFor: "--router-hook exits 0"}
			switch {
			case s.Situation == AlreadyDone:
				st.Skip = "the requested end state already held: nothing was failed over"
			case s.Situation == Done && o.Journal.Matches(req) && o.Journal.RouterDone[RouterKey(s.Subsystem, s.Name)]:
				st.Skip = "the router hook already ran for this failover"
			}
			add(s, st)
		}
	}
	if topLevel && len(subjects) > 0 {
		s := &subjects[0]
		for i := range subjects {
			if subjects[i].Shape() == ShapeTopLevel {
				s = &subjects[i]
			}
		}
		st := Step{Site: req.To, Phase: PhaseConfigurator, Target: fmt.Sprintf("jobs -l %s=%s", apic.ComponentLabel, apic.ConfiguratorComponent),
			WaitFor: "APIConnectCluster " + s.To.Spec.Name() + " Running, or Warning from the configurator job (then delete the jobs, IBM's fix)"}
		add(s, st)
		steps[len(steps)-1].Subsystem = ""
		steps[len(steps)-1].Name = StepName("", PhaseConfigurator, req.To)
	}
	if !o.Fenced {
		for i := range subjects {
			s := &subjects[i]
			st := Step{Site: req.From, Phase: PhaseVerify, WaitFor: verifyCondition(s.Subsystem, req)}
			if s.Situation == AlreadyDone && verified(s) && !hasConfirmation(s.From.Spec) {
				st.Skip = fmt.Sprintf("%s is already passive and replicating", req.From)
			}
			add(s, st)
		}
	}
	return steps
}

// verified reports whether --from already shows what the verify step waits for (from the
// assessment's read): passive, and for management haStatus Ready.
func verified(s *Subject) bool {
	if s.From.HAMode != apic.HAModePassive {
		return false
	}
	return s.Subsystem != apic.Management || s.From.Replicating()
}

// hasConfirmation reports whether o carries IBM's data-deletion confirmation annotation.
func hasConfirmation(o apic.Object) bool {
	if o.U == nil {
		return false
	}
	_, ok := o.U.GetAnnotations()[apic.DataDeletionConfirmationAnnotation]
	return ok
}

func mustPatch(k apic.Kind, sub apic.Subsystem, mode string) string {
	b, err := apic.ModePatch(k, sub, mode)
	if err != nil {
		return "error: " + err.Error()
	}
	return string(b)
}

func demoteCondition(sub apic.Subsystem) string {
	if sub == apic.Management {
		return "haMode BlockedWarmStandbyConversion (or passive)"
	}
	return `haMode "progressing to passive" or any passive state`
}

func promoteCondition(sub apic.Subsystem, fenced bool) string {
	if sub == apic.Management {
		pre := "haMode ReadyForPromotion, then --from re-read passive, then "
		if fenced {
			pre = ""
		}
		return pre + "haMode active, haStatus Ready, phase Running"
	}
	if fenced {
		return "haMode active"
	}
	return "--from re-read passive, then haMode active"
}

func verifyCondition(sub apic.Subsystem, req Request) string {
	if sub == apic.Management {
		return fmt.Sprintf("%s haMode passive with haStatus Ready (warm-standby DB ready); %s active", req.From, req.To)
	}
	return fmt.Sprintf("%s haMode passive; %s active", req.From, req.To)
}

// WritePlan prints the plan: every step, the patch it applies, the condition it waits for and the
// documented duration.
func WritePlan(w io.Writer, req Request, steps []Step) {
	fmt.Fprintf(w, "Plan: fail over %s from %s to %s\n", subjectsText(req, steps), req.From, req.To)
	n := 0
	for _, st := range steps {
		n++
		line := fmt.Sprintf("  %d. %s", n, st.Name)
		if st.Expected > 0 {
			line += fmt.Sprintf(" (documented ~%s, timeout %s)", duration.HumanDuration(st.Expected), duration.HumanDuration(st.Timeout))
		}
		if st.Skip != "" {
			line += " — skip: " + st.Skip
		}
		fmt.Fprintln(w, line)
		if st.Patch != "" && st.Skip == "" {
			fmt.Fprintf(w, "       patch %s --type merge: %s\n", st.Target, st.Patch)
		} else if st.Phase == PhaseConfigurator {
			fmt.Fprintf(w, "       may delete %s\n", st.Target)
		}
		if st.WaitFor != "" && st.Skip == "" {
			fmt.Fprintf(w, "       wait for: %s\n", st.WaitFor)
		}
	}
}

// subjectsText is "management and portal", or with several pairs of a subsystem their names:
// "management and portal (production-ptl, production-ptl-2)".
func subjectsText(req Request, steps []Step) string {
	names := map[apic.Subsystem][]string{}
	for _, st := range steps {
		if st.Subsystem == "" || st.Phase != PhasePromote {
			continue
		}
		names[st.Subsystem] = append(names[st.Subsystem], st.Instance)
	}
	var parts []string
	for _, sub := range req.Subsystems {
		switch n := names[sub]; {
		case len(n) > 1:
			parts = append(parts, fmt.Sprintf("%s (%s)", sub, strings.Join(n, ", ")))
		case len(n) == 1 || len(names) == 0:
			parts = append(parts, string(sub))
		}
	}
	return strings.Join(parts, " and ")
}

func subsystemsText(subs []apic.Subsystem) string {
	s := make([]string, len(subs))
	for i, x := range subs {
		s[i] = string(x)
	}
	return strings.Join(s, " and ")
}
