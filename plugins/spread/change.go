package spread

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/explain"
	"github.com/kubectl-apic/kubectl-apic/pkg/lock"
	"github.com/kubectl-apic/kubectl-apic/pkg/printers"
	"github.com/kubectl-apic/kubectl-apic/pkg/spread"
)

// KindPlan is the kind of plan's, apply's and remove's document.
const KindPlan = "SpreadPlan"

// Shapes.
const (
	ShapeSubsystems = "subsystems"
	ShapeTopLevel   = "toplevel"
)

// PlanResult is the document of plan, apply and remove.
type PlanResult struct {
	Context   string `json:"context"`
	Namespace string `json:"namespace"`
	// Action is plan, apply or remove.
	Action string `json:"action"`
	// Mode is soft or hard (apply and plan).
	Mode string `json:"mode,omitempty"`
	// DryRun: the change was only sent as a server-side dry run.
	DryRun bool `json:"dryRun"`
	// Applied: the change was stored (apply and remove without --dry-run, when something changed).
	Applied bool `json:"applied"`
	// Objects are the CRs considered, with their changes.
	Objects []ObjectDoc `json:"objects"`
	// Check is the check after --wait.
	Check *CheckResult `json:"check,omitempty"`
	// Warnings are what the pre-check found: pods the override cannot place in a zone of their
	// own (apply --hard is refused then; plan says it would be).
	Warnings []string `json:"warnings,omitempty"`
}

// ObjectDoc is one CR of a plan.
type ObjectDoc struct {
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// Shape is subsystems (the override goes on this subsystem CR) or toplevel (on this
	// APIConnectCluster, for the subsystem CRs it owns).
	Shape   string      `json:"shape"`
	Changed bool        `json:"changed"`
	Changes []ChangeDoc `json:"changes"`
}

// ChangeDoc is one template list's change.
type ChangeDoc struct {
	Subsystem string                   `json:"subsystem"`
	Path      string                   `json:"path"`
	Scope     string                   `json:"scope,omitempty"`
	Entries   []spread.EntryChange     `json:"entries"`
	Diff      string                   `json:"diff,omitempty"`
	Before    []map[string]interface{} `json:"before"`
	After     []map[string]interface{} `json:"after"`
	// Notes say what was changed in our terms since apply, and what this change does about it.
	Notes []string `json:"notes,omitempty"`
}

// planFor is the plan function of the action for target t.
func (o *Options) planFor(t spread.Target) spread.PlanFunc {
	if o.Action == ActionRemove {
		var subs []apic.Subsystem
		if o.explicit {
			subs = o.subs
		}
		opts := spread.RemoveOptions{MoveLegacy: o.MoveLegacy}
		return func(obj apic.Object) (spread.Plan, error) { return spread.PlanRemove(obj, subs, opts) }
	}
	reqs := t.Requests(o.subs)
	mode := o.mode()
	return func(obj apic.Object) (spread.Plan, error) { return spread.PlanApply(obj, reqs, mode) }
}

// change is plan, apply and remove, in the runbook's order: read the CRs, plan every change, check
// the pods can be placed, show the plan and ask, take each changed CR's Lease, send every change as
// a server-side dry run, write them, and optionally wait for the pods to move.
func (o *Options) change(ctx context.Context) error {
	targets, err := o.findTargets(ctx)
	if err != nil {
		return err
	}
	res, plans, err := o.planAll(targets)
	if err != nil {
		return err
	}
	if err := o.checkPlacement(ctx, targets, &res); err != nil {
		return err
	}
	changed := countChanged(plans)
	if o.Action == ActionPlan || changed == 0 {
		if changed == 0 && o.Action != ActionPlan {
			o.progress.Infof("nothing to change: %s", nothingText(o.Action, targets))
		}
		return o.printPlan(res)
	}
	if !o.Print.IsStructured() {
		// Show the diff before asking.
		if err := o.printPlan(res); err != nil {
			return err
		}
	}
	if err := o.confirm(ctx, changed, plans); err != nil {
		return err
	}
	leases, err := o.lock(ctx, targets, plans)
	if err != nil {
		return err
	}
	defer leases.release()
	if err := o.dryRunAll(ctx, targets, plans); err != nil {
		return err
	}
	if o.DryRun {
		if o.Print.IsStructured() {
			return o.printPlan(res)
		}
		return nil
	}
	if err := o.writeAll(ctx, targets, plans, leases); err != nil {
		return err
	}
	res.Applied = true
	if o.Wait {
		return o.waitAndCheck(ctx, targets, plans, res)
	}
	if o.Print.IsStructured() {
		return o.printPlan(res)
	}
	return nil
}

