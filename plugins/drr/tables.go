package drr

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"

	pdrr "github.com/kubectl-apic/kubectl-apic/pkg/drr"
	"github.com/kubectl-apic/kubectl-apic/pkg/printers"
)

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// preflightTable lists what pre-flight saw of every member.
func preflightTable(r *pdrr.Report) printers.Table {
	q := r.Preflight.Quorum
	quorum := fmt.Sprintf("quorum OK (%d/%d active, %d needed)", q.Active, q.Members, q.Needed)
	if !q.HasQuorum {
		quorum = "quorum LOST: " + cmp.Or(q.Reason, "-")
	}
	t := printers.Table{
		Title:       fmt.Sprintf("PRE-FLIGHT %s/%s: peering %s in domain %s, %s", r.Namespace, r.Gateway, cmp.Or(r.Peering, "-"), r.Domain, quorum),
		Headers:     []string{"Member", "Address", "Ready", "Primary", "Link", "Check"},
		WideHeaders: []string{"Node", "Message"},
	}
	for _, m := range r.Preflight.Members {
		check, msg := "-", m.Error
		if st, ok := r.Result(m.Pod, pdrr.StepPreflight); ok {
			check, msg = st.Status, st.Message
		}
		t.Rows = append(t.Rows, []string{m.Pod, cmp.Or(m.Address, "-"), yesNo(m.Ready), yesNo(m.Primary), cmp.Or(m.LinkStatus, "-"),
			check, cmp.Or(m.Node, "-"), cmp.Or(msg, "-")})
	}
	return t
}

// planTable lists the plan's steps.
func planTable(r *pdrr.Report) printers.Table {
	t := printers.Table{Title: "PLAN", Headers: []string{"Step", "Members", "Commands", "What"}}
	for _, s := range r.Plan.Steps {
		members := strings.Join(s.Members, ",")
		if len(s.Members) > 1 && len(s.Members) == len(r.Plan.Members) {
			members = fmt.Sprintf("all %d", len(s.Members))
		}
		t.Rows = append(t.Rows, []string{s.Step, members, cmp.Or(strings.Join(s.Commands, "; "), "-"), s.Description})
	}
	return t
}

// summaryTables is the member x step table, then the messages of failed steps (every message
// with -o wide).
func summaryTables(r *pdrr.Report, wide bool) []printers.Table {
	steps := pdrr.Steps()
	headers := append([]string{"Member"}, steps...)
	sum := printers.Table{Title: fmt.Sprintf("DRR %s/%s: %s", r.Namespace, r.Gateway, r.Outcome), Headers: headers}
	for _, m := range r.Preflight.Members {
		row := []string{m.Pod}
		for _, st := range steps {
			cell := "-"
			if s, ok := r.Result(m.Pod, st); ok {
				cell = s.Status
				if s.Status != pdrr.Skipped {
					cell += " " + strconv.FormatFloat(s.DurationSeconds, 'f', 1, 64) + "s"
				}
			}
			row = append(row, cell)
		}
		sum.Rows = append(sum.Rows, row)
	}
	tables := []printers.Table{sum}
	details := printers.Table{Headers: []string{"Member", "Step", "Status", "Message"}}
	for _, s := range r.Results {
		if s.Status == pdrr.Failed || s.Status == pdrr.Unverified || (wide && s.Message != "") {
			details.Rows = append(details.Rows, []string{s.Member, s.Step, s.Status, cmp.Or(s.Message, "-")})
		}
	}
	if len(details.Rows) > 0 {
		tables = append(tables, details)
	}
	return tables
}

// statusTables are --status's member x peering table and the quorum of each peering.
func statusTables(st *pdrr.StatusReport) []printers.Table {
	rows := printers.Table{
		Title:   fmt.Sprintf("GATEWAY PEERING %s/%s (domain %s)", st.Namespace, st.Gateway, st.Domain),
		Headers: []string{"Member", "Address", "Peering", "Owner", "Pending", "Offset", "Link", "Primary"},
	}
	for _, r := range st.Rows {
		rows.Rows = append(rows.Rows, []string{r.Member, r.Address, r.Peering, cmp.Or(r.Owner, "-"),
			strconv.FormatInt(r.PendingUpdates, 10), strconv.FormatInt(r.ReplicationOffset, 10), r.LinkStatus, yesNo(r.Primary)})
	}
	quorum := printers.Table{Title: "QUORUM", Headers: []string{"Peering", "Active", "Needed", "Primary", "Quorum", "Reason"}}
	for _, q := range st.Quorum {
		status := "OK"
		if !q.HasQuorum {
			status = "CRITICAL"
		}
		quorum.Rows = append(quorum.Rows, []string{q.Peering, fmt.Sprintf("%d/%d", q.Active, q.Members),
			strconv.Itoa(q.Needed), cmp.Or(q.Primary, "-"), status, cmp.Or(q.Reason, "-")})
	}
	tables := []printers.Table{rows, quorum}
	if len(st.Services) > 0 {
		svc := printers.Table{Title: "APIC-GW-SERVICE", Headers: []string{"Member", "Admin State", "State"}}
		for _, s := range st.Services {
			svc.Rows = append(svc.Rows, []string{s.Member, cmp.Or(s.AdminState, "-"), cmp.Or(s.State, "-")})
		}
		tables = append(tables, svc)
	}
	if len(st.LeftBehind) > 0 {
		left := printers.Table{Title: "LEFT MID-DRR: finish it with " + st.Fix, Headers: []string{"What"}}
		for _, l := range st.LeftBehind {
			left.Rows = append(left.Rows, []string{l})
		}
		tables = append(tables, left)
	}
	if len(st.Errors) > 0 {
		errs := printers.Table{Title: "UNREADABLE", Headers: []string{"Error"}}
		for _, e := range st.Errors {
			errs.Rows = append(errs.Rows, []string{e})
		}
		tables = append(tables, errs)
	}
	return tables
}
