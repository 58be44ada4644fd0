package status

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kubectl-apic/kubectl-apic/pkg/printers"
)

// Tables are the human (-o table|wide) form of r. now renders the AGE column.
func Tables(r Report, now time.Time, wide bool) []printers.Table {
	var ts []printers.Table
	for _, s := range r.Sites {
		if s.Error != "" {
			state := "ERROR"
			if !s.Reachable {
				state = "UNREACHABLE"
			}
			ts = append(ts, printers.Table{Title: siteTitle(s) + ": " + state + ": " + s.Error})
			continue
		}
		ts = append(ts, subsystemsTable(s, now))
		if len(s.Gateways) > 0 {
			ts = append(ts, gatewaysTable(s))
			ts = append(ts, peeringTables(s)...)
		}
		if s.Zones != nil {
			ts = append(ts, zonesTable(s, wide))
		}
	}
	if len(r.Pairs) > 0 {
		ts = append(ts, pairsTable(r))
	}
	return ts
}

// siteTitle is "SITE dc1 (https://...) namespace apic".
func siteTitle(s SiteReport) string {
	title := "SITE " + s.Name
	if s.Server != "" {
		title += " (" + s.Server + ")"
	}
	if s.Namespace != "" {
		return title + " namespace " + s.Namespace
	}
	return title + " all namespaces"
}

// subsystemsTable lists the site's API Connect CRs.
func subsystemsTable(s SiteReport, now time.Time) printers.Table {
	t := printers.Table{Title: siteTitle(s),
		Headers:     []string{"Kind", "Name", "Version", "Phase", "Ready", "HA Mode", "HA Status", "Age"},
		WideHeaders: []string{"Namespace", "Mode", "Reconciled", "HA Message", "Message"}}
	for _, x := range s.Subsystems {
		t.Rows = append(t.Rows, []string{x.Kind, x.Name, cmp.Or(x.Version, "-"), cmp.Or(x.Phase, "-"), cmp.Or(x.Ready, "-"), cmp.Or(x.HAMode, "-"),
			cmp.Or(x.HAStatus, "-"), printers.Age(x.CreationTimestamp.Time, now),
			x.Namespace, cmp.Or(x.Mode, "-"), cmp.Or(x.ReconciledVersion, "-"), cmp.Or(x.HAMessage, "-"), cmp.Or(x.Message, "-")})
	}
	if len(t.Rows) == 0 {
		t.Title += ": no API Connect custom resources"
		t.Headers, t.WideHeaders = nil, nil
	}
	return t
}

// gatewaysTable lists every gateway's pods with node, zone and readiness.
func gatewaysTable(s SiteReport) printers.Table {
	g := printers.Table{Title: "GATEWAYS " + s.Name,
		Headers:     []string{"Gateway", "Pod", "Node", "Zone", "Ready", "Restarts"},
		WideHeaders: []string{"Phase", "IP"}}
	for _, gw := range s.Gateways {
		if len(gw.Pods) == 0 {
			g.Rows = append(g.Rows, []string{gw.Name, "-", "-", "-", fmt.Sprintf("0/%d", gw.Replicas), "-", "-", "-"})
		}
		for _, p := range gw.Pods {
			g.Rows = append(g.Rows, []string{gw.Name, p.Name, cmp.Or(p.Node, "-"), cmp.Or(p.Zone, "-"), strconv.FormatBool(p.Ready),
				strconv.Itoa(int(p.Restarts)), cmp.Or(p.Phase, "-"), cmp.Or(p.IP, "-")})
		}
	}
	return g
}

// peeringTables is one table per gateway whose peering was read (--peering).
func peeringTables(s SiteReport) []printers.Table {
	var ts []printers.Table
	for _, gw := range s.Gateways {
		if gw.Peering == nil {
			continue
		}
		p := printers.Table{Title: "PEERING " + s.Name + " " + gw.Name,
			Headers: []string{"Peering", "Primary", "Members", "Links OK", "Pending Updates", "Quorum"}}
		for _, o := range gw.Peering.Objects {
			q := "OK"
			if !o.Quorum {
				q = "CRITICAL"
			}
			p.Rows = append(p.Rows, []string{o.Name, cmp.Or(o.Primary, "-"), strconv.Itoa(o.Members), strconv.Itoa(o.LinksOK),
				strconv.FormatInt(o.PendingUpdates, 10), q})
		}
		ts = append(ts, p)
	}
	return ts
}

// zonesTable says what the site loses with each zone.
func zonesTable(s SiteReport, wide bool) printers.Table {
	z := printers.Table{Title: "ZONES " + s.Name + " (" + strings.Join(s.Zones.Zones, ", ") + ")",
		Headers:     []string{"Group", "Members", "Ready", "Spread", "Lost With Zone", "Status"},
		WideHeaders: []string{"Kind", "Quorum"}}
	groups := s.Zones.Groups
	if !wide {
		// One row per subsystem instance instead of one per microservice: -o wide lists them all.
		groups = collapseReplicaGroups(groups)
	}
	for _, g := range groups {
		st := "OK"
		switch {
		case !g.InQuorum && g.Kind == "peer-group":
			st = "CRITICAL"
		case !g.InQuorum || len(g.AtRisk) > 0:
			st = "WARNING"
		}
		z.Rows = append(z.Rows, []string{g.Name, strconv.Itoa(g.Members), strconv.Itoa(g.Ready), spread(g.PerZone),
			cmp.Or(strings.Join(g.AtRisk, ","), "-"), st, g.Kind, strconv.Itoa(g.Quorum)})
	}
	return z
}

