package traffic

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// proxy is a layer-4 (TCP) load balancer on a loopback address, as kube-proxy is for a Service and
// a network load balancer is in front of data centers: each accepted connection goes to one backend
// picked at accept time and stays there (so keep-alive pins a client to one pod), bytes are copied
// both ways, and when either side closes the other is closed too (a backend that dies cuts its
// clients: "socket hang up"). With no backend the connection is closed at once. Down closes the
// listener (connections are refused) until Up listens again on the same address.
type proxy struct {
	name string
	pick func() (addr string, ok bool)
	logf func(format string, args ...any)

	mu    sync.Mutex
	addr  string // host:port, fixed by the first listen
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newProxy(name, host string, pick func() (string, bool), logf func(string, ...any)) (*proxy, error) {
	p := &proxy{name: name, pick: pick, logf: logf, conns: map[net.Conn]struct{}{}}
	if err := p.listen(net.JoinHostPort(host, "0")); err != nil {
		return nil, err
	}
	return p, nil
}

// Addr is host:port the proxy listens on (also while it is down).
func (p *proxy) Addr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addr
}

// IsUp reports whether the proxy accepts connections.
func (p *proxy) IsUp() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ln != nil
}

func (p *proxy) listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	p.wg.Add(1)
	go p.accept(ln)
	return nil
}

// Down stops accepting (new connections are refused) and cuts the open ones.
func (p *proxy) Down() {
	p.mu.Lock()
	ln := p.ln
	p.ln = nil
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
}

// Up listens again on the proxy's address.
func (p *proxy) Up() error {
	if p.IsUp() {
		return nil
	}
	return p.listen(p.Addr())
}

// Close stops the proxy for good and waits for its goroutines.
func (p *proxy) Close() {
	p.Down()
	p.wg.Wait()
}

func (p *proxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				p.logf("%s: accept: %v", p.name, err)
			}
			return
		}
		p.mu.Lock()
		if p.ln != ln { // went down meanwhile
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		p.conns[c] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(c)
	}
}

func (p *proxy) serve(c net.Conn) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
		_ = c.Close()
	}()
	addr, ok := p.pick()
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var d net.Dialer
	b, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return
	}
	defer b.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(b, c)
	go pipe(c, b)
	<-done
	// One side finished: close both, which ends the other copy.
	_ = c.Close()
	_ = b.Close()
	<-done
}
