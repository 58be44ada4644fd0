package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
)

// ConfirmFunc is the confirmation seam of every mutating command's Options (default
// ConfirmContext; tests answer for the user).
type ConfirmFunc func(ctx context.Context, streams genericiooptions.IOStreams, question string) error

// Confirm is ConfirmContext without a context of its own.
func Confirm(streams genericiooptions.IOStreams, question string) error {
	return ConfirmContext(context.Background(), streams, question)
}

// ConfirmContext asks question on ErrOut and reads y/yes from In. Mutating commands call it unless
// --yes. Without a terminal there is nobody to answer, so it refuses rather than guessing. Ctrl-C
// (SIGINT) or SIGTERM at the prompt aborts at once with exit code Interrupted, and so does the end
// of ctx (Main cancels the command's context on the first SIGINT): nothing was changed. The read
// from In goes on in the background until the process exits, which it does right after.
func ConfirmContext(ctx context.Context, streams genericiooptions.IOStreams, question string) error {
	// Signals are watched here too, so that a caller whose context no signal cancels still stops.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-ctx.Done():
		}
	}()
	if !IsTerminal(streams.In) {
		return exitcode.Newf(exitcode.Refused, "refusing to proceed without confirmation: stdin is not a terminal; re-run with --yes to confirm")
	}
	if err := ctx.Err(); err != nil {
		return interruptedAtPrompt()
	}
	fmt.Fprintf(streams.ErrOut, "%s [y/N]: ", question)
	type reply struct {
		answer string
		err    error
	}
	got := make(chan reply, 1)
	go func() {
		answer, err := bufio.NewReader(streams.In).ReadString('\n')
		got <- reply{answer, err}
	}()
	var r reply
	select {
	case <-ctx.Done():
		fmt.Fprintln(streams.ErrOut) // end the prompt's line
		return interruptedAtPrompt()
	case r = <-got:
	}
	if r.err != nil && r.err != io.EOF {
		return r.err
	}
	switch strings.ToLower(strings.TrimSpace(r.answer)) {
	case "y", "yes":
		return nil
	}
	return exitcode.Newf(exitcode.Refused, "not confirmed: nothing was changed")
}

func interruptedAtPrompt() error {
	return exitcode.Newf(exitcode.Interrupted, "interrupted at the confirmation prompt: nothing was changed")
}
