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

// DefaultQuietInterval is Options.QuietInterval's default.
const DefaultQuietInterval = 2 * time.Second

// maxNudges bounds how often one command's lost prompt is asked for again with Enter.
const maxNudges = 3

// maxConsoleLogs bounds the asynchronous log lines a Session keeps (ConsoleLogs).
const maxConsoleLogs = 1000

var (
	// ErrLoginFailed: the console asked for the login again after our password.
	ErrLoginFailed = errors.New("datapower: login failed")
	// ErrTimeout: no prompt arrived within the command timeout. The session is then unusable.
	ErrTimeout = errors.New("datapower: timed out waiting for the CLI prompt")
	// ErrClosed: the session was closed, broken by an earlier timeout, or its stream ended.
	ErrClosed = errors.New("datapower: session closed")
	// ErrUnexpectedConfirmation: a command asked for y/n confirmation (or another question) the
	// caller did not expect; the session answered "n".
	ErrUnexpectedConfirmation = errors.New("datapower: command asked for confirmation; answered n")
	// ErrUnrecognisedPrompt: during login the console waits at a line that is no prompt we know.
	ErrUnrecognisedPrompt = errors.New("datapower: the console waits at a prompt we do not know")
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
	// QuietInterval is how long the console may stay silent without a prompt before the session
	// acts (default DefaultQuietInterval): when the output ends at a line end (the prompt was lost,
	// e.g. among log lines), it presses Enter, which makes the console print its prompt again (at
	// most 3 times per command; the extra prompts are consumed); when the output ends in a line
	// that is no known prompt, that line is a question (see RunAnswer).
	QuietInterval time.Duration
	// KeepConsoleLogs keeps the console's asynchronous log lines for ConsoleLogs (the last 1000).
	// Off by default: the transcript has them, and a `show file` of a log would be kept line by line.
	KeepConsoleLogs bool
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
	buf    output
	mode   Mode
	broken bool
	closed bool
	// nudging: Enter may be pressed to recover a lost prompt (not during login, where an extra
	// Enter would be taken as a user name).
	nudging bool
	// awaitQuestion: the command is expected to ask (RunConfirm, RunAnswer) and has not asked yet:
	// no Enter is pressed, which a slow console would take as the (empty) answer.
	awaitQuestion bool
	logs          []string
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
	if opts.QuietInterval <= 0 {
		opts.QuietInterval = DefaultQuietInterval
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
	s.nudging = true
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
			// From here an Enter is safe: the banner and prompt follow, or a new login prompt.
			s.nudging = true
		case promptDomain:
			if err := s.send(s.opts.Domain, false); err != nil {
				return err
			}
		case promptConfirm:
			// A confirmation left over from an earlier session: decline it.
			if err := s.send("n", false); err != nil {
				return err
			}
		case promptQuestion:
			// Answering a line we cannot read could be taken as a user name or password.
			return fmt.Errorf("%w: %q", ErrUnrecognisedPrompt, tailText(out))
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
// output before the prompt. Log lines the console prints after a prompt do not hide it
// (output.classify). When the console stays quiet for QuietInterval without a prompt, the output
// ending at a line end means the prompt was lost: Enter is pressed to have it printed again; the
// output ending in an unterminated line we do not know means the console asks a question.
func (s *Session) readPrompt(ctx context.Context) (string, promptKind, Mode, error) {
	timer := time.NewTimer(s.opts.CommandTimeout)
	defer timer.Stop()
	quiet := time.NewTimer(s.opts.QuietInterval)
	defer quiet.Stop()
	nudges := 0
	for {
		// A line that only reads as a question waits for the quiet interval: a chunk may end
		// at a "?" in mid-output.
		if kind, mode := s.buf.classify(); kind != promptNone && kind != promptQuestion {
			out := s.buf.String()
			s.buf.Reset()
			s.keepLogs(out)
			if nudges > 0 {
				s.settle(ctx, nudges)
			}
			return out, kind, mode, nil
		}
		select {
		case b := <-s.chunks:
			s.take(&s.buf, b)
			quiet.Reset(s.opts.QuietInterval)
		case <-quiet.C:
			tail := strings.TrimSpace(s.buf.tail())
			if tail != "" && !logStartRE.MatchString(tail) && !startsWithPrompt(tail) {
				out := s.buf.String()
				s.buf.Reset()
				s.keepLogs(out)
				return out, promptQuestion, Mode{}, nil
			}
			if s.nudging && !s.awaitQuestion && nudges < maxNudges {
				nudges++
				if err := s.send("", false); err != nil {
					s.broken = true
					return s.buf.String(), promptNone, Mode{}, err
				}
			}
			quiet.Reset(s.opts.QuietInterval)
		case err := <-s.readErr:
			// Drain what arrived before the stream ended.
			for len(s.chunks) > 0 {
				s.take(&s.buf, <-s.chunks)
			}
			s.readErr <- err
			if kind, _ := s.buf.classify(); kind != promptNone && kind != promptQuestion {
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

// startsWithPrompt: line begins with a shell prompt and a space (a prompt with something after it).
func startsWithPrompt(line string) bool {
	i := strings.Index(line, "# ")
	if i < 0 {
		return false
	}
	_, ok := ParsePrompt(line[:i+1])
	return ok
}

// settle consumes the prompts our n Enters still owe after a prompt arrived: the console prints
// one per Enter once it is done with the command. Output that is only prompts and log lines is
// consumed; anything else stays for the next command. It waits at most half QuietInterval after
// the last byte.
func (s *Session) settle(ctx context.Context, n int) {
	window := s.opts.QuietInterval / 2
	t := time.NewTimer(window)
	defer t.Stop()
	var pend output
	defer func() { s.buf.WriteString(pend.String()) }()
	for n > 0 {
		select {
		case b := <-s.chunks:
			s.take(&pend, b)
			t.Reset(window)
			if kind, _ := pend.classify(); kind != promptShell {
				continue
			}
			prompts, ok := onlyPrompts(pend.String())
			if !ok {
				return
			}
			s.keepLogs(pend.String())
			pend.Reset()
			n -= prompts
		case <-t.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// dropStrayPrompts takes what the console printed since the last prompt: log lines and prompts
// (a late answer to a recovery Enter) are dropped; anything else stays for the next command.
func (s *Session) dropStrayPrompts() {
	for {
		select {
		case b := <-s.chunks:
			s.take(&s.buf, b)
			continue
		default:
		}
		break
	}
	if s.buf.Len() == 0 {
		return
	}
	if _, ok := onlyPrompts(s.buf.String()); !ok {
		return
	}
	s.keepLogs(s.buf.String())
	s.buf.Reset()
}

// take adds a chunk the console printed to o and to the transcript.
func (s *Session) take(o *output, b []byte) {
	o.Write(b)
	_, _ = s.tr.Write(b)
}

// onlyPrompts reports whether raw console output is nothing but prompts, log lines and blank
// lines (what recovery Enters leave), and how many prompts it holds.
func onlyPrompts(raw string) (prompts int, ok bool) {
	rest, _ := splitLogs(cleanText(raw), false)
	for _, l := range strings.Split(rest, "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		if _, isPrompt := ParsePrompt(l); !isPrompt {
			return prompts, false
		}
		prompts++
	}
	return prompts, true
}

// keepLogs records the asynchronous log lines of raw console output (ConsoleLogs).
func (s *Session) keepLogs(raw string) {
	if !s.opts.KeepConsoleLogs {
		return
	}
	_, logs := splitLogs(cleanText(raw), false)
	s.logs = append(s.logs, logs...)
	if over := len(s.logs) - maxConsoleLogs; over > 0 {
		s.logs = append([]string(nil), s.logs[over:]...)
	}
}

// ConsoleLogs returns the asynchronous log lines the console printed during the session (the last
// 1000), which Run keeps out of command output, when Options.KeepConsoleLogs is set. They are in
// the transcript as printed.
func (s *Session) ConsoleLogs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.logs...)
}

// Mode is the CLI mode shown by the last prompt.
func (s *Session) Mode() Mode {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mode
}

// Run sends one command line and returns its output up to the next prompt (echo, prompt and the
// console's asynchronous log lines removed; the transcript keeps them). An error line in the output
// makes a *CommandError. A confirmation or other question is answered "n" and reported as
// ErrUnexpectedConfirmation: use RunConfirm or RunAnswer for commands that ask.
//
// The output of `show file` and `show log` is log lines: there only log lines that follow a prompt
// on its line are removed (an asynchronous line on a line of its own cannot be told from the
// file's own).
func (s *Session) Run(ctx context.Context, cmd string) (string, error) {
	out, _, err := s.run(ctx, cmd, nil)
	return out, err
}

// RunConfirm is Run for a command that asks y/n: it answers answer ("y" or "n"). A command that
// does not ask returns normally.
func (s *Session) RunConfirm(ctx context.Context, cmd string, answer bool) (string, error) {
	out, _, err := s.run(ctx, cmd, &answer)
	return out, err
}

// RunAnswer is RunConfirm that also returns the question the console asked ("" when it asked
// none), so that a caller can show that a command asked and was answered. Until the question comes
// no Enter is pressed to recover a lost prompt (a slow console would take it as the answer). A question is a line
// ending in `[y/n]:` (DataPower's documented confirmation) or, as no public sample shows every
// command's question (gateway-peering-flush's), any other line the console waits at: one naming
// yes/no or ending in "?", or an unterminated line still there after QuietInterval. Only the
// first question is answered; a second one is answered "n" and is ErrUnexpectedConfirmation.
func (s *Session) RunAnswer(ctx context.Context, cmd string, answer bool) (out, question string, err error) {
	return s.run(ctx, cmd, &answer)
}

func (s *Session) run(ctx context.Context, cmd string, answer *bool) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken || s.closed {
		return "", "", ErrClosed
	}
	if strings.ContainsFunc(cmd, isControl) {
		return "", "", ErrUnsafeInput
	}
	s.dropStrayPrompts()
	s.awaitQuestion = answer != nil
	defer func() { s.awaitQuestion = false }()
	if err := s.send(cmd, false); err != nil {
		s.broken = true
		return "", "", err
	}
	var all strings.Builder
	unexpected := false
	question := ""
	for {
		out, kind, mode, err := s.readPrompt(ctx)
		all.WriteString(out)
		if err != nil {
			return cleanOutput(all.String(), cmd), question, fmt.Errorf("datapower: %q: %w", cmd, err)
		}
		switch kind {
		case promptShell:
			s.mode = mode
			text := cleanOutput(all.String(), cmd)
			if unexpected {
				return text, question, fmt.Errorf("%w: %q asked %q", ErrUnexpectedConfirmation, cmd, question)
			}
			if firstErrorLine(text) != "" {
				return text, question, &CommandError{Command: cmd, Output: text}
			}
			return text, question, nil
		case promptConfirm, promptQuestion:
			yes := answer != nil && *answer
			unexpected = unexpected || answer == nil
			if question == "" {
				question = tailText(out)
			}
			a := "n"
			if yes {
				a = "y"
			}
			answer = nil // one answer per asked command; a second question is unexpected
			s.awaitQuestion = false
			all.WriteString("\n")
			if err := s.send(a, false); err != nil {
				s.broken = true
				return "", question, err
			}
		default:
			// A login prompt: the console logged out (e.g. "exit" at the top level).
			s.mode = mode
			s.broken = true
			return cleanOutput(all.String(), cmd), question, fmt.Errorf("%w: console logged out after %q", ErrClosed, cmd)
		}
	}
}

// isLogCommand: the command prints a log (`show file <log>`, `show log`), whose lines have the
// shape of the console's asynchronous log lines.
func isLogCommand(cmd string) bool {
	f := strings.Fields(strings.ToLower(cmd))
	return len(f) >= 2 && (f[0] == "show" || f[0] == "sh") && (f[1] == "file" || f[1] == "log")
}

// cleanOutput normalises line endings, strips ANSI, takes out the console's asynchronous log lines,
// the echo of cmd (a TTY echoes it) and prompts left in the output by a recovery Enter.
func cleanOutput(out, cmd string) string {
	out, _ = splitLogs(cleanText(out), isLogCommand(cmd))
	lines := strings.Split(out, "\n")
	if len(lines) > 0 {
		// The last line is the prompt that ended the command (or a partial line).
		lines = lines[:len(lines)-1]
	}
	kept := lines[:0]
	echo := false
	for _, l := range lines {
		if !echo && len(kept) == 0 && strings.TrimSpace(l) == strings.TrimSpace(cmd) {
			echo = true
			continue
		}
		if _, ok := ParsePrompt(l); ok {
			continue
		}
		kept = append(kept, l)
	}
	return strings.Join(kept, "\n")
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
