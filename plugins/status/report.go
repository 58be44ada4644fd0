package status

// The judgement: Build turns what was read (SiteInput) into the StatusReport (schema.go).

import (
	"cmp"
	"fmt"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/datapower"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/hastate"
	"github.com/kubectl-apic/kubectl-apic/pkg/inventory"
	"github.com/kubectl-apic/kubectl-apic/pkg/kube"
	"github.com/kubectl-apic/kubectl-apic/pkg/podstate"
	"github.com/kubectl-apic/kubectl-apic/pkg/zones"
)

// SiteInput is what was read from one site.
type SiteInput struct {
	Name      string
	Server    string
	Namespace string
	Snapshot  *inventory.Snapshot
	// Err is why the site could not be read (explained; its exit code says unreachable or not).
	Err error
	// Peering is the `show gateway-peering-status` of each gateway member, keyed by
	// namespace/gateway then pod; nil without --peering.
	Peering map[string]map[string]PeeringRead
	// DRR is each gateway's DRR journal, keyed by namespace/gateway; nil without --peering.
	DRR map[string]DRRRead
}

// PeeringRead is one member's peering status, or why it could not be read.
type PeeringRead struct {
	Statuses []datapower.PeeringStatus
	// AdminState is the member's apic-gw-service admin-state ("" when not read).
	AdminState string
	Err        error
}

// BuildOptions tune the verdict.
type BuildOptions struct {
	StuckAfter time.Duration
	Now        time.Time
	// Clusters is set when it is unknown whether the two sites are two clusters (pkg/kube).
	Clusters *kube.Comparison
}

// Build computes the report from what was read. It is pure: tests feed it fixed inputs.
func Build(sites []SiteInput, opts BuildOptions) Report {
	r := Report{GeneratedAt: metav1.NewTime(opts.Now.UTC().Truncate(time.Second)), Sites: []SiteReport{}, Pairs: []PairReport{}}
	var objs []hastate.SiteObjects
	var findings []hastate.Finding
	codes := []exitcode.Code{}
	add := func(f hastate.Finding) { findings = append(findings, f) }
	for _, in := range sites {
		sr := SiteReport{Name: in.Name, Server: in.Server, Namespace: in.Namespace, Reachable: true,
			Subsystems: []SubsystemInfo{}, Gateways: []GatewayInfo{}}
		if in.Err != nil {
			code := exitcode.FromError(in.Err)
			sr.Error = in.Err.Error()
			sr.Reachable = code != exitcode.Unreachable
			codes = append(codes, code)
			if code == exitcode.Unreachable {
				add(hastate.Finding{Severity: hastate.Critical, Code: FindingSiteUnreachable, Site: in.Name, Message: sr.Error,
					Fix: "check the context's network and API server; if the data center is down, fence it before promoting the other (kubectl apic failover --help)"})
			} else {
				add(hastate.Finding{Severity: hastate.Critical, Code: FindingSiteError, Site: in.Name, Message: sr.Error})
			}
			objs = append(objs, hastate.SiteObjects{Site: in.Name, Err: in.Err})
			r.Sites = append(r.Sites, sr)
			continue
		}
		snap := in.Snapshot
		objs = append(objs, hastate.SiteObjects{Site: in.Name, Objects: snap.Objects})
		for _, k := range snap.Missing {
			sr.MissingKinds = append(sr.MissingKinds, k.Kind)
			add(hastate.Finding{Severity: hastate.Info, Code: FindingKindNotInstalled, Site: in.Name,
				Message: fmt.Sprintf("%s (%s) is not installed in context %s: not shown", k.Kind, k.GVR().GroupResource(), in.Name)})
		}
		if len(snap.Objects) == 0 {
			where := "namespace " + in.Namespace
			if in.Namespace == "" {
				where = "any namespace"
			}
			add(hastate.Finding{Severity: hastate.Warning, Code: FindingNoObjects, Site: in.Name,
				Message: fmt.Sprintf("no API Connect custom resources in %s of context %s", where, in.Name),
				Fix:     "pass the API Connect namespace with -n, or -A for all namespaces"})
		}
		zoneOf := snap.NodeZones()
		for _, o := range snap.Objects {
			sr.Subsystems = append(sr.Subsystems, subsystemInfo(o))
			findings = append(findings, objectFindings(in.Name, o)...)
			if o.Kind.Kind != apic.GatewayClusterKind.Kind {
				continue
			}
			gi := gatewayInfo(snap, o, zoneOf)
			if reads, ok := in.Peering[o.Namespace()+"/"+o.Name()]; ok {
				gi.Peering = peeringInfo(reads)
				findings = append(findings, peeringFindings(in.Name, o, gi.Peering)...)
			}
			if d, ok := in.DRR[o.Namespace()+"/"+o.Name()]; ok {
				findings = append(findings, drrFindings(in.Name, o, d, in.Peering[o.Namespace()+"/"+o.Name()])...)
			}
			sr.Gateways = append(sr.Gateways, gi)
			if n := max(gi.Replicas, len(gi.Pods)); n < 3 {
				add(hastate.Finding{Severity: hastate.Warning, Code: FindingFewGateways, Site: in.Name,
					Message: fmt.Sprintf("%s runs %d gateway(s): gateway peering needs 3 to keep quorum when one is lost", o.Ref(), n),
					Fix:     "deploy 3 gateways: a three replica profile (n3...) on the GatewayCluster, or a template override replicaCount 3 (on Cloud Pak for Integration the profile n3xc4.m16 runs 1 replica: IBM, Replica override for microservices)"})
			}
		}
		sr.Zones, findings = zoneReport(in.Name, in.Namespace, snap, findings)
		r.Sites = append(r.Sites, sr)
	}
	if c := opts.Clusters; c != nil && len(sites) == 2 {
		add(hastate.Finding{Severity: hastate.Warning, Code: FindingClustersUnknown,
			Message: fmt.Sprintf("cannot tell whether contexts %s and %s are two clusters: %s. If they are one, the 2DCDR verdict below compares that cluster with itself",
				sites[0].Name, sites[1].Name, c.Evidence),
			Fix: c.Fix})
	}
	pairs := hastate.Pairs(objs, hastate.Options{StuckAfter: opts.StuckAfter, Now: opts.Now})
	for _, p := range pairs {
		r.Pairs = append(r.Pairs, pairReport(p))
		for _, f := range p.Findings {
			if f.Code == hastate.SiteUnreachable {
				continue // said once per site above
			}
			if f.Code == hastate.MissingPeer && len(sites) < 2 {
				continue // one context given: the peer is not ours to see
			}
			add(f)
		}
	}
	if len(sites) == 2 {
		findings = append(findings, hastate.AcrossPairs(pairs)...)
	}
	sort.SliceStable(findings, func(i, j int) bool { return findings[i].Severity > findings[j].Severity })
	r.Findings = []Finding{}
	for _, f := range findings {
		r.Findings = append(r.Findings, Finding{Severity: f.Severity.String(), Code: f.Code, Subsystem: string(f.Subsystem),
			Site: f.Site, Message: f.Message, Fix: f.Fix})
		switch f.Severity {
		case hastate.Critical:
			if f.Code != FindingSiteUnreachable && f.Code != FindingSiteError {
				codes = append(codes, exitcode.Critical)
			}
		case hastate.Warning:
			codes = append(codes, exitcode.Degraded)
		}
	}
	code := exitcode.Worst(codes...)
	r.ExitCode = int(code)
	r.Health = healthOf(code)
	return r
}

