package lab

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

func TestDomainConfigMaps(t *testing.T) {
	gw := apic.New(apic.GatewayClusterKind, "apic", "gw")
	gw.U.Object["spec"] = map[string]interface{}{"additionalDomainConfig": []interface{}{
		map[string]interface{}{"name": "apiconnect", "dpApp": map[string]interface{}{
			"config": []interface{}{"dp-cfg-b", "dp-cfg-a"}, "local": []interface{}{"dp-local"}}},
		map[string]interface{}{"name": "other", "dpApp": map[string]interface{}{"config": []interface{}{"dp-cfg-a"}}},
		map[string]interface{}{"name": "no-app"},
	}}
	got := domainConfigMaps(gw.U)
	want := []string{"dp-cfg-a", "dp-cfg-b", "dp-local"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("domainConfigMaps = %v, want %v", got, want)
	}
	if got := domainConfigMaps(apic.New(apic.GatewayClusterKind, "apic", "bare").U); len(got) != 0 {
		t.Errorf("no additionalDomainConfig: %v", got)
	}
}

func TestMemberRunStrings(t *testing.T) {
	r := MemberRun{Config: []ConfigRevision{{"a", "12"}, {"b", ConfigAbsent}}}
	if got := r.ConfigString(); got != "a=12,b=absent" {
		t.Errorf("ConfigString = %q", got)
	}
	if got := (MemberRun{}).ConfigString(); got != "" {
		t.Errorf("empty ConfigString = %q", got)
	}
	for in, want := range map[string]string{"10.0.8.0": "IDG.10.0.8.0", "IDG.10.6.0.0": "IDG.10.6.0.0", "": ""} {
		if got := BannerVersion(in); got != want {
			t.Errorf("BannerVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

func testGatewayPod(uid, version string, restarts int32) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "gw-2", Namespace: "apic", UID: types.UID(uid),
			Labels:      map[string]string{apic.InstanceLabel: "gw", apic.KindLabel: apic.DataPowerKindValue},
			Annotations: map[string]string{ProductVersionAnnotation: version}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: DataPowerContainer, Image: "sim.local/datapower:" + version}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.100.0.9",
			ContainerStatuses: []corev1.ContainerStatus{{Name: DataPowerContainer, RestartCount: restarts}}},
	}
}

// TestMemberRunFixedAtStart: the version and ConfigMap revisions are read when an incarnation
// starts; a ConfigMap edit reaches only a new incarnation (or a container restart); the
// wrong-version fault spares the running incarnation and patches the next one's productVersion.
func TestMemberRunFixedAtStart(t *testing.T) {
	ctx := context.Background()
	gw := apic.New(apic.GatewayClusterKind, "apic", "gw")
	gw.U.Object["spec"] = map[string]interface{}{"version": "10.0.8.0", "additionalDomainConfig": []interface{}{
		map[string]interface{}{"name": "apiconnect", "dpApp": map[string]interface{}{"config": []interface{}{"dp-cfg", "dp-missing"}}}}}
	lists := map[schema.GroupVersionResource]string{}
	for _, k := range apic.Kinds() {
		lists[k.GVR()] = k.Kind + "List"
	}
	old := testGatewayPod("uid-1", "10.0.8.0", 0)
	kube := fake.NewClientset(old, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "dp-cfg", Namespace: "apic", ResourceVersion: "100"}})
	s := &Site{Name: "dc1", Namespace: "apic", Kube: kube,
		Dynamic: dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), lists, gw.U)}
	g := newGatewaySimulator(s, t.Logf)
	s.gateways = g

	first := g.memberRun(old)
	if first.Version != "10.0.8.0" || first.ConfigString() != "dp-cfg=100,dp-missing=absent" {
		t.Fatalf("first run %+v", first)
	}
	cms := kube.CoreV1().ConfigMaps("apic")
	edited, _ := cms.Get(ctx, "dp-cfg", metav1.GetOptions{})
	edited.ResourceVersion = "101"
	if _, err := cms.Update(ctx, edited, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if again := g.memberRun(old); again.ConfigString() != first.ConfigString() {
		t.Errorf("a running member followed a ConfigMap edit: %s", again.ConfigString())
	}
	if restarted := g.memberRun(testGatewayPod("uid-1", "10.0.8.0", 1)); restarted.ConfigString() != "dp-cfg=101,dp-missing=absent" {
		t.Errorf("a restarted container did not read the ConfigMaps again: %s", restarted.ConfigString())
	}

	// wrong-version: the running incarnation (uid-1) is spared, the next one reports 10.0.7.0.
	g.wrongVersion["gw-2"] = podFault{gateway: "gw", spare: "uid-1", version: "10.0.7.0"}
	if v := g.memberRun(old).Version; v != "10.0.8.0" {
		t.Errorf("spared incarnation reports %s", v)
	}
	if err := kube.CoreV1().Pods("apic").Delete(ctx, "gw-2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	g.forgetIncarnation("gw-2", "uid-1")
	next := testGatewayPod("uid-2", "10.0.9.0", 0)
	if _, err := kube.CoreV1().Pods("apic").Create(ctx, next, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if run := g.memberRun(next); run.Version != "10.0.7.0" {
		t.Errorf("faulted incarnation reports %s, want 10.0.7.0", run.Version)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		p, err := kube.CoreV1().Pods("apic").Get(ctx, "gw-2", metav1.GetOptions{})
		if err == nil && p.Annotations[ProductVersionAnnotation] == "10.0.7.0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("productVersion not patched: %v %v", p.Annotations, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r, ok := g.lastRun("gw-2"); !ok || r.UID != "uid-2" || r.Version != "10.0.7.0" {
		t.Errorf("lastRun = %+v, %v", r, ok)
	}
	// Cleared: the running member keeps what it started with; the next incarnation is right.
	s.clearPodFaults("gw")
	if v := g.memberRun(next).Version; v != "10.0.7.0" {
		t.Errorf("clearing changed a running member's version to %s", v)
	}
	if v := g.memberRun(testGatewayPod("uid-3", "10.0.9.0", 0)).Version; v != "10.0.9.0" {
		t.Errorf("after clearing a new incarnation reports %s", v)
	}
}