// findTargets reads the API Connect CRs of the namespace and keeps those the action concerns.
func (o *Options) findTargets(ctx context.Context) ([]spread.Target, error) {
	step := o.progress.Step("Read API Connect CRs in " + o.site.Namespace)
	targets, err := spread.FindTargets(ctx, o.site.Dynamic, o.site.Name, o.site.Namespace)
	if err != nil {
		step.Fail(err)
		return nil, err
	}
	if o.Action != ActionRemove {
		targets = withSubsystems(targets, o.subs)
	}
	if len(targets) == 0 {
		// The same code as status for "no API Connect here" (Degraded: nothing to judge or change).
		err := exitcode.Newf(exitcode.Degraded, "no API Connect CRs of subsystem(s) %s in namespace %s of context %s: pass -n with the API Connect namespace",
			subsList(o.subs), o.site.Namespace, o.site.Name)
		step.Fail(err)
		return nil, err
	}
	step.Done(fmt.Sprintf("%d CR(s)", len(targets)))
	return targets, nil
}

// planAll plans every target from what was read; nothing is written.
func (o *Options) planAll(targets []spread.Target) (PlanResult, []spread.Plan, error) {
	res := PlanResult{Context: o.site.Name, Namespace: o.site.Namespace, Action: o.Action, DryRun: o.DryRun}
	if o.Action != ActionRemove {
		res.Mode = string(o.mode())
	}
	plans := make([]spread.Plan, len(targets))
	for i, t := range targets {
		p, err := o.planFor(t)(t.Object)
		if err != nil {
			return res, nil, err
		}
		plans[i] = p
		doc, err := objectDoc(t, p)
		if err != nil {
			return res, nil, err
		}
		res.Objects = append(res.Objects, doc)
	}
	return res, plans, nil
}

func countChanged(plans []spread.Plan) int {
	n := 0
	for _, p := range plans {
		if p.Changed() {
			n++
		}
	}
	return n
}

// checkPlacement reads the nodes and pods before plan or apply and judges whether every pod can run
// under the override (IBM: hard affinity trades capacity for placement). A hard term that would
// leave a pod Pending refuses apply (plan warns); a soft term that lets pods share a zone warns.
func (o *Options) checkPlacement(ctx context.Context, targets []spread.Target, res *PlanResult) error {
	if o.Action == ActionRemove {
		return nil
	}
	var expects []spread.Expect
	for _, t := range targets {
		expects = append(expects, spread.Expectations(t.Requests(o.subs), o.mode())...)
	}
	step := o.progress.Step("Check the zones can take every pod")
	ps, err := spread.ReadPlacements(ctx, o.site.Kube, o.site.Name, o.site.Namespace, expects)
	if err != nil {
		step.Fail(err)
		return err
	}
	var short []spread.Placement
	for _, p := range ps {
		if p.Unplaceable() > 0 {
			short = append(short, p)
		}
	}
	if len(short) == 0 {
		step.Done(fmt.Sprintf("%d group(s) fit", len(ps)))
		return nil
	}
	if o.mode() == spread.Hard {
		msg := o.hardRefusal(short)
		if o.Action == ActionApply {
			step.Fail(fmt.Errorf("refused: %d group(s) cannot have a zone per pod", len(short)))
			return exitcode.Newf(exitcode.Refused, "%s", msg)
		}
		step.Done("apply --hard would be refused")
		res.Warnings = append(res.Warnings, "apply --hard would be refused: "+msg)
		o.progress.Warnf("apply --hard would be refused: %s", msg)
		return nil
	}
	// Soft: more pods than zones is normal (5 gateways in 3 zones keep quorum); warn only when a
	// zone is missing.
	n := 0
	for _, p := range short {
		if len(p.Blocked) == 0 {
			continue
		}
		n++
		verb := "is"
		if len(p.Blocked) > 1 {
			verb = "are"
		}
		w := fmt.Sprintf("%s: %s: the soft term lets its pods share the %d zone(s) left until %s %s back and the pods are rescheduled; until then losing a zone holding two of them can break quorum",
			p.Group, p.Why(), len(p.Zones), strings.Join(p.BlockedZones(), ", "), verb)
		res.Warnings = append(res.Warnings, w)
		o.progress.Warnf("%s", w)
	}
	if n == 0 {
		step.Done(fmt.Sprintf("%d group(s) fit", len(ps)))
		return nil
	}
	step.Done("some pods will share a zone")
	return nil
}

