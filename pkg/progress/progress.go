// Package progress reports the steps of long-running commands on stderr.
//
// On a terminal every running step has a live line, redrawn with a spinner and its elapsed time;
// finished steps leave one permanent line. Elsewhere (CI, files, pipes) each event is one plain,
// timestamped line without escape codes, or with JSONLines one JSON object per event.
//
//	rep := progress.New(os.Stderr, progress.Mode(mode).Options(isTTY, color)) // or cli.Terminal.Reporter
//	defer rep.Close()
//	s := rep.StepWithExpected("Demote dc1 mgmt", 15*time.Minute)
//	s.Update("haMode=BlockedWarmStandbyConversion")
//	...
//	s.Done("passive")
//
// A Reporter and its Steps are safe for concurrent use; steps may run in parallel goroutines.
package progress

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/kubectl-apic/kubectl-apic/pkg/printers"
)

// Options chooses the output mode. The caller decides TTY and NoColor (from the stream and the
// NO_COLOR environment variable) so the reporter never inspects its environment.
type Options struct {
	// TTY enables live, redrawn lines.
	TTY bool
	// NoColor disables color on a TTY (NO_COLOR set). Non-TTY output never has escape codes.
	NoColor bool
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// JSONLines writes one JSON object per event; it overrides TTY.
	JSONLines bool
	// Tick is the TTY redraw interval; zero means 100ms.
	Tick time.Duration
	// Width truncates live lines so a redraw never wraps the terminal; zero means no limit.
	Width int
}

// Event names, as written in JSON lines.
const (
	EventStart  = "start"
	EventUpdate = "update"
	EventDone   = "done"
	EventFail   = "fail"
	EventSkip   = "skip"
	EventInfo   = "info"
	EventWarn   = "warn"
	// EventInterrupted ends a step stopped by the user (Ctrl-C) or a cancellation: what it changed
	// is in the message, not assumed.
	EventInterrupted = "interrupted"
	// EventUnknown ends a step whose outcome could not be seen (a timeout, a lost link, a lost
	// lease): it may still complete. "Result unknown", never "failed", when we do not know.
	EventUnknown = "unknown"
	// EventError is the command's final error (ErrorLine), after every step ended.
	EventError = "error"
)

// Reporter writes progress events to one stream.
type Reporter struct {
	w    io.Writer
	opts Options

	mu      sync.Mutex
	live    []*Step // running steps, in start order; drawn on a TTY
	drawn   int     // lines of the live area currently on screen
	frame   int     // spinner frame
	ticking bool
	closed  bool
	paused  bool         // live lines hidden while someone waits at a prompt (Pause)
	pending bytes.Buffer // JSONLines: text written to Writer that has no newline yet
	err     error        // first write error
	stop    chan struct{}
	stopped chan struct{}
}

// Step is one step of a command, begun by Reporter.Step.
type Step struct {
	r        *Reporter
	name     string
	start    time.Time
	expected time.Duration
	msg      string // latest Update, shown on the live line
	ended    bool
}

// New returns a reporter writing to w (normally os.Stderr).
func New(w io.Writer, opts Options) *Reporter {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Tick <= 0 {
		opts.Tick = 100 * time.Millisecond
	}
	if opts.JSONLines {
		opts.TTY = false
	}
	return &Reporter{w: w, opts: opts, stop: make(chan struct{}), stopped: make(chan struct{})}
}

// Step begins a step.
func (r *Reporter) Step(name string) *Step { return r.StepWithExpected(name, 0) }

// StepWithExpected begins a step that usually takes about d (shown as "~15m expected").
func (r *Reporter) StepWithExpected(name string, d time.Duration) *Step {
	s := &Step{r: r, name: name, expected: d}
	r.mu.Lock()
	defer r.mu.Unlock()
	s.start = r.opts.Clock()
	if r.opts.TTY && !r.closed {
		r.live = append(r.live, s)
		r.startTicker()
		r.redraw()
		return s
	}
	r.emit(s, EventStart, "")
	return s
}

// Update reports progress of a running step, e.g. "haMode=BlockedWarmStandbyConversion". On a TTY
// it replaces the live line's message; elsewhere it is one event.
func (s *Step) Update(msg string) {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.ended {
		return
	}
	s.msg = msg
	if r.isLive(s) {
		r.redraw()
		return
	}
	r.emit(s, EventUpdate, msg)
}

