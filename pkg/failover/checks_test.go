package failover

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/hastate"
	"github.com/kubectl-apic/kubectl-apic/pkg/kube"
)

func pod(name, node string, phase corev1.PodPhase, ready bool) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "apic", Labels: map[string]string{apic.InstanceLabel: "production-mgmt"}},
		Spec:       corev1.PodSpec{NodeName: node},
		Status:     corev1.PodStatus{Phase: phase, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}},
	}
}

// The warm-standby's haStatus says its database is ready, yet it is Pending with pods down (issue
// 11, item 1: two zones lost): every check names what is wrong, in one refusal.
func TestPreflightChecksWarmStandbyNotReady(t *testing.T) {
	dc2 := mgmt("dc2", "passive", "passive", "Ready")
	dc2.Objects[0].SetStatusField("Pending", "phase")
	dc2.Objects[0].SetStatusField("1/3", "ready")
	dc2.Objects[0].SetStatusField("Waiting for microservices: 1/3 pods ready", "message")
	pairs := hastate.Pairs([]hastate.SiteObjects{mgmt("dc1", "active", "active", "Ready"), dc2}, hastate.Options{})
	req := Request{From: "dc1", To: "dc2", Subsystems: []apic.Subsystem{apic.Management}}
	subjects, err := Assess(pairs, req, Journal{})
	if err != nil {
		t.Fatalf("Assess (haStatus only) = %v; the case is that it passes", err)
	}
	client := fake.NewSimpleClientset(
		pod("production-mgmt-apim-0", "node-1", corev1.PodRunning, true),
		pod("production-mgmt-apim-1", "node-3", corev1.PodRunning, false),
		pod("production-mgmt-apim-2", "", corev1.PodPending, false),
	)
	to := &kube.Site{Name: "dc2", Namespace: "apic", Kube: client}
	err = runPreflightChecks(context.Background(), CheckInput{Req: req, Subjects: subjects, To: to})
	if exitcode.FromError(err) != exitcode.Refused {
		t.Fatalf("want a refusal, got %v", err)
	}
	for _, want := range []string{
		"warm-standby phase: management production-mgmt on dc2 is phase Pending, not Running: Waiting for microservices",
		"warm-standby ready count: management production-mgmt on dc2 has 1/3 ready",
		"warm-standby pods: 2 of 3 pods of management production-mgmt on dc2 are not ready: production-mgmt-apim-1 (not ready on node-3), production-mgmt-apim-2 (not scheduled)",
		"Nothing was changed",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal lacks %q:\n%v", want, err)
		}
	}

	// Healthy: nothing to say.
	dc2 = mgmt("dc2", "passive", "passive", "Ready")
	dc2.Objects[0].SetStatusField("3/3", "ready")
	pairs = hastate.Pairs([]hastate.SiteObjects{mgmt("dc1", "active", "active", "Ready"), dc2}, hastate.Options{})
	subjects, _ = Assess(pairs, req, Journal{})
	to.Kube = fake.NewSimpleClientset(pod("production-mgmt-apim-0", "node-1", corev1.PodRunning, true))
	if err := runPreflightChecks(context.Background(), CheckInput{Req: req, Subjects: subjects, To: to}); err != nil {
		t.Errorf("healthy warm-standby refused: %v", err)
	}
}

// A resumed failover (already demoted) is not re-checked: refusing then would leave no site active.
func TestPreflightChecksOnlyFresh(t *testing.T) {
	s := Subject{Subsystem: apic.Management, Situation: InProgress}
	in := CheckInput{Req: Request{From: "dc1", To: "dc2"}, Subjects: []Subject{s}}
	if got := in.fresh(); len(got) != 0 {
		t.Errorf("fresh() = %v", got)
	}
}
