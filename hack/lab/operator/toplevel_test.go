package operator

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

func topLevelCR(mode string) apic.Object {
	o := apic.New(apic.APIConnectClusterKind, testNS, "production")
	o.U.SetUID(types.UID("uid-production-" + mode))
	o.U.Object["spec"] = map[string]interface{}{
		"version":    "10.0.8.0",
		"profile":    "n1xc7.m48",
		"management": map[string]interface{}{"multiSiteHA": map[string]interface{}{"mode": mode}},
		"portal":     map[string]interface{}{"multiSiteHA": map[string]interface{}{"mode": mode}},
		// ONE list with prefixed names (IBM "Replica override for microservices"; fixture
		// objects/apiconnectcluster-template.yaml).
		"template": []interface{}{
			map[string]interface{}{"name": "mgmt-apim", "replicaCount": int64(2)},
			map[string]interface{}{"name": "gw-datapower", "replicaCount": int64(3)},
		},
		// The old, undocumented location earlier versions of kubectl-apic wrote: not read.
		"gateway": map[string]interface{}{"template": []interface{}{
			map[string]interface{}{"name": "gw-datapower", "replicaCount": int64(7)},
		}},
	}
	return o
}

// TestTopLevelShape: subsystem CRs derived from the APIConnectCluster, failover driven through the
// top-level CR, and the CP4I configurator Warning after it (seed 002 step 6).
func TestTopLevelShape(t *testing.T) {
	l := newLab(t)
	top := apic.APIConnectClusterKind
	mgmt := apic.ManagementClusterKind
	l.create(0, topLevelCR(apic.ModeActive))
	l.create(1, topLevelCR(apic.ModePassive))
	l.settle()

	// Propagation: names, owner, mode, template prefixes stripped.
	for _, k := range topLevelSubsystems() {
		o := l.get(0, k, "production-"+k.ShortName)
		if refs := o.U.GetOwnerReferences(); len(refs) != 1 || refs[0].Name != "production" || refs[0].Kind != "APIConnectCluster" {
			t.Errorf("%s owner references = %+v", o.Ref(), refs)
		}
		if o.Version() != "10.0.8.0" {
			t.Errorf("%s version = %q", o.Ref(), o.Version())
		}
	}
	m := l.get(0, mgmt, "production-mgmt")
	if ha, _ := m.MultiSiteHA(apic.Management); ha.Mode != apic.ModeActive || m.HAMode() != apic.HAModeActive {
		t.Errorf("mgmt mode %q haMode %q, want active", ha.Mode, m.HAMode())
	}
	if e, _ := m.Template(apic.Management); len(e) != 1 || e[0]["name"] != "apim" {
		t.Errorf("mgmt template = %v, want the apim entry without its mgmt- prefix", e)
	}
	if gw := l.get(0, apic.GatewayClusterKind, "production-gw"); gw.Replicas() != 3 {
		t.Errorf("gateway replicas = %d, want 3 from spec.template's gw-datapower (not 7 from spec.gateway.template)", gw.Replicas())
	}
	if m.Ready() != "9/9" {
		t.Errorf("mgmt ready = %q, want 9/9 (apim replicaCount 2 + 7)", m.Ready())
	}
	t1 := l.get(0, top, "production")
	if t1.Phase() != "Running" || t1.Ready() != "5/5" || t1.HAMode() != "active" || countTrue(t1.Conditions()) != 1 {
		t.Errorf("dc1 top-level: phase %q ready %q haMode %q conditions %v", t1.Phase(), t1.Ready(), t1.HAMode(), t1.Conditions())
	}

	// Failover through the top-level CRs (seed 002: edit spec.management.multiSiteHA on the APIConnectCluster).
	l.setMode(0, top, "production", apic.Management, apic.ModePassive)
	l.settle()
	if m := l.get(0, mgmt, "production-mgmt"); m.HAMode() != apic.HAModeBlockedWarmStandbyConversion {
		t.Fatalf("dc1 mgmt haMode %q after demoting the top-level CR", m.HAMode())
	}
	if t1 := l.get(0, top, "production"); t1.HAMode() != apic.HAModeBlockedWarmStandbyConversion || t1.Phase() != "Blocked" {
		t.Errorf("dc1 top-level mirrors haMode %q phase %q", t1.HAMode(), t1.Phase())
	}
	if m := l.get(1, mgmt, "production-mgmt"); m.HAMode() != apic.HAModeReadyForPromotion {
		t.Fatalf("dc2 mgmt haMode %q, want ReadyForPromotion", m.HAMode())
	}
	l.setMode(1, top, "production", apic.Management, apic.ModeActive)
	l.settle()
	l.step(scaled(5 * time.Minute))
	l.step(scaled(15 * time.Minute))

	if m := l.get(1, mgmt, "production-mgmt"); m.HAMode() != "active" || m.Phase() != "Running" {
		t.Fatalf("dc2 mgmt after failover: haMode %q phase %q", m.HAMode(), m.Phase())
	}
	if m := l.get(0, mgmt, "production-mgmt"); m.HAMode() != "passive" {
		t.Fatalf("dc1 mgmt after failover: haMode %q", m.HAMode())
	}
	t2 := l.get(1, top, "production")
	c, _ := t2.ActiveCondition()
	if t2.Phase() != "Warning" || t2.Ready() != "4/5" || c.Type != "Warning" ||
		c.Message != "an error occured while running job apic/production-configurator" {
		t.Errorf("dc2 top-level after failover: phase %q ready %q condition %+v", t2.Phase(), t2.Ready(), c)
	}
	jobs := l.sites[1].Kube.BatchV1().Jobs(testNS)
	list, err := jobs.List(l.ctx, metav1.ListOptions{LabelSelector: apic.ComponentLabel + "=" + apic.ConfiguratorComponent})
	if err != nil || len(list.Items) != 1 || list.Items[0].Name != "production-configurator" || !*list.Items[0].Spec.Suspend {
		t.Fatalf("configurator jobs = %+v, %v", list, err)
	}
	if t1 := l.get(0, top, "production"); t1.Phase() != "Running" {
		t.Errorf("dc1 (demoted) top-level phase %q, want Running without a configurator warning", t1.Phase())
	}

	// IBM's fix: delete the jobs labelled app.kubernetes.io/component=configurator on the new active site.
	// (The fake clientset does not implement DeleteCollection, so delete what the selector lists.)
	for _, j := range list.Items {
		if err := jobs.Delete(l.ctx, j.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	l.step(scaled(time.Minute))
	t2 = l.get(1, top, "production")
	if t2.Phase() != "Running" || t2.Ready() != "5/5" || t2.HAMode() != "active" {
		t.Errorf("dc2 top-level after deleting the job: phase %q ready %q haMode %q", t2.Phase(), t2.Ready(), t2.HAMode())
	}
	if _, err := jobs.Get(l.ctx, "production-configurator", metav1.GetOptions{}); err == nil {
		t.Error("the simulator re-created the configurator job")
	}
}
