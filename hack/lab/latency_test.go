package lab

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// echoServer answers every line with the same line, until the client half-closes; then it says
// "bye" and closes.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						_, _ = io.WriteString(c, "bye\n")
						return
					}
					_, _ = io.WriteString(c, line)
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// exchange sends one line and times until it comes back.
func exchange(t *testing.T, c net.Conn, r *bufio.Reader, line string) time.Duration {
	t.Helper()
	start := time.Now()
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		t.Fatal(err)
	}
	got, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if got != line+"\n" {
		t.Fatalf("echo %q, want %q", got, line+"\n")
	}
	return time.Since(start)
}

// The proxy delays each direction by half the round-trip time, adds one round trip before a new
// connection's first byte (TCP's handshake), forwards half-closes, and counts what passes; without
// a control plane.
func TestLatencyProxyDelay(t *testing.T) {
	const rtt = 100 * time.Millisecond
	p, err := startLatencyProxy(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.SetRTT(rtt)
	if got := p.RTT(); got != rtt {
		t.Fatalf("RTT() = %s, want %s", got, rtt)
	}

	dialed := time.Now()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	exchange(t, c, r, "hello")
	first := time.Since(dialed) // the handshake's round trip is paid after the dial returns
	second := exchange(t, c, r, "again")
	t.Logf("dial and first exchange %s (handshake + round trip), second exchange %s", first.Round(time.Millisecond), second.Round(time.Millisecond))
	if first < 2*rtt {
		t.Errorf("dial and first exchange on a new connection took %s, want at least 2 × %s (handshake and round trip)", first, rtt)
	}
	if second < rtt {
		t.Errorf("second exchange took %s, want at least the round trip %s", second, rtt)
	}
	if second >= first {
		t.Errorf("second exchange (%s) as slow as the first (%s): the handshake's round trip is paid again", second, first)
	}

	// A half-close reaches the server, and its answer still comes back.
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if got, err := r.ReadString('\n'); err != nil || got != "bye\n" {
		t.Fatalf("after the half-close: %q, %v; want \"bye\\n\"", got, err)
	}
	if _, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("after the server closed: %v, want EOF", err)
	}

	// Counters settle once the connection's goroutines end.
	deadline := time.Now().Add(5 * time.Second)
	for p.Stats().BytesDown < 16 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	// "bye" answers a FIN, not data: two exchanges.
	want := LatencyStats{Connections: 1, Exchanges: 2, BytesUp: int64(len("hello\nagain\n")), BytesDown: int64(len("hello\nagain\nbye\n"))}
	if got := p.Stats(); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}

	// A lower round-trip time applies to new traffic; zero forwards at once.
	p.SetRTT(0)
	c2, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if d := exchange(t, c2, bufio.NewReader(c2), "fast"); d >= rtt {
		t.Errorf("exchange without latency took %s, want well under %s", d, rtt)
	}
	if got := p.Stats().Sub(want); got.Connections != 1 || got.Exchanges != 1 {
		t.Errorf("second connection counted %+v, want 1 connection and 1 exchange", got)
	}
}

func TestParseRTT(t *testing.T) {
	for _, tc := range []struct {
		arg  string
		want time.Duration
		ok   bool
	}{
		{"100ms", 100 * time.Millisecond, true},
		{"0", 0, true},
		{"1.5s", 1500 * time.Millisecond, true},
		{"100", 0, false},
		{"-5ms", 0, false},
		{"fast", 0, false},
	} {
		got, err := parseRTT(tc.arg)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseRTT(%q) = %s, %v; want %s, ok=%v", tc.arg, got, err, tc.want, tc.ok)
		}
	}
}
