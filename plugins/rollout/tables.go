package rollout

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"

	"github.com/kubectl-apic/kubectl-apic/pkg/printers"
	prollout "github.com/kubectl-apic/kubectl-apic/pkg/rollout"
)

// cell is one phase in the summary: PASSED (1.2s), FAILED (43), SKIPPED, UNVERIFIED, UNKNOWN, * (the
// summary table of Axway's "Zero downtime upgrade").
func cell(status string, code int, seconds float64) string {
	switch status {
	case prollout.NotReached:
		return "*"
	case prollout.Passed, prollout.Unverified:
		return status + " (" + strconv.FormatFloat(seconds, 'f', 1, 64) + "s)"
	case prollout.Failed:
		return fmt.Sprintf("FAILED (%d)", code)
	}
	return status
}

// preflightTable lists the pre-flight checks.
func preflightTable(r *prollout.Report) printers.Table {
	t := printers.Table{Title: fmt.Sprintf("PRE-FLIGHT %s %s/%s", r.Action, r.Namespace, r.Gateway), Headers: []string{"Check", "Site", "Status", "Message"}}
	for _, c := range r.Preflight {
		t.Rows = append(t.Rows, []string{c.Name, cmp.Or(c.Site, "-"), c.Status, c.Message})
	}
	return t
}

// planTable lists the members in the order they go, the primaries each hands over, and the hooks.
func planTable(p prollout.Plan, h prollout.Hooks) printers.Table {
	title := "PLAN " + p.Action
	if p.Version != "" {
		title += " to " + p.Version
	}
	hooks := []string{}
	for _, kv := range [][2]string{{"drain", h.Drain}, {"smoke", h.Smoke}, {"undrain", h.Undrain}, {"verify", h.Verify}} {
		if kv[1] != "" {
			hooks = append(hooks, kv[0]+": "+kv[1])
		}
	}
	if len(hooks) > 0 {
		title += " (" + strings.Join(hooks, "; ") + ")"
	}
	t := printers.Table{Title: title, Headers: []string{"#", "Site", "Member", "Node", "Zone", "Primary of", "Hands over to"}}
	n := 0
	for _, s := range p.Sites {
		for _, m := range s.Members {
			n++
			t.Rows = append(t.Rows, []string{strconv.Itoa(n), s.Site, m.Pod, cmp.Or(m.Node, "-"), cmp.Or(m.Zone, "-"),
				cmp.Or(strings.Join(m.PrimaryOf, ","), "-"), cmp.Or(m.SwitchTo, "-")})
		}
	}
	return t
}

// summaryTables are the member x phase table, the site steps, and the messages of what did not pass
// (every message with -o wide).
func summaryTables(r *prollout.Report, wide bool) []printers.Table {
	title := fmt.Sprintf("ROLLOUT %s %s/%s: %s", r.Action, r.Namespace, r.Gateway, strings.ToUpper(r.Outcome))
	if r.ExitCode != 0 {
		title += fmt.Sprintf(" (exit %d)", r.ExitCode)
	}
	if r.Resumed {
		title += ", continued run " + r.RunID
	}
	sum := printers.Table{Title: title, Headers: append([]string{"Member", "Site"}, prollout.Phases()...)}
	details := printers.Table{Headers: []string{"Member", "Phase", "Status", "Message"}}
	for _, m := range r.Members {
		row := []string{m.Pod, m.Site}
		for _, ph := range prollout.Phases() {
			p := m.Phase(ph)
			row = append(row, cell(p.Status, p.Code, p.DurationSeconds))
			if p.Status == prollout.Failed || p.Status == prollout.Unverified || p.Status == prollout.Unknown || (wide && p.Message != "") {
				details.Rows = append(details.Rows, []string{m.Site + "/" + m.Pod, ph, p.Status, cmp.Or(p.Message, "-")})
			}
		}
		sum.Rows = append(sum.Rows, row)
	}
	tables := []printers.Table{sum}
	if len(r.Steps) > 0 {
		steps := printers.Table{Headers: []string{"Site", "Step", "Status", "Message"}}
		for _, s := range r.Steps {
			steps.Rows = append(steps.Rows, []string{s.Site, s.Step, cell(s.Status, s.Code, s.DurationSeconds), cmp.Or(s.Message, "-")})
		}
		tables = append(tables, steps)
	}
	if len(details.Rows) > 0 {
		tables = append(tables, details)
	}
	return tables
}
