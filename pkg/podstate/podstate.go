// Package podstate is the one readiness rule for the pods behind API Connect's subsystems and
// gateways, used by status, failover's pre-flight, drr and the zone arithmetic: a pod serves when it
// is scheduled, not being deleted, Running and Ready (podutils.IsPodReady). A terminating pod never
// counts, even while its Ready condition still says True: it is leaving its Service's endpoints and
// will not be there to keep a quorum.
package podstate

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/kubectl/pkg/util/podutils"
)

// Ready reports whether p serves (Problem is empty).
func Ready(p *corev1.Pod) bool { return Problem(p) == "" }

// Problem says why p does not serve, for messages ("not scheduled", "terminating", "Pending on
// node-1", "not ready on node-1: <reason> <message>"); "" when it serves.
func Problem(p *corev1.Pod) string {
	switch {
	case p.Spec.NodeName == "":
		return "not scheduled"
	case p.DeletionTimestamp != nil:
		return "terminating"
	case p.Status.Phase != corev1.PodRunning:
		return string(p.Status.Phase) + " on " + p.Spec.NodeName
	case podutils.IsPodReady(p):
		return ""
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			why := "not ready on " + p.Spec.NodeName
			if detail := strings.TrimSpace(c.Reason + " " + c.Message); detail != "" {
				why += ": " + detail
			}
			return why
		}
	}
	return "no Ready condition on " + p.Spec.NodeName
}
