package lab_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-apic/kubectl-apic/hack/lab/labtest"
)

// `kubectl attach -it` on a terminal shows the DataPower console's login prompt after Enter (kubectl:
// "If you don't see a command prompt, try pressing enter."); Ctrl-P Ctrl-Q detaches (seed 000 step 8).
func TestAttachTTYShowsDataPowerLogin(t *testing.T) {
	l := labtest.Require(t, env)
	tty := labtest.AttachTTY(t, l, "dc1", "production-gw-0")
	tty.Expect("If you don't see a command prompt, try pressing enter.", 20*time.Second)
	tty.Send("\r")
	tty.Expect("login: ", 10*time.Second)
	// A DataPower container has a TTY (IBM: "kubectl attach -it <pod_name>"); without one kubectl
	// falls back to line mode, the terminal keeps its line discipline and Ctrl-P Ctrl-Q never reaches
	// the console.
	if strings.Contains(tty.Output(), "Unable to use a TTY") {
		t.Fatalf("kubectl attach -it got no TTY: the gateway pod's container must set stdin: true and tty: true "+
			"(operator simulator, hack/lab/operator/workloads.go renderStatefulSet); terminal:\n%q", tty.Output())
	}
	tty.Send("\x10\x11") // Ctrl-P Ctrl-Q
	if err := tty.Wait(20 * time.Second); err != nil {
		t.Fatalf("kubectl attach -it after Ctrl-P Ctrl-Q: %v\n%q", err, tty.Output())
	}
	t.Logf("terminal:\n%s", tty.Output())
}

// peeringLine matches one member's line of `show gateway-peering-status` for the gwd peering.
var peeringLine = regexp.MustCompile(`(?m)^\s*(\d+\.\d+\.\d+\.\d+)\s+gwd\s+(\d+)\s+(\d+)\s+(ok|down)\s+(yes|no)\s*$`)

// A scripted session piped through `kubectl attach -i` logs in with the password from the gw-admin
// Secret, switches to the API Connect domain and prints the gateway-peering status of all members.
func TestAttachScriptShowsPeeringStatus(t *testing.T) {
	l := labtest.Require(t, env)
	script := append(labtest.Login(t, l, "dc1"), "show gateway-peering-status", "exit")
	out := labtest.Attach(t, l, "dc1", "production-gw-1", script...)
	for _, want := range []string{"Password: ", "Welcome to IBM DataPower Gateway", "idg[apiconnect]# ",
		"Address", "Configuration name", "Pending updates", "Replication offset", "Link status", "Primary", "Goodbye."} {
		if !strings.Contains(out, want) {
			t.Errorf("console output lacks %q", want)
		}
	}
	lines := peeringLine.FindAllStringSubmatch(out, -1)
	if len(lines) != 3 {
		t.Fatalf("want 3 gwd members in show gateway-peering-status, got %d:\n%s", len(lines), out)
	}
	primaries := 0
	for _, m := range lines {
		if m[4] != "ok" {
			t.Errorf("member %s link %s, want ok", m[1], m[4])
		}
		if m[5] == "yes" {
			primaries++
		}
	}
	if primaries != 1 {
		t.Errorf("%d primaries for gwd, want 1", primaries)
	}
	// The password never reaches the console output (no echo without a TTY either).
	if pw := labtest.AdminPassword(t, l, "dc1"); strings.Contains(out, pw) {
		t.Error("the console printed the admin password")
	}
}

// The lab's consoles print real asynchronous log lines at random points by default (issue 13), so
// that every command that talks to a console is tested with them.
func TestConsolePrintsAsyncLogLines(t *testing.T) {
	l := labtest.Require(t, env)
	script := labtest.Login(t, l, "dc1")
	for range 15 {
		script = append(script, "show gateway-peering-status")
	}
	out := labtest.Attach(t, l, "dc1", "production-gw-2", append(script, "exit")...)
	if !asyncLogLine.MatchString(out) {
		t.Fatalf("no asynchronous log line in 15 commands:\n%s", out)
	}
}

// asyncLogLine is a DataPower log line as the consoles print it (fixture async-log-lines.log).
var asyncLogLine = regexp.MustCompile(`(?m)\d{8}T\d{6}\.\d{3}Z (\[apiconnect\])?\[0x[0-9a-f]{8}\]\[\w+\]\[\w+\] `)
