package status

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/inventory"
	"github.com/kubectl-apic/kubectl-apic/pkg/kube"
)

// clearScreen moves the cursor home and clears the terminal, for the TTY redraw of --watch.
const clearScreen = "\x1b[H\x1b[2J"

// runWatch renders the report, then re-renders it whenever a watched object changes (watches on
// every kind of every site, pkg/inventory.Watch; no polling), debounced so one operator update of
// several objects redraws once. On a terminal each report replaces the last; otherwise each change
// prints a new report. It ends on Ctrl-C (or ctx's end) with the last report's exit code.
//
// A site that cannot be read is retried with backoff until it answers: that is the one place this
// command polls, since there is nothing to watch on a site that is down.
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
	var wg sync.WaitGroup
	for i, s := range o.sites {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o.followSite(ctx, s, func(in SiteInput) { set(i, in) })
		}()
	}
	defer wg.Wait()

	tty := o.IsTTY(o.Out)
	var last []byte
	code := exitcode.OK
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
		r := o.build(snapshot, nil)
		code = exitcode.Code(r.ExitCode)
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

// followSite reads s, reports it, then keeps the snapshot current with watches; when a watch ends
// for good (e.g. resourceVersion expired) or the site cannot be read, it reads again after a
// backoff.
func (o *Options) followSite(ctx context.Context, s *kube.Site, report func(SiteInput)) {
	backoff := wait.Backoff{Duration: time.Second, Factor: 2, Steps: 6, Cap: 30 * time.Second}
	for ctx.Err() == nil {
		in := o.readSite(ctx, s)
		if ctx.Err() != nil {
			return
		}
		report(in)
		if in.Err != nil {
			if !sleep(ctx, backoff.Step()) {
				return
			}
			continue
		}
		backoff = wait.Backoff{Duration: time.Second, Factor: 2, Steps: 6, Cap: 30 * time.Second}
		base := in
		_ = o.WatchSite(ctx, inventory.ClientsOf(s), o.request(s), in.Snapshot, func(snap *inventory.Snapshot) {
			next := base
			next.Snapshot = snap
			report(next)
		})
		if !sleep(ctx, backoff.Step()) {
			return
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
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
