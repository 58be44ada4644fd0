package operator

import (
	"context"
	"fmt"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

// Top-level (APIConnectCluster, CP4I and OpenShift) simulator. IBM: "If you are using a top-level CR you
// must edit the multiSiteHA section for the subsystem in the top-level CR, instead of directly in the
// subsystem CRs" (seed 002) — the operator derives the subsystem CRs from it, and users still read
// haMode with `kubectl get mgmt`.

// topLevelSubsystems are the subsystem CRs the simulator creates for a top-level CR, in the order its
// status is aggregated.
func topLevelSubsystems() []apic.Kind {
	return []apic.Kind{apic.ManagementClusterKind, apic.PortalClusterKind, apic.AnalyticsClusterKind, apic.GatewayClusterKind}
}

// SubsystemName is the name of the subsystem CR the simulator creates for top-level CR top, e.g.
// production-mgmt (IBM's sample output names the management CR "production-mgmt").
func SubsystemName(top string, k apic.Kind) string { return top + "-" + k.ShortName }

// ConfiguratorJobName is the CP4I configurator job of top-level CR top (seed 002 step 6).
func ConfiguratorJobName(top string) string { return top + "-configurator" }

// topLevelReadyTotal is the denominator of the top-level READY column. IBM's sample shows "4/5" with a
// failed configurator; the simulator counts the four subsystems plus the configurator job.
const topLevelReadyTotal = 5

// syncTopLevelSpec creates or updates the subsystem CRs of top from its spec.
func (o *Operator) syncTopLevelSpec(ctx context.Context, u *unstructured.Unstructured) error {
	top, err := apic.Wrap(u)
	if err != nil {
		return err
	}
	for _, k := range topLevelSubsystems() {
		spec, err := subsystemSpec(top, k)
		if err != nil {
			return err
		}
		if err := o.applySubsystemCR(ctx, top, k, spec); err != nil {
			return fmt.Errorf("%s: %w", top.Ref(), err)
		}
	}
	return nil
}

// subsystemSpec is the spec of top's subsystem CR of kind k: spec.<subsystem> of the top-level CR
// (multiSiteHA, siteName, ...), with spec.version and spec.profile, and the template entries whose
// names carry the subsystem's prefix (gw-, mgmt-, ptl-, a7s-; pkg/apic/template.go) with the prefix
// stripped, as on a subsystem CR.
func subsystemSpec(top apic.Object, k apic.Kind) (map[string]interface{}, error) {
	sub := k.Subsystem
	spec, _, err := unstructured.NestedMap(top.U.Object, "spec", string(sub))
	if err != nil {
		return nil, fmt.Errorf("%s: spec.%s: %w", top.Ref(), sub, err)
	}
	if spec == nil {
		spec = map[string]interface{}{}
	}
	if v := top.Version(); v != "" {
		spec["version"] = v
	}
	if p, _, _ := unstructured.NestedString(top.U.Object, "spec", "profile"); p != "" && spec["profile"] == nil {
		spec["profile"] = p
	}
	entries, err := top.Template(sub)
	if err != nil {
		return nil, err
	}
	prefix := apic.TemplatePrefix(sub)
	stripped := make([]map[string]interface{}, 0, len(entries))
	for _, e := range entries {
		if n, ok := e["name"].(string); ok && strings.HasPrefix(n, prefix) {
			e["name"] = strings.TrimPrefix(n, prefix)
			stripped = append(stripped, e)
		}
	}
	view := apic.New(k, "", "")
	view.U.Object["spec"] = spec
	if err := view.SetTemplate(sub, stripped); err != nil {
		return nil, err
	}
	return spec, nil
}

// applySubsystemCR creates top's subsystem CR of kind k or brings its spec and the data-deletion
// confirmation annotation (which IBM has users put on the top-level CR) in line with top.
func (o *Operator) applySubsystemCR(ctx context.Context, top apic.Object, k apic.Kind, spec map[string]interface{}) error {
	name := SubsystemName(top.Name(), k)
	ri := o.self.Dynamic.Resource(k.GVR()).Namespace(top.Namespace())
	confirm, confirmed := top.U.GetAnnotations()[apic.DataDeletionConfirmationAnnotation]

	have, err := ri.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		n := apic.New(k, top.Namespace(), name)
		n.U.SetLabels(map[string]string{instanceLabel: top.Name(), managedByLabel: managedBy})
		if confirmed {
			n.U.SetAnnotations(map[string]string{apic.DataDeletionConfirmationAnnotation: confirm})
		}
		n.U.SetOwnerReferences(ownerRefs(top.U))
		n.U.Object["spec"] = spec
		if _, err := ri.Create(ctx, n.U, metav1.CreateOptions{}); err != nil {
			return err
		}
		o.logf("operator simulator %s: created %s/%s", o.self.Name, k.Display(), name)
		return nil
	}
	if err != nil {
		return err
	}
	ann := have.GetAnnotations()
	cur, curOK := ann[apic.DataDeletionConfirmationAnnotation]
	haveSpec, _, _ := unstructured.NestedMap(have.Object, "spec")
	if equalJSON(haveSpec, spec) && cur == confirm && curOK == confirmed {
		return nil
	}
	upd := have.DeepCopy()
	upd.Object["spec"] = spec
	if ann == nil {
		ann = map[string]string{}
	}
	if confirmed {
		ann[apic.DataDeletionConfirmationAnnotation] = confirm
	} else {
		delete(ann, apic.DataDeletionConfirmationAnnotation)
	}
	upd.SetAnnotations(ann)
	if _, err := ri.Update(ctx, upd, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) {
		return err
	}
	return nil
}

