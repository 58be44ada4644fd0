package operator

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

// Workloads simulator: IBM's operators run each subsystem as StatefulSets (for the gateway through a
// DataPowerService) and pass a template entry's overrides to the StatefulSet (seed 003: "IBM API
// Connect and DataPower operators will pass this section to statefulset definition for DataPower").
// The lab's real scheduler places these pods and a fake kubelet runs them.

// Label keys the simulator puts on its pods besides apic.InstanceLabel and apic.KindLabel.
const (
	nameLabel      = "app.kubernetes.io/name"
	instanceLabel  = "app.kubernetes.io/instance"
	managedByLabel = "app.kubernetes.io/managed-by"
	managedBy      = "apiconnect-operator-simulator"
	// specHashAnnotation lets the simulator update a StatefulSet only when what it renders changes
	// (the API server defaults many pod fields, so comparing specs directly would never settle).
	specHashAnnotation = "simulator.kubectl-apic.io/spec-hash"
	hostnameTopology   = "kubernetes.io/hostname"
)

// msPods counts one microservice's pods.
type msPods struct {
	ms             string
	ready, desired int32
}

type podCounts []msPods

// totals sums ready and desired pods; with transitional set, the backend microservice's ready pods
// are not counted (see syncSubsystem).
func (p podCounts) totals(transitional bool, backend string) (ready, desired int32) {
	for _, m := range p {
		desired += m.desired
		if transitional && m.ms == backend {
			continue
		}
		ready += m.ready
	}
	return ready, desired
}

// syncWorkloads renders and applies the StatefulSets of obj (and, for a gateway, its DataPowerService)
// and returns their pod counts.
func (o *Operator) syncWorkloads(ctx context.Context, obj apic.Object) (podCounts, error) {
	sub := obj.Kind.Subsystem
	entries, err := obj.Template(sub)
	if err != nil {
		return nil, err
	}
	var out podCounts
	var gatewayEntry map[string]interface{}
	for _, ms := range apic.OverridableMicroservices(sub) {
		entry := findEntry(entries, obj.TemplateEntryName(sub, ms))
		name, kindValue := obj.Name()+"-"+ms, string(sub)
		replicas := entryReplicas(entry, obj.ProfileReplicas())
		if sub == apic.Gateway {
			// The gateway StatefulSet is named after the CR; its pods carry kind=datapower (seed 003).
			name, kindValue = obj.Name(), apic.DataPowerKindValue
			replicas = int32(obj.Replicas())
			if replicas <= 0 {
				replicas = 1
			}
			gatewayEntry = entry
		}
		if enabled, ok := entry["enabled"].(bool); ok && !enabled {
			replicas = 0 // template entry field "enabled" (apic-reference.md)
		}
		sts, err := renderStatefulSet(obj, ms, name, kindValue, replicas, entry)
		if err != nil {
			return out, err
		}
		if sub == apic.Gateway {
			dp, err := o.getDataPowerService(ctx, obj)
			if err == nil {
				err = withDataPowerRollout(sts, dp)
			}
			if err != nil {
				return out, err
			}
		}
		ready, err := o.applyStatefulSet(ctx, sts)
		if err != nil {
			return out, err
		}
		out = append(out, msPods{ms: ms, ready: ready, desired: replicas})
	}
	if sub == apic.Gateway && len(out) == 1 {
		if err := o.syncDataPowerService(ctx, obj, out[0], gatewayEntry); err != nil {
			return out, err
		}
	}
	return out, nil
}

func findEntry(entries []map[string]interface{}, name string) map[string]interface{} {
	for _, e := range entries {
		if e["name"] == name {
			return e
		}
	}
	return nil
}

// entryReplicas is the entry's replicaCount, else the profile's count (n1→1, n3→3), else 1.
func entryReplicas(entry map[string]interface{}, profile int) int32 {
	switch n := entry["replicaCount"].(type) {
	case int64:
		return int32(n)
	case float64:
		return int32(n)
	case int:
		return int32(n)
	}
	if profile > 0 {
		return int32(profile)
	}
	return 1
}

