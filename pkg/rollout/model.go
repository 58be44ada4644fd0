package rollout

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/datapower"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/explain"
	"github.com/kubectl-apic/kubectl-apic/pkg/podstate"
)

// ProductVersionAnnotation is the annotation IBM's pods carry their product version in (IBM
// License Service annotations; IBM's "Troubleshooting upgrade on OpenShift", "Incorrect
// productVersion of gateway pods after upgrade", names the gateway pods' productVersion).
const ProductVersionAnnotation = "productVersion"

// revisionLabel is the StatefulSet controller's label on each pod: the revision it was created from.
const revisionLabel = appsv1.StatefulSetRevisionLabel

// Site is one data center: a kubeconfig context, the gateway's namespace there, its clients, and
// how to open a member's DataPower console there.
type Site struct {
	Name      string
	Namespace string
	Kube      kubernetes.Interface
	Dynamic   dynamic.Interface
	// Open attaches to a member's console, logs in and switches to the API Connect domain.
	Open func(ctx context.Context, pod, container string) (*datapower.Session, error)
}

// Gateway is a site's GatewayCluster as read now.
type Gateway struct {
	Site   *Site
	Object apic.Object
	// StatefulSet owns the member pods (nil when none was found).
	StatefulSet *appsv1.StatefulSet
	Members     []Member
}

// Member is one gateway pod.
type Member struct {
	Pod     string
	Ordinal int
	UID     types.UID
	Node    string
	Zone    string
	// IP is the pod IP: the member's address in gateway-peering-status.
	IP        string
	Ready     bool
	Problem   string
	Container string
	// Revision is the StatefulSet revision the pod was created from.
	Revision string
	// ProductVersion is the pod's productVersion annotation ("" when it has none).
	ProductVersion string
	// Started is when the DataPower container last started (zero when not running).
	Started time.Time
	// Terminating: the pod is being deleted.
	Terminating bool
}

// Version is spec.version of the GatewayCluster.
func (g *Gateway) Version() string { return g.Object.Version() }

// Name is the GatewayCluster's name.
func (g *Gateway) Name() string { return g.Object.Name() }

// Member returns the member whose pod is pod.
func (g *Gateway) Member(pod string) (Member, bool) {
	for _, m := range g.Members {
		if m.Pod == pod {
			return m, true
		}
	}
	return Member{}, false
}

// UpdateRevision is the StatefulSet's revision new pods are created from ("" without one).
func (g *Gateway) UpdateRevision() string {
	if g.StatefulSet == nil {
		return ""
	}
	return g.StatefulSet.Status.UpdateRevision
}

// RolledTo reports whether the StatefulSet's template is the one for version: spec.version is
// version, the StatefulSet controller has seen the latest template, and that template's
// productVersion (when it carries one, as IBM's gateway pods do) is version. Right after
// spec.version changes, the operator has not yet updated the StatefulSet: its update revision is
// still the old one, which every pod runs.
func (g *Gateway) RolledTo(version string) bool {
	sts := g.StatefulSet
	if sts == nil || g.Version() != version || sts.Status.ObservedGeneration < sts.Generation {
		return false
	}
	v, ok := sts.Spec.Template.Annotations[ProductVersionAnnotation]
	return !ok || v == version
}

