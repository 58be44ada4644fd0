package inventory

import (
	"context"
	"fmt"
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/explain"
)

// Watch keeps snap (from Read with the same req) current: it watches every resource Read listed,
// from that LIST's resourceVersion (no second LIST), applies the events to a copy and, after each
// change, calls changed with a new Snapshot. Kinds in snap.Missing are not watched.
//
// Connection failures are retried by client-go's RetryWatcher, so a site that goes away and comes
// back resumes by itself; req.WatchFailed hears of each failure (status --watch then probes the site). Watch returns when ctx ends (nil) or a watch ends for good, e.g. its
// resourceVersion expired (410 Gone): the caller then Reads again and calls Watch anew.
func Watch(ctx context.Context, c Clients, req Request, snap *Snapshot, changed func(*Snapshot)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st := newStore(snap)
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
						errs <- explain.Error(apiErr(ev.Object), c.Site, src.gvr, "watch")
						return
					}
					if st.apply(ev) {
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

// store is the state Watch maintains, keyed by namespace/name per kind.
type store struct {
	mu       sync.Mutex
	site     string
	missing  []apic.Kind
	rvs      map[string]string
	objects  map[string]apic.Object // kind|ns/name
	pods     map[string]corev1.Pod
	nodes    map[string]metav1.PartialObjectMetadata
	kindsFor map[string]apic.Kind // GroupKind string → kind
}

func newStore(s *Snapshot) *store {
	st := &store{site: s.Site, missing: s.Missing, rvs: map[string]string{}, objects: map[string]apic.Object{},
		pods: map[string]corev1.Pod{}, nodes: map[string]metav1.PartialObjectMetadata{}, kindsFor: map[string]apic.Kind{}}
	for k, v := range s.ResourceVersions {
		st.rvs[k] = v
	}
	for _, k := range apic.Kinds() {
		st.kindsFor[k.Group+"/"+k.Kind] = k
	}
	for _, o := range s.Objects {
		st.objects[objKey(o)] = o
	}
	for _, p := range s.Pods {
		st.pods[p.Namespace+"/"+p.Name] = p
	}
	for _, n := range s.Nodes {
		st.nodes[n.Name] = n
	}
	return st
}

func objKey(o apic.Object) string { return o.Kind.Kind + "|" + o.Namespace() + "/" + o.Name() }

// apply records one event; it reports whether the state changed.
func (st *store) apply(ev watch.Event) bool {
	if ev.Type == watch.Bookmark {
		return false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	del := ev.Type == watch.Deleted
	switch obj := ev.Object.(type) {
	case *unstructured.Unstructured:
		gvk := obj.GroupVersionKind()
		k, ok := st.kindsFor[gvk.Group+"/"+gvk.Kind]
		if !ok {
			return false
		}
		o := apic.Object{Kind: k, U: obj}
		if del {
			delete(st.objects, objKey(o))
		} else {
			st.objects[objKey(o)] = o
		}
		st.rvs[k.GVR().String()] = obj.GetResourceVersion()
	case *corev1.Pod:
		key := obj.Namespace + "/" + obj.Name
		if del {
			delete(st.pods, key)
		} else {
			st.pods[key] = *obj
		}
		st.rvs[PodsGVR.String()] = obj.ResourceVersion
	case *metav1.PartialObjectMetadata:
		if del {
			delete(st.nodes, obj.Name)
		} else {
			st.nodes[obj.Name] = *obj
		}
		st.rvs[NodesGVR.String()] = obj.ResourceVersion
	default:
		return false
	}
	return true
}

// snapshot copies the state into a new Snapshot, ordered as Read orders it.
func (st *store) snapshot() *Snapshot {
	st.mu.Lock()
	defer st.mu.Unlock()
	s := &Snapshot{Site: st.site, Missing: st.missing, ResourceVersions: map[string]string{}}
	for k, v := range st.rvs {
		s.ResourceVersions[k] = v
	}
	for _, o := range st.objects {
		s.Objects = append(s.Objects, o)
	}
	sortObjects(s.Objects)
	for _, p := range st.pods {
		s.Pods = append(s.Pods, p)
	}
	sort.Slice(s.Pods, func(i, j int) bool { return podKey(&s.Pods[i]) < podKey(&s.Pods[j]) })
	for _, n := range st.nodes {
		s.Nodes = append(s.Nodes, n)
	}
	sort.Slice(s.Nodes, func(i, j int) bool { return s.Nodes[i].Name < s.Nodes[j].Name })
	return s
}

func apiErr(obj runtime.Object) error {
	if st, ok := obj.(*metav1.Status); ok {
		return &statusError{st}
	}
	return fmt.Errorf("watch error: %v", obj)
}

type statusError struct{ s *metav1.Status }

func (e *statusError) Error() string         { return e.s.Message }
func (e *statusError) Status() metav1.Status { return *e.s }
