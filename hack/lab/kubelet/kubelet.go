// Package kubelet is the lab's simulator of the node side of a cluster. The lab runs a real
// kube-apiserver, etcd, kube-scheduler and kube-controller-manager per simulated site, but no real
// kubelet or container runtime: this package registers simulated nodes, keeps them Ready (node
// leases plus a Ready heartbeat), marks the pods scheduled to them Running with an IP, deletes
// terminating pods as a kubelet would, injects faults (node or zone NotReady, a killed container)
// and serves the kubelet's attach and exec endpoints the apiserver proxies `kubectl attach/exec` to,
// handing each session to a StreamHandler that plays the simulated process.
//
// One Kubelet serves any number of nodes (benchmarks use 500) with one pod informer, one work queue
// and one HTTPS server. Client QPS: marking N pods Running costs about N status updates (plus one
// delete per terminating pod), and the leases cost nodes/10 requests a second; give the client
// QPS ≥ 500 and Burst ≥ 1000; client-go's default of 5 QPS would take 17 minutes for 5,000 pods.
// Measured with QPS 500 on a 2-core machine (TestIntegrationScale): 5,000 pods created 32 at a
// time on 3 nodes were all Running 20 s after the first create (7 s after the last); on 500 nodes
// (registered in 0.6 s, leases renewed every second) 29 s.
//
// Deliberate simulator choices (no real kubelet behaviour is invented beyond these):
//   - a NotReady node (SetNodeReady false) behaves like a node whose kubelet died: its lease is not
//     renewed, its Ready condition turns Unknown, its pods are reported Ready=False, and nothing else
//     happens to its pods — terminating pods stay Terminating and newly bound pods stay Pending
//     until the node is Ready again, exactly what makes a lost zone hurt on a real cluster;
//   - no probe is run: a container is ready as soon as it runs, or its readiness probe's
//     initialDelaySeconds later (a new pod is not Ready for its startup time);
//   - a deleted pod's containers keep running for its preStop sleep action (bounded by the grace
//     period), then stop at once (SIGTERM) and the pod is deleted;
//   - pods whose restartPolicy is Never or OnFailure (Job pods) exit 0 after Config.JobRunTime;
//   - a killed container exits 137 (SIGKILL) and restarts after Config.RestartDelay (no back-off);
//   - the HTTPS server authenticates nobody: it listens on loopback for the lab's apiservers only.
package kubelet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// Version is the Kubernetes version the simulated nodes report.
const Version = "v1.37.1"

// Defaults for Config and NodeSpec fields left zero.
const (
	DefaultCPU            = "16"
	DefaultMemory         = "64Gi"
	DefaultMaxPods        = 250
	DefaultPodCIDR        = "10.244.0.0/16"
	DefaultLeaseInterval  = 10 * time.Second
	DefaultStatusInterval = time.Minute
	DefaultRestartDelay   = time.Second
	DefaultJobRunTime     = 2 * time.Second
	DefaultWorkers        = 16
)

// Config configures a Kubelet.
type Config struct {
	// Client talks to the site's apiserver. See the package comment for the QPS it needs.
	Client kubernetes.Interface
	// Nodes are the simulated nodes; at least one.
	Nodes []NodeSpec
	// Address is the loopback IP every node advertises as InternalIP and the HTTPS server listens
	// on, e.g. 127.0.0.1. The apiserver must run with --kubelet-preferred-address-types=InternalIP.
	Address string
	// Port of the HTTPS server; 0 picks a free one (see Kubelet.Port).
	Port int
	// Streams plays the containers' processes for attach and exec; nil means EchoShell.
	Streams StreamHandler
	// PodCIDR is where pod IPs come from, e.g. 10.<site>.0.0/16; zero means DefaultPodCIDR.
	PodCIDR netip.Prefix
	// Logger receives progress and error messages; nil discards them.
	Logger func(format string, args ...any)

	// LeaseInterval is how often node leases are renewed (DefaultLeaseInterval).
	LeaseInterval time.Duration
	// StatusInterval is how often the nodes' condition heartbeats are refreshed (DefaultStatusInterval).
	StatusInterval time.Duration
	// RestartDelay is how long a killed container stays down (DefaultRestartDelay).
	RestartDelay time.Duration
	// JobRunTime is how long containers of pods with restartPolicy Never/OnFailure run before
	// exiting 0 (DefaultJobRunTime); negative means forever.
	JobRunTime time.Duration
	// Workers is the number of pods handled concurrently (DefaultWorkers).
	Workers int
}

