// Package lab is the kubectl-apic lab: a SIMULATOR of a two-site IBM API Connect installation on
// real Kubernetes control planes. Each site (dc1, dc2) runs real etcd, kube-apiserver,
// kube-scheduler and kube-controller-manager on loopback, our CRDs, a fake kubelet for its nodes
// (hack/lab/kubelet), the API Connect operator simulator (hack/lab/operator) and the DataPower CLI
// simulator behind `kubectl attach` (hack/lab/datapower). The product never imports this package;
// integration tests and bin/apic-lab do.
package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubectl-apic/kubectl-apic/hack/lab/datapower"
	"github.com/kubectl-apic/kubectl-apic/hack/lab/kubelet"
	"github.com/kubectl-apic/kubectl-apic/hack/lab/operator"
	"github.com/kubectl-apic/kubectl-apic/hack/lab/traffic"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

// Shape is the deployment shape the simulator installs.
type Shape string

const (
	// ShapeSubsystems: one CR per subsystem (ManagementCluster, PortalCluster, ...).
	ShapeSubsystems Shape = "subsystems"
	// ShapeTopLevel: the top-level APIConnectCluster (Cloud Pak for Integration, OpenShift).
	ShapeTopLevel Shape = "toplevel"
)

// NodeSpec is a simulated node.
type NodeSpec = kubelet.NodeSpec

// GatewaySpec is one GatewayCluster to create on each site.
type GatewaySpec struct {
	Name     string
	Replicas int
}

// Config describes a lab.
type Config struct {
	// Dir holds the lab's state: kubeconfig, certificates, etcd data, logs.
	Dir string
	// Assets is the control-plane bin directory (hack/control-plane.sh's output).
	Assets string
	// Sites are the site names; the first is active. Default dc1, dc2.
	Sites []string
	Shape Shape
	// Namespace of API Connect; default apic.
	Namespace string
	// Nodes per site; default 6 nodes in zones zone-a, zone-b, zone-c (two per zone).
	Nodes []NodeSpec
	// Gateways per site; default one 3-member GatewayCluster production-gw (ignored by the
	// top-level shape, which has one gateway named by the operator simulator).
	Gateways []GatewaySpec
	// Portals are the PortalCluster names per site (IBM: "If you have multiple Developer Portal
	// services, you must repeat these steps for each"); default one, production-ptl. The top-level
	// shape has one portal, named by the operator simulator, and ignores this.
	Portals []string
	// TimeScale multiplies IBM's documented durations; default operator.DefaultTimeScale.
	TimeScale float64
	// Empty starts the control planes, nodes and simulators without creating API Connect objects.
	Empty bool
	// NoBusyNodes leaves the nodes outside the first zone idle (see busyNodes).
	NoBusyNodes bool
	// ConsoleLogSeed seeds the asynchronous log lines the simulated DataPower consoles print at
	// random points, as real consoles do (default DefaultConsoleLogSeed); NoConsoleLogs turns them
	// off. On by default, so that every command that talks to a console is tested with them.
	ConsoleLogSeed uint64
	NoConsoleLogs  bool
	// Logf receives progress; nil discards it.
	Logf func(format string, args ...any)
}

// Site is one simulated data center.
type Site struct {
	Name      string
	Namespace string
	Config    *rest.Config
	Kube      kubernetes.Interface
	Dynamic   dynamic.Interface
	// AdminPassword is the simulated DataPower admin password in the gw-admin Secret.
	AdminPassword string

	cp       *controlPlane
	kubelet  *kubelet.Kubelet
	gateways *gatewaySimulator
	// proxy is the latency fault's proxy (latency.go), started the first time the fault is on;
	// proxied says whether the kubeconfig points through it.
	proxy   atomic.Pointer[latencyProxy]
	proxied atomic.Bool
	traffic *traffic.Site
}