// hardRefusal says which pods a hard term would leave Pending, how to fix it and what the soft
// variant would do instead.
func (o *Options) hardRefusal(short []spread.Placement) string {
	var what, blocked []string
	most := 0
	for _, p := range short {
		most = max(most, p.Pods)
		what = append(what, fmt.Sprintf("%d of the %d pods of %s Pending (%s)", p.Unplaceable(), p.Pods, p.Group, p.Why()))
		for _, z := range p.BlockedZones() {
			if !slices.Contains(blocked, z) {
				blocked = append(blocked, z)
			}
		}
	}
	fix := fmt.Sprintf("--hard needs a zone with a ready, schedulable node for each pod (%d here): add nodes in more zones", most)
	if len(blocked) > 0 {
		fix = fmt.Sprintf("bring the nodes of %s back (kubectl get nodes -l %s=%s), then re-run",
			strings.Join(blocked, ", "), apic.ZoneLabel, blocked[0])
	}
	soft := fmt.Sprintf("kubectl apic spread apply --context %s -n %s%s", o.site.Name, o.site.Namespace, o.subsystemFlag())
	return fmt.Sprintf("--hard would leave %s: a required zone term puts every pod in a zone of its own. Nothing was changed. Fix: %s; or use the soft variant (%s): it starts every pod, letting some share a zone while zones are missing, and spreads them when they are rescheduled later",
		strings.Join(what, " and "), fix, soft)
}

// subsystemFlag repeats --subsystem for commands we suggest.
func (o *Options) subsystemFlag() string {
	if !o.explicit {
		return ""
	}
	return " --subsystem " + subsList(o.subs)
}

// command is this run's command line, for the Lease's holder and for messages.
func (o *Options) command() string {
	return fmt.Sprintf("kubectl apic spread %s --context %s -n %s%s", o.Action, o.site.Name, o.site.Namespace, o.subsystemFlag())
}

func (o *Options) confirm(ctx context.Context, changed int, plans []spread.Plan) error {
	if o.Yes || o.DryRun {
		return nil
	}
	verb := "Apply the zone-spread overrides to"
	if o.Action == ActionRemove {
		verb = "Remove our zone-spread overrides from"
	}
	restart := " The operator will restart the pods."
	if !anyTemplateChanged(plans) {
		restart = " Only our record annotation changes."
	}
	defer o.progress.Pause()() // no live line redrawn over the question while it waits
	return o.Confirm(ctx, o.IOStreams, fmt.Sprintf("%s %d CR(s) in context %s?%s", verb, changed, o.site.Name, restart))
}

func anyTemplateChanged(plans []spread.Plan) bool {
	for _, p := range plans {
		if p.TemplateChanged() {
			return true
		}
	}
	return false
}

// heldLeases are the Leases a run holds, one per CR it changes.
type heldLeases struct {
	held   []*lock.Lock
	cancel context.CancelFunc
	ctx    context.Context
}

