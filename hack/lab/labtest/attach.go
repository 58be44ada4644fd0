package labtest

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	"github.com/kubectl-apic/kubectl-apic/internal/ptytest"
)

func kubectlBin() string {
	if b := os.Getenv("KUBECTL"); b != "" {
		return b
	}
	return "/usr/bin/kubectl"
}

// Attach pipes script (one console line per element) into `kubectl attach -i` to a gateway pod and
// returns what the console printed. The stream closing at the end of the script is a detach, as on
// a real pod: the console keeps its state, so scripts should end logged out ("exit").
func Attach(t testing.TB, l *lab.Lab, site, pod string, script ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kubectlBin(), "--kubeconfig", l.Kubeconfig(), "--context", site,
		"-n", Namespace, "attach", "-i", pod)
	cmd.Stdin = strings.NewReader(strings.Join(script, "\n") + "\n")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl attach -i %s (%s): %v\nstdout:\n%s\nstderr:\n%s", pod, site, err, out.String(), errOut.String())
	}
	t.Logf("kubectl --context %s attach -i %s:\n%s", site, pod, out.String())
	return out.String()
}

// AdminPassword reads the simulated DataPower admin password from the gw-admin Secret with kubectl.
func AdminPassword(t testing.TB, l *lab.Lab, site string) string {
	t.Helper()
	enc := Kubectl(t, l, "--context", site, "-n", Namespace, "get", "secret", lab.AdminSecretName, "-o", "jsonpath={.data.password}")
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		t.Fatalf("decoding the gw-admin password: %v", err)
	}
	return string(b)
}

// Login is the start of a console script: user, password and the API Connect domain (seed 000 step 2).
func Login(t testing.TB, l *lab.Lab, site string) []string {
	return []string{"admin", AdminPassword(t, l, site), "switch apiconnect"}
}

// TTY is `kubectl attach -it` running on a pseudo-terminal, as a user types it.
type TTY struct {
	t      testing.TB
	cmd    *exec.Cmd
	master *os.File
	mu     sync.Mutex
	buf    bytes.Buffer
	done   chan struct{}
	err    error
}

// AttachTTY runs `kubectl attach -it` to pod on a new pseudo-terminal.
func AttachTTY(t testing.TB, l *lab.Lab, site, pod string) *TTY {
	t.Helper()
	master, slave, err := ptytest.Open()
	if err != nil {
		t.Fatalf("opening a pty: %v", err)
	}
	defer slave.Close()
	cmd := exec.Command(kubectlBin(), "--kubeconfig", l.Kubeconfig(), "--context", site, "-n", Namespace, "attach", "-it", pod)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	// A session of its own with the pty as controlling terminal, as in a terminal emulator.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		master.Close()
		t.Fatalf("kubectl attach -it: %v", err)
	}
	tt := &TTY{t: t, cmd: cmd, master: master, done: make(chan struct{})}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := master.Read(b)
			tt.mu.Lock()
			tt.buf.Write(b[:n])
			tt.mu.Unlock()
			if err != nil { // EIO once kubectl exits and the slave closes
				return
			}
		}
	}()
	go func() {
		tt.err = cmd.Wait()
		close(tt.done)
	}()
	t.Cleanup(func() {
		select {
		case <-tt.done:
		default:
			_ = cmd.Process.Kill()
			<-tt.done
		}
		master.Close()
	})
	return tt
}

// Output is everything the terminal showed so far.
func (tt *TTY) Output() string {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	return tt.buf.String()
}

// Send types s.
func (tt *TTY) Send(s string) {
	tt.t.Helper()
	if _, err := tt.master.Write([]byte(s)); err != nil {
		tt.t.Fatalf("writing to the pty: %v", err)
	}
}

// Expect waits until the terminal has shown want.
func (tt *TTY) Expect(want string, timeout time.Duration) {
	tt.t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(tt.Output(), want) {
		if time.Now().After(deadline) {
			tt.t.Fatalf("the terminal did not show %q in %s; it showed:\n%q", want, timeout, tt.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Wait waits for kubectl to exit and returns its error.
func (tt *TTY) Wait(timeout time.Duration) error {
	select {
	case <-tt.done:
		return tt.err
	case <-time.After(timeout):
		return fmt.Errorf("kubectl attach still running after %s", timeout)
	}
}
