package progress

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestModeFlagValue(t *testing.T) {
	var m Mode
	if m.String() != ModeAuto {
		t.Errorf("zero Mode = %q, want auto", m.String())
	}
	for _, ok := range Modes() {
		if err := m.Set(ok); err != nil || m.String() != ok {
			t.Errorf("Set(%q) = %v, now %q", ok, err, m.String())
		}
	}
	if err := m.Set("fancy"); err == nil || !strings.Contains(err.Error(), "--progress must be") {
		t.Errorf("Set(fancy) = %v", err)
	}
}

func TestModeOptions(t *testing.T) {
	for _, tc := range []struct {
		mode       Mode
		tty, color bool
		want       Options
	}{
		{ModeAuto, true, true, Options{TTY: true}},
		{ModeAuto, true, false, Options{TTY: true, NoColor: true}},
		{ModeAuto, false, true, Options{}},
		{"", true, true, Options{TTY: true}},
		{ModePlain, true, true, Options{}},
		{ModeJSONL, true, true, Options{JSONLines: true}},
	} {
		if got := tc.mode.Options(tc.tty, tc.color); got.TTY != tc.want.TTY || got.NoColor != tc.want.NoColor || got.JSONLines != tc.want.JSONLines {
			t.Errorf("%q.Options(%v, %v) = %+v, want %+v", tc.mode, tc.tty, tc.color, got, tc.want)
		}
	}
}

// With JSON lines, text written to Writer (a plan, a hook's output) becomes info events, the last
// unterminated line at Close: every line of the stream parses.
func TestJSONLinesWriter(t *testing.T) {
	var b bytes.Buffer
	r := New(&b, Options{JSONLines: true, Clock: newClock().Now})
	w := r.Writer()
	fmt.Fprint(w, "Plan: fail over\n  1. demote")
	fmt.Fprint(w, " dc1\r\nhook says hi")
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		var ev jsonEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("line %q is not JSON: %v", line, err)
		}
		if ev.Event != EventInfo {
			t.Errorf("event %q, want info", ev.Event)
		}
		msgs = append(msgs, ev.Message)
	}
	if want := []string{"Plan: fail over", "  1. demote dc1", "hook says hi"}; strings.Join(msgs, "|") != strings.Join(want, "|") {
		t.Errorf("messages %q, want %q", msgs, want)
	}
}