// release stops renewing and gives every Lease back.
func (h *heldLeases) release() {
	h.cancel()
	for _, l := range h.held {
		_ = l.Release(context.WithoutCancel(h.ctx))
	}
}

// lost is the error of the first Lease lost meanwhile (another run took it over after it expired),
// if any: writing must stop then.
func (h *heldLeases) lost() error {
	for _, l := range h.held {
		select {
		case <-l.Lost():
			return exitcode.Newf(exitcode.SpreadApplyFailed, "%v: stopped before the next write", l.Err())
		default:
		}
	}
	return nil
}

// lock takes the Lease of every CR that changes (spread.LeaseName, in the CR's namespace), in name
// order, so that two runs on one CR never interleave, as failover's lease does for two sites; a run
// holding one refuses this one, naming its holder. A dry run takes nothing and only warns.
func (o *Options) lock(ctx context.Context, targets []spread.Target, plans []spread.Plan) (*heldLeases, error) {
	var names []string
	byName := map[string]spread.Target{}
	for i, t := range targets {
		if plans[i].Changed() {
			n := spread.LeaseName(t.Object)
			names = append(names, n)
			byName[n] = t
		}
	}
	slices.Sort(names)
	lt := func(t spread.Target) lock.Target {
		return lock.Target{Site: o.site.Name, Client: o.site.Kube, Namespace: t.Object.Namespace()}
	}
	kctx, cancel := context.WithCancel(ctx)
	h := &heldLeases{cancel: cancel, ctx: ctx}
	if o.DryRun {
		for _, n := range names {
			le, err := lock.Inspect(ctx, lt(byName[n]), n)
			if err != nil {
				return nil, explain.Error(err, o.site.Name, leasesGVR, "get")
			}
			if holder, held := lock.HolderOf(le); held {
				o.progress.Warnf("lease %s is held by %s: a real run would be refused until it is released or expires", n, holder)
			}
		}
		return h, nil
	}
	holder := o.Holder
	if holder.RunID == "" {
		holder = lock.CurrentHolder(o.command())
	}
	step := o.progress.Step("Take lease " + strings.Join(names, ", "))
	for _, n := range names {
		opts := o.Lock
		opts.Name, opts.Force = n, o.ForceUnlock
		l, err := lock.Acquire(ctx, []lock.Target{lt(byName[n])}, holder, opts)
		if err != nil {
			h.release()
			var heldErr *lock.HeldError
			if errors.As(err, &heldErr) {
				step.Fail(fmt.Errorf("%s is held by %s", n, heldErr.Holder))
				return nil, exitcode.Newf(exitcode.Refused, "another kubectl apic spread run is changing %s: %v. Nothing was changed", byName[n].Object.Ref(), err)
			}
			err = explain.Error(err, o.site.Name, leasesGVR, "update")
			step.Fail(err)
			return nil, err
		}
		for _, t := range l.TakeOvers {
			o.progress.Warnf("took over lease %s from %s: %s", n, t.Previous, t.Reason)
		}
		h.held = append(h.held, l)
		go l.Keep(kctx)
	}
	step.Done("held by " + holder.String())
	return h, nil
}

var leasesGVR = schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}

// dryRunAll sends every change as a server-side dry run first, so a rejection leaves every CR as it
// was.
func (o *Options) dryRunAll(ctx context.Context, targets []spread.Target, plans []spread.Plan) error {
	for i, t := range targets {
		if !plans[i].Changed() {
			continue // nothing of ours to add or remove here
		}
		s := o.progress.Step("Dry run " + t.Object.Ref())
		if _, err := spread.Write(ctx, o.site.Dynamic, o.site.Name, t.Object.Kind, t.Object.Namespace(), t.Object.Name(), o.planFor(t), true); err != nil {
			s.Fail(err)
			return exitcode.Newf(exitcode.Refused, "the API server rejected the change to %s (dry run; nothing was changed): %w", t.Object.Ref(), err)
		}
		s.Done("accepted")
	}
	return nil
}

