package kube

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// ClusterMatch says whether two kubeconfig contexts are one cluster.
type ClusterMatch string

const (
	// DifferentClusters: two clusters (two data centers, as every two-site command needs).
	DifferentClusters ClusterMatch = "Different"
	// OneCluster: both contexts reach the same cluster (e.g. a copied kubeconfig entry): comparing
	// it with itself would show every active subsystem as active "on both sites".
	OneCluster ClusterMatch = "Same"
	// UnknownClusters: the identity could not be read (RBAC) and nothing else decides.
	UnknownClusters ClusterMatch = "Unknown"
)

// Comparison is the verdict of CompareClusters and what it rests on.
type Comparison struct {
	Match ClusterMatch
	// Evidence says how it was decided, or why it could not be, for messages.
	Evidence string
	// Fix says how to let the check decide (only when Match is UnknownClusters).
	Fix string
}

// CompareClusters tells whether sites a and b are one cluster. This is the one implementation every
// command uses (failover refuses one cluster; status will not judge 2DCDR on one).
//
// The identity is the UID of the kube-system namespace (Site.ClusterID): different for every
// cluster. Without permission to read it on either side, identical API server URLs still mean one
// cluster; different URLs decide nothing (a cluster can have several), so the result is
// UnknownClusters with the RBAC that would let it check, unless RefineByObjects settles it. An
// error that is not a denial (the site is unreachable, ...) is returned: the caller reports the site.
func CompareClusters(ctx context.Context, a, b *Site) (Comparison, error) {
	ida, erra := a.ClusterID(ctx)
	idb, errb := b.ClusterID(ctx)
	for _, e := range []struct {
		site *Site
		err  error
	}{{a, erra}, {b, errb}} {
		if e.err != nil && !apierrors.IsForbidden(e.err) && !apierrors.IsUnauthorized(e.err) {
			return Comparison{}, fmt.Errorf("context %s: reading cluster identity: %w", e.site.Name, e.err)
		}
	}
	if erra == nil && errb == nil {
		if ida == idb {
			return Comparison{Match: OneCluster, Evidence: fmt.Sprintf("the same kube-system namespace UID %s", ida)}, nil
		}
		return Comparison{Match: DifferentClusters, Evidence: "different kube-system namespace UIDs"}, nil
	}
	if sameServer(a.Server, b.Server) {
		return Comparison{Match: OneCluster, Evidence: "the same API server " + a.Server}, nil
	}
	var denied []string
	for _, e := range []struct {
		site *Site
		err  error
	}{{a, erra}, {b, errb}} {
		if e.err != nil {
			denied = append(denied, e.site.Name)
		}
	}
	return Comparison{Match: UnknownClusters,
		Evidence: fmt.Sprintf("the cluster identity (namespace kube-system) cannot be read in context %s (forbidden) and the API server URLs differ (%s, %s), which one cluster can also have",
			strings.Join(denied, " and "), a.Server, b.Server),
		Fix: fmt.Sprintf("grant your user get on namespace kube-system in context %s (check: kubectl auth can-i get namespace/kube-system --context %s)",
			strings.Join(denied, " and "), denied[0])}, nil
}

// RefineByObjects settles an UnknownClusters comparison with the UIDs of the objects each site
// returned for the same request (the same namespace, or all namespaces; sameScope false otherwise):
// one object UID on both sides is one cluster; two non-empty sets with none in common, read from
// the same scope, are two clusters (one cluster would have returned the same objects).
func (c Comparison) RefineByObjects(a, b []string, sameScope bool) Comparison {
	if c.Match != UnknownClusters {
		return c
	}
	seen := map[string]bool{}
	for _, u := range a {
		seen[u] = true
	}
	for _, u := range b {
		if u != "" && seen[u] {
			return Comparison{Match: OneCluster, Evidence: "the same objects (UID " + u + ") in both contexts"}
		}
	}
	if sameScope && len(a) > 0 && len(b) > 0 {
		return Comparison{Match: DifferentClusters, Evidence: "different objects in the same namespace"}
	}
	return c
}

// sameServer compares API server URLs without case, default ports or a trailing slash.
func sameServer(a, b string) bool {
	norm := func(s string) string {
		u, err := url.Parse(strings.TrimSuffix(s, "/"))
		if err != nil || u.Host == "" {
			return strings.ToLower(s)
		}
		host := strings.ToLower(u.Hostname())
		port := u.Port()
		if port == "" {
			port = map[string]string{"https": "443", "http": "80"}[strings.ToLower(u.Scheme)]
		}
		return strings.ToLower(u.Scheme) + "://" + host + ":" + port + u.Path
	}
	return a != "" && norm(a) == norm(b)
}