func healthOf(c exitcode.Code) Health {
	switch c {
	case exitcode.OK:
		return Healthy
	case exitcode.Degraded:
		return Degraded
	case exitcode.Critical:
		return Critical
	case exitcode.Unreachable:
		return Unreachable
	}
	return Failed
}

func subsystemInfo(o apic.Object) SubsystemInfo {
	// VERSION, READY and MESSAGE are what `kubectl get` prints: on a DataPowerService the reconciled
	// version, the Ready condition's status and its message (IBM's DataPowerService CRD; pkg/apic).
	s := SubsystemInfo{Kind: o.Kind.Display(), Name: o.Name(), Namespace: o.Namespace(), Version: o.PrintedVersion(),
		ReconciledVersion: o.ReconciledVersion(), Phase: o.Phase(), Ready: o.Ready(), HAMode: o.HAMode(),
		Message: o.Message(), CreationTimestamp: o.U.GetCreationTimestamp()}
	if sub := o.Kind.Subsystem; sub == apic.Management || sub == apic.Portal {
		if ha, ok := o.MultiSiteHA(sub); ok {
			s.Mode = ha.Mode
		}
	}
	if c, ok := o.ActiveHAStatus(); ok {
		s.HAStatus, s.HAMessage = c.Type, c.Message
	}
	return s
}

