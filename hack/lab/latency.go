package lab

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The latency fault: a delay between the workstation and one site's kube-apiserver, as over a VPN
// or a WAN link to a remote data center.
//
// It is a TCP proxy on loopback in front of the site's kube-apiserver. TLS passes through it
// untouched (the apiserver's serving certificate names 127.0.0.1, so the proxy's port verifies, and
// client certificates still reach the apiserver), and every byte is held for half the round-trip
// time in each direction. A new connection also pays one round trip before its first byte reaches
// the apiserver, as TCP's handshake does over a real link. Bandwidth, loss and jitter are not
// simulated.
//
// While the fault is on, the site's context in the lab's kubeconfig points at the proxy, so kubectl
// and our commands go through it; the lab's own simulators (operator, kubelet, DataPower) keep
// talking to the apiserver directly. Clearing the fault points the kubeconfig back at the apiserver
// and sets the delay to zero; the proxy keeps forwarding (undelayed) for clients that still hold
// its address, such as a long-running `kubectl apic status --watch`, and the same port is reused
// when the fault is turned on again.

// latencyProxy is a TCP proxy that delays each direction by a configurable one-way delay and counts
// what passes.
type latencyProxy struct {
	ln       net.Listener
	upstream string // host:port
	oneWay   atomic.Int64

	conns, exchanges, up, down atomic.Int64

	mu     sync.Mutex
	active map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// LatencyStats is what passed through a site's latency proxy since it started.
type LatencyStats struct {
	// Connections accepted (each a TCP and TLS handshake over the simulated link).
	Connections int64 `json:"connections"`
	// Exchanges counts request→response flights: each time data comes back from the apiserver after
	// the client sent something. Requests sent together on one connection (HTTP/2) and answered
	// together count once; concurrent connections count separately.
	Exchanges int64 `json:"exchanges"`
	// BytesUp and BytesDown are the bytes forwarded to and from the apiserver.
	BytesUp   int64 `json:"bytesUp"`
	BytesDown int64 `json:"bytesDown"`
}

// Sub is s minus an earlier snapshot: what passed in between.
func (s LatencyStats) Sub(earlier LatencyStats) LatencyStats {
	return LatencyStats{Connections: s.Connections - earlier.Connections, Exchanges: s.Exchanges - earlier.Exchanges,
		BytesUp: s.BytesUp - earlier.BytesUp, BytesDown: s.BytesDown - earlier.BytesDown}
}

// startLatencyProxy listens on a free loopback port and forwards to upstream (host:port).
func startLatencyProxy(upstream string) (*latencyProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &latencyProxy{ln: ln, upstream: upstream, active: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *latencyProxy) Addr() string { return p.ln.Addr().String() }

// SetRTT sets the simulated round-trip time: half of it is added in each direction. It applies to
// bytes read from then on, on open connections too.
func (p *latencyProxy) SetRTT(rtt time.Duration) { p.oneWay.Store(int64(rtt / 2)) }

// RTT is the simulated round-trip time.
func (p *latencyProxy) RTT() time.Duration { return 2 * time.Duration(p.oneWay.Load()) }

// Stats returns the counters.
func (p *latencyProxy) Stats() LatencyStats {
	return LatencyStats{Connections: p.conns.Load(), Exchanges: p.exchanges.Load(), BytesUp: p.up.Load(), BytesDown: p.down.Load()}
}

// Close stops listening, closes every open connection and waits for the forwarding goroutines.
func (p *latencyProxy) Close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.active {
		c.Close()
	}
	p.mu.Unlock()
	p.ln.Close()
	p.wg.Wait()
}

func (p *latencyProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.active[c] = struct{}{}
	return true
}

func (p *latencyProxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.active, c)
	p.mu.Unlock()
	c.Close()
}

func (p *latencyProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			continue
		}
		p.conns.Add(1)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.untrack(c)
			p.handle(c, time.Now())
		}()
	}
}

// handle forwards one connection. The first byte from the client reaches the apiserver no earlier
// than one round trip after the connection was accepted (TCP's handshake) plus the one-way delay.
func (p *latencyProxy) handle(client net.Conn, accepted time.Time) {
	upstream, err := net.DialTimeout("tcp", p.upstream, 10*time.Second)
	if err != nil {
		// The apiserver is down: the client learns it one round trip later, as over a real link.
		time.Sleep(p.RTT())
		return
	}
	if !p.track(upstream) {
		return
	}
	defer p.untrack(upstream)
	var turn exchangeCounter
	done := make(chan struct{}, 2)
	go func() {
		p.pipe(upstream, client, accepted.Add(p.RTT()), true, &turn)
		done <- struct{}{}
	}()
	go func() {
		p.pipe(client, upstream, time.Time{}, false, &turn)
		done <- struct{}{}
	}()
	<-done
	<-done
}

// exchangeCounter tells when data from the server answers data from the client.
type exchangeCounter struct {
	mu          sync.Mutex
	clientWaits bool // the client sent something the server has not yet answered
}