// NodeSpec describes one simulated node.
type NodeSpec struct {
	Name string
	// Zone becomes the topology.kubernetes.io/zone label (omitted when empty).
	Zone string
	// Labels are added to (and override) the standard node labels.
	Labels map[string]string
	// CPU and Memory are the capacity (DefaultCPU, DefaultMemory when empty).
	CPU, Memory string
	// MaxPods is the pods capacity (DefaultMaxPods when zero).
	MaxPods int
}

// Kubelet is a running node simulator. Stop it with Stop.
type Kubelet struct {
	cfg     Config
	client  kubernetes.Interface
	streams StreamHandler
	logf    func(format string, args ...any)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine Start started, stream sessions included
	stop   sync.Once

	nodes map[string]*nodeState // fixed after Start; the states are guarded by mu

	mu   sync.Mutex
	pods map[string]*podRuntime // by namespace/name
	ipam *ipAllocator
	// readinessFaults: pods (namespace/name) whose readiness fails from their next start on; the
	// value is the UID of the incarnation running when the fault was set, which it spares.
	readinessFaults map[string]types.UID

	factory     informers.SharedInformerFactory
	podInformer cache.SharedIndexInformer
	queue       workqueue.TypedRateLimitingInterface[string]

	server     *http.Server
	listener   net.Listener
	sessMu     sync.Mutex
	sessClosed bool                  // set by Stop: no new sessions
	sessions   map[net.Conn]struct{} // connections of running attach/exec sessions
	sessWG     sync.WaitGroup
}

// Start registers the nodes, starts their heartbeats, the pod informer and workers and the HTTPS
// server, and returns once the pod cache has synced. Cancelling ctx stops the Kubelet like Stop.
func Start(ctx context.Context, cfg Config) (*Kubelet, error) {
	cfg, err := withDefaults(cfg)
	if err != nil {
		return nil, err
	}
	ipam, err := newIPAllocator(cfg.PodCIDR)
	if err != nil {
		return nil, err
	}
	k := &Kubelet{
		cfg:      cfg,
		client:   cfg.Client,
		streams:  cfg.Streams,
		logf:     cfg.Logger,
		nodes:    make(map[string]*nodeState, len(cfg.Nodes)),
		pods:     map[string]*podRuntime{},
		ipam:     ipam,
		sessions: map[net.Conn]struct{}{},

		readinessFaults: map[string]types.UID{},
	}
	for _, n := range cfg.Nodes {
		k.nodes[n.Name] = &nodeState{spec: n, ready: true}
	}
	k.ctx, k.cancel = context.WithCancel(ctx)

	// The server first: registration advertises its port.
	if err := k.startServer(); err != nil {
		k.cancel()
		return nil, err
	}
	if err := k.registerNodes(k.ctx); err != nil {
		k.Stop()
		return nil, err
	}
	k.goRun(k.runHeartbeats)
	if err := k.startPods(); err != nil {
		k.Stop()
		return nil, err
	}
	// Cancelling the caller's ctx is a Stop (the workers would otherwise wait on the queue forever).
	context.AfterFunc(k.ctx, k.Stop)
	k.logf("kubelet simulator: %d nodes registered, streaming on %s", len(k.nodes), k.listener.Addr())
	return k, nil
}