// objectFindings are the per-object warnings: template overrides, the CP4I configurator job, a
// subsystem not running outside a 2DCDR transition.
func objectFindings(site string, o apic.Object) []hastate.Finding {
	var fs []hastate.Finding
	if o.HasTemplateOverrides() {
		// Overrides are often deliberate (kubectl apic spread writes one); IBM asks to remove them
		// before an upgrade only, so we report them without degrading the exit code. Our choice.
		fs = append(fs, hastate.Finding{Severity: hastate.Info, Code: FindingTemplateOverrides, Subsystem: o.Kind.Subsystem, Site: site,
			Message: fmt.Sprintf("%s has template overrides (spec.template)", o.Ref()),
			Fix:     "remove the overrides before upgrading API Connect (IBM's upgrade instructions), re-apply them after"})
	}
	if legacy := o.LegacyTemplates(); len(legacy) > 0 {
		var paths []string
		for _, sub := range legacy {
			paths = append(paths, strings.Join(o.LegacyTemplatePath(sub), "."))
		}
		fs = append(fs, hastate.Finding{Severity: hastate.Info, Code: FindingLegacyTemplate, Site: site,
			Message: fmt.Sprintf("%s has template entries at %s, where IBM does not document them for the top-level CR (\"Replica override for microservices\": ONE list at spec.template with prefixed names such as gw-datapower)",
				o.Ref(), strings.Join(paths, ", ")),
			Fix: fmt.Sprintf("move them into spec.template: kubectl apic spread remove --context %s -n %s --move-legacy", site, o.Namespace())})
	}
	if o.Kind.Kind == apic.DataPowerServiceKind.Kind {
		// The DataPower operator's Warning and Error conditions (IBM/datapower-operator-doc: e.g.
		// Warning ReconcileWarning "Reconciliation is paused indefinitely" while paused).
		for _, c := range o.Conditions() {
			if c.IsTrue() && (c.Type == "Warning" || c.Type == "Error") {
				fs = append(fs, hastate.Finding{Severity: hastate.Warning, Code: FindingDataPowerWarning, Subsystem: apic.Gateway, Site: site,
					Message: fmt.Sprintf("%s: %s %s: %s", o.Ref(), c.Type, cmp.Or(c.Reason, "-"), cmp.Or(c.Message, "-")),
					Fix:     fmt.Sprintf("kubectl --context %s -n %s describe %s", site, o.Namespace(), o.Ref())})
			}
		}
	}
	if c, warned := o.ConfiguratorJobWarning(); warned {
		return append(fs, hastate.Finding{Severity: hastate.Warning, Code: FindingConfiguratorJob, Site: site,
			Message: fmt.Sprintf("%s: %s", o.Ref(), c.Message),
			Fix: fmt.Sprintf("on the new active site run: kubectl --context %s -n %s delete job -l %s=%s",
				site, o.Namespace(), apic.ComponentLabel, apic.ConfiguratorComponent)})
	}
	// 2DCDR members are judged by hastate (their phase is Blocked/Pending while converting).
	if o.HAMode() == "" && o.Phase() != "" && o.Phase() != "Running" {
		fs = append(fs, hastate.Finding{Severity: hastate.Warning, Code: FindingSubsystemNotReady, Subsystem: o.Kind.Subsystem, Site: site,
			Message: fmt.Sprintf("%s is %s (ready %s): %s", o.Ref(), o.Phase(), cmp.Or(o.Ready(), "-"), cmp.Or(o.Message(), "-")),
			Fix:     fmt.Sprintf("kubectl --context %s -n %s describe %s", site, o.Namespace(), o.Ref())})
	}
	return fs
}

// gatewayReplicas is how many gateway pods are asked for, never guessed from spec.profile (its digit
// is not always the replica count: IBM, Replica override for microservices): the datapower template
// entry's replicaCount, else the DataPowerService's spec.replicas, else 0 (unknown: gatewayInfo then
// reports the pods found).
func gatewayReplicas(snap *inventory.Snapshot, gw apic.Object) int {
	if n, ok := gw.TemplateReplicas(); ok {
		return n
	}
	for _, o := range snap.Objects {
		if o.Kind.Kind == apic.DataPowerServiceKind.Kind && o.Namespace() == gw.Namespace() && o.Name() == gw.Name() {
			if n, ok, _ := unstructured.NestedInt64(o.U.Object, "spec", "replicas"); ok {
				return int(n)
			}
		}
	}
	return 0
}

func gatewayInfo(snap *inventory.Snapshot, o apic.Object, zoneOf map[string]string) GatewayInfo {
	g := GatewayInfo{Name: o.Name(), Namespace: o.Namespace(), Replicas: gatewayReplicas(snap, o), Pods: []PodInfo{}}
	for _, p := range snap.PodsOfInstance(o.Namespace(), o.Name()) {
		if p.Labels[apic.KindLabel] != apic.DataPowerKindValue {
			continue
		}
		pi := PodInfo{Name: p.Name, Node: p.Spec.NodeName, Zone: zoneOf[p.Spec.NodeName], IP: p.Status.PodIP,
			Phase: string(p.Status.Phase), Ready: podstate.Ready(&p)}
		for _, cs := range p.Status.ContainerStatuses {
			pi.Restarts += cs.RestartCount
		}
		g.Pods = append(g.Pods, pi)
	}
	if g.Replicas == 0 {
		g.Replicas = len(g.Pods)
	}
	return g
}

