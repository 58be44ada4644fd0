package failover

import (
	"strings"
	"testing"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/hastate"
)

// Assess on the status the public 2DCDR lab printed (fixtures objects/managementcluster-*): a site
// whose peer does not exist yet, or that cannot reach it, is not failed over, a replicating warm-standby is, and a failover
// this command started is resumed from the lab's demoted and promoted states.
func TestAssessOnThePublic2DCDRLab(t *testing.T) {
	peerNotReachable := fixtureCR(t, "objects/managementcluster-dc1-peer-not-reachable.yaml")
	warmStandby := fixtureCR(t, "objects/managementcluster-dc2-warm-standby.yaml")
	blocked := fixtureCR(t, "objects/managementcluster-dc1-blocked-warm-standby-conversion.yaml")
	active := fixtureCR(t, "objects/managementcluster-dc2-active.yaml")
	readyForPromotion := withHAMode(warmStandby, apic.HAModeReadyForPromotion, apic.HAStatusReadyToPromote)
	req := Request{From: "dc1", To: "dc2", Subsystems: []apic.Subsystem{apic.Management}}
	running := Journal{From: "dc1", To: "dc2", State: JournalRunning}
	site := func(name string, objs ...apic.Object) hastate.SiteObjects {
		return hastate.SiteObjects{Site: name, Objects: objs}
	}
	for _, tc := range []struct {
		name       string
		dc1, dc2   hastate.SiteObjects
		journal    Journal
		want       Situation
		wantRefuse string
	}{
		{"dc2 not installed yet", site("dc1", peerNotReachable), site("dc2"), Journal{}, "", "has no peer on dc2"},
		{"active (Warning False first) to a replicating warm-standby", site("dc1", active), site("dc2", warmStandby), Journal{}, Fresh, ""},
		{"active that cannot reach its peer: not failed over", site("dc1", peerNotReachable), site("dc2", warmStandby), Journal{}, "",
			"cannot reach its replication peer (haStatus PeerNotReachable: Cannot communicate with replication peer FQDN https://mgmt-replication.apps.dc2.example.com/)"},
		{"resume: dc1 demoted, dc2 ReadyForPromotion", site("dc1", blocked), site("dc2", readyForPromotion), running, InProgress, ""},
		{"resume: dc1 converting, dc2 promoted", site("dc1", blocked), site("dc2", active), running, Done, ""},
		{"demoted by hand, no journal", site("dc1", blocked), site("dc2", readyForPromotion), Journal{}, "", "was started by this command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pairs := hastate.Pairs([]hastate.SiteObjects{tc.dc1, tc.dc2}, hastate.Options{})
			got, err := Assess(pairs, req, tc.journal)
			if tc.wantRefuse != "" {
				if exitcode.FromError(err) != exitcode.Refused || !strings.Contains(err.Error(), tc.wantRefuse) {
					t.Fatalf("want refusal %q, got %v", tc.wantRefuse, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].Situation != tc.want {
				t.Fatalf("got %+v, want %s", got, tc.want)
			}
		})
	}
}
