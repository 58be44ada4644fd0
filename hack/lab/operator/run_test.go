package operator

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

// TestRun: Run reconciles on events and stops when its context ends.
func TestRun(t *testing.T) {
	self := Site{Name: "dc1", Dynamic: newDynamic(), Kube: kubefake.NewClientset(), Namespace: testNS}
	peer := Site{Name: "dc2", Dynamic: newDynamic(), Kube: kubefake.NewClientset(), Namespace: testNS}
	op := New(self, peer, &testLink{}, Options{TimeScale: testScale, Resync: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- op.Run(ctx) }()

	o := haCR(apic.ManagementClusterKind, "production-mgmt", apic.ModeActive, "")
	if _, err := self.Dynamic.Resource(o.Kind.GVR()).Namespace(testNS).Create(ctx, o.U, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		u, err := self.Dynamic.Resource(o.Kind.GVR()).Namespace(testNS).Get(ctx, o.Name(), metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return apic.Object{Kind: o.Kind, U: u}.HAMode() == apic.HAModeActive, nil
	})
	if err != nil {
		t.Fatalf("haMode never became active: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
}
