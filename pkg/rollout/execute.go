package rollout

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/explain"
	"github.com/kubectl-apic/kubectl-apic/pkg/podstate"
)

// Execute runs the plan: per site EXPORT (and for upgrade and undo the spec CHANGE), DRAIN, each
// member's phases, SMOKE, UNDRAIN; then the exports after. Each phase is in the journal before it
// starts.
func (r *Runner) Execute(ctx context.Context) (err error) {
	now := r.cfg.Now().UTC()
	if r.cfg.Resume != nil {
		rec := *r.cfg.Resume
		r.rec = &rec
	} else {
		r.rec = &RunRecord{ID: r.cfg.RunID, Action: r.cfg.Action, Version: r.cfg.Version, Started: now, By: r.cfg.By, Plan: r.plan}
	}
	r.rec.State, r.rec.Error = RunRunning, ""
	r.report.RunID = r.rec.ID
	if err := r.journal(ctx, Position{}); err != nil {
		return err
	}
	defer func() { r.endJournal(ctx, err) }()
	for _, sp := range r.plan.Sites {
		if err := r.rollSite(ctx, sp); err != nil {
			return err
		}
	}
	for _, s := range r.cfg.Sites {
		g, err := r.refresh(ctx, s)
		if err != nil {
			return err
		}
		e, err := CaptureExport(ctx, g, r.rec.ID, r.cfg.Action, "after", r.cfg.Now())
		if err == nil {
			err = r.cfg.Journal.AddExport(ctx, e)
		}
		if err != nil && r.cfg.Progress != nil {
			r.cfg.Progress.Warnf("could not save the spec after the run in the journal of %s: %v (undo may not find it)", s.Name, err)
		}
	}
	return nil
}

// endJournal records how the run ended (even when ctx was cancelled).
func (r *Runner) endJournal(ctx context.Context, err error) {
	r.mu.Lock()
	switch {
	case err == nil:
		r.rec.State, r.rec.Current = RunSucceeded, Position{}
	case exitcode.FromError(err) == exitcode.Interrupted || errors.Is(err, context.Canceled):
		r.rec.State, r.rec.Current = RunInterrupted, r.current
	default:
		r.rec.State, r.rec.Error, r.rec.Current = RunFailed, err.Error(), r.current
	}
	r.rec.Updated = r.cfg.Now().UTC()
	r.rec.Members = append([]MemberResult(nil), r.report.Members...)
	r.rec.Steps = append([]StepResult(nil), r.report.Steps...)
	rec := *r.rec
	r.mu.Unlock()
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if jerr := r.cfg.Journal.SaveRun(wctx, &rec); jerr != nil && r.cfg.Progress != nil {
		r.cfg.Progress.Warnf("could not record the end of the run in the journal: %v", jerr)
	}
}

func (r *Runner) stepDone(site, step string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.report.Steps {
		if s.Site == site && s.Step == step {
			return s.Status == Passed || s.Status == Skipped
		}
	}
	return false
}

// rollSite is one data center.
func (r *Runner) rollSite(ctx context.Context, sp SitePlan) error {
	s := r.site(sp.Site)
	if !r.stepDone(s.Name, StepExport) {
		if err := r.runStep(ctx, s.Name, StepExport, func(ctx context.Context) (string, string, error) {
			g, err := r.refresh(ctx, s)
			if err != nil {
				return "", "", err
			}
			e, err := CaptureExport(ctx, g, r.rec.ID, r.cfg.Action, "before", r.cfg.Now())
			if err != nil {
				return "", "", err
			}
			if err := r.cfg.Journal.AddExport(ctx, e); err != nil {
				return "", "", err
			}
			return Passed, fmt.Sprintf("GatewayCluster spec (version %s) and %d ConfigMap(s) saved in ConfigMap %s", e.Version, len(e.ConfigMaps), JournalName(r.cfg.Gateway)), nil
		}); err != nil {
			return err
		}
	}
	switch r.cfg.Action {
	case ActionUpgrade:
		if err := r.prepareUpgrade(ctx, s, sp); err != nil {
			return err
		}
	case ActionUndo:
		if !r.stepDone(s.Name, StepChange) {
			if err := r.runStep(ctx, s.Name, StepChange, func(ctx context.Context) (string, string, error) { return r.restore(ctx, s) }); err != nil {
				return err
			}
		}
	}
	if err := r.hook(ctx, s, StepDrain, r.cfg.Hooks.Drain); err != nil {
		return err
	}
	for i := range sp.Members {
		if err := r.rollMember(ctx, s, sp, i); err != nil {
			return err
		}
	}
	if err := r.hook(ctx, s, StepSmoke, r.cfg.Hooks.Smoke); err != nil {
		return err
	}
	return r.hook(ctx, s, StepUndrain, r.cfg.Hooks.Undrain)
}

