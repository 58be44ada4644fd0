package spread

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/inventory"
	"github.com/kubectl-apic/kubectl-apic/pkg/printers"
	"github.com/kubectl-apic/kubectl-apic/pkg/zones"
)

// Result documents (-o json|yaml), apiVersion apic.kubectl-apic.io/v1alpha1. Fields are only ever
// added; existing ones keep their names and meaning.

// KindCheck is the kind of check's document.
const KindCheck = "SpreadCheck"

// Verdicts.
const (
	VerdictOK       = "OK"
	VerdictDegraded = "DEGRADED"
	VerdictCritical = "CRITICAL"
)

// NoZone is the zone key of pods on nodes without a zone label, or not scheduled yet.
const NoZone = "<none>"

// CheckResult is check's document.
type CheckResult struct {
	Context string `json:"context"`
	// Namespace is where the pods were read; "" with AllNamespaces.
	Namespace string `json:"namespace"`
	// AllNamespaces: -A, the pods of every namespace were read.
	AllNamespaces bool `json:"allNamespaces,omitempty"`
	// Zones are the zones of the cluster's nodes (topology.kubernetes.io/zone), sorted.
	Zones []string `json:"zones"`
	// Groups are the gateway peer groups and microservice replica sets found.
	Groups []GroupDoc `json:"groups"`
	// ZoneLoss says for each zone what losing it does.
	ZoneLoss []ZoneLossDoc `json:"zoneLoss"`
	// Problems with the zones themselves (no zone labels, fewer than 3 zones, unlabelled nodes).
	Problems []ProblemDoc `json:"problems,omitempty"`
	// Verdict is OK, DEGRADED (a zone's loss would break quorum, or zones cannot be judged) or
	// CRITICAL (a group is out of quorum now).
	Verdict  string `json:"verdict"`
	ExitCode int    `json:"exitCode"`
}

// GroupDoc is one group's spread.
type GroupDoc struct {
	Name string `json:"name"`
	// Namespace is the pods' namespace.
	Namespace string `json:"namespace"`
	Subsystem string `json:"subsystem"`
	// Kind is peer-group (gateway; quorum n/2+1) or replicas (majority of the replicas).
	Kind     string `json:"kind"`
	Pods     int    `json:"pods"`
	Ready    int    `json:"ready"`
	Quorum   int    `json:"quorum"`
	InQuorum bool   `json:"inQuorum"`
	// PerZone and PerNode count pods; NoZone ("<none>") collects pods of unlabelled nodes.
	PerZone map[string]int `json:"perZone"`
	PerNode map[string]int `json:"perNode"`
	// AtRisk are the zones whose loss leaves fewer than Quorum pods.
	AtRisk []string `json:"atRisk,omitempty"`
	Status string   `json:"status"`
}

// ZoneLossDoc is the effect of losing one zone.
type ZoneLossDoc struct {
	Zone        string   `json:"zone"`
	Pods        int      `json:"pods"`
	KeepsQuorum bool     `json:"keepsQuorum"`
	Breaks      []string `json:"breaks,omitempty"` // groups that lose quorum
}

// ProblemDoc is a problem with the zones.
type ProblemDoc struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// check reads the nodes (one metadata-only LIST) and the API Connect pods of the namespace (one
// label-selected LIST), and judges every group of the selected subsystems.
func (o *Options) check(ctx context.Context) (CheckResult, error) {
	// The same reads status makes: nodes metadata-only, API Connect pods by label, in parallel.
	ns, where := o.site.Namespace, "namespace "+o.site.Namespace
	if o.AllNamespaces {
		ns, where = "", "any namespace"
	}
	snap, err := inventory.Read(ctx, inventory.ClientsOf(o.site), inventory.Request{
		Namespace: ns, Kinds: []apic.Kind{}, Pods: true, Nodes: true})
	if err != nil {
		return CheckResult{}, err
	}
	nodes, pods := zones.NodesFrom(snap.Nodes), snap.Pods
	var groups []zones.Group
	for _, gr := range zones.GroupsFromPods(pods) {
		if slices.Contains(o.subs, gr.Subsystem) {
			groups = append(groups, gr)
		}
	}
	if len(groups) == 0 {
		// The same code as status for "no API Connect here" (Degraded: nothing to judge).
		fix := ": pass -n with the API Connect namespace, or -A for all namespaces"
		if o.AllNamespaces {
			fix = ": is API Connect installed in this cluster?"
		}
		return CheckResult{}, exitcode.Newf(exitcode.Degraded,
			"no API Connect pods (label %s) of subsystem(s) %s in %s of context %s%s",
			apic.InstanceLabel, subsList(o.subs), where, o.site.Name, fix)
	}
	r := Judge(o.site.Name, ns, zones.Analyze(nodes, groups))
	r.AllNamespaces = o.AllNamespaces
	return r, nil
}

