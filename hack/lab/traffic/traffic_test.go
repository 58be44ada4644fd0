package traffic

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

func gatewayPod(name, ip string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "apic", UID: types.UID(name + "-uid"),
			Labels: map[string]string{apic.InstanceLabel: "gw", apic.KindLabel: apic.DataPowerKindValue, "controller-revision-hash": "gw-1"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "datapower", Image: "sim.local/datapower:10.6.0.0"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "datapower", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}},
	}
}

func slice(ready map[string]bool) *discoveryv1.EndpointSlice {
	es := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "gw-abc", Namespace: "apic", Labels: map[string]string{ServiceLabel: "true"}}}
	for pod, r := range ready {
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{"10.0.0.1"},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(r), Terminating: ptr.To(!r)},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Name: pod, UID: types.UID(pod + "-uid")}})
	}
	return es
}

func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func get(url string) (int, Answer, error) {
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return 0, Answer{}, err
	}
	defer resp.Body.Close()
	var a Answer
	_ = json.NewDecoder(resp.Body).Decode(&a)
	return resp.StatusCode, a, nil
}

// The endpoint routes only to pods its EndpointSlice lists as ready; members answer with their name
// and configuration; faults and quorum show; a killed member cuts a request in flight.
func TestSiteRoutesToReadyMembers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kube := fake.NewClientset(gatewayPod("gw-0", "10.100.0.7"), gatewayPod("gw-1", "10.100.0.8"))
	readOnly := false
	s, err := StartSite(ctx, SiteConfig{Name: "dc1", Namespace: "apic", Kube: kube, ReadOnly: func(string) bool { return readOnly }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	eventually(t, "members", func() bool { return s.MemberURL("gw-0") != "" && s.MemberURL("gw-1") != "" })
	if _, err := kube.CoreV1().Services("apic").Get(ctx, "gw", metav1.GetOptions{}); err != nil {
		// created asynchronously
		eventually(t, "the gateway Service", func() bool {
			_, err := kube.CoreV1().Services("apic").Get(ctx, "gw", metav1.GetOptions{})
			return err == nil
		})
	}
	// No slice yet: nothing is routable, the connection is closed.
	if _, _, err := get(s.Endpoint()); err == nil {
		t.Fatal("endpoint answered with no ready endpoint")
	}
	if _, err := kube.DiscoveryV1().EndpointSlices("apic").Create(ctx, slice(map[string]bool{"gw-0": true, "gw-1": false}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "gw-0 routable", func() bool { return len(s.Routable()) == 1 })
	for range 4 {
		code, a, err := get(s.Endpoint())
		if err != nil || code != 200 || a.Member != "gw-0" || a.Version != "10.6.0.0" || a.Revision != "gw-1" || a.Peering != "read-write" {
			t.Fatalf("got %d %+v %v, want 200 from gw-0 running 10.6.0.0 gw-1 read-write", code, a, err)
		}
	}
	readOnly = true
	if _, a, _ := get(s.Endpoint()); a.Peering != "read-only" {
		t.Errorf("without quorum: peering %q, want read-only (APIs keep serving)", a.Peering)
	}
	s.SetMemberFault("gw-0", 503, 0)
	if code, _, _ := get(s.Endpoint()); code != 503 {
		t.Errorf("5xx fault: got %d", code)
	}
	s.ClearMemberFaults()
	// Endpoint down: refused; back up on the same address.
	_ = s.SetEndpointUp(false)
	if _, _, err := get(s.Endpoint()); err == nil {
		t.Error("endpoint down still answered")
	}
	if err := s.SetEndpointUp(true); err != nil {
		t.Fatal(err)
	}
	if code, _, err := get(s.Endpoint()); code != 200 {
		t.Errorf("endpoint back up: %d %v", code, err)
	}
	// A request in flight when the member is killed is cut.
	s.SetMemberFault("gw-0", 0, time.Second)
	errc := make(chan error, 1)
	go func() { _, _, err := get(s.Endpoint()); errc <- err }()
	time.Sleep(200 * time.Millisecond)
	if err := kube.CoreV1().Pods("apic").Delete(ctx, "gw-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err == nil {
		t.Error("the request in flight on a killed member succeeded")
	}
}

func TestRouterDrain(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sites []*Site
	for _, n := range []string{"dc1", "dc2"} {
		kube := fake.NewClientset(gatewayPod("gw-0", "10.100.0.9"), slice(map[string]bool{"gw-0": true}))
		s, err := StartSite(ctx, SiteConfig{Name: n, Namespace: "apic", Kube: kube})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		eventually(t, n+" routable", func() bool { return len(s.Routable()) == 1 })
		sites = append(sites, s)
	}
	r, err := StartRouter(sites, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	seen := map[string]int{}
	for range 6 {
		_, a, err := get(r.URL())
		if err != nil {
			t.Fatal(err)
		}
		seen[a.Site]++
	}
	if seen["dc1"] == 0 || seen["dc2"] == 0 {
		t.Fatalf("router did not spread: %v", seen)
	}
	if err := r.SetDrained("dc1", true); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if _, a, _ := get(r.URL()); a.Site != "dc2" {
			t.Fatalf("drained dc1 still got a connection")
		}
	}
	if err := r.SetDrained("dc3", true); err == nil {
		t.Error("draining an unknown site succeeded")
	}
}

// TestMemberReportsWhatItRuns: the answer's version and config come from Describe, asked once when
// the member starts, in the body and in the X-Simulator-* headers.
func TestMemberReportsWhatItRuns(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kube := fake.NewClientset(gatewayPod("gw-0", "10.100.0.7"))
	config := "dp-cfg=41,dp-local=7"
	s, err := StartSite(ctx, SiteConfig{Name: "dc1", Namespace: "apic", Kube: kube,
		Describe: func(p *corev1.Pod) (string, string) { return "10.0.8.0", config }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	eventually(t, "member", func() bool { return s.MemberURL("gw-0") != "" })
	config = "dp-cfg=99" // a later ConfigMap edit: the running member keeps what it read
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(s.MemberURL("gw-0"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a Answer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatal(err)
	}
	if a.Version != "10.0.8.0" || a.Config != "dp-cfg=41,dp-local=7" {
		t.Errorf("answer %+v", a)
	}
	if v, cfg := resp.Header.Get(VersionHeader), resp.Header.Get(ConfigHeader); v != "10.0.8.0" || cfg != "dp-cfg=41,dp-local=7" {
		t.Errorf("headers %s=%q %s=%q", VersionHeader, v, ConfigHeader, cfg)
	}
}