// hook runs a site hook (SKIPPED when none was given).
func (r *Runner) hook(ctx context.Context, s *Site, step, command string) error {
	if r.stepDone(s.Name, step) && step != StepSmoke {
		return nil
	}
	return r.runStep(ctx, s.Name, step, func(ctx context.Context) (string, string, error) {
		if command == "" {
			return Skipped, "no --" + map[string]string{StepDrain: "drain-hook", StepSmoke: "smoke-cmd", StepUndrain: "undrain-hook"}[step], nil
		}
		out := &strings.Builder{}
		err := r.cfg.RunHook(ctx, command, hookEnv(r.cfg.Action, r.cfg.Gateway, s.Name, s.Namespace, step), out)
		r.log(s.Name, "_site", "%s %q:\n%s", step, command, out.String())
		if err != nil {
			return "", "", fmt.Errorf("%v%s", err, lastLine(out.String()))
		}
		return Passed, strings.TrimPrefix(lastLine(out.String()), ": "), nil
	})
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if s == "" {
		return ""
	}
	return ": " + s
}

// rollMember runs one member's phases. A member the earlier run finished is left alone; a member
// whose pod was already replaced (its UID changed since the plan) is not deleted again.
func (r *Runner) rollMember(ctx context.Context, s *Site, sp SitePlan, idx int) error {
	pm := sp.Members[idx]
	r.mu.Lock()
	done := r.report.Member(s.Name, pm.Pod).Done()
	r.mu.Unlock()
	if done {
		return nil
	}
	g, err := r.refresh(ctx, s)
	if err != nil {
		return err
	}
	m, exists := g.Member(pm.Pod)
	replaced := exists && string(m.UID) != pm.UID
	upgrade := r.cfg.Action == ActionUpgrade
	atTarget := upgrade && exists && g.RolledTo(r.cfg.Version) && g.UpdateRevision() != "" && m.Revision == g.UpdateRevision()
	// Upgrade checks every member and moves the primaries before the version changes
	// (prepareUpgrade): once it has, the StatefulSet controller takes the members on its own.
	if !replaced && !upgrade {
		if err := r.runPhase(ctx, s.Name, pm.Pod, PhasePrecheck, func(ctx context.Context) (string, string, error) {
			return r.precheck(ctx, s, pm)
		}); err != nil {
			return err
		}
		if err := r.runPhase(ctx, s.Name, pm.Pod, PhaseSwitchPrimary, func(ctx context.Context) (string, string, error) {
			return r.switchAway(ctx, s, sp, pm)
		}); err != nil {
			return err
		}
	}
	for _, ph := range []string{PhasePrecheck, PhaseSwitchPrimary} {
		if r.memberPhase(s.Name, pm.Pod, ph).Status == NotReached && !(upgrade && ph == PhaseSwitchPrimary && idx == len(sp.Members)-1) {
			why := "the pod was replaced already when this run reached it"
			if upgrade {
				why = "the version had changed already when this run continued: the StatefulSet controller takes the members"
			}
			r.setPhase(s.Name, pm.Pod, PhaseResult{Phase: ph, Status: Skipped, Message: why})
		}
	}
	if err := r.runPhase(ctx, s.Name, pm.Pod, PhaseRestart, func(ctx context.Context) (string, string, error) {
		switch {
		case atTarget && !replaced:
			return Skipped, "already at the StatefulSet's update revision " + g.UpdateRevision(), nil
		case replaced:
			return Passed, "replaced already (pod UID changed since the plan)", nil
		case upgrade:
			return r.followRestart(ctx, s, pm)
		}
		return r.restartPod(ctx, s, pm)
	}); err != nil {
		return err
	}
	if err := r.runPhase(ctx, s.Name, pm.Pod, PhaseReady, func(ctx context.Context) (string, string, error) {
		return r.ready(ctx, s, pm, atTarget && !replaced)
	}); err != nil {
		return err
	}
	if err := r.runPhase(ctx, s.Name, pm.Pod, PhaseRejoin, func(ctx context.Context) (string, string, error) {
		return r.rejoin(ctx, s, pm)
	}); err != nil {
		return err
	}
	if upgrade && idx == 0 && len(sp.Members) > 1 {
		// The StatefulSet controller takes the next member as soon as this one is Ready: hand the
		// keeper's primaries to this refreshed member now, before the controller reaches the keeper.
		keeper := sp.Members[len(sp.Members)-1]
		if err := r.runPhase(ctx, s.Name, keeper.Pod, PhaseSwitchPrimary, func(ctx context.Context) (string, string, error) {
			return r.switchTo(ctx, s, keeper, pm.Pod)
		}); err != nil {
			return err
		}
	}
	if err := r.runPhase(ctx, s.Name, pm.Pod, PhaseVerify, func(ctx context.Context) (string, string, error) {
		return r.verifyMember(ctx, s, pm)
	}); err != nil {
		return err
	}
	return r.runPhase(ctx, s.Name, pm.Pod, PhaseProbe, func(ctx context.Context) (string, string, error) {
		return r.probeWindow(ctx)
	})
}

