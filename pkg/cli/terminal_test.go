package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-apic/kubectl-apic/pkg/progress"
)

// The one terminal and colour rule: colour and live lines only on a terminal, colour only while
// NO_COLOR is unset or empty (https://no-color.org), for tables and progress alike.
func TestTerminalRule(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "NO_COLOR" {
				return v
			}
			return ""
		}
	}
	tty := func(any) bool { return true }
	pipe := func(any) bool { return false }
	var w bytes.Buffer
	for _, tc := range []struct {
		name          string
		term          Terminal
		color, live   bool
		progressColor bool
	}{
		{"terminal", Terminal{IsTerminal: tty, Getenv: env("")}, true, true, true},
		{"terminal, NO_COLOR=1", Terminal{IsTerminal: tty, Getenv: env("1")}, false, true, false},
		{"pipe", Terminal{IsTerminal: pipe, Getenv: env("")}, false, false, false},
		{"zero Terminal", Terminal{}, false, false, false},
	} {
		if got := tc.term.Style(&w).Color; got != tc.color {
			t.Errorf("%s: Style().Color = %v, want %v", tc.name, got, tc.color)
		}
		if got := tc.term.Color(&w); got != tc.color {
			t.Errorf("%s: Color() = %v, want %v", tc.name, got, tc.color)
		}
		var b bytes.Buffer
		r := tc.term.Reporter(&b, progress.ModeAuto, func() time.Time { return time.Unix(0, 0) })
		r.Step("demote").Done("")
		_ = r.Close()
		if live := strings.Contains(b.String(), "✓"); live != tc.live {
			t.Errorf("%s: live lines %v, want %v: %q", tc.name, live, tc.live, b.String())
		}
		if painted := strings.Contains(b.String(), "\x1b[32m"); painted != tc.progressColor {
			t.Errorf("%s: coloured progress %v, want %v: %q", tc.name, painted, tc.progressColor, b.String())
		}
	}
	// --progress plain and jsonl win over the terminal.
	var b bytes.Buffer
	r := Terminal{IsTerminal: tty, Getenv: env("")}.Reporter(&b, progress.ModeJSONL, nil)
	r.Infof("x")
	_ = r.Close()
	if !strings.HasPrefix(b.String(), "{") {
		t.Errorf("jsonl on a terminal: %q", b.String())
	}
}
