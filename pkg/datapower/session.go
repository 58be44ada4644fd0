package datapower

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"
)

// ctrlD is the byte that ends the DataPower process (and the pod) when written to its console.
const ctrlD = 0x04

// DefaultCommandTimeout bounds one command when Options.CommandTimeout is zero.
const DefaultCommandTimeout = 30 * time.Second

var (
	// ErrLoginFailed: the console asked for the login again after our password.
	ErrLoginFailed = errors.New("datapower: login failed")
	// ErrTimeout: no prompt arrived within the command timeout. The session is then unusable.
	ErrTimeout = errors.New("datapower: timed out waiting for the CLI prompt")
	// ErrClosed: the session was closed, broken by an earlier timeout, or its stream ended.
	ErrClosed = errors.New("datapower: session closed")
	// ErrUnexpectedConfirmation: a command asked for y/n confirmation the caller did not expect; the
	// session answered "n".
	ErrUnexpectedConfirmation = errors.New("datapower: command asked for confirmation; answered n")
	// ErrWouldLogOut: Exit at the top level would log out; use Close.
	ErrWouldLogOut = errors.New("datapower: exit at the top level logs out; use Close")
	// ErrUnsafeInput: a command contained a control character (0x04 would kill the pod).
	ErrUnsafeInput = errors.New("datapower: command contains a control character")
)

// Conn is the console stream: what the gateway pod prints and what we type. If it is also an
// io.Closer, Close closes it, which is a detach (never a Ctrl-D).
type Conn interface {
	io.Reader
	io.Writer
}

// Credentials log in to the DataPower CLI (the GatewayCluster's adminUser Secret).
type Credentials struct {
	Username string
	Password string
}

// Options tunes a Session.
type Options struct {
	// CommandTimeout bounds each command (and each login step); default DefaultCommandTimeout.
	CommandTimeout time.Duration
	// Domain answers the login's optional domain prompt; default "default".
	Domain string
	// Transcript receives the whole session, password redacted.
	Transcript io.Writer
	// LoginFailureMessage is appended to ErrLoginFailed, e.g. which Secret holds the credentials.
	LoginFailureMessage string
}

// CommandError is a command whose output holds a DataPower error line.
type CommandError struct {
	Command string
	Output  string
}

func (e *CommandError) Error() string {
	line := strings.TrimSpace(firstErrorLine(e.Output))
	return fmt.Sprintf("datapower: %q failed: %s", e.Command, line)
}

// DataPower prints "Unknown command or macro (<command>)" for unknown commands and other errors on
// lines starting with "%" (e.g. "% Cannot find configuration object"). "%\tPending" is DataPower's
// note that a change is pending, not an error. IBM documents no full list: this is our rule.
var errorLineRE = regexp.MustCompile(`^(?:%\s*\S|Unknown command or macro\b)`)

func firstErrorLine(out string) string {
	for _, l := range strings.Split(out, "\n") {
		t := strings.TrimSpace(l)
		if errorLineRE.MatchString(t) && !strings.HasPrefix(strings.TrimSpace(strings.TrimPrefix(t, "%")), "Pending") {
			return t
		}
	}
	return ""
}

// IsErrorOutput reports whether out holds a DataPower error line.
func IsErrorOutput(out string) bool { return firstErrorLine(cleanText(out)) != "" }

// Session is one logged-in DataPower CLI session.
type Session struct {
	conn    Conn
	opts    Options
	tr      *redactor
	chunks  chan []byte
	readErr chan error
	done    chan struct{}

	mu     sync.Mutex
	buf    strings.Builder
	mode   Mode
	broken bool
	closed bool
}