func (r *Runner) memberPhase(site, pod, phase string) PhaseResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m := r.report.Member(site, pod); m != nil {
		return m.Phase(phase)
	}
	return PhaseResult{Phase: phase}
}

func (r *Runner) setPhase(site, pod string, res PhaseResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m := r.report.Member(site, pod); m != nil {
		m.set(res)
	}
}

// precheck: before a member goes, every other member is Ready and in peering, and every peering
// object keeps its quorum without it. Refused (exit 5) while this run changed nothing.
func (r *Runner) precheck(ctx context.Context, s *Site, pm PlannedMember) (string, string, error) {
	refuse := func(format string, args ...any) (string, string, error) {
		code := exitcode.RolloutPrecheckFailed
		if !r.changed {
			code = exitcode.Refused
		}
		return "", "", exitcode.Newf(code, format+"; %s was not restarted", append(args, pm.Pod)...)
	}
	if r.cfg.Probe != nil {
		if err := r.cfg.Probe.Breached(); err != nil {
			return "", "", err
		}
	}
	g, err := r.refresh(ctx, s)
	if err != nil {
		return "", "", err
	}
	m, ok := g.Member(pm.Pod)
	if !ok {
		return refuse("pod %s is gone", pm.Pod)
	}
	for _, o := range g.Members {
		if o.Pod != m.Pod && !o.Ready {
			return refuse("member %s is not Ready (%s): never two members down at once", o.Pod, o.Problem)
		}
	}
	p, err := r.readPeering(ctx, g, pm.Pod)
	if err != nil {
		return "", "", err
	}
	if why := p.Healthy(); why != "" {
		return refuse("gateway peering is not healthy (read on %s): %s", p.From, why)
	}
	if why := p.SurvivesWithout(m.IP); why != "" {
		return refuse("quorum would not survive its absence (read on %s): %s", p.From, why)
	}
	msg := fmt.Sprintf("quorum kept without it on %d peering objects (read on %s)", len(p.Names()), p.From)
	if prim := p.PrimaryOf(m.IP); len(prim) > 0 {
		msg += "; primary of " + strings.Join(prim, ", ")
	}
	return Passed, msg, nil
}

// switchAway hands every peering object the member is primary of to the planned member (else another
// Ready member), running gateway-peering-switch-primary on that member's console, and reads the
// result back: no public sample shows what the command prints, so its output decides nothing.
func (r *Runner) switchAway(ctx context.Context, s *Site, sp SitePlan, pm PlannedMember) (string, string, error) {
	target := pm.SwitchTo
	g := r.gateways[s.Name]
	if t, ok := g.Member(target); !ok || !t.Ready || target == pm.Pod {
		target = ""
		for _, o := range sp.Members { // refreshed members come first in the plan
			if t, ok := g.Member(o.Pod); ok && t.Ready && o.Pod != pm.Pod {
				target = o.Pod
				break
			}
		}
	}
	return r.switchTo(ctx, s, pm, target)
}

