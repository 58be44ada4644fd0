package kubelet

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"
	streamremotecommand "k8s.io/cri-streaming/pkg/streaming/remotecommand"
)

// TerminalSize is a terminal resize event from a tty session. It is the cri-streaming type
// ServeAttach and ServeExec produce, so sessions receive resizes without a copying goroutine.
type TerminalSize = streamremotecommand.TerminalSize

// StreamHandler plays the processes inside the simulated containers: what `kubectl attach` and
// `kubectl exec` talk to. ctx ends when the client goes away, when the container is killed
// (KillContainer), when the pod is deleted or when the Kubelet stops; a handler must then return.
// stdin, stdout and stderr are nil when the client did not ask for them (stderr is always nil with
// tty); resize is nil without tty. Exec returns an ExitError for a non-zero exit code.
type StreamHandler interface {
	Attach(ctx context.Context, pod *corev1.Pod, container string, stdin io.Reader, stdout, stderr io.WriteCloser, tty bool, resize <-chan TerminalSize) error
	Exec(ctx context.Context, pod *corev1.Pod, container string, cmd []string, stdin io.Reader, stdout, stderr io.WriteCloser, tty bool, resize <-chan TerminalSize) error
}

// ExitError is a command's non-zero exit code; the client sees it as the exit status of
// `kubectl exec` (it implements k8s.io/utils/exec.ExitError, which the streaming server looks for).
type ExitError struct{ Code int }

func (e ExitError) Error() string   { return fmt.Sprintf("command exited with status %d", e.Code) }
func (e ExitError) String() string  { return e.Error() }
func (e ExitError) Exited() bool    { return true }
func (e ExitError) ExitStatus() int { return e.Code }

// EchoShell is a trivial StreamHandler for tests. Exec understands `echo ARGS...`, `hostname` (the
// pod name, as inside a real pod) and `cat` (stdin to stdout); anything else fails with exit code
// 127 like a shell's "command not found". Attach echoes every stdin line back on stdout until stdin
// closes or ctx ends.
type EchoShell struct{}

// Exec runs one of the few commands EchoShell knows.
func (EchoShell) Exec(ctx context.Context, pod *corev1.Pod, container string, cmd []string, stdin io.Reader, stdout, stderr io.WriteCloser, tty bool, resize <-chan TerminalSize) error {
	if len(cmd) == 0 {
		return fmt.Errorf("no command given")
	}
	out := writerOrDiscard(stdout)
	switch cmd[0] {
	case "echo":
		_, err := fmt.Fprintln(out, strings.Join(cmd[1:], " "))
		return err
	case "hostname":
		_, err := fmt.Fprintln(out, pod.Name)
		return err
	case "cat":
		if stdin == nil {
			return nil
		}
		return copyUntilDone(ctx, out, stdin, false)
	default:
		fmt.Fprintf(writerOrDiscard(stderrOrStdout(stderr, stdout)), "%s: command not found\n", cmd[0])
		return ExitError{Code: 127}
	}
}

// Attach echoes stdin lines back until stdin closes or ctx ends.
func (EchoShell) Attach(ctx context.Context, pod *corev1.Pod, container string, stdin io.Reader, stdout, stderr io.WriteCloser, tty bool, resize <-chan TerminalSize) error {
	if stdin == nil {
		// Nothing to echo: stay attached until the session or the container ends, as a real
		// attach to a quiet process does.
		<-ctx.Done()
		return nil
	}
	return copyUntilDone(ctx, writerOrDiscard(stdout), stdin, true)
}

// copyUntilDone copies in to out (line by line when lines is set, so each echoed line is flushed
// to the client at once) until in ends or ctx is done. The reading goroutine ends when the
// streaming server closes the connection after the handler returns.
func copyUntilDone(ctx context.Context, out io.Writer, in io.Reader, lines bool) error {
	done := make(chan error, 1)
	go func() {
		if !lines {
			_, err := io.Copy(out, in)
			done <- err
			return
		}
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			if _, err := fmt.Fprintln(out, sc.Text()); err != nil {
				done <- err
				return
			}
		}
		done <- sc.Err()
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return nil
	}
}

func writerOrDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// stderrOrStdout picks stderr, or stdout when stderr was not requested (tty sessions merge them).
func stderrOrStdout(stderr, stdout io.WriteCloser) io.Writer {
	if stderr != nil {
		return stderr
	}
	if stdout != nil {
		return stdout
	}
	return nil
}