// ReadGateway reads GatewayCluster name on site, its pods (labels crd.apiconnect.ibm.com/kind=
// datapower, crd.apiconnect.ibm.com/instance=<name>), the StatefulSet that owns them and their
// nodes' zones.
//
// The GatewayCluster, the pods and the nodes are read at once: the engine re-reads the gateway
// several times per member, and from a workstation far from the site each read in turn is a round
// trip (hack/bench/rollout).
func ReadGateway(ctx context.Context, site *Site, name string) (*Gateway, error) {
	gvr := apic.GatewayClusterKind.GVR()
	sel := labels.Set{apic.KindLabel: apic.DataPowerKindValue, apic.InstanceLabel: name}.String()
	var (
		u       *unstructured.Unstructured
		pods    *corev1.PodList
		zones   map[string]string
		err     error
		podsErr error
		wg      sync.WaitGroup
	)
	wg.Go(func() {
		u, err = site.Dynamic.Resource(gvr).Namespace(site.Namespace).Get(ctx, name, metav1.GetOptions{})
	})
	wg.Go(func() {
		pods, podsErr = site.Kube.CoreV1().Pods(site.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	})
	wg.Go(func() { zones = nodeZones(ctx, site.Kube) })
	wg.Wait()
	if apierrors.IsNotFound(err) {
		return nil, exitcode.Newf(exitcode.Usage, "GatewayCluster %q not found in namespace %q (context %s): see kubectl get gatewayclusters -n %s --context %s",
			name, site.Namespace, site.Name, site.Namespace, site.Name)
	}
	if err != nil {
		return nil, explain.Error(err, site.Name, gvr, "get")
	}
	obj, err := apic.Wrap(u)
	if err != nil {
		return nil, err
	}
	g := &Gateway{Site: site, Object: obj}
	if podsErr != nil {
		return nil, explain.Error(podsErr, site.Name, corev1.SchemeGroupVersion.WithResource("pods"), "list")
	}
	stsName := ""
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		m, err := memberOf(p)
		if err != nil {
			return nil, exitcode.Newf(exitcode.Error, "gateway pod %s/%s (context %s): %v", site.Namespace, p.Name, site.Name, err)
		}
		m.Zone = zones[m.Node]
		g.Members = append(g.Members, m)
		if ref := metav1.GetControllerOf(p); ref != nil && ref.Kind == "StatefulSet" {
			stsName = ref.Name
		}
	}
	sort.Slice(g.Members, func(i, j int) bool { return g.Members[i].Ordinal < g.Members[j].Ordinal })
	if stsName != "" {
		sts, err := site.Kube.AppsV1().StatefulSets(site.Namespace).Get(ctx, stsName, metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, explain.Error(err, site.Name, appsv1.SchemeGroupVersion.WithResource("statefulsets"), "get")
		}
		if err == nil {
			g.StatefulSet = sts
		}
	}
	return g, nil
}

// memberOf reads a gateway pod.
func memberOf(p *corev1.Pod) (Member, error) {
	c, err := datapower.ContainerFor(p)
	if err != nil {
		return Member{}, err
	}
	m := Member{Pod: p.Name, Ordinal: ordinal(p.Name), UID: p.UID, Node: p.Spec.NodeName, IP: p.Status.PodIP,
		Container: c, Revision: p.Labels[revisionLabel], ProductVersion: p.Annotations[ProductVersionAnnotation],
		Terminating: p.DeletionTimestamp != nil}
	m.Problem = podstate.Problem(p)
	m.Ready = m.Problem == ""
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == c && cs.State.Running != nil {
			m.Started = cs.State.Running.StartedAt.Time
		}
	}
	return m, nil
}

// ordinal is the StatefulSet ordinal at the end of a pod's name (-1 when there is none).
func ordinal(pod string) int {
	i := strings.LastIndexByte(pod, '-')
	if i < 0 {
		return -1
	}
	n, err := strconv.Atoi(pod[i+1:])
	if err != nil {
		return -1
	}
	return n
}

// nodeZones maps node names to their topology.kubernetes.io/zone; empty when nodes cannot be read
// (zones are shown, not needed).
func nodeZones(ctx context.Context, kube kubernetes.Interface) map[string]string {
	out := map[string]string{}
	nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return out
	}
	for _, n := range nodes.Items {
		out[n.Name] = n.Labels[apic.ZoneLabel]
	}
	return out
}

// memberRef names a member in messages: site/pod.
func memberRef(site, pod string) string { return fmt.Sprintf("%s/%s", site, pod) }