// switchTo moves pm's primaries to target.
func (r *Runner) switchTo(ctx context.Context, s *Site, pm PlannedMember, target string) (string, string, error) {
	g, err := r.refresh(ctx, s)
	if err != nil {
		return "", "", err
	}
	m, ok := g.Member(pm.Pod)
	if !ok || string(m.UID) != pm.UID {
		return Skipped, "the pod was replaced before its primaries could be handed over; peering elected new primaries", nil
	}
	p, err := r.readPeering(ctx, g, pm.Pod)
	if err != nil {
		return "", "", err
	}
	prim := p.PrimaryOf(m.IP)
	if len(prim) == 0 {
		return Skipped, "primary of nothing", nil
	}
	t, ok := g.Member(target)
	if !ok || !t.Ready {
		return "", "", fmt.Errorf("no Ready member to hand the primaries of %s to", strings.Join(prim, ", "))
	}
	sess, err := r.session(ctx, s, t)
	if err != nil {
		return "", "", err
	}
	r.changed = true
	if err := sess.Config(ctx); err != nil {
		r.drop(s.Name, t.Pod)
		return "", "", err
	}
	for _, name := range prim {
		if _, err := sess.Run(ctx, "gateway-peering-switch-primary "+name); err != nil {
			r.drop(s.Name, t.Pod)
			return "", "", fmt.Errorf("gateway-peering-switch-primary %s on %s: %w", name, t.Pod, err)
		}
	}
	if err := sess.Top(ctx); err != nil {
		r.drop(s.Name, t.Pod)
		return "", "", err
	}
	_, _, err = r.pollPeering(ctx, s, pm.Pod, r.cfg.SwitchTimeout, func(p Peering) string {
		var why []string
		for _, name := range prim {
			if got := p.Primaries()[name]; got != t.IP {
				why = append(why, fmt.Sprintf("%s primary %s", name, cmp.Or(got, "(none)")))
			}
		}
		return strings.Join(why, ", ")
	})
	if err != nil {
		return "", "", fmt.Errorf("after gateway-peering-switch-primary on %s (%s): %w", t.Pod, t.IP, err)
	}
	return Passed, fmt.Sprintf("%s now primary on %s (read back)", strings.Join(prim, ", "), t.Pod), nil
}

// restartPod deletes the member's pod (only the one planned: a UID precondition) and waits for the
// StatefulSet to create it again.
func (r *Runner) restartPod(ctx context.Context, s *Site, pm PlannedMember) (string, string, error) {
	r.changed = true
	r.drop(s.Name, pm.Pod)
	uid := types.UID(pm.UID)
	err := s.Kube.CoreV1().Pods(s.Namespace).Delete(ctx, pm.Pod, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return "", "", explain.Error(err, s.Name, corev1.SchemeGroupVersion.WithResource("pods"), "delete")
	}
	p, err := r.waitReplaced(ctx, s, pm)
	if err != nil {
		return "", "", fmt.Errorf("the StatefulSet did not create pod %s again: %w", pm.Pod, err)
	}
	r.log(s.Name, pm.Pod, "deleted uid %s; recreated as uid %s", pm.UID, p.UID)
	return Passed, "deleted; the StatefulSet created it again", nil
}

// followRestart waits for the StatefulSet controller to replace the member (upgrade: the operator
// rolls the pods itself, highest ordinal first).
func (r *Runner) followRestart(ctx context.Context, s *Site, pm PlannedMember) (string, string, error) {
	p, err := r.waitReplaced(ctx, s, pm)
	if err != nil {
		return "", "", fmt.Errorf("the StatefulSet controller did not replace pod %s: %w", pm.Pod, err)
	}
	r.log(s.Name, pm.Pod, "uid %s replaced by uid %s", pm.UID, p.UID)
	return Passed, "replaced by the StatefulSet controller", nil
}

// waitReplaced waits (--restart-timeout) for a pod of pm's name with another UID than planned.
func (r *Runner) waitReplaced(ctx context.Context, s *Site, pm PlannedMember) (*corev1.Pod, error) {
	uid := types.UID(pm.UID)
	return waitPod(ctx, s, pm.Pod, r.cfg.RestartTimeout, func(p *corev1.Pod) bool {
		return p.UID != uid && p.DeletionTimestamp == nil
	})
}

