package spread

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
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
	Entries   []spread.EntryChange     `json:"entries"`
	Diff      string                   `json:"diff,omitempty"`
	Before    []map[string]interface{} `json:"before"`
	After     []map[string]interface{} `json:"after"`
}

// planFor is the plan function of the action for target t.
func (o *Options) planFor(t spread.Target) spread.PlanFunc {
	if o.Action == ActionRemove {
		var subs []apic.Subsystem
		if o.explicit {
			subs = o.subs
		}
		return func(obj apic.Object) (spread.Plan, error) { return spread.PlanRemove(obj, subs) }
	}
	reqs := t.Requests(o.subs)
	mode := o.mode()
	return func(obj apic.Object) (spread.Plan, error) { return spread.PlanApply(obj, reqs, mode) }
}

func (o *Options) change(ctx context.Context) error {
	step := o.progress.Step("Read API Connect CRs in " + o.site.Namespace)
	targets, err := spread.FindTargets(ctx, o.site.Dynamic, o.site.Name, o.site.Namespace)
	if err != nil {
		step.Fail(err)
		return err
	}
	if o.Action != ActionRemove {
		targets = withSubsystems(targets, o.subs)
	}
	if len(targets) == 0 {
		err := exitcode.Newf(exitcode.Error, "no API Connect CRs of subsystem(s) %s in namespace %s of context %s: pass -n with the API Connect namespace",
			subsList(o.subs), o.site.Namespace, o.site.Name)
		step.Fail(err)
		return err
	}
	step.Done(fmt.Sprintf("%d CR(s)", len(targets)))

	res := PlanResult{Context: o.site.Name, Namespace: o.site.Namespace, Action: o.Action, DryRun: o.DryRun}
	if o.Action != ActionRemove {
		res.Mode = string(o.mode())
	}
	plans := make([]spread.Plan, len(targets))
	changed := 0
	for i, t := range targets {
		p, err := o.planFor(t)(t.Object)
		if err != nil {
			return err
		}
		plans[i] = p
		if p.Changed() {
			changed++
		}
		doc, err := objectDoc(t, p)
		if err != nil {
			return err
		}
		res.Objects = append(res.Objects, doc)
	}
	if o.Action == ActionPlan || changed == 0 {
		if changed == 0 && o.Action != ActionPlan {
			o.progress.Infof("nothing to change: %s", nothingText(o.Action))
		}
		return o.printPlan(res)
	}
	if !o.Print.IsStructured() {
		// Show the diff before asking.
		if err := o.printPlan(res); err != nil {
			return err
		}
	}
	if !o.Yes && !o.DryRun {
		verb := "Apply the zone-spread overrides to"
		if o.Action == ActionRemove {
			verb = "Remove our zone-spread overrides from"
		}
		if err := o.Confirm(o.IOStreams, fmt.Sprintf("%s %d CR(s) in context %s? The operator will restart the pods.", verb, changed, o.site.Name)); err != nil {
			return err
		}
	}
	// Server-side dry run of every change first, so a rejection leaves every CR as it was.
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
	if o.DryRun {
		if o.Print.IsStructured() {
			return o.printPlan(res)
		}
		return nil
	}
	for i, t := range targets {
		if !plans[i].Changed() {
			continue
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
	res.Applied = true
	if o.Wait {
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
	if o.Print.IsStructured() {
		return o.printPlan(res)
	}
	return nil
}

func nothingText(action string) string {
	if action == ActionRemove {
		return "no overrides recorded by kubectl apic spread"
	}
	return "the overrides are already in place"
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
			return exitcode.Newf(exitcode.Timeout, "the pods did not finish moving within %s (the change is stored; re-run check later): %w", o.Timeout, err)
		}
		return err
	}
	s.Done("rolled out")
	return nil
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
		cd := ChangeDoc{Subsystem: string(c.Subsystem), Path: c.Path, Entries: c.Entries, Diff: diff,
			Before: orEmpty(c.Before), After: orEmpty(c.After)}
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
