package status

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/datapower"
	"github.com/kubectl-apic/kubectl-apic/pkg/datapower/datapowertest"
	"github.com/kubectl-apic/kubectl-apic/pkg/inventory"
	"github.com/kubectl-apic/kubectl-apic/pkg/kube"
)

// --peering opens each member through the shared opener: the container kubectl attach would
// pick (datapower, not the sidecar before it) and the password from the key the flags name. The
// fake console (pkg/datapower/datapowertest) prints the fixtures' shapes; no control plane.
func TestReadPeeringSidecarAndSecretKeys(t *testing.T) {
	const pw = "peering-Pa55"
	gw := apic.New(apic.GatewayClusterKind, "apic", "gw")
	gw.U.Object["spec"] = map[string]interface{}{"adminUser": map[string]interface{}{"secretName": "gw-admin"}}
	snap := &inventory.Snapshot{Objects: []apic.Object{gw}}
	var pods [][2]string
	for i := range 3 {
		name, ip := fmt.Sprintf("gw-%d", i), fmt.Sprintf("10.0.0.%d", i+1)
		pods = append(pods, [2]string{name, ip})
		snap.Pods = append(snap.Pods, corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "apic",
				Labels: map[string]string{apic.KindLabel: apic.DataPowerKindValue, apic.InstanceLabel: "gw"}},
			Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "istio-proxy"}, {Name: "datapower"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip}})
	}
	g := datapowertest.NewGroup("apic-admin", pw, pods...)
	site := &kube.Site{Name: "dc1", Namespace: "apic", Kube: kubefake.NewClientset(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "gw-admin", Namespace: "apic"},
		Data:       map[string][]byte{"dp-user": []byte("apic-admin"), "dp-password": []byte(pw)}})}
	o := NewOptions(genericiooptions.IOStreams{})
	o.Attach = func(ctx context.Context, _ *kube.Site, t datapower.AttachTarget) (datapower.Conn, error) {
		if t.Container != datapower.Container {
			// What the API server answers for a two-container pod without -c, or what a sidecar is.
			return nil, fmt.Errorf("a container name must be specified for pod %s, choose one of: [istio-proxy datapower]", t.Pod)
		}
		return g.Attach(ctx, t)
	}
	read := func() map[string]PeeringRead {
		return o.readPeering(context.Background(), site, snap, map[string]DRRRead{})["apic/gw"]
	}
	for pod, rd := range read() {
		if rd.Err == nil || !strings.Contains(rd.Err.Error(), `no "password" key`) {
			t.Errorf("%s with the default keys: %v", pod, rd.Err)
		}
	}
	o.Admin = datapower.AdminKeys{UserKey: "dp-user", PasswordKey: "dp-password"}
	reads := read()
	if len(reads) != 3 {
		t.Fatalf("read %d members, want 3", len(reads))
	}
	for pod, rd := range reads {
		if rd.Err != nil {
			t.Errorf("%s: %v", pod, rd.Err)
			continue
		}
		if q := datapower.Quorum(rd.Statuses, "gwd"); !q.HasQuorum || q.Members != 3 || rd.AdminState != "enabled" {
			t.Errorf("%s: quorum %+v, admin-state %q", pod, q, rd.AdminState)
		}
	}
}

// A rejected login is tried on one member of a gateway only (DataPower locks an account after a few
// failed logins); the others say why they were not tried.
func TestReadPeeringWrongPasswordTriesOneMember(t *testing.T) {
	gw := apic.New(apic.GatewayClusterKind, "apic", "gw")
	gw.U.Object["spec"] = map[string]interface{}{"adminUser": map[string]interface{}{"secretName": "gw-admin"}}
	snap := &inventory.Snapshot{Objects: []apic.Object{gw}}
	var pods [][2]string
	for i := range 3 {
		name, ip := fmt.Sprintf("gw-%d", i), fmt.Sprintf("10.0.0.%d", i+1)
		pods = append(pods, [2]string{name, ip})
		snap.Pods = append(snap.Pods, corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "apic",
				Labels: map[string]string{apic.KindLabel: apic.DataPowerKindValue, apic.InstanceLabel: "gw"}},
			Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "datapower"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip}})
	}
	g := datapowertest.NewGroup("admin", "the-real-one", pods...)
	site := &kube.Site{Name: "dc1", Namespace: "apic", Kube: kubefake.NewClientset(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "gw-admin", Namespace: "apic"},
		Data:       map[string][]byte{"username": []byte("admin"), "password": []byte("stale")}})}
	o := NewOptions(genericiooptions.IOStreams{})
	var mu sync.Mutex
	attached := 0
	o.Attach = func(ctx context.Context, _ *kube.Site, t datapower.AttachTarget) (datapower.Conn, error) {
		mu.Lock()
		attached++
		mu.Unlock()
		return g.Attach(ctx, t)
	}
	reads := o.readPeering(context.Background(), site, snap, map[string]DRRRead{})["apic/gw"]
	if attached != 1 {
		t.Errorf("%d consoles opened with a rejected password, want 1", attached)
	}
	failed, notTried := 0, 0
	for pod, rd := range reads {
		switch {
		case rd.Err != nil && strings.Contains(rd.Err.Error(), "not tried"):
			notTried++
		case errors.Is(rd.Err, datapower.ErrLoginFailed):
			failed++
		default:
			t.Errorf("%s: %v", pod, rd.Err)
		}
	}
	if failed != 1 || notTried != 2 {
		t.Errorf("%d login failures and %d members not tried, want 1 and 2", failed, notTried)
	}
}
