package hastate

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-apic/kubectl-apic/internal/fixtures"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

// fixtureCR loads a custom resource from internal/fixtures (real shapes, each from a named public
// source).
func fixtureCR(t *testing.T, name string) apic.Object {
	o, err := apic.Wrap(fixtures.MustUnstructured(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// The 2DCDR judgement on the status the public 2DCDR lab printed (sbodapati06/labs-apiconnect
// 2dcdr-cp4i): lists with a True entry and False entries whose message is "", no status.phase, the
// PeerNotReachable message with its trailing slash, and a site whose peer was not installed yet.
func TestPairsOnThePublic2DCDRLab(t *testing.T) {
	peerNotReachable := fixtureCR(t, "objects/managementcluster-dc1-peer-not-reachable.yaml")
	warmStandby := fixtureCR(t, "objects/managementcluster-dc2-warm-standby.yaml")
	blocked := fixtureCR(t, "objects/managementcluster-dc1-blocked-warm-standby-conversion.yaml")
	active := fixtureCR(t, "objects/managementcluster-dc2-active.yaml")
	blockedSince := activeOf(t, blocked).LastTransitionTime.Time
	const pnrMessage = "Cannot communicate with replication peer FQDN https://mgmt-replication.apps.dc2.example.com/"

	for _, tc := range []struct {
		name     string
		sites    []SiteObjects
		now      time.Time
		active   []string
		haStatus map[string]string // site → the True haStatus type the member reports
		want     []string
		message  string // a finding's message must contain it
	}{
		{"dc1 installed, dc2 not yet (one context)", []SiteObjects{{Site: "dc1", Objects: []apic.Object{peerNotReachable}}}, blockedSince,
			[]string{"dc1"}, map[string]string{"dc1": "PeerNotReachable"}, []string{"WARNING PeerNotReachable"}, pnrMessage},
		{"dc1 installed, dc2 without the CR", []SiteObjects{{Site: "dc1", Objects: []apic.Object{peerNotReachable}}, {Site: "dc2"}}, blockedSince,
			[]string{"dc1"}, map[string]string{"dc1": "PeerNotReachable"}, []string{"WARNING MissingPeer", "WARNING PeerNotReachable"}, pnrMessage},
		{"dc1 without its peer, dc2 warm-standby replicating", []SiteObjects{{Site: "dc1", Objects: []apic.Object{peerNotReachable}}, {Site: "dc2", Objects: []apic.Object{warmStandby}}}, blockedSince,
			[]string{"dc1"}, map[string]string{"dc1": "PeerNotReachable", "dc2": "Ready"}, []string{"WARNING PeerNotReachable"}, pnrMessage},
		{"active (Warning False listed first) and warm-standby", []SiteObjects{{Site: "dc1", Objects: []apic.Object{active}}, {Site: "dc2", Objects: []apic.Object{warmStandby}}}, blockedSince,
			[]string{"dc1"}, map[string]string{"dc1": "Ready", "dc2": "Ready"}, nil, ""},
		{"dc1 demoted, dc2 not promoted yet", []SiteObjects{{Site: "dc1", Objects: []apic.Object{blocked}}, {Site: "dc2", Objects: []apic.Object{warmStandby}}}, blockedSince.Add(time.Minute),
			nil, map[string]string{"dc1": "BlockedWarmStandbyConversion", "dc2": "Ready"}, []string{"CRITICAL NoActiveSite"}, "no site runs management apim-demo-mgmt as active"},
		{"dc1 converting, dc2 promoted", []SiteObjects{{Site: "dc1", Objects: []apic.Object{blocked}}, {Site: "dc2", Objects: []apic.Object{active}}}, blockedSince.Add(time.Minute),
			[]string{"dc2"}, map[string]string{"dc1": "BlockedWarmStandbyConversion", "dc2": "Ready"}, nil, ""},
		{"dc1 converting for an hour", []SiteObjects{{Site: "dc1", Objects: []apic.Object{blocked}}, {Site: "dc2", Objects: []apic.Object{active}}}, blockedSince.Add(time.Hour),
			[]string{"dc2"}, map[string]string{"dc1": "BlockedWarmStandbyConversion", "dc2": "Ready"}, []string{"WARNING StuckDemotion"}, "BlockedWarmStandbyConversion for 1h0m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pairs := Pairs(tc.sites, Options{Now: tc.now})
			if len(pairs) != 1 {
				t.Fatalf("%d pairs, want 1: %+v", len(pairs), pairs)
			}
			p := pairs[0]
			if got := p.ActiveSites(); !reflect.DeepEqual(got, tc.active) {
				t.Errorf("active sites %v, want %v", got, tc.active)
			}
			for site, want := range tc.haStatus {
				m, _ := p.Member(site)
				if m.HAStatus.Type != want || !m.HAStatus.IsTrue() || m.HAStatus.Message == "" {
					t.Errorf("%s: haStatus %+v, want the True %s entry with its message", site, m.HAStatus, want)
				}
			}
			if got := codes(p); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("findings %v, want %v: %+v", got, tc.want, p.Findings)
			}
			if tc.message != "" {
				found := false
				for _, f := range p.Findings {
					found = found || strings.Contains(f.Message, tc.message)
				}
				if !found {
					t.Errorf("no finding says %q: %+v", tc.message, p.Findings)
				}
			}
		})
	}
	if m := (Member{HAMode: warmStandby.HAMode(), HAStatus: activeOf(t, warmStandby)}); !m.Replicating() {
		t.Errorf("the lab's warm-standby (%+v) is not read as replicating", m.HAStatus)
	}
}

func activeOf(t *testing.T, o apic.Object) apic.Condition {
	t.Helper()
	c, ok := o.ActiveHAStatus()
	if !ok {
		t.Fatalf("%s: no True haStatus", o.Ref())
	}
	return c
}