// syncTopLevelStatus aggregates the subsystem CRs' status on the top-level CR and simulates the CP4I
// configurator Warning after a failover.
func (o *Operator) syncTopLevelStatus(ctx context.Context, name string) error {
	k := apic.APIConnectClusterKind
	u, err := o.self.Dynamic.Resource(k.GVR()).Namespace(o.self.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	top := apic.Object{Kind: k, U: u}
	subs := map[string]apic.Object{}
	for _, sk := range topLevelSubsystems() {
		su, err := o.self.Dynamic.Resource(sk.GVR()).Namespace(top.Namespace()).Get(ctx, SubsystemName(name, sk), metav1.GetOptions{})
		if err == nil {
			subs[sk.Kind] = apic.Object{Kind: sk, U: su}
		} else if !apierrors.IsNotFound(err) {
			return err
		}
	}

	before := statusOf(u)
	out := apic.Object{Kind: k, U: u.DeepCopy()}
	now := o.clock.Now()

	warning, err := o.simulateConfigurator(ctx, top, out, subs[apic.ManagementClusterKind.Kind])
	if err != nil {
		return fmt.Errorf("%s: %w", top.Ref(), err)
	}

	ready := int32(0)
	phase, condType, condMsg := phaseRunning, condReady, topLevelReadyMessage
	for _, sk := range topLevelSubsystems() {
		s, ok := subs[sk.Kind]
		switch {
		case ok && s.Phase() == phaseRunning:
			ready++
		case phase != phaseRunning:
			// already showing the first subsystem that is not Running
		case !ok:
			phase, condType, condMsg = phasePending, condPending, "Waiting for "+sk.Display()+"/"+SubsystemName(name, sk)
		default:
			// The top-level CR shows the first subsystem that is not Running (our choice; IBM shows no
			// sample of a top-level CR during a subsystem's transition).
			c, _ := s.ActiveCondition()
			phase, condType, condMsg = s.Phase(), c.Type, c.Message
			if phase == "" {
				phase, condType, condMsg = phasePending, condPending, "Waiting for "+s.Ref()
			}
		}
	}
	if warning != "" {
		// IBM's sample (seed 002 step 6): STATUS Warning, READY 4/5, condition Warning "an error occured
		// while running job apic/<name>-configurator". IBM's MESSAGE column reads "Warning - see status
		// condition for details" (status.message), the condition carries the job error.
		phase, condType, condMsg = phaseWarning, condWarning, warning
	} else {
		ready++ // the configurator job is fine
	}
	if condType == "" {
		condType = condPending
	}
	out.SetStatusField(phase, "phase")
	out.SetStatusField(readyString(ready, topLevelReadyTotal), "ready")
	out.SetStatusField(reconciledVersion(versionOf(top)), "versions", "reconciled")
	out.SetConditions(oneTrue(conditionTypes(), condType, condMsg, top.Conditions(), now))
	message := condMsg
	if warning != "" {
		message = "Warning - see status condition for details"
	}
	out.SetStatusField(message, "message")
	// haMode and haStatus mirror management's (the subsystem IBM's failover steps check first).
	if m, ok := subs[apic.ManagementClusterKind.Kind]; ok && m.HAMode() != "" {
		out.SetStatusField(m.HAMode(), "haMode")
		out.SetHAStatus(m.HAStatus())
	} else {
		unstructured.RemoveNestedField(out.U.Object, "status", "haMode")
		unstructured.RemoveNestedField(out.U.Object, "status", "haStatus")
	}
	return o.updateStatus(ctx, k, before, out.U)
}

// topLevelReadyMessage is our choice: IBM shows no top-level MESSAGE for the Ready state.
const topLevelReadyMessage = "All subsystems are ready"

// simulateConfigurator simulates the CP4I Warning IBM documents after a failover (seed 002 step 6):
// once this site's management has been promoted, a configurator job fails; the Warning lasts while a
// job labelled app.kubernetes.io/component=configurator named <name>-configurator exists, and clears
// when the user deletes it as IBM instructs. The job is created suspended, so it never runs a pod. It
// returns the Warning message, or "".
func (o *Operator) simulateConfigurator(ctx context.Context, top, out apic.Object, mgmt apic.Object) (string, error) {
	jobs := o.self.Kube.BatchV1().Jobs(top.Namespace())
	jobName := ConfiguratorJobName(top.Name())
	promotedAt := ""
	if mgmt.U != nil {
		promotedAt, _, _ = unstructured.NestedString(mgmt.U.Object, "status", "simulator", "promotedAt")
	}
	handled, _, _ := unstructured.NestedString(top.U.Object, "status", "simulator", "configuratorFailedFor")
	if promotedAt != "" && promotedAt != handled {
		job := configuratorJob(top, jobName)
		if _, err := jobs.Create(ctx, job, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return "", err
		}
		o.logf("operator simulator %s: failover completed; simulating failed configurator job %s", o.self.Name, jobName)
		_ = unstructured.SetNestedField(out.U.Object, promotedAt, "status", "simulator", "configuratorFailedFor")
	}
	j, err := jobs.Get(ctx, jobName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if j.Labels[apic.ComponentLabel] != apic.ConfiguratorComponent {
		return "", nil
	}
	// IBM's message, including its spelling "occured"; IBM's sample namespace is apic.
	return fmt.Sprintf("an error occured while running job %s/%s", top.Namespace(), jobName), nil
}

func configuratorJob(top apic.Object, name string) *batchv1.Job {
	labels := map[string]string{apic.ComponentLabel: apic.ConfiguratorComponent, instanceLabel: top.Name(), managedByLabel: managedBy}
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: top.Namespace(), Labels: labels, OwnerReferences: ownerRefs(top.U)},
		Spec: batchv1.JobSpec{
			Suspend:      ptr.To(true), // never runs: only its existence is simulated
			BackoffLimit: ptr.To[int32](0),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{{Name: "configurator", Image: "sim.local/configurator:" + versionOf(top)}},
				},
			},
		},
	}
}
