package operator

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-apic/kubectl-apic/internal/fixtures"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

// TestFailoverSequences drives IBM's failover procedure (seed 002) through both simulated sites and
// checks the haMode sequence each site shows.
func TestFailoverSequences(t *testing.T) {
	tests := []struct {
		name string
		kind apic.Kind
		sub  apic.Subsystem
		// promoteWhen is dc1's haMode at which the runbook sets dc2 active.
		promoteWhen string
		dc2Waits    string // dc2's haMode before the promotion ("" if IBM shows none)
		want1       []string
		want2       []string
		promotion   time.Duration // documented warm-standby→active
	}{
		{
			name: "management", kind: apic.ManagementClusterKind, sub: apic.Management,
			promoteWhen: apic.HAModeBlockedWarmStandbyConversion, dc2Waits: apic.HAModeReadyForPromotion,
			want1:     []string{"active", "BlockedWarmStandbyConversion", "passive"},
			want2:     []string{"passive", "ReadyForPromotion", "progressing to active", "active"},
			promotion: 5 * time.Minute,
		},
		{
			name: "portal", kind: apic.PortalClusterKind, sub: apic.Portal,
			promoteWhen: apic.HAModeProgressingToPassive,
			want1:       []string{"active", "progressing to passive", "passive"},
			want2:       []string{"passive", "progressing to active", "active"},
			promotion:   15 * time.Minute,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t)
			l.create(0, haCR(tc.kind, "production", apic.ModeActive, ""))
			l.create(1, haCR(tc.kind, "production", apic.ModePassive, ""))
			l.settle()

			dc1 := l.get(0, tc.kind, "production")
			if got := dc1.Message(); got != readyMessage(tc.sub) || dc1.Phase() != "Running" || activeHA(t, dc1).Message != "Active DB is ready" {
				t.Fatalf("dc1 steady state: phase %q message %q haStatus %+v", dc1.Phase(), got, activeHA(t, dc1))
			}
			if dc1.Ready() != "8/8" && tc.sub == apic.Management {
				t.Errorf("dc1 ready = %q, want 8/8 (one pod per management microservice with profile n1)", dc1.Ready())
			}
			if dc1.ReconciledVersion() != "10.0.8.0-7178" {
				t.Errorf("reconciled version = %q", dc1.ReconciledVersion())
			}
			if dc2 := l.get(1, tc.kind, "production"); activeHA(t, dc2).Message != "Warm Standby DB is ready" || dc2.HAMode() != "passive" {
				t.Fatalf("dc2 steady state: haMode %q haStatus %+v", dc2.HAMode(), activeHA(t, dc2))
			}

			var seq1, seq2 recorder
			observe := func() (apic.Object, apic.Object) {
				a, b := l.get(0, tc.kind, "production"), l.get(1, tc.kind, "production")
				seq1.see(a.HAMode())
				seq2.see(b.HAMode())
				for _, o := range []apic.Object{a, b} {
					if n := countTrue(o.Conditions()); n != 1 {
						t.Fatalf("%s: %d conditions True, want exactly 1: %v", o.Ref(), n, o.Conditions())
					}
					if n := countTrue(o.HAStatus()); n != 1 {
						t.Fatalf("%s: %d haStatus entries True, want exactly 1", o.Ref(), n)
					}
				}
				return a, b
			}
			observe()

			l.setMode(0, tc.kind, "production", tc.sub, apic.ModePassive)
			l.settle()
			var promotedAt, activeAt time.Time
			tick := scaled(20 * time.Second)
			for i := 0; i < 400; i++ {
				a, b := observe()
				if promotedAt.IsZero() && a.HAMode() == tc.promoteWhen && (tc.dc2Waits == "" || b.HAMode() == tc.dc2Waits) {
					if a.Phase() == "" {
						t.Fatal("no phase")
					}
					l.setMode(1, tc.kind, "production", tc.sub, apic.ModeActive)
					promotedAt = l.clock.Now()
				}
				if activeAt.IsZero() && b.HAMode() == apic.HAModeActive && !promotedAt.IsZero() {
					activeAt = l.clock.Now()
				}
				if a.HAMode() == apic.HAModePassive && b.HAMode() == apic.HAModeActive {
					break
				}
				l.step(tick)
			}
			if !equalStrings(seq1, tc.want1) {
				t.Errorf("dc1 haMode sequence = %q, want %q", seq1, tc.want1)
			}
			if !equalStrings(seq2, tc.want2) {
				t.Errorf("dc2 haMode sequence = %q, want %q", seq2, tc.want2)
			}
			if took := activeAt.Sub(promotedAt); took < scaled(tc.promotion) || took > scaled(tc.promotion)+2*tick {
				t.Errorf("promotion took %v, want about %v (documented %v scaled)", took, scaled(tc.promotion), tc.promotion)
			}
			a, b := observe()
			for _, o := range []apic.Object{a, b} {
				if o.Phase() != "Running" || o.Message() != readyMessage(tc.sub) {
					t.Errorf("%s after failover: phase %q message %q", o.Ref(), o.Phase(), o.Message())
				}
			}
			if got := nestedString(b.U, "status", "replication", "state"); got != ReplicationReplicating {
				t.Errorf("dc2 replication state = %q, want %q", got, ReplicationReplicating)
			}
		})
	}
}

