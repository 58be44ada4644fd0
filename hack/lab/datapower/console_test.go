package datapower

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

var admin = Credentials{Username: "admin", Password: "admin-pw"}

func fixedClock() time.Time { return time.Date(2020, 6, 18, 23, 23, 39, 332e6, time.UTC) }

func newTestGroup(opts GroupOptions) *Group {
	opts.Clock = fixedClock
	g := NewGroup("gw", opts)
	g.AddMember("gw-0", "10.0.0.1")
	g.AddMember("gw-1", "10.0.0.2")
	g.AddMember("gw-2", "10.0.0.3")
	return g
}

// session feeds script to pod's console through an io.Pipe and returns what it printed and Serve's
// result. Closing the pipe afterwards is a detach.
func session(t *testing.T, g *Group, pod, script string, tty bool) (string, error) {
	t.Helper()
	pr, pw := io.Pipe()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- g.Serve(context.Background(), pod, pr, &out, tty, admin) }()
	go func() {
		_, _ = io.WriteString(pw, script)
		_ = pw.Close()
	}()
	select {
	case err := <-done:
		return out.String(), err
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
		return "", nil
	}
}

const login = "\nadmin\nadmin-pw\n"

const banner = "\nWelcome to IBM DataPower Gateway console configuration. \nCopyright IBM Corporation 1999, 2024 \n\n" +
	"Version: IDG.10.6.0.0 build 0 (simulator)\nDelivery type: CD\nSerial number: 0000001\n\n"

func TestConsoleTranscripts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   GroupOptions
		pod    string
		script string
		tty    bool
		want   string // exact output
		err    error
	}{
		{name: "attach prints nothing until Enter", pod: "gw-0", script: "", want: ""},
		{name: "login and modes", pod: "gw-0",
			script: login + "switch apiconnect\nconfig\napic-gw-service\nexit\nexit\ndiag\ntop\nexit\n",
			want: "login: Password: " + banner + "idg# idg[apiconnect]# Global mode\nidg[apiconnect](config)# " +
				"Modify API Connect Gateway Service configuration\n\nidg[apiconnect](config apic-gw-service)# " +
				"idg[apiconnect](config)# idg[apiconnect]# idg[apiconnect](diag)# idg[apiconnect]# Goodbye.\n\nlogin: "},
		{name: "tty echoes all but the password, CRLF", pod: "gw-0", tty: true, script: login + "sw apiconnect\r\n",
			want: strings.ReplaceAll("\nlogin: admin\nPassword: \n"+banner+"idg# sw apiconnect\nidg[apiconnect]# ", "\n", "\r\n")},
		{name: "wrong password, then right", pod: "gw-0", script: "admin\nnope\nadmin\nadmin-pw\n",
			want: "Password: % Login failed: invalid user name or password.\n\nlogin: Password: " + banner + "idg# "},
		{name: "three failures end the session", pod: "gw-0", script: "a\nb\na\nb\na\nb\nadmin\n",
			want: strings.Repeat("Password: % Login failed: invalid user name or password.\n\nlogin: ", 2) +
				"Password: % Login failed: invalid user name or password.\n\n",
			err: ErrLoginAttemptsExhausted},
		{name: "domain prompt", opts: GroupOptions{DomainPrompt: true}, pod: "gw-1", script: "admin\nadmin-pw\napiconnect\n",
			want: "Password: Domain (? for all): " + banner + "idg[apiconnect]# "},
		{name: "errors", pod: "gw-0", script: login + "frobnicate now\nswitch nosuch\nconfig\napic-gw-service\ngateway-peering-switch-primary gwd\n",
			want: "login: Password: " + banner + "idg# Unknown command or macro (frobnicate now)\nidg# % Domain 'nosuch' does not exist.\nidg# " +
				"Global mode\nidg(config)# % Cannot find configuration object 'apic-gw-service' in domain default.\nidg(config)# " +
				"% Cannot find configuration object 'gateway-peering gwd' in domain default.\nidg(config)# "},
		{name: "peerings with a custom name", opts: GroupOptions{GatewayServicePeering: "apic-gw"}, pod: "gw-2",
			script: login + "switch apiconnect\nshow gateway-peering-manager\n",
			want: "login: Password: " + banner + "idg# idg[apiconnect]# \ngateway-peering-manager: default [up]\n--------------------------------\n admin-state enabled\n" +
				" apic-gw-service apic-gw [up]\n rate-limit rate-limit [up]\n subscription subs [up]\n apiprobe (deprecated) api-probe [up]\n ratelimit-module rate-limit [up]\n\nidg[apiconnect]# "},
		{name: "write mem", pod: "gw-0", script: login + "config\nwrite mem\ny\nwrite mem\nn\n",
			want: "login: Password: " + banner + "idg# Global mode\nidg(config)# Overwrite previously saved configuration? Yes/No [y/n]: " +
				"Configuration saved successfully.\nidg(config)# Overwrite previously saved configuration? Yes/No [y/n]: idg(config)# "},
		{name: "flush aborted", pod: "gw-0", script: login + "switch apiconnect; diag; gateway-peering-flush gwd\nn\n",
			want: "login: Password: " + banner + "idg# Flushing gateway peering gwd removes its data on all members. Continue? Yes/No [y/n]: " +
				"Flush of gateway peering gwd cancelled.\nidg[apiconnect](diag)# "},
		{name: "flush on a non-primary fails", pod: "gw-1", script: login + "switch apiconnect; diag; gateway-peering-flush gwd\ny\n",
			want: "login: Password: " + banner + "idg# Flushing gateway peering gwd removes its data on all members. Continue? Yes/No [y/n]: " +
				"% Gateway peering gwd: this member (10.0.0.2) is not the primary (10.0.0.1); run gateway-peering-switch-primary gwd first\nidg[apiconnect](diag)# "},
		{name: "Ctrl-D ends the process", pod: "gw-0", script: login + "\x04", want: "login: Password: " + banner + "idg# ", err: ErrProcessExited},
		{name: "Ctrl-P Ctrl-Q detaches", pod: "gw-0", script: "\x10\x11admin\n", want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newTestGroup(tc.opts)
			got, err := session(t, g, tc.pod, tc.script, tc.tty)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Serve = %v, want %v", err, tc.err)
			}
			if got != tc.want {
				t.Fatalf("output:\n%q\nwant:\n%q", got, tc.want)
			}
		})
	}
}

