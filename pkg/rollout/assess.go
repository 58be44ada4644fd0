package rollout

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
)

// IBM's words on rolling an upgrade back ("Upgrading API Connect"): undo of a version is refused
// with them.
const noRollback = `IBM ("Upgrading API Connect"): "Interrupting and rolling back API Connect upgrades is not possible. Disaster recovery procedures must be followed to restore API Connect to the old version if problems are encountered during upgrade."`

// Assess reads every site (gateway, members, peering) and makes the pre-flight checks and the plan.
// Nothing is changed. A failed check refuses the run (exitcode.Refused) after the checks are in
// the report.
func (r *Runner) Assess(ctx context.Context) error {
	current := Position{}
	if r.cfg.Resume != nil {
		current = r.cfg.Resume.Current
	}
	for _, s := range r.cfg.Sites {
		g, err := r.refresh(ctx, s)
		if err != nil {
			return err
		}
		if len(g.Members) == 0 {
			r.check("members", s.Name, Failed, fmt.Sprintf("GatewayCluster %s/%s has no pods labelled %s=%s", s.Namespace, g.Name(), apic.KindLabel, apic.DataPowerKindValue))
			continue
		}
		r.check("members", s.Name, Passed, fmt.Sprintf("%d members, StatefulSet %s", len(g.Members), stsName(g)))
		var notReady []string
		for _, m := range g.Members {
			if !m.Ready && !(current.Site == s.Name && current.Pod == m.Pod) {
				notReady = append(notReady, m.Pod+" ("+m.Problem+")")
			}
		}
		if len(notReady) > 0 {
			r.check("members-ready", s.Name, Failed, "not Ready: "+strings.Join(notReady, ", ")+
				"; restarting another member now would take two down at once")
		} else {
			r.check("members-ready", s.Name, Passed, "every member Ready")
		}
		p, err := r.readPeering(ctx, g, "")
		if err != nil {
			r.check("peering", s.Name, Failed, fmt.Sprintf("cannot read gateway-peering-status: %v", err))
			continue
		}
		r.peering[s.Name] = p
		resumingHere := current.Site == s.Name && current.Pod != ""
		if why := p.Healthy(); why != "" && !resumingHere {
			r.check("peering", s.Name, Failed, why)
		} else {
			r.check("peering", s.Name, Passed, fmt.Sprintf("%d peering objects, one primary each, links ok (read on %s)", len(p.Names()), p.From))
		}
		var lose []string
		for _, m := range g.Members {
			if r.doneBefore(s.Name, m.Pod) {
				continue
			}
			if why := p.SurvivesWithout(m.IP); why != "" && !(current.Site == s.Name && current.Pod == m.Pod) {
				lose = append(lose, m.Pod+": "+why)
			}
		}
		switch {
		case len(lose) > 0 && resumingHere:
			// The member the run stopped at may still be down, costing the others' margin: the run
			// continues with that member, and every later member's PRECHECK checks quorum anew.
			r.check("quorum", s.Name, Unverified, fmt.Sprintf("continuing at %s, which may still be down: each later member's PRECHECK checks quorum before it goes (now: %s)",
				current.Pod, strings.Join(lose, "; ")))
		case len(lose) > 0:
			r.check("quorum", s.Name, Failed, "quorum would not survive a member's absence: "+strings.Join(lose, "; "))
		default:
			r.check("quorum", s.Name, Passed, "every peering object keeps quorum without any one member")
		}
	}
	if r.cfg.Action == ActionUpgrade || r.cfg.Action == ActionUndo {
		r.topLevelCheck()
	}
	if r.cfg.Action == ActionUpgrade {
		r.upgradeChecks(ctx)
	}
	if r.cfg.Action == ActionUndo {
		for _, s := range r.cfg.Sites {
			if g := r.gateways[s.Name]; g != nil {
				e, ok := r.cfg.Restore[s.Name]
				switch {
				case !ok:
					r.check("undo", s.Name, Failed, "nothing to restore")
				case e.Version != g.Version():
					r.check("undo", s.Name, Failed, fmt.Sprintf("the saved spec runs version %s, the gateway %s: %s", e.Version, g.Version(), noRollback))
				default:
					r.check("undo", s.Name, Passed, fmt.Sprintf("restore the configuration saved %s by run %s (%s)", e.Taken.Format("2006-01-02T15:04:05Z"), e.RunID, e.When))
				}
			}
		}
	}
	r.makePlan()
	for _, c := range r.report.Preflight {
		if c.Status == Failed {
			return exitcode.Newf(exitcode.Refused, "pre-flight refused the rollout (%s on %s: %s); nothing was changed", c.Name, c.Site, c.Message)
		}
	}
	return nil
}