// Open logs in on conn. It first sends a newline: an attach shows no prompt until one is typed.
// It answers login:, Password: and the optional domain prompt; if the console is already logged in
// it just takes the prompt. A login prompt after our password is ErrLoginFailed.
func Open(ctx context.Context, conn Conn, creds Credentials, opts Options) (*Session, error) {
	if opts.CommandTimeout <= 0 {
		opts.CommandTimeout = DefaultCommandTimeout
	}
	if opts.Domain == "" {
		opts.Domain = DefaultDomain
	}
	if strings.ContainsFunc(creds.Username+creds.Password+opts.Domain, isControl) {
		return nil, ErrUnsafeInput
	}
	s := &Session{conn: conn, opts: opts, tr: newRedactor(opts.Transcript, creds.Password),
		chunks: make(chan []byte, 64), readErr: make(chan error, 1), done: make(chan struct{})}
	go s.readLoop()
	if err := s.login(ctx, creds); err != nil {
		s.broken = true
		_ = s.tr.Flush()
		return nil, err
	}
	return s, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func (s *Session) readLoop() {
	b := make([]byte, 4096)
	for {
		n, err := s.conn.Read(b)
		if n > 0 {
			select {
			case s.chunks <- append([]byte(nil), b[:n]...):
			case <-s.done:
				return
			}
		}
		if err != nil {
			s.readErr <- err
			return
		}
	}
}

func (s *Session) login(ctx context.Context, creds Credentials) error {
	sentUser, sentPassword := false, false
	if err := s.send("", false); err != nil {
		return err
	}
	for {
		out, kind, mode, err := s.readPrompt(ctx)
		if err != nil {
			// A device that ends the session after too many failed logins prints the failure,
			// then closes the console: it is still a rejected login.
			if sentPassword && errors.Is(err, ErrClosed) && strings.Contains(strings.ToLower(out), "login failed") {
				return s.loginFailed(out)
			}
			return fmt.Errorf("datapower: login: %w", err)
		}
		switch kind {
		case promptShell:
			s.mode = mode
			return nil
		case promptLogin:
			if sentPassword {
				return s.loginFailed(out)
			}
			if sentUser {
				// A login prompt between username and password answers our wake-up newline;
				// the Password: prompt for our username follows.
				continue
			}
			sentUser = true
			if err := s.send(creds.Username, false); err != nil {
				return err
			}
		case promptPassword:
			if sentPassword && !sentUser {
				return s.loginFailed(out)
			}
			sentPassword, sentUser = true, false
			if err := s.send(creds.Password, true); err != nil {
				return err
			}
		case promptDomain:
			if err := s.send(s.opts.Domain, false); err != nil {
				return err
			}
		case promptConfirm:
			// A confirmation left over from an earlier session: decline it.
			if err := s.send("n", false); err != nil {
				return err
			}
		}
	}
}

func (s *Session) loginFailed(out string) error {
	msg := s.opts.LoginFailureMessage
	if msg == "" {
		msg = "check the DataPower admin credentials"
	}
	if l := strings.TrimSpace(firstErrorLine(cleanText(out))); l != "" {
		return fmt.Errorf("%w (%s): %s", ErrLoginFailed, l, msg)
	}
	return fmt.Errorf("%w: %s", ErrLoginFailed, msg)
}

// send types line and Enter. secret lines appear redacted in the transcript.
func (s *Session) send(line string, secret bool) error {
	if strings.ContainsFunc(line, isControl) {
		return ErrUnsafeInput
	}
	if secret {
		_ = s.tr.Flush()
		if s.tr.w != nil {
			_, _ = io.WriteString(s.tr.w, redactedPassword+"\n")
		}
	} else {
		_, _ = s.tr.Write([]byte(line + "\n"))
	}
	_, err := io.WriteString(s.conn, line+"\n")
	return err
}

// readPrompt collects output until a prompt ends it, within the command timeout. It returns the
// output before the prompt.
func (s *Session) readPrompt(ctx context.Context) (string, promptKind, Mode, error) {
	timer := time.NewTimer(s.opts.CommandTimeout)
	defer timer.Stop()
	for {
		if kind, mode := classifyTail(s.buf.String()); kind != promptNone {
			out := s.buf.String()
			s.buf.Reset()
			return out, kind, mode, nil
		}
		select {
		case b := <-s.chunks:
			s.buf.Write(b)
			_, _ = s.tr.Write(b)
		case err := <-s.readErr:
			// Drain what arrived before the stream ended.
			for len(s.chunks) > 0 {
				b := <-s.chunks
				s.buf.Write(b)
				_, _ = s.tr.Write(b)
			}
			s.readErr <- err
			if kind, _ := classifyTail(s.buf.String()); kind != promptNone {
				continue
			}
			s.broken = true
			return s.buf.String(), promptNone, Mode{}, fmt.Errorf("%w: stream ended: %v", ErrClosed, err)
		case <-timer.C:
			s.broken = true
			return s.buf.String(), promptNone, Mode{}, fmt.Errorf("%w after %s", ErrTimeout, s.opts.CommandTimeout)
		case <-ctx.Done():
			s.broken = true
			return s.buf.String(), promptNone, Mode{}, ctx.Err()
		}
	}
}

// Mode is the CLI mode shown by the last prompt.
func (s *Session) Mode() Mode {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mode
}

// Run sends one command line and returns its output up to the next prompt (echo and prompt
// removed). An error line in the output makes a *CommandError. A confirmation prompt is answered
// "n" and reported as ErrUnexpectedConfirmation: use RunConfirm for commands that ask.
func (s *Session) Run(ctx context.Context, cmd string) (string, error) {
	return s.run(ctx, cmd, nil)
}

// RunConfirm is Run for a command that asks y/n: it answers answer ("y" or "n"). A command that
// does not ask returns normally.
func (s *Session) RunConfirm(ctx context.Context, cmd string, answer bool) (string, error) {
	return s.run(ctx, cmd, &answer)
}

func (s *Session) run(ctx context.Context, cmd string, answer *bool) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken || s.closed {
		return "", ErrClosed
	}
	if strings.ContainsFunc(cmd, isControl) {
		return "", ErrUnsafeInput
	}
	if err := s.send(cmd, false); err != nil {
		s.broken = true
		return "", err
	}
	var all strings.Builder
	unexpected := false
	for {
		out, kind, mode, err := s.readPrompt(ctx)
		all.WriteString(out)
		if err != nil {
			return cleanOutput(all.String(), cmd), fmt.Errorf("datapower: %q: %w", cmd, err)
		}
		switch kind {
		case promptShell:
			s.mode = mode
			text := cleanOutput(all.String(), cmd)
			if unexpected {
				return text, fmt.Errorf("%w: %q", ErrUnexpectedConfirmation, cmd)
			}
			if firstErrorLine(text) != "" {
				return text, &CommandError{Command: cmd, Output: text}
			}
			return text, nil
		case promptConfirm:
			yes := answer != nil && *answer
			unexpected = unexpected || answer == nil
			a := "n"
			if yes {
				a = "y"
			}
			answer = nil // one answer per asked command; a second question is unexpected
			all.WriteString("\n")
			if err := s.send(a, false); err != nil {
				s.broken = true
				return "", err
			}
		default:
			// A login prompt: the console logged out (e.g. "exit" at the top level).
			s.mode = mode
			s.broken = true
			return cleanOutput(all.String(), cmd), fmt.Errorf("%w: console logged out after %q", ErrClosed, cmd)
		}
	}
}