// writeAll writes every change, each planned again from a fresh read, as long as the Leases hold.
func (o *Options) writeAll(ctx context.Context, targets []spread.Target, plans []spread.Plan, leases *heldLeases) error {
	for i, t := range targets {
		if !plans[i].Changed() {
			continue
		}
		if err := leases.lost(); err != nil {
			return err
		}
		s := o.progress.Step("Write " + t.Object.Ref())
		p, err := spread.Write(ctx, o.site.Dynamic, o.site.Name, t.Object.Kind, t.Object.Namespace(), t.Object.Name(), o.planFor(t), false)
		if err != nil {
			s.Fail(err)
			return exitcode.Newf(exitcode.SpreadApplyFailed, "writing %s: %w", t.Object.Ref(), err)
		}
		plans[i] = p
		s.Done("")
	}
	return nil
}

// waitAndCheck follows the rollout, then checks the spread again and exits with its verdict.
func (o *Options) waitAndCheck(ctx context.Context, targets []spread.Target, plans []spread.Plan, res PlanResult) error {
	if err := o.wait(ctx, targets, plans); err != nil {
		return err
	}
	chk, err := o.check(ctx)
	if err != nil {
		return err
	}
	res.Check = &chk
	if o.Print.IsStructured() {
		if err := o.printPlan(res); err != nil {
			return err
		}
	} else if err := o.printCheck(chk); err != nil {
		return err
	}
	return cli.Silent(exitcode.Code(chk.ExitCode))
}

func nothingText(action string, targets []spread.Target) string {
	if action != ActionRemove {
		return "the overrides are already in place"
	}
	for _, t := range targets {
		if subs, err := spread.Recorded(t.Object); err == nil && len(subs) > 0 {
			return "the overrides recorded by kubectl apic spread could not be taken out (see the notes)"
		}
	}
	return "no overrides recorded by kubectl apic spread"
}

