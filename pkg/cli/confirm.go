package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/term"

	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
)

// IsTerminal reports whether w (or r) is a terminal.
func IsTerminal(f interface{}) bool { return term.IsTerminal(f) }

// ColorEnabled reports whether output to w may use ANSI colour: a terminal, and NO_COLOR unset
// (https://no-color.org).
func ColorEnabled(w io.Writer) bool {
	if _, set := os.LookupEnv("NO_COLOR"); set {
		return false
	}
	return IsTerminal(w)
}

// Confirm asks question on ErrOut and reads y/yes from In. Mutating commands call it unless --yes.
// Without a terminal there is nobody to answer, so it refuses rather than guessing.
func Confirm(streams genericiooptions.IOStreams, question string) error {
	if !IsTerminal(streams.In) {
		return exitcode.Newf(exitcode.Refused, "refusing to proceed without confirmation: stdin is not a terminal; re-run with --yes to confirm")
	}
	fmt.Fprintf(streams.ErrOut, "%s [y/N]: ", question)
	answer, err := bufio.NewReader(streams.In).ReadString('\n')
	if err != nil && err != io.EOF {
		return err
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return nil
	}
	return exitcode.Newf(exitcode.Refused, "not confirmed: nothing was changed")
}