// ready waits for the new pod to be Ready.
func (r *Runner) ready(ctx context.Context, s *Site, pm PlannedMember, same bool) (string, string, error) {
	uid := types.UID(pm.UID)
	start := r.cfg.Now()
	p, err := waitPod(ctx, s, pm.Pod, r.cfg.ReadyTimeout, func(p *corev1.Pod) bool {
		return (same || p.UID != uid) && podstate.Ready(p)
	})
	r.podEvents(ctx, s, pm.Pod)
	if err != nil {
		return "", "", fmt.Errorf("pod %s is not Ready: %s (%v). Fix it, then re-run: the rollout continues here", pm.Pod, podProblem(p), err)
	}
	return Passed, fmt.Sprintf("Ready on %s after %s", p.Spec.NodeName, r.cfg.Now().Sub(start).Round(100*time.Millisecond)), nil
}

// member re-reads the site's gateway and returns it with pod's member (an error when the pod is gone).
func (r *Runner) member(ctx context.Context, s *Site, pod string) (*Gateway, Member, error) {
	g, err := r.refresh(ctx, s)
	if err != nil {
		return nil, Member{}, err
	}
	m, ok := g.Member(pod)
	if !ok {
		return nil, Member{}, fmt.Errorf("pod %s is gone", pod)
	}
	return g, m, nil
}

// rejoin waits until the member is back in every peering object.
func (r *Runner) rejoin(ctx context.Context, s *Site, pm PlannedMember) (string, string, error) {
	_, m, err := r.member(ctx, s, pm.Pod)
	if err != nil {
		return "", "", err
	}
	p, _, err := r.pollPeering(ctx, s, "", r.cfg.RejoinTimeout, func(p Peering) string { return p.Rejoined(m.IP) })
	if err != nil {
		return "", "", fmt.Errorf("%s (%s) not back in gateway peering: %w", pm.Pod, m.IP, err)
	}
	return Passed, fmt.Sprintf("%s in %d peering objects, link ok, no pending updates, one primary each (read on %s)", m.IP, len(p.Names()), p.From), nil
}

// verifyMember checks what the member runs, then the user's --verify-cmd.
func (r *Runner) verifyMember(ctx context.Context, s *Site, pm PlannedMember) (string, string, error) {
	g, m, err := r.member(ctx, s, pm.Pod)
	if err != nil {
		return "", "", err
	}
	status, msg := verify(ctx, g, m, r.cfg.Action, r.cfg.Version)
	if status == Failed {
		return "", "", errors.New(msg)
	}
	if cmd := r.cfg.Hooks.Verify; cmd != "" {
		out := &strings.Builder{}
		env := hookEnv(r.cfg.Action, r.cfg.Gateway, s.Name, s.Namespace, PhaseVerify, "ROLLOUT_POD="+m.Pod, "ROLLOUT_POD_IP="+m.IP,
			"ROLLOUT_VERSION="+g.Version())
		err := r.cfg.RunHook(ctx, cmd, env, out)
		r.log(s.Name, pm.Pod, "--verify-cmd %q:\n%s", cmd, out.String())
		if err != nil {
			return "", "", fmt.Errorf("--verify-cmd: %v%s", err, lastLine(out.String()))
		}
		msg += "; --verify-cmd passed"
		if status == Unverified {
			status = Passed
		}
	}
	return status, msg, nil
}

// probeWindow watches traffic for the window after a member is back.
func (r *Runner) probeWindow(ctx context.Context) (string, string, error) {
	if r.cfg.Probe == nil {
		return Skipped, "no --probe", nil
	}
	t := time.NewTimer(r.cfg.ProbeWindow)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return "", "", ctx.Err()
	case <-t.C:
	}
	if err := r.cfg.Probe.Breached(); err != nil {
		return "", "", err
	}
	return Passed, fmt.Sprintf("%s window within the gates", r.cfg.ProbeWindow), nil
}

