package status

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/datapower"
	"github.com/kubectl-apic/kubectl-apic/pkg/explain"
	"github.com/kubectl-apic/kubectl-apic/pkg/inventory"
	"github.com/kubectl-apic/kubectl-apic/pkg/kube"
)

// ShowPeeringStatus is the one DataPower command --peering runs on each member: read-only, it lists
// every peering object (gwd, tms, subs, rate-limit, api-probe) with primary, link and pending updates.
const ShowPeeringStatus = "show gateway-peering-status"

// peeringCommandTimeout bounds each CLI step of --peering.
const peeringCommandTimeout = 20 * time.Second

// PeeringReader reads the gateway-peering status seen by one gateway pod.
type PeeringReader func(ctx context.Context, s *kube.Site, namespace, pod string, creds datapower.Credentials, domain string) ([]datapower.PeeringStatus, error)

// AttachPeeringReader logs in to the pod's DataPower console through pods/attach (pkg/datapower's
// transport), switches to domain and runs ShowPeeringStatus; it changes nothing. Closing the session
// detaches (never Ctrl-D).
func AttachPeeringReader(ctx context.Context, s *kube.Site, namespace, pod string, creds datapower.Credentials, domain string) ([]datapower.PeeringStatus, error) {
	conn, err := datapower.Attach(ctx, s.Config, s.Kube, datapower.AttachTarget{Namespace: namespace, Pod: pod})
	if err != nil {
		return nil, err
	}
	sess, err := datapower.Open(ctx, conn, creds, datapower.Options{CommandTimeout: peeringCommandTimeout})
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	defer func() { _ = sess.Close() }()
	if domain != "" {
		if err := sess.Switch(ctx, domain); err != nil {
			return nil, err
		}
	}
	out, err := sess.Run(ctx, ShowPeeringStatus)
	if err != nil {
		return nil, err
	}
	return datapower.ParsePeeringStatus(out)
}

// readPeering reads every member of every gateway in snap, all in parallel.
func (o *Options) readPeering(ctx context.Context, s *kube.Site, snap *inventory.Snapshot) map[string]map[string]PeeringRead {
	out := map[string]map[string]PeeringRead{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, gw := range snap.ObjectsOf(apic.GatewayClusterKind) {
		key := gw.Namespace() + "/" + gw.Name()
		out[key] = map[string]PeeringRead{}
		pods := gatewayPods(snap, gw)
		creds, err := o.credentials(ctx, s, gw)
		for _, p := range pods {
			if err != nil {
				out[key][p.Name] = PeeringRead{Err: err}
				continue
			}
			if p.Status.Phase != corev1.PodRunning {
				out[key][p.Name] = PeeringRead{Err: fmt.Errorf("pod is %s", p.Status.Phase)}
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, err := o.ReadPeering(ctx, s, p.Namespace, p.Name, creds, o.PeeringDomain)
				mu.Lock()
				out[key][p.Name] = PeeringRead{Statuses: st, Err: err}
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	return out
}

func gatewayPods(snap *inventory.Snapshot, gw apic.Object) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range snap.PodsOfInstance(gw.Namespace(), gw.Name()) {
		if p.Labels[apic.KindLabel] == apic.DataPowerKindValue {
			out = append(out, p)
		}
	}
	return out
}

// credentials reads the DataPower admin credentials from the GatewayCluster's adminUser Secret
// (key "password"; the user is "admin", as IBM's gateway admin user is named).
func (o *Options) credentials(ctx context.Context, s *kube.Site, gw apic.Object) (datapower.Credentials, error) {
	name := gw.AdminSecretName()
	if name == "" {
		return datapower.Credentials{}, fmt.Errorf("%s has no spec.adminUser.secretName", gw.Ref())
	}
	sec, err := s.Kube.CoreV1().Secrets(gw.Namespace()).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return datapower.Credentials{}, explain.Error(err, s.Name, corev1.SchemeGroupVersion.WithResource("secrets"), "get")
	}
	pw, ok := sec.Data["password"]
	if !ok {
		return datapower.Credentials{}, fmt.Errorf("secret %s/%s has no key \"password\"", gw.Namespace(), name)
	}
	return datapower.Credentials{Username: "admin", Password: string(pw)}, nil
}
