package datapower

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubectl-apic/kubectl-apic/internal/fixtures"
)

// Where a console prints asynchronous log lines (issue 13; fixtures login-kubectl-attach-2018,
// prompt-then-log-config, write-mem, show-gateway-peering-status-blog).
type logPos int

const (
	logNone          logPos = iota
	logAfterPrompt          // on the prompt's line, ending in a line end: the prompt is lost on screen
	logBeforeOutput         // above the command's output
	logInsideOutput         // between two lines of the output
	logAfterQuestion        // on a question's line
	logPromptGone           // after the output, and no prompt until Enter is pressed
)

func (p logPos) String() string {
	return [...]string{"none", "after-prompt", "before-output", "inside-output", "after-question", "prompt-gone"}[p]
}

// realLogLines are the fixture's real log lines, the "Waiting" line left out (it is an event the
// DRR looks for, not noise).
func realLogLines(t *testing.T) []string {
	t.Helper()
	b, err := fixtures.Body("console/async-log-lines.log")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if !strings.Contains(l, waitingText) {
			out = append(out, l)
		}
	}
	return out
}

// replayConsole answers the commands of a DRR with the outputs of the real-shape fixtures and prints
// real log lines at pos (for every command, or only the n-th when only > 0).
type replayConsole struct {
	t      *testing.T
	pos    logPos
	only   int
	logs   []string
	quest  string // the flush question; default an unfamiliar one
	delay  time.Duration
	out    map[string]string
	banner string

	mu       sync.Mutex
	written  bytes.Buffer
	printed  bytes.Buffer
	stage    string
	domain   string
	level    string // "", "config", "diag", "config apic-gw-service"
	n        int
	nlog     int
	needNL   bool // prompt gone: print it on the next Enter
	askedFor string
}

func newReplayConsole(t *testing.T, pos logPos) *replayConsole {
	f := &replayConsole{t: t, pos: pos, logs: realLogLines(t), stage: "login",
		quest: "Gateway peering gwd will lose its data on every member. Are you sure? "}
	f.out = map[string]string{
		"show gateway-peering-status":  commandOutput(t, "console/show-gateway-peering-status-3-members.console", "show gateway-peering-status"),
		"show gateway-peering-manager": commandOutput(t, "console/show-gateway-peering-manager.console", "show gateway-peering-manager"),
		"show gateway-peering":         commandOutput(t, "console/show-gateway-peering.console", "show gateway-peering"),
		"show apic-gw-service":         commandOutput(t, "console/show-apic-gw-service.console", "show apic-gw-service"),
	}
	steps, err := mustFixture(t, "console/login-and-switch.console").Steps()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		if s.Typed && s.Input == "********" {
			f.banner = strings.TrimSuffix(s.Output, "idg# ")
		}
	}
	if f.banner == "" {
		t.Fatal("no banner in login-and-switch.console")
	}
	return f
}

func mustFixture(t *testing.T, name string) fixtures.Fixture {
	t.Helper()
	f, err := fixtures.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *replayConsole) prompt() string {
	p := "idg"
	if f.domain != "" {
		p += "[" + f.domain + "]"
	}
	if f.level != "" {
		p += "(" + f.level + ")"
	}
	return p + "# "
}

func (f *replayConsole) logLine() string {
	l := f.logs[f.nlog%len(f.logs)]
	f.nlog++
	return l + "\n"
}

func (f *replayConsole) start() *conn {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	go f.serve(inR, outW)
	f.t.Cleanup(func() { _ = inW.Close(); _ = outR.Close() })
	return &conn{Reader: outR, w: inW, r: outR, fake: &fakeConsole{t: f.t}}
}

func (f *replayConsole) serve(in io.Reader, out io.WriteCloser) {
	defer out.Close()
	buf := make([]byte, 1)
	var line []byte
	for {
		if _, err := in.Read(buf); err != nil {
			return
		}
		f.mu.Lock()
		f.written.WriteByte(buf[0])
		f.mu.Unlock()
		if buf[0] != '\n' {
			line = append(line, buf[0])
			continue
		}
		l := string(line)
		line = nil
		f.mu.Lock()
		s := f.input(l)
		f.printed.WriteString(s)
		f.mu.Unlock()
		if f.delay > 0 && l != "" {
			time.Sleep(f.delay)
		}
		if _, err := io.WriteString(out, s); err != nil {
			return
		}
	}
}