// TestDemotionIntermediateStates checks IBM's documented intermediate states on both sites.
func TestDemotionIntermediateStates(t *testing.T) {
	l := newLab(t)
	k := apic.ManagementClusterKind
	l.create(0, haCR(k, "production-mgmt", apic.ModeActive, "mgmt-replication.dc2.example.com"))
	l.create(1, haCR(k, "production-mgmt", apic.ModePassive, "mgmt-replication.dc1.example.com"))
	l.settle()
	l.setMode(0, k, "production-mgmt", apic.Management, apic.ModePassive)
	l.settle()

	dc1, dc2 := l.get(0, k, "production-mgmt"), l.get(1, k, "production-mgmt")
	// seed 002 step 2: Status: Blocked, HA Mode: BlockedWarmStandbyConversion, Ha Status: BlockedWarmStandbyConversion
	if dc1.Phase() != "Blocked" || activeHA(t, dc1).Type != "BlockedWarmStandbyConversion" {
		t.Errorf("dc1: phase %q haStatus %q", dc1.Phase(), activeHA(t, dc1).Type)
	}
	wantMsg := "Progressing to WarmStandby: Backend ms and DB is in shutdown mode. Remote is https://mgmt-replication.dc2.example.com/. Remote HAMode is ReadyForPromotion."
	if !strings.HasPrefix(activeHA(t, dc1).Message, wantMsg) {
		t.Errorf("dc1 haStatus message = %q, want prefix %q", activeHA(t, dc1).Message, wantMsg)
	}
	if dc1.Ready() != "7/8" {
		t.Errorf("dc1 ready during demotion = %q, want 7/8 (backend apim not counted)", dc1.Ready())
	}
	// seed 002 step 3: Status: Blocked, HA Mode: ReadyForPromotion, Ha Status: ReadyForPromotion
	if dc2.Phase() != "Blocked" || dc2.HAMode() != "ReadyForPromotion" || activeHA(t, dc2).Type != "ReadyForPromotion" {
		t.Errorf("dc2: phase %q haMode %q haStatus %q", dc2.Phase(), dc2.HAMode(), activeHA(t, dc2).Type)
	}

	// The demoted site waits for its peer: time alone does not finish the demotion.
	l.step(scaled(60 * time.Minute))
	if dc1 = l.get(0, k, "production-mgmt"); dc1.HAMode() != "BlockedWarmStandbyConversion" {
		t.Errorf("dc1 finished demotion without an active peer: %q", dc1.HAMode())
	}
	l.setMode(1, k, "production-mgmt", apic.Management, apic.ModeActive)
	l.settle()
	if dc2 = l.get(1, k, "production-mgmt"); dc2.HAMode() != apic.HAModeProgressingToActive || dc2.Phase() != "Pending" {
		t.Errorf("dc2 promoting: haMode %q phase %q", dc2.HAMode(), dc2.Phase())
	}
	l.step(scaled(5 * time.Minute))
	if dc2 = l.get(1, k, "production-mgmt"); dc2.HAMode() != "active" {
		t.Fatalf("dc2 not active 5 minutes (scaled) after promotion: %q", dc2.HAMode())
	}
	l.step(scaled(15*time.Minute) - time.Millisecond)
	if dc1 = l.get(0, k, "production-mgmt"); dc1.HAMode() != "BlockedWarmStandbyConversion" {
		t.Errorf("dc1 finished demotion before the documented 15 minutes: %q", dc1.HAMode())
	}
	if got := nestedString(dc1.U, "status", "replication", "state"); got != ReplicationResynchronizing {
		t.Errorf("dc1 replication state = %q, want %q", got, ReplicationResynchronizing)
	}
	l.step(time.Millisecond)
	if dc1 = l.get(0, k, "production-mgmt"); dc1.HAMode() != "passive" || activeHA(t, dc1).Message != "Warm Standby DB is ready" {
		t.Errorf("dc1 after 15 minutes: haMode %q haStatus %+v", dc1.HAMode(), activeHA(t, dc1))
	}
}