// prepareUpgrade moves every primary to the member the StatefulSet controller takes last (lowest
// ordinal) and changes spec.version (and the license): the operator then rolls the pods.
func (r *Runner) prepareUpgrade(ctx context.Context, s *Site, sp SitePlan) error {
	g := r.gateways[s.Name]
	if r.stepDone(s.Name, StepChange) || g.Version() == r.cfg.Version {
		if !r.stepDone(s.Name, StepChange) {
			return r.runStep(ctx, s.Name, StepChange, func(context.Context) (string, string, error) {
				return Skipped, "spec.version is " + r.cfg.Version + " already", nil
			})
		}
		return nil
	}
	// Every member's pre-check while nothing rolls yet; then the primaries to the keeper.
	for _, pm := range sp.Members {
		if err := r.runPhase(ctx, s.Name, pm.Pod, PhasePrecheck, func(ctx context.Context) (string, string, error) {
			return r.precheck(ctx, s, pm)
		}); err != nil {
			return err
		}
	}
	if n := len(sp.Members); n > 1 {
		keeper := sp.Members[n-1].Pod
		for _, pm := range sp.Members[:n-1] {
			if err := r.runPhase(ctx, s.Name, pm.Pod, PhaseSwitchPrimary, func(ctx context.Context) (string, string, error) {
				return r.switchTo(ctx, s, pm, keeper)
			}); err != nil {
				return err
			}
		}
	}
	return r.runStep(ctx, s.Name, StepChange, func(ctx context.Context) (string, string, error) {
		spec := map[string]interface{}{"version": r.cfg.Version}
		if r.cfg.License != "" {
			spec["license"] = map[string]interface{}{"license": r.cfg.License}
		}
		patch, _ := json.Marshal(map[string]interface{}{"spec": spec})
		r.changed = true
		gvr := apic.GatewayClusterKind.GVR()
		oldRev := g.UpdateRevision()
		if _, err := s.Dynamic.Resource(gvr).Namespace(s.Namespace).Patch(ctx, r.cfg.Gateway, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return "", "", explain.Error(err, s.Name, gvr, "patch")
		}
		// The members are followed only once the operator gave the StatefulSet the new template:
		// before that, every pod still looks current.
		var newRev string
		err := wait.PollUntilContextTimeout(ctx, r.cfg.PollInterval/4+10*time.Millisecond, r.cfg.RestartTimeout, true, func(ctx context.Context) (bool, error) {
			g, err := r.refresh(ctx, s)
			if err != nil {
				return false, err
			}
			newRev = g.UpdateRevision()
			return newRev != "" && newRev != oldRev, nil
		})
		if err != nil {
			return "", "", fmt.Errorf("spec.version is %s, but the StatefulSet's update revision is still %s after %s: the operator has not rolled it out (check the operator's log and the GatewayCluster's status)",
				r.cfg.Version, oldRev, r.cfg.RestartTimeout)
		}
		return Passed, fmt.Sprintf("spec.version %s -> %s; the operator gave the StatefulSet revision %s and rolls it (highest ordinal first)", g.Version(), r.cfg.Version, newRev), nil
	})
}

// restore writes undo's saved configuration back: the ConfigMaps' data and spec.additionalDomainConfig.
func (r *Runner) restore(ctx context.Context, s *Site) (string, string, error) {
	e := r.cfg.Restore[s.Name]
	r.changed = true
	for name, data := range e.ConfigMaps {
		c := s.Kube.CoreV1().ConfigMaps(s.Namespace)
		cm, err := c.Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			_, err = c.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: s.Namespace}, Data: data}, metav1.CreateOptions{})
		case err == nil:
			cm.Data = data
			_, err = c.Update(ctx, cm, metav1.UpdateOptions{})
		}
		if err != nil {
			return "", "", explain.Error(err, s.Name, configMapsGVR, "update")
		}
	}
	adc := json.RawMessage("null")
	if len(e.AdditionalDomainConfig) > 0 {
		adc = e.AdditionalDomainConfig
	}
	patch := []byte(`{"spec":{"additionalDomainConfig":` + string(adc) + `}}`)
	gvr := apic.GatewayClusterKind.GVR()
	if _, err := s.Dynamic.Resource(gvr).Namespace(s.Namespace).Patch(ctx, r.cfg.Gateway, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return "", "", explain.Error(err, s.Name, gvr, "patch")
	}
	return Passed, fmt.Sprintf("restored %d ConfigMap(s) and spec.additionalDomainConfig from run %s (%s)", len(e.ConfigMaps), e.RunID, e.When), nil
}
