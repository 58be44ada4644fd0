package operator

import (
	"context"
	"fmt"
	"runtime"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	runtimeconv "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

// The DataPowerService the API Connect operator keeps for a gateway, and what the DataPower operator
// does with it, in IBM's real shape (IBM/datapower-operator-chart CRD, operator 1.18.3; fixtures
// crds/datapowerservices.datapower.ibm.com.yaml and objects/datapowerservice-*.yaml, which the lab
// installs and writes). docs/fidelity.md lists what is documented and what is our choice.

// DataPower operator labels on its pods (IBM/datapower-operator-doc v1beta3 "affinity": the default
// anti-affinity selects app: datapower, release: <DataPowerService name>).
const (
	dpAppLabel     = "app"
	dpAppValue     = "datapower"
	dpReleaseLabel = "release"
)

// Values the simulator writes where IBM shows what the field is but not what API Connect's operator
// puts in it (our choices, docs/fidelity.md).
const (
	// dpLicenseID is a DataPower license ID from the real CRD's enumeration (the one of IBM's
	// v1beta3 license example); which one API Connect's operator picks was not found.
	dpLicenseID = "L-RJON-BXENBR"
	// dpDefaultAdminSecret is the DataPower operator's default admin Secret (v1beta3 "users").
	dpDefaultAdminSecret = "admin-credentials"
	// dpReasonNotReady, dpPendingReason and dpPendingMessage: fixture datapowerservice-pending.yaml
	// (invented there: no public sample of a DataPowerService that is not Ready was found).
	dpReasonNotReady = "StatefulSetNotReady"
	dpPendingReason  = "Reconciling"
	dpPendingMessage = "Reconciling the StatefulSet"
	// dpReasonReady and the message format are IBM's (v1beta3 "Status": StatefulSetReady,
	// "StatefulSet replicas ready: 3/3").
	dpReasonReady = "StatefulSetReady"
)

// dataPowerDefaultAffinity is the DataPower operator's default for DataPowerService name, used when
// spec.affinity is empty (IBM/datapower-operator-doc v1beta3 "affinity": required node affinity on
// the architecture, preferred pod anti-affinity of weight 1 on kubernetes.io/hostname selecting
// app: datapower, release: <name>). IBM's example keys the node term on the deprecated
// beta.kubernetes.io/arch with [amd64]; the simulator uses its GA name kubernetes.io/arch, which
// the lab's nodes carry, and adds the lab host's own architecture when it is not amd64.
func dataPowerDefaultAffinity(name string) *corev1.Affinity {
	arches := []string{"amd64"}
	if runtime.GOARCH != "amd64" {
		arches = append(arches, runtime.GOARCH)
	}
	return &corev1.Affinity{
		NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
				Key: corev1.LabelArchStable, Operator: corev1.NodeSelectorOpIn, Values: arches,
			}}}},
		}},
		PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
			Weight: 1,
			PodAffinityTerm: corev1.PodAffinityTerm{
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{dpAppLabel: dpAppValue, dpReleaseLabel: name}},
				TopologyKey:   hostnameTopology,
			},
		}}},
	}
}

// gatewayAffinity is the gateway pods' affinity: the template entry's "affinity" override, which
// the simulated API Connect operator passes to the DataPowerService's spec.affinity (seed 003: the
// operators "pass this section to statefulset definition for DataPower"; how exactly was not found),
// where it REPLACES the DataPower operator's default (IBM/datapower-operator-doc v1beta3: "When no
// Affinity is specified, the defaults ... are used"); without one, the default.
func gatewayAffinity(name string, entry map[string]interface{}) (*corev1.Affinity, error) {
	raw, err := entryAffinity(entry)
	if err != nil || raw == nil {
		return dataPowerDefaultAffinity(name), err
	}
	a := &corev1.Affinity{}
	if err := runtimeconv.DefaultUnstructuredConverter.FromUnstructuredWithValidation(raw, a, true); err != nil {
		return nil, err
	}
	return a, nil
}

// entryAffinity is the template entry's "affinity" object; nil when there is none.
func entryAffinity(entry map[string]interface{}) (map[string]interface{}, error) {
	switch a := entry["affinity"].(type) {
	case nil:
		return nil, nil
	case map[string]interface{}:
		return a, nil
	}
	return nil, fmt.Errorf("not an object")
}

// dataPowerSpec is what the simulated API Connect operator sets in the DataPowerService of gateway
// gw: the CRD's required fields (license, replicas, users, version) and spec.affinity from the
// template entry. Other spec fields (podManagementPolicy, updateStrategy, ...) are left to whoever
// sets them.
func dataPowerSpec(gw apic.Object, replicas int32, entry map[string]interface{}) (map[string]interface{}, error) {
	use, _, _ := unstructured.NestedString(gw.U.Object, "spec", "license", "use")
	if use != "production" {
		use = "nonproduction" // the two values IBM allows on Cloud Pak for Integration
	}
	secret := gw.AdminSecretName()
	if secret == "" {
		secret = dpDefaultAdminSecret
	}
	spec := map[string]interface{}{
		"license":  map[string]interface{}{"accept": true, "license": dpLicenseID, "use": use},
		"replicas": int64(replicas),
		"users": []interface{}{map[string]interface{}{
			"name": "admin", "accessLevel": "privileged", "passwordSecret": secret,
		}},
		"version": versionOf(gw),
	}
	aff, err := entryAffinity(entry)
	if err != nil {
		return nil, fmt.Errorf("%s: template entry %q: affinity: %w", gw.Ref(), gw.TemplateEntryName(apic.Gateway, "datapower"), err)
	}
	spec["affinity"] = nil // removed by the merge below when the override is gone
	if aff != nil {
		spec["affinity"] = runtimeconv.DeepCopyJSON(aff)
	}
	return spec, nil
}

