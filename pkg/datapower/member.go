package datapower

import (
	"context"
	"fmt"
	"io"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/kubectl/pkg/cmd/util/podcmd"
)

// Container is the DataPower container's name in IBM's gateway pods (`kubectl attach -it <pod>
// -c datapower` in IBM's transcripts, fixture login-and-switch).
const Container = "datapower"

// ContainerFor picks the container of a gateway pod to attach to the way `kubectl attach` does
// (podcmd.FindOrDefaultContainerByName): the pod's kubectl.kubernetes.io/default-container
// annotation when set, else the container named "datapower" when there is one, else the first
// container. A sidecar (a service mesh proxy, a log shipper) is never picked over DataPower.
func ContainerFor(pod *corev1.Pod) (string, error) {
	name := ""
	if pod.Annotations[podcmd.DefaultContainerAnnotationName] == "" {
		if c, _ := podcmd.FindContainerByName(pod, Container); c != nil {
			name = Container
		}
	}
	c, err := podcmd.FindOrDefaultContainerByName(pod, name, true, io.Discard)
	if err != nil {
		return "", err
	}
	return c.Name, nil
}

// Opener opens gateway members' consoles: attach, log in, switch to the domain. drr and
// status --peering both open members through it.
type Opener struct {
	// Attach opens the console stream of a target (pods/attach: Attach).
	Attach func(ctx context.Context, target AttachTarget) (Conn, error)
	// Credentials log in (ReadAdminCredentials).
	Credentials Credentials
	// Domain is switched to after the login; "" stays in the login domain.
	Domain string
	// Options are the session's options; LoginFailureMessage should name the Secret
	// (AdminSecret.LoginFailureMessage).
	Options Options
	// Transcript, when set, gives the transcript writer of a pod (nil: none).
	Transcript func(pod string) (io.Writer, error)
}

// Open attaches to target, logs in and switches to o.Domain. On any error the stream is closed
// (a detach, never Ctrl-D).
func (o *Opener) Open(ctx context.Context, target AttachTarget) (*Session, error) {
	conn, err := o.Attach(ctx, target)
	if err != nil {
		return nil, err
	}
	opts := o.Options
	if o.Transcript != nil {
		if opts.Transcript, err = o.Transcript(target.Pod); err != nil {
			closeConn(conn)
			return nil, err
		}
	}
	s, err := Open(ctx, conn, o.Credentials, opts)
	if err != nil {
		closeConn(conn)
		return nil, err
	}
	if o.Domain != "" {
		if err := s.Switch(ctx, o.Domain); err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("switch %s: %w", o.Domain, err)
		}
	}
	return s, nil
}

func closeConn(c Conn) {
	if cl, ok := c.(io.Closer); ok {
		_ = cl.Close()
	}
}

// FirstThenRest reads n members of one gateway, each with the same credentials: read(0) alone
// first, then, unless it reports the login rejected, the others in parallel, at most limit at once
// (0: all). DataPower counts failed logins against the account and locks it after a few: a wrong
// password costs one failed login, not n. It reports whether the others were read.
func FirstThenRest(ctx context.Context, n, limit int, read func(ctx context.Context, i int) (rejected bool)) bool {
	if n == 0 {
		return true
	}
	if read(ctx, 0) {
		return false
	}
	var g errgroup.Group
	if limit > 0 {
		g.SetLimit(limit)
	}
	for i := 1; i < n; i++ {
		g.Go(func() error { read(ctx, i); return nil })
	}
	_ = g.Wait()
	return true
}
