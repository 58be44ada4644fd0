// Package inventory reads what one site (kubeconfig context) holds of an API Connect installation:
// its API Connect custom resources, the pods those resources own and the nodes' zones. It reads
// with one LIST per resource kind, the kinds in parallel, so a status or a pre-flight check costs
// the same few requests however big the cluster is:
//
//   - each API Connect kind (apic.Kinds()) through the dynamic client; a kind the server does not
//     serve (no CRD, e.g. no DataPower operator) is recorded in Snapshot.Missing, not an error;
//   - pods label-selected by crd.apiconnect.ibm.com/instance (exists): only the pods API Connect's
//     operators create, never the rest of a large cluster;
//   - nodes metadata-only (the metadata client): only their names and zone labels are needed.
//
// Watch keeps a Snapshot current from watches started at the LISTs' resourceVersions, for
// commands that re-render on change. The status command and the failover command's reads share it.
package inventory

import (
	"context"
	"errors"
	"slices"
	"sort"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/explain"
	"github.com/kubectl-apic/kubectl-apic/pkg/kube"
)

// Resources named in requests and errors for the core kinds.
var (
	PodsGVR  = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	NodesGVR = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}
)

// Request says what to read. The zero value reads every API Connect kind in all namespaces and
// neither pods nor nodes.
type Request struct {
	// Namespace limits the namespaced reads; "" is all namespaces.
	Namespace string
	// Kinds to list; nil means apic.Kinds().
	Kinds []apic.Kind
	// Pods lists the API Connect pods (label crd.apiconnect.ibm.com/instance exists).
	Pods bool
	// Nodes lists nodes, metadata only.
	Nodes bool
	// WatchFailed, for Watch only, is told of every failure to (re)start a watch. client-go's
	// RetryWatcher retries those by itself and only logs them, so without this a caller would not
	// notice that the site stopped answering.
	WatchFailed func(error)
}

func (r Request) kinds() []apic.Kind {
	if r.Kinds == nil {
		return apic.Kinds()
	}
	return r.Kinds
}

// PodSelector is the label selector of the pods API Connect's operators create.
func PodSelector() string {
	req, _ := labels.NewRequirement(apic.InstanceLabel, selection.Exists, nil)
	return labels.NewSelector().Add(*req).String()
}

// Clients are the clients a read needs; kube.Site provides them.
type Clients struct {
	Site     string // context name, for messages
	Dynamic  dynamic.Interface
	Kube     kubernetes.Interface
	Metadata metadata.Interface
}

// ClientsOf returns the clients of a site.
func ClientsOf(s *kube.Site) Clients {
	return Clients{Site: s.Name, Dynamic: s.Dynamic, Kube: s.Kube, Metadata: s.Metadata}
}

// Snapshot is one site's API Connect state at one point.
type Snapshot struct {
	Site string
	// Objects are the API Connect objects in apic.Kinds() order, then by namespace and name.
	Objects []apic.Object
	// Missing are the kinds the server does not serve (their CRD is not installed).
	Missing []apic.Kind
	Pods    []corev1.Pod
	Nodes   []metav1.PartialObjectMetadata
	// ResourceVersions of each LIST, keyed by resource (GVR.String()), where Watch starts.
	ResourceVersions map[string]string
}

// ObjectsOf returns the objects of kind k.
func (s *Snapshot) ObjectsOf(k apic.Kind) []apic.Object {
	var out []apic.Object
	for _, o := range s.Objects {
		if o.Kind.Kind == k.Kind {
			out = append(out, o)
		}
	}
	return out
}

// IsMissing reports whether kind k is not served by the site.
func (s *Snapshot) IsMissing(k apic.Kind) bool {
	return slices.ContainsFunc(s.Missing, sameKind(k))
}

// PodsOfInstance returns the pods labelled crd.apiconnect.ibm.com/instance=name in namespace ns.
func (s *Snapshot) PodsOfInstance(ns, name string) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range s.Pods {
		if p.Namespace == ns && p.Labels[apic.InstanceLabel] == name {
			out = append(out, p)
		}
	}
	return out
}

// NodeZones maps node names to their topology.kubernetes.io/zone label ("" when unlabelled).
func (s *Snapshot) NodeZones() map[string]string {
	out := make(map[string]string, len(s.Nodes))
	for _, n := range s.Nodes {
		out[n.Name] = n.Labels[apic.ZoneLabel]
	}
	return out
}

// ErrNoAPIConnectCRDs is wrapped by Read's error when the site serves none of the API Connect
// subsystem kinds.
var ErrNoAPIConnectCRDs = errors.New("no API Connect CRDs")

// noCRDsError keeps pkg/explain's wording and exit code and adds ErrNoAPIConnectCRDs for errors.Is.
type noCRDsError struct{ err error }

func (e *noCRDsError) Error() string   { return e.err.Error() }
func (e *noCRDsError) Unwrap() []error { return []error{e.err, ErrNoAPIConnectCRDs} }