// topLevelCheck refuses to change the spec of a GatewayCluster the operator makes from a top-level
// APIConnectCluster (Cloud Pak for Integration, OpenShift): IBM has the version and the gateway's
// settings edited on the top-level CR, and the operator would put the subsystem CR back.
func (r *Runner) topLevelCheck() {
	for _, s := range r.cfg.Sites {
		g := r.gateways[s.Name]
		if g == nil {
			continue
		}
		for _, ref := range g.Object.U.GetOwnerReferences() {
			if ref.Kind == apic.APIConnectClusterKind.Kind {
				r.check("top-level", s.Name, Failed, fmt.Sprintf("GatewayCluster %s is made by APIConnectCluster %s: change spec.version (or spec.gateway) there, as IBM documents for the top-level CR; a change here would be put back by the operator. kubectl apic rollout restart works on it",
					g.Name(), ref.Name))
			}
		}
	}
}

func stsName(g *Gateway) string {
	if g.StatefulSet == nil {
		return "(not found)"
	}
	return g.StatefulSet.Name
}

func (r *Runner) check(name, site, status, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.report.Preflight = append(r.report.Preflight, Check{Name: name, Site: site, Status: status, Message: msg})
}

// doneBefore reports whether the resumed run finished site/pod.
func (r *Runner) doneBefore(site, pod string) bool {
	if r.cfg.Resume == nil {
		return false
	}
	for i := range r.cfg.Resume.Members {
		m := &r.cfg.Resume.Members[i]
		if m.Site == site && m.Pod == pod {
			return m.Done()
		}
	}
	return false
}

// upgradeChecks are IBM's rules before a gateway upgrade ("Upgrading Gateway subsystem on native
// Kubernetes"): management first, template overrides removed, both data centers to the same
// version.
func (r *Runner) upgradeChecks(ctx context.Context) {
	v := r.cfg.Version
	var versions []string
	for _, s := range r.cfg.Sites {
		g := r.gateways[s.Name]
		if g == nil {
			continue
		}
		versions = append(versions, s.Name+" "+g.Version())
		switch c := CompareVersions(v, g.Version()); {
		case c < 0:
			r.check("version", s.Name, Failed, fmt.Sprintf("gateway runs %s, newer than %s: a downgrade. %s", g.Version(), v, noRollback))
		case c == 0:
			r.check("version", s.Name, Passed, fmt.Sprintf("spec.version is %s already: every member is verified", v))
		default:
			r.check("version", s.Name, Passed, fmt.Sprintf("%s -> %s", g.Version(), v))
		}
		if g.Object.HasTemplateOverrides() {
			r.check("template-overrides", s.Name, Failed, fmt.Sprintf("GatewayCluster %s has template overrides; IBM: remove them before upgrading. Fix: kubectl apic spread remove --context %s -n %s --subsystem gateway",
				g.Name(), s.Name, s.Namespace))
		} else {
			r.check("template-overrides", s.Name, Passed, "none")
		}
		r.managementCheck(ctx, s)
	}
	if len(r.cfg.Sites) < 2 {
		r.check("same-version", "", Unverified, "one data center given: IBM upgrades both data centers to the same fix level in one window; give --peer-context to roll and verify the other")
	} else {
		r.check("same-version", "", Passed, "both data centers are rolled to "+v+" and verified ("+strings.Join(versions, ", ")+" now)")
	}
}