// Judge turns an analysis into check's document and exit code.
func Judge(context, namespace string, a zones.Analysis) CheckResult {
	r := CheckResult{Context: context, Namespace: namespace, Zones: a.Zones}
	if r.Zones == nil {
		r.Zones = []string{}
	}
	for _, p := range a.Problems {
		r.Problems = append(r.Problems, ProblemDoc{Kind: string(p.Kind), Message: p.Message})
	}
	breaks := map[string][]string{}
	namespaces := map[string]bool{}
	for _, gr := range a.Groups {
		namespaces[gr.Group.Namespace] = true
	}
	for _, gr := range a.Groups {
		d := GroupDoc{Name: gr.Group.Name, Namespace: gr.Group.Namespace, Subsystem: string(gr.Group.Subsystem), Kind: string(gr.Group.Kind),
			Pods: gr.Size, Ready: gr.Ready, Quorum: gr.Quorum, InQuorum: gr.InQuorum, AtRisk: gr.AtRisk,
			PerZone: renameEmpty(gr.PerZone), PerNode: renameEmpty(gr.PerNode), Status: VerdictOK}
		switch {
		case !gr.InQuorum:
			d.Status = VerdictCritical
		case len(gr.AtRisk) > 0:
			d.Status = VerdictDegraded
		}
		name := gr.Group.Name
		if len(namespaces) > 1 { // -A: the same name can be in two namespaces
			name = gr.Group.Namespace + "/" + name
		}
		for _, z := range gr.AtRisk {
			breaks[z] = append(breaks[z], name)
		}
		r.Groups = append(r.Groups, d)
	}
	for _, z := range a.Zones {
		l := ZoneLossDoc{Zone: z, KeepsQuorum: len(breaks[z]) == 0, Breaks: breaks[z]}
		for _, gr := range a.Groups {
			l.Pods += gr.PerZone[z]
		}
		r.ZoneLoss = append(r.ZoneLoss, l)
	}
	if r.ZoneLoss == nil {
		r.ZoneLoss = []ZoneLossDoc{}
	}
	code := exitcode.OK
	switch {
	case a.QuorumLost():
		code = exitcode.Critical
	case !a.Safe():
		code = exitcode.Degraded
	}
	r.ExitCode = int(code)
	r.Verdict = map[exitcode.Code]string{exitcode.OK: VerdictOK, exitcode.Degraded: VerdictDegraded, exitcode.Critical: VerdictCritical}[code]
	return r
}

func renameEmpty(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		if k == "" {
			k = NoZone
		}
		out[k] += v
	}
	return out
}

func (o *Options) printCheck(r CheckResult) error {
	if o.Print.IsStructured() {
		return o.Print.PrintObject(o.Out, KindCheck, r)
	}
	return printers.RenderSections(o.Out, CheckTables(r), o.Print.IsWide(), o.style)
}