// cleanOutput normalises line endings, strips ANSI and drops the echo of cmd (a TTY echoes it).
func cleanOutput(out, cmd string) string {
	out = cleanText(out)
	lines := strings.Split(out, "\n")
	if len(lines) > 0 {
		// The last line is the prompt that ended the command (or a partial line).
		lines = lines[:len(lines)-1]
	}
	if len(lines) > 0 && strings.TrimSpace(lines[0]) == strings.TrimSpace(cmd) {
		lines = lines[1:]
	}
	return strings.Join(lines, "\n")
}

// Switch changes to domain ("switch <domain>").
func (s *Session) Switch(ctx context.Context, domain string) error {
	// A console outlives its attach: an interrupted session may have left it in diag or config
	// mode, where switch is not a command.
	if s.Mode().Level != LevelExec {
		if err := s.Top(ctx); err != nil {
			return err
		}
	}
	if _, err := s.Run(ctx, "switch "+domain); err != nil {
		return err
	}
	if got := s.Mode().Domain; got != domain {
		return fmt.Errorf("datapower: switch %s: prompt shows domain %q", domain, got)
	}
	return nil
}

// Config enters configuration mode.
func (s *Session) Config(ctx context.Context) error { return s.enter(ctx, "config", LevelConfig) }

// Diag enters diagnostic mode.
func (s *Session) Diag(ctx context.Context) error { return s.enter(ctx, "diag", LevelDiag) }

// Top returns to the top (exec) level from any mode.
func (s *Session) Top(ctx context.Context) error { return s.enter(ctx, "top", LevelExec) }

func (s *Session) enter(ctx context.Context, cmd string, want Level) error {
	if _, err := s.Run(ctx, cmd); err != nil {
		return err
	}
	if got := s.Mode().Level; got != want {
		return fmt.Errorf("datapower: %s: prompt shows %s mode, want %s", cmd, got, want)
	}
	return nil
}

// Exit leaves the current mode. At the top level it refuses (exit would log out): use Close.
func (s *Session) Exit(ctx context.Context) error {
	if s.Mode().Level == LevelExec {
		return ErrWouldLogOut
	}
	_, err := s.Run(ctx, "exit")
	return err
}

// Close detaches: it leaves any mode (so the next user of the console finds the top level), logs
// out, and closes the stream if it can. It never writes Ctrl-D (0x04), which would end the DataPower
// process and the pod; a closed stream is a detach. A session broken by a timeout sends nothing.
func (s *Session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	broken := s.broken
	s.mu.Unlock()
	var err error
	if !broken {
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.CommandTimeout)
		for s.Mode().Level != LevelExec && err == nil {
			before := s.Mode()
			if err = s.Top(ctx); err == nil && s.Mode() == before {
				break
			}
		}
		if err == nil {
			// exit at the top level logs out; no prompt follows but the login prompt.
			s.mu.Lock()
			err = s.send("exit", false)
			s.mu.Unlock()
		}
		cancel()
	}
	s.mu.Lock()
	s.closed = true
	close(s.done)
	s.mu.Unlock()
	if c, ok := s.conn.(io.Closer); ok {
		if cerr := c.Close(); err == nil {
			err = cerr
		}
	}
	if ferr := s.tr.Flush(); err == nil {
		err = ferr
	}
	return err
}
