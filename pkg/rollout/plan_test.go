package rollout

import (
	"reflect"
	"strings"
	"testing"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/datapower"
)

// rows builds gateway-peering-status rows: each member (ip) of every peering object, with the
// primaries given per object and the members that are down.
func rows(ips []string, primary map[string]string, down ...string) []datapower.PeeringStatus {
	var out []datapower.PeeringStatus
	for _, name := range []string{"api-probe", "gwd", "rate-limit", "subs", "tms"} {
		for _, ip := range ips {
			link := "ok"
			for _, d := range down {
				if d == ip {
					link = "down"
				}
			}
			out = append(out, datapower.PeeringStatus{Address: ip, ConfigurationName: name, LinkStatus: link, Primary: primary[name] == ip})
		}
	}
	return out
}

func allOn(ip string) map[string]string {
	return map[string]string{"api-probe": ip, "gwd": ip, "rate-limit": ip, "subs": ip, "tms": ip}
}

func gateway(n int) *Gateway {
	g := &Gateway{Site: &Site{Name: "dc1"}, Object: apic.New(apic.GatewayClusterKind, "apic", "gw")}
	for i := 0; i < n; i++ {
		g.Members = append(g.Members, Member{Pod: "gw-" + string(rune('0'+i)), Ordinal: i, IP: "10.0.0." + string(rune('1'+i)), UID: "u", Ready: true})
	}
	return g
}

func TestPlanSiteOrder(t *testing.T) {
	split := map[string]string{"api-probe": "10.0.0.2", "gwd": "10.0.0.1", "rate-limit": "10.0.0.1", "subs": "10.0.0.3", "tms": "10.0.0.1"}
	for _, tc := range []struct {
		name     string
		action   string
		primary  map[string]string
		order    []string
		switchTo []string
	}{
		{"restart, primaries on -0: -0 last, hands over to the first restarted", ActionRestart, allOn("10.0.0.1"),
			[]string{"gw-2", "gw-1", "gw-0"}, []string{"", "", "gw-2"}},
		{"restart, primaries on -2: -2 is the keeper", ActionRestart, allOn("10.0.0.3"),
			[]string{"gw-1", "gw-0", "gw-2"}, []string{"", "", "gw-1"}},
		{"restart, primaries split: others hand theirs to the keeper", ActionRestart, split,
			[]string{"gw-2", "gw-1", "gw-0"}, []string{"gw-0", "gw-0", "gw-2"}},
		{"upgrade follows the StatefulSet: highest ordinal first, -0 the keeper", ActionUpgrade, allOn("10.0.0.3"),
			[]string{"gw-2", "gw-1", "gw-0"}, []string{"gw-0", "", "gw-2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp := planSite(gateway(3), Peering{Rows: rows([]string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}, tc.primary)}, tc.action)
			var order, to []string
			for _, m := range sp.Members {
				order, to = append(order, m.Pod), append(to, m.SwitchTo)
			}
			if !reflect.DeepEqual(order, tc.order) || !reflect.DeepEqual(to, tc.switchTo) {
				t.Errorf("order %v switch-to %v, want %v %v", order, to, tc.order, tc.switchTo)
			}
			if last := sp.Members[len(sp.Members)-1]; len(last.PrimaryOf) != 5 {
				t.Errorf("the keeper %s is planned to hand over %v, want every peering object", last.Pod, last.PrimaryOf)
			}
		})
	}
}

func TestPeeringQuorumWithout(t *testing.T) {
	ips := []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}
	for _, tc := range []struct {
		name    string
		p       Peering
		without string
		lose    bool
		healthy bool
	}{
		{"3 of 3 up: any one may go", Peering{Rows: rows(ips, allOn("10.0.0.1"))}, "10.0.0.2", false, true},
		{"one down already: the next one may not go", Peering{Rows: rows(ips, allOn("10.0.0.1"), "10.0.0.3")}, "10.0.0.2", true, false},
		{"one down: losing the down one changes nothing", Peering{Rows: rows(ips, allOn("10.0.0.1"), "10.0.0.3")}, "10.0.0.3", false, false},
		{"a single member never keeps quorum without itself", Peering{Rows: rows(ips[:1], allOn("10.0.0.1"))}, "10.0.0.1", true, true},
		{"two members: neither may go", Peering{Rows: rows(ips[:2], allOn("10.0.0.1"))}, "10.0.0.2", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.SurvivesWithout(tc.without) != ""; got != tc.lose {
				t.Errorf("SurvivesWithout(%s) loses quorum = %v, want %v (%q)", tc.without, got, tc.lose, tc.p.SurvivesWithout(tc.without))
			}
			if got := tc.p.Healthy() == ""; got != tc.healthy {
				t.Errorf("Healthy = %v (%q), want %v", got, tc.p.Healthy(), tc.healthy)
			}
		})
	}
}

