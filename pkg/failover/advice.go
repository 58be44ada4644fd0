package failover

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/kube"
)

// After a step stops (interrupted, failed, result unknown) the run reads both sites again and says
// what state it left and what to do, from that state only: a hint never suggests a change that the
// current state makes wrong (a stale run must not advise re-running a failover that would demote
// the site that is active now).

// readBack bounds the reads made after a failure; the run's own context may be cancelled already.
const readBack = 5 * time.Second

// pairNow is one subject's pair as read after a failure.
type pairNow struct {
	s        *Subject
	req      Request
	from, to apic.Object // status objects (haMode); zero when not read
	fromMode string      // spec.multiSiteHA.mode of --from
	toMode   string
	fromErr  error
	toErr    error
}

// readNow reads s's pair on both sites (from is nil when fenced), with a context of its own.
func readNow(ctx context.Context, req Request, s *Subject, from, to *kube.Site) pairNow {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readBack)
	defer cancel()
	p := pairNow{s: s, req: req}
	read := func(site *kube.Site, m memberRef) (apic.Object, string, error) {
		st, err := getObject(rctx, site, m.statusKind, m.statusName)
		if err != nil {
			return apic.Object{}, "", err
		}
		spec, err := getObject(rctx, site, m.specKind, m.specName)
		if err != nil {
			return st, "", err
		}
		ha, _ := spec.MultiSiteHA(s.Subsystem)
		return st, ha.Mode, nil
	}
	if from != nil && s.From.Status.U != nil {
		p.from, p.fromMode, p.fromErr = read(from, refOf(s.From.Status, s.From.Spec))
	} else {
		p.fromErr = fmt.Errorf("%s is not read (fenced)", req.From)
	}
	p.to, p.toMode, p.toErr = read(to, refOf(s.To.Status, s.To.Spec))
	return p
}

type memberRef struct {
	statusKind, specKind apic.Kind
	statusName, specName string
}

func refOf(status, spec apic.Object) memberRef {
	return memberRef{statusKind: status.Kind, statusName: status.Name(), specKind: spec.Kind, specName: spec.Name()}
}

// describe is "dc1 mgmt/production-mgmt mode passive, haMode=... haStatus=... phase=...; dc2 ...".
func (p pairNow) describe() string {
	side := func(site string, o apic.Object, mode string, err error) string {
		if err != nil && o.U == nil {
			return fmt.Sprintf("%s unknown (%v)", site, err)
		}
		return fmt.Sprintf("%s %s mode %s, %s", site, o.Ref(), cmp.Or(mode, "(none)"), describe(o))
	}
	return side(p.req.From, p.from, p.fromMode, p.fromErr) + "; " + side(p.req.To, p.to, p.toMode, p.toErr)
}

func (p pairNow) known() bool { return p.fromErr == nil && p.toErr == nil }

// SomeActive reports whether either site is active for the pair now.
func (p pairNow) someActive() bool {
	return (p.from.U != nil && p.from.HAMode() == apic.HAModeActive) || (p.to.U != nil && p.to.HAMode() == apic.HAModeActive)
}

// advice is what to do now for the pair, given command (the resume command line).
func (p pairNow) advice(command string) string {
	ref, from, to := p.s.Ref(), p.req.From, p.req.To
	if command == "" {
		command = "the same command"
	}
	if !p.known() {
		if p.req.Fenced && p.toErr == nil {
			if p.to.HAMode() == apic.HAModeActive {
				return fmt.Sprintf("%s is active on %s: re-run %s to finish the remaining steps", ref, to, command)
			}
			return fmt.Sprintf("%s on %s is not active yet (%s): re-run %s to resume the promotion", ref, to, describe(p.to), command)
		}
		return fmt.Sprintf("the state of %s could not be read now (%s): check kubectl apic status --context %s --peer-context %s before running anything",
			ref, p.describe(), from, to)
	}
	fromActive, toActive := p.from.HAMode() == apic.HAModeActive, p.to.HAMode() == apic.HAModeActive
	switch {
	case fromActive && toActive:
		return fmt.Sprintf("%s is active on both %s and %s (split-brain): do not re-run; decide which site's data to keep, then set the other to warm-standby (kubectl apic status shows how)", ref, from, to)
	case toActive:
		return fmt.Sprintf("%s is active on %s and %s is %s: the failover's end state holds; re-run %s to finish (verification, router hook)",
			ref, to, from, cmp.Or(p.from.HAMode(), "(none)"), command)
	case fromActive && p.fromMode == apic.ModePassive:
		return fmt.Sprintf("%s on %s is set passive but still active: the operator has not started the demotion yet; re-run %s to resume", ref, from, command)
	case fromActive:
		return fmt.Sprintf("%s is still active on %s and %s is %s: no failover %s→%s is in progress and nothing of it remains to finish. Running the command again starts a NEW failover (it demotes %s and deletes its management data): do that only if you still mean to",
			ref, from, to, cmp.Or(p.to.HAMode(), "(none)"), from, to, from)
	case p.toMode == apic.ModeActive:
		return fmt.Sprintf("no site is active for %s yet: %s is being promoted (%s); re-run %s to resume", ref, to, describe(p.to), command)
	default:
		link := ""
		for _, o := range []apic.Object{p.from, p.to} {
			if c, ok := o.ActiveHAStatus(); ok && c.Type == apic.HAStatusPeerNotReachable {
				link = "restore the link between the sites first (haStatus PeerNotReachable), then "
			}
		}
		return fmt.Sprintf("no site is active for %s: %s was demoted and %s not yet promoted; %sre-run %s to resume", ref, from, to, link, command)
	}
}

// adviceFor reads every subject's pair and returns one line of advice each, and whether every
// pair has an active site now.
func adviceFor(ctx context.Context, req Request, subjects []Subject, from, to *kube.Site, command string) (lines []string, allActive bool) {
	allActive = len(subjects) > 0
	for i := range subjects {
		p := readNow(ctx, req, &subjects[i], from, to)
		lines = append(lines, p.advice(command))
		allActive = allActive && p.someActive()
	}
	return lines, allActive
}

func joinLines(lines []string) string { return strings.Join(lines, "; ") }
