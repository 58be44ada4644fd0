//go:build linux

package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/internal/ptytest"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
)

// ConfirmContext returns at once, Interrupted, when its context ends while the user has not
// answered (the read would block for ever).
func TestConfirmContextInterrupted(t *testing.T) {
	master, slave, err := ptytest.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer master.Close()
	defer slave.Close()
	var errOut strings.Builder
	streams := genericiooptions.IOStreams{In: slave, Out: &errOut, ErrOut: &errOut}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ConfirmContext(ctx, streams, "Demote dc1?") }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if exitcode.FromError(err) != exitcode.Interrupted || !strings.Contains(err.Error(), "nothing was changed") {
			t.Errorf("ConfirmContext after cancel = %v, want Interrupted", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("ConfirmContext did not return when its context ended")
	}
}
