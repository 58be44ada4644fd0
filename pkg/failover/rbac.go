package failover

import (
	"context"
	"fmt"
	"golang.org/x/sync/errgroup"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/kube"
)

// Permission is one verb on one resource in a site's namespace.
type Permission struct {
	Verb string
	GVR  schema.GroupVersionResource
}

func (p Permission) String() string { return p.Verb + " " + p.GVR.GroupResource().String() }

var leases = schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}

// RequiredPermissions lists what a failover needs on one site: read and watch the subsystem CRs,
// patch the objects where the mode is set, hold the lease, on the warm-standby list the pods of its
// subsystems (pre-flight checks), and on the new active site of a CP4I deployment list and delete
// the configurator jobs. With no subjects (the reads were denied, so the shape is unknown) it is
// what every failover needs whatever the shape.
func RequiredPermissions(subjects []Subject, side string, req Request) []Permission {
	var out []Permission
	seen := map[Permission]bool{}
	add := func(p Permission) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	if len(subjects) == 0 {
		for _, sub := range req.Subsystems {
			k := apic.ManagementClusterKind
			if sub == apic.Portal {
				k = apic.PortalClusterKind
			}
			for _, v := range []string{"get", "list", "watch"} {
				add(Permission{v, k.GVR()})
			}
		}
	}
	if side == req.To {
		add(Permission{"list", pods})
	}
	for _, s := range subjects {
		m := s.To
		if side == req.From {
			m = s.From
		}
		for _, v := range []string{"get", "list", "watch"} {
			add(Permission{v, m.Status.Kind.GVR()})
		}
		add(Permission{"get", m.Spec.Kind.GVR()})
		add(Permission{"patch", m.Spec.Kind.GVR()})
		if side == req.To && m.TopLevel() {
			add(Permission{"list", apic.APIConnectClusterKind.GVR()})
			add(Permission{"watch", apic.APIConnectClusterKind.GVR()})
			add(Permission{"list", batchJobs})
			add(Permission{"delete", batchJobs})
		}
	}
	for _, v := range []string{"get", "create", "update"} {
		add(Permission{v, leases})
	}
	return out
}

// CheckPermissions asks the site's API server (SelfSubjectAccessReview) whether the user may do
// each of perms in the site's namespace, and returns the ones denied, in the order of perms. The
// reviews go out together (at most reviewConcurrency at once): over a VPN each one costs a round
// trip, and a failover asks about twenty of them per site.
func CheckPermissions(ctx context.Context, s *kube.Site, perms []Permission) ([]Permission, error) {
	allowed := make([]bool, len(perms))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(reviewConcurrency)
	for i, p := range perms {
		g.Go(func() error {
			r := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
				ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: s.Namespace, Verb: p.Verb,
					Group: p.GVR.Group, Version: p.GVR.Version, Resource: p.GVR.Resource}}}
			got, err := s.Kube.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, r, metav1.CreateOptions{})
			if err != nil {
				return fmt.Errorf("checking permissions on %s: %w", s.Name, err)
			}
			allowed[i] = got.Status.Allowed
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var denied []Permission
	for i, p := range perms {
		if !allowed[i] {
			denied = append(denied, p)
		}
	}
	return denied, nil
}

// reviewConcurrency bounds the SelfSubjectAccessReviews in flight per site, well inside the
// client's rate limit (pkg/kube: 50 QPS, burst 100).
const reviewConcurrency = 8

// deniedText is "on dc1 (namespace apic): patch managementclusters..., list pods".
func deniedText(site, ns string, denied []Permission) string {
	parts := make([]string, len(denied))
	for i, p := range denied {
		parts[i] = p.String()
	}
	return fmt.Sprintf("on %s (namespace %s): %s", site, ns, strings.Join(parts, ", "))
}