// Lab is a running two-site lab.
type Lab struct {
	cfg        Config
	sites      []*Site
	kubeconfig string
	link       *link
	router     *traffic.Router
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	stopOnce   sync.Once
	// latencyMu serialises the latency fault's changes and the kubeconfig rewrites they make.
	latencyMu sync.Mutex
}

// link is the simulated inter-site network link.
type link struct{ down atomic.Bool }

func (l *link) Up() bool { return !l.down.Load() }

// DefaultConsoleLogSeed is Config.ConsoleLogSeed's default.
const DefaultConsoleLogSeed = 13

func (c *Config) defaults() {
	if len(c.Sites) == 0 {
		c.Sites = []string{"dc1", "dc2"}
	}
	if c.Shape == "" {
		c.Shape = ShapeSubsystems
	}
	if c.Namespace == "" {
		c.Namespace = "apic"
	}
	if c.Nodes == nil {
		c.Nodes = DefaultNodes(6, "zone-a", "zone-b", "zone-c")
	}
	if c.Gateways == nil {
		c.Gateways = []GatewaySpec{{Name: GatewayName, Replicas: 3}}
	}
	if len(c.Portals) == 0 {
		c.Portals = []string{PortalName}
	}
	if c.TimeScale == 0 {
		c.TimeScale = operator.DefaultTimeScale
	}
	if c.ConsoleLogSeed == 0 {
		c.ConsoleLogSeed = DefaultConsoleLogSeed
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
}

// DefaultNodes returns n nodes spread over zones in blocks (node-1, node-2 in the first zone, ...),
// so there are more nodes than zones: the case where soft node anti-affinity can put two gateways
// in one zone.
func DefaultNodes(n int, zones ...string) []NodeSpec {
	out := make([]NodeSpec, n)
	per := (n + len(zones) - 1) / max(len(zones), 1)
	for i := range out {
		out[i] = NodeSpec{Name: fmt.Sprintf("node-%d", i+1)}
		if len(zones) > 0 {
			out[i].Zone = zones[min(i/per, len(zones)-1)]
		}
	}
	return out
}

// Start brings up every site in parallel and waits until the simulated installation is ready.
func Start(ctx context.Context, cfg Config) (*Lab, error) {
	cfg.defaults()
	if cfg.Assets == "" {
		return nil, errors.New("lab: Config.Assets (the control-plane bin directory) is required")
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	l := &Lab{cfg: cfg, link: &link{}, cancel: cancel, kubeconfig: filepath.Join(cfg.Dir, "kubeconfig")}
	for _, name := range cfg.Sites {
		l.sites = append(l.sites, &Site{Name: name, Namespace: cfg.Namespace, AdminPassword: randomPassword(),
			cp: &controlPlane{name: name, dir: filepath.Join(cfg.Dir, name), assets: cfg.Assets}})
	}
	errs := make([]error, len(l.sites))
	var wg sync.WaitGroup
	for i, s := range l.sites {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = l.startSite(ctx, runCtx, i, s)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		l.Stop()
		return nil, err
	}
	if err := l.writeKubeconfig(); err != nil {
		l.Stop()
		return nil, err
	}
	if err := l.startRouter(); err != nil {
		l.Stop()
		return nil, err
	}
	// The operator simulators need both sites up: each reads its peer over the simulated link.
	for i, s := range l.sites {
		peer := l.sites[(i+1)%len(l.sites)]
		op := operator.New(opSite(s), opSite(peer), l.link, operator.Options{TimeScale: cfg.TimeScale, Logf: cfg.Logf})
		l.goRun(runCtx, func(ctx context.Context) { _ = op.Run(ctx) })
	}
	if !cfg.Empty {
		if err := l.WaitReady(ctx, 2*time.Minute); err != nil {
			l.Stop()
			return nil, err
		}
	}
	return l, nil
}

func opSite(s *Site) operator.Site {
	return operator.Site{Name: s.Name, Dynamic: s.Dynamic, Kube: s.Kube, Namespace: s.Namespace}
}

func (l *Lab) goRun(ctx context.Context, f func(context.Context)) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		f(ctx)
	}()
}

