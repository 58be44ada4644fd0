package rollout

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

// waitPod watches pod on site until cond holds (the kubectl rollout status way: list, then watch
// from that resourceVersion, re-listing after a 410) or timeout passes. last is the pod as last
// seen (nil when never seen).
func waitPod(ctx context.Context, site *Site, pod string, timeout time.Duration, cond func(p *corev1.Pod) bool) (last *corev1.Pod, err error) {
	sel := fields.OneTermEqualSelector("metadata.name", pod).String()
	pods := site.Kube.CoreV1().Pods(site.Namespace)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			return pods.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = sel
			return pods.Watch(ctx, o)
		},
	}
	wctx, cancel := watchtools.ContextWithOptionalTimeout(ctx, timeout)
	defer cancel()
	// The client says whether it can stream the initial list (WatchList); fake clients cannot.
	_, err = watchtools.UntilWithSync(wctx, cache.ToListWatcherWithWatchListSemantics(lw, site.Kube), &corev1.Pod{}, nil, func(ev watch.Event) (bool, error) {
		p, ok := ev.Object.(*corev1.Pod)
		if !ok || p.Name != pod { // a field selector a fake client ignores
			return false, nil
		}
		if ev.Type == watch.Deleted {
			last = nil // a StatefulSet pod comes back under the same name
			return false, nil
		}
		last = p
		return cond(p), nil
	})
	if err != nil && ctx.Err() == nil && (wait.Interrupted(err) || wctx.Err() != nil) {
		return last, fmt.Errorf("not within %s", timeout)
	}
	return last, err
}
