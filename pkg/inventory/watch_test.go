package inventory

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

// watchers hands out one fake watch per resource, for the test to drive.
type watchers struct {
	mu sync.Mutex
	by map[string]*watch.FakeWatcher
}

func (w *watchers) reactor(action clienttesting.Action) (bool, watch.Interface, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	fw := watch.NewFakeWithChanSize(8, false)
	w.by[action.GetResource().Resource] = fw
	return true, fw, nil
}

func (w *watchers) get(t *testing.T, resource string) *watch.FakeWatcher {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		w.mu.Lock()
		fw := w.by[resource]
		w.mu.Unlock()
		if fw != nil {
			return fw
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no watch of %s started", resource)
	return nil
}

// Watch starts at the snapshot's resourceVersions, applies every event to the objects it keeps and
// hands out a fresh, ordered Snapshot after each; a 410 Gone ends it with an explained error so the
// caller reads again.
func TestWatchAppliesEventsAndEndsOnGone(t *testing.T) {
	scheme := runtime.NewScheme()
	_ = metav1.AddMetaToScheme(scheme)
	w := &watchers{by: map[string]*watch.FakeWatcher{}}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme,
		map[schema.GroupVersionResource]string{apic.ManagementClusterKind.GVR(): "ManagementClusterList"})
	dyn.PrependWatchReactor("*", w.reactor)
	kube := kubefake.NewClientset()
	kube.PrependWatchReactor("*", w.reactor)
	md := metadatafake.NewSimpleMetadataClient(scheme)
	md.PrependWatchReactor("*", w.reactor)
	c := Clients{Site: "dc1", Dynamic: dyn, Kube: kube, Metadata: md}

	mgmt := apic.New(apic.ManagementClusterKind, "apic", "production-mgmt")
	mgmt.SetStatusField("active", "haMode")
	node := metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}}
	snap := &Snapshot{Site: "dc1", Objects: []apic.Object{mgmt}, Nodes: []metav1.PartialObjectMetadata{node},
		ResourceVersions: map[string]string{apic.ManagementClusterKind.GVR().String(): "10", PodsGVR.String(): "10", NodesGVR.String(): "10"}}
	req := Request{Namespace: "apic", Kinds: []apic.Kind{apic.ManagementClusterKind}, Pods: true, Nodes: true}

	got := make(chan *Snapshot, 16)
	done := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() { done <- Watch(ctx, c, req, snap, func(s *Snapshot) { got <- s }) }()
	next := func() *Snapshot {
		t.Helper()
		select {
		case s := <-got:
			return s
		case err := <-done:
			t.Fatalf("Watch ended: %v", err)
		case <-ctx.Done():
			t.Fatal("no snapshot")
		}
		return nil
	}

	passive := apic.New(apic.ManagementClusterKind, "apic", "production-mgmt")
	passive.SetStatusField("passive", "haMode")
	passive.U.SetResourceVersion("11")
	w.get(t, "managementclusters").Modify(passive.U)
	if s := next(); len(s.Objects) != 1 || s.Objects[0].HAMode() != "passive" || s.ResourceVersions[apic.ManagementClusterKind.GVR().String()] != "11" {
		t.Errorf("after Modified: objects %v, rvs %v", s.Objects, s.ResourceVersions)
	}
	w.get(t, "pods").Add(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "apic", Name: "gw-0", ResourceVersion: "12"}})
	if s := next(); len(s.Pods) != 1 || s.Pods[0].Name != "gw-0" || len(s.Nodes) != 1 {
		t.Errorf("after pod Added: pods %v nodes %v", s.Pods, s.Nodes)
	}
	w.get(t, "nodes").Delete(&metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "node-1", ResourceVersion: "13"}})
	if s := next(); len(s.Nodes) != 0 || len(s.Pods) != 1 || len(s.Objects) != 1 {
		t.Errorf("after node Deleted: %+v", s)
	}
	w.get(t, "managementclusters").Error(&apierrors.NewResourceExpired("too old resource version: 10 (20)").ErrStatus)
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "too old resource version") {
			t.Errorf("Watch after 410 = %v", err)
		}
		if st, ok := err.(apierrors.APIStatus); ok && st.Status().Code != http.StatusGone {
			t.Errorf("code %d", st.Status().Code)
		}
	case <-ctx.Done():
		t.Fatal("Watch did not end on 410 Gone")
	}
}