// Done ends the step successfully; msg may be empty.
func (s *Step) Done(msg string) { s.end(EventDone, msg) }

// Fail ends the step with err.
func (s *Step) Fail(err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	s.end(EventFail, msg)
}

// Skip ends the step without doing it, saying why.
func (s *Step) Skip(reason string) { s.end(EventSkip, reason) }

// Interrupt ends the step because the command was interrupted; msg says what state it left.
func (s *Step) Interrupt(msg string) { s.end(EventInterrupted, msg) }

// Unknown ends the step without knowing its outcome (it may still complete); msg says why.
func (s *Step) Unknown(msg string) { s.end(EventUnknown, msg) }

func (s *Step) end(event, msg string) {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.ended {
		return
	}
	s.ended = true
	r.live = slices.DeleteFunc(slices.Clone(r.live), func(l *Step) bool { return l == s })
	r.emit(s, event, msg)
}

// Infof reports a message that belongs to no step.
func (r *Reporter) Infof(format string, args ...any) { r.note(EventInfo, fmt.Sprintf(format, args...)) }

// Warnf reports a warning that belongs to no step.
func (r *Reporter) Warnf(format string, args ...any) { r.note(EventWarn, fmt.Sprintf(format, args...)) }

func (r *Reporter) note(event, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.emit(nil, event, msg)
}

