package podstate

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestProblem(t *testing.T) {
	now := metav1.Now()
	ready := []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	tests := []struct {
		name string
		pod  corev1.Pod
		want string
	}{
		{"serving", corev1.Pod{Spec: corev1.PodSpec{NodeName: "node-1"}, Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: ready}}, ""},
		{"unscheduled", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending}}, "not scheduled"},
		{"terminating but still Ready", corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &now}, Spec: corev1.PodSpec{NodeName: "node-1"},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: ready}}, "terminating"},
		{"pending on a node", corev1.Pod{Spec: corev1.PodSpec{NodeName: "node-1"}, Status: corev1.PodStatus{Phase: corev1.PodPending}}, "Pending on node-1"},
		{"not ready with reason", corev1.Pod{Spec: corev1.PodSpec{NodeName: "node-2"}, Status: corev1.PodStatus{Phase: corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady", Message: "containers with unready status: [datapower]"}}}},
			"not ready on node-2: ContainersNotReady containers with unready status: [datapower]"},
		{"not ready", corev1.Pod{Spec: corev1.PodSpec{NodeName: "node-3"}, Status: corev1.PodStatus{Phase: corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}}}, "not ready on node-3"},
		{"no condition", corev1.Pod{Spec: corev1.PodSpec{NodeName: "node-3"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}, "no Ready condition on node-3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Problem(&tc.pod); got != tc.want {
				t.Errorf("Problem = %q, want %q", got, tc.want)
			}
			if got := Ready(&tc.pod); got != (tc.want == "") {
				t.Errorf("Ready = %v", got)
			}
		})
	}
}
