package rollout

import (
	"sort"
)

// Plan is what a run will do: per site, the members in order, the primaries each one hands over
// before it goes, and the hooks around the site.
type Plan struct {
	Action  string     `json:"action"`
	Version string     `json:"version,omitempty"`
	Sites   []SitePlan `json:"sites"`
}

// SitePlan is one data center's part.
type SitePlan struct {
	Site    string          `json:"site"`
	Gateway string          `json:"gateway"`
	Members []PlannedMember `json:"members"`
	// FromVersion is the site's GatewayCluster version before the run.
	FromVersion string `json:"fromVersion,omitempty"`
}

// PlannedMember is one member's turn.
type PlannedMember struct {
	Pod       string   `json:"pod"`
	Ordinal   int      `json:"ordinal"`
	Node      string   `json:"node,omitempty"`
	Zone      string   `json:"zone,omitempty"`
	IP        string   `json:"ip,omitempty"`
	UID       string   `json:"uid,omitempty"`
	PrimaryOf []string `json:"primaryOf,omitempty"`
	// SwitchTo is the member whose console takes over PrimaryOf (gateway-peering-switch-primary
	// run there) before this member goes; "" when it is primary of nothing.
	SwitchTo string `json:"switchTo,omitempty"`
}

// planSite orders a site's members. restart: members that are primary of nothing first (highest
// ordinal first, as the StatefulSet controller goes), the member holding the most primaries (the
// keeper) last. Every other member hands its primaries to the keeper, and the keeper, before it
// goes, to the first member restarted (already refreshed). upgrade follows the StatefulSet
// controller's order, highest ordinal first, so the keeper is the lowest ordinal.
func planSite(g *Gateway, p Peering, action string) SitePlan {
	sp := SitePlan{Site: g.Site.Name, Gateway: g.Name(), FromVersion: g.Version()}
	ms := append([]Member(nil), g.Members...)
	prim := map[string][]string{}
	for _, m := range ms {
		prim[m.Pod] = p.PrimaryOf(m.IP)
	}
	keeper := ""
	if action == ActionUpgrade {
		if len(ms) > 0 {
			keeper = ms[0].Pod // sorted by ordinal
		}
	} else {
		best := -1
		for _, m := range ms { // ascending ordinal: ties go to the lowest, the preferred primary
			if n := len(prim[m.Pod]); n > best {
				keeper, best = m.Pod, n
			}
		}
	}
	sort.SliceStable(ms, func(i, j int) bool {
		ki, kj := ms[i].Pod == keeper, ms[j].Pod == keeper
		if ki != kj {
			return kj
		}
		if action != ActionUpgrade {
			pi, pj := len(prim[ms[i].Pod]), len(prim[ms[j].Pod])
			if pi != pj {
				return pi < pj
			}
		}
		return ms[i].Ordinal > ms[j].Ordinal
	})
	for _, m := range ms {
		pm := PlannedMember{Pod: m.Pod, Ordinal: m.Ordinal, Node: m.Node, Zone: m.Zone, IP: m.IP, UID: string(m.UID), PrimaryOf: prim[m.Pod]}
		switch {
		case m.Pod == keeper && len(ms) > 1:
			// By its turn the others have handed their primaries to it: all of them.
			pm.SwitchTo, pm.PrimaryOf = ms[0].Pod, p.Names()
		case len(pm.PrimaryOf) > 0:
			pm.SwitchTo = keeper
		}
		sp.Members = append(sp.Members, pm)
	}
	return sp
}
