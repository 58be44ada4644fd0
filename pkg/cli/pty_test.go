//go:build linux

package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
)

// openTestPTY opens a pseudo-terminal pair, so that IsTerminal(stdin) holds in tests.
func openTestPTY() (master, slave *os.File, err error) {
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	master = os.NewFile(uintptr(fd), "/dev/ptmx")
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, err
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	return master, slave, nil
}

// ConfirmContext returns at once, Interrupted, when its context ends while the user has not
// answered (the read would block for ever).
func TestConfirmContextInterrupted(t *testing.T) {
	master, slave, err := openTestPTY()
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