// active: inject at this position for the current command.
func (f *replayConsole) active(p logPos) bool {
	return f.pos == p && (f.only == 0 || f.only == f.n)
}

// end is what follows a command's output: the prompt, with log lines after it or instead of it.
func (f *replayConsole) end() string {
	switch {
	case f.active(logAfterPrompt):
		return f.prompt() + f.logLine() + f.logLine()
	case f.active(logPromptGone):
		f.needNL = true
		return f.logLine()
	}
	return f.prompt()
}

func (f *replayConsole) wrap(output string) string {
	switch {
	case f.active(logBeforeOutput):
		output = f.logLine() + output
	case f.active(logInsideOutput):
		if i := strings.Index(output, "\n"); i >= 0 && i < len(output)-1 {
			output = output[:i+1] + f.logLine() + output[i+1:]
		} else {
			output += f.logLine()
		}
	}
	return output + f.end()
}

func (f *replayConsole) input(l string) string {
	switch f.stage {
	case "login":
		if l == "" {
			return "login: "
		}
		f.stage = "password"
		return "Password: "
	case "password":
		if l != "s3cr3t-pw" {
			f.stage = "login"
			return "% Login failed: invalid user name or password.\n\nlogin: "
		}
		f.stage = "shell"
		f.n++
		return f.banner + f.end()
	case "question":
		f.stage = "shell"
		f.askedFor = l
		return f.wrap("")
	}
	if l == "" {
		if f.needNL {
			f.needNL = false
		}
		return f.prompt()
	}
	f.n++
	base := func() {
		if i := strings.Index(f.level, " "); i >= 0 {
			f.level = f.level[:i]
		}
	}
	switch fields := strings.Fields(l); {
	case l == "switch apiconnect" || l == "sw apiconnect":
		f.domain = "apiconnect"
	case l == "config" || l == "co":
		f.level = "config"
		return f.wrap("Global mode\n")
	case l == "diag":
		f.level = "diag"
	case l == "top":
		f.level = ""
	case l == "exit":
		switch f.level {
		case "":
			f.stage = "login"
			return "Goodbye.\n\nlogin: "
		case "config apic-gw-service":
			base()
		default:
			f.level = ""
		}
	case l == "apic-gw-service" && f.level == "config":
		f.level = "config apic-gw-service"
		return f.wrap("Modify API Connect Gateway Service configuration\n\n")
	case strings.HasPrefix(l, "admin-state ") && f.level == "config apic-gw-service":
	case len(fields) == 2 && fields[0] == "gateway-peering-switch-primary" && f.level == "config":
		// no public sample of its output: it prints nothing here
	case len(fields) == 2 && fields[0] == "gateway-peering-flush" && f.level == "diag":
		f.stage = "question"
		if f.active(logAfterQuestion) {
			return f.quest + f.logLine()
		}
		return f.quest
	default:
		if o, ok := f.out[l]; ok {
			return f.wrap(o)
		}
		return f.wrap("Unknown command or macro (" + l + ")\n")
	}
	return f.wrap("")
}

// drrResult is what the client read in one pass over the DRR's console steps.
type drrResult struct {
	Mode      Mode
	Peerings  []Peering
	Statuses  int
	Primary   string
	AdminUp   string
	Question  string
	Answered  string
	CycleMode Mode
}

