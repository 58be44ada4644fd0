package operator

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

// syncSubsystem reconciles one subsystem CR (mgmt, ptl, a7s, gw): its workloads, then its status.
func (o *Operator) syncSubsystem(ctx context.Context, u *unstructured.Unstructured) error {
	obj, err := apic.Wrap(u)
	if err != nil {
		return err
	}
	sub := obj.Kind.Subsystem
	pods, werr := o.syncWorkloads(ctx, obj)

	before := statusOf(u)
	out := apic.Object{Kind: obj.Kind, U: u.DeepCopy()}
	now := o.clock.Now()

	var v haView
	transitional := false
	if ha, ok := obj.MultiSiteHA(sub); ok && (sub == apic.Management || sub == apic.Portal) {
		in := haInput{
			Sub:       sub,
			Mode:      ha.Mode,
			Confirmed: u.GetAnnotations()[apic.DataDeletionConfirmationAnnotation] == "true",
			LinkUp:    o.link.Up(),
			Now:       now,
			D:         o.d,
		}
		if in.LinkUp {
			in.PeerHAMode = o.peerHAMode(ctx, obj)
		}
		prev := readHAState(u)
		st := stepHA(prev, in)
		if st.Stage != prev.Stage {
			o.logf("operator simulator %s: %s %s -> %s", o.self.Name, obj.Ref(), orNew(prev.Stage), st.Stage)
		}
		v = viewHA(st, in, o.peerFQDN(obj, ha))
		transitional = st.Stage != stageActive && st.Stage != stageWarmStandby && st.Stage != stageReadyForPromotion

		out.SetStatusField(v.HAMode, "haMode")
		out.SetHAStatus(oneTrue(haStatusTypes(v), v.HAType, v.HAMessage, obj.HAStatus(), now))
		writeHAState(out.U, st)
		writeReplication(out.U, v.Replication, in.PeerHAMode, st.DivergedSince)
	} else {
		// Subsystems without 2DCDR: IBM documents no ready message for them; the simulator follows
		// management's "Management is ready." shape.
		v = haView{Phase: phaseRunning, CondType: condReady, CondMessage: subsystemTitle(sub) + " is ready"}
	}

	// READY is ready pods / desired pods of the subsystem's microservices. During a mode change IBM
	// reports the backend microservices and database shut down (seed 002: "Backend ms and DB is in
	// shutdown mode"); the simulator leaves the pods running and stops counting the backend's.
	ready, desired := pods.totals(transitional, backendMicroservice(sub))
	if v.Phase == phaseRunning && ready < desired {
		// Not documented as such; the simulator does not call a subsystem Running before its pods are.
		v.Phase, v.CondType = phasePending, condPending
		v.CondMessage = fmt.Sprintf("Waiting for microservices: %d/%d pods ready", ready, desired)
	}
	if werr != nil {
		v.Phase, v.CondType, v.CondMessage = phaseWarning, condWarning, "Simulator could not reconcile workloads: "+werr.Error()
	}
	out.SetStatusField(v.Phase, "phase")
	out.SetStatusField(readyString(ready, desired), "ready")
	out.SetStatusField(reconciledVersion(versionOf(obj)), "versions", "reconciled")
	out.SetConditions(oneTrue(conditionTypes(), v.CondType, v.CondMessage, obj.Conditions(), now))
	out.SetStatusField(v.CondMessage, "message") // the MESSAGE column

	if err := o.updateStatus(ctx, obj.Kind, before, out.U); err != nil {
		return fmt.Errorf("%s: %w", obj.Ref(), err)
	}
	if werr != nil {
		return fmt.Errorf("%s: %w", obj.Ref(), werr)
	}
	return nil
}

func orNew(s stage) stage {
	if s == "" {
		return "(new)"
	}
	return s
}

func subsystemTitle(sub apic.Subsystem) string {
	switch sub {
	case apic.Management:
		return "Management"
	case apic.Portal:
		return "Portal"
	case apic.Analytics:
		return "Analytics"
	case apic.Gateway:
		return "Gateway"
	}
	return string(sub)
}

// backendMicroservice is the microservice the simulator counts as shut down during a mode change
// (our choice: IBM names no microservice; apim is management's API manager, db portal's database).
func backendMicroservice(sub apic.Subsystem) string {
	switch sub {
	case apic.Management:
		return "apim"
	case apic.Portal:
		return "db"
	}
	return ""
}

// peerHAMode reads the peer site's CR of the same kind over the simulated link: the CR of the same
// name, else the peer's only CR of that kind. "" when it cannot be read. Callers check the link.
func (o *Operator) peerHAMode(ctx context.Context, obj apic.Object) string {
	ri := o.peer.Dynamic.Resource(obj.Kind.GVR()).Namespace(o.peer.Namespace)
	u, err := ri.Get(ctx, obj.Name(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		l, lerr := ri.List(ctx, metav1.ListOptions{})
		if lerr != nil || len(l.Items) != 1 {
			return ""
		}
		u, err = &l.Items[0], nil
	}
	if err != nil {
		o.logf("operator simulator %s: reading peer %s: %v", o.self.Name, obj.Ref(), err)
		return ""
	}
	m, _, _ := unstructured.NestedString(u.Object, "status", "haMode")
	return m
}

// peerFQDN is spec.multiSiteHA.replicationPeerFQDN, or — IBM's messages always name one — a generated
// name after IBM's sample "mgmt-replication…" when the CR does not set it.
func (o *Operator) peerFQDN(obj apic.Object, ha apic.MultiSiteHA) string {
	if ha.ReplicationPeerFQDN != "" {
		return ha.ReplicationPeerFQDN
	}
	return fmt.Sprintf("%s-replication.%s.sim.local", obj.Kind.ShortName, o.peer.Name)
}

func equalJSON(a, b map[string]interface{}) bool { return equality.Semantic.DeepEqual(a, b) }
