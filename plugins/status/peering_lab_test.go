package status_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	"github.com/kubectl-apic/kubectl-apic/hack/lab/operator"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

// status --peering on a gateway whose pods carry a second container before datapower (the lab's
// sidecar option; its attach is a plain echo, not DataPower) and whose admin Secret keeps the
// password under another key: the member is opened on the container kubectl attach would pick
// (datapower) with the key given by --admin-password-key. Before the shared opener, status --peering
// attached without a container (the API server refuses that on a two-container pod) and read key
// "password" only.
func TestPeeringSidecarAndSecretKeys(t *testing.T) {
	l := requireLab(t)
	s, err := l.Site("dc1")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const name, secretName, key = "sidecar-gw", "sidecar-gw-admin", "dp-password"
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: s.Namespace},
		Data: map[string][]byte{key: []byte(s.AdminPassword)}}
	if _, err := s.Kube.CoreV1().Secrets(s.Namespace).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	gw := apic.New(apic.GatewayClusterKind, s.Namespace, name)
	gw.U.SetAnnotations(map[string]string{operator.SidecarAnnotation: "log-shipper", lab.AdminPasswordKeyAnnotation: key})
	gw.U.Object["spec"] = map[string]interface{}{"version": lab.Version, "profile": "n1xc4.m8",
		"adminUser": map[string]interface{}{"secretName": secretName},
		"license":   map[string]interface{}{"accept": true, "use": "production"}}
	if _, err := s.Dynamic.Resource(apic.GatewayClusterKind.GVR()).Namespace(s.Namespace).Create(ctx, gw.U, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		_ = s.Dynamic.Resource(apic.GatewayClusterKind.GVR()).Namespace(s.Namespace).Delete(ctx, name, metav1.DeleteOptions{})
		_ = s.Kube.CoreV1().Secrets(s.Namespace).Delete(ctx, secretName, metav1.DeleteOptions{})
	})
	sel := labels.Set{apic.InstanceLabel: name, apic.KindLabel: apic.DataPowerKindValue}.String()
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := s.Kube.CoreV1().Pods(s.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil || len(pods.Items) != 1 || pods.Items[0].Status.PodIP == "" || len(pods.Items[0].Spec.Containers) != 2 {
			return false, nil
		}
		for _, c := range pods.Items[0].Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("the sidecar gateway's pod did not become ready with two containers: %v", err)
	}
	// The peering simulator follows the pod once it is Ready; read until the member shows up.
	var last string
	err = wait.PollUntilContextTimeout(ctx, time.Second, time.Minute, true, func(ctx context.Context) (bool, error) {
		r := run(t, l.Kubeconfig(), "--context", "dc1", "-n", s.Namespace, "--peering", "--admin-password-key", key, "-o", "json")
		rep := report(t, r)
		for _, g := range rep.Sites[0].Gateways {
			if g.Name != name || g.Peering == nil {
				continue
			}
			if len(g.Peering.Errors) > 0 || len(g.Peering.Objects) == 0 {
				last = r.out
				return false, nil
			}
			for _, o := range g.Peering.Objects {
				if !o.Quorum || o.Members != 1 {
					last = r.out
					return false, nil
				}
			}
			return true, nil
		}
		last = r.out
		return false, nil
	})
	if err != nil {
		t.Fatalf("status --peering did not read the sidecar gateway: %v\n%s", err, last)
	}
}
