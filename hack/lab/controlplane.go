package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic/crds"
)

// controlPlane is one simulated site's real Kubernetes control plane: etcd, kube-apiserver,
// kube-scheduler and kube-controller-manager from the foundation's cache, on loopback.
type controlPlane struct {
	name   string
	dir    string
	assets string
	pki    *pki

	apiPort    int
	etcd       *process
	apiserver  *process
	scheduler  *process
	controller *process

	mu sync.Mutex
}

func (cp *controlPlane) server() string { return "https://127.0.0.1:" + strconv.Itoa(cp.apiPort) }

// adminKubeconfig is the kubeconfig the scheduler and controller-manager use.
func (cp *controlPlane) adminKubeconfig() string { return filepath.Join(cp.dir, "admin.kubeconfig") }

// restConfig is an admin client configuration, tuned for the lab's own bulk work.
func (cp *controlPlane) restConfig() *rest.Config {
	return &rest.Config{
		Host:            cp.server(),
		TLSClientConfig: rest.TLSClientConfig{CAFile: cp.pki.CACert, CertFile: cp.pki.AdminCert, KeyFile: cp.pki.AdminKey},
		QPS:             500, Burst: 1000,
	}
}

func (cp *controlPlane) start(ctx context.Context) error {
	var err error
	if cp.pki, err = newPKI(filepath.Join(cp.dir, "pki")); err != nil {
		return err
	}
	ports, err := freePorts(5)
	if err != nil {
		return err
	}
	etcdPort, peerPort, schedPort, kcmPort := ports[0], ports[1], ports[3], ports[4]
	cp.apiPort = ports[2]
	logs := filepath.Join(cp.dir, "logs")
	data := filepath.Join(cp.dir, "etcd")
	if err := os.RemoveAll(data); err != nil {
		return err
	}
	if err := os.MkdirAll(logs, 0o700); err != nil {
		return err
	}
	if err := cp.writeKubeconfig(cp.adminKubeconfig(), "admin", cp.pki.AdminCert, cp.pki.AdminKey); err != nil {
		return err
	}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	cp.etcd = &process{name: cp.name + " etcd", path: binPath(cp.assets, "etcd"), log: filepath.Join(logs, "etcd.log"), args: []string{
		"--name=default", "--data-dir=" + data, "--listen-client-urls=" + etcdURL, "--advertise-client-urls=" + etcdURL,
		"--listen-peer-urls=" + peerURL, "--initial-advertise-peer-urls=" + peerURL, "--initial-cluster=default=" + peerURL,
		"--unsafe-no-fsync=true", "--log-level=warn",
	}}
	cp.apiserver = &process{name: cp.name + " kube-apiserver", path: binPath(cp.assets, "kube-apiserver"), log: filepath.Join(logs, "kube-apiserver.log"), args: []string{
		"--etcd-servers=" + etcdURL, "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(cp.apiPort),
		"--tls-cert-file=" + cp.pki.ServingCert, "--tls-private-key-file=" + cp.pki.ServingKey, "--client-ca-file=" + cp.pki.CACert,
		"--service-account-key-file=" + cp.pki.SAPubKey, "--service-account-signing-key-file=" + cp.pki.SAKey,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-cluster-ip-range=10.0.0.0/24", "--authorization-mode=RBAC", "--allow-privileged=true",
		// exec and attach are proxied to our fake kubelet at the node's InternalIP; its certificate is
		// not verified because --kubelet-certificate-authority is unset.
		"--kubelet-preferred-address-types=InternalIP",
		// Pods need no service-account token: there is no real kubelet to mount one.
		"--disable-admission-plugins=ServiceAccount",
		// No endpoint reconciler: the kubernetes Service cannot point at a loopback address.
		"--endpoint-reconciler-type=none",
		"--enable-priority-and-fairness=false", "--v=0",
	}}
	schedConfig := filepath.Join(cp.dir, "scheduler.yaml")
	if err := os.WriteFile(schedConfig, []byte(schedulerConfig(cp.adminKubeconfig())), 0o600); err != nil {
		return err
	}
	cp.scheduler = &process{name: cp.name + " kube-scheduler", path: binPath(cp.assets, "kube-scheduler"), log: filepath.Join(logs, "kube-scheduler.log"), args: []string{
		"--config=" + schedConfig, "--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(schedPort), "--v=0",
	}}
	cp.controller = &process{name: cp.name + " kube-controller-manager", path: binPath(cp.assets, "kube-controller-manager"), log: filepath.Join(logs, "kube-controller-manager.log"), args: []string{
		"--kubeconfig=" + cp.adminKubeconfig(), "--leader-elect=false", "--use-service-account-credentials=false",
		"--service-account-private-key-file=" + cp.pki.SAKey, "--root-ca-file=" + cp.pki.CACert,
		"--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(kcmPort),
		"--controllers=*,-serviceaccount-token", "--concurrent-statefulset-syncs=20", "--v=0",
	}}

	if err := cp.etcd.start(); err != nil {
		return err
	}
	if err := waitTCP(ctx, cp.etcd, fmt.Sprintf("127.0.0.1:%d", etcdPort), 30*time.Second); err != nil {
		return err
	}
	if err := cp.startAPIServer(ctx); err != nil {
		return err
	}
	if err := cp.installCRDs(ctx); err != nil {
		return err
	}
	if err := cp.scheduler.start(); err != nil {
		return err
	}
	return cp.controller.start()
}