// IBM License Service annotations on the gateway pods (IBM "Troubleshooting upgrade on OpenShift",
// "Incorrect productVersion of gateway pods after upgrade", names the gateway pods' productVersion):
// productVersion is the GatewayCluster's spec.version, so a pod shows the version it was created
// for. Other License Service annotations (productID, productMetric, productChargedContainers) are
// left out: their gateway values were not found.
const (
	ProductVersionAnnotation = "productVersion"
	ProductNameAnnotation    = "productName"
	DataPowerProductName     = "IBM DataPower Gateway"
)

// SidecarAnnotation on a GatewayCluster adds a second container of that name to its gateway pods,
// before the datapower container (a lab option, as a service mesh or log shipper would inject
// one): its attach is not the DataPower console.
const SidecarAnnotation = "lab.kubectl-apic.io/sidecar"

// renderStatefulSet is the simulated operator's StatefulSet for microservice ms of obj.
func renderStatefulSet(obj apic.Object, ms, name, kindValue string, replicas int32, entry map[string]interface{}) (*appsv1.StatefulSet, error) {
	labels := map[string]string{
		apic.InstanceLabel: obj.Name(),
		apic.KindLabel:     kindValue,
		nameLabel:          ms,
		instanceLabel:      obj.Name(),
		managedByLabel:     managedBy,
	}
	var affinity *corev1.Affinity
	var err error
	if kindValue == apic.DataPowerKindValue {
		// The DataPower operator's pod labels, which its default anti-affinity selects.
		labels[dpAppLabel], labels[dpReleaseLabel] = dpAppValue, name
		affinity, err = gatewayAffinity(name, entry)
	} else {
		affinity, err = mergedAffinity(obj.Name(), ms, kindValue, entry)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: template entry %q: affinity: %w", obj.Ref(), obj.TemplateEntryName(obj.Kind.Subsystem, ms), err)
	}
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: obj.Namespace(), Labels: labels, OwnerReferences: ownerRefs(obj.U)},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    ptr.To(replicas),
			ServiceName: name,
			Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{apic.InstanceLabel: obj.Name(), nameLabel: ms}},
			// Parallel and RollingUpdate keep the lab's restarts fast (our choice).
			PodManagementPolicy: appsv1.ParallelPodManagement,
			UpdateStrategy:      appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Affinity:                      affinity,
					TerminationGracePeriodSeconds: ptr.To[int64](0),
					Containers: []corev1.Container{{
						Name:  ms,
						Image: "sim.local/" + ms + ":" + versionOf(obj),
						// Tiny requests so that every subsystem of a site fits on the lab's nodes.
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
							corev1.ResourceCPU:    resource.MustParse("5m"),
							corev1.ResourceMemory: resource.MustParse("8Mi"),
						}},
						// The DataPower console is the container's terminal: IBM's DRR runbook
						// (seed 000) attaches with `kubectl attach -it` and detaches with Ctrl-P
						// Ctrl-Q, which needs a container with stdin and a TTY.
						Stdin: ms == "datapower",
						TTY:   ms == "datapower",
					}},
				},
			},
		},
	}
	if kindValue == apic.DataPowerKindValue {
		if err := applyGatewayLifecycle(obj, &sts.Spec.Template.Spec); err != nil {
			return nil, err
		}
		sts.Spec.Template.Annotations = map[string]string{
			ProductNameAnnotation:    DataPowerProductName,
			ProductVersionAnnotation: versionOf(obj),
		}
	}
	if side := obj.U.GetAnnotations()[SidecarAnnotation]; side != "" && kindValue == apic.DataPowerKindValue {
		// Before DataPower, so that a client picking the first container gets the wrong one.
		c := sts.Spec.Template.Spec.Containers
		sts.Spec.Template.Spec.Containers = append([]corev1.Container{{Name: side, Image: "sim.local/" + side + ":1",
			Resources: c[0].Resources}}, c...)
	}
	hash, err := specHash(sts.Spec)
	if err != nil {
		return nil, err
	}
	sts.Annotations = map[string]string{specHashAnnotation: hash}
	return sts, nil
}