func TestDemotionNeedsConfirmation(t *testing.T) {
	l := newLab(t)
	k := apic.ManagementClusterKind
	l.create(0, haCR(k, "production-mgmt", apic.ModeActive, ""))
	l.create(1, haCR(k, "production-mgmt", apic.ModePassive, ""))
	l.settle()

	l.patch(0, k, "production-mgmt", []byte(`{"spec":{"multiSiteHA":{"mode":"passive"}}}`))
	l.step(scaled(20 * time.Minute))
	dc1 := l.get(0, k, "production-mgmt")
	if dc1.HAMode() != "active" || dc1.Phase() != "Warning" {
		t.Errorf("unconfirmed demotion: haMode %q phase %q, want active Warning", dc1.HAMode(), dc1.Phase())
	}
	if c, _ := dc1.ActiveCondition(); c.Type != "Warning" || !strings.Contains(c.Message, apic.DataDeletionConfirmationAnnotation) {
		t.Errorf("condition = %+v, want Warning naming the annotation", c)
	}
	if dc2 := l.get(1, k, "production-mgmt"); dc2.HAMode() != "passive" {
		t.Errorf("dc2 = %q, want passive (its peer did not demote)", dc2.HAMode())
	}

	l.patch(0, k, "production-mgmt", []byte(`{"metadata":{"annotations":{"`+apic.DataDeletionConfirmationAnnotation+`":"true"}}}`))
	l.settle()
	if dc1 = l.get(0, k, "production-mgmt"); dc1.HAMode() != apic.HAModeBlockedWarmStandbyConversion {
		t.Errorf("confirmed demotion: haMode %q", dc1.HAMode())
	}
}

