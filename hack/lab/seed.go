package lab

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

// The lab's API Connect installation: names follow IBM's examples (production-mgmt, seed 002).
const (
	TopLevelName  = "production"
	MgmtName      = "production-mgmt"
	PortalName    = "production-ptl"
	AnalyticsName = "production-a7s"
	GatewayName   = "production-gw"
	// AdminSecretName holds the simulated DataPower admin password (key "password", user "admin"),
	// referenced by the GatewayCluster's spec.adminUser.secretName.
	AdminSecretName = "gw-admin"
	Version         = "10.0.8.0"
	// Profile n3xc4.m16: three replicas of each microservice (the digit after n, apic-reference.md).
	Profile = "n3xc4.m16"
	// WorkloadsNamespace holds the pods that stand in for a cluster's other work (see busyNodes).
	WorkloadsNamespace = "workloads"
)

// replicationFQDN is a site's simulated replication endpoint host.
func replicationFQDN(sub, site string) string { return sub + "-replication." + site + ".apic.lab" }

// seed creates the namespace, the gateway admin Secret and the API Connect custom resources of one
// site: active or warm-standby, in the subsystem-CR shape or the top-level APIConnectCluster shape.
func seed(ctx context.Context, s *Site, peer string, active bool, shape Shape, gateways []GatewaySpec, portals []string) error {
	ns := s.Namespace
	if _, err := s.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: AdminSecretName, Namespace: ns},
		Type:       corev1.SecretTypeOpaque,
		StringData: map[string]string{"password": s.AdminPassword},
	}
	if _, err := s.Kube.CoreV1().Secrets(ns).Create(ctx, secret, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	mode := apic.ModePassive
	if active {
		mode = apic.ModeActive
	}
	ha := func(sub string) map[string]interface{} {
		return map[string]interface{}{
			"mode":                mode,
			"replicationPeerFQDN": replicationFQDN(sub, peer),
			"replicationEndpoint": map[string]interface{}{
				"hosts": []interface{}{map[string]interface{}{"name": replicationFQDN(sub, s.Name), "secretName": s.Name + "-" + sub + "-replication"}},
			},
			"tlsClient": map[string]interface{}{"secretName": s.Name + "-" + sub + "-replication-client"},
		}
	}
	gw := func(g GatewaySpec) map[string]interface{} {
		spec := map[string]interface{}{
			"version": Version, "profile": fmt.Sprintf("n%dxc4.m8", g.Replicas),
			"adminUser":                             map[string]interface{}{"secretName": AdminSecretName},
			"apicGatewayServiceV5CompatibilityMode": false,
			"license":                               map[string]interface{}{"accept": true, "use": "production"},
		}
		return spec
	}
	var objs []apic.Object
	switch shape {
	case ShapeTopLevel:
		o := apic.New(apic.APIConnectClusterKind, ns, TopLevelName)
		o.U.Object["spec"] = map[string]interface{}{
			"version": Version, "profile": Profile,
			"license":    map[string]interface{}{"accept": true, "use": "production"},
			"management": map[string]interface{}{"siteName": s.Name, "multiSiteHA": ha("mgmt")},
			"portal":     map[string]interface{}{"siteName": s.Name, "multiSiteHA": ha("ptl")},
			"analytics":  map[string]interface{}{},
			"gateway":    gw(gateways[0]),
		}
		objs = append(objs, o)
	default:
		mk := func(k apic.Kind, name string, spec map[string]interface{}) {
			o := apic.New(k, ns, name)
			o.U.Object["spec"] = spec
			objs = append(objs, o)
		}
		mk(apic.ManagementClusterKind, MgmtName, map[string]interface{}{"version": Version, "profile": Profile, "siteName": s.Name, "multiSiteHA": ha("mgmt")})
		for _, name := range portals {
			sub := "ptl"
			if name != PortalName {
				sub = name // each portal service replicates to its own peer endpoint
			}
			mk(apic.PortalClusterKind, name, map[string]interface{}{"version": Version, "profile": Profile, "siteName": s.Name, "multiSiteHA": ha(sub)})
		}
		mk(apic.AnalyticsClusterKind, AnalyticsName, map[string]interface{}{"version": Version, "profile": Profile})
		for _, g := range gateways {
			mk(apic.GatewayClusterKind, g.Name, gw(g))
		}
	}
	for _, o := range objs {
		if _, err := s.Dynamic.Resource(o.Kind.GVR()).Namespace(ns).Create(ctx, o.U, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating %s: %w", o.Ref(), err)
		}
	}
	return nil
}

// busyNodes stands in for the rest of a real cluster's work: a large pod pinned to every node outside
// the first zone, so the scheduler prefers the first zone's nodes and the operator's soft node
// anti-affinity alone lets two of three gateways share a zone (seed 003's "undesired placement").
func busyNodes(ctx context.Context, s *Site, nodes []NodeSpec) error {
	if _, err := s.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: WorkloadsNamespace}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	if len(nodes) == 0 {
		return nil
	}
	first := nodes[0].Zone
	for _, n := range nodes {
		if n.Zone == first || n.Zone == "" {
			continue
		}
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "other-work-" + n.Name, Namespace: WorkloadsNamespace,
				Labels: map[string]string{"app.kubernetes.io/name": "other-work"}},
			Spec: corev1.PodSpec{
				NodeName: n.Name,
				Containers: []corev1.Container{{Name: "work", Image: "sim.local/other-work:1",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
						corev1.ResourceCPU: resource.MustParse("12"), corev1.ResourceMemory: resource.MustParse("32Gi")}}}},
			},
		}
		if _, err := s.Kube.CoreV1().Pods(WorkloadsNamespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	return nil
}

// randomPassword is the simulated admin password of one lab run; tests read it from the Secret to
// prove it never leaks.
func randomPassword() string {
	b := make([]byte, 15)
	_, _ = rand.Read(b)
	return "Sim-" + strings.ToLower(base32.StdEncoding.EncodeToString(b))
}