// Close stops redrawing, leaves a line for every step still running, and returns the first error
// writing to the stream. It waits for the redraw goroutine to exit. Calling it again is harmless.
func (r *Reporter) Close() error {
	r.mu.Lock()
	if r.closed {
		defer r.mu.Unlock()
		return r.err
	}
	r.closed = true
	if r.pending.Len() > 0 {
		r.emit(nil, EventInfo, strings.TrimRight(r.pending.String(), "\r"))
		r.pending.Reset()
	}
	if r.opts.TTY {
		var b strings.Builder
		r.clear(&b)
		for _, s := range r.live {
			b.WriteString(r.liveLine(s, "…") + "\n")
		}
		r.live = nil
		r.write(b.String())
	}
	ticking := r.ticking
	r.mu.Unlock()
	close(r.stop)
	if ticking {
		<-r.stopped
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// startTicker starts the redraw goroutine once; r.mu is held.
func (r *Reporter) startTicker() {
	if r.ticking {
		return
	}
	r.ticking = true
	go func() {
		defer close(r.stopped)
		t := time.NewTicker(r.opts.Tick)
		defer t.Stop()
		for {
			select {
			case <-r.stop:
				return
			case <-t.C:
				r.mu.Lock()
				if !r.closed && !r.paused && len(r.live) > 0 {
					r.frame++
					r.redraw()
				}
				r.mu.Unlock()
			}
		}
	}()
}

func (r *Reporter) isLive(s *Step) bool { return slices.Contains(r.live, s) }

// Writer is for other output to the reporter's stream (a plan, a hook's output): on a terminal each
// write first erases the live lines and draws them again after it, so neither overwrites the other.
// With JSONLines each line becomes an info event (a last line without a newline at Close), so every
// line on the stream stays JSON. Elsewhere it writes through unchanged.
func (r *Reporter) Writer() io.Writer { return reporterWriter{r} }

type reporterWriter struct{ r *Reporter }

func (w reporterWriter) Write(p []byte) (int, error) {
	r := w.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.opts.JSONLines {
		r.pending.Write(p)
		for {
			i := bytes.IndexByte(r.pending.Bytes(), '\n')
			if i < 0 {
				return len(p), nil
			}
			line := string(r.pending.Next(i + 1))
			r.emit(nil, EventInfo, strings.TrimRight(line, "\r\n"))
		}
	}
	if !r.opts.TTY {
		return r.w.Write(p)
	}
	var b strings.Builder
	r.clear(&b)
	b.Write(p)
	if !r.paused && (len(p) == 0 || p[len(p)-1] == '\n') {
		r.draw(&b)
	}
	if _, err := io.WriteString(r.w, b.String()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Pause erases the live lines and stops drawing them until resume is called: for a question
// waiting for the user's answer on the same terminal. Events still print while paused.
func (r *Reporter) Pause() (resume func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.paused {
		return func() {}
	}
	r.paused = true
	var b strings.Builder
	r.clear(&b)
	r.write(b.String())
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.paused = false
		r.redraw()
	}
}

// emit writes one event in the reporter's mode; r.mu is held. s is nil for info and warn.
func (r *Reporter) emit(s *Step, event, msg string) {
	now := r.opts.Clock()
	var elapsed time.Duration
	name := ""
	if s != nil {
		elapsed, name = now.Sub(s.start), s.name
	}
	switch {
	case r.opts.JSONLines:
		r.write(jsonLine(now, s, event, msg, elapsed))
	case r.opts.TTY:
		var b strings.Builder
		r.clear(&b)
		b.WriteString(r.ttyLine(name, event, msg, elapsed) + "\n")
		r.draw(&b)
		r.write(b.String())
	default:
		r.write(now.UTC().Format(time.RFC3339) + "  " + plainText(s, event, msg, elapsed) + "\n")
	}
}

func (r *Reporter) write(s string) {
	if s == "" {
		return
	}
	if _, err := io.WriteString(r.w, s); err != nil && r.err == nil {
		r.err = err
	}
}

type jsonEvent struct {
	Time            string  `json:"time"`
	Step            string  `json:"step"`
	Event           string  `json:"event"`
	Message         string  `json:"message"`
	ElapsedSeconds  float64 `json:"elapsedSeconds"`
	ExpectedSeconds float64 `json:"expectedSeconds,omitempty"`
	// ExitCode and ExitCodeName are set on the final error event only.
	ExitCode     *int   `json:"exitCode,omitempty"`
	ExitCodeName string `json:"exitCodeName,omitempty"`
}

// ErrorLine is the command's final error as one JSON-lines event (event "error", the message, the
// exit code and its name), for commands whose progress is JSON lines: the shared CLI path writes it
// instead of kubectl's "error: ..." so that every line on stderr parses.
func ErrorLine(now time.Time, msg string, code int, codeName string) string {
	e := jsonEvent{Time: now.UTC().Format(time.RFC3339Nano), Event: EventError, Message: msg,
		ExitCode: &code, ExitCodeName: codeName}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Sprintf("{\"event\":%q}\n", EventError)
	}
	return string(b) + "\n"
}

func jsonLine(now time.Time, s *Step, event, msg string, elapsed time.Duration) string {
	e := jsonEvent{Time: now.UTC().Format(time.RFC3339Nano), Event: event, Message: msg,
		ElapsedSeconds: printers.Seconds(elapsed)}
	if s != nil {
		e.Step = s.name
		if event == EventStart {
			e.ExpectedSeconds = s.expected.Seconds()
		}
	}
	b, err := json.Marshal(e)
	if err != nil { // cannot happen for strings and floats; keep the event anyway
		return fmt.Sprintf("{\"event\":%q}\n", event)
	}
	return string(b) + "\n"
}

// plainText is the text of a non-TTY line after its timestamp.
func plainText(s *Step, event, msg string, elapsed time.Duration) string {
	took := elapsed.Round(time.Second).String()
	switch event {
	case EventInfo:
		return msg
	case EventWarn:
		return "WARNING: " + msg
	case EventStart:
		if s.expected > 0 {
			return s.name + ": started (expected ~" + duration.HumanDuration(s.expected) + ")"
		}
		return s.name + ": started"
	case EventUpdate:
		return s.name + ": " + msg
	case EventDone:
		return s.name + ": done in " + took + suffix(msg)
	case EventFail:
		return s.name + ": FAILED after " + took + suffix(msg)
	case EventInterrupted:
		return s.name + ": INTERRUPTED after " + took + suffix(msg)
	case EventUnknown:
		return s.name + ": RESULT UNKNOWN after " + took + suffix(msg)
	case EventSkip:
		return s.name + ": skipped" + suffix(msg)
	}
	return s.name + ": " + event + suffix(msg)
}

func suffix(msg string) string {
	if msg == "" {
		return ""
	}
	return ": " + msg
}
