package datapower

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	dp "github.com/kubectl-apic/kubectl-apic/pkg/datapower"
)

// attachConn is the client's end of a simulated `kubectl attach`: two io.Pipes to Serve. Every byte
// the client types is checked for Ctrl-D.
type attachConn struct {
	io.Reader
	in     *io.PipeWriter
	out    *io.PipeReader
	t      *testing.T
	served chan error
}

func (c *attachConn) Write(p []byte) (int, error) {
	if bytes.IndexByte(p, 0x04) >= 0 {
		c.t.Errorf("client wrote Ctrl-D: %q", p)
	}
	return c.in.Write(p)
}

// Close detaches: the input stream ends without Ctrl-D. The console's output is drained meanwhile,
// as a real attach does: the console may still be printing (e.g. the answer to the last command),
// and an unread pipe would block it forever.
func (c *attachConn) Close() error {
	err := c.in.Close()
	go func() { _, _ = io.Copy(io.Discard, c.out) }()
	if serr := <-c.served; serr != nil {
		c.t.Errorf("Serve after detach: %v", serr)
	}
	_ = c.out.Close()
	return err
}

func attach(t *testing.T, g *Group, pod string, tty bool) *attachConn {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	c := &attachConn{Reader: outR, in: inW, out: outR, t: t, served: make(chan error, 1)}
	go func() {
		err := g.Serve(context.Background(), pod, inR, outW, tty, admin)
		_ = outW.CloseWithError(io.EOF)
		c.served <- err
	}()
	return c
}