// Read lists what req asks for, every resource in parallel, one LIST each. Errors are explained
// (pkg/explain) with the site's name: an unreachable site, a forbidden LIST or a site without any
// API Connect CRD fails the read; a missing kind among others does not.
func Read(ctx context.Context, c Clients, req Request) (*Snapshot, error) {
	kinds := req.kinds()
	lists := make([]*unstructured.UnstructuredList, len(kinds))
	kindErrs := make([]error, len(kinds))
	snap := &Snapshot{Site: c.Site, ResourceVersions: map[string]string{}}
	var podErr, nodeErr error
	var pods *corev1.PodList
	var nodes *metav1.PartialObjectMetadataList

	// Every LIST runs to its end: a kind that is not served is not an error (errors are sorted out
	// below), so the group is not WithContext and its functions return nil.
	var g errgroup.Group
	for i, k := range kinds {
		g.Go(func() error {
			lists[i], kindErrs[i] = c.Dynamic.Resource(k.GVR()).Namespace(req.Namespace).List(ctx, metav1.ListOptions{})
			return nil
		})
	}
	if req.Pods {
		g.Go(func() error {
			pods, podErr = c.Kube.CoreV1().Pods(req.Namespace).List(ctx, metav1.ListOptions{LabelSelector: PodSelector()})
			return nil
		})
	}
	if req.Nodes {
		g.Go(func() error {
			nodes, nodeErr = c.Metadata.Resource(NodesGVR).List(ctx, metav1.ListOptions{})
			return nil
		})
	}
	_ = g.Wait()

	// The first hard error wins; connection errors are the same for every call, so any one says it.
	var firstMissing error
	served := 0
	for i, k := range kinds {
		err := kindErrs[i]
		switch {
		case err == nil:
			served++
			snap.ResourceVersions[k.GVR().String()] = lists[i].GetResourceVersion()
			for j := range lists[i].Items {
				snap.Objects = append(snap.Objects, apic.Object{Kind: k, U: &lists[i].Items[j]})
			}
		case IsNotServed(err):
			snap.Missing = append(snap.Missing, k)
			if firstMissing == nil || k.Subsystem != "" {
				firstMissing = explain.Error(err, c.Site, k.GVR(), "list")
			}
		default:
			return nil, explain.Error(err, c.Site, k.GVR(), "list")
		}
	}
	if podErr != nil {
		return nil, explain.Error(podErr, c.Site, PodsGVR, "list")
	}
	if nodeErr != nil {
		return nil, explain.Error(nodeErr, c.Site, NodesGVR, "list")
	}
	if firstMissing != nil && (served == 0 || !servesAnySubsystem(kinds, snap.Missing)) {
		return nil, &noCRDsError{firstMissing}
	}
	sortObjects(snap.Objects)
	if pods != nil {
		snap.Pods = pods.Items
		snap.ResourceVersions[PodsGVR.String()] = pods.ResourceVersion
		sort.Slice(snap.Pods, func(i, j int) bool { return podKey(&snap.Pods[i]) < podKey(&snap.Pods[j]) })
	}
	if nodes != nil {
		snap.Nodes = nodes.Items
		snap.ResourceVersions[NodesGVR.String()] = nodes.ResourceVersion
		sort.Slice(snap.Nodes, func(i, j int) bool { return snap.Nodes[i].Name < snap.Nodes[j].Name })
	}
	return snap, nil
}

// servesAnySubsystem reports whether some requested API Connect kind other than DataPowerService
// is served: a cluster with only the DataPower operator is not an API Connect cluster.
func servesAnySubsystem(kinds, missing []apic.Kind) bool {
	for _, k := range kinds {
		if k.Kind == apic.DataPowerServiceKind.Kind {
			continue
		}
		if !slices.ContainsFunc(missing, sameKind(k)) {
			return true
		}
	}
	return false
}

// IsNotServed reports whether err says the resource is not served (no CRD): a 404 without an
// object name, or a REST mapping miss.
func IsNotServed(err error) bool {
	if meta.IsNoMatchError(err) {
		return true
	}
	var st apierrors.APIStatus
	if errors.As(err, &st) && apierrors.IsNotFound(err) {
		d := st.Status().Details
		return d == nil || d.Name == ""
	}
	return false
}

// sameKind matches the kinds of k's name.
func sameKind(k apic.Kind) func(apic.Kind) bool {
	return func(x apic.Kind) bool { return x.Kind == k.Kind }
}

func kindIndex(k apic.Kind) int {
	if i := slices.IndexFunc(apic.Kinds(), sameKind(k)); i >= 0 {
		return i
	}
	return len(apic.Kinds())
}

func sortObjects(objs []apic.Object) {
	sort.SliceStable(objs, func(i, j int) bool {
		a, b := objs[i], objs[j]
		if ka, kb := kindIndex(a.Kind), kindIndex(b.Kind); ka != kb {
			return ka < kb
		}
		if a.Namespace() != b.Namespace() {
			return a.Namespace() < b.Namespace()
		}
		return a.Name() < b.Name()
	})
}

func podKey(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }
