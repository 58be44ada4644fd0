package datapower

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/klog/v2"
	"k8s.io/streaming/pkg/httpstream"
)

// DetachTimeout bounds how long Close waits for the attach stream to end after closing stdin
// before it cancels the stream.
const DetachTimeout = 5 * time.Second

// AttachTarget is the gateway pod whose console to attach to.
type AttachTarget struct {
	Namespace string
	Pod       string
	// Container is the DataPower container; empty lets the API server pick the pod's only one.
	Container string
}

// AttachConn is a DataPower console reached through the pods/attach subresource, as
// `kubectl attach -i <pod>` reaches it. It is a Conn: Session reads the console's stdout from it
// and types into its stdin.
//
// We attach with stdin=true and tty=false, our choice: without a TTY the console's output is the
// plain text the parsers read (no echo of what we type, no "\r\n" line discipline, no terminal
// resize traffic), and the password is never echoed even by a misbehaving device. The session
// recognises the prompts either way. Closing an AttachConn closes stdin, which is a detach (as
// Ctrl-P Ctrl-Q is for `kubectl attach -it`); it never sends Ctrl-D, which would end the DataPower
// process and so the pod.
type AttachConn struct {
	stdinW  *io.PipeWriter
	stdoutR *io.PipeReader
	stderr  *tailBuffer
	cancel  context.CancelFunc
	done    chan struct{}
	err     error // the stream's result, set before done is closed

	closeOnce sync.Once
}

// Attach starts attaching to target's console with the executor kubectl uses: WebSocket (the
// v5 remote-command protocol) with a fallback to SPDY when the upgrade fails or an HTTPS proxy is
// in the way. It returns at once; a failure to attach (pod gone, RBAC, upgrade) surfaces as the
// error of the first Read, so Open reports it. The stream lives until Close or ctx's end.
func Attach(ctx context.Context, cfg *rest.Config, kube kubernetes.Interface, target AttachTarget) (*AttachConn, error) {
	u := kube.CoreV1().RESTClient().Post().Resource("pods").Namespace(target.Namespace).Name(target.Pod).
		SubResource("attach").
		VersionedParams(&corev1.PodAttachOptions{Container: target.Container, Stdin: true, Stdout: true, Stderr: true, TTY: false},
			scheme.ParameterCodec).URL()
	spdy, err := remotecommand.NewSPDYExecutor(cfg, "POST", u)
	if err != nil {
		return nil, fmt.Errorf("attach %s/%s: %w", target.Namespace, target.Pod, err)
	}
	// WebSocket must be GET (RFC 6455 section 4.1), as kubectl's createExecutor says.
	ws, err := remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
	if err != nil {
		return nil, fmt.Errorf("attach %s/%s: %w", target.Namespace, target.Pod, err)
	}
	ex, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return nil, fmt.Errorf("attach %s/%s: %w", target.Namespace, target.Pod, err)
	}
	return StartStream(ctx, ex, target.Namespace+"/"+target.Pod), nil
}

// StartStream runs ex (an attach executor) with stdin and stdout wired to the returned conn's
// pipes. what names the pod in errors. Separate from Attach so tests can stream over any executor.
func StartStream(ctx context.Context, ex remotecommand.Executor, what string) *AttachConn {
	ctx, cancel := context.WithCancel(ctx)
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	c := &AttachConn{stdinW: inW, stdoutR: outR, stderr: &tailBuffer{max: 4096}, cancel: cancel, done: make(chan struct{})}
	// client-go logs what goes wrong on the stream's copies ("Copying stdin failed", ...) as
	// unhandled errors; the session reports the stream's end itself (StreamEndedError), so those
	// lines go to verbosity 4 of the logger in ctx (kubectl's -v=4 shows them), not the user's screen.
	sctx := klog.NewContext(ctx, quietLogger(klog.FromContext(ctx)))
	go func() {
		err := ex.StreamWithContext(sctx, remotecommand.StreamOptions{Stdin: stdinReader{inR}, Stdout: outW, Stderr: c.stderr, Tty: false})
		if err == nil {
			err = errors.New("closed by the pod (gone or restarted?)")
		}
		if s := strings.TrimSpace(c.stderr.String()); s != "" {
			err = fmt.Errorf("%w (stderr: %s)", err, s)
		}
		err = &StreamEndedError{Pod: what, Err: err}
		c.err = err
		// Readers see the reason the stream ended; pending reads end.
		_ = outW.CloseWithError(err)
		_ = inR.CloseWithError(err)
		close(c.done)
	}()
	return c
}

