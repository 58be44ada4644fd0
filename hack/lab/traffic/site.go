// Package traffic makes the lab serve API traffic: every simulated DataPower pod answers HTTP API
// calls on a loopback address of its own, each site has a gateway endpoint that routes only to the
// pods a Service's endpoints list as ready (read from the EndpointSlices the site's real
// kube-controller-manager maintains for the gateway's headless Service), and a global router sits
// in front of the sites, with drain and undrain for a user's load-balancer hook.
//
// Lifecycle, as Kubernetes documents it and the lab's fake kubelet plays it: a pod being deleted
// turns not ready in its EndpointSlice (the controller's own timing, racing the kubelet) and gets
// SIGTERM once its preStop hook (if any) has run; SIGTERM closes the member's listener and cuts the
// connections still open (requests in flight fail: "socket hang up"). A new pod answers as soon as
// its container runs but gets traffic only once it is Ready (the kubelet honours the readiness
// probe's initialDelaySeconds).
package traffic

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

// Defaults.
const (
	// DefaultServiceTime is how long a simulated API call takes, so that calls are in flight when a
	// pod dies (our choice: a fast API behind a gateway).
	DefaultServiceTime = 20 * time.Millisecond
	// ServiceLabel marks the lab's gateway Services (and, copied by the controller, their
	// EndpointSlices).
	ServiceLabel = "simulator.kubectl-apic.io/traffic"
	// APIPort is the port the gateway Services declare (API Connect's default API gateway port).
	APIPort = 9443
)

// SiteConfig configures one site's traffic.
type SiteConfig struct {
	Name      string
	Namespace string
	Kube      kubernetes.Interface
	// ServiceTime is the duration of one API call (DefaultServiceTime).
	ServiceTime time.Duration
	// ReadOnly reports whether a gateway's peering has lost quorum; nil: never.
	ReadOnly func(gateway string) bool
	// Describe returns what a starting gateway pod runs: its version and the ConfigMap revisions it
	// read ("<cm>=<resourceVersion>,..."); nil: the image tag and none.
	Describe func(p *corev1.Pod) (version, config string)
	Logf     func(format string, args ...any)
}

// Site serves one site's gateway traffic. Start it with StartSite.
type Site struct {
	cfg SiteConfig

	mu        sync.Mutex
	members   map[string]*member             // by pod
	slices    map[string]map[string]endpoint // EndpointSlice → pod → endpoint
	services  map[string]bool                // gateway Services created
	faults    map[string]memberFault         // by pod
	endpoint  *proxy
	rr        atomic.Uint64
	closeOnce sync.Once
	cancel    context.CancelFunc
	factories []informers.SharedInformerFactory
}

// StartSite starts following the site's gateway pods and EndpointSlices and listens on the site's
// gateway endpoint. Cancelling ctx stops it (Close waits).
func StartSite(ctx context.Context, cfg SiteConfig) (*Site, error) {
	if cfg.ServiceTime == 0 {
		cfg.ServiceTime = DefaultServiceTime
	}
	if cfg.ReadOnly == nil {
		cfg.ReadOnly = func(string) bool { return false }
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &Site{cfg: cfg, cancel: cancel, members: map[string]*member{}, slices: map[string]map[string]endpoint{},
		services: map[string]bool{}, faults: map[string]memberFault{}}
	var err error
	if s.endpoint, err = newProxy(cfg.Name+" gateway endpoint", "127.0.0.1", s.pick, cfg.Logf); err != nil {
		cancel()
		return nil, err
	}
	podFactory := informers.NewSharedInformerFactoryWithOptions(cfg.Kube, 0, informers.WithNamespace(cfg.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = apic.KindLabel + "=" + apic.DataPowerKindValue }))
	sliceFactory := informers.NewSharedInformerFactoryWithOptions(cfg.Kube, 0, informers.WithNamespace(cfg.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = ServiceLabel + "=true" }))
	s.factories = []informers.SharedInformerFactory{podFactory, sliceFactory}
	pods := podFactory.Core().V1().Pods().Informer()
	slices := sliceFactory.Discovery().V1().EndpointSlices().Informer()
	if _, err := pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.observePod(ctx, obj) },
		UpdateFunc: func(_, obj any) { s.observePod(ctx, obj) },
		DeleteFunc: s.forgetPod,
	}); err != nil {
		s.Close()
		return nil, err
	}
	if _, err := slices.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    s.observeSlice,
		UpdateFunc: func(_, obj any) { s.observeSlice(obj) },
		DeleteFunc: s.forgetSlice,
	}); err != nil {
		s.Close()
		return nil, err
	}
	for _, f := range s.factories {
		f.Start(ctx.Done())
	}
	context.AfterFunc(ctx, s.Close)
	return s, nil
}

// Close stops the endpoint and every member.
func (s *Site) Close() { s.closeOnce.Do(s.close) }

func (s *Site) close() {
	s.cancel()
	s.endpoint.Close()
	s.mu.Lock()
	ms := s.members
	s.members = map[string]*member{}
	s.mu.Unlock()
	for _, m := range ms {
		m.kill()
	}
	for _, f := range s.factories {
		f.Shutdown()
	}
}

// Endpoint is the site's gateway endpoint URL, e.g. http://127.0.0.1:41234.
func (s *Site) Endpoint() string { return "http://" + s.endpoint.Addr() }

// EndpointUp reports whether the site's gateway endpoint accepts connections.
func (s *Site) EndpointUp() bool { return s.endpoint.IsUp() }

// SetEndpointUp takes the site's gateway endpoint down (connections refused, open ones cut) or
// brings it back on the same address.
func (s *Site) SetEndpointUp(up bool) error {
	if up {
		return s.endpoint.Up()
	}
	s.endpoint.Down()
	return nil
}

// MemberURL is the URL of pod's own API listener ("" when it does not run).
func (s *Site) MemberURL(pod string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.members[pod]; m != nil {
		return "http://" + m.addr
	}
	return ""
}

// Routable lists the pods the endpoint routes to (ready in an EndpointSlice and running), sorted.
func (s *Site) Routable() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.routableLocked()
}

func (s *Site) routableLocked() []string {
	var out []string
	seen := map[string]bool{}
	for _, pods := range s.slices {
		for pod, e := range pods {
			// The same pod: a StatefulSet's replacement has the old one's name, not its UID.
			if m := s.members[pod]; e.ready && m != nil && m.uid == e.uid && !seen[pod] {
				seen[pod] = true
				out = append(out, pod)
			}
		}
	}
	sort.Strings(out)
	return out
}

// SetMemberFault makes pod answer status instead of 200 (0: normally) after an extra delay.
func (s *Site) SetMemberFault(pod string, status int, delay time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[pod] = memberFault{status: status, delay: delay}
}

// ClearMemberFaults removes every member fault of the site.
func (s *Site) ClearMemberFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = map[string]memberFault{}
}

func (s *Site) pick() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pods := s.routableLocked()
	if len(pods) == 0 {
		return "", false
	}
	return s.members[pods[int(s.rr.Add(1)%uint64(len(pods)))]].addr, true
}

func running(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
		return false
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Running != nil {
			return true
		}
	}
	return false
}

