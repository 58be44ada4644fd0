package inventory

import (
	"context"
	"fmt"
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/explain"
)

// Watch keeps snap (from Read with the same req) current: it watches every resource Read listed,
// from that LIST's resourceVersion (no second LIST), keeps each resource's objects in a client-go
// cache.Store and, after each change, calls changed with a new Snapshot. Kinds in snap.Missing are
// not watched.
//
// Connection failures are retried by client-go's RetryWatcher, so a site that goes away and comes
// back resumes by itself; req.WatchFailed hears of each failure (status --watch then probes the
// site). Watch returns when ctx ends (nil) or a watch ends for good, e.g. its resourceVersion
// expired (410 Gone): the caller then Reads again and calls Watch anew.
func Watch(ctx context.Context, c Clients, req Request, snap *Snapshot, changed func(*Snapshot)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st := newState(snap)
	type source struct {
		gvr   schema.GroupVersionResource
		watch cache.WatchFuncWithContext
	}
	var sources []source
	for _, k := range req.kinds() {
		if snap.IsMissing(k) {
			continue
		}
		gvr := k.GVR()
		sources = append(sources, source{gvr, func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return c.Dynamic.Resource(gvr).Namespace(req.Namespace).Watch(ctx, o)
		}})
	}
	if req.Pods {
		sources = append(sources, source{PodsGVR, func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = PodSelector()
			return c.Kube.CoreV1().Pods(req.Namespace).Watch(ctx, o)
		}})
	}
	if req.Nodes {
		sources = append(sources, source{NodesGVR, func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return c.Metadata.Resource(NodesGVR).Watch(ctx, o)
		}})
	}
	if req.WatchFailed != nil {
		for i := range sources {
			w := sources[i].watch
			sources[i].watch = func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				wi, err := w(ctx, o)
				if err != nil && ctx.Err() == nil {
					req.WatchFailed(err)
				}
				return wi, err
			}
		}
	}
	errs := make(chan error, len(sources))
	for _, src := range sources {
		rw, err := watchtools.NewRetryWatcherWithContext(ctx, snap.ResourceVersions[src.gvr.String()],
			&cache.ListWatch{WatchFuncWithContext: src.watch})
		if err != nil {
			return fmt.Errorf("context %s: watching %s: %w", c.Site, src.gvr.Resource, err)
		}
		go func() {
			defer rw.Stop()
			for {
				select {
				case <-ctx.Done():
					errs <- nil
					return
				case ev, ok := <-rw.ResultChan():
					if !ok {
						errs <- fmt.Errorf("context %s: watch of %s ended", c.Site, src.gvr.Resource)
						return
					}
					if ev.Type == watch.Error {
						errs <- explain.Error(apierrors.FromObject(ev.Object), c.Site, src.gvr, "watch")
						return
					}
					if st.apply(src.gvr, ev) {
						changed(st.snapshot())
					}
				}
			}
		}()
	}
	if len(sources) == 0 {
		<-ctx.Done()
		return nil
	}
	err := <-errs
	cancel()
	return err
}

// state is what Watch maintains: one cache.Store (keyed namespace/name) per watched resource, and
// the resourceVersion each last reached.
type state struct {
	mu      sync.Mutex
	site    string
	missing []apic.Kind
	rvs     map[string]string
	stores  map[schema.GroupVersionResource]cache.Store
	kinds   map[schema.GroupVersionResource]apic.Kind
}

func newState(s *Snapshot) *state {
	st := &state{site: s.Site, missing: s.Missing, rvs: map[string]string{},
		stores: map[schema.GroupVersionResource]cache.Store{}, kinds: map[schema.GroupVersionResource]apic.Kind{}}
	for k, v := range s.ResourceVersions {
		st.rvs[k] = v
	}
	store := func(gvr schema.GroupVersionResource) cache.Store {
		if st.stores[gvr] == nil {
			st.stores[gvr] = cache.NewStore(cache.MetaNamespaceKeyFunc)
		}
		return st.stores[gvr]
	}
	for _, k := range apic.Kinds() {
		st.kinds[k.GVR()] = k
		store(k.GVR())
	}
	for _, o := range s.Objects {
		_ = store(o.Kind.GVR()).Add(o.U)
	}
	for i := range s.Pods {
		_ = store(PodsGVR).Add(&s.Pods[i])
	}
	for i := range s.Nodes {
		_ = store(NodesGVR).Add(&s.Nodes[i])
	}
	return st
}

// apply records one event of resource gvr; it reports whether the state changed.
func (st *state) apply(gvr schema.GroupVersionResource, ev watch.Event) bool {
	if ev.Type == watch.Bookmark {
		return false
	}
	switch ev.Object.(type) {
	case *unstructured.Unstructured, *corev1.Pod, *metav1.PartialObjectMetadata:
	default:
		return false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	store := st.stores[gvr]
	if store == nil {
		store = cache.NewStore(cache.MetaNamespaceKeyFunc)
		st.stores[gvr] = store
	}
	var err error
	if ev.Type == watch.Deleted {
		err = store.Delete(ev.Object)
	} else {
		err = store.Update(ev.Object)
	}
	if err != nil {
		return false
	}
	if m, err := meta.Accessor(ev.Object); err == nil {
		st.rvs[gvr.String()] = m.GetResourceVersion()
	}
	return true
}

// snapshot copies the state into a new Snapshot, ordered as Read orders it.
func (st *state) snapshot() *Snapshot {
	st.mu.Lock()
	defer st.mu.Unlock()
	s := &Snapshot{Site: st.site, Missing: st.missing, ResourceVersions: map[string]string{}}
	for k, v := range st.rvs {
		s.ResourceVersions[k] = v
	}
	for gvr, store := range st.stores {
		for _, obj := range store.List() {
			switch obj := obj.(type) {
			case *unstructured.Unstructured:
				if k, ok := st.kinds[gvr]; ok {
					s.Objects = append(s.Objects, apic.Object{Kind: k, U: obj})
				}
			case *corev1.Pod:
				s.Pods = append(s.Pods, *obj)
			case *metav1.PartialObjectMetadata:
				s.Nodes = append(s.Nodes, *obj)
			}
		}
	}
	sortObjects(s.Objects)
	sort.Slice(s.Pods, func(i, j int) bool { return podKey(&s.Pods[i]) < podKey(&s.Pods[j]) })
	sort.Slice(s.Nodes, func(i, j int) bool { return s.Nodes[i].Name < s.Nodes[j].Name })
	return s
}
