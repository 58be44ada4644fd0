package status

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/explain"
	"github.com/kubectl-apic/kubectl-apic/pkg/inventory"
	"github.com/kubectl-apic/kubectl-apic/pkg/kube"
)

// clearScreen moves the cursor home and clears the terminal, for the TTY redraw of --watch.
const clearScreen = "\x1b[H\x1b[2J"

// runWatch renders the report, then re-renders it whenever a watched object changes (watches on
// every kind of every site, pkg/inventory.Watch; no polling of the objects), debounced so one
// operator update of several objects redraws once. On a terminal each report replaces the last;
// otherwise each change prints a new report. It ends on Ctrl-C (or ctx's end) with the exit code
// of the last report it printed.
//
// A watch alone does not notice a site going away: client-go's RetryWatcher keeps retrying and the
// cached objects would still be drawn as they were. So each watched site is also probed (GET
// /version every ProbeInterval, ProbeTimeout each, and at once when one of its watches fails); a
// failed probe marks it UNREACHABLE, and it is read again with backoff (at most RetryMax apart)
// until it answers, when its watches resume.
func (o *Options) runWatch(ctx context.Context) error {
	var mu sync.Mutex
	inputs := make([]SiteInput, len(o.sites))
	dirty := make(chan struct{}, 1)
	mark := func() {
		select {
		case dirty <- struct{}{}:
		default:
		}
	}
	set := func(i int, in SiteInput) {
		mu.Lock()
		inputs[i] = in
		mu.Unlock()
		mark()
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for i, s := range o.sites {
		wg.Go(func() { o.followSite(ctx, s, func(in SiteInput) { set(i, in) }) })
	}

	tty := o.IsTerminal(o.Out)
	var last []byte
	code := exitcode.OK
	compared := false
	var clusters *kube.Comparison
	for {
		select {
		case <-ctx.Done():
			return cli.Silent(code)
		case <-dirty:
		}
		// Debounce: wait for the burst of events to settle.
		timer := time.NewTimer(o.Debounce)
		settled := false
		for !settled {
			select {
			case <-ctx.Done():
				timer.Stop()
				return cli.Silent(code)
			case <-dirty:
				timer.Reset(o.Debounce)
			case <-timer.C:
				settled = true
			}
		}
		mu.Lock()
		snapshot := append([]SiteInput(nil), inputs...)
		mu.Unlock()
		if !allSet(snapshot) {
			continue
		}
		if !compared && (len(snapshot) < 2 || (snapshot[0].Err == nil && snapshot[1].Err == nil)) {
			compared = true
			var err error
			if clusters, err = o.compareSites(ctx, snapshot); err != nil {
				return err
			}
		}
		r := o.build(snapshot, clusters)
		var buf bytes.Buffer
		if err := o.render(&buf, r); err != nil {
			return err
		}
		// Re-render only on a real change: compare without the timestamp line of JSON/YAML.
		body := withoutGeneratedAt(buf.Bytes())
		if bytes.Equal(body, last) {
			continue
		}
		last = body
		switch {
		case tty:
			fmt.Fprint(o.Out, clearScreen)
		case o.Print.IsStructured() && o.Print.Format() == "yaml":
			fmt.Fprintln(o.Out, "---")
		case !o.Print.IsStructured():
			fmt.Fprintf(o.Out, "=== %s\n", o.Now().Format(time.RFC3339))
		}
		_, _ = o.Out.Write(buf.Bytes())
		code = exitcode.Code(r.ExitCode) // the exit code is the verdict of the last frame shown
	}
}

func allSet(inputs []SiteInput) bool {
	for _, in := range inputs {
		if in.Name == "" {
			return false
		}
	}
	return true
}

// followSite reads s, reports it, then keeps the snapshot current with watches while probing the
// site; when the probe fails it reports the site unreachable, when a watch ends for good (e.g.
// resourceVersion expired) or the site cannot be read, it reads again after a backoff (wait's
// exponential backoff, 1s doubling up to RetryMax, started afresh whenever a read succeeds).
func (o *Options) followSite(ctx context.Context, s *kube.Site, report func(SiteInput)) {
	newBackoff := func() wait.DelayFunc {
		return wait.Backoff{Duration: time.Second, Factor: 2, Steps: math.MaxInt32, Cap: o.RetryMax}.DelayFunc()
	}
	backoff := newBackoff()
	delay := wait.DelayFunc(func() time.Duration { return backoff() })
	// Sliding: the next delay is taken when a round (a read, and the watches after it) ends.
	_ = delay.Until(ctx, true, true, func(ctx context.Context) (bool, error) {
		rctx, cancel := context.WithTimeout(ctx, o.ReadTimeout)
		in := o.readSite(rctx, s)
		cancel()
		if ctx.Err() != nil {
			return true, nil
		}
		in.Err = asUnreachable(in.Err, s, o.ReadTimeout)
		report(in)
		if in.Err != nil {
			return false, nil
		}
		backoff = newBackoff()
		o.watchSite(ctx, s, in, report)
		return ctx.Err() != nil, nil
	})
}

// watchSite follows s from the snapshot in with watches (pkg/inventory.Watch) and a probe, until a
// watch ends for good or the probe finds the site down (reported unreachable) or ctx ends.
func (o *Options) watchSite(ctx context.Context, s *kube.Site, in SiteInput, report func(SiteInput)) {
	wctx, stop := context.WithCancelCause(ctx)
	kick := make(chan struct{}, 1)
	req := o.request(s)
	req.WatchFailed = func(error) {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	var probes sync.WaitGroup
	probes.Go(func() { o.probeSite(wctx, s, kick, stop) })
	_ = o.WatchSite(wctx, inventory.ClientsOf(s), req, in.Snapshot, func(snap *inventory.Snapshot) {
		next := in
		next.Snapshot = snap
		report(next)
	})
	cause := context.Cause(wctx)
	stop(nil)
	probes.Wait()
	if ctx.Err() != nil {
		return
	}
	var down *siteDown
	if errors.As(cause, &down) {
		report(SiteInput{Name: s.Name, Server: s.Server, Namespace: req.Namespace, Err: down.err})
	}
}

// siteDown is the cause that ends a site's watches when its probe fails.
type siteDown struct{ err error }

func (d *siteDown) Error() string { return d.err.Error() }

// probeSite asks s for /version every ProbeInterval and whenever kick fires; the first answer that
// does not come (unreachable, or none within ProbeTimeout) stops the watches with siteDown.
func (o *Options) probeSite(ctx context.Context, s *kube.Site, kick <-chan struct{}, stop context.CancelCauseFunc) {
	t := time.NewTicker(o.ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-kick:
		}
		pctx, cancel := context.WithTimeout(ctx, o.ProbeTimeout)
		err := o.Probe(pctx, s)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err = asUnreachable(err, s, o.ProbeTimeout); err != nil && exitcode.FromError(err) == exitcode.Unreachable {
			stop(&siteDown{err})
			return
		}
	}
}

// ProbeVersion is the default probe: GET /version, which every authenticated user may read.
func ProbeVersion(ctx context.Context, s *kube.Site) error {
	return s.Kube.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Error()
}

// asUnreachable explains err; a site that does not answer within the time allowed is unreachable
// for --watch (the same as a refused connection), not a timeout of the command.
func asUnreachable(err error, s *kube.Site, within time.Duration) error {
	if err == nil {
		return nil
	}
	err = explain.Error(err, s.Name, schema.GroupVersionResource{}, "get")
	if exitcode.FromError(err) == exitcode.Timeout {
		return exitcode.Newf(exitcode.Unreachable, "context %s unreachable (%s): no answer within %s", s.Name, s.Server, within)
	}
	return err
}

// withoutGeneratedAt drops the generatedAt line so unchanged reports compare equal.
func withoutGeneratedAt(b []byte) []byte {
	var out [][]byte
	for _, line := range bytes.Split(b, []byte("\n")) {
		if bytes.Contains(line, []byte("generatedAt")) || bytes.Contains(line, []byte("creationTimestamp")) {
			continue
		}
		out = append(out, line)
	}
	return bytes.Join(out, []byte("\n"))
}
