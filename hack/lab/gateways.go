package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/kubectl-apic/kubectl-apic/hack/lab/datapower"
	"github.com/kubectl-apic/kubectl-apic/hack/lab/kubelet"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

// DataPowerContainer is the gateway pods' DataPower container: the only one whose attach is the
// console. AdminPasswordKeyAnnotation on a GatewayCluster names the key of its admin Secret that
// holds the password (default "password"), a lab option for Secrets with other keys.
const (
	DataPowerContainer         = "datapower"
	AdminPasswordKeyAnnotation = "lab.kubectl-apic.io/admin-password-key"
)

// gatewaySimulator connects the DataPower CLI simulator to a site: one datapower.Group (shared
// gateway-peering state) per GatewayCluster, membership following the gateway pods the real scheduler
// placed and our fake kubelet runs, the console served on `kubectl attach`, and the management
// server's heartbeat (every five minutes, seed 000), scaled.
type gatewaySimulator struct {
	site    *Site
	mu      sync.Mutex
	groups  map[string]*datapower.Group // by GatewayCluster name
	members map[string]string           // pod → instance
	echo    kubelet.EchoShell
	// consoleLogs: the consoles' asynchronous log lines (nil: none).
	consoleLogs *datapower.ConsoleLogs
	logf        func(format string, args ...any)

	// What each pod incarnation runs (members.go): runs by UID, current the UID recorded last per
	// pod; overrides the wrong-version fault's version by UID, decided once per incarnation.
	runs      map[types.UID]MemberRun
	current   map[string]types.UID
	overrides map[types.UID]string
	// Pod faults by pod name (never-ready, wrong-version), cleared per gateway.
	neverReady   map[string]podFault
	wrongVersion map[string]podFault
}

func newGatewaySimulator(s *Site, logf func(string, ...any)) *gatewaySimulator {
	return &gatewaySimulator{site: s, groups: map[string]*datapower.Group{}, members: map[string]string{}, logf: logf,
		runs: map[types.UID]MemberRun{}, current: map[string]types.UID{}, overrides: map[types.UID]string{},
		neverReady: map[string]podFault{}, wrongVersion: map[string]podFault{}}
}

// Group returns the peer group of GatewayCluster name, creating it on first use.
func (g *gatewaySimulator) Group(name string) *datapower.Group {
	g.mu.Lock()
	defer g.mu.Unlock()
	grp, ok := g.groups[name]
	if !ok {
		grp = datapower.NewGroup(name, datapower.GroupOptions{ConsoleLogs: g.consoleLogs})
		g.groups[name] = grp
	}
	return grp
}

func (g *gatewaySimulator) allGroups() []*datapower.Group {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]*datapower.Group, 0, len(g.groups))
	for _, grp := range g.groups {
		out = append(out, grp)
	}
	return out
}

// run follows the site's DataPower pods until ctx ends, and sends heartbeats.
func (g *gatewaySimulator) run(ctx context.Context, heartbeat time.Duration) error {
	factory := informers.NewSharedInformerFactoryWithOptions(g.site.Kube, 0,
		informers.WithNamespace(g.site.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.LabelSelector = apic.KindLabel + "=" + apic.DataPowerKindValue
		}))
	inf := factory.Core().V1().Pods().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { g.observe(obj) },
		UpdateFunc: func(_, obj any) { g.observe(obj) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok {
				g.drop(p.Name)
				g.forgetIncarnation(p.Name, p.UID)
			}
		},
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	t := time.NewTicker(heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			for _, grp := range g.allGroups() {
				grp.Heartbeat()
			}
		}
	}
}

// observe keeps a group's membership in step with its pods: a Running pod with an IP is a member,
// up while Ready; a pod going away drops out of peering.
func (g *gatewaySimulator) observe(obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	inst := p.Labels[apic.InstanceLabel]
	if inst == "" {
		return
	}
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
		g.drop(p.Name)
		// A new pod: the wrong-version fault patches its productVersion before it starts.
		g.wrongVersionFor(p)
		return
	}
	run := g.memberRun(p)
	grp := g.Group(inst)
	g.mu.Lock()
	_, known := g.members[p.Name]
	g.members[p.Name] = inst
	g.mu.Unlock()
	if !known {
		grp.AddMember(p.Name, p.Status.PodIP)
	}
	grp.SetMemberVersion(p.Name, BannerVersion(run.Version))
	grp.SetMemberUp(p.Name, podReady(p))
}

func (g *gatewaySimulator) drop(pod string) {
	g.mu.Lock()
	inst, ok := g.members[pod]
	delete(g.members, pod)
	grp := g.groups[inst]
	g.mu.Unlock()
	if ok && grp != nil {
		grp.RemoveMember(pod)
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Attach serves a gateway pod's console (the DataPower CLI simulator); other pods get a plain shell.
// Credentials are read from the GatewayCluster's admin Secret at every attach, so changing the
// Secret changes what the console accepts.
func (g *gatewaySimulator) Attach(ctx context.Context, pod *corev1.Pod, container string, stdin io.Reader, stdout, stderr io.WriteCloser, tty bool, resize <-chan kubelet.TerminalSize) error {
	inst := pod.Labels[apic.InstanceLabel]
	if pod.Labels[apic.KindLabel] != apic.DataPowerKindValue || inst == "" || container != DataPowerContainer {
		// Only the datapower container is the DataPower console; a sidecar is a plain process.
		return g.echo.Attach(ctx, pod, container, stdin, stdout, stderr, tty, resize)
	}
	creds, err := g.credentials(ctx, inst)
	if err != nil {
		fmt.Fprintf(stderr, "simulator: %v\n", err)
		return err
	}
	err = g.Group(inst).Serve(ctx, pod.Name, stdin, stdout, tty, creds)
	if errors.Is(err, datapower.ErrProcessExited) {
		// Ctrl-D ended the DataPower process: the container exits and restarts, as on a real pod.
		if kerr := g.site.kubelet.KillContainer(pod.Namespace, pod.Name); kerr != nil {
			return kerr
		}
		return nil
	}
	if errors.Is(err, datapower.ErrLoginAttemptsExhausted) {
		return nil
	}
	return err
}

// Exec runs plain commands in any pod (DataPower has no shell to exec into; the simulator offers
// the echo shell so kubectl exec behaves).
func (g *gatewaySimulator) Exec(ctx context.Context, pod *corev1.Pod, container string, cmd []string, stdin io.Reader, stdout, stderr io.WriteCloser, tty bool, resize <-chan kubelet.TerminalSize) error {
	return g.echo.Exec(ctx, pod, container, cmd, stdin, stdout, stderr, tty, resize)
}

func (g *gatewaySimulator) credentials(ctx context.Context, gateway string) (datapower.Credentials, error) {
	s := g.site
	secretName, key := AdminSecretName, "password"
	if u, err := s.Dynamic.Resource(apic.GatewayClusterKind.GVR()).Namespace(s.Namespace).Get(ctx, gateway, metav1.GetOptions{}); err == nil {
		if o, err := apic.Wrap(u); err == nil && o.AdminSecretName() != "" {
			secretName = o.AdminSecretName()
		}
		if k := u.GetAnnotations()[AdminPasswordKeyAnnotation]; k != "" {
			key = k
		}
	}
	sec, err := s.Kube.CoreV1().Secrets(s.Namespace).Get(ctx, secretName, metav1.GetOptions{})
	if err != nil {
		return datapower.Credentials{}, fmt.Errorf("reading admin secret %s: %w", secretName, err)
	}
	return datapower.Credentials{Username: "admin", Password: string(sec.Data[key])}, nil
}
