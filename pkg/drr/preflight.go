package drr

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/kubectl-apic/kubectl-apic/pkg/datapower"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
)

// Preflight attaches to every member in parallel and runs the read-only checks: the
// apic-gw-service peering's name (`show gateway-peering-manager`, config mode), and its status and quorum
// (`show gateway-peering-status`). Problems (lost quorum,
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

// preflight is the runbook's checks before any change, in order: read every member (one first,
// so a rejected login costs one attempt), agree on the apic-gw-service peering, judge each member
// (Ready, reachable, in the peering, quorum as it sees it), then refuse or proceed.
func (r *Runner) preflight(ctx context.Context) error {
	if len(r.cfg.Members) == 0 {
		return exitcode.Newf(exitcode.Refused, "gateway %s has no member pods", r.cfg.Gateway)
	}
	views, err := r.readMembers(ctx)
	if err != nil {
		return err
	}
	problems := r.agreePeering(views)
	quorum, memberProblems := r.judgeMembers(views)
	problems = dedupe(append(problems, memberProblems...))
	r.mu.Lock()
	for _, v := range views {
		r.report.Preflight.Members = append(r.report.Preflight.Members, v.state)
	}
	if quorum != nil {
		r.report.Preflight.Quorum = *quorum
	}
	r.report.Peering = r.peering
	r.report.Preflight.Problems = problems
	r.mu.Unlock()
	return r.verdict(views, problems)
}

// readMembers opens and reads every member, the first alone: a rejected login stops there
// instead of counting failed logins against the admin account on every member at once. A
// rejected login refuses whatever --force says.
func (r *Runner) readMembers(ctx context.Context) ([]memberView, error) {
	views := make([]memberView, len(r.cfg.Members))
	datapower.FirstThenRest(ctx, len(r.cfg.Members), 0, func(ctx context.Context, i int) bool {
		views[i] = r.preflightMember(ctx, r.cfg.Members[i])
		return views[i].fatal
	})
	if err := loginRefusal(views); err != nil {
		return nil, err
	}
	return views, nil
}

// loginRefusal is the refusal of a run whose login (or input) was rejected on a member: one line,
// nothing changed. The session's error already names the Secret, the user and the fix.
func loginRefusal(views []memberView) error {
	for _, v := range views {
		if v.fatal {
			return exitcode.Newf(exitcode.Refused, "member %s: %v; nothing was changed", v.state.Pod, v.err)
		}
	}
	return nil
}

// agreePeering sets r.peering from the members' `show gateway-peering-manager`: every member must name
// the same apic-gw-service peering.
func (r *Runner) agreePeering(views []memberView) []string {
	peerings := map[string][]string{}
	for _, v := range views {
		if v.peering != "" {
			peerings[v.peering] = append(peerings[v.peering], v.state.Pod)
		}
	}
	switch len(peerings) {
	case 0:
		if anyReachable(views) {
			return []string{fmt.Sprintf("no member lists an %s gateway-peering in domain %s (show gateway-peering-manager)",
				datapower.APICGatewayServiceOwner, r.cfg.Domain)}
		}
		return nil
	case 1:
		for p := range peerings {
			r.peering = p
		}
		return nil
	}
	names := make([]string, 0, len(peerings))
	for p, pods := range peerings {
		names = append(names, fmt.Sprintf("%s on %s", p, strings.Join(pods, ",")))
	}
	sort.Strings(names)
	r.peering = views[0].peering
	return []string{"members disagree on the apic-gw-service peering: " + strings.Join(names, "; ")}
}

// judgeMembers records each member's pre-flight result and returns the quorum to report (the
// first member's view, or the first that sees it lost) and every member's problems.
func (r *Runner) judgeMembers(views []memberView) (*QuorumState, []string) {
	ipToPod := map[string]string{}
	for _, m := range r.cfg.Members {
		ipToPod[m.IP] = m.Pod
	}
	var quorum *QuorumState
	var problems []string
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
			if !v.ownRow(r.peering, m.IP) {
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
	return quorum, problems
}

// ownRow copies the member's own row of peering into its state; false when it has none.
func (v *memberView) ownRow(peering, ip string) bool {
	found := false
	for _, s := range v.statuses {
		if s.ConfigurationName == peering && s.Address == ip {
			found = true
			v.state.LinkStatus = s.LinkStatus
			v.state.Primary = s.Primary
		}
	}
	return found
}

// verdict refuses the run when pre-flight found problems (unless --force), when no peering was
// found or no member reached.
func (r *Runner) verdict(views []memberView, problems []string) error {
	if len(problems) > 0 && !r.cfg.Force {
		return exitcode.Newf(exitcode.Refused, "pre-flight refused the DRR of gateway %s, nothing was changed: %s (--force overrides)",
			r.cfg.Gateway, strings.Join(problems, "; "))
	}
	if r.peering == "" {
		return exitcode.Newf(exitcode.Refused, "pre-flight: no member of gateway %s showed its %s gateway-peering; nothing was changed",
			r.cfg.Gateway, datapower.APICGatewayServiceOwner)
	}
	if !anyReachable(views) {
		return exitcode.Newf(exitcode.Refused, "pre-flight: no member of gateway %s could be reached; nothing was changed", r.cfg.Gateway)
	}
	if len(problems) > 0 && r.cfg.Progress != nil {
		r.cfg.Progress.Warnf("--force: proceeding despite: %s", strings.Join(problems, "; "))
	}
	return nil
}

func describeMember(s MemberState) string {
	parts := []string{"link " + s.LinkStatus}
	if s.Primary {
		parts = append([]string{"primary"}, parts...)
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
	s, err := r.open(ctx, m)
	if err != nil {
		return fail(err)
	}
	v.state.Reachable = true
	peerings, err := s.Peerings(ctx)
	if err != nil {
		return fail(err)
	}
	v.peering, _ = datapower.GatewayServicePeering(peerings)
	if v.statuses, err = s.ReadPeeringStatus(ctx); err != nil {
		return fail(err)
	}
	ps.done("peering " + v.peering)
	return v
}