// wait follows the rolling restart of the StatefulSets whose pods the changed plans select.
func (o *Options) wait(ctx context.Context, targets []spread.Target, plans []spread.Plan) error {
	var expects []spread.Expect
	for i, t := range targets {
		if o.Action == ActionRemove {
			for _, c := range plans[i].Changes {
				if c.Changed() {
					expects = append(expects, spread.Expectations([]spread.Request{{Subsystem: c.Subsystem, Instance: t.Instances[c.Subsystem]}}, "")...)
				}
			}
			continue
		}
		expects = append(expects, spread.Expectations(t.Requests(o.subs), o.mode())...)
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	s := o.progress.Step("Wait for the operator to roll the pods")
	err := spread.WaitRollout(ctx, o.site.Kube, o.site.Namespace, expects, func(st []spread.RolloutStatus) {
		s.Update(spread.Describe(st))
	})
	if err != nil {
		s.Fail(err)
		if ctx.Err() != nil {
			return exitcode.Newf(exitcode.Timeout, "the pods did not finish moving within %s (the change is stored)%s: %w",
				o.Timeout, o.pendingText(expects), err)
		}
		return err
	}
	s.Done("rolled out")
	return nil
}

// pendingText names the pods the scheduler cannot place and the commands that undo or soften the
// change; without Pending pods it says to re-run check later.
func (o *Options) pendingText(expects []spread.Expect) string {
	// The wait's context has ended: read with a short one of our own.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pending, err := spread.ReadPending(ctx, o.site.Kube, o.site.Namespace, expects)
	if err != nil || len(pending) == 0 {
		return "; re-run kubectl apic spread check later"
	}
	var names []string
	for _, p := range pending {
		n := "pod " + p.Name + " is Pending"
		if m := strings.TrimRight(strings.TrimSpace(p.Message), "."); m != "" {
			n += " (" + m + ")"
		}
		names = append(names, n)
	}
	if o.Action == ActionRemove {
		return "; " + strings.Join(names, "; ") + ". The scheduler cannot place it even without our override: see kubectl describe pod -n " + o.site.Namespace
	}
	fix := fmt.Sprintf("take the override out again: kubectl apic spread remove --context %s -n %s --yes%s", o.site.Name, o.site.Namespace, o.subsystemFlag())
	if o.mode() == spread.Hard {
		fix += fmt.Sprintf(", or make it soft: kubectl apic spread apply --context %s -n %s --yes%s", o.site.Name, o.site.Namespace, o.subsystemFlag())
	}
	return "; " + strings.Join(names, "; ") + ". The scheduler cannot place it; " + fix
}

func withSubsystems(targets []spread.Target, subs []apic.Subsystem) []spread.Target {
	var out []spread.Target
	for _, t := range targets {
		if len(t.Requests(subs)) > 0 {
			out = append(out, t)
		}
	}
	return out
}

func objectDoc(t spread.Target, p spread.Plan) (ObjectDoc, error) {
	d := ObjectDoc{Kind: t.Object.Kind.Kind, Name: t.Object.Name(), Namespace: t.Object.Namespace(),
		Shape: ShapeSubsystems, Changed: p.Changed(), Changes: []ChangeDoc{}}
	if t.TopLevel() {
		d.Shape = ShapeTopLevel
	}
	for _, c := range p.Changes {
		diff, err := c.Diff(t.Object.Ref())
		if err != nil {
			return d, err
		}
		cd := ChangeDoc{Subsystem: string(c.Subsystem), Path: c.Path, Scope: c.Scope, Entries: c.Entries, Diff: diff,
			Before: orEmpty(c.Before), After: orEmpty(c.After), Notes: c.Notes}
		if cd.Entries == nil {
			cd.Entries = []spread.EntryChange{}
		}
		d.Changes = append(d.Changes, cd)
	}
	return d, nil
}

func orEmpty(l []map[string]interface{}) []map[string]interface{} {
	if l == nil {
		return []map[string]interface{}{}
	}
	return l
}

func (o *Options) printPlan(res PlanResult) error {
	if o.Print.IsStructured() {
		return o.Print.PrintObject(o.Out, KindPlan, res)
	}
	return RenderPlan(o.Out, res, o.Print.IsWide(), o.style)
}

// RenderPlan is the human output of plan, apply and remove: a table of the template entries each
// CR's change touches, then the unified diffs.
func RenderPlan(w io.Writer, res PlanResult, wide bool, style printers.Style) error {
	t := printers.Table{Title: fmt.Sprintf("%s (context %s, namespace %s)", strings.ToUpper(res.Action), res.Context, res.Namespace),
		Headers: []string{"CR", "Shape", "Subsystem", "Path", "Entry", "Change"}}
	for _, ob := range res.Objects {
		ref := ob.Kind + "/" + ob.Name
		if len(ob.Changes) == 0 {
			t.Rows = append(t.Rows, []string{ref, ob.Shape, "-", "-", "-", "none"})
		}
		for _, c := range ob.Changes {
			for _, e := range c.Entries {
				if e.Action == spread.ActionUnchanged && !wide {
					continue
				}
				t.Rows = append(t.Rows, []string{ref, ob.Shape, c.Subsystem, c.Path, e.Name, string(e.Action)})
			}
			if !hasChange(c.Entries) {
				t.Rows = append(t.Rows, []string{ref, ob.Shape, c.Subsystem, c.Path, "-", "none"})
			}
		}
	}
	if err := printers.RenderTable(w, t, false, style); err != nil {
		return err
	}
	for _, ob := range res.Objects {
		for _, c := range ob.Changes {
			for _, n := range c.Notes {
				if _, err := fmt.Fprintf(w, "NOTE: %s/%s %s: %s\n", ob.Kind, ob.Name, c.Path, n); err != nil {
					return err
				}
			}
		}
	}
	for _, ob := range res.Objects {
		for _, c := range ob.Changes {
			if c.Diff != "" {
				if _, err := fmt.Fprintf(w, "\n%s", c.Diff); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func hasChange(es []spread.EntryChange) bool {
	for _, e := range es {
		if e.Action != spread.ActionUnchanged {
			return true
		}
	}
	return false
}