func TestConsoleStateOutlivesAttach(t *testing.T) {
	g := newTestGroup(GroupOptions{})
	if _, err := session(t, g, "gw-0", login+"switch apiconnect\nconfig\n", false); err != nil {
		t.Fatal(err)
	}
	// A second attach (e.g. `kubectl attach -i < script`) finds the same mode.
	out, err := session(t, g, "gw-0", "\n", false)
	if err != nil || out != "idg[apiconnect](config)# " {
		t.Fatalf("%q %v", out, err)
	}
	// Ctrl-D restarts the process: the next attach needs a login.
	if _, err := session(t, g, "gw-0", "\x04", false); !errors.Is(err, ErrProcessExited) {
		t.Fatal(err)
	}
	if out, _ := session(t, g, "gw-0", "\n", false); out != "login: " {
		t.Fatalf("after Ctrl-D: %q", out)
	}
}

func TestQuorum(t *testing.T) {
	g := newTestGroup(GroupOptions{})
	if !g.HasQuorum("gwd") || g.Primary("gwd") != "gw-0" {
		t.Fatal("fresh group has no quorum")
	}
	// Primary down with a majority left: a new primary is elected.
	g.SetMemberUp("gw-0", false)
	if !g.HasQuorum("gwd") || g.Primary("gwd") != "gw-1" {
		t.Fatalf("after primary loss: quorum %v primary %s", g.HasQuorum("gwd"), g.Primary("gwd"))
	}
	// 1 of 3: read-only.
	g.SetMemberUp("gw-2", false)
	if g.HasQuorum("gwd") {
		t.Fatal("1 of 3 has quorum")
	}
	out, _ := session(t, g, "gw-1", login+"switch apiconnect\nconfig\ngateway-peering-switch-primary gwd\nexit\ndiag\ngateway-peering-flush gwd\ny\nshow gateway-peering-status\n", false)
	for _, want := range []string{
		"% Gateway peering gwd is read-only, no quorum: 1 of 3 members active, 2 needed",
		"10.0.0.1 gwd 0 5172229359 down no",
		"10.0.0.3 gwd 0 5172229359 down no",
		"apic-gw-service gwd [down]",
		"gateway-peering: gwd [down]",
	} {
		if want == "apic-gw-service gwd [down]" {
			out2, _ := session(t, g, "gw-1", "show gateway-peering-manager\nshow gateway-peering\n", false)
			out = out2
		}
		if !hasLine(out, want) && !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if !g.Registered() || g.Primary("gwd") != "gw-1" {
		t.Fatal("switch-primary or flush changed state without quorum")
	}
	// Members that go away drop out: 1 of 1 has quorum again.
	g.RemoveMember("gw-0")
	g.RemoveMember("gw-2")
	if !g.HasQuorum("gwd") || g.Primary("gwd") != "gw-1" {
		t.Fatal("sole survivor has no quorum")
	}
	// Writes queue on a down member and replay when it returns.
	g.AddMember("gw-2", "10.0.0.3")
	g.SetMemberUp("gw-2", false)
	g.Webhook()
	out, _ = session(t, g, "gw-1", "show gateway-peering-status\n", false)
	if !hasLine(out, "10.0.0.3 gwd 1 5172229359 down no") {
		t.Fatalf("pending update not shown:\n%s", out)
	}
}

func TestFlushWaitHeartbeatRegistered(t *testing.T) {
	g := newTestGroup(GroupOptions{})
	if !g.Registered() || g.ConfigGeneration() != 1 {
		t.Fatal("new group not registered")
	}
	if _, err := session(t, g, "gw-1", login+"switch apiconnect; config; gateway-peering-switch-primary gwd; diag; gateway-peering-flush gwd\ny\n", false); err != nil {
		t.Fatal(err)
	}
	if g.Registered() || g.ConfigGeneration() != 0 || g.Primary("gwd") != "gw-1" {
		t.Fatalf("flush: registered %v generation %d primary %s", g.Registered(), g.ConfigGeneration(), g.Primary("gwd"))
	}
	if g.Heartbeat() {
		t.Fatal("heartbeat re-registered before apic-gw-service was restarted")
	}
	cycle := "top; config; apic-gw-service; admin-state disabled; exit\napic-gw-service; admin-state enabled; exit; exit\n"
	for i, pod := range []string{"gw-0", "gw-1", "gw-2"} {
		script := cycle
		if pod != "gw-1" {
			script = login + "switch apiconnect\n" + cycle
		}
		if _, err := session(t, g, pod, script, false); err != nil {
			t.Fatal(err)
		}
		if i < 2 && g.Heartbeat() {
			t.Fatalf("heartbeat re-registered with %s not yet restarted", pod)
		}
	}
	out, _ := session(t, g, "gw-0", "show file logtemp:///gwd-log.log\nshow apic-gw-service\n", false)
	const waiting = "20200618T232339.332Z [0x88e000d7][apic-gw-service][notice] apic-gw-service(default): tid("
	if !strings.Contains(out, waiting) || !strings.Contains(out, "): Waiting for gateway service registration.\n") ||
		strings.Contains(out, "registration") && strings.Contains(out, "registration-state") {
		t.Fatalf("no waiting line:\n%s", out)
	}
	if !g.Heartbeat() || !g.Registered() || g.ConfigGeneration() != 2 {
		t.Fatalf("heartbeat did not re-register: %v %d", g.Registered(), g.ConfigGeneration())
	}
	log := strings.Join(g.Log("gw-2"), "\n")
	if !strings.Contains(log, "registration received from the management server (heartbeat)") || !strings.Contains(log, "Configuration generation 2 synchronized") {
		t.Fatalf("log:\n%s", log)
	}
	// BAU webhooks on a registered group push new generations.
	if g.Webhook() || g.ConfigGeneration() != 3 {
		t.Fatal("webhook on a registered group")
	}
}

func TestFaults(t *testing.T) {
	g := newTestGroup(GroupOptions{})
	g.FailCommand("gw-0", "show gateway-peering-status", "Peering status unavailable")
	g.FailCommandOnce("gw-0", "gateway-peering-switch-primary", "% Internal error")
	out, _ := session(t, g, "gw-0", login+"switch apiconnect; show gateway-peering-status\nconfig; gateway-peering-switch-primary gwd\ngateway-peering-switch-primary gwd\nshow gateway-peering-status\n", false)
	if strings.Count(out, "% Peering status unavailable\n") != 2 || strings.Count(out, "% Internal error\n") != 1 ||
		!strings.Contains(out, "Gateway peering gwd: primary is now 10.0.0.1.") {
		t.Fatalf("faults:\n%s", out)
	}
	if out, _ := session(t, g, "gw-1", "\n", false); out != "login: " {
		t.Fatalf("fault leaked to another member: %q", out)
	}
	g.ClearFaults()
	if out, _ := session(t, g, "gw-0", "show gateway-peering-status\n", false); strings.Contains(out, "%") {
		t.Fatalf("fault survived ClearFaults:\n%s", out)
	}
}

// A device whose password was changed without its Secret rejects the Secret's password and accepts
// its own, until the consoles follow the Secret again.
func TestConsoleDevicePassword(t *testing.T) {
	g := newTestGroup(GroupOptions{})
	g.SetDevicePassword("rotated")
	out, _ := session(t, g, "gw-0", login, false)
	if !strings.Contains(out, "% Login failed") || strings.Contains(out, "Welcome") {
		t.Errorf("the Secret's password logged in after rotation:\n%s", out)
	}
	out, _ = session(t, g, "gw-1", "\nadmin\nrotated\n", false)
	if !strings.Contains(out, "Welcome") {
		t.Errorf("the device's own password did not log in:\n%s", out)
	}
	g.SetDevicePassword("")
	out, _ = session(t, g, "gw-2", login, false)
	if !strings.Contains(out, "Welcome") {
		t.Errorf("after restoring, the Secret's password did not log in:\n%s", out)
	}
}

// hasLine reports whether out has a line whose fields are want's.
func hasLine(out, want string) bool {
	w := strings.Join(strings.Fields(want), " ")
	for _, l := range strings.Split(out, "\n") {
		if strings.Join(strings.Fields(l), " ") == w {
			return true
		}
	}
	return false
}

// TestBannerFollowsMemberVersion: the banner's Version line is the member's firmware, kept when the
// member is re-added (a restart) until set again.
func TestBannerFollowsMemberVersion(t *testing.T) {
	g := newTestGroup(GroupOptions{})
	g.SetMemberVersion("gw-1", "IDG.10.0.8.0")
	for _, tc := range []struct{ pod, want string }{
		{"gw-0", "Version: IDG.10.6.0.0 build 0 (simulator)\n"},
		{"gw-1", "Version: IDG.10.0.8.0 build 0 (simulator)\n"},
	} {
		out, _ := session(t, g, tc.pod, login, false)
		if !strings.Contains(out, tc.want) {
			t.Errorf("%s banner:\n%s\nwant the line %q", tc.pod, out, tc.want)
		}
	}
	g.AddMember("gw-1", "10.0.0.9")
	if got := g.MemberVersion("gw-1"); got != "IDG.10.0.8.0" {
		t.Errorf("after re-add MemberVersion = %q", got)
	}
	g.SetMemberVersion("gw-1", "")
	if got := g.MemberVersion("gw-1"); got != DefaultFirmware {
		t.Errorf("after reset MemberVersion = %q, want %q", got, DefaultFirmware)
	}
}
