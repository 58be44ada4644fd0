package kube

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func fakeSite(name, server, uid string, forbidden bool) *Site {
	c := fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system", UID: types.UID(uid)}})
	if forbidden {
		c.PrependReactor("get", "namespaces", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(corev1.Resource("namespaces"), "kube-system", nil)
		})
	}
	return &Site{Name: name, Server: server, Kube: c}
}

func TestCompareClusters(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		a, b *Site
		want ClusterMatch
	}{
		{"two clusters", fakeSite("dc1", "https://a:6443", "u1", false), fakeSite("dc2", "https://b:6443", "u2", false), DifferentClusters},
		{"one cluster, two URLs", fakeSite("dc1", "https://a:6443", "u1", false), fakeSite("dc2", "https://a-alias:6443", "u1", false), OneCluster},
		{"forbidden, same URL", fakeSite("dc1", "https://A:443/", "u1", true), fakeSite("dc2", "https://a", "u1", false), OneCluster},
		{"forbidden, other URL", fakeSite("dc1", "https://a:6443", "u1", false), fakeSite("dc2", "https://b:6443", "u1", true), UnknownClusters},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CompareClusters(ctx, tc.a, tc.b)
			if err != nil || got.Match != tc.want {
				t.Fatalf("got %+v, %v; want %s", got, err, tc.want)
			}
			if got.Match == UnknownClusters && (!strings.Contains(got.Fix, "kube-system") || !strings.Contains(got.Evidence, "dc2")) {
				t.Errorf("unknown without the RBAC fix naming dc2: %+v", got)
			}
		})
	}
	unknown := Comparison{Match: UnknownClusters}
	if got := unknown.RefineByObjects([]string{"x", "y"}, []string{"z", "y"}, false); got.Match != OneCluster {
		t.Errorf("shared UID: %+v", got)
	}
	if got := unknown.RefineByObjects([]string{"x"}, []string{"z"}, true); got.Match != DifferentClusters {
		t.Errorf("disjoint UIDs in one namespace: %+v", got)
	}
	for _, c := range []struct {
		a, b  []string
		scope bool
	}{{[]string{"x"}, []string{"z"}, false}, {nil, []string{"z"}, true}} {
		if got := unknown.RefineByObjects(c.a, c.b, c.scope); got.Match != UnknownClusters {
			t.Errorf("%v/%v/%v decided %+v", c.a, c.b, c.scope, got)
		}
	}
}
