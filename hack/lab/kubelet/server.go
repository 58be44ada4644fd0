package kubelet

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	streamremotecommand "k8s.io/cri-streaming/pkg/streaming/remotecommand"
)

// streamIdleTimeout is the real kubelet's default (streamingConnectionIdleTimeout): an attach to a
// DataPower CLI may sit idle for a long time.
const streamIdleTimeout = 4 * time.Hour

type connKey struct{}

// startServer starts the one HTTPS server of all our nodes. It serves the routes of the real
// kubelet's server (k8s.io/kubernetes pkg/kubelet/server) that the apiserver proxies attach and exec
// to: /{attach,exec}/{namespace}/{pod}[/{uid}]/{container}, GET or POST, the command in repeated
// `command` query parameters and the streams in input/output/error/tty. The certificate is
// self-signed: the apiserver does not verify kubelets unless --kubelet-certificate-authority is set.
func (k *Kubelet) startServer() error {
	cert, err := selfSignedCert(k.cfg.Address)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(k.cfg.Address, strconv.Itoa(k.cfg.Port)))
	if err != nil {
		return fmt.Errorf("kubelet simulator: listening: %w", err)
	}
	mux := http.NewServeMux()
	for _, p := range []string{"/{namespace}/{pod}/{container}", "/{namespace}/{pod}/{uid}/{container}"} {
		mux.HandleFunc("/exec"+p, func(w http.ResponseWriter, r *http.Request) { k.serveStream(w, r, true) })
		mux.HandleFunc("/attach"+p, func(w http.ResponseWriter, r *http.Request) { k.serveStream(w, r, false) })
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	k.server = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 30 * time.Second,
		// SPDY and WebSocket upgrades need HTTP/1.1 connections to hijack: no HTTP/2.
		TLSConfig:    &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12},
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		// Each request knows its connection, so Stop can close the hijacked ones of live sessions.
		ConnContext: func(ctx context.Context, c net.Conn) context.Context { return context.WithValue(ctx, connKey{}, c) },
		ErrorLog:    log.New(logWriter(k.logf), "kubelet simulator: ", 0),
	}
	k.listener = ln
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		if err := k.server.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			k.logf("kubelet simulator: HTTPS server: %v", err)
		}
	}()
	return nil
}

// serveStream serves one attach or exec session through the cri-streaming library (SPDY v1–v4
// and WebSocket v1–v4; the apiserver translates v5 WebSocket clients to SPDY because our nodes do
// not declare the ExtendWebSocketsToKubelet feature).
func (k *Kubelet) serveStream(w http.ResponseWriter, r *http.Request, exec bool) {
	opts, err := streamremotecommand.NewOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ns, name, uid, container := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("uid"), r.PathValue("container")
	pod, podCtx, code, err := k.podForStream(ns, name, uid, container)
	if err != nil {
		http.Error(w, err.Error(), code)
		return
	}
	if !k.beginSession(r) {
		http.Error(w, "kubelet simulator is stopping", http.StatusServiceUnavailable)
		return
	}
	defer k.endSession(r)
	// The session ends with the client's request or with the container incarnation (KillContainer,
	// pod deletion, Stop).
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stopWatch := context.AfterFunc(podCtx, cancel)
	defer stopWatch()

	s := session{ctx: ctx, pod: pod, streams: k.streams}
	if exec {
		cmd := r.URL.Query()["command"]
		streamremotecommand.ServeExec(w, r, s, name, uid, container, cmd, opts, streamIdleTimeout,
			streamremotecommand.DefaultStreamCreationTimeout, streamremotecommand.SupportedStreamingProtocols)
		return
	}
	streamremotecommand.ServeAttach(w, r, s, name, uid, container, opts, streamIdleTimeout,
		streamremotecommand.DefaultStreamCreationTimeout, streamremotecommand.SupportedStreamingProtocols)
}

// podForStream finds the pod and the context of its running container for a session, or an HTTP
// status and error.
func (k *Kubelet) podForStream(ns, name, uid, container string) (*corev1.Pod, context.Context, int, error) {
	key := ns + "/" + name
	obj, exists, err := k.podInformer.GetIndexer().GetByKey(key)
	if err != nil {
		return nil, nil, http.StatusInternalServerError, err
	}
	if !exists || !k.isOurs(obj.(*corev1.Pod)) {
		return nil, nil, http.StatusNotFound, fmt.Errorf("pod %s not found on a simulated node", key)
	}
	pod := obj.(*corev1.Pod)
	if uid != "" && string(pod.UID) != uid {
		return nil, nil, http.StatusNotFound, fmt.Errorf("pod %s with UID %s not found", key, uid)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.nodes[pod.Spec.NodeName].ready {
		return nil, nil, http.StatusServiceUnavailable, fmt.Errorf("node %s is not ready", pod.Spec.NodeName)
	}
	rt := k.pods[key]
	if rt == nil || rt.uid != pod.UID {
		return nil, nil, http.StatusNotFound, fmt.Errorf("pod %s is not running", key)
	}
	cr := rt.containers[container]
	if cr == nil {
		return nil, nil, http.StatusNotFound, fmt.Errorf("container %s not found in pod %s", container, key)
	}
	if !cr.running {
		return nil, nil, http.StatusBadRequest, fmt.Errorf("container %s in pod %s is not running", container, key)
	}
	return pod.DeepCopy(), rt.ctx, 0, nil
}

func (k *Kubelet) beginSession(r *http.Request) bool {
	k.sessMu.Lock()
	defer k.sessMu.Unlock()
	if k.sessClosed {
		return false
	}
	k.sessWG.Add(1)
	if c, ok := r.Context().Value(connKey{}).(net.Conn); ok {
		k.sessions[c] = struct{}{}
	}
	return true
}

func (k *Kubelet) endSession(r *http.Request) {
	k.sessMu.Lock()
	if c, ok := r.Context().Value(connKey{}).(net.Conn); ok {
		delete(k.sessions, c)
	}
	k.sessMu.Unlock()
	k.sessWG.Done()
}

// session adapts a StreamHandler to the cri-streaming Attacher and Executor interfaces.
type session struct {
	ctx     context.Context
	pod     *corev1.Pod
	streams StreamHandler
}

func (s session) AttachContainer(_ context.Context, _, _, container string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan TerminalSize) error {
	return s.streams.Attach(s.ctx, s.pod, container, in, out, errw, tty, resize)
}

func (s session) ExecInContainer(_ context.Context, _, _, container string, cmd []string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan TerminalSize, _ time.Duration) error {
	return s.streams.Exec(s.ctx, s.pod, container, cmd, in, out, errw, tty, resize)
}

// selfSignedCert makes a throwaway serving certificate for the address.
func selfSignedCert(address string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "kubelet-simulator"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP(address)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// logWriter sends the HTTP server's own messages (TLS handshake errors) to Config.Logger.
type logWriter func(format string, args ...any)

func (f logWriter) Write(p []byte) (int, error) {
	f("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
