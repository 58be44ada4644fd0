package failover

import (
	"strings"
	"testing"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/hastate"
)

// After a stop, the hint comes from the state found: never "re-run to resume" when that would start
// a new failover (issue 11, item 11), nor when both sites are active.
func TestAdviceFromState(t *testing.T) {
	obj := func(haMode string, ha string) apic.Object {
		o := mgmt("x", "", haMode, ha).Objects[0]
		return o
	}
	s := &Subject{Subsystem: apic.Management, Name: "production-mgmt"}
	req := Request{From: "dc1", To: "dc2"}
	cmd := "kubectl apic failover --from=dc1 --to=dc2 --yes"
	for _, tc := range []struct {
		name             string
		from, to         apic.Object
		fromMode, toMode string
		want, not        string
	}{
		{"failed back meanwhile", obj("active", "Ready"), obj("passive", "Ready"), "active", "passive", "starts a NEW failover", "to resume"},
		{"half done", obj("BlockedWarmStandbyConversion", "BlockedWarmStandbyConversion"), obj("passive", "PeerNotReachable"), "passive", "passive", "restore the link between the sites first", "NEW failover"},
		{"promoted", obj("BlockedWarmStandbyConversion", "BlockedWarmStandbyConversion"), obj("active", "Ready"), "passive", "active", "end state holds; re-run " + cmd, "NEW"},
		{"both active", obj("active", "Ready"), obj("active", "Ready"), "active", "active", "do not re-run", "to resume"},
		{"demote patch not acted on", obj("active", "Ready"), obj("passive", "Ready"), "passive", "passive", "re-run " + cmd + " to resume", "NEW"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := pairNow{s: s, req: req, from: tc.from, to: tc.to, fromMode: tc.fromMode, toMode: tc.toMode}
			got := p.advice(cmd)
			if !strings.Contains(got, tc.want) || strings.Contains(got, tc.not) {
				t.Errorf("advice %q: want %q, not %q", got, tc.want, tc.not)
			}
		})
	}
}

// Without the cluster identity, two contexts that show the same object UID are one cluster: not a
// split-brain.
func TestIdentitySameObjects(t *testing.T) {
	dc1, dc2 := mgmt("dc1", "active", "active", "Ready"), mgmt("dc2", "active", "active", "Ready")
	dc1.Objects[0].U.SetUID("u-1")
	dc2.Objects[0].U.SetUID("u-1")
	pairs := hastate.Pairs([]hastate.SiteObjects{dc1, dc2}, hastate.Options{})
	c := identityCheck{req: Request{From: "dc1", To: "dc2"}, unknown: []string{"dc1", "dc2"}, servers: [2]string{"https://a", "https://b"}}
	err := c.sameObjects(pairs)
	if err == nil || !strings.Contains(err.Error(), "cannot tell whether contexts dc1") || !strings.Contains(err.Error(), "not a split-brain") {
		t.Errorf("sameObjects = %v", err)
	}
	dc2.Objects[0].U.SetUID("u-2")
	pairs = hastate.Pairs([]hastate.SiteObjects{dc1, dc2}, hastate.Options{})
	if err := c.sameObjects(pairs); err != nil {
		t.Errorf("different UIDs: %v", err)
	}
	_, aerr := Assess(pairs, Request{From: "dc1", To: "dc2", Subsystems: []apic.Subsystem{apic.Management}}, Journal{})
	if got := c.note(aerr); !strings.Contains(got.Error(), "split-brain") || !strings.Contains(got.Error(), "cannot tell whether") {
		t.Errorf("split-brain refusal without identity: %v", got)
	}
}
