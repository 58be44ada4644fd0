package operator

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-apic/kubectl-apic/internal/fixtures"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

// zoneAffinity is seed 003's override: spread gateway pods across zones.
func zoneAffinity() map[string]interface{} {
	return map[string]interface{}{"podAntiAffinity": map[string]interface{}{
		"preferredDuringSchedulingIgnoredDuringExecution": []interface{}{map[string]interface{}{
			"weight": int64(100),
			"podAffinityTerm": map[string]interface{}{
				"labelSelector": map[string]interface{}{"matchLabels": map[string]interface{}{
					apic.InstanceLabel: "gwv6", apic.KindLabel: "datapower"}},
				"topologyKey": apic.ZoneLabel,
			},
		}},
	}}
}

func gatewayCR(profile string, entries ...interface{}) apic.Object {
	o := apic.New(apic.GatewayClusterKind, testNS, "gwv6")
	spec := map[string]interface{}{"version": "10.0.8.0", "profile": profile}
	if len(entries) > 0 {
		spec["template"] = entries
	}
	o.U.Object["spec"] = spec
	return o
}

func TestRenderStatefulSet(t *testing.T) {
	tests := []struct {
		name         string
		obj          apic.Object
		ms           string
		wantReplicas int32
		wantTopology []string // preferred anti-affinity topology keys, in order
		wantWeights  []int32
		wantNodeTerm bool // the DataPower operator's required node affinity on the architecture
		wantErr      bool
	}{
		// The DataPower operator's default (IBM/datapower-operator-doc v1beta3 "affinity").
		{name: "gateway default", obj: gatewayCR("n3xc4.m8"), ms: "datapower", wantReplicas: 3,
			wantTopology: []string{"kubernetes.io/hostname"}, wantWeights: []int32{1}, wantNodeTerm: true},
		// A supplied affinity replaces the default, node term included.
		{name: "gateway zone override and replicaCount", ms: "datapower", wantReplicas: 5,
			obj:          gatewayCR("n3xc4.m8", map[string]interface{}{"name": "datapower", "replicaCount": int64(5), "affinity": zoneAffinity()}),
			wantTopology: []string{apic.ZoneLabel}, wantWeights: []int32{100}},
		{name: "gateway affinity with unknown field", ms: "datapower", wantErr: true,
			obj: gatewayCR("n1xc4.m8", map[string]interface{}{"name": "datapower", "affinity": map[string]interface{}{"podAntiAfinity": "x"}})},
		{name: "management microservice from profile", obj: haCR(apic.ManagementClusterKind, "m", "active", ""), ms: "ui", wantReplicas: 1,
			wantTopology: []string{"kubernetes.io/hostname"}, wantWeights: []int32{100}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sub := tc.obj.Kind.Subsystem
			entries, _ := tc.obj.Template(sub)
			entry := findEntry(entries, tc.ms)
			replicas := entryReplicas(entry, tc.obj.ProfileReplicas())
			name, kindValue := tc.obj.Name()+"-"+tc.ms, string(sub)
			if sub == apic.Gateway {
				replicas, name, kindValue = int32(tc.obj.Replicas()), tc.obj.Name(), "datapower"
			}
			sts, err := renderStatefulSet(tc.obj, tc.ms, name, kindValue, replicas, entry)
			if tc.wantErr {
				if err == nil {
					t.Fatal("want an error for a malformed affinity override")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if *sts.Spec.Replicas != tc.wantReplicas {
				t.Errorf("replicas = %d, want %d", *sts.Spec.Replicas, tc.wantReplicas)
			}
			pl := sts.Spec.Template.Labels
			if pl[apic.InstanceLabel] != tc.obj.Name() || pl[apic.KindLabel] != kindValue || pl["app.kubernetes.io/name"] != tc.ms {
				t.Errorf("pod labels = %v", pl)
			}
			var got []string
			var weights []int32
			aff := sts.Spec.Template.Spec.Affinity
			for _, w := range aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
				got = append(got, w.PodAffinityTerm.TopologyKey)
				weights = append(weights, w.Weight)
			}
			if !equalStrings(got, tc.wantTopology) || !slices.Equal(weights, tc.wantWeights) {
				t.Errorf("anti-affinity topology keys = %v weights %v, want %v %v", got, weights, tc.wantTopology, tc.wantWeights)
			}
			if hasNode := aff.NodeAffinity != nil && aff.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil; hasNode != tc.wantNodeTerm {
				t.Errorf("required node affinity %v, want %v", hasNode, tc.wantNodeTerm)
			}
			if ann := sts.Spec.Template.Annotations; kindValue == "datapower" {
				if ann[ProductVersionAnnotation] != "10.0.8.0" || ann[ProductNameAnnotation] != DataPowerProductName {
					t.Errorf("gateway pod annotations %v lack productVersion 10.0.8.0, productName %q", ann, DataPowerProductName)
				}
			} else if len(ann) != 0 {
				t.Errorf("non-gateway pod annotations %v", ann)
			}
			if kindValue == "datapower" {
				// The default term selects the DataPower operator's pod labels; the pods carry them.
				if pl["app"] != "datapower" || pl["release"] != name {
					t.Errorf("gateway pod labels %v lack app: datapower, release: %s", pl, name)
				}
				if tc.wantNodeTerm {
					sel := aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.LabelSelector.MatchLabels
					if len(sel) != 2 || sel["app"] != "datapower" || sel["release"] != name {
						t.Errorf("default anti-affinity selector %v", sel)
					}
				}
			}
			if sts.Spec.PodManagementPolicy != "Parallel" || sts.Spec.UpdateStrategy.Type != "RollingUpdate" {
				t.Errorf("policy %q strategy %q", sts.Spec.PodManagementPolicy, sts.Spec.UpdateStrategy.Type)
			}
		})
	}
}

