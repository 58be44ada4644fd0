package progress

import (
	"fmt"
	"strings"
)

// Modes of the --progress flag every mutating command has.
const (
	// ModeAuto: live lines on a terminal, plain lines elsewhere.
	ModeAuto = "auto"
	// ModePlain: timestamped plain lines, also on a terminal.
	ModePlain = "plain"
	// ModeJSONL: one JSON object per event (and the final error, see ErrorLine).
	ModeJSONL = "jsonl"
)

// Modes are the values of --progress, for help and completion.
func Modes() []string { return []string{ModeAuto, ModePlain, ModeJSONL} }

// Mode is the value of --progress. It is a pflag.Value, so a wrong value is a flag (usage) error
// before anything is resolved or read.
type Mode string

// String implements pflag.Value.
func (m *Mode) String() string {
	if *m == "" {
		return ModeAuto
	}
	return string(*m)
}

// Set implements pflag.Value.
func (m *Mode) Set(s string) error {
	switch s {
	case ModeAuto, ModePlain, ModeJSONL:
		*m = Mode(s)
		return nil
	}
	return fmt.Errorf("--progress must be %s, not %q", strings.Join(Modes(), ", "), s)
}

// Type implements pflag.Value.
func (m *Mode) Type() string { return "string" }

// Options are the reporter's options for this mode on a stream that is a terminal (tty) or not;
// color says whether a terminal may be painted (the caller's NO_COLOR decision).
func (m Mode) Options(tty, color bool) Options {
	switch m {
	case ModeJSONL:
		return Options{JSONLines: true}
	case ModePlain:
		return Options{}
	}
	return Options{TTY: tty, NoColor: !color}
}
