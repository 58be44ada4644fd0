package drr

import (
	"context"
	"fmt"
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

// PasswordKey is the key of the admin password in the GatewayCluster's spec.adminUser.secretName
// Secret, and DefaultAdminUser the user it belongs to. IBM's docs show the Secret but not a
// contract for its keys; "password" for user "admin" is our convention (--admin-user overrides the
// user).
const (
	PasswordKey      = "password"
	DefaultAdminUser = "admin"
	// DataPowerContainer is the container we attach to when a gateway pod has several.
	DataPowerContainer = "datapower"
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

// SecretRef is "namespace/name" of the admin Secret, for messages.
func (g *Gateway) SecretRef() string { return g.Namespace + "/" + g.SecretName }

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
		g.Containers[p.Name] = container(p)
	}
	sort.Slice(g.Members, func(i, j int) bool { return g.Members[i].Pod < g.Members[j].Pod })
	if len(g.Members) == 0 {
		return nil, exitcode.Newf(exitcode.Refused, "GatewayCluster %s/%s has no pods labelled %s", namespace, name, sel)
	}
	return g, nil
}

func container(p *corev1.Pod) string {
	for _, c := range p.Spec.Containers {
		if c.Name == DataPowerContainer {
			return c.Name
		}
	}
	if len(p.Spec.Containers) > 0 {
		return p.Spec.Containers[0].Name
	}
	return ""
}

// Credentials reads the admin password from g's Secret (key PasswordKey) for user. Errors name the
// Secret and never contain its data.
func Credentials(ctx context.Context, kube kubernetes.Interface, site string, g *Gateway, user string) (datapower.Credentials, error) {
	sec, err := kube.CoreV1().Secrets(g.Namespace).Get(ctx, g.SecretName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return datapower.Credentials{}, exitcode.Newf(exitcode.Error,
			"Secret %s (spec.adminUser.secretName of GatewayCluster %s) not found: it holds the DataPower admin password", g.SecretRef(), g.Name)
	}
	if err != nil {
		return datapower.Credentials{}, explain.Error(err, site, corev1.SchemeGroupVersion.WithResource("secrets"), "get")
	}
	pw, ok := sec.Data[PasswordKey]
	if !ok || len(pw) == 0 {
		return datapower.Credentials{}, exitcode.Newf(exitcode.Error,
			"Secret %s has no %q key: kubectl apic drr reads the DataPower password of user %q from it (our convention)", g.SecretRef(), PasswordKey, user)
	}
	return datapower.Credentials{Username: user, Password: string(pw)}, nil
}

// LoginFailureMessage is what a rejected login says: which Secret and user were tried.
func LoginFailureMessage(g *Gateway, user string) string {
	return fmt.Sprintf("the DataPower console rejected user %q with the password in Secret %s (key %q): put that user's DataPower password in the Secret, or pass --admin-user for the user it belongs to",
		user, g.SecretRef(), PasswordKey)
}