// pairsTable is the 2DCDR view: each subsystem pair's mode on every site, which is active and
// whether the standby replicates.
func pairsTable(r Report) printers.Table {
	var sites []string
	for _, s := range r.Sites {
		sites = append(sites, s.Name)
	}
	t := printers.Table{Title: "2DCDR", Headers: append(append([]string{"Subsystem", "Name"}, upper(sites)...), "Active", "Replication")}
	for _, p := range r.Pairs {
		row := []string{p.Subsystem, p.Name}
		repl := "-"
		for _, site := range sites {
			row = append(row, memberCell(p, site))
			for _, m := range p.Members {
				if m.Site == site && m.Mode != "active" && m.HAMode != "active" {
					if m.Replicating {
						repl = "replicating"
					} else {
						repl = "not replicating"
					}
				}
			}
		}
		row = append(row, cmp.Or(strings.Join(p.Active, ","), "-"), repl)
		t.Rows = append(t.Rows, row)
	}
	return t
}

func memberCell(p PairReport, site string) string {
	for _, u := range p.Unreachable {
		if u == site {
			return "UNREACHABLE"
		}
	}
	for _, m := range p.Members {
		if m.Site == site {
			return cmp.Or(m.HAMode, "-") + " (" + cmp.Or(m.HAStatus, "-") + ")"
		}
	}
	return "-"
}

// RenderFindings writes the findings, each with its fix, and the verdict line.
func RenderFindings(w io.Writer, r Report, style printers.Style) error {
	var b strings.Builder
	shown := 0
	for _, f := range r.Findings {
		if shown == 0 {
			b.WriteString("\nFINDINGS\n")
		}
		shown++
		where := f.Site
		if where == "" {
			where = "all sites"
		}
		fmt.Fprintf(&b, "%s  %s  %s: %s\n", style.Colorize(f.Severity), f.Code, where, f.Message)
		if f.Fix != "" {
			fmt.Fprintf(&b, "    fix: %s\n", f.Fix)
		}
	}
	fmt.Fprintf(&b, "\nHEALTH: %s (exit %d)\n", style.Colorize(strings.ToUpper(healthWord(r.Health))), r.ExitCode)
	_, err := io.WriteString(w, b.String())
	return err
}

func healthWord(h Health) string {
	if h == Failed {
		return "error"
	}
	return string(h)
}

func spread(perZone map[string]int) string {
	zs := make([]string, 0, len(perZone))
	for z := range perZone {
		zs = append(zs, z)
	}
	sort.Strings(zs)
	parts := make([]string, 0, len(zs))
	for _, z := range zs {
		name := z
		if name == "" {
			name = "<none>"
		}
		parts = append(parts, fmt.Sprintf("%s=%d", name, perZone[z]))
	}
	return cmp.Or(strings.Join(parts, " "), "-")
}

func upper(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToUpper(s)
	}
	return out
}

// collapseReplicaGroups merges the replica groups of one subsystem instance ("production-mgmt apim",
// "production-mgmt ui", ...) into one row: members and spread summed, zones at risk united, in
// quorum only if every group is. Gateway peer groups stay as they are.
func collapseReplicaGroups(groups []ZoneGroup) []ZoneGroup {
	var out []ZoneGroup
	index := map[string]int{}
	for _, g := range groups {
		if g.Kind == "peer-group" {
			out = append(out, g)
			continue
		}
		inst, _, _ := strings.Cut(g.Name, " ")
		i, ok := index[inst]
		if !ok {
			index[inst] = len(out)
			out = append(out, ZoneGroup{Name: inst, Subsystem: g.Subsystem, Kind: g.Kind, InQuorum: true, PerZone: map[string]int{}})
			i = len(out) - 1
		}
		c := &out[i]
		c.Members += g.Members
		c.Ready += g.Ready
		c.Quorum += g.Quorum
		c.InQuorum = c.InQuorum && g.InQuorum
		for z, n := range g.PerZone {
			c.PerZone[z] += n
		}
		for _, z := range g.AtRisk {
			if !slices.Contains(c.AtRisk, z) {
				c.AtRisk = append(c.AtRisk, z)
			}
		}
	}
	for i := range out {
		if n := countGroups(groups, out[i].Name); out[i].Kind != "peer-group" && n > 1 {
			out[i].Name = fmt.Sprintf("%s (%d microservices)", out[i].Name, n)
		}
	}
	return out
}

func countGroups(groups []ZoneGroup, inst string) int {
	n := 0
	for _, g := range groups {
		if g.Kind != "peer-group" && (g.Name == inst || strings.HasPrefix(g.Name, inst+" ")) {
			n++
		}
	}
	return n
}