// mergedAffinity is the API Connect operator's default for the microservices other than the gateway
// — soft (preferred) pod anti-affinity on the node level, which seed 003 says IBM's operator applies —
// plus the template entry's "affinity" override (a core/v1 Affinity, the shape pkg/apic/template.go
// documents). Anti-affinity terms of the override are added to the default's; its node and pod
// affinity are taken as they are. IBM documents neither this default's weight (the simulator uses
// 100, the weight of IBM's own override sample) nor whether an override replaces it (our choice:
// merged). The gateway's is the DataPower operator's, which an override replaces: gatewayAffinity.
func mergedAffinity(instance, ms, kindValue string, entry map[string]interface{}) (*corev1.Affinity, error) {
	sel := map[string]string{apic.InstanceLabel: instance, apic.KindLabel: kindValue, nameLabel: ms}
	a := &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
			Weight: 100,
			PodAffinityTerm: corev1.PodAffinityTerm{
				LabelSelector: &metav1.LabelSelector{MatchLabels: sel},
				TopologyKey:   hostnameTopology,
			},
		}},
	}}
	raw, err := entryAffinity(entry)
	if err != nil || raw == nil {
		return a, err
	}
	override := &corev1.Affinity{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(raw, override, true); err != nil {
		return nil, err
	}
	a.NodeAffinity, a.PodAffinity = override.NodeAffinity, override.PodAffinity
	if anti := override.PodAntiAffinity; anti != nil {
		a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(
			a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution, anti.PreferredDuringSchedulingIgnoredDuringExecution...)
		a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution = anti.RequiredDuringSchedulingIgnoredDuringExecution
	}
	return a, nil
}

func specHash(spec appsv1.StatefulSetSpec) (string, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return "", err
	}
	h := fnv.New64a()
	_, _ = h.Write(b)
	return fmt.Sprintf("%016x", h.Sum64()), nil
}

// applyStatefulSet creates want or, when its rendering changed, updates replicas and the pod template
// (the real StatefulSet controller then rolls the pods). It returns the ready replicas.
func (o *Operator) applyStatefulSet(ctx context.Context, want *appsv1.StatefulSet) (int32, error) {
	c := o.self.Kube.AppsV1().StatefulSets(want.Namespace)
	have, err := c.Get(ctx, want.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = c.Create(ctx, want, metav1.CreateOptions{})
		if err == nil {
			o.logf("operator simulator %s: created statefulset %s", o.self.Name, want.Name)
		}
		return 0, err
	}
	if err != nil {
		return 0, err
	}
	if have.Annotations[specHashAnnotation] != want.Annotations[specHashAnnotation] {
		upd := have.DeepCopy()
		if upd.Annotations == nil {
			upd.Annotations = map[string]string{}
		}
		upd.Annotations[specHashAnnotation] = want.Annotations[specHashAnnotation]
		upd.Labels = want.Labels
		upd.Spec.Replicas = want.Spec.Replicas
		upd.Spec.Template = want.Spec.Template
		// podManagementPolicy cannot change on a StatefulSet; the update strategy can.
		upd.Spec.UpdateStrategy = want.Spec.UpdateStrategy
		if _, err := c.Update(ctx, upd, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) {
			return have.Status.ReadyReplicas, err
		}
		o.logf("operator simulator %s: updated statefulset %s", o.self.Name, want.Name)
	}
	return have.Status.ReadyReplicas, nil
}

// ownerRefs makes u the controller of what the simulator creates for it, so the real garbage
// collector removes it with u. Objects without a UID (fake clients) get none.
func ownerRefs(u *unstructured.Unstructured) []metav1.OwnerReference {
	if u.GetUID() == "" {
		return nil
	}
	return []metav1.OwnerReference{{
		APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Name: u.GetName(), UID: u.GetUID(), Controller: ptr.To(true),
	}}
}