func zoneReport(site, ns string, snap *inventory.Snapshot, fs []hastate.Finding) (*ZoneReport, []hastate.Finding) {
	groups := zones.GroupsFromPods(snap.Pods)
	if len(groups) == 0 {
		return nil, fs
	}
	a := zones.Analyze(zones.NodesFrom(snap.Nodes), groups)
	zr := &ZoneReport{Zones: a.Zones, Groups: []ZoneGroup{}}
	replicasAtRisk := map[string][]string{}
	if zr.Zones == nil {
		zr.Zones = []string{}
	}
	for _, p := range a.Problems {
		zr.Problems = append(zr.Problems, p.Message)
		fs = append(fs, hastate.Finding{Severity: hastate.Warning, Code: FindingZones, Site: site, Message: p.Message})
	}
	for _, g := range a.Groups {
		zg := ZoneGroup{Name: g.Group.Name, Subsystem: string(g.Group.Subsystem), Kind: string(g.Group.Kind), Members: g.Size,
			Ready: g.Ready, Quorum: g.Quorum, InQuorum: g.InQuorum, PerZone: g.PerZone, AtRisk: g.AtRisk}
		zr.Groups = append(zr.Groups, zg)
		what := "replicas of " + g.Group.Name
		sev := hastate.Warning
		if g.Group.Kind == zones.PeerGroup {
			// Without quorum gateway peering is read-only: no publishing, rate limiting or token
			// sharing (apic-reference.md). A subsystem's replicas are judged by its own phase too.
			what, sev = "gateway peer group "+g.Group.Name, hastate.Critical
		}
		if !g.InQuorum {
			fs = append(fs, hastate.Finding{Severity: sev, Code: FindingQuorumLost, Subsystem: g.Group.Subsystem, Site: site,
				Message: fmt.Sprintf("%s lost quorum: %d of %d ready, %d needed", what, g.Ready, g.Size, g.Quorum),
				Fix:     "bring the members' nodes back (kubectl get nodes; kubectl get pods -o wide)"})
			continue
		}
		for _, z := range g.AtRisk {
			if g.Group.Kind != zones.PeerGroup {
				replicasAtRisk[z] = append(replicasAtRisk[z], g.Group.Name)
				continue
			}
			fs = append(fs, hastate.Finding{Severity: hastate.Warning, Code: FindingZoneRisk, Subsystem: g.Group.Subsystem, Site: site,
				Message: fmt.Sprintf("losing zone %s would leave %s with %d of %d members, below quorum %d",
					z, what, g.Survivors(z), g.Size, g.Quorum),
				Fix: zoneFix(site, namespaceOf(snap, g.Group, ns), g.Group)})
		}
	}
	// Replica sets at risk are summarised per zone: one line instead of one per microservice.
	for _, z := range a.Zones {
		names := replicasAtRisk[z]
		if len(names) == 0 {
			continue
		}
		fs = append(fs, hastate.Finding{Severity: hastate.Warning, Code: FindingZoneRisk, Site: site,
			Message: fmt.Sprintf("losing zone %s would leave %d replica set(s) below quorum: %s", z, len(names), strings.Join(names, ", ")),
			Fix:     fmt.Sprintf("spread them over zones: kubectl apic spread apply --context %s -n %s --subsystem all (IBM's template overrides), or add nodes in the other zones", site, replicaNamespace(snap, ns))})
	}
	return zr, fs
}

func zoneFix(site, ns string, g zones.Group) string {
	return fmt.Sprintf("spread %s over zones (IBM's zone anti-affinity override): kubectl apic spread apply --context %s -n %s --subsystem gateway", g.Name, site, ns)
}

// namespaceOf is the namespace of g's pods: the one read, or with -A the pods' own.
func namespaceOf(snap *inventory.Snapshot, g zones.Group, ns string) string {
	if ns != "" {
		return ns
	}
	for _, m := range g.Members {
		for _, p := range snap.Pods {
			if p.Name == m.Name {
				return p.Namespace
			}
		}
	}
	return replicaNamespace(snap, ns)
}

// replicaNamespace is the namespace read, or with -A that of the first API Connect object.
func replicaNamespace(snap *inventory.Snapshot, ns string) string {
	if ns == "" && len(snap.Objects) > 0 {
		return snap.Objects[0].Namespace()
	}
	return ns
}