func TestPeeringRejoined(t *testing.T) {
	ips := []string{"10.0.0.1", "10.0.0.2", "10.0.0.9"}
	two := allOn("10.0.0.1")
	split := rows(ips, two)
	split[0].Primary = true // api-probe: 10.0.0.1 ...
	split[1].Primary = true // ... and 10.0.0.2 claim primary
	pending := rows(ips, two)
	pending[2].PendingUpdates = 3
	for _, tc := range []struct {
		name string
		rows []datapower.PeeringStatus
		want string // substring of why; "" = rejoined
	}{
		{"back with link ok", rows(ips, two), ""},
		{"link down", rows(ips, two, "10.0.0.9"), "link down"},
		{"not listed yet", rows(ips[:2], two), "not listed"},
		{"pending updates", pending, "pending updates"},
		{"two primaries", split, "2 primaries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			why := Peering{Rows: tc.rows}.Rejoined("10.0.0.9")
			if (tc.want == "") != (why == "") || !strings.Contains(why, tc.want) {
				t.Errorf("Rejoined = %q, want %q", why, tc.want)
			}
		})
	}
}

func TestCompareVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"10.0.8.0", "10.0.8.0", 0},
		{"10.0.8.0", "10.0.8.1", -1},
		{"10.0.8.0-7178", "10.0.8.1", -1},
		{"10.0.8.1-7178", "10.0.8.1", 1},
		{"10.0.10.0", "10.0.9.0", 1},
		{"v10.0.8.0", "10.0.8.0", 0},
		{"10.0.8", "10.0.8.0", 0},
	} {
		if got := CompareVersions(tc.a, tc.b); got != tc.want {
			t.Errorf("CompareVersions(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestUndoTarget(t *testing.T) {
	cm := func(v string) map[string]map[string]string { return map[string]map[string]string{"cfg": {"k": v}} }
	e := func(run, when, version, v string) Export {
		return Export{RunID: run, When: when, Version: version, ConfigMaps: cm(v), AdditionalDomainConfig: []byte(`[{"name":"apiconnect"}]`)}
	}
	hist := []Export{ // newest first
		e("r2", "after", "10.0.8.0", "new"), e("r2", "before", "10.0.8.0", "new"),
		e("r1", "after", "10.0.8.0", "old"), e("r1", "before", "10.0.8.0", "old"),
	}
	for _, tc := range []struct {
		name    string
		hist    []Export
		current Export
		want    string // run/when/value; "" none
	}{
		{"after a change and its restart: the run before", hist, e("", "now", "10.0.8.0", "new"), "r1/after/old"},
		{"a change not rolled out yet: the last rollout's", hist[:2], e("", "now", "10.0.8.0", "newer"), "r2/after/new"},
		{"nothing differs", hist[:2], e("", "now", "10.0.8.0", "new"), ""},
		{"after an upgrade: the state it started from (another version)", []Export{e("u", "after", "10.0.8.1", "new"), e("u", "before", "10.0.8.0", "new")},
			e("", "now", "10.0.8.1", "new"), "u/before/new"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := UndoTarget(tc.hist, tc.current)
			s := ""
			if ok {
				s = got.RunID + "/" + got.When + "/" + got.ConfigMaps["cfg"]["k"]
			}
			if s != tc.want {
				t.Errorf("UndoTarget = %q, want %q", s, tc.want)
			}
		})
	}
}

func TestOrdinal(t *testing.T) {
	for pod, want := range map[string]int{"production-gw-0": 0, "gw-12": 12, "nodash": -1, "gw-x": -1} {
		if got := ordinal(pod); got != want {
			t.Errorf("ordinal(%s) = %d, want %d", pod, got, want)
		}
	}
}
