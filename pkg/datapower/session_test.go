package datapower

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeConsole is a scripted DataPower console for the client's tests (pkg/datapower must not import
// the lab simulator; the cross-check against the simulator lives in hack/lab/datapower).
type fakeConsole struct {
	t        *testing.T
	tty      bool
	echoPass bool // a misbehaving device that echoes the password
	domain   bool // ask the domain prompt
	loggedIn bool // already logged in before the attach
	lockOut  bool // end the session after a failed login (too many failures)
	hang     string
	prompt   string
	stage    string

	mu      sync.Mutex
	written bytes.Buffer // everything the client wrote
}

// conn is the client's end of two pipes; every byte it writes is checked for Ctrl-D.
type conn struct {
	io.Reader
	w      io.WriteCloser
	r      io.Closer
	fake   *fakeConsole
	closed bool
}

func (c *conn) Write(p []byte) (int, error) {
	c.fake.mu.Lock()
	c.fake.written.Write(p)
	c.fake.mu.Unlock()
	if bytes.IndexByte(p, ctrlD) >= 0 {
		c.fake.t.Errorf("client wrote Ctrl-D (0x04): %q", p)
	}
	return c.w.Write(p)
}

func (c *conn) Close() error {
	c.closed = true
	_ = c.r.Close()
	return c.w.Close()
}

func (f *fakeConsole) start() *conn {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	if f.prompt == "" {
		f.prompt = "idg# "
	}
	f.stage = "login"
	if f.loggedIn {
		f.stage = "shell"
	}
	go f.serve(inR, outW)
	f.t.Cleanup(func() { _ = inW.Close(); _ = outR.Close() })
	return &conn{Reader: outR, w: inW, r: outR, fake: f}
}

func (f *fakeConsole) serve(in io.Reader, out io.WriteCloser) {
	defer out.Close()
	nl := "\n"
	if f.tty {
		nl = "\r\n"
	}
	p := func(s string) { _, _ = io.WriteString(out, strings.ReplaceAll(s, "\n", nl)) }
	buf := make([]byte, 1)
	var line []byte
	for {
		if _, err := in.Read(buf); err != nil {
			return
		}
		if buf[0] == ctrlD {
			p("\n[process exited]\n")
			return
		}
		if buf[0] != '\n' {
			line = append(line, buf[0])
			continue
		}
		l := string(line)
		line = nil
		if f.tty && (f.stage != "password" || f.echoPass) {
			p(l + "\n")
		}
		switch f.stage {
		case "login":
			if l == "" {
				p("login: ")
				continue
			}
			f.stage = "password"
			if l != "admin" {
				f.stage = "badpassword"
			}
			p("Password: ")
		case "password", "badpassword":
			if f.echoPass && !f.tty {
				p(l + "\n")
			}
			if f.stage == "badpassword" || l != "s3cr3t-pw" {
				f.stage = "login"
				if f.lockOut {
					p("% Login failed: invalid user name or password.\n\n")
					return
				}
				p("% Login failed: invalid user name or password.\n\nlogin: ")
				continue
			}
			if f.domain {
				f.stage = "domain"
				p("Domain (? for all): ")
				continue
			}
			f.stage = "shell"
			p("\nWelcome to IBM DataPower Gateway console configuration. \n\n" + f.prompt)
		case "domain":
			f.stage = "shell"
			if l != "default" {
				f.prompt = "idg[" + l + "]# "
			}
			p(f.prompt)
		case "confirm":
			f.stage = "shell"
			if l == "y" {
				p("Done.\n")
			} else {
				p("Aborted.\n")
			}
			p(f.prompt)
		case "shell":
			f.command(l, p)
		}
	}
}

