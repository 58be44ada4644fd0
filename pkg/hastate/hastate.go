// Package hastate reads the 2DCDR state of API Connect's management and portal subsystems across
// sites: which site is active, which is warm-standby, whether the peers see each other, and what is
// wrong (split-brain, no active site, a stuck demotion, an unreachable peer). The status command
// shows it; the failover command checks it before and during every step.
package hastate

import (
	"cmp"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

// Severity of a finding; the order is the exit-code order (OK < Warning < Critical).
type Severity int

const (
	Info Severity = iota
	Warning
	Critical
)

func (s Severity) String() string {
	switch s {
	case Warning:
		return "WARNING"
	case Critical:
		return "CRITICAL"
	}
	return "INFO"
}

// MarshalText makes severities readable in JSON/YAML.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Finding codes, stable for pipelines.
const (
	SplitBrain         = "SplitBrain"
	NoActiveSite       = "NoActiveSite"
	FailoverInProgress = "FailoverInProgress"
	StuckDemotion      = "StuckDemotion"
	PeerNotReachable   = "PeerNotReachable"
	SiteUnreachable    = "SiteUnreachable"
	MissingPeer        = "MissingPeer"
	NotReplicating     = "NotReplicating"
	// PeerNotChecked: one site was given and it is a warm-standby; its active peer is elsewhere.
	PeerNotChecked = "PeerNotChecked"
	// ActiveApart: management is active on one site and portal on the other.
	ActiveApart = "ManagementPortalActiveApart"
)

// Finding is one thing wrong (or worth knowing) about a pair, with the fix.
type Finding struct {
	Severity  Severity       `json:"severity"`
	Code      string         `json:"code"`
	Subsystem apic.Subsystem `json:"subsystem,omitempty"`
	Site      string         `json:"site,omitempty"`
	Message   string         `json:"message"`
	Fix       string         `json:"fix,omitempty"`
}

// SiteObjects is what one site holds: its API Connect objects, or why it could not be read.
type SiteObjects struct {
	Site    string
	Err     error // non-nil: the site could not be read
	Objects []apic.Object
}

// Member is one site's side of a pair.
type Member struct {
	Site string `json:"site"`
	// Status is the subsystem CR whose status carries haMode (mgmt/ptl, also on the top-level shape,
	// where the operator creates them: seed 002 reads haMode with `kubectl get mgmt` there too).
	Status apic.Object `json:"-"`
	// Spec is where the mode is set: the top-level APIConnectCluster when it owns Status, else Status.
	Spec apic.Object `json:"-"`
	// Mode is the desired spec.multiSiteHA.mode; HAMode the operator's status.haMode.
	Mode     string         `json:"mode"`
	HAMode   string         `json:"haMode"`
	HAStatus apic.Condition `json:"haStatus"`
	Phase    string         `json:"phase"`
	// Since is when the active haStatus last changed.
	Since time.Time `json:"since,omitempty"`
}

// Name is the subsystem CR's name.
func (m Member) Name() string { return m.Status.Name() }

// IsActive reports whether the operator reports this site active.
func (m Member) IsActive() bool { return m.HAMode == apic.HAModeActive }

// TopLevel reports whether the mode is set on the top-level CR.
func (m Member) TopLevel() bool { return m.Spec.IsTopLevel() }

// Replicating reports whether this warm-standby says its database is replicating: haMode passive
// with haStatus Ready ("Warm Standby DB is ready").
func (m Member) Replicating() bool {
	return apic.IsPassiveHAMode(m.HAMode) && m.HAStatus.Type == apic.HAStatusReady && m.HAStatus.IsTrue()
}

// Pair is one subsystem across sites.
type Pair struct {
	Subsystem apic.Subsystem `json:"subsystem"`
	Name      string         `json:"name"`
	Members   []Member       `json:"members"`
	// Unreachable sites could not be read: their side is unknown.
	Unreachable []string  `json:"unreachable,omitempty"`
	Findings    []Finding `json:"findings,omitempty"`
}

// Member returns site's side of the pair.
func (p Pair) Member(site string) (Member, bool) {
	for _, m := range p.Members {
		if m.Site == site {
			return m, true
		}
	}
	return Member{}, false
}

// ActiveSites are the sites whose haMode is active.
func (p Pair) ActiveSites() []string {
	var out []string
	for _, m := range p.Members {
		if m.IsActive() {
			out = append(out, m.Site)
		}
	}
	return out
}

// Worst is the pair's worst finding severity.
func (p Pair) Worst() Severity {
	w := Info
	for _, f := range p.Findings {
		if f.Severity > w {
			w = f.Severity
		}
	}
	return w
}

// Options tune the judgement.
type Options struct {
	// StuckAfter: a demotion in BlockedWarmStandbyConversion longer than this is reported stuck.
	// Default 30 minutes: twice IBM's ~15 minutes for active→warm-standby.
	StuckAfter time.Duration
	// Now is the current time (tests).
	Now time.Time
}

// DefaultStuckAfter is twice IBM's documented active→warm-standby duration (seed 002).
const DefaultStuckAfter = 2 * apic.ManagementDemoteDuration

// Pairs pairs the management and portal subsystems of every site. Subsystems pair by name when the
// names match across sites (IBM's examples use the same names on both), else by subsystem when each
// site has exactly one.
func Pairs(sites []SiteObjects, opts Options) []Pair {
	if opts.StuckAfter == 0 {
		opts.StuckAfter = DefaultStuckAfter
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	type key struct {
		sub  apic.Subsystem
		name string
	}
	pairs := map[key]*Pair{}
	var unreachable []string
	perSub := map[apic.Subsystem]map[string]int{}
	for _, s := range sites {
		if s.Err != nil {
			unreachable = append(unreachable, s.Site)
			continue
		}
		for _, m := range members(s) {
			sub := m.Status.Kind.Subsystem
			if perSub[sub] == nil {
				perSub[sub] = map[string]int{}
			}
			perSub[sub][s.Site]++
			k := key{sub, m.Name()}
			if pairs[k] == nil {
				pairs[k] = &Pair{Subsystem: sub, Name: m.Name()}
			}
			pairs[k].Members = append(pairs[k].Members, m)
		}
	}
	// Merge differently named singletons: one CR of a subsystem per site is one pair.
	for _, sub := range []apic.Subsystem{apic.Management, apic.Portal} {
		single := true
		for _, n := range perSub[sub] {
			single = single && n == 1
		}
		if !single {
			continue
		}
		var merged *Pair
		for k, p := range pairs {
			if k.sub != sub {
				continue
			}
			if merged == nil {
				merged = p
				continue
			}
			merged.Members = append(merged.Members, p.Members...)
			delete(pairs, k)
		}
	}
	out := make([]Pair, 0, len(pairs))
	for _, p := range pairs {
		sort.Slice(p.Members, func(i, j int) bool { return siteIndex(sites, p.Members[i].Site) < siteIndex(sites, p.Members[j].Site) })
		p.Unreachable = unreachable
		p.Findings = judge(*p, len(sites), opts)
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Subsystem != out[j].Subsystem {
			return out[i].Subsystem == apic.Management
		}
		return out[i].Name < out[j].Name
	})
	return out
}

func siteIndex(sites []SiteObjects, name string) int {
	for i, s := range sites {
		if s.Site == name {
			return i
		}
	}
	return len(sites)
}

// members finds the 2DCDR members on one site: management and portal CRs with multiSiteHA, each
// paired with the object where its mode is set.
func members(s SiteObjects) []Member {
	topLevel := map[string]apic.Object{}
	for _, o := range s.Objects {
		if o.IsTopLevel() {
			topLevel[o.Name()] = o
		}
	}
	var out []Member
	for _, o := range s.Objects {
		sub := o.Kind.Subsystem
		if sub != apic.Management && sub != apic.Portal {
			continue
		}
		spec := o
		if owner, ok := ownedByTopLevel(o, topLevel); ok {
			spec = owner
		}
		ha, ok := spec.MultiSiteHA(sub)
		if !ok {
			if _, own := o.MultiSiteHA(sub); !own {
				continue // not a 2DCDR deployment
			}
			ha, _ = o.MultiSiteHA(sub)
		}
		m := Member{Site: s.Site, Status: o, Spec: spec, Mode: ha.Mode, HAMode: o.HAMode(), Phase: o.Phase()}
		m.HAStatus, _ = o.ActiveHAStatus()
		m.Since = m.HAStatus.LastTransitionTime.Time
		out = append(out, m)
	}
	return out
}

func ownedByTopLevel(o apic.Object, top map[string]apic.Object) (apic.Object, bool) {
	for _, ref := range o.U.GetOwnerReferences() {
		if ref.Kind == apic.APIConnectClusterKind.Kind {
			if t, ok := top[ref.Name]; ok {
				return t, true
			}
		}
	}
	return apic.Object{}, false
}

// judge applies IBM's rules (seed 002): exactly one site active; never both (split-brain); a
// demotion passes through BlockedWarmStandbyConversion for about 15 minutes; PeerNotReachable means
// the replication link is down.
func judge(p Pair, nsites int, opts Options) []Finding {
	var fs []Finding
	add := func(sev Severity, code, site, msg, fix string) {
		fs = append(fs, Finding{Severity: sev, Code: code, Subsystem: p.Subsystem, Site: site, Message: msg, Fix: fix})
	}
	kind := p.Subsystem
	active := p.ActiveSites()
	var wantActive []string
	for _, m := range p.Members {
		if m.Mode == apic.ModeActive {
			wantActive = append(wantActive, m.Site)
		}
	}
	switch {
	case len(active) > 1:
		add(Critical, SplitBrain, "", fmt.Sprintf("split-brain: %s %s is active on %s; their databases diverge",
			kind, p.Name, strings.Join(active, " and ")), splitBrainFix(p, active))
	case len(wantActive) > 1:
		add(Critical, SplitBrain, "", fmt.Sprintf("%s %s is set active on %s: split-brain as soon as both finish promoting",
			kind, p.Name, strings.Join(wantActive, " and ")), setBackFix(p))
	case len(active) == 0 && len(p.Unreachable) == 0:
		if promoting := promoting(p); promoting != "" {
			add(Warning, FailoverInProgress, promoting, fmt.Sprintf("no %s site is active yet: %s is being promoted", kind, promoting),
				"wait for the promotion to finish: "+watchCommand(p))
		} else if nsites == 1 && len(p.Members) == 1 {
			// One context given: the active site is the peer we were not asked to read. A
			// replicating warm-standby is what a healthy standby data center looks like.
			m := p.Members[0]
			state := "replicating (" + m.HAStatus.Type + ": " + m.HAStatus.Message + ")"
			if !m.Replicating() {
				state = "not replicating (haStatus " + cmp.Or(m.HAStatus.Type, "none") + ")"
			}
			add(Info, PeerNotChecked, m.Site, fmt.Sprintf("%s %s on %s is the warm-standby (haMode %s), %s; its active peer was not checked",
				kind, p.Name, m.Site, cmp.Or(m.HAMode, "none"), state),
				"check the active data center too: add --peer-context with its kubeconfig context")
		} else {
			add(Critical, NoActiveSite, "", fmt.Sprintf("no site runs %s %s as active", kind, p.Name), noActiveFix(p))
		}
	}
	for _, site := range p.Unreachable {
		add(Warning, SiteUnreachable, site, fmt.Sprintf("site %s could not be read: its side of %s %s is unknown", site, kind, p.Name),
			"check the context and network; if the site is down, fence it before promoting the other (kubectl apic failover --help)")
	}
	if len(p.Members)+len(p.Unreachable) < nsites {
		add(Warning, MissingPeer, "", fmt.Sprintf("%s %s has no peer on every site (found on %s)", kind, p.Name, siteList(p.Members)),
			"check the namespace (-n) on each context")
	}
	for _, m := range p.Members {
		if m.HAStatus.Type == apic.HAStatusPeerNotReachable && m.HAStatus.IsTrue() {
			add(Warning, PeerNotReachable, m.Site, fmt.Sprintf("%s on %s cannot reach its replication peer: %s", kind, m.Site, m.HAStatus.Message),
				"restore the network between the sites; do not fail over until replication is back unless the active site is lost")
		}
		if m.HAMode == apic.HAModeBlockedWarmStandbyConversion && !m.Since.IsZero() && opts.Now.Sub(m.Since) > opts.StuckAfter {
			add(Warning, StuckDemotion, m.Site, fmt.Sprintf("%s on %s has been in BlockedWarmStandbyConversion for %s (IBM documents about 15 minutes)",
				kind, m.Site, opts.Now.Sub(m.Since).Round(time.Second)),
				"check that the peer is reachable and was set active; see the operator log (search for Multi)")
		}
		if m.HAMode == apic.HAModePassive && !m.Replicating() && m.HAStatus.Type != apic.HAStatusPeerNotReachable {
			add(Warning, NotReplicating, m.Site, fmt.Sprintf("warm-standby %s on %s does not report its database ready (haStatus %s)", kind, m.Site, m.HAStatus.Type),
				"verify replication between the data centers before any failover")
		}
	}
	return fs
}

// AcrossPairs are the findings about the pairs together: management active on one site and portal
// on the other (after a portal-only failover). IBM documents failing over either subsystem alone
// (IBM: Failing over to the warm-standby; Key concepts of 2DCDR and failure scenarios: "the active
// management, portal, or both subsystems") and we found no IBM warning against the two being active
// in different data centers, so this is INFO and says so (docs/fidelity.md).
func AcrossPairs(pairs []Pair) []Finding {
	active := map[apic.Subsystem]map[string]bool{}
	for _, p := range pairs {
		if active[p.Subsystem] == nil {
			active[p.Subsystem] = map[string]bool{}
		}
		for _, s := range p.ActiveSites() {
			active[p.Subsystem][s] = true
		}
	}
	only := func(sub apic.Subsystem) string {
		if len(active[sub]) != 1 {
			return ""
		}
		for s := range active[sub] {
			return s
		}
		return ""
	}
	mgmt, ptl := only(apic.Management), only(apic.Portal)
	if mgmt == "" || ptl == "" || mgmt == ptl {
		return nil
	}
	ns := ""
	for _, p := range pairs {
		if m, ok := p.Member(ptl); ok && p.Subsystem == apic.Portal {
			ns = " -n " + m.Status.Namespace()
		}
	}
	return []Finding{{Severity: Info, Code: ActiveApart,
		Message: fmt.Sprintf("management is active on %s and portal on %s (a portal-only or management-only failover); IBM documents failing over either subsystem alone and does not document a warning about running them active in different data centers", mgmt, ptl),
		Fix:     fmt.Sprintf("if unintended, fail over the portal too, as IBM orders it after management: kubectl apic failover --from %s --to %s%s --subsystem portal", ptl, mgmt, ns)}}
}

// ModeCommand is the kubectl command that sets m's site to mode with the merge patch IBM documents
// (seed 002; for management passive it carries the data-deletion confirmation).
func ModeCommand(p Pair, m Member, mode string) string {
	patch, err := apic.ModePatch(m.Spec.Kind, p.Subsystem, mode)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("kubectl --context %s -n %s patch %s.%s %s --type merge -p '%s'",
		m.Site, m.Spec.Namespace(), m.Spec.Kind.Plural, m.Spec.Kind.Group, m.Spec.Name(), patch)
}

// splitBrainFix: the user decides which data to keep; failover refuses split-brain, so the fix is
// the demotion patch on the other site, one command per choice.
func splitBrainFix(p Pair, active []string) string {
	var opts []string
	for _, keep := range active {
		for _, other := range p.Members {
			if other.Site != keep && other.IsActive() {
				opts = append(opts, fmt.Sprintf("to keep %s's data: %s", keep, ModeCommand(p, other, apic.ModePassive)))
			}
		}
	}
	loss := "its data is replaced from the peer"
	if p.Subsystem == apic.Management {
		loss = "this DELETES its management data, replaced from the peer"
	}
	return fmt.Sprintf("decide which site's data to keep and set the other to warm-standby (%s); %s", loss, strings.Join(opts, "; "))
}

// setBackFix: both are set active but not both active yet: set back the one still promoting.
func setBackFix(p Pair) string {
	var opts []string
	for _, m := range p.Members {
		if m.Mode == apic.ModeActive && !m.IsActive() {
			opts = append(opts, ModeCommand(p, m, apic.ModePassive))
		}
	}
	if len(opts) == 0 {
		return "set one site back to passive now"
	}
	return "set the site still promoting back to passive now: " + strings.Join(opts, "; or ")
}

// noActiveFix: failover needs an active --from, so with no site active the fix is promoting the
// warm-standby by hand: the one that was not demoted when the other was, else the user's choice
// of the site with the latest data (the one active last).
func noActiveFix(p Pair) string {
	var standby, all []Member
	for _, m := range p.Members {
		all = append(all, m)
		if m.HAMode != apic.HAModeBlockedWarmStandbyConversion {
			standby = append(standby, m)
		}
	}
	if len(standby) == 1 && len(all) > 1 {
		return fmt.Sprintf("promote the warm-standby %s (the other site is being demoted): %s", standby[0].Site, ModeCommand(p, standby[0], apic.ModeActive))
	}
	var opts []string
	for _, m := range all {
		opts = append(opts, fmt.Sprintf("if %s has the latest data (it was active last): %s", m.Site, ModeCommand(p, m, apic.ModeActive)))
	}
	return "promote the site with the latest data, one only; " + strings.Join(opts, "; ")
}

// watchCommand is `kubectl apic status --context A --peer-context B --watch` for the pair's sites.
func watchCommand(p Pair) string {
	var sites []string
	for _, m := range p.Members {
		sites = append(sites, m.Site)
	}
	sites = append(sites, p.Unreachable...)
	cmd := "kubectl apic status"
	if len(sites) > 0 {
		cmd += " --context " + sites[0]
	}
	if len(sites) > 1 {
		cmd += " --peer-context " + sites[1]
	}
	if len(p.Members) > 0 {
		cmd += " -n " + p.Members[0].Status.Namespace()
	}
	return cmd + " --watch"
}

func promoting(p Pair) string {
	for _, m := range p.Members {
		if m.Mode == apic.ModeActive && !m.IsActive() {
			return m.Site
		}
	}
	return ""
}

func siteList(ms []Member) string {
	var s []string
	for _, m := range ms {
		s = append(s, m.Site)
	}
	return strings.Join(s, ", ")
}
