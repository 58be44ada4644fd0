package labtest

import (
	"bufio"
	"context"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
)

// HAModeWatch records what `kubectl get <resource> <name> -w` shows of status.haMode.
type HAModeWatch struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	seen   []string
}

// WatchHAMode starts `kubectl get -w -o jsonpath={.status.haMode}` on one object in the background.
func WatchHAMode(t testing.TB, l *lab.Lab, site, resource, name string) *HAModeWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, kubectlBin(), "--kubeconfig", l.Kubeconfig(), "--context", site, "-n", Namespace,
		"get", resource, name, "-w", "-o", `jsonpath={.status.haMode}{"\n"}`)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	w := &HAModeWatch{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			mode := strings.TrimSpace(sc.Text())
			w.mu.Lock()
			if mode != "" && (len(w.seen) == 0 || w.seen[len(w.seen)-1] != mode) {
				w.seen = append(w.seen, mode)
			}
			w.mu.Unlock()
		}
		_ = cmd.Wait()
	}()
	t.Cleanup(func() { w.Stop() })
	return w
}

// Stop ends the watch and returns the haMode values seen, consecutive repeats removed.
func (w *HAModeWatch) Stop() []string {
	w.cancel()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.seen...)
}

// Seen returns the haMode values seen so far.
func (w *HAModeWatch) Seen() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.seen...)
}

// IsSubsequence reports whether want appears in got in order (other values may come between).
func IsSubsequence(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}
