// Package failover is the mechanics of IBM's 2DCDR failover runbook ("Failing over to the
// warm-standby", seed 002): reading both sites, judging whether a failover may start or resume,
// planning the documented steps, and running them with watches, timeouts and a journal so that an
// interrupted run can be resumed by running the same command again.
//
// The one rule it never breaks: the promote patch is sent only after re-reading --from and seeing it
// in a passive state (or, with the active site down, after the user confirmed it is fenced).
//
// Layout: an engine, the mechanics of one command (kubectl apic failover), imported by
// plugins/failover alone (README, "Code layout", tested by internal/layout). What another command
// needs goes into a shared package (pkg/hastate, pkg/inventory, pkg/lock, ...).
package failover

import (
	"cmp"
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/explain"
	"github.com/kubectl-apic/kubectl-apic/pkg/hastate"
	"github.com/kubectl-apic/kubectl-apic/pkg/inventory"
	"github.com/kubectl-apic/kubectl-apic/pkg/kube"
)

// haKinds are the kinds a failover reads: the subsystem CRs carrying haMode and the top-level CR
// that owns them on Cloud Pak for Integration.
func haKinds() []apic.Kind {
	return []apic.Kind{apic.ManagementClusterKind, apic.PortalClusterKind, apic.APIConnectClusterKind}
}

// ReadSite lists a site's management, portal and APIConnectCluster objects in its namespace
// (pkg/inventory). A missing APIConnectCluster CRD is normal (the subsystem-CR shape); other errors
// are explained.
func ReadSite(ctx context.Context, s *kube.Site) hastate.SiteObjects {
	snap, err := inventory.Read(ctx, inventory.ClientsOf(s), inventory.Request{Namespace: s.Namespace, Kinds: haKinds()})
	if err != nil {
		return hastate.SiteObjects{Site: s.Name, Err: err}
	}
	return hastate.SiteObjects{Site: s.Name, Objects: snap.Objects}
}

// Shape is the deployment shape of a site: where multiSiteHA.mode is set.
type Shape string

const (
	ShapeSubsystems Shape = "subsystems" // mgmt/ptl CRs
	ShapeTopLevel   Shape = "toplevel"   // APIConnectCluster (CP4I, OpenShift)
)

// ShapeOf is the shape of a member: top-level when its mode lives on an APIConnectCluster.
func ShapeOf(m hastate.Member) Shape {
	if m.TopLevel() {
		return ShapeTopLevel
	}
	return ShapeSubsystems
}

// getObject reads one object live (for the re-read before promotion and for waits).
func getObject(ctx context.Context, s *kube.Site, k apic.Kind, name string) (apic.Object, error) {
	u, err := s.Dynamic.Resource(k.GVR()).Namespace(s.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return apic.Object{}, explain.Error(err, s.Name, k.GVR(), "get")
	}
	return apic.Object{Kind: k, U: u}, nil
}

// describe is the one-line state shown in progress: haMode, the True haStatus and the phase.
func describe(o apic.Object) string {
	s := "haMode=" + cmp.Or(o.HAMode(), "(none)")
	if c, ok := o.ActiveHAStatus(); ok {
		s += " haStatus=" + c.Type
	}
	return s + " phase=" + cmp.Or(o.Phase(), "(none)")
}

var batchJobs = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}

func isNotFound(err error) bool { return apierrors.IsNotFound(err) }