// runDRRSteps drives every console step of the DRR (seed 000, drr.sh) through the session.
func runDRRSteps(ctx context.Context, s *Session, f *replayConsole) (drrResult, error) {
	var r drrResult
	if err := s.Switch(ctx, "apiconnect"); err != nil {
		return r, fmt.Errorf("switch: %w", err)
	}
	ps, err := s.Peerings(ctx)
	if err != nil {
		return r, fmt.Errorf("peerings: %w", err)
	}
	r.Peerings = ps
	out, err := s.Run(ctx, "show gateway-peering-status")
	if err != nil {
		return r, fmt.Errorf("status: %w", err)
	}
	rows, err := ParsePeeringStatus(out)
	if err != nil {
		return r, fmt.Errorf("status parse: %w\n%s", err, out)
	}
	r.Statuses = len(rows)
	r.Primary = Quorum(rows, "gwd").Primary
	out, err = s.Run(ctx, ShowAPICGatewayService)
	if err != nil {
		return r, fmt.Errorf("apic-gw-service: %w", err)
	}
	gs, err := ParseGatewayService(out)
	if err != nil {
		return r, fmt.Errorf("apic-gw-service parse: %w\n%q", err, out)
	}
	r.AdminUp = gs.AdminState
	if err := s.Config(ctx); err != nil {
		return r, fmt.Errorf("config: %w", err)
	}
	if out, err := s.Run(ctx, "gateway-peering-switch-primary gwd"); err != nil || out != "" {
		return r, fmt.Errorf("switch-primary: %q %w", out, err)
	}
	if err := s.Top(ctx); err != nil {
		return r, err
	}
	if err := s.Diag(ctx); err != nil {
		return r, fmt.Errorf("diag: %w", err)
	}
	out, q, err := s.RunAnswer(ctx, "gateway-peering-flush gwd", true)
	if err != nil {
		return r, fmt.Errorf("flush: %q %w", out, err)
	}
	r.Question = q
	f.mu.Lock()
	r.Answered = f.askedFor
	f.mu.Unlock()
	if err := s.Top(ctx); err != nil {
		return r, err
	}
	if err := s.Config(ctx); err != nil {
		return r, err
	}
	for _, st := range []string{"disabled", "enabled"} {
		if _, err := s.Run(ctx, APICGatewayServiceOwner); err != nil {
			return r, fmt.Errorf("apic-gw-service sub-mode: %w", err)
		}
		r.CycleMode = s.Mode()
		if out, err := s.Run(ctx, "admin-state "+st); err != nil || out != "" {
			return r, fmt.Errorf("admin-state %s: %q %w", st, out, err)
		}
		if err := s.Exit(ctx); err != nil {
			return r, err
		}
	}
	if err := s.Top(ctx); err != nil {
		return r, err
	}
	r.Mode = s.Mode()
	return r, nil
}

