package status

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-apic/kubectl-apic/internal/fixtures"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/inventory"
)

func fixtureCR(t *testing.T, name string) apic.Object {
	o, err := apic.Wrap(fixtures.MustUnstructured(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func site(name string, objs ...apic.Object) SiteInput {
	return SiteInput{Name: name, Namespace: "cp4i-apic", Snapshot: &inventory.Snapshot{Site: name, Objects: objs}}
}

// status on the 2DCDR status the public 2DCDR lab printed (sbodapati06/labs-apiconnect 2dcdr-cp4i,
// fixtures objects/managementcluster-*): the True entry is shown with its message, never a False
// entry with its "message": "", and PeerNotReachable on a site without its peer is a finding.
func TestBuildOnThePublic2DCDRLab(t *testing.T) {
	pnr := fixtureCR(t, "objects/managementcluster-dc1-peer-not-reachable.yaml")
	blocked := fixtureCR(t, "objects/managementcluster-dc1-blocked-warm-standby-conversion.yaml")
	active := fixtureCR(t, "objects/managementcluster-dc2-active.yaml")
	at := func(o apic.Object) time.Time {
		c, _ := o.ActiveHAStatus()
		return c.LastTransitionTime.Time.Add(time.Minute)
	}

	r := Build([]SiteInput{site("dc1", pnr)}, BuildOptions{Now: at(pnr)})
	m := r.Pairs[0].Members[0]
	const msg = "Cannot communicate with replication peer FQDN https://mgmt-replication.apps.dc2.example.com/"
	if m.HAStatus != "PeerNotReachable" || m.HAMessage != msg || r.Health != Degraded {
		t.Errorf("dc1 without its peer: member %+v, health %s", m, r.Health)
	}
	if !hasFinding(r, "PeerNotReachable", msg) {
		t.Errorf("no PeerNotReachable finding with the lab's message: %+v", r.Findings)
	}
	if s := r.Sites[0].Subsystems[0]; s.HAStatus != "PeerNotReachable" || s.HAMessage != msg {
		t.Errorf("subsystem row: %+v", s)
	}

	r = Build([]SiteInput{site("dc1", blocked), site("dc2", active)}, BuildOptions{Now: at(blocked)})
	p := r.Pairs[0]
	if len(p.Active) != 1 || p.Active[0] != "dc2" {
		t.Fatalf("active %v, want dc2", p.Active)
	}
	for _, m := range p.Members {
		want := map[string]string{"dc1": "BlockedWarmStandbyConversion", "dc2": "Ready"}[m.Site]
		if m.HAStatus != want || m.HAMessage == "" {
			t.Errorf("%s: haStatus %q %q, want the True %s entry and its message", m.Site, m.HAStatus, m.HAMessage, want)
		}
	}
}

// The digit of a profile is not always the replica count (IBM, Replica override for microservices:
// on Cloud Pak for Integration n3xc4.m16 runs 1 replica): the gateway count comes from the pods, a
// template replicaCount or the DataPowerService, never from spec.profile.
func TestFewGatewaysNotFromTheProfile(t *testing.T) {
	gw := func(spec map[string]interface{}) apic.Object {
		return object(apic.GatewayClusterKind, "production-gw", spec, "Running", "1/1", "", "", "")
	}
	dp := func(replicas int64) apic.Object {
		o := apic.New(apic.DataPowerServiceKind, "apic", "production-gw")
		o.U.Object["spec"] = map[string]interface{}{"replicas": replicas}
		return o
	}
	onePod := []corev1.Pod{gwPod("production-gw-0", "node-1", true)}
	for _, tc := range []struct {
		name string
		objs []apic.Object
		few  bool
	}{
		{"CP4I profile n3xc4.m16, one pod", []apic.Object{gw(map[string]interface{}{"profile": "n3xc4.m16"})}, true},
		{"profile n3xc4.m8, one pod", []apic.Object{gw(map[string]interface{}{"profile": "n3xc4.m8"})}, true},
		{"template replicaCount 3, one pod so far", []apic.Object{gw(map[string]interface{}{"profile": "n1xc4.m8",
			"template": []interface{}{map[string]interface{}{"name": "datapower", "replicaCount": int64(3)}}})}, false},
		{"DataPowerService replicas 3, one pod so far", []apic.Object{gw(map[string]interface{}{"profile": "n1xc4.m8"}), dp(3)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := SiteInput{Name: "dc1", Namespace: "apic", Snapshot: &inventory.Snapshot{Site: "dc1", Objects: tc.objs, Pods: onePod}}
			r := Build([]SiteInput{in}, BuildOptions{Now: now})
			if got := hasFinding(r, FindingFewGateways, ""); got != tc.few {
				t.Errorf("FewGateways: %t, want %t: %+v", got, tc.few, r.Findings)
			}
		})
	}
}

func hasFinding(r Report, code, msg string) bool {
	for _, f := range r.Findings {
		if f.Code == code && strings.Contains(f.Message, msg) {
			return true
		}
	}
	return false
}