// managementCheck: IBM upgrades management before the gateway, so every ManagementCluster the site
// shows must run the target version or newer. None readable here is UNVERIFIED.
func (r *Runner) managementCheck(ctx context.Context, s *Site) {
	list, err := s.Dynamic.Resource(apic.ManagementClusterKind.GVR()).Namespace(s.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) == 0 {
		why := "no ManagementCluster in namespace " + s.Namespace
		if err != nil {
			why = "ManagementClusters not readable: " + err.Error()
		}
		r.check("management-first", s.Name, Unverified, why+"; IBM: upgrade management to the same version before the gateway")
		return
	}
	for _, u := range list.Items {
		o, err := apic.Wrap(&u)
		if err != nil {
			continue
		}
		have := o.ReconciledVersion()
		if have == "" {
			have = o.Version()
		}
		if CompareVersions(have, r.cfg.Version) < 0 {
			r.check("management-first", s.Name, Failed, fmt.Sprintf("ManagementCluster %s runs %s, older than %s; IBM: upgrade management before the gateway", o.Name(), have, r.cfg.Version))
			return
		}
	}
	r.check("management-first", s.Name, Passed, fmt.Sprintf("%d ManagementCluster(s) at %s or newer", len(list.Items), r.cfg.Version))
}

// CompareVersions orders API Connect versions (10.0.8.0, 10.0.8.1-ifix1): numeric fields first,
// then a suffix (none sorts before any).
func CompareVersions(a, b string) int {
	split := func(v string) ([]int, string) {
		v = strings.TrimPrefix(v, "v")
		num, suf, _ := strings.Cut(v, "-")
		var out []int
		for _, f := range strings.Split(num, ".") {
			n, _ := strconv.Atoi(f)
			out = append(out, n)
		}
		return out, suf
	}
	an, as := split(a)
	bn, bs := split(b)
	for i := 0; i < len(an) || i < len(bn); i++ {
		var x, y int
		if i < len(an) {
			x = an[i]
		}
		if i < len(bn) {
			y = bn[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return strings.Compare(as, bs)
}

// makePlan orders each site's members (or takes the resumed run's plan, whose order and pod UIDs
// the journal kept) and lays out the report's rows.
func (r *Runner) makePlan() {
	if r.cfg.Resume != nil && len(r.cfg.Resume.Plan.Sites) > 0 {
		r.plan = r.cfg.Resume.Plan
	} else {
		r.plan = Plan{Action: r.cfg.Action, Version: r.cfg.Version}
		for _, s := range r.cfg.Sites {
			if g := r.gateways[s.Name]; g != nil {
				r.plan.Sites = append(r.plan.Sites, planSite(g, r.peering[s.Name], r.cfg.Action))
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.report.Members = r.report.Members[:0]
	for _, sp := range r.plan.Sites {
		for _, pm := range sp.Members {
			mr := MemberResult{Site: sp.Site, Pod: pm.Pod, Ordinal: pm.Ordinal, Node: pm.Node, Zone: pm.Zone,
				PrimaryOf: pm.PrimaryOf, SwitchTo: pm.SwitchTo, Phases: []PhaseResult{}}
			if r.cfg.Resume != nil {
				for _, old := range r.cfg.Resume.Members {
					if old.Site != sp.Site || old.Pod != pm.Pod {
						continue
					}
					for _, ph := range old.Phases {
						if ph.Status != Failed && ph.Status != Unknown { // this run does them again
							mr.Phases = append(mr.Phases, ph)
						}
					}
				}
			}
			r.report.Members = append(r.report.Members, mr)
		}
	}
	if r.cfg.Resume != nil {
		r.report.Steps = r.report.Steps[:0]
		for _, st := range r.cfg.Resume.Steps {
			if st.Status != Failed && st.Status != Unknown {
				r.report.Steps = append(r.report.Steps, st)
			}
		}
	}
}
