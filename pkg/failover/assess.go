package failover

import (
	"cmp"
	"fmt"
	coordinationv1 "k8s.io/api/coordination/v1"
	"strings"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/hastate"
)

// Situation is where one subsystem stands relative to the requested failover.
type Situation string

const (
	// Fresh: --from is active, --to a replicating warm-standby; nothing done yet.
	Fresh Situation = "Fresh"
	// InProgress: this failover was started (journal) and --to is not active yet.
	InProgress Situation = "InProgress"
	// Done: --to is active and --from passive, and this failover was started and has not finished
	// (journal): the router hook and verification are left.
	Done Situation = "Done"
	// AlreadyDone: the requested end state holds (--to active, --from passive) and no run of this
	// failover is unfinished: nothing to do, exit 0, as kubectl apply does when nothing differs.
	AlreadyDone Situation = "AlreadyDone"
)

// Subject is one subsystem to fail over.
type Subject struct {
	Subsystem apic.Subsystem
	Name      string
	// From is --from's side; zero when --from is unreachable (fenced).
	From hastate.Member
	To   hastate.Member
	Situation
	// Several: the run moves more than one pair of this subsystem (IBM: "If you have multiple
	// Developer Portal services, you must repeat these steps for each"); names then qualify steps.
	Several bool
}

// Shape is where the mode is set (on --to, which is always read).
func (s Subject) Shape() Shape { return ShapeOf(s.To) }

// Ref names the subject in messages: "management", or "portal production-ptl-2" when Several.
func (s Subject) Ref() string {
	if s.Several {
		return string(s.Subsystem) + " " + s.Name
	}
	return string(s.Subsystem)
}

// Request is what the user asked for.
type Request struct {
	From, To   string
	Subsystems []apic.Subsystem
	// Names narrows the run to the pairs whose CR is named so (--name); empty means every pair.
	Names []string
	// Fenced: --from is unreachable and the user confirmed its network is isolated.
	Fenced bool
}

// Journal is the record of the last failover, kept on the lock's Lease (see journal.go).
type Journal struct {
	From, To, State, Started string
	// RouterDone records the router hooks that ran, by RouterKey.
	RouterDone map[string]bool
}

// lockLease is the lock's Lease, where the journal lives.
type lockLease = coordinationv1.Lease

// Matches reports whether the journal records a failover in the requested direction.
func (j Journal) Matches(r Request) bool { return j.From == r.From && j.To == r.To }

// refusal is a pre-flight refusal: nothing was changed.
func refusal(format string, args ...any) error {
	return exitcode.Newf(exitcode.Refused, format, args...)
}

// Assess judges the pairs against the request: which pairs are fresh, in progress or done, or why
// the failover must not start. Every pair of each requested subsystem is a subject (narrowed by
// --name), management first, as IBM orders them; when one pair cannot move, the whole run is
// refused with every reason. It never reads the cluster.
func Assess(pairs []hastate.Pair, req Request, j Journal) ([]Subject, error) {
	var out []Subject
	var missing, reasons []string
	var refusals []error
	for _, sub := range req.Subsystems {
		found := findPairs(pairs, sub, req.Names)
		if len(found) == 0 {
			missing = append(missing, string(sub))
			continue
		}
		for _, p := range found {
			s, err := assessPair(p, req, j)
			if err != nil {
				refusals = append(refusals, err)
				reasons = append(reasons, err.Error())
				continue
			}
			s.Several = len(found) > 1
			out = append(out, s)
		}
	}
	if len(refusals) == 1 {
		return nil, refusals[0]
	}
	if len(reasons) > 0 {
		return nil, refusal("not every pair in scope can fail over, so none is changed:\n  - %s", strings.Join(reasons, "\n  - "))
	}
	if len(req.Names) > 0 && len(out) == 0 {
		return nil, refusal("no 2DCDR %s subsystem named %s on %s and %s: check --name (kubectl apic status lists the pairs)",
			subsystemsOr(req.Subsystems), strings.Join(req.Names, " or "), req.From, req.To)
	}
	if len(missing) > 0 && (len(req.Subsystems) == 1 || len(out) == 0) {
		return nil, refusal("no 2DCDR %s subsystem (multiSiteHA) found on %s and %s: check the namespace (-n) of each context",
			strings.Join(missing, " or "), req.From, req.To)
	}
	return out, nil
}

func subsystemsOr(subs []apic.Subsystem) string {
	s := make([]string, len(subs))
	for i, x := range subs {
		s[i] = string(x)
	}
	return strings.Join(s, " or ")
}

// findPairs returns the pairs of sub (hastate sorts them by name), those named in names only when
// names is set. A pair matches a name when a member's CR has it.
func findPairs(pairs []hastate.Pair, sub apic.Subsystem, names []string) []hastate.Pair {
	var found []hastate.Pair
	for _, p := range pairs {
		if p.Subsystem != sub {
			continue
		}
		if len(names) > 0 && !pairNamed(p, names) {
			continue
		}
		found = append(found, p)
	}
	return found
}

func pairNamed(p hastate.Pair, names []string) bool {
	for _, n := range names {
		if p.Name == n {
			return true
		}
		for _, m := range p.Members {
			if m.Name() == n {
				return true
			}
		}
	}
	return false
}

