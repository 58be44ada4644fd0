// Package operator is the lab's API Connect OPERATOR SIMULATOR. The lab has no IBM operator: this
// package reproduces the operator behaviour IBM documents (seeds 002 and 003, shared/apic-reference.md)
// on one simulated site, so that kubectl-apic's commands can be exercised against real API servers:
//
//   - 2DCDR mode changes of management and portal (ha.go), with IBM's haMode/haStatus sequences and
//     documented durations scaled by Options.TimeScale;
//   - the top-level APIConnectCluster: subsystem CRs created from it and its status aggregated, and the
//     CP4I configurator-job Warning after a failover (toplevel.go);
//   - workloads the real scheduler places: StatefulSets per microservice with the operator's default
//     soft node anti-affinity plus template affinity overrides, and DataPowerServices (workloads.go).
//
// Every simulated behaviour names the documentation it follows; where IBM is silent the comment says
// what the simulator chose.
package operator

import (
	"context"
	"errors"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

// Site is one simulated data center: its API server clients and the namespace API Connect runs in.
type Site struct {
	Name      string // e.g. dc1
	Dynamic   dynamic.Interface
	Kube      kubernetes.Interface
	Namespace string
}

// Link is the simulated inter-site network link; the lab cuts and restores it.
type Link interface{ Up() bool }

// Options tune the simulator.
type Options struct {
	// TimeScale multiplies every documented duration; 0 means DefaultTimeScale (5 minutes → 1 second).
	TimeScale float64
	// Durations overrides IBM's documented timings (before scaling); zero means DocumentedDurations().
	Durations Durations
	// Clock drives the transition timers; nil means the real clock. Tests pass a fake clock.
	Clock clock.WithTicker
	// Resync is how often Run reconciles everything even without events (to notice the link and the
	// peer, which it does not watch); 0 means 500ms. It is real time, not scaled.
	Resync time.Duration
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
}

// Operator simulates IBM's API Connect operator on one site.
type Operator struct {
	self, peer Site
	link       Link
	clock      clock.WithTicker
	d          Durations // scaled
	resync     time.Duration
	logf       func(string, ...any)
}

// New returns the simulator for self; peer is read (never written) while link is up.
func New(self, peer Site, link Link, opts Options) *Operator {
	o := &Operator{self: self, peer: peer, link: link, clock: opts.Clock, resync: opts.Resync, logf: opts.Logf}
	if o.clock == nil {
		o.clock = clock.RealClock{}
	}
	if o.resync <= 0 {
		o.resync = 500 * time.Millisecond
	}
	if o.logf == nil {
		o.logf = func(string, ...any) {}
	}
	scale := opts.TimeScale
	if scale <= 0 {
		scale = DefaultTimeScale
	}
	d := opts.Durations
	if d == (Durations{}) {
		d = DocumentedDurations()
	}
	o.d = d.scale(scale)
	return o
}

// Run reconciles until ctx ends: on every change to the kinds it owns (via informers) and every Resync.
func (o *Operator) Run(ctx context.Context) error {
	poke := make(chan struct{}, 1)
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { nudge(poke) },
		UpdateFunc: func(any, any) { nudge(poke) },
		DeleteFunc: func(any) { nudge(poke) },
	}
	dyn := dynamicinformer.NewFilteredDynamicSharedInformerFactory(o.self.Dynamic, 0, o.self.Namespace, nil)
	for _, k := range apic.Kinds() {
		if _, err := dyn.ForResource(k.GVR()).Informer().AddEventHandler(handler); err != nil {
			return err
		}
	}
	kube := informers.NewSharedInformerFactoryWithOptions(o.self.Kube, 0, informers.WithNamespace(o.self.Namespace))
	for _, inf := range []cache.SharedIndexInformer{kube.Apps().V1().StatefulSets().Informer(), kube.Batch().V1().Jobs().Informer()} {
		if _, err := inf.AddEventHandler(handler); err != nil {
			return err
		}
	}
	dyn.Start(ctx.Done())
	kube.Start(ctx.Done())
	defer dyn.Shutdown()
	defer kube.Shutdown()

	ticker := o.clock.NewTicker(o.resync)
	defer ticker.Stop()
	o.logf("operator simulator %s: running in namespace %s", o.self.Name, o.self.Namespace)
	for {
		if err := o.Sync(ctx); err != nil && ctx.Err() == nil {
			o.logf("operator simulator %s: %v", o.self.Name, err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C():
		case <-poke:
		}
	}
}

func nudge(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Sync is one reconcile pass over every API Connect CR in the site's namespace: top-level CRs first
// (they create and configure subsystem CRs), then subsystem CRs (workloads and status), then the
// top-level status aggregated from its subsystems. Run calls it; tests call it directly.
func (o *Operator) Sync(ctx context.Context) error {
	var errs []error
	tops, err := o.list(ctx, apic.APIConnectClusterKind)
	errs = append(errs, err)
	for _, t := range tops {
		errs = append(errs, o.syncTopLevelSpec(ctx, t))
	}
	for _, k := range []apic.Kind{apic.ManagementClusterKind, apic.PortalClusterKind, apic.AnalyticsClusterKind, apic.GatewayClusterKind} {
		items, err := o.list(ctx, k)
		errs = append(errs, err)
		for _, u := range items {
			errs = append(errs, o.syncSubsystem(ctx, u))
		}
	}
	for _, t := range tops {
		errs = append(errs, o.syncTopLevelStatus(ctx, t.GetName()))
	}
	return errors.Join(errs...)
}

func (o *Operator) list(ctx context.Context, k apic.Kind) ([]*unstructured.Unstructured, error) {
	l, err := o.self.Dynamic.Resource(k.GVR()).Namespace(o.self.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil // CRD not installed on this site
		}
		return nil, err
	}
	out := make([]*unstructured.Unstructured, 0, len(l.Items))
	for i := range l.Items {
		out = append(out, &l.Items[i])
	}
	return out, nil
}

// updateStatus writes u's status if it differs from before.
func (o *Operator) updateStatus(ctx context.Context, k apic.Kind, before map[string]interface{}, u *unstructured.Unstructured) error {
	if equalJSON(before, statusOf(u)) {
		return nil
	}
	_, err := o.self.Dynamic.Resource(k.GVR()).Namespace(u.GetNamespace()).UpdateStatus(ctx, u, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		return nil // changed meanwhile; the next pass recomputes from the fresh object
	}
	return err
}