func withDefaults(cfg Config) (Config, error) {
	if cfg.Client == nil {
		return cfg, errors.New("kubelet: Config.Client is required")
	}
	if len(cfg.Nodes) == 0 {
		return cfg, errors.New("kubelet: Config.Nodes is empty")
	}
	addr, err := netip.ParseAddr(cfg.Address)
	if err != nil {
		return cfg, fmt.Errorf("kubelet: Config.Address: %w", err)
	}
	cfg.Address = addr.String()
	nodes := make([]NodeSpec, len(cfg.Nodes))
	seen := map[string]bool{}
	for i, n := range cfg.Nodes {
		if n.Name == "" {
			return cfg, fmt.Errorf("kubelet: node %d has no name", i)
		}
		if seen[n.Name] {
			return cfg, fmt.Errorf("kubelet: node %s listed twice", n.Name)
		}
		seen[n.Name] = true
		if n.CPU == "" {
			n.CPU = DefaultCPU
		}
		if n.Memory == "" {
			n.Memory = DefaultMemory
		}
		if n.MaxPods == 0 {
			n.MaxPods = DefaultMaxPods
		}
		for what, q := range map[string]string{"CPU": n.CPU, "Memory": n.Memory} {
			if _, err := resource.ParseQuantity(q); err != nil {
				return cfg, fmt.Errorf("kubelet: node %s %s %q: %w", n.Name, what, q, err)
			}
		}
		nodes[i] = n
	}
	cfg.Nodes = nodes
	if cfg.Streams == nil {
		cfg.Streams = EchoShell{}
	}
	if !cfg.PodCIDR.IsValid() {
		cfg.PodCIDR = netip.MustParsePrefix(DefaultPodCIDR)
	}
	if cfg.Logger == nil {
		cfg.Logger = func(string, ...any) {}
	}
	if cfg.LeaseInterval <= 0 {
		cfg.LeaseInterval = DefaultLeaseInterval
	}
	if cfg.StatusInterval <= 0 {
		cfg.StatusInterval = DefaultStatusInterval
	}
	if cfg.RestartDelay <= 0 {
		cfg.RestartDelay = DefaultRestartDelay
	}
	if cfg.JobRunTime == 0 {
		cfg.JobRunTime = DefaultJobRunTime
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	return cfg, nil
}

// Port is the HTTPS port the nodes advertise as their kubelet endpoint.
func (k *Kubelet) Port() int { return k.listener.Addr().(*net.TCPAddr).Port }

// Endpoint is host:port of the HTTPS server.
func (k *Kubelet) Endpoint() string {
	return net.JoinHostPort(k.cfg.Address, strconv.Itoa(k.Port()))
}

// Stop stops heartbeats, workers, the informer, the server and every attach/exec session, and waits
// for all of them. Nodes are left as they are (their leases simply expire). Safe to call twice.
func (k *Kubelet) Stop() {
	k.stop.Do(func() {
		k.cancel()
		if k.queue != nil {
			k.queue.ShutDown()
		}
		if k.server != nil {
			_ = k.server.Close()
		}
		// Hijacked connections are not closed by Server.Close; close them so that handlers
		// blocked on I/O return.
		k.sessMu.Lock()
		k.sessClosed = true
		for c := range k.sessions {
			_ = c.Close()
		}
		k.sessMu.Unlock()
		k.sessWG.Wait()
		if k.factory != nil {
			k.factory.Shutdown()
		}
		k.wg.Wait()
	})
}

// goRun runs f(k.ctx) on a goroutine Stop waits for.
func (k *Kubelet) goRun(f func(context.Context)) {
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		f(k.ctx)
	}()
}

// Nodes returns the simulated nodes' names and readiness.
func (k *Kubelet) Nodes() map[string]bool {
	out := make(map[string]bool, len(k.nodes))
	k.mu.Lock()
	defer k.mu.Unlock()
	for name, n := range k.nodes {
		out[name] = n.ready
	}
	return out
}

// isOurs reports whether a pod is bound to one of our nodes.
func (k *Kubelet) isOurs(pod *corev1.Pod) bool {
	_, ok := k.nodes[pod.Spec.NodeName]
	return ok
}
