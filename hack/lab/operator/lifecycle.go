package operator

import (
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

// The gateway pods' lifecycle, as the DataPower operator sets it up (IBM/datapower-operator-doc,
// DataPowerService v1beta3: probes on port 7879, lifecycle.preStop lets in-flight calls finish within
// terminationGracePeriodSeconds, 30 s by default). How API Connect's operator passes these from a
// GatewayCluster was not found: the lab reads the DataPowerService's own field shapes at the top of
// the GatewayCluster spec (spec.lifecycle, a core/v1 Lifecycle; spec.terminationGracePeriodSeconds),
// our choice, recorded in docs/fidelity.md.
const (
	// DataPowerProbePort is the port of the DataPower operator's probes.
	DataPowerProbePort = 7879
	// DataPowerGracePeriod is the DataPower operator's default terminationGracePeriodSeconds.
	DataPowerGracePeriod = 30
	// DataPowerStartupSeconds is how long a new gateway pod takes to turn Ready in the lab (the
	// readiness probe's initialDelaySeconds, which the fake kubelet honours); our choice, short.
	DataPowerStartupSeconds = 1
)

// applyGatewayLifecycle sets the DataPower pod's probe, preStop hook and grace period from gw.
func applyGatewayLifecycle(gw apic.Object, spec *corev1.PodSpec) error {
	grace := int64(DataPowerGracePeriod)
	if v, ok, _ := unstructured.NestedInt64(gw.U.Object, "spec", "terminationGracePeriodSeconds"); ok {
		grace = v
	}
	spec.TerminationGracePeriodSeconds = ptr.To(grace)
	c := &spec.Containers[0]
	c.ReadinessProbe = &corev1.Probe{
		ProbeHandler:        corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(DataPowerProbePort)}},
		InitialDelaySeconds: DataPowerStartupSeconds,
	}
	raw, ok, _ := unstructured.NestedMap(gw.U.Object, "spec", "lifecycle")
	if !ok {
		return nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return err
	}
	var lc corev1.Lifecycle
	if err := json.Unmarshal(b, &lc); err != nil {
		return fmt.Errorf("%s: spec.lifecycle: %w", gw.Ref(), err)
	}
	c.Lifecycle = &lc
	return nil
}
