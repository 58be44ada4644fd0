package cli

import (
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/kubectl/pkg/util/term"

	"github.com/kubectl-apic/kubectl-apic/pkg/printers"
	"github.com/kubectl-apic/kubectl-apic/pkg/progress"
)

// Terminal is the one terminal and colour rule of every command, embedded in each plugin's Options
// (so its seams are o.IsTerminal and o.Getenv everywhere; tests replace them). A stream gets live
// lines and colour only when it is a terminal, and colour only when NO_COLOR is unset or empty
// (https://no-color.org: "when present and not an empty string" it turns colour off). Both the
// printers' tables (Style) and the progress reporter (Reporter) decide from it.
type Terminal struct {
	// IsTerminal reports whether a stream is a terminal; default kubectl's term.IsTerminal.
	IsTerminal func(any) bool
	// Getenv reads the environment; default os.Getenv.
	Getenv func(string) string
}

// NewTerminal is the real terminal rule.
func NewTerminal() Terminal { return Terminal{IsTerminal: IsTerminal, Getenv: os.Getenv} }

// IsTerminal reports whether f (a reader or writer) is a terminal.
func IsTerminal(f any) bool { return term.IsTerminal(f) }

// Color reports whether output to w may be coloured: w is a terminal and NO_COLOR is unset or empty.
func (t Terminal) Color(w any) bool { return t.isTerminal(w) && !t.noColor() }

// Style is the printers' style for output to w.
func (t Terminal) Style(w io.Writer) printers.Style { return printers.Style{Color: t.Color(w)} }

// Reporter is the reporter of a command's steps on w (stderr) in mode (--progress); clock may be nil.
func (t Terminal) Reporter(w io.Writer, mode progress.Mode, clock func() time.Time) *progress.Reporter {
	opts := mode.Options(t.isTerminal(w), !t.noColor())
	opts.Clock = clock
	return progress.New(w, opts)
}

func (t Terminal) isTerminal(w any) bool { return t.IsTerminal != nil && t.IsTerminal(w) }

func (t Terminal) noColor() bool { return t.Getenv != nil && t.Getenv("NO_COLOR") != "" }

// AddProgressFlag registers --progress (auto|plain|jsonl, with completion) on cmd, writing to mode.
// With jsonl, Execute writes the command's final error as a JSON line too.
func AddProgressFlag(cmd *cobra.Command, mode *progress.Mode) {
	if *mode == "" {
		*mode = progress.ModeAuto
	}
	cmd.Flags().Var(mode, ProgressFlag, "Progress on stderr: auto (live lines on a terminal), plain, or jsonl (one JSON object per event)")
	_ = cmd.RegisterFlagCompletionFunc(ProgressFlag, cobra.FixedCompletions(progress.Modes(), cobra.ShellCompDirectiveNoFileComp))
}