// syncDataPowerService keeps the DataPowerService of gateway gw: the spec dataPowerSpec says, merged
// into what is there (fields others set survive), and the status the DataPower operator writes
// (v1beta3 "Status"): phase Pending until every pod is ready, then Running; the Ready condition with
// "StatefulSet replicas ready: r/d"; a Pending condition only while not Ready; customImages,
// mgmtPorts, pods, versions.
func (o *Operator) syncDataPowerService(ctx context.Context, gw apic.Object, pods msPods, entry map[string]interface{}) error {
	k := apic.DataPowerServiceKind
	ri := o.self.Dynamic.Resource(k.GVR()).Namespace(gw.Namespace())
	want, err := dataPowerSpec(gw, pods.desired, entry)
	if err != nil {
		return err
	}
	u, err := ri.Get(ctx, gw.Name(), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		n := apic.New(k, gw.Namespace(), gw.Name())
		n.U.SetLabels(map[string]string{instanceLabel: gw.Name(), managedByLabel: managedBy})
		n.U.SetOwnerReferences(ownerRefs(gw.U))
		n.U.Object["spec"] = mergeSpec(nil, want)
		if u, err = ri.Create(ctx, n.U, metav1.CreateOptions{}); err != nil {
			return err
		}
	case err != nil:
		return err
	default:
		have, _, _ := unstructured.NestedMap(u.Object, "spec")
		if merged := mergeSpec(have, want); !equalJSON(have, merged) {
			u.Object["spec"] = merged
			if u, err = ri.Update(ctx, u, metav1.UpdateOptions{}); err != nil {
				if apierrors.IsConflict(err) {
					return nil
				}
				return err
			}
		}
	}
	before := statusOf(u)
	out := apic.Object{Kind: k, U: u.DeepCopy()}
	ready := pods.ready >= pods.desired
	phase, status, reason := phaseRunning, "True", dpReasonReady
	if !ready {
		phase, status, reason = phasePending, "False", dpReasonNotReady
	}
	now := metav1.NewTime(o.clock.Now())
	prev := apic.Object{Kind: k, U: u}
	keep := func(t, st string) metav1.Time {
		if c, ok := prev.Condition(t); ok && c.Status == st && !c.LastTransitionTime.IsZero() {
			return c.LastTransitionTime
		}
		return now
	}
	conds := []apic.Condition{{Type: apic.ConditionReady, Status: status, Reason: reason,
		Message: fmt.Sprintf("StatefulSet replicas ready: %d/%d", pods.ready, pods.desired), LastTransitionTime: keep(apic.ConditionReady, status)}}
	if !ready {
		conds = append(conds, apic.Condition{Type: condPending, Status: "True", Reason: dpPendingReason, Message: dpPendingMessage,
			LastTransitionTime: keep(condPending, "True")})
	}
	// Conditions of other types (e.g. Warning ReconcileWarning while paused) are not simulated.
	out.SetConditions(conds)
	podNames := make([]interface{}, 0, pods.desired)
	for i := int32(0); i < pods.desired; i++ {
		podNames = append(podNames, fmt.Sprintf("%s-%d", gw.Name(), i))
	}
	st := out.U.Object["status"].(map[string]interface{})
	st["phase"] = phase
	st["customImages"] = false
	st["mgmtPorts"] = []interface{}{map[string]interface{}{"name": "rest-mgmt", "port": int64(5554)}}
	st["pods"] = podNames
	st["versions"] = map[string]interface{}{
		"available":  map[string]interface{}{"channels": []interface{}{}, "versions": []interface{}{}},
		"reconciled": versionOf(gw),
	}
	return o.updateStatus(ctx, k, before, out.U)
}

// mergeSpec is have with want's keys set; a nil value in want removes the key.
func mergeSpec(have, want map[string]interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	for k, v := range have {
		out[k] = v
	}
	for k, v := range want {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// withDataPowerRollout applies the DataPowerService's spec.podManagementPolicy (default Parallel)
// and spec.updateStrategy to the gateway StatefulSet sts, as the DataPower operator does: mode
// manual sets the StatefulSet's RollingUpdate partition to spec.updateStrategy.partition (pods with
// an ordinal at or above it take a new revision: "you must set and update the partition
// manually"); mode automatic, or none, leaves partition 0 (the operator's own stepping of the
// partition, recorded in DataPowerRollout objects, is not simulated). dp is nil before the
// DataPowerService exists. The spec-hash annotation is recomputed so that a change rolls out.
func withDataPowerRollout(sts *appsv1.StatefulSet, dp *unstructured.Unstructured) error {
	if dp == nil {
		return nil
	}
	if p, _, _ := unstructured.NestedString(dp.Object, "spec", "podManagementPolicy"); p != "" {
		sts.Spec.PodManagementPolicy = appsv1.PodManagementPolicyType(p)
	}
	mode, _, _ := unstructured.NestedString(dp.Object, "spec", "updateStrategy", "mode")
	if mode == "manual" {
		partition, _, _ := unstructured.NestedInt64(dp.Object, "spec", "updateStrategy", "partition")
		sts.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
			RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To(int32(partition))}}
	}
	hash, err := specHash(sts.Spec)
	if err != nil {
		return err
	}
	sts.Annotations[specHashAnnotation] = hash
	return nil
}

// getDataPowerService is gw's DataPowerService; nil when it does not exist yet.
func (o *Operator) getDataPowerService(ctx context.Context, gw apic.Object) (*unstructured.Unstructured, error) {
	u, err := o.self.Dynamic.Resource(apic.DataPowerServiceKind.GVR()).Namespace(gw.Namespace()).Get(ctx, gw.Name(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return u, err
}