func (l *Lab) startSite(ctx, runCtx context.Context, i int, s *Site) error {
	start := time.Now()
	if err := s.cp.start(ctx); err != nil {
		return fmt.Errorf("site %s: %w", s.Name, err)
	}
	s.Config = s.cp.restConfig()
	var err error
	if s.Kube, err = kubernetes.NewForConfig(s.Config); err != nil {
		return err
	}
	if s.Dynamic, err = dynamic.NewForConfig(s.Config); err != nil {
		return err
	}
	s.gateways = newGatewaySimulator(s, l.cfg.Logf)
	if !l.cfg.NoConsoleLogs {
		// a seed per site, so that the two sites' consoles do not print in step
		s.gateways.consoleLogs = &datapower.ConsoleLogs{Seed: l.cfg.ConsoleLogSeed + uint64(i)}
	}
	s.kubelet, err = kubelet.Start(runCtx, kubelet.Config{
		Client: s.Kube, Nodes: l.cfg.Nodes, Address: "127.0.0.1", Streams: s.gateways,
		PodCIDR: netip.MustParsePrefix(fmt.Sprintf("10.%d.0.0/16", 100+i)),
		Logger:  func(f string, a ...any) { l.cfg.Logf(s.Name+" kubelet simulator: "+f, a...) },
	})
	if err != nil {
		return fmt.Errorf("site %s: fake kubelet: %w", s.Name, err)
	}
	if err := l.startTraffic(runCtx, s); err != nil {
		return fmt.Errorf("site %s: traffic: %w", s.Name, err)
	}
	heartbeat := time.Duration(float64(5*time.Minute) * l.cfg.TimeScale)
	l.goRun(runCtx, func(ctx context.Context) { _ = s.gateways.run(ctx, max(heartbeat, 100*time.Millisecond)) })
	if !l.cfg.NoBusyNodes {
		if err := busyNodes(ctx, s, l.cfg.Nodes); err != nil {
			return err
		}
	}
	if !l.cfg.Empty {
		peer := l.cfg.Sites[(i+1)%len(l.cfg.Sites)]
		if err := seed(ctx, s, peer, i == 0, l.cfg.Shape, l.cfg.Gateways, l.cfg.Portals); err != nil {
			return fmt.Errorf("site %s: %w", s.Name, err)
		}
	}
	l.cfg.Logf("site %s: control plane up in %s (%s)", s.Name, time.Since(start).Round(time.Millisecond), s.cp.server())
	return nil
}