func TestPeerNotReachable(t *testing.T) {
	l := newLab(t)
	k := apic.ManagementClusterKind
	l.create(0, haCR(k, "production-mgmt", apic.ModeActive, "mgmt-replication.dc2.example.com"))
	l.create(1, haCR(k, "production-mgmt", apic.ModePassive, ""))
	l.settle()

	l.link.down.Store(true)
	l.settle()
	for i, want := range []struct{ haMode, fqdn string }{
		{"active", "https://mgmt-replication.dc2.example.com/"},
		{"passive", "https://mgmt-replication.dc1.sim.local/"},
	} {
		o := l.get(i, k, "production-mgmt")
		ha := activeHA(t, o)
		if o.HAMode() != want.haMode || o.Phase() != "Warning" || ha.Type != "PeerNotReachable" ||
			ha.Message != "Cannot communicate with replication peer FQDN "+want.fqdn ||
			o.Message() != "HA status PeerNotReachable - see HAStatus in CR for details" {
			t.Errorf("site %d with link down: haMode %q phase %q haStatus %+v message %q", i, o.HAMode(), o.Phase(), ha, o.Message())
		}
	}

	l.link.down.Store(false)
	l.settle()
	for i := range l.sites {
		if o := l.get(i, k, "production-mgmt"); o.Phase() != "Running" || activeHA(t, o).Type != "Ready" {
			t.Errorf("site %d after link restored: phase %q haStatus %+v", i, o.Phase(), activeHA(t, o))
		}
	}
}

// TestPromotionWithActiveSiteDown: IBM says promotion with the active site inaccessible can take up to
// 30 minutes; the simulator takes the full 30 (scaled).
func TestPromotionWithActiveSiteDown(t *testing.T) {
	l := newLab(t)
	k := apic.ManagementClusterKind
	l.create(0, haCR(k, "production-mgmt", apic.ModeActive, ""))
	l.create(1, haCR(k, "production-mgmt", apic.ModePassive, ""))
	l.settle()
	l.link.down.Store(true)
	l.setMode(1, k, "production-mgmt", apic.Management, apic.ModeActive)
	l.settle()
	l.step(scaled(29 * time.Minute))
	if o := l.get(1, k, "production-mgmt"); o.HAMode() != apic.HAModeProgressingToActive {
		t.Errorf("after 29 minutes: %q, want still %q", o.HAMode(), apic.HAModeProgressingToActive)
	}
	l.step(scaled(time.Minute))
	if o := l.get(1, k, "production-mgmt"); o.HAMode() != "active" || activeHA(t, o).Type != "PeerNotReachable" {
		t.Errorf("after 30 minutes: haMode %q haStatus %q, want active with PeerNotReachable", o.HAMode(), activeHA(t, o).Type)
	}
}

// TestSplitBrain: both sites set active. IBM warns against it; the simulator lets both run, so the
// commands must detect it, and marks the divergence in status.replication.
func TestSplitBrain(t *testing.T) {
	l := newLab(t)
	k := apic.ManagementClusterKind
	l.create(0, haCR(k, "production-mgmt", apic.ModeActive, ""))
	l.create(1, haCR(k, "production-mgmt", apic.ModePassive, ""))
	l.settle()
	l.setMode(1, k, "production-mgmt", apic.Management, apic.ModeActive)
	l.settle()
	l.step(scaled(5 * time.Minute))
	for i := range l.sites {
		o := l.get(i, k, "production-mgmt")
		if o.HAMode() != "active" || o.Phase() != "Running" || activeHA(t, o).Type != "Ready" {
			t.Errorf("site %d: haMode %q phase %q haStatus %q, want active Running Ready", i, o.HAMode(), o.Phase(), activeHA(t, o).Type)
		}
		if got := nestedString(o.U, "status", "replication", "state"); got != ReplicationSplitBrain {
			t.Errorf("site %d replication state = %q, want %q", i, got, ReplicationSplitBrain)
		}
		if nestedString(o.U, "status", "replication", "divergedSince") == "" {
			t.Errorf("site %d: no divergedSince", i)
		}
	}
}