// CheckTables is check's human output: one row per group with its pods per zone, one row per zone
// with what losing it does, then the problems and the verdict.
func CheckTables(r CheckResult) []printers.Table {
	zoneCols := append([]string{}, r.Zones...)
	for _, g := range r.Groups {
		if g.PerZone[NoZone] > 0 && !slices.Contains(zoneCols, NoZone) {
			zoneCols = append(zoneCols, NoZone)
		}
	}
	var headers []string
	where := "namespace " + r.Namespace
	if r.AllNamespaces {
		headers, where = []string{"Namespace"}, "all namespaces"
	}
	headers = append(headers, "Subsystem", "Group", "Ready", "Quorum")
	headers = append(headers, zoneCols...)
	headers = append(headers, "At risk", "Status")
	groups := printers.Table{Title: fmt.Sprintf("PODS PER ZONE (context %s, %s)", r.Context, where),
		Headers: headers, WideHeaders: []string{"Pods per node"}}
	for _, g := range r.Groups {
		var row []string
		if r.AllNamespaces {
			row = []string{g.Namespace}
		}
		row = append(row, g.Subsystem, g.Name, fmt.Sprintf("%d/%d", g.Ready, g.Pods), strconv.Itoa(g.Quorum))
		for _, z := range zoneCols {
			row = append(row, strconv.Itoa(g.PerZone[z]))
		}
		risk := "-"
		if len(g.AtRisk) > 0 {
			risk = strings.Join(g.AtRisk, ",")
		}
		row = append(row, risk, g.Status, perNode(g.PerNode))
		groups.Rows = append(groups.Rows, row)
	}
	loss := printers.Table{Title: "LOSING ONE ZONE", Headers: []string{"Zone", "Pods", "Quorum kept", "Breaks"}}
	for _, l := range r.ZoneLoss {
		kept, what := "yes", "-"
		if !l.KeepsQuorum {
			kept, what = "NO", strings.Join(l.Breaks, ", ")
		}
		loss.Rows = append(loss.Rows, []string{l.Zone, strconv.Itoa(l.Pods), kept, what})
	}
	out := []printers.Table{groups}
	if len(r.ZoneLoss) > 0 {
		out = append(out, loss)
	}
	var notes []string
	for _, p := range r.Problems {
		notes = append(notes, "WARNING: "+p.Message)
	}
	notes = append(notes, "Verdict: "+verdictText(r))
	out = append(out, printers.Table{Title: strings.Join(notes, "\n")})
	return out
}

func verdictText(r CheckResult) string {
	switch r.Verdict {
	case VerdictCritical:
		var lost []string
		for _, g := range r.Groups {
			if !g.InQuorum {
				lost = append(lost, fmt.Sprintf("%s (%d/%d ready, needs %d)", g.Name, g.Ready, g.Pods, g.Quorum))
			}
		}
		return "CRITICAL: out of quorum now: " + strings.Join(lost, ", ")
	case VerdictDegraded:
		var risky []string
		for _, l := range r.ZoneLoss {
			if !l.KeepsQuorum {
				risky = append(risky, fmt.Sprintf("losing %s breaks %s", l.Zone, strings.Join(l.Breaks, ", ")))
			}
		}
		if len(risky) == 0 {
			return "DEGRADED: zone resilience cannot be established (see the warnings above)"
		}
		fix := "Fix: kubectl apic spread apply (see kubectl apic spread plan)"
		if r.AllNamespaces {
			var fixes []string
			for _, g := range r.Groups {
				f := fmt.Sprintf("kubectl apic spread apply -n %s", g.Namespace)
				if len(g.AtRisk) > 0 && !slices.Contains(fixes, f) {
					fixes = append(fixes, f)
				}
			}
			fix = "Fix: " + strings.Join(fixes, "; ") + " (see kubectl apic spread plan -n <namespace>)"
		}
		for _, p := range r.Problems {
			if p.Kind == string(zones.FewZones) || p.Kind == string(zones.NoZones) {
				fix = "Placement alone cannot fix this: the cluster needs nodes in 3 zones (see the warning above)"
			}
		}
		return "DEGRADED: " + strings.Join(risky, "; ") + ". " + fix
	}
	return "OK: every group keeps quorum when any one zone is lost"
}

func perNode(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, ",")
}

func subsList(subs []apic.Subsystem) string {
	s := make([]string, len(subs))
	for i, x := range subs {
		s[i] = string(x)
	}
	return strings.Join(s, ",")
}