func (f *fakeConsole) command(l string, p func(string)) {
	switch {
	case l == "":
	case l == f.hang:
		return // never answers
	case l == "switch apiconnect" && strings.Contains(f.prompt, "(diag)"):
		p("Unknown command or macro (" + l + ")\n")
	case l == "switch apiconnect":
		f.prompt = "idg[apiconnect]# "
	case l == "config":
		p("Global mode\n")
		f.prompt = f.base() + "(config)# "
	case l == "diag":
		f.prompt = f.base() + "(diag)# "
	case l == "top":
		if i := strings.Index(f.prompt, "("); i >= 0 {
			f.prompt = f.prompt[:i] + "# "
		}
	case l == "exit":
		if i := strings.Index(f.prompt, "("); i >= 0 {
			f.prompt = f.prompt[:i] + "# "
		} else {
			f.stage = "login"
			p("Goodbye.\n\nlogin: ")
			return
		}
	case l == "show colors":
		p("\x1b[1mAddress\x1b[0m\n")
	case l == "bad":
		p("% Cannot find configuration object 'bad'.\n")
	case l == "pending":
		p("%\tPending\n\nSSH service listener enabled\n")
	case strings.HasPrefix(l, "flush"):
		f.stage = "confirm"
		p("Flush? Yes/No [y/n]: ")
		return
	case l == "noise":
		p("\x1b[32mline one\x1b[0m\nline two\n")
	default:
		p("Unknown command or macro (" + l + ")\n")
	}
	p(f.prompt)
}

// base is the prompt without its mode, e.g. "idg[apiconnect]".
func (f *fakeConsole) base() string {
	if i := strings.IndexAny(f.prompt, "(#"); i >= 0 {
		return f.prompt[:i]
	}
	return f.prompt
}

func open(t *testing.T, f *fakeConsole, opts Options) (*Session, *conn, error) {
	t.Helper()
	f.t = t
	c := f.start()
	if opts.CommandTimeout == 0 {
		opts.CommandTimeout = 2 * time.Second
	}
	s, err := Open(context.Background(), c, Credentials{Username: "admin", Password: "s3cr3t-pw"}, opts)
	return s, c, err
}