// TestTemplateUpdateRerendersStatefulSet: editing the template override changes the StatefulSet's pod
// template (the real controller then rolls the pods), and the DataPowerService follows.
func TestTemplateUpdateRerendersStatefulSet(t *testing.T) {
	l := newLab(t)
	l.create(0, gatewayCR("n3xc4.m8"))
	l.settle()
	sts, err := l.sites[0].Kube.AppsV1().StatefulSets(testNS).Get(l.ctx, "gwv6", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(sts.Spec.Template.Spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution); n != 1 {
		t.Fatalf("default anti-affinity terms = %d", n)
	}
	gw := l.get(0, apic.GatewayClusterKind, "gwv6")
	if gw.Ready() != "3/3" || gw.Phase() != "Running" {
		t.Errorf("gateway ready %q phase %q", gw.Ready(), gw.Phase())
	}
	// The DataPowerService in IBM's shape: phase, the Ready condition, the reconciled version, and
	// the spec fields the real CRD requires.
	dp := l.get(0, apic.DataPowerServiceKind, "gwv6")
	if dp.Phase() != "Running" || dp.Ready() != "True" || dp.Message() != "StatefulSet replicas ready: 3/3" || dp.PrintedVersion() != "10.0.8.0" {
		t.Errorf("DataPowerService phase %q ready %q message %q version %q", dp.Phase(), dp.Ready(), dp.Message(), dp.PrintedVersion())
	}
	for _, f := range []string{"license", "replicas", "users", "version"} {
		if _, ok := dp.U.Object["spec"].(map[string]interface{})[f]; !ok {
			t.Errorf("DataPowerService spec.%s missing (required by IBM's CRD)", f)
		}
	}
	// What the simulator writes is stored as written under IBM's CRD: required fields present,
	// nothing pruned (a pruned field would make every pass rewrite the status).
	checkDataPowerService(t, dp)
	if _, found, _ := unstructured.NestedFieldNoCopy(dp.U.Object, "spec", "affinity"); found {
		t.Error("DataPowerService spec.affinity without an override")
	}

	entries := []map[string]interface{}{{"name": "datapower", "affinity": zoneAffinity()}}
	if err := gw.SetTemplate(apic.Gateway, entries); err != nil {
		t.Fatal(err)
	}
	if _, err := l.sites[0].Dynamic.Resource(gw.Kind.GVR()).Namespace(testNS).Update(l.ctx, gw.U, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := l.ops[0].Sync(l.ctx); err != nil {
		t.Fatal(err)
	}
	sts2, _ := l.sites[0].Kube.AppsV1().StatefulSets(testNS).Get(l.ctx, "gwv6", metav1.GetOptions{})
	// The override replaces the DataPower operator's default, and reaches the DataPowerService.
	terms := sts2.Spec.Template.Spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution
	if len(terms) != 1 || terms[0].PodAffinityTerm.TopologyKey != apic.ZoneLabel || sts2.Spec.Template.Spec.Affinity.NodeAffinity != nil {
		t.Errorf("after the override: affinity %+v", sts2.Spec.Template.Spec.Affinity)
	}
	dp = l.get(0, apic.DataPowerServiceKind, "gwv6")
	if a, _, _ := unstructured.NestedMap(dp.U.Object, "spec", "affinity"); !equalJSON(a, zoneAffinity()) {
		t.Errorf("DataPowerService spec.affinity = %v, want the override", a)
	}
	if sts2.Annotations[specHashAnnotation] == sts.Annotations[specHashAnnotation] {
		t.Error("spec hash unchanged")
	}

	// replicaCount in the template scales the StatefulSet and the DataPowerService.
	gw = l.get(0, apic.GatewayClusterKind, "gwv6")
	entries[0]["replicaCount"] = int64(5)
	_ = gw.SetTemplate(apic.Gateway, entries)
	if _, err := l.sites[0].Dynamic.Resource(gw.Kind.GVR()).Namespace(testNS).Update(l.ctx, gw.U, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := l.ops[0].Sync(l.ctx); err != nil {
		t.Fatal(err)
	}
	if gw = l.get(0, apic.GatewayClusterKind, "gwv6"); gw.Ready() != "3/5" || gw.Phase() != "Pending" {
		t.Errorf("scaling up: ready %q phase %q, want 3/5 Pending", gw.Ready(), gw.Phase())
	}
	dp = l.get(0, apic.DataPowerServiceKind, "gwv6")
	if r, _, _ := unstructured.NestedInt64(dp.U.Object, "spec", "replicas"); r != 5 || dp.Phase() != "Pending" ||
		dp.Ready() != "False" || dp.Message() != "StatefulSet replicas ready: 3/5" {
		t.Errorf("DataPowerService replicas %d phase %q ready %q message %q", r, dp.Phase(), dp.Ready(), dp.Message())
	}
	if c, ok := dp.Condition("Pending"); !ok || !c.IsTrue() {
		t.Errorf("DataPowerService Pending condition %+v, want True while not Ready", c)
	}
	checkDataPowerService(t, dp)
}

func checkDataPowerService(t *testing.T, dp apic.Object) {
	t.Helper()
	problems, err := fixtures.CheckDataPowerService(dp.U.Object)
	if err != nil || len(problems) > 0 {
		t.Errorf("the simulator's DataPowerService under IBM's CRD: %v %v", problems, err)
	}
}

// DataPower's own phased rollout (IBM's CRD: spec.updateStrategy {mode, partition}): mode manual
// sets the gateway StatefulSet's partition; taking the strategy out again sets it back.
func TestDataPowerUpdateStrategyPartition(t *testing.T) {
	l := newLab(t)
	l.create(0, gatewayCR("n3xc4.m8"))
	l.settle()
	ri := l.sites[0].Dynamic.Resource(apic.DataPowerServiceKind.GVR()).Namespace(testNS)
	setStrategy := func(v interface{}) {
		t.Helper()
		dp := l.get(0, apic.DataPowerServiceKind, "gwv6")
		if v == nil {
			unstructured.RemoveNestedField(dp.U.Object, "spec", "updateStrategy")
		} else {
			_ = unstructured.SetNestedField(dp.U.Object, v, "spec", "updateStrategy")
		}
		if _, err := ri.Update(l.ctx, dp.U, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := l.ops[0].Sync(l.ctx); err != nil {
			t.Fatal(err)
		}
	}
	partition := func() int32 {
		t.Helper()
		sts, err := l.sites[0].Kube.AppsV1().StatefulSets(testNS).Get(l.ctx, "gwv6", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ru := sts.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
			return *ru.Partition
		}
		return 0
	}
	setStrategy(map[string]interface{}{"mode": "manual", "partition": int64(2)})
	if p := partition(); p != 2 {
		t.Errorf("manual partition 2: StatefulSet partition %d", p)
	}
	// The simulator keeps the user's field while it updates the rest of the spec.
	if m, _, _ := unstructured.NestedString(l.get(0, apic.DataPowerServiceKind, "gwv6").U.Object, "spec", "updateStrategy", "mode"); m != "manual" {
		t.Errorf("spec.updateStrategy.mode = %q after a sync", m)
	}
	setStrategy(map[string]interface{}{"mode": "automatic"})
	if p := partition(); p != 0 {
		t.Errorf("automatic: StatefulSet partition %d, want 0", p)
	}
	setStrategy(nil)
	if p := partition(); p != 0 {
		t.Errorf("no strategy: StatefulSet partition %d, want 0", p)
	}
}