func assessPair(p hastate.Pair, req Request, j Journal) (Subject, error) {
	sub := p.Subsystem
	label := string(sub) + " " + p.Name
	to, ok := p.Member(req.To)
	if !ok {
		return Subject{}, refusal("%s %s has no peer on %s: check the namespace (-n) and the context", sub, p.Name, req.To)
	}
	s := Subject{Subsystem: sub, Name: p.Name, To: to}
	if req.Fenced {
		switch {
		case to.IsActive():
			s.Situation = Done
		case to.Mode == apic.ModeActive:
			s.Situation = InProgress
		default:
			s.Situation = Fresh
		}
		return s, nil
	}
	from, ok := p.Member(req.From)
	if !ok {
		return Subject{}, refusal("%s %s has no peer on %s: check the namespace (-n) and the context", sub, p.Name, req.From)
	}
	s.From = from
	fromPassive := apic.IsPassiveHAMode(from.HAMode) || from.Mode == apic.ModePassive
	switch {
	case from.IsActive() && to.IsActive():
		return Subject{}, refusal("split-brain: %s %s is active on both %s and %s; their databases diverge. Decide which site's data to keep, then set the other to warm-standby by hand (kubectl apic status shows how); failover will not choose for you",
			sub, p.Name, req.From, req.To)
	case from.Mode == apic.ModeActive && to.Mode == apic.ModeActive:
		return Subject{}, refusal("%s %s is set active on both %s and %s (spec.multiSiteHA.mode): a split-brain as soon as both finish; set one back to passive first",
			sub, p.Name, req.From, req.To)
	case to.IsActive() && fromPassive:
		// The requested end state holds. Resumed (router hook, verification) only while the journal
		// says this failover has not finished; otherwise there is nothing to do.
		if j.Matches(req) && j.State != JournalSucceeded {
			s.Situation = Done
		} else {
			s.Situation = AlreadyDone
		}
	case fromPassive && !to.IsActive():
		if !j.Matches(req) {
			return Subject{}, refusal("--from %s is not active for %s (haMode %s, mode %s) and %s is not active either (haMode %s), and no failover %s→%s was started by this command: check kubectl apic status and finish or revert it by hand",
				req.From, label, cmp.Or(from.HAMode, "(none)"), cmp.Or(from.Mode, "(none)"), req.To, cmp.Or(to.HAMode, "(none)"), req.From, req.To)
		}
		s.Situation = InProgress
	case from.IsActive():
		if to.Mode == apic.ModeActive {
			// Caught by the spec check above unless from's spec already says passive.
			return Subject{}, refusal("%s on %s is being promoted while %s is still active: split-brain risk; set %s back to passive", label, req.To, req.From, req.To)
		}
		if err := checkWarmStandby(label, from, to, req); err != nil {
			return Subject{}, err
		}
		s.Situation = Fresh
	default:
		return Subject{}, refusal("--from %s is not active for %s (haMode %s): exactly one site must be active, and it must be --from",
			req.From, label, cmp.Or(from.HAMode, "(none)"))
	}
	return s, nil
}

// checkWarmStandby refuses a fresh failover unless the warm-standby is healthy and replicating: IBM
// warns not to fail over to a warm-standby that may not have the latest data (seed 002).
func checkWarmStandby(sub string, from, to hastate.Member, req Request) error {
	for _, m := range []hastate.Member{from, to} {
		if m.HAStatus.Type == apic.HAStatusPeerNotReachable && m.HAStatus.IsTrue() {
			return refusal("%s on %s cannot reach its replication peer (haStatus PeerNotReachable: %s): the warm-standby may not have the latest data. Restore the link between the sites; if %s is lost, fence it and use --from-fenced",
				sub, m.Site, m.HAStatus.Message, req.From)
		}
	}
	if !apic.IsPassiveHAMode(to.HAMode) {
		return refusal("%s on %s is not a warm-standby (haMode %s)", sub, req.To, cmp.Or(to.HAMode, "(none)"))
	}
	if !to.Replicating() {
		return refusal("warm-standby %s on %s is not ready (haMode %s, haStatus %s, phase %s): IBM requires a healthy, replicating warm-standby before failover; verify replication between the data centers",
			sub, req.To, cmp.Or(to.HAMode, "(none)"), cmp.Or(to.HAStatus.Type, "(none)"), cmp.Or(to.Phase, "(none)"))
	}
	return nil
}

// describeSubjects is "management Fresh, portal Done" for messages.
func describeSubjects(ss []Subject) string {
	var parts []string
	for _, s := range ss {
		parts = append(parts, fmt.Sprintf("%s %s", s.Ref(), s.Situation))
	}
	return strings.Join(parts, ", ")
}

// allAlreadyDone reports whether every subject is already in the requested end state.
func allAlreadyDone(ss []Subject) bool {
	for _, s := range ss {
		if s.Situation != AlreadyDone {
			return false
		}
	}
	return len(ss) > 0
}

// nothingToDoText says which end states already hold, for the summary and progress.
func nothingToDoText(ss []Subject, req Request) string {
	var parts []string
	for _, s := range ss {
		parts = append(parts, s.Ref())
	}
	return fmt.Sprintf("nothing to do: %s already active on %s and passive on %s (nothing was changed)",
		strings.Join(parts, ", "), req.To, req.From)
}