func (e *exchangeCounter) sent() {
	e.mu.Lock()
	e.clientWaits = true
	e.mu.Unlock()
}

// answered reports whether server data now answers a client flight (and consumes it).
func (e *exchangeCounter) answered() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	w := e.clientWaits
	e.clientWaits = false
	return w
}

type chunk struct {
	b   []byte
	due time.Time
}

// pipe copies src to dst, each read held until its arrival time: read time plus the one-way delay,
// and never before notBefore plus the delay. Exchanges are counted when the answer leaves the
// apiserver. At EOF it half-closes dst so the other direction can finish.
func (p *latencyProxy) pipe(dst, src net.Conn, notBefore time.Time, fromClient bool, turn *exchangeCounter) {
	queue := make(chan chunk, 256)
	go func() {
		defer close(queue)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				now := time.Now()
				if now.Before(notBefore) {
					now = notBefore
				}
				if fromClient {
					turn.sent()
					p.up.Add(int64(n))
				} else {
					if turn.answered() {
						p.exchanges.Add(1)
					}
					p.down.Add(int64(n))
				}
				queue <- chunk{b: buf[:n], due: now.Add(time.Duration(p.oneWay.Load()))}
			}
			if err != nil {
				return
			}
		}
	}()
	var werr error
	for c := range queue {
		if werr != nil {
			continue // drain, so the reader ends
		}
		if d := time.Until(c.due); d > 0 {
			time.Sleep(d)
		}
		if _, werr = dst.Write(c.b); werr != nil {
			src.Close()
		}
	}
	if werr != nil {
		dst.Close()
		return
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	} else {
		dst.Close()
	}
}

// SetLatency turns the latency fault on for a site (or changes it): rtt is the round-trip time
// between the workstation and the site's kube-apiserver, half of it added in each direction. The
// site's context in the lab's kubeconfig then points through the proxy.
func (l *Lab) SetLatency(site string, rtt time.Duration) error {
	if rtt < 0 {
		return fmt.Errorf("lab: a round-trip time cannot be negative (%s)", rtt)
	}
	s, err := l.Site(site)
	if err != nil {
		return err
	}
	l.latencyMu.Lock()
	defer l.latencyMu.Unlock()
	p := s.proxy.Load()
	if p == nil {
		if p, err = startLatencyProxy(strings.TrimPrefix(s.cp.server(), "https://")); err != nil {
			return err
		}
		s.proxy.Store(p)
	}
	p.SetRTT(rtt)
	s.proxied.Store(true)
	return l.writeKubeconfig()
}

// ClearLatency turns the latency fault off for a site, or for every site when site is "": the
// kubeconfig points at the kube-apiserver again and the proxy stops delaying.
func (l *Lab) ClearLatency(site string) error {
	sites := l.sites
	if site != "" {
		s, err := l.Site(site)
		if err != nil {
			return err
		}
		sites = []*Site{s}
	}
	l.latencyMu.Lock()
	defer l.latencyMu.Unlock()
	for _, s := range sites {
		if p := s.proxy.Load(); p != nil {
			p.SetRTT(0)
		}
		s.proxied.Store(false)
	}
	return l.writeKubeconfig()
}

// LatencyStats returns what passed through a site's latency proxy since the fault was first turned
// on (zero when it never was).
func (l *Lab) LatencyStats(site string) (LatencyStats, error) {
	s, err := l.Site(site)
	if err != nil {
		return LatencyStats{}, err
	}
	if p := s.proxy.Load(); p != nil {
		return p.Stats(), nil
	}
	return LatencyStats{}, nil
}

// Latency is the site's simulated round-trip time, 0 when the fault is off.
func (s *Site) Latency() time.Duration {
	if p := s.proxy.Load(); p != nil && s.proxied.Load() {
		return p.RTT()
	}
	return 0
}

// ClientServer is the URL the site's context in the lab's kubeconfig uses: the latency proxy while
// that fault is on, otherwise the kube-apiserver itself (Server).
func (s *Site) ClientServer() string {
	if p := s.proxy.Load(); p != nil && s.proxied.Load() {
		return "https://" + p.Addr()
	}
	return s.cp.server()
}

// stopLatencyProxies closes every site's proxy (at Stop).
func (l *Lab) stopLatencyProxies() {
	l.latencyMu.Lock()
	defer l.latencyMu.Unlock()
	for _, s := range l.sites {
		if p := s.proxy.Load(); p != nil {
			p.Close()
		}
	}
}

// parseRTT reads the latency fault's round-trip argument, a Go duration ("100ms").
func parseRTT(arg string) (time.Duration, error) {
	d, err := time.ParseDuration(arg)
	if err != nil {
		return 0, fmt.Errorf("round-trip time %q: want a duration such as 100ms", arg)
	}
	if d < 0 {
		return 0, errors.New("a round-trip time cannot be negative")
	}
	return d, nil
}