// startAPIServer (re)starts kube-apiserver and waits until it is ready.
func (cp *controlPlane) startAPIServer(ctx context.Context) error {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if cp.apiserver.running() {
		return nil
	}
	if err := cp.apiserver.start(); err != nil {
		return err
	}
	kube, err := kubernetes.NewForConfig(cp.restConfig())
	if err != nil {
		return err
	}
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		if !cp.apiserver.running() {
			return false, cp.apiserver.exitedError()
		}
		body, err := kube.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil && string(body) == "ok", nil
	})
}

// stopAPIServer stops kube-apiserver only (a fault: the site becomes unreachable, its workloads
// keep running).
func (cp *controlPlane) stopAPIServer() {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	cp.apiserver.stop(10 * time.Second)
}

func (cp *controlPlane) stop() {
	for _, p := range []*process{cp.controller, cp.scheduler, cp.apiserver, cp.etcd} {
		if p != nil {
			p.stop(10 * time.Second)
		}
	}
}

func (cp *controlPlane) installCRDs(ctx context.Context) error {
	client, err := apiextclient.NewForConfig(cp.restConfig())
	if err != nil {
		return err
	}
	us, err := crds.Unstructured()
	if err != nil {
		return err
	}
	for _, u := range us {
		c := &apiextensionsv1.CustomResourceDefinition{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, c); err != nil {
			return err
		}
		if _, err := client.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, c, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("installing CRD %s: %w", c.Name, err)
		}
	}
	return wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		for _, u := range us {
			c, err := client.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, u.GetName(), metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			established := false
			for _, cond := range c.Status.Conditions {
				if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
					established = true
				}
			}
			if !established {
				return false, nil
			}
		}
		return true, nil
	})
}

// writeKubeconfig writes a single-context kubeconfig for this site.
func (cp *controlPlane) writeKubeconfig(path, user, cert, key string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[cp.name] = &clientcmdapi.Cluster{Server: cp.server(), CertificateAuthority: cp.pki.CACert}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificate: cert, ClientKey: key}
	cfg.Contexts[cp.name] = &clientcmdapi.Context{Cluster: cp.name, AuthInfo: user}
	cfg.CurrentContext = cp.name
	return clientcmd.WriteToFile(*cfg, path)
}

// schedulerConfig configures kube-scheduler without the default zone spreading it otherwise adds to
// StatefulSet pods. That simulates the clusters seed 003 describes (more nodes than zones, busy with
// other work), where the operator's soft node anti-affinity alone lets two of three gateways share a
// zone; our spread command's zone anti-affinity is what fixes it.
func schedulerConfig(kubeconfig string) string {
	return `apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: ` + kubeconfig + `
  qps: 200
  burst: 400
leaderElection:
  leaderElect: false
profiles:
- schedulerName: default-scheduler
  pluginConfig:
  - name: PodTopologySpread
    args:
      defaultingType: List
      defaultConstraints: []
`
}
