package kubelet

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

// A readiness probe's initialDelaySeconds keeps a running container unready that long (a new
// gateway pod's startup time); a preStop sleep keeps a terminating pod running that long before
// the kubelet stops it and deletes the pod.
func TestReadinessDelayAndPreStop(t *testing.T) {
	client := fake.NewClientset()
	startKubelet(t, testConfig(client))
	ctx := context.Background()
	p := testPod("starting", "node-a")
	p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{InitialDelaySeconds: 1}
	p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 1}}}
	start := time.Now()
	if _, err := client.CoreV1().Pods("apic").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "pod running", func() (bool, error) { return getPod(t, client, "starting").Status.Phase == corev1.PodRunning, nil })
	if isRunningReady(getPod(t, client, "starting")) && time.Since(start) < time.Second {
		t.Fatal("Ready before the readiness probe's initial delay")
	}
	eventually(t, "pod ready", func() (bool, error) { return isRunningReady(getPod(t, client, "starting")), nil })
	if d := time.Since(start); d < time.Second {
		t.Errorf("Ready after %s, want at least 1s", d)
	}

	cur := getPod(t, client, "starting")
	cur.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	cur.DeletionGracePeriodSeconds = ptr.To[int64](30)
	deleting := time.Now()
	if _, err := client.CoreV1().Pods("apic").Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "pod deleted", func() (bool, error) {
		_, err := client.CoreV1().Pods("apic").Get(ctx, "starting", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if d := time.Since(deleting); d < time.Second {
		t.Errorf("deleted %s after its deletion started, before its 1s preStop sleep", d)
	}
}

func TestPreStopDelayBoundedByGrace(t *testing.T) {
	p := testPod("x", "node-a")
	p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 40}}}
	if got := preStopDelay(p); got != 40*time.Second {
		t.Errorf("no grace given: %s", got)
	}
	p.DeletionGracePeriodSeconds = ptr.To[int64](30)
	if got := preStopDelay(p); got != 30*time.Second {
		t.Errorf("grace 30: %s, want 30s", got)
	}
	p.Spec.Containers[0].Lifecycle = nil
	if got := preStopDelay(p); got != 0 {
		t.Errorf("no preStop: %s", got)
	}
}