func TestOpenLogsIn(t *testing.T) {
	for _, tc := range []struct {
		name string
		fake *fakeConsole
		want Mode
	}{
		{"plain", &fakeConsole{}, Mode{Domain: "default", Level: LevelExec}},
		{"tty", &fakeConsole{tty: true}, Mode{Domain: "default", Level: LevelExec}},
		{"domain prompt", &fakeConsole{domain: true}, Mode{Domain: "apiconnect", Level: LevelExec}},
		{"already logged in, in config", &fakeConsole{loggedIn: true, prompt: "idg[apiconnect](config)# "}, Mode{Domain: "apiconnect", Level: LevelConfig}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _, err := open(t, tc.fake, Options{Domain: "apiconnect"})
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Mode(); got != tc.want {
				t.Fatalf("mode %+v, want %+v", got, tc.want)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestOpenLoginFailedNamesSecret(t *testing.T) {
	f := &fakeConsole{}
	f.t = t
	c := f.start()
	_, err := Open(context.Background(), c, Credentials{Username: "admin", Password: "wrong"},
		Options{CommandTimeout: 2 * time.Second, LoginFailureMessage: "check Secret apic/gw-admin"})
	if !errors.Is(err, ErrLoginFailed) {
		t.Fatalf("err = %v, want ErrLoginFailed", err)
	}
	if !strings.Contains(err.Error(), "check Secret apic/gw-admin") || !strings.Contains(err.Error(), "Login failed") {
		t.Fatalf("err %q does not name the Secret and the device's line", err)
	}
	// One attempt only: a second username would burn another of the console's few tries.
	if n := strings.Count(f.written.String(), "admin\n"); n != 1 {
		t.Fatalf("sent the username %d times", n)
	}
}

func TestRun(t *testing.T) {
	for _, tty := range []bool{false, true} {
		s, _, err := open(t, &fakeConsole{tty: tty}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for _, tc := range []struct {
			cmd     string
			want    string
			wantErr bool
		}{
			{"noise", "line one\nline two", false},
			{"bad", "% Cannot find configuration object 'bad'.", true},
			{"nonsense", "Unknown command or macro (nonsense)", true},
			{"pending", "%\tPending\n\nSSH service listener enabled", false},
		} {
			out, err := s.Run(ctx, tc.cmd)
			if out != tc.want {
				t.Errorf("tty=%v %s: output %q, want %q", tty, tc.cmd, out, tc.want)
			}
			var ce *CommandError
			if got := errors.As(err, &ce); got != tc.wantErr {
				t.Errorf("tty=%v %s: err %v, want CommandError=%v", tty, tc.cmd, err, tc.wantErr)
			}
			if ce != nil && (ce.Command != tc.cmd || ce.Output != tc.want) {
				t.Errorf("CommandError %+v", ce)
			}
		}
		if err := s.Switch(ctx, "apiconnect"); err != nil {
			t.Fatal(err)
		}
		if err := s.Config(ctx); err != nil {
			t.Fatal(err)
		}
		if m := s.Mode(); m != (Mode{Domain: "apiconnect", Level: LevelConfig}) {
			t.Fatalf("mode %+v", m)
		}
		if err := s.Exit(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.Exit(ctx); !errors.Is(err, ErrWouldLogOut) {
			t.Fatalf("exit at top: %v", err)
		}
		if err := s.Diag(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestConfirmations(t *testing.T) {
	s, c, err := open(t, &fakeConsole{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if out, err := s.RunConfirm(ctx, "flush gwd", true); err != nil || !strings.Contains(out, "Done.") {
		t.Fatalf("confirm y: %q %v", out, err)
	}
	if out, err := s.RunConfirm(ctx, "flush gwd", false); err != nil || !strings.Contains(out, "Aborted.") {
		t.Fatalf("confirm n: %q %v", out, err)
	}
	out, err := s.Run(ctx, "flush gwd")
	if !errors.Is(err, ErrUnexpectedConfirmation) || !strings.Contains(out, "Aborted.") {
		t.Fatalf("unasked confirmation: %q %v", out, err)
	}
	if n := strings.Count(c.fake.written.String(), "y\n"); n != 1 {
		t.Fatalf("answered y %d times, want once", n)
	}
}

func TestTimeoutBreaksSessionAndCloseSendsNothing(t *testing.T) {
	f := &fakeConsole{hang: "slow"}
	s, c, err := open(t, f, Options{CommandTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Run(context.Background(), "slow"); !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if _, err := s.Run(context.Background(), "noise"); !errors.Is(err, ErrClosed) {
		t.Fatalf("after timeout: %v", err)
	}
	f.mu.Lock()
	before := f.written.Len()
	f.mu.Unlock()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if f.written.Len() != before || !c.closed {
		t.Fatalf("Close on a broken session wrote %q or did not detach", f.written.String()[before:])
	}
}

// TestNeverWritesCtrlD drives every code path that writes and checks the bytes written.
func TestNeverWritesCtrlD(t *testing.T) {
	f := &fakeConsole{tty: true, hang: "slow"}
	s, _, err := open(t, f, Options{CommandTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Run(ctx, "bad\x04"); !errors.Is(err, ErrUnsafeInput) {
		t.Fatalf("control character accepted: %v", err)
	}
	_ = s.Switch(ctx, "apiconnect")
	_ = s.Config(ctx)
	_, _ = s.RunConfirm(ctx, "flush", true)
	_, _ = s.Run(ctx, "flush")
	_ = s.Diag(ctx)
	_ = s.Close() // from diag: top, then exit
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	f2 := &fakeConsole{}
	f2.t = t
	if _, err := Open(cctx, f2.start(), Credentials{Username: "admin", Password: "x"}, Options{}); err == nil {
		t.Fatal("cancelled Open succeeded")
	}
	for _, w := range [][]byte{f.written.Bytes(), f2.written.Bytes()} {
		if bytes.IndexByte(w, ctrlD) >= 0 {
			t.Fatalf("Ctrl-D written: %q", w)
		}
	}
	if !strings.HasSuffix(f.written.String(), "top\nexit\n") {
		t.Fatalf("Close did not leave modes and log out: %q", f.written.String())
	}
}

func TestTranscriptRedactsPassword(t *testing.T) {
	for _, tty := range []bool{false, true} {
		var tr bytes.Buffer
		s, _, err := open(t, &fakeConsole{tty: tty, echoPass: true}, Options{Transcript: &tr})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Run(context.Background(), "noise"); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		got := tr.String()
		if strings.Contains(got, "s3cr3t-pw") {
			t.Fatalf("tty=%v: password in transcript:\n%s", tty, got)
		}
		if !strings.Contains(got, redactedPassword) || !strings.Contains(got, "Password: ") || !strings.Contains(got, "line two") {
			t.Fatalf("tty=%v: transcript incomplete:\n%s", tty, got)
		}
	}
	// A failed login is transcribed, redacted, too.
	var tr bytes.Buffer
	f := &fakeConsole{echoPass: true}
	f.t = t
	_, err := Open(context.Background(), f.start(), Credentials{Username: "admin", Password: "wrong-pw"}, Options{Transcript: &tr, CommandTimeout: time.Second})
	if !errors.Is(err, ErrLoginFailed) || strings.Contains(tr.String(), "wrong-pw") {
		t.Fatalf("failed login: %v\n%s", err, tr.String())
	}
}

func TestRedactorAcrossWrites(t *testing.T) {
	var out bytes.Buffer
	r := newRedactor(&out, "hunter2")
	for _, c := range []string{"pw: hun", "ter", "2 and hunter", "2", " end"} {
		_, _ = r.Write([]byte(c))
	}
	_ = r.Flush()
	if got, want := out.String(), "pw: ******** and ******** end"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestParsePrompt(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Mode
		ok   bool
	}{
		{"idg# ", Mode{Domain: "default", Level: LevelExec}, true},
		{"idg[apiconnect]# ", Mode{Domain: "apiconnect", Level: LevelExec}, true},
		{"idg(config)# ", Mode{Domain: "default", Level: LevelConfig}, true},
		{"idg[apiconnect](config)# ", Mode{Domain: "apiconnect", Level: LevelConfig}, true},
		{"idg[apiconnect](diag)#", Mode{Domain: "apiconnect", Level: LevelDiag}, true},
		{"idg[apiconnect](config apic-gw-service)# ", Mode{Domain: "apiconnect", Level: LevelSubConfig, Object: "apic-gw-service"}, true},
		{"\x1b[0midg# \r", Mode{Domain: "default", Level: LevelExec}, true},
		{"Address  # not", Mode{}, false},
		{"login: ", Mode{}, false},
	} {
		got, ok := ParsePrompt(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParsePrompt(%q) = %+v %v, want %+v %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// A console left in diag mode by an interrupted session: Switch goes to the top level first.
func TestSwitchFromALeftOverMode(t *testing.T) {
	f := &fakeConsole{loggedIn: true, prompt: "idg[apiconnect](diag)# "}
	s, _, err := open(t, f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Switch(context.Background(), "apiconnect"); err != nil {
		t.Fatal(err)
	}
	if m := s.Mode(); m.Level != LevelExec || m.Domain != "apiconnect" {
		t.Errorf("mode %+v", m)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if w := f.written.String(); !strings.Contains(w, "top\nswitch apiconnect\n") {
		t.Errorf("wrote %q", w)
	}
}

// A device that ends the console after the failed login (its lockout) still reports a rejected login.
func TestOpenLoginFailedThenClosed(t *testing.T) {
	f := &fakeConsole{lockOut: true}
	f.t = t
	c := f.start()
	_, err := Open(context.Background(), c, Credentials{Username: "admin", Password: "wrong"}, Options{CommandTimeout: 2 * time.Second, LoginFailureMessage: "check Secret apic/gw-admin"})
	if !errors.Is(err, ErrLoginFailed) || !strings.Contains(err.Error(), "check Secret apic/gw-admin") {
		t.Errorf("err %v, want ErrLoginFailed naming the Secret", err)
	}
}