// Login and every console step of the DRR read the same with real log lines at each position as
// without them, and the log lines stay in the transcript and out of the outputs.
func TestDRRStepsSurviveAsyncLogLines(t *testing.T) {
	ctx := context.Background()
	baseline := func() drrResult {
		f := newReplayConsole(t, logNone)
		s, err := Open(ctx, f.start(), Credentials{Username: "admin", Password: "s3cr3t-pw"}, Options{CommandTimeout: 5 * time.Second, QuietInterval: 150 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		r, err := runDRRSteps(ctx, s, f)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}()
	wantPeerings := []Peering{{"apic-gw-service", "gwd", "up", false}, {"rate-limit", "rate-limit", "up", false},
		{"subscription", "subs", "up", false}, {"apiprobe", "api-probe", "up", true}, {"ratelimit-module", "rate-limit", "up", false},
		{"", "tms", "up", false}}
	if !reflect.DeepEqual(baseline.Peerings, wantPeerings) || baseline.Statuses != 15 || baseline.Primary != "172.16.53.39" ||
		baseline.AdminUp != "enabled" || baseline.Answered != "y" || !strings.Contains(baseline.Question, "Are you sure?") ||
		baseline.CycleMode.Object != APICGatewayServiceOwner || baseline.Mode != (Mode{Domain: "apiconnect", Level: LevelExec}) {
		t.Fatalf("baseline %+v", baseline)
	}
	for _, pos := range []logPos{logAfterPrompt, logBeforeOutput, logInsideOutput, logAfterQuestion, logPromptGone} {
		// every command at once, then each command alone (the position moves through the DRR)
		for only := 0; only <= 22; only++ {
			if only > 0 && pos == logAfterQuestion {
				break
			}
			t.Run(fmt.Sprintf("%s/%d", pos, only), func(t *testing.T) {
				t.Parallel()
				f := newReplayConsole(t, pos)
				f.only = only
				var tr bytes.Buffer
				s, err := Open(ctx, f.start(), Credentials{Username: "admin", Password: "s3cr3t-pw"},
					Options{CommandTimeout: 5 * time.Second, QuietInterval: 40 * time.Millisecond, Transcript: &tr, KeepConsoleLogs: true})
				if err != nil {
					t.Fatalf("login: %v", err)
				}
				got, err := runDRRSteps(ctx, s, f)
				if err != nil {
					t.Fatalf("%v\ntranscript:\n%s", err, tr.String())
				}
				if !reflect.DeepEqual(got, baseline) {
					t.Fatalf("read %+v\nwant %+v\ntranscript:\n%s", got, baseline, tr.String())
				}
				_ = s.Close()
				f.mu.Lock()
				n := f.nlog
				f.mu.Unlock()
				if (only == 0 || pos == logAfterQuestion) && n == 0 {
					t.Fatal("no log line printed")
				}
				for _, l := range s.ConsoleLogs() {
					if !strings.Contains(tr.String(), l) {
						t.Errorf("log line %q not in the transcript", l)
					}
				}
				if len(s.ConsoleLogs()) != n && pos != logPromptGone {
					t.Errorf("kept %d log lines, %d printed", len(s.ConsoleLogs()), n)
				}
			})
		}
	}
}

// The real transcripts with log lines: the prompt followed by log text ends the login (2018
// fixture) and a command (blog: log line after the domain prompt); write mem's log lines inside its
// output stay out of it.
func TestRealTranscriptsWithLogLines(t *testing.T) {
	for _, name := range []string{"console/login-kubectl-attach-2018.console", "console/prompt-then-log-config.console",
		"console/write-mem.console", "console/show-gateway-peering-status-blog.console"} {
		steps, err := mustFixture(t, name).Steps()
		if err != nil {
			t.Fatal(err)
		}
		for i, st := range steps {
			kind, _ := classifyTail(st.Output)
			next := ""
			if i+1 < len(steps) {
				next = steps[i+1].Input
			}
			// Every output the user answered has a prompt the session sees, log lines or not; the
			// Enter the user pressed after log lines is then not needed.
			if kind == promptNone && i+1 < len(steps) {
				t.Errorf("%s step %d: no prompt seen in %q (next input %q)", name, i, st.Output, next)
			}
			if clean := cleanOutput(st.Output, st.Input); strings.Contains(clean, "Z [0x") || strings.Contains(clean, "Z [apiconnect]") {
				t.Errorf("%s step %d: log line left in output %q", name, i, clean)
			}
		}
	}
	out := cleanOutput(commandOutput(t, "console/write-mem.console", "y")+"idg(config)# ", "y")
	if out != "Configuration saved successfully." {
		t.Errorf("write mem answer: %q", out)
	}
	rows, err := ParsePeeringStatus(commandOutput(t, "console/show-gateway-peering-status-blog.console", "top;co;sh gateway-peering-st"))
	if err != nil || len(rows) != 4 || !rows[0].Primary {
		t.Errorf("blog status: %+v %v", rows, err)
	}
}

// A real log line in an application domain carries the domain's tag before its id.
func TestParseLogLineDomainTag(t *testing.T) {
	for _, l := range realLogLines(t) {
		if _, ok := ParseLogLine(l); !ok {
			t.Errorf("not a log line: %q", l)
		}
	}
	l, ok := ParseLogLine("20180815T125533.232Z [apiconnect][0x80e00161][mpgw][error] source-https(webapi-https): tid(17696)[192.168.99.1]: Request processing failed")
	if !ok || l.Domain != "apiconnect" || l.ID != "0x80e00161" || l.TID != 17696 || l.Client != "192.168.99.1" || l.Message != "Request processing failed" || l.Object != "source-https(webapi-https)" {
		t.Fatalf("%+v %v", l, ok)
	}
}

// Owners and peering names from both real shapes, and from the IBM Support page's own names.
func TestParsePeeringsRealShapes(t *testing.T) {
	mgr := commandOutput(t, "console/show-gateway-peering-manager.console", "show gateway-peering-manager")
	blocks := commandOutput(t, "console/show-gateway-peering.console", "show gateway-peering")
	ibm := commandOutput(t, "console/show-gateway-peering-manager-ibm-support.console", "show gateway-peering-manager")
	for _, tc := range []struct {
		name      string
		out       string
		names     []string
		gwd       string
		owners    []string
		deprecate string
	}{
		{"manager", mgr, []string{"api-probe", "gwd", "rate-limit", "subs"}, "gwd", []string{"apic-gw-service", "rate-limit", "subscription", "apiprobe", "ratelimit-module"}, "apiprobe"},
		{"blocks", blocks, []string{"api-probe", "gwd", "rate-limit", "subs", "tms"}, "", []string{"", "", "", "", ""}, ""},
		{"both", mgr + blocks, []string{"api-probe", "gwd", "rate-limit", "subs", "tms"}, "gwd", []string{"apic-gw-service", "rate-limit", "subscription", "apiprobe", "ratelimit-module", ""}, "apiprobe"},
		{"ibm-support", ibm, []string{"gwd", "gwsrate", "probe", "rate", "subs"}, "gwd", []string{"apic-gw-service", "rate-limit", "subscription", "apiprobe", "ratelimit-module"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps, err := ParsePeerings(tc.out)
			if err != nil {
				t.Fatal(err)
			}
			if got := PeeringNames(ps); !reflect.DeepEqual(got, tc.names) {
				t.Errorf("names %v, want %v", got, tc.names)
			}
			var owners []string
			dep := ""
			for _, p := range ps {
				owners = append(owners, p.Owner)
				if p.Deprecated {
					dep = p.Owner
				}
				if p.Owner == "token-management" || p.Owner == "ssl-key" || p.Owner == "ssl-cert" {
					t.Errorf("owner %q", p.Owner)
				}
			}
			if !reflect.DeepEqual(owners, tc.owners) || dep != tc.deprecate {
				t.Errorf("owners %v (deprecated %q), want %v (%q)", owners, dep, tc.owners, tc.deprecate)
			}
			if got, _ := GatewayServicePeering(ps); got != tc.gwd {
				t.Errorf("apic-gw-service peering %q, want %q", got, tc.gwd)
			}
		})
	}
}

// A lost prompt is recovered with Enter, and the prompts the extra Enters produce do not end the
// next command early.
func TestLostPromptRecoveredAndExtraPromptsConsumed(t *testing.T) {
	ctx := context.Background()
	f := newReplayConsole(t, logNone)
	s, err := Open(ctx, f.start(), Credentials{Username: "admin", Password: "s3cr3t-pw"}, Options{CommandTimeout: 5 * time.Second, QuietInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Switch(ctx, "apiconnect"); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.delay = 350 * time.Millisecond // slower than the quiet interval: Enter is pressed meanwhile
	f.mu.Unlock()
	out, err := s.Run(ctx, "show apic-gw-service")
	if err != nil || !strings.Contains(out, "admin-state enabled") {
		t.Fatalf("slow command: %q %v", out, err)
	}
	f.mu.Lock()
	f.delay = 0
	f.pos = logPromptGone
	f.mu.Unlock()
	out, err = s.Run(ctx, "show gateway-peering-status")
	if err != nil {
		t.Fatal(err)
	}
	if rows, err := ParsePeeringStatus(out); err != nil || len(rows) != 15 {
		t.Fatalf("after the lost prompt: %d rows %v\n%q", len(rows), err, out)
	}
	f.mu.Lock()
	f.pos = logNone
	f.mu.Unlock()
	out, err = s.Run(ctx, "show apic-gw-service")
	if err != nil || !strings.Contains(out, "admin-state enabled") {
		t.Fatalf("next command: %q %v", out, err)
	}
	f.mu.Lock()
	written := f.written.String()
	f.mu.Unlock()
	if !strings.Contains(written, "\n\n") {
		t.Errorf("no Enter pressed to recover the prompt: %q", written)
	}
}

// An unfamiliar question is answered as asked (RunAnswer reports its text) or declined and reported.
func TestUnfamiliarQuestion(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, quest string
	}{
		{"question mark", "Gateway peering gwd will lose its data on every member. Are you sure? "},
		{"no mark", "Type y to flush gateway peering gwd "},
		{"yes/no", "Flush gwd (yes/no) "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newReplayConsole(t, logNone)
			f.quest = tc.quest
			s, err := Open(ctx, f.start(), Credentials{Username: "admin", Password: "s3cr3t-pw"}, Options{CommandTimeout: 5 * time.Second, QuietInterval: 100 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			_ = s.Switch(ctx, "apiconnect")
			_ = s.Diag(ctx)
			_, q, err := s.RunAnswer(ctx, "gateway-peering-flush gwd", true)
			if err != nil || q != strings.TrimSpace(tc.quest) || f.askedFor != "y" {
				t.Fatalf("answer: %q %v (answered %q)", q, err, f.askedFor)
			}
			if _, err := s.Run(ctx, "gateway-peering-flush gwd"); !errors.Is(err, ErrUnexpectedConfirmation) || f.askedFor != "n" {
				t.Fatalf("unasked: %v (answered %q)", err, f.askedFor)
			}
			if m := s.Mode(); m.Level != LevelDiag {
				t.Fatalf("mode %+v", m)
			}
		})
	}
}

// The read commands run in configuration mode, as IBM's tools run them; Peerings returns to the
// level it started from.
func TestPeeringsInConfigMode(t *testing.T) {
	ctx := context.Background()
	f := newReplayConsole(t, logNone)
	s, err := Open(ctx, f.start(), Credentials{Username: "admin", Password: "s3cr3t-pw"}, Options{CommandTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Switch(ctx, "apiconnect"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Peerings(ctx); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	w := f.written.String()
	f.mu.Unlock()
	if !strings.Contains(w, "switch apiconnect\nconfig\nshow gateway-peering-manager\nshow gateway-peering\ntop\n") {
		t.Errorf("wrote %q", w)
	}
	if m := s.Mode(); m.Level != LevelExec {
		t.Errorf("mode %+v", m)
	}
}

// A command that asks slowly gets no recovery Enter before its question: a console would take the
// Enter as the (empty) answer.
func TestNoEnterBeforeASlowQuestion(t *testing.T) {
	ctx := context.Background()
	f := newReplayConsole(t, logNone)
	s, err := Open(ctx, f.start(), Credentials{Username: "admin", Password: "s3cr3t-pw"}, Options{CommandTimeout: 5 * time.Second, QuietInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Switch(ctx, "apiconnect")
	_ = s.Diag(ctx)
	f.mu.Lock()
	f.delay = 300 * time.Millisecond
	f.mu.Unlock()
	if _, q, err := s.RunAnswer(ctx, "gateway-peering-flush gwd", true); err != nil || q == "" {
		t.Fatalf("%q %v", q, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if w := f.written.String(); !strings.Contains(w, "gateway-peering-flush gwd\ny\n") || f.askedFor != "y" {
		t.Fatalf("wrote %q, answered %q", w, f.askedFor)
	}
}

// Without KeepConsoleLogs a session keeps no log lines (a production session would otherwise hold
// every line of a `show file` of a log).
func TestConsoleLogsOptIn(t *testing.T) {
	ctx := context.Background()
	for _, keep := range []bool{false, true} {
		f := newReplayConsole(t, logAfterPrompt)
		s, err := Open(ctx, f.start(), Credentials{Username: "admin", Password: "s3cr3t-pw"},
			Options{CommandTimeout: 5 * time.Second, QuietInterval: 40 * time.Millisecond, KeepConsoleLogs: keep})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ReadPeeringStatus(ctx); err != nil {
			t.Fatal(err)
		}
		if got := len(s.ConsoleLogs()); (got > 0) != keep {
			t.Errorf("KeepConsoleLogs %v: kept %d log lines", keep, got)
		}
		_ = s.Close()
	}
}