// WaitReady waits until every site's API Connect CRs report Running and every pod in the API Connect
// namespace is Running and Ready.
func (l *Lab) WaitReady(ctx context.Context, timeout time.Duration) error {
	var last string
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		for _, s := range l.sites {
			if msg := s.notReady(ctx); msg != "" {
				last = s.Name + ": " + msg
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("lab not ready after %s: %s", timeout, last)
	}
	return nil
}

func (s *Site) notReady(ctx context.Context) string {
	kinds := []apic.Kind{apic.ManagementClusterKind, apic.PortalClusterKind, apic.AnalyticsClusterKind, apic.GatewayClusterKind}
	for _, k := range kinds {
		list, err := s.Dynamic.Resource(k.GVR()).Namespace(s.Namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err.Error()
		}
		if len(list.Items) == 0 {
			return "no " + k.Plural + " yet"
		}
		for i := range list.Items {
			o := apic.Object{Kind: k, U: &list.Items[i]}
			if o.Phase() != "Running" {
				return fmt.Sprintf("%s is %q", o.Ref(), o.Phase())
			}
		}
	}
	pods, err := s.Kube.CoreV1().Pods(s.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	if len(pods.Items) == 0 {
		return "no pods yet"
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Status.Phase == corev1.PodSucceeded {
			continue
		}
		if !podReady(p) {
			return "pod " + p.Name + " not ready"
		}
	}
	return ""
}

// Stop stops every process and goroutine the lab started. Safe to call more than once.
func (l *Lab) Stop() {
	l.stopOnce.Do(func() {
		l.cancel()
		l.stopTraffic()
		for _, s := range l.sites {
			if s.kubelet != nil {
				s.kubelet.Stop()
			}
		}
		l.wg.Wait()
		var wg sync.WaitGroup
		for _, s := range l.sites {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.cp.stop()
			}()
		}
		wg.Wait()
		l.stopLatencyProxies()
	})
}

// Kubeconfig is the path of the kubeconfig with one context per site (dc1, dc2).
func (l *Lab) Kubeconfig() string { return l.kubeconfig }

// Sites returns the sites, the active one first.
func (l *Lab) Sites() []*Site { return l.sites }

// Site returns the site called name.
func (l *Lab) Site(name string) (*Site, error) {
	for _, s := range l.sites {
		if s.Name == name {
			return s, nil
		}
	}
	return nil, fmt.Errorf("lab: no site %q", name)
}

// Shape is the deployment shape the lab installed.
func (l *Lab) Shape() Shape { return l.cfg.Shape }

// TimeScale is the factor applied to IBM's documented durations.
func (l *Lab) TimeScale() float64 { return l.cfg.TimeScale }

// writeKubeconfig writes the lab's kubeconfig, each site's context pointing at ClientServer (the
// latency proxy while that fault is on). It replaces the file by a rename, so a kubectl reading it
// meanwhile sees the old or the new file, never half of one.
func (l *Lab) writeKubeconfig() error {
	cfg := clientcmdapi.NewConfig()
	for _, s := range l.sites {
		cfg.Clusters[s.Name] = &clientcmdapi.Cluster{Server: s.ClientServer(), CertificateAuthority: s.cp.pki.CACert}
		cfg.AuthInfos[s.Name+"-admin"] = &clientcmdapi.AuthInfo{ClientCertificate: s.cp.pki.AdminCert, ClientKey: s.cp.pki.AdminKey}
		cfg.Contexts[s.Name] = &clientcmdapi.Context{Cluster: s.Name, AuthInfo: s.Name + "-admin", Namespace: l.cfg.Namespace}
	}
	cfg.CurrentContext = l.sites[0].Name
	tmp := l.kubeconfig + ".new"
	if err := clientcmd.WriteToFile(*cfg, tmp); err != nil {
		return err
	}
	return os.Rename(tmp, l.kubeconfig)
}

// UserKubeconfig writes a kubeconfig whose contexts (one per site) authenticate as user in groups,
// with whatever RBAC the caller grants: for forbidden-path tests.
func (l *Lab) UserKubeconfig(user string, groups ...string) (string, error) {
	cfg := clientcmdapi.NewConfig()
	for _, s := range l.sites {
		cert, key, err := s.cp.pki.ClientCert(user, groups...)
		if err != nil {
			return "", err
		}
		cfg.Clusters[s.Name] = &clientcmdapi.Cluster{Server: s.ClientServer(), CertificateAuthority: s.cp.pki.CACert}
		cfg.AuthInfos[s.Name+"-"+user] = &clientcmdapi.AuthInfo{ClientCertificateData: cert, ClientKeyData: key}
		cfg.Contexts[s.Name] = &clientcmdapi.Context{Cluster: s.Name, AuthInfo: s.Name + "-" + user, Namespace: l.cfg.Namespace}
	}
	cfg.CurrentContext = l.sites[0].Name
	path := filepath.Join(l.cfg.Dir, "kubeconfig-"+user)
	return path, clientcmd.WriteToFile(*cfg, path)
}

// Gateway returns the DataPower simulator's peer group of GatewayCluster name on site.
func (l *Lab) Gateway(site, name string) (*datapower.Group, error) {
	s, err := l.Site(site)
	if err != nil {
		return nil, err
	}
	return s.gateways.Group(name), nil
}
