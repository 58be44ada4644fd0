package failover

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/explain"
	"github.com/kubectl-apic/kubectl-apic/pkg/kube"
)

// Condition is what a wait waits for.
type Condition func(apic.Object) bool

// waitSpec describes one wait.
type waitSpec struct {
	site    *kube.Site
	kind    apic.Kind
	name    string
	timeout time.Duration
	// what is the condition in words, for the timeout message.
	what string
	cond Condition
	// onChange is called with each new state line (haMode/haStatus/phase) as it changes.
	onChange func(state string)
	// now stamps the moment the condition was seen (bench: reaction time).
	now func() time.Time
	// peerLost, when positive, ends the wait once the object has reported haStatus PeerNotReachable
	// for that long: a condition that needs the peer cannot come while the link is down.
	peerLost time.Duration
}

// PeerLostError ends a wait whose object could not reach its replication peer for too long.
type PeerLostError struct {
	Site, Ref, Message string
	For                time.Duration
}

func (e *PeerLostError) Error() string {
	return fmt.Sprintf("%s on %s has reported haStatus PeerNotReachable for %s (%s): the sites cannot see each other",
		e.Ref, e.Site, e.For, e.Message)
}

// waitResult is the object that met the condition and when its event was handled.
type waitResult struct {
	obj apic.Object
	at  time.Time
}

// until watches one object (watchtools.UntilWithSync: list, then watch, re-listing on watch expiry)
// until cond holds, the timeout passes or ctx ends.
func until(ctx context.Context, w waitSpec) (waitResult, error) {
	ri := w.site.Dynamic.Resource(w.kind.GVR()).Namespace(w.site.Namespace)
	sel := fields.OneTermEqualSelector("metadata.name", w.name).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			return ri.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = sel
			return ri.Watch(ctx, o)
		},
	}
	// Streaming lists (WatchList) where the client supports them; client-go's fakes say they do not.
	slw := cache.ToListWatcherWithWatchListSemantics(lw, w.site.Dynamic)
	tctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	wctx, lost := context.WithCancelCause(tctx)
	defer lost(nil)
	var res waitResult
	last := ""
	var peerTimer *time.Timer
	defer func() {
		if peerTimer != nil {
			peerTimer.Stop()
		}
	}()
	watchPeer := func(o apic.Object) {
		if w.peerLost <= 0 {
			return
		}
		c, ok := o.ActiveHAStatus()
		if ok && c.Type == apic.HAStatusPeerNotReachable {
			if peerTimer == nil {
				e := &PeerLostError{Site: w.site.Name, Ref: o.Ref(), Message: c.Message, For: w.peerLost}
				peerTimer = time.AfterFunc(w.peerLost, func() { lost(e) })
			}
			return
		}
		if peerTimer != nil {
			peerTimer.Stop()
			peerTimer = nil
		}
	}
	_, err := watchtools.UntilWithSync(wctx, slw, &unstructured.Unstructured{}, nil, func(ev watch.Event) (bool, error) {
		u, ok := ev.Object.(*unstructured.Unstructured)
		if !ok || ev.Type == watch.Deleted {
			if ev.Type == watch.Deleted {
				return false, fmt.Errorf("%s/%s was deleted on %s", w.kind.Display(), w.name, w.site.Name)
			}
			return false, nil
		}
		o := apic.Object{Kind: w.kind, U: u}
		if s := describe(o); s != last {
			last = s
			if w.onChange != nil {
				w.onChange(s)
			}
		}
		if w.cond(o) {
			res = waitResult{obj: o, at: w.now()}
			return true, nil
		}
		watchPeer(o)
		return false, nil
	})
	if err == nil {
		return res, nil
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	var pl *PeerLostError
	if errors.As(context.Cause(wctx), &pl) {
		return res, pl
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, watchtools.ErrWatchClosed) || tctx.Err() != nil {
		return res, exitcode.Newf(exitcode.Timeout, "timed out after %s waiting on %s for %s/%s: %s (last seen: %s). The operator may still complete it: check the API Connect operator log on %s (search for the word Multi), then re-run the same command to resume, or allow more time with --demote-timeout/--promote-timeout",
			w.timeout, w.site.Name, w.kind.Display(), w.name, w.what, cmp.Or(last, "(none)"), w.site.Name)
	}
	return res, explain.Error(err, w.site.Name, w.kind.GVR(), "watch")
}
