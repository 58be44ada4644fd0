package progress

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock advances only when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 22, 1, 2, 3, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// lockedBuffer lets the test read output while the redraw goroutine may write.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// script runs the same sequence of events against a reporter.
func script(r *Reporter, c *fakeClock) {
	d := r.StepWithExpected("demote dc1/mgmt", 15*time.Minute)
	c.Advance(12 * time.Second)
	d.Update("haMode=BlockedWarmStandbyConversion")
	c.Advance(2*time.Minute + 500*time.Millisecond)
	d.Done("passive")
	d.Done("twice is ignored")
	d.Update("after the end is ignored")
	p := r.Step("promote dc2/mgmt")
	c.Advance(time.Second)
	p.Fail(errors.New("haMode stuck at progressing to active"))
	r.Step("configurator job").Skip("not Cloud Pak for Integration")
	r.Infof("peer %s", "dc2")
	r.Warnf("portal has template overrides")
}

func TestPlain(t *testing.T) {
	c := newClock()
	var b bytes.Buffer
	r := New(&b, Options{Clock: c.Now, NoColor: false})
	script(r, c)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	want := `2026-11-22T01:02:03Z  demote dc1/mgmt: started (expected ~15m)
2026-11-22T01:02:15Z  demote dc1/mgmt: haMode=BlockedWarmStandbyConversion
2026-11-22T01:04:15Z  demote dc1/mgmt: done in 2m13s: passive
2026-11-22T01:04:15Z  promote dc2/mgmt: started
2026-11-22T01:04:16Z  promote dc2/mgmt: FAILED after 1s: haMode stuck at progressing to active
2026-11-22T01:04:16Z  configurator job: started
2026-11-22T01:04:16Z  configurator job: skipped: not Cloud Pak for Integration
2026-11-22T01:04:16Z  peer dc2
2026-11-22T01:04:16Z  WARNING: portal has template overrides
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	if strings.Contains(b.String(), "\x1b") {
		t.Error("escape codes in plain output")
	}
}

func TestJSONLines(t *testing.T) {
	c := newClock()
	var b bytes.Buffer
	r := New(&b, Options{Clock: c.Now, JSONLines: true, TTY: true}) // JSONLines wins over TTY
	script(r, c)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	type ev struct {
		Time            string   `json:"time"`
		Step            *string  `json:"step"`
		Event           string   `json:"event"`
		Message         *string  `json:"message"`
		ElapsedSeconds  *float64 `json:"elapsedSeconds"`
		ExpectedSeconds float64  `json:"expectedSeconds"`
	}
	var got []ev
	for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		var e ev
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if e.Step == nil || e.Message == nil || e.ElapsedSeconds == nil {
			t.Errorf("line %q lacks a stable field", line)
			continue
		}
		got = append(got, e)
	}
	want := []struct {
		step, event, msg string
		elapsed          float64
	}{
		{"demote dc1/mgmt", "start", "", 0},
		{"demote dc1/mgmt", "update", "haMode=BlockedWarmStandbyConversion", 12},
		{"demote dc1/mgmt", "done", "passive", 132.5},
		{"promote dc2/mgmt", "start", "", 0},
		{"promote dc2/mgmt", "fail", "haMode stuck at progressing to active", 1},
		{"configurator job", "start", "", 0},
		{"configurator job", "skip", "not Cloud Pak for Integration", 0},
		{"", "info", "peer dc2", 0},
		{"", "warn", "portal has template overrides", 0},
	}
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d:\n%s", len(got), len(want), b.String())
	}
	for i, w := range want {
		g := got[i]
		if *g.Step != w.step || g.Event != w.event || *g.Message != w.msg || *g.ElapsedSeconds != w.elapsed {
			t.Errorf("event %d = %+v %q %q %v, want %+v", i, g, *g.Step, *g.Message, *g.ElapsedSeconds, w)
		}
	}
	if got[0].ExpectedSeconds != 900 || got[0].Time != "2026-11-22T01:02:03Z" {
		t.Errorf("first event %+v", got[0])
	}
}

func TestTTYRedrawsAndStops(t *testing.T) {
	before := runtime.NumGoroutine()
	c := newClock()
	var b lockedBuffer
	r := New(&b, Options{TTY: true, Clock: c.Now, Tick: time.Millisecond})
	s := r.StepWithExpected("Demote dc1 mgmt", 15*time.Minute)
	c.Advance(12 * time.Second)
	s.Update("haMode=BlockedWarmStandbyConversion")
	// Wait for the ticker to redraw a few times.
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(b.String(), "\r") < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("no redraws:\n%q", b.String())
		}
		time.Sleep(time.Millisecond)
	}
	if !strings.Contains(b.String(), " Demote dc1 mgmt [00:12 / ~15m expected] haMode=BlockedWarmStandbyConversion") {
		t.Errorf("live line missing:\n%q", b.String())
	}
	s.Done("passive")

	closed := make(chan error)
	go func() { closed <- r.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not return")
	}
	select {
	case <-r.stopped:
	case <-time.After(time.Second):
		t.Fatal("redraw goroutine still running after Close")
	}
	out := b.String()
	time.Sleep(20 * time.Millisecond)
	if b.String() != out {
		t.Error("output written after Close")
	}
	if !strings.HasSuffix(out, "\r"+eraseLine+colorGreen+"✓"+colorReset+" Demote dc1 mgmt (00:12) passive\n") {
		t.Errorf("final line wrong:\n%q", out[max(0, len(out)-120):])
	}
	// No goroutine leak: the count returns to what it was.
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines: %d before, %d after", before, runtime.NumGoroutine())
		}
		time.Sleep(time.Millisecond)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestTTYFrames checks the exact bytes of live-area updates with two parallel steps, driven
// without the ticker (Tick is long).
func TestTTYFrames(t *testing.T) {
	c := newClock()
	var b bytes.Buffer
	r := New(&b, Options{TTY: true, NoColor: true, Clock: c.Now, Tick: time.Hour})
	a := r.Step("gw dc1")
	mark := func() int { return b.Len() }
	m := mark()
	bb := r.StepWithExpected("gw dc2", 90*time.Second)
	if got := b.String()[m:]; got != "\r"+eraseLine+"⠋ gw dc1 [00:00]\n⠋ gw dc2 [00:00 / ~90s expected]" {
		t.Errorf("second step frame %q", got)
	}
	c.Advance(65 * time.Second)
	m = mark()
	a.Update("flush")
	if got := b.String()[m:]; got != "\r"+eraseLine+cursorUp+eraseLine+"⠋ gw dc1 [01:05] flush\n⠋ gw dc2 [01:05 / ~90s expected]" {
		t.Errorf("update frame %q", got)
	}
	m = mark()
	r.Warnf("quorum at risk")
	if got := b.String()[m:]; got != "\r"+eraseLine+cursorUp+eraseLine+"! quorum at risk\n⠋ gw dc1 [01:05] flush\n⠋ gw dc2 [01:05 / ~90s expected]" {
		t.Errorf("warn frame %q", got)
	}
	m = mark()
	a.Fail(errors.New("boom"))
	if got := b.String()[m:]; got != "\r"+eraseLine+cursorUp+eraseLine+"✗ gw dc1 (01:05): boom\n⠋ gw dc2 [01:05 / ~90s expected]" {
		t.Errorf("fail frame %q", got)
	}
	m = mark()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	// A step still running at Close leaves its last state on a line of its own.
	if got := b.String()[m:]; got != "\r"+eraseLine+"… gw dc2 [01:05 / ~90s expected]\n" {
		t.Errorf("close frame %q", got)
	}
	_ = bb
	if strings.Contains(b.String(), "\x1b[3") {
		t.Error("color despite NoColor")
	}
}

func TestTTYWidthTruncates(t *testing.T) {
	c := newClock()
	var b bytes.Buffer
	r := New(&b, Options{TTY: true, Clock: c.Now, Tick: time.Hour, Width: 20})
	r.Step("a very long step name that wraps").Update("and a message")
	r.Close()
	out := strings.NewReplacer("\r", "\n", eraseLine, "", cursorUp, "").Replace(b.String())
	for _, line := range strings.Split(out, "\n") {
		if n := len([]rune(line)); n > 20 {
			t.Errorf("line %q is %d runes", line, n)
		}
	}
}

func TestConcurrentSteps(t *testing.T) {
	for _, opts := range []Options{{}, {JSONLines: true}, {TTY: true, Tick: time.Millisecond}} {
		var b lockedBuffer
		r := New(&b, opts)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := r.Step("step")
				for range 20 {
					s.Update("x")
				}
				if i%2 == 0 {
					s.Done("")
				} else {
					s.Fail(errors.New("e"))
				}
				r.Infof("i=%d", i)
			}()
		}
		wg.Wait()
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if !opts.TTY {
			if n := strings.Count(b.String(), "\n"); n != 8*(1+20+1+1) {
				t.Errorf("%+v: %d lines, want %d", opts, n, 8*23)
			}
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestCloseReportsWriteError(t *testing.T) {
	r := New(failingWriter{}, Options{})
	r.Infof("x")
	if err := r.Close(); err == nil || err.Error() != "disk full" {
		t.Errorf("Close() = %v", err)
	}
}

func TestClock(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "00:00", 12 * time.Second: "00:12",
		15*time.Minute + 3*time.Second: "15:03", 3725 * time.Second: "1:02:05", -time.Second: "00:00"} {
		if got := clock(d); got != want {
			t.Errorf("clock(%v) = %q, want %q", d, got, want)
		}
	}
}

// Other output to the same terminal (a plan) goes above the live lines, and a prompt waits with
// the live lines hidden: neither is overwritten by a redraw.
func TestTTYWriterAndPause(t *testing.T) {
	c := newClock()
	var b bytes.Buffer
	r := New(&b, Options{TTY: true, NoColor: true, Clock: c.Now, Tick: time.Hour})
	s := r.Step("preflight")
	m := b.Len()
	fmt.Fprintln(r.Writer(), "Plan: demote dc1")
	if got := b.String()[m:]; got != "\r"+eraseLine+"Plan: demote dc1\n⠋ preflight [00:00]" {
		t.Errorf("writer frame %q", got)
	}
	m = b.Len()
	resume := r.Pause()
	fmt.Fprint(r.Writer(), "Proceed? [y/N]: ")
	s.Update("waiting")   // no redraw while paused
	r.Infof("lease held") // events still print
	if got := b.String()[m:]; got != "\r"+eraseLine+"Proceed? [y/N]: "+"  lease held\n" {
		t.Errorf("paused output %q", got)
	}
	m = b.Len()
	resume()
	if got := b.String()[m:]; got != "⠋ preflight [00:00] waiting" {
		t.Errorf("resume frame %q", got)
	}
	_ = r.Close()

	// Not a terminal: the writer passes through, Pause does nothing visible.
	var p bytes.Buffer
	r = New(&p, Options{Clock: c.Now})
	r.Pause()()
	fmt.Fprint(r.Writer(), "plain\n")
	if p.String() != "plain\n" {
		t.Errorf("plain writer %q", p.String())
	}
}

// A step stopped by Ctrl-C, or whose outcome was not seen, never says FAILED.
func TestInterruptedAndUnknown(t *testing.T) {
	c := newClock()
	var b bytes.Buffer
	r := New(&b, Options{Clock: c.Now})
	s := r.Step("management: demote dc1")
	c.Advance(3 * time.Second)
	s.Interrupt("after its change was sent; now dc1 mode passive")
	u := r.Step("management: promote dc2")
	u.Unknown("timed out; the operator may still complete it")
	_ = r.Close()
	for _, want := range []string{"management: demote dc1: INTERRUPTED after 3s: after its change was sent",
		"management: promote dc2: RESULT UNKNOWN after 0s: timed out"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("plain output lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "FAILED") {
		t.Errorf("plain output says FAILED:\n%s", b.String())
	}
	line := ErrorLine(c.Now(), "boom", 11, "PromoteFailed")
	var ev map[string]any
	if err := json.Unmarshal([]byte(line), &ev); err != nil || ev["event"] != EventError || ev["exitCode"] != float64(11) {
		t.Errorf("ErrorLine %q: %v", line, err)
	}
}