// Read reads the console's output.
func (c *AttachConn) Read(p []byte) (int, error) { return c.stdoutR.Read(p) }

// Write types into the console. A Write that would carry Ctrl-D is refused: it would end the
// DataPower process and the pod.
func (c *AttachConn) Write(p []byte) (int, error) {
	if bytes.IndexByte(p, ctrlD) >= 0 {
		return 0, ErrUnsafeInput
	}
	return c.stdinW.Write(p)
}

// Close detaches: it closes stdin (never sending Ctrl-D) and keeps draining stdout so the
// executor is never blocked writing it, until the stream ends; after DetachTimeout it cancels the
// stream.
func (c *AttachConn) Close() error {
	c.closeOnce.Do(func() {
		_ = c.stdinW.Close()
		go func() { _, _ = io.Copy(io.Discard, c.stdoutR) }()
		select {
		case <-c.done:
		case <-time.After(DetachTimeout):
			c.cancel()
			<-c.done
		}
		c.cancel()
		_ = c.stdoutR.Close()
	})
	return nil
}

// Done is closed when the stream has ended; Err then says why.
func (c *AttachConn) Done() <-chan struct{} { return c.done }

// Err is why the stream ended (nil while it runs).
func (c *AttachConn) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Stderr is the tail of what the container wrote to stderr.
func (c *AttachConn) Stderr() string { return c.stderr.String() }

// stdinReader is the attach's stdin: once the stream ended and its pipe was closed, it reads as a
// clean end of input, so client-go's stdin copy (which outlives the stream) ends without an error.
type stdinReader struct{ r *io.PipeReader }

func (s stdinReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if errors.Is(err, io.ErrClosedPipe) {
		err = io.EOF
	}
	return n, err
}

// quietLogger is l with its Error lines turned into V(4) Info lines.
func quietLogger(l klog.Logger) klog.Logger {
	if l.GetSink() == nil {
		return l
	}
	return logr.New(quietSink{l.GetSink()})
}

type quietSink struct{ logr.LogSink }

func (q quietSink) Error(err error, msg string, kv ...any) {
	if q.LogSink.Enabled(4) {
		q.LogSink.Info(4, msg, append(kv, "err", err)...)
	}
}

func (q quietSink) WithValues(kv ...any) logr.LogSink { return quietSink{q.LogSink.WithValues(kv...)} }
func (q quietSink) WithName(name string) logr.LogSink { return quietSink{q.LogSink.WithName(name)} }

// tailBuffer keeps the last max bytes written to it; safe for concurrent use.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append([]byte(nil), t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// StreamEndedError is why an attach stream ended: the pod went away, the attach was refused, or the
// connection broke.
type StreamEndedError struct {
	Pod string
	Err error
}

func (e *StreamEndedError) Error() string {
	return "attach " + e.Pod + ": console stream ended: " + e.Err.Error()
}
func (e *StreamEndedError) Unwrap() error { return e.Err }

// IsStreamEnded reports whether err says the console stream ended (pod deleted, restarted or
// unreachable) rather than that a command failed.
func IsStreamEnded(err error) bool {
	var se *StreamEndedError
	return errors.Is(err, ErrClosed) || errors.As(err, &se)
}
