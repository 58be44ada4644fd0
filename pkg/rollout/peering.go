package rollout

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kubectl-apic/kubectl-apic/pkg/datapower"
)

// Peering is one reading of show gateway-peering-status: every member's row of every peering object.
type Peering struct {
	// From is the member (pod) whose console printed it.
	From string
	Rows []datapower.PeeringStatus
}

// Names are the peering objects in the reading, sorted.
func (p Peering) Names() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range p.Rows {
		if !seen[r.ConfigurationName] {
			seen[r.ConfigurationName] = true
			out = append(out, r.ConfigurationName)
		}
	}
	sort.Strings(out)
	return out
}

// PrimaryOf lists the peering objects whose primary is the member at ip.
func (p Peering) PrimaryOf(ip string) []string {
	var out []string
	for _, r := range p.Rows {
		if r.Address == ip && r.Primary {
			out = append(out, r.ConfigurationName)
		}
	}
	sort.Strings(out)
	return out
}

// Healthy says why peering is not healthy ("" when it is): every peering object has quorum, exactly
// one primary, and every member's link is ok with no pending updates.
func (p Peering) Healthy() string {
	if len(p.Rows) == 0 {
		return "show gateway-peering-status listed no peering object"
	}
	var why []string
	for _, name := range p.Names() {
		q := datapower.Quorum(p.Rows, name)
		if !q.HasQuorum {
			why = append(why, fmt.Sprintf("%s: %s", name, q.Reason))
		}
	}
	for _, r := range p.Rows {
		switch {
		case !r.LinkOK():
			why = append(why, fmt.Sprintf("%s: member %s link %s", r.ConfigurationName, r.Address, r.LinkStatus))
		case r.PendingUpdates != 0:
			why = append(why, fmt.Sprintf("%s: member %s has %d pending updates", r.ConfigurationName, r.Address, r.PendingUpdates))
		}
	}
	return strings.Join(why, "; ")
}

// SurvivesWithout says why some peering object would lose its quorum if the member at ip went
// away ("" when every one keeps it): at least n/2+1 of its n members must stay active. Whether ip is
// primary is not judged here: its primaries are switched away first.
func (p Peering) SurvivesWithout(ip string) string {
	var why []string
	for _, name := range p.Names() {
		q := datapower.Quorum(p.Rows, name)
		active := q.Active
		for _, r := range p.Rows {
			if r.ConfigurationName == name && r.Address == ip && r.LinkOK() {
				active--
			}
		}
		if active < q.Needed {
			why = append(why, fmt.Sprintf("%s would keep %d of %d members active, %d needed", name, active, q.Members, q.Needed))
		}
	}
	return strings.Join(why, "; ")
}

// Rejoined says why the member at ip is not back in peering ("" when it is): a row in every
// peering object with link ok and no pending updates, and exactly one primary per object.
func (p Peering) Rejoined(ip string) string {
	var why []string
	for _, name := range p.Names() {
		found := false
		for _, r := range p.Rows {
			if r.ConfigurationName != name || r.Address != ip {
				continue
			}
			found = true
			switch {
			case !r.LinkOK():
				why = append(why, fmt.Sprintf("%s: link %s", name, r.LinkStatus))
			case r.PendingUpdates != 0:
				why = append(why, fmt.Sprintf("%s: %d pending updates", name, r.PendingUpdates))
			}
		}
		if !found {
			why = append(why, fmt.Sprintf("%s: not listed", name))
		}
		if q := datapower.Quorum(p.Rows, name); q.Primaries != 1 {
			why = append(why, fmt.Sprintf("%s: %d primaries", name, q.Primaries))
		}
	}
	if len(p.Rows) == 0 {
		why = append(why, "no peering object listed")
	}
	return strings.Join(why, "; ")
}

// Primaries maps each peering object to its primary's address ("" when none).
func (p Peering) Primaries() map[string]string {
	out := map[string]string{}
	for _, name := range p.Names() {
		out[name] = datapower.Quorum(p.Rows, name).Primary
	}
	return out
}