// TestStatusTextOfThePublic2DCDRLab replays the public 2DCDR lab (sbodapati06/labs-apiconnect
// 2dcdr-cp4i, fixtures objects/managementcluster-*) on the simulator, from the fixtures' own specs,
// and checks that every haStatus list it writes is the one the lab printed: types and order,
// status, reason, the messages verbatim and `"message": ""` on the False entries.
func TestStatusTextOfThePublic2DCDRLab(t *testing.T) {
	k := apic.ManagementClusterKind
	peerNotReachable := fixtureObject(t, "objects/managementcluster-dc1-peer-not-reachable.yaml")
	warmStandby := fixtureObject(t, "objects/managementcluster-dc2-warm-standby.yaml")
	blocked := fixtureObject(t, "objects/managementcluster-dc1-blocked-warm-standby-conversion.yaml")
	active := fixtureObject(t, "objects/managementcluster-dc2-active.yaml")
	name := peerNotReachable.Name()
	l := newLab(t)

	// Data center 1 installed as active while data center 2 does not exist yet.
	l.create(0, specOnly(peerNotReachable))
	l.settle()
	wantHAStatus(t, "dc1 without its peer", l.get(0, k, name), peerNotReachable)

	// Data center 2 installed as warm-standby: both sites see each other.
	l.create(1, specOnly(warmStandby))
	l.settle()
	wantHAStatus(t, "dc2 warm-standby", l.get(1, k, name), warmStandby)
	wantHAStatus(t, "dc1 active", l.get(0, k, name), active)

	// Data center 1 demoted (the lab's dc1-3-suspend-mgmt.yaml) while data center 2 waits for promotion.
	l.patch(0, k, name, []byte(`{"metadata":{"annotations":{"`+apic.DataDeletionConfirmationAnnotation+`":"true"}},"spec":{"multiSiteHA":{"mode":"passive"}}}`))
	l.settle()
	if dc2 := l.get(1, k, name); dc2.HAMode() != apic.HAModeReadyForPromotion {
		t.Fatalf("dc2 haMode %q, want ReadyForPromotion", dc2.HAMode())
	}
	dc1 := l.get(0, k, name)
	if dc1.HAMode() != blocked.HAMode() {
		t.Fatalf("dc1 haMode %q, want %q", dc1.HAMode(), blocked.HAMode())
	}
	if got, want := activeHA(t, dc1), activeHA(t, blocked); got.Type != want.Type || got.Message != want.Message || got.Reason != want.Reason {
		t.Errorf("dc1 demoted: haStatus %+v\nwant the lab's %+v", got, want)
	}

	// Data center 2 promoted.
	l.setMode(1, k, name, apic.Management, apic.ModeActive)
	l.settle()
	l.step(scaled(5 * time.Minute))
	wantHAStatus(t, "dc2 promoted", l.get(1, k, name), active)
}

// wantHAStatus compares o's status.haStatus with want's entry by entry, lastTransitionTime aside,
// on the raw objects (so that a missing "message" key is a difference).
func wantHAStatus(t *testing.T, what string, o, want apic.Object) {
	t.Helper()
	entries := func(o apic.Object) []map[string]interface{} {
		raw, _, _ := unstructured.NestedSlice(o.U.Object, "status", "haStatus")
		var out []map[string]interface{}
		for _, r := range raw {
			m, _ := r.(map[string]interface{})
			c := map[string]interface{}{}
			for k, v := range m {
				if k != "lastTransitionTime" {
					c[k] = v
				}
			}
			out = append(out, c)
		}
		return out
	}
	if got, w := entries(o), entries(want); !reflect.DeepEqual(got, w) {
		t.Errorf("%s: haStatus\n%v\nwant the public lab's\n%v", what, got, w)
	}
	if o.HAMode() != want.HAMode() {
		t.Errorf("%s: haMode %q, want %q", what, o.HAMode(), want.HAMode())
	}
}

// fixtureObject loads a custom resource from internal/fixtures.
func fixtureObject(t *testing.T, name string) apic.Object {
	o, err := apic.Wrap(fixtures.MustUnstructured(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// specOnly is o as a user creates it: metadata and spec, no status.
func specOnly(o apic.Object) apic.Object {
	c := apic.Object{Kind: o.Kind, U: o.U.DeepCopy()}
	delete(c.U.Object, "status")
	return c
}
