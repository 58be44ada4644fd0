package drr

import (
	"context"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/datapower"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/explain"
	"github.com/kubectl-apic/kubectl-apic/pkg/podstate"
)

// Gateway is a GatewayCluster as DRR needs it.
type Gateway struct {
	Name      string
	Namespace string
	// SecretName is spec.adminUser.secretName.
	SecretName string
	Members    []Member
	// Containers maps a member pod to the container to attach to.
	Containers map[string]string
}

// AdminSecret is the gateway's admin Secret with the keys to read.
func (g *Gateway) AdminSecret(keys datapower.AdminKeys) datapower.AdminSecret {
	return datapower.AdminSecret{Namespace: g.Namespace, Name: g.SecretName, Gateway: g.Name, Keys: keys}
}

// Discover reads GatewayCluster name and its pods (labels crd.apiconnect.ibm.com/kind=datapower and
// crd.apiconnect.ibm.com/instance=<name>). site names the kubeconfig context for messages.
func Discover(ctx context.Context, dyn dynamic.Interface, kube kubernetes.Interface, site, namespace, name string) (*Gateway, error) {
	gvr := apic.GatewayClusterKind.GVR()
	u, err := dyn.Resource(gvr).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, exitcode.Newf(exitcode.Usage, "GatewayCluster %q not found in namespace %q (context %s): see kubectl get gatewayclusters -n %s",
			name, namespace, site, namespace)
	}
	if err != nil {
		return nil, explain.Error(err, site, gvr, "get")
	}
	o, err := apic.Wrap(u)
	if err != nil {
		return nil, err
	}
	g := &Gateway{Name: name, Namespace: namespace, SecretName: o.AdminSecretName(), Containers: map[string]string{}}
	if g.SecretName == "" {
		return nil, exitcode.Newf(exitcode.Error, "GatewayCluster %s/%s has no spec.adminUser.secretName: cannot find the DataPower admin credentials", namespace, name)
	}
	sel := labels.Set{apic.KindLabel: apic.DataPowerKindValue, apic.InstanceLabel: name}.String()
	pods, err := kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, explain.Error(err, site, corev1.SchemeGroupVersion.WithResource("pods"), "list")
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		m := Member{Pod: p.Name, Node: p.Spec.NodeName, IP: p.Status.PodIP}
		m.NotReadyReason = podstate.Problem(p)
		m.Ready = m.NotReadyReason == ""
		g.Members = append(g.Members, m)
		if g.Containers[p.Name], err = datapower.ContainerFor(p); err != nil {
			return nil, exitcode.Newf(exitcode.Error, "gateway pod %s/%s: %v", namespace, p.Name, err)
		}
	}
	sort.Slice(g.Members, func(i, j int) bool { return g.Members[i].Pod < g.Members[j].Pod })
	if len(g.Members) == 0 {
		return nil, exitcode.Newf(exitcode.Refused, "GatewayCluster %s/%s has no pods labelled %s", namespace, name, sel)
	}
	return g, nil
}
