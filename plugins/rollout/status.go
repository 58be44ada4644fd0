package rollout

import (
	"cmp"
	"context"
	"fmt"
	"strings"

	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/printers"
	prollout "github.com/kubectl-apic/kubectl-apic/pkg/rollout"
)

// Status is the RolloutStatus document (docs/rollout-schema.md).
type Status struct {
	Gateway string       `json:"gateway"`
	Sites   []SiteStatus `json:"sites"`
	// Holder is the run holding the rollout lease now ("" when none).
	Holder string `json:"holder,omitempty"`
	// LastRun is the journal's last run (nil: none recorded).
	LastRun *prollout.RunRecord `json:"lastRun,omitempty"`
}

// SiteStatus is one data center's gateway.
type SiteStatus struct {
	Site           string         `json:"site"`
	Namespace      string         `json:"namespace"`
	Version        string         `json:"version"`
	UpdateRevision string         `json:"updateRevision,omitempty"`
	Members        []MemberStatus `json:"members"`
	// PeeringError says why peering roles could not be read ("" when they were).
	PeeringError string `json:"peeringError,omitempty"`
}

// MemberStatus is one member as it runs now.
type MemberStatus struct {
	Pod            string `json:"pod"`
	Node           string `json:"node,omitempty"`
	Zone           string `json:"zone,omitempty"`
	Ready          bool   `json:"ready"`
	Revision       string `json:"revision,omitempty"`
	ProductVersion string `json:"productVersion,omitempty"`
	// Role is primary (of the listed peering objects), member, or unknown.
	Role      string   `json:"role"`
	PrimaryOf []string `json:"primaryOf,omitempty"`
	IP        string   `json:"ip,omitempty"`
}

// runStatus reads every site (read-only) and prints members and the last run. Exit 3 when a
// member is not Ready or the last run did not finish.
func (o *Options) runStatus(ctx context.Context) error {
	sites, err := o.connect(ctx, &logs{})
	if err != nil {
		return err
	}
	st := Status{Gateway: o.Gateway, Sites: []SiteStatus{}}
	if st.Holder, err = prollout.LiveHolder(ctx, sites, o.Gateway, o.Now()); err != nil {
		return err
	}
	if st.LastRun, _, err = prollout.NewJournal(sites, o.Gateway).Read(ctx); err != nil {
		return err
	}
	degraded := st.LastRun.Unfinished() && st.Holder == ""
	for _, s := range sites {
		g, err := prollout.ReadGateway(ctx, s, o.Gateway)
		if err != nil {
			return err
		}
		ss := SiteStatus{Site: s.Name, Namespace: s.Namespace, Version: g.Version(), UpdateRevision: g.UpdateRevision(), Members: []MemberStatus{}}
		var peering *prollout.Peering
		if st.Holder != "" {
			ss.PeeringError = "not read: a rollout is running and drives the consoles"
		} else if p, err := prollout.ReadPeering(ctx, g); err != nil {
			ss.PeeringError = err.Error()
		} else {
			peering = &p
		}
		for _, m := range g.Members {
			ms := MemberStatus{Pod: m.Pod, Node: m.Node, Zone: m.Zone, Ready: m.Ready, Revision: m.Revision, ProductVersion: m.ProductVersion, IP: m.IP, Role: "unknown"}
			if peering != nil {
				ms.Role = "member"
				if ms.PrimaryOf = peering.PrimaryOf(m.IP); len(ms.PrimaryOf) > 0 {
					ms.Role = "primary"
				}
			}
			degraded = degraded || !m.Ready
			ss.Members = append(ss.Members, ms)
		}
		st.Sites = append(st.Sites, ss)
	}
	if err := o.Print.Print(o.Out, StatusKind, st, o.Style(o.Out), statusTables(st, o.Print.IsWide())...); err != nil {
		return err
	}
	if degraded {
		return exitcode.Newf(exitcode.Degraded, "a member is not Ready or the last rollout did not finish")
	}
	return nil
}

func statusTables(st Status, wide bool) []printers.Table {
	var out []printers.Table
	for _, s := range st.Sites {
		t := printers.Table{Title: fmt.Sprintf("GATEWAY %s on %s (namespace %s): version %s, update revision %s", st.Gateway, s.Site, s.Namespace, s.Version, cmp.Or(s.UpdateRevision, "-")),
			Headers: []string{"Member", "Node", "Zone", "Ready", "Revision", "Product version", "Peering role"}, WideHeaders: []string{"IP"}}
		for _, m := range s.Members {
			role := m.Role
			if len(m.PrimaryOf) > 0 {
				role = "primary of " + strings.Join(m.PrimaryOf, ",")
			}
			ready := "false"
			if m.Ready {
				ready = "true"
			}
			t.Rows = append(t.Rows, []string{m.Pod, cmp.Or(m.Node, "-"), cmp.Or(m.Zone, "-"), ready, cmp.Or(m.Revision, "-"),
				cmp.Or(m.ProductVersion, "-"), role, cmp.Or(m.IP, "-")})
		}
		if s.PeeringError != "" {
			t.Title += " (peering roles: " + s.PeeringError + ")"
		}
		out = append(out, t)
	}
	if st.Holder != "" && len(out) > 0 {
		out[0].Title = "A ROLLOUT IS RUNNING: " + st.Holder + "\n" + out[0].Title
	}
	if r := st.LastRun; r != nil {
		rep := &prollout.Report{Action: r.Action, Gateway: st.Gateway, Outcome: r.State, RunID: r.ID, Members: r.Members, Steps: r.Steps}
		if len(st.Sites) > 0 {
			rep.Namespace = st.Sites[0].Namespace
		}
		tables := summaryTables(rep, wide)
		tables[0].Title = fmt.Sprintf("LAST RUN %s %s (%s, started %s by %s), at %s", r.ID, r.Action, r.State, r.Started.Format("2006-01-02T15:04:05Z"), cmp.Or(r.By, "-"), position(r.Current))
		out = append(out, tables...)
	}
	return out
}
