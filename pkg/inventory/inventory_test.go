package inventory

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
)

// fakeServer answers LISTs like an API server: served lists are empty, missing resources 404 as
// an API server without the CRD does, forbidden ones 403. It records every request.
type fakeServer struct {
	mu        sync.Mutex
	requests  []string
	missing   func(path string) bool
	forbidden func(path string) bool
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	status := func(code int, reason, msg string) {
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure",
			"reason": reason, "code": code, "message": msg})
	}
	switch {
	case f.forbidden != nil && f.forbidden(r.URL.Path):
		status(403, "Forbidden", `pods is forbidden: User "viewer" cannot list resource "pods" in API group "" in the namespace "apic"`)
	case f.missing != nil && f.missing(r.URL.Path):
		status(404, "NotFound", "the server could not find the requested resource")
	case strings.HasSuffix(r.URL.Path, "/pods"):
		_, _ = w.Write([]byte(`{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"7"},"items":[]}`))
	case strings.HasSuffix(r.URL.Path, "/nodes"):
		_, _ = w.Write([]byte(`{"kind":"PartialObjectMetadataList","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"7"},"items":[{"metadata":{"name":"node-1","labels":{"topology.kubernetes.io/zone":"zone-a"}}}]}`))
	default:
		_, _ = w.Write([]byte(`{"kind":"List","apiVersion":"v1","metadata":{"resourceVersion":"7"},"items":[]}`))
	}
}

func clients(t *testing.T, f *fakeServer) Clients {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg := &rest.Config{Host: srv.URL}
	return Clients{Site: "dc2", Dynamic: dynamic.NewForConfigOrDie(cfg), Kube: kubernetes.NewForConfigOrDie(cfg), Metadata: metadata.NewForConfigOrDie(cfg)}
}

func TestReadOneListPerKind(t *testing.T) {
	f := &fakeServer{missing: func(p string) bool { return strings.Contains(p, "datapower.ibm.com") }}
	snap, err := Read(context.Background(), clients(t, f), Request{Namespace: "apic", Pods: true, Nodes: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.requests) != len(apic.Kinds())+2 {
		t.Errorf("%d requests, want one per kind + pods + nodes: %v", len(f.requests), f.requests)
	}
	for _, r := range f.requests {
		if strings.Contains(r, "/pods") && !strings.Contains(r, "labelSelector=crd.apiconnect.ibm.com%2Finstance") {
			t.Errorf("pods not label-selected: %s", r)
		}
		if strings.Contains(r, "/nodes") && strings.Contains(r, "namespaces") {
			t.Errorf("nodes are cluster-scoped: %s", r)
		}
	}
	if len(snap.Missing) != 1 || snap.Missing[0].Kind != apic.DataPowerServiceKind.Kind {
		t.Errorf("missing = %v, want DataPowerService only", snap.Missing)
	}
	if z := snap.NodeZones()["node-1"]; z != "zone-a" {
		t.Errorf("node zone %q", z)
	}
}

func TestReadNoAPIConnectCRDs(t *testing.T) {
	f := &fakeServer{missing: func(p string) bool { return strings.Contains(p, "ibm.com") }}
	_, err := Read(context.Background(), clients(t, f), Request{Namespace: "apic", Pods: true, Nodes: true})
	if !errors.Is(err, ErrNoAPIConnectCRDs) {
		t.Fatalf("err = %v, want ErrNoAPIConnectCRDs", err)
	}
	if !strings.HasPrefix(err.Error(), "API Connect CRDs not found in context dc2: is this an API Connect cluster?") {
		t.Errorf("message %q", err)
	}
	if exitcode.FromError(err) != exitcode.Error {
		t.Errorf("exit code %v", exitcode.FromError(err))
	}
}

func TestReadForbidden(t *testing.T) {
	f := &fakeServer{forbidden: func(p string) bool { return strings.HasSuffix(p, "/pods") }}
	_, err := Read(context.Background(), clients(t, f), Request{Namespace: "apic", Pods: true})
	if err == nil || !strings.Contains(err.Error(), `cannot list pods in namespace "apic": ask for RBAC "list" on pods`) {
		t.Errorf("err = %v", err)
	}
}

func TestReadUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	cfg := &rest.Config{Host: srv.URL}
	c := Clients{Site: "dc1", Dynamic: dynamic.NewForConfigOrDie(cfg), Kube: kubernetes.NewForConfigOrDie(cfg), Metadata: metadata.NewForConfigOrDie(cfg)}
	_, err := Read(context.Background(), c, Request{})
	if exitcode.FromError(err) != exitcode.Unreachable || !strings.Contains(err.Error(), "context dc1 unreachable") {
		t.Errorf("err = %v (code %v)", err, exitcode.FromError(err))
	}
}