func (s *Site) observePod(ctx context.Context, obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	inst := p.Labels[apic.InstanceLabel]
	if inst == "" {
		return
	}
	s.ensureService(ctx, inst)
	s.mu.Lock()
	m := s.members[p.Name]
	if m != nil && (m.uid != string(p.UID) || !running(p)) {
		// SIGTERM (after preStop, when the kubelet stops the container) or a killed container.
		delete(s.members, p.Name)
		s.mu.Unlock()
		m.kill()
		s.cfg.Logf("%s traffic: member %s stopped", s.cfg.Name, p.Name)
		s.mu.Lock()
		m = nil
	}
	if m != nil || !running(p) {
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	a := Answer{Member: p.Name, Gateway: inst, Site: s.cfg.Name, Revision: p.Labels["controller-revision-hash"]}
	if s.cfg.Describe != nil {
		a.Version, a.Config = s.cfg.Describe(p)
	} else if len(p.Spec.Containers) > 0 {
		img := p.Spec.Containers[0].Image
		if i := strings.LastIndex(img, ":"); i > strings.LastIndex(img, "/") {
			a.Version = img[i+1:]
		}
	}
	pod := p.Name
	nm, err := startMember(pod, string(p.UID), p.Status.PodIP, a, s.cfg.ServiceTime,
		func() memberFault {
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.faults[pod]
		},
		func() bool { return s.cfg.ReadOnly(inst) })
	if err != nil {
		s.cfg.Logf("%s traffic: member %s: %v", s.cfg.Name, pod, err)
		return
	}
	s.mu.Lock()
	if old := s.members[pod]; old != nil { // raced with another event
		s.mu.Unlock()
		nm.kill()
		return
	}
	s.members[pod] = nm
	s.mu.Unlock()
	s.cfg.Logf("%s traffic: member %s answers on %s", s.cfg.Name, pod, nm.addr)
}

func (s *Site) forgetPod(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	s.mu.Lock()
	m := s.members[p.Name]
	if m != nil && m.uid == string(p.UID) {
		delete(s.members, p.Name)
	} else {
		m = nil
	}
	s.mu.Unlock()
	if m != nil {
		m.kill()
		s.cfg.Logf("%s traffic: member %s stopped (pod deleted)", s.cfg.Name, p.Name)
	}
}

// ensureService creates the gateway's headless Service (the StatefulSet's governing Service, named
// after the GatewayCluster), whose EndpointSlices the controller-manager keeps.
func (s *Site) ensureService(ctx context.Context, gateway string) {
	s.mu.Lock()
	done := s.services[gateway]
	s.services[gateway] = true
	s.mu.Unlock()
	if done {
		return
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: gateway, Namespace: s.cfg.Namespace, Labels: map[string]string{ServiceLabel: "true"}},
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone,
			Selector:  map[string]string{apic.InstanceLabel: gateway, apic.KindLabel: apic.DataPowerKindValue},
			Ports:     []corev1.ServicePort{{Name: "api-gateway", Port: APIPort}},
		},
	}
	go func() {
		_, err := s.cfg.Kube.CoreV1().Services(s.cfg.Namespace).Create(ctx, svc, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			s.cfg.Logf("%s traffic: creating Service %s: %v", s.cfg.Name, gateway, err)
			s.mu.Lock()
			s.services[gateway] = false // try again at the next pod event
			s.mu.Unlock()
		}
	}()
}

func (s *Site) observeSlice(obj any) {
	es, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return
	}
	pods := map[string]endpoint{}
	for _, e := range es.Endpoints {
		if e.TargetRef == nil || e.TargetRef.Kind != "Pod" {
			continue
		}
		// EndpointSlice API: a nil ready condition means ready; terminating endpoints are not ready.
		pods[e.TargetRef.Name] = endpoint{uid: string(e.TargetRef.UID), ready: e.Conditions.Ready == nil || *e.Conditions.Ready}
	}
	s.mu.Lock()
	s.slices[es.Name] = pods
	s.mu.Unlock()
}

func (s *Site) forgetSlice(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	if es, ok := obj.(*discoveryv1.EndpointSlice); ok {
		s.mu.Lock()
		delete(s.slices, es.Name)
		s.mu.Unlock()
	}
}

// String describes the site's traffic for logs.
func (s *Site) String() string {
	return fmt.Sprintf("%s gateway endpoint %s (routes to %s)", s.cfg.Name, s.Endpoint(), strings.Join(s.Routable(), ", "))
}

// endpoint is one pod in an EndpointSlice.
type endpoint struct {
	uid   string
	ready bool
}
