package kubelet

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
)

// These tests speak SPDY straight to the Kubelet's HTTPS server, as the apiserver does.

func streamURL(k *Kubelet, path string, q url.Values) *url.URL {
	return &url.URL{Scheme: "https", Host: k.Endpoint(), Path: path, RawQuery: q.Encode()}
}

func spdy(t *testing.T, u *url.URL) remotecommand.Executor {
	t.Helper()
	ex, err := remotecommand.NewSPDYExecutor(&rest.Config{TLSClientConfig: rest.TLSClientConfig{Insecure: true}}, "POST", u)
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

func runningPod(t *testing.T) (*Kubelet, *fake.Clientset) {
	t.Helper()
	client := fake.NewClientset()
	k := startKubelet(t, testConfig(client))
	if _, err := client.CoreV1().Pods("apic").Create(context.Background(), testPod("gw-0", "node-b"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "pod running", func() (bool, error) { return isRunningReady(getPod(t, client, "gw-0")), nil })
	return k, client
}

func TestExecDirect(t *testing.T) {
	k, _ := runningPod(t)
	tests := []struct {
		name       string
		path       string
		cmd        []string
		stdin      string
		wantOut    string
		wantErrOut string
		wantCode   int // -1: a non-exit error
	}{
		{"echo", "/exec/apic/gw-0/datapower", []string{"echo", "hello", "world"}, "", "hello world\n", "", 0},
		{"hostname", "/exec/apic/gw-0/datapower", []string{"hostname"}, "", "gw-0\n", "", 0},
		{"cat", "/exec/apic/gw-0/datapower", []string{"cat"}, "line 1\nline 2\n", "line 1\nline 2\n", "", 0},
		{"with uid", "/exec/apic/gw-0/uid-gw-0/datapower", []string{"hostname"}, "", "gw-0\n", "", 0},
		{"unknown command", "/exec/apic/gw-0/datapower", []string{"reboot"}, "", "", "reboot: command not found\n", 127},
		{"wrong uid", "/exec/apic/gw-0/other-uid/datapower", []string{"hostname"}, "", "", "", -1},
		{"unknown container", "/exec/apic/gw-0/nginx", []string{"hostname"}, "", "", "", -1},
		{"unknown pod", "/exec/apic/gw-9/datapower", []string{"hostname"}, "", "", "", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{"command": tt.cmd, "output": {"1"}, "error": {"1"}}
			opts := remotecommand.StreamOptions{}
			if tt.stdin != "" {
				q.Set("input", "1")
				opts.Stdin = strings.NewReader(tt.stdin)
			}
			var out, errOut bytes.Buffer
			opts.Stdout, opts.Stderr = &out, &errOut
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := spdy(t, streamURL(k, tt.path, q)).StreamWithContext(ctx, opts)
			var exit utilexec.CodeExitError
			switch {
			case tt.wantCode == -1:
				if err == nil {
					t.Fatal("succeeded, want an error")
				}
				return
			case tt.wantCode > 0:
				if !errors.As(err, &exit) || exit.Code != tt.wantCode {
					t.Fatalf("error %v, want exit code %d", err, tt.wantCode)
				}
			case err != nil:
				t.Fatal(err)
			}
			if out.String() != tt.wantOut || errOut.String() != tt.wantErrOut {
				t.Errorf("stdout %q stderr %q, want %q and %q", out.String(), errOut.String(), tt.wantOut, tt.wantErrOut)
			}
		})
	}
}

// attachSession attaches with stdin and returns a writer for stdin, a line reader for stdout and
// the channel the session's result arrives on.
func attachSession(t *testing.T, ex remotecommand.Executor) (io.WriteCloser, *bufio.Reader, <-chan error) {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := ex.StreamWithContext(context.Background(), remotecommand.StreamOptions{Stdin: inR, Stdout: outW})
		outW.CloseWithError(io.EOF)
		done <- err
	}()
	lines := bufio.NewReader(outR)
	t.Cleanup(func() {
		inW.Close()
		go func() { _, _ = io.Copy(io.Discard, outR) }() // never leave the executor blocked on stdout
	})
	return inW, lines, done
}

func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	got := make(chan string, 1)
	go func() { s, _ := r.ReadString('\n'); got <- s }()
	select {
	case s := <-got:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no output within 10s")
		return ""
	}
}

func TestAttachDirectEndsOnKill(t *testing.T) {
	k, client := runningPod(t)
	q := url.Values{"input": {"1"}, "output": {"1"}}
	stdin, stdout, done := attachSession(t, spdy(t, streamURL(k, "/attach/apic/gw-0/datapower", q)))
	for _, line := range []string{"show gateway-peering-status\n", "exit\n"} {
		if _, err := io.WriteString(stdin, line); err != nil {
			t.Fatal(err)
		}
		if got := readLine(t, stdout); got != line {
			t.Fatalf("echo %q, want %q", got, line)
		}
	}
	if err := k.KillContainer("apic", "gw-0"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done: // the session ended with the container
	case <-time.After(10 * time.Second):
		t.Fatal("attach session survived KillContainer")
	}
	// While the container is down, attach is refused; after the restart it works again.
	eventually(t, "container restarted", func() (bool, error) {
		p := getPod(t, client, "gw-0")
		return isRunningReady(p) && p.Status.ContainerStatuses[0].RestartCount == 1, nil
	})
	stdin, stdout, done = attachSession(t, spdy(t, streamURL(k, "/attach/apic/gw-0/datapower", q)))
	if _, err := io.WriteString(stdin, "again\n"); err != nil {
		t.Fatal(err)
	}
	if got := readLine(t, stdout); got != "again\n" {
		t.Fatalf("echo after restart %q", got)
	}
	stdin.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("attach ended with %v after stdin closed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("attach did not end after stdin closed")
	}
}

func TestStopEndsSessions(t *testing.T) {
	k, _ := runningPod(t)
	q := url.Values{"input": {"1"}, "output": {"1"}}
	stdin, stdout, done := attachSession(t, spdy(t, streamURL(k, "/attach/apic/gw-0/datapower", q)))
	if _, err := io.WriteString(stdin, "hi\n"); err != nil {
		t.Fatal(err)
	}
	readLine(t, stdout)
	stopped := make(chan struct{})
	go func() { k.Stop(); close(stopped) }()
	for name, ch := range map[string]<-chan struct{}{"Stop": stopped} {
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s did not return with a live session", name)
		}
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("session survived Stop")
	}
}