func peeringInfo(reads map[string]PeeringRead) *PeeringInfo {
	pi := &PeeringInfo{Objects: []PeeringObject{}}
	pods := make([]string, 0, len(reads))
	for p := range reads {
		pods = append(pods, p)
	}
	sort.Strings(pods)
	objs := map[string]*PeeringObject{}
	var names []string
	for _, pod := range pods {
		rd := reads[pod]
		if rd.Err != nil {
			if pi.Errors == nil {
				pi.Errors = map[string]string{}
			}
			pi.Errors[pod] = rd.Err.Error()
			continue
		}
		seen := map[string]bool{}
		for _, s := range rd.Statuses {
			if seen[s.ConfigurationName] {
				continue
			}
			seen[s.ConfigurationName] = true
			q := datapower.Quorum(rd.Statuses, s.ConfigurationName)
			var pending int64
			for _, x := range rd.Statuses {
				if x.ConfigurationName == s.ConfigurationName {
					pending += x.PendingUpdates
				}
			}
			o, ok := objs[s.ConfigurationName]
			if !ok {
				// The first member read in pod order gives the view; later members only flag
				// disagreement about the primary.
				o = &PeeringObject{Name: s.ConfigurationName, Primary: q.Primary, Members: q.Members, LinksOK: q.Active,
					PendingUpdates: pending, Quorum: q.HasQuorum, Reason: q.Reason}
				objs[s.ConfigurationName] = o
				names = append(names, s.ConfigurationName)
				continue
			}
			if q.Primary != o.Primary {
				o.Disagree = true
			}
			if !q.HasQuorum && o.Quorum {
				o.Quorum, o.Reason = false, q.Reason
			}
			o.PendingUpdates = max(o.PendingUpdates, pending)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		pi.Objects = append(pi.Objects, *objs[n])
	}
	return pi
}

func peeringFindings(site string, gw apic.Object, pi *PeeringInfo) []hastate.Finding {
	var fs []hastate.Finding
	for _, o := range pi.Objects {
		switch {
		case !o.Quorum:
			fs = append(fs, hastate.Finding{Severity: hastate.Critical, Code: FindingPeeringQuorumLost, Subsystem: apic.Gateway, Site: site,
				Message: fmt.Sprintf("%s peering %s has no quorum (%s): publishing, rate limiting and token sharing stop", gw.Ref(), o.Name, o.Reason),
				Fix:     "bring the gateway members back; if the primary is gone, see kubectl apic drr --help"})
		case o.LinksOK < o.Members:
			fs = append(fs, hastate.Finding{Severity: hastate.Warning, Code: FindingPeeringLinkDown, Subsystem: apic.Gateway, Site: site,
				Message: fmt.Sprintf("%s peering %s: %d of %d member links ok", gw.Ref(), o.Name, o.LinksOK, o.Members),
				Fix:     "check the gateway pods and the network between them"})
		}
		if o.Disagree {
			fs = append(fs, hastate.Finding{Severity: hastate.Warning, Code: FindingPeeringLinkDown, Subsystem: apic.Gateway, Site: site,
				Message: fmt.Sprintf("%s peering %s: members disagree about the primary", gw.Ref(), o.Name),
				Fix:     "check gateway-peering-status on every member; kubectl apic drr --help"})
		}
	}
	pods := make([]string, 0, len(pi.Errors))
	for p := range pi.Errors {
		pods = append(pods, p)
	}
	sort.Strings(pods)
	for _, p := range pods {
		fs = append(fs, hastate.Finding{Severity: hastate.Warning, Code: FindingPeeringUnreadable, Subsystem: apic.Gateway, Site: site,
			Message: fmt.Sprintf("%s member %s: %s", gw.Ref(), p, pi.Errors[p])})
	}
	return fs
}

func pairReport(p hastate.Pair) PairReport {
	pr := PairReport{Subsystem: string(p.Subsystem), Name: p.Name, Active: p.ActiveSites(), Members: []PairMember{},
		Unreachable: p.Unreachable}
	if pr.Active == nil {
		pr.Active = []string{}
	}
	for _, m := range p.Members {
		pr.Members = append(pr.Members, PairMember{Site: m.Site, Name: m.Name(), SpecRef: m.Spec.Ref(), Mode: m.Mode,
			HAMode: m.HAMode, HAStatus: m.HAStatus.Type, HAMessage: m.HAStatus.Message, Phase: m.Phase,
			Replicating: m.Replicating(), Since: metav1.NewTime(m.Since)})
	}
	return pr
}