// TestClientDrivesDRR runs seed 000's outage-less DRR with the product's client against the
// simulator, three members, starting on a member that is not primary.
func TestClientDrivesDRR(t *testing.T) {
	// with the consoles' asynchronous log lines on, as in the lab
	g := NewGroup("gw", GroupOptions{Clock: fixedClock, ConsoleLogs: &ConsoleLogs{Seed: 13, Rate: 0.3}})
	ips := map[string]string{"gw-0": "10.0.0.1", "gw-1": "10.0.0.2", "gw-2": "10.0.0.3"}
	for _, pod := range []string{"gw-0", "gw-1", "gw-2"} {
		g.AddMember(pod, ips[pod])
	}
	ctx := context.Background()
	var transcript bytes.Buffer
	open := func(pod string, tty bool) (*dp.Session, *attachConn) {
		c := attach(t, g, pod, tty)
		s, err := dp.Open(ctx, c, dp.Credentials{Username: admin.Username, Password: admin.Password},
			dp.Options{CommandTimeout: 2 * time.Second, QuietInterval: 200 * time.Millisecond, Transcript: &transcript, LoginFailureMessage: "check Secret gw-admin"})
		if err != nil {
			t.Fatal(err)
		}
		return s, c
	}
	must := func(out string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	// Steps 1-3: attach to gw-1, switch to the API Connect domain, read the peering status.
	s, _ := open("gw-1", true)
	if err := s.Switch(ctx, g.Domain()); err != nil {
		t.Fatal(err)
	}
	peerings, err := s.Peerings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	peering, ok := dp.GatewayServicePeering(peerings)
	if !ok || peering != "gwd" {
		t.Fatalf("apic-gw-service peering %q %v", peering, ok)
	}
	statuses, err := dp.ParsePeeringStatus(must(s.Run(ctx, "show gateway-peering-status")))
	if err != nil {
		t.Fatal(err)
	}
	if len(statuses) != 15 {
		t.Fatalf("%d status rows, want 3 members x 5 peerings", len(statuses))
	}
	q := dp.Quorum(statuses, peering)
	if !q.HasQuorum || q.Members != 3 || q.Primary != "10.0.0.1" {
		t.Fatalf("quorum %+v", q)
	}
	// Step 4: this member is not primary: make it primary.
	if q.Primary != ips["gw-1"] {
		if err := s.Config(ctx); err != nil {
			t.Fatal(err)
		}
		must(s.Run(ctx, "gateway-peering-switch-primary "+peering))
		if err := s.Exit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	statuses, _ = dp.ParsePeeringStatus(must(s.Run(ctx, "show gateway-peering-status")))
	if q := dp.Quorum(statuses, peering); q.Primary != ips["gw-1"] {
		t.Fatalf("primary after switch: %+v", q)
	}
	// Step 5: flush, confirming.
	if err := s.Diag(ctx); err != nil {
		t.Fatal(err)
	}
	must(s.RunConfirm(ctx, "gateway-peering-flush "+peering, true))
	if g.Registered() {
		t.Fatal("flush did not flush")
	}
	if err := s.Exit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Step 6: disable and re-enable apic-gw-service on every member; step 7: check the debug log.
	start := fixedClock()
	for i, pod := range []string{"gw-0", "gw-1", "gw-2"} {
		s, _ := open(pod, i%2 == 0)
		if m := s.Mode(); pod == "gw-1" && m.Level != dp.LevelLogin && m.Level != dp.LevelExec {
			t.Fatalf("gw-1 console left in %+v", m)
		}
		if err := s.Switch(ctx, g.Domain()); err != nil {
			t.Fatal(err)
		}
		if err := s.Config(ctx); err != nil {
			t.Fatal(err)
		}
		for _, state := range []string{"disabled", "enabled"} {
			must(s.Run(ctx, "apic-gw-service"))
			if m := s.Mode(); m.Level != dp.LevelSubConfig || m.Object != "apic-gw-service" {
				t.Fatalf("sub-mode %+v", m)
			}
			must(s.Run(ctx, "admin-state "+state))
			if err := s.Exit(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Exit(ctx); err != nil {
			t.Fatal(err)
		}
		log := must(s.Run(ctx, dp.ShowFile(dp.APICGatewayServiceLog)))
		if _, ok := dp.FindWaitingForRegistration(log, start); !ok {
			t.Fatalf("%s: no waiting line in:\n%s", pod, log)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// Step 9: a BAU webhook triggers the DRR.
	if !g.Webhook() || !g.Registered() || g.ConfigGeneration() != 2 {
		t.Fatalf("DRR: registered %v generation %d", g.Registered(), g.ConfigGeneration())
	}

	// The client understands the simulator's errors and quorum loss.
	g.SetMemberUp("gw-0", false)
	g.SetMemberUp("gw-2", false)
	s, _ = open("gw-1", false)
	_ = s.Switch(ctx, g.Domain())
	statuses, _ = dp.ParsePeeringStatus(must(s.Run(ctx, "show gateway-peering-status")))
	if q := dp.Quorum(statuses, peering); q.HasQuorum || q.Active != 1 {
		t.Fatalf("quorum without a majority: %+v", q)
	}
	_ = s.Diag(ctx)
	_, err = s.RunConfirm(ctx, "gateway-peering-flush "+peering, true)
	if ce, ok := err.(*dp.CommandError); !ok || !strings.Contains(ce.Output, "read-only") {
		t.Fatalf("flush without quorum: %v", err)
	}
	if _, err := s.Run(ctx, "gateway-peering-flus"); err == nil {
		t.Fatal("unknown command not an error")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// A wrong password is ErrLoginFailed naming the Secret.
	c := attach(t, g, "gw-1", false)
	_, err = dp.Open(ctx, c, dp.Credentials{Username: "admin", Password: "wrong"}, dp.Options{CommandTimeout: time.Second, LoginFailureMessage: "check Secret gw-admin"})
	if err == nil || !strings.Contains(err.Error(), "check Secret gw-admin") {
		t.Fatalf("wrong password: %v", err)
	}
	_ = c.Close()
	if tr := transcript.String(); !strings.Contains(tr, "Waiting for gateway service registration.") || !strings.Contains(tr, "********") {
		t.Fatalf("transcript incomplete:\n%s", tr)
	}
	if strings.Contains(transcript.String(), admin.Password) {
		t.Fatal("password in transcript")
	}
	if !strings.Contains(transcript.String(), "[0x8100003f][mgmt][notice] domain(default): tid(303): Domain configuration has been modified.") {
		t.Fatalf("no asynchronous log line in the transcript:\n%s", transcript.String())
	}
}
