// Package cli is the plumbing shared by every binary's main and cobra command: running a command with
// signal handling and exit codes, library logging behind -v, the version subcommand, the name the
// user invoked us by, TTY checks and the confirmation prompt of mutating commands.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/progress"
)

// Main executes cmd and returns the process exit code; cmd/*/main.go is just
// os.Exit(cli.Main(...)). The first SIGINT/SIGTERM cancels the command's context so it can stop
// cleanly (mutating commands leave state that a re-run resumes from); a second one kills the process.
func Main(cmd *cobra.Command, streams genericiooptions.IOStreams) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // restore default handling: a second signal terminates at once
	}()
	return Execute(ctx, cmd, streams)
}

// Execute runs cmd with ctx and maps its error to an exit code, printing it kubectl's way
// ("error: ..." on stderr, plus a pointer to --help for usage errors). Separate from Main so tests
// can run commands in-process.
func Execute(ctx context.Context, cmd *cobra.Command, streams genericiooptions.IOStreams) int {
	Prepare(cmd)
	stopLogging := startLogging(cmd, streams.ErrOut)
	defer stopLogging()
	cmd.SetIn(streams.In)
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	ran, err := cmd.ExecuteContextC(ctx)
	code := exitcode.FromError(err)
	if err != nil && !errors.Is(err, errSilent) {
		msg := strings.TrimSpace(err.Error())
		if JSONLinesProgress(ran) {
			// Every stderr line of a --progress=jsonl run is JSON, the final error too.
			fmt.Fprint(streams.ErrOut, progress.ErrorLine(time.Now(), msg, int(code), code.String()))
			return int(code)
		}
		fmt.Fprintf(streams.ErrOut, "error: %s\n", msg)
		if code == exitcode.Usage && ran != nil {
			fmt.Fprintf(streams.ErrOut, "See '%s --help' for usage.\n", ran.CommandPath())
		}
	}
	return int(code)
}

// ProgressFlag is the flag of commands that report progress on stderr (auto|plain|jsonl).
const ProgressFlag = "progress"

// JSONLinesProgress reports whether cmd ran with --progress=jsonl.
func JSONLinesProgress(cmd *cobra.Command) bool {
	if cmd == nil {
		return false
	}
	f := cmd.Flags().Lookup(ProgressFlag)
	return f != nil && f.Value.String() == progress.ModeJSONL
}

// Prepare applies our conventions to a command tree: errors are printed once by Execute, flag and
// argument errors exit with the usage code, and -v sets the libraries' log level (logging.go).
func Prepare(cmd *cobra.Command) {
	addVerbosityFlag(cmd)
	cmd.SilenceErrors = true
	cmd.SilenceUsage = true
	cmd.SetFlagErrorFunc(exitcode.FlagErrorFunc)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Args != nil && c.Annotations[preparedAnnotation] == "" {
			c.Args = exitcode.Args(c.Args)
			if c.Annotations == nil {
				c.Annotations = map[string]string{}
			}
			c.Annotations[preparedAnnotation] = "true"
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(cmd)
}

// preparedAnnotation keeps Prepare idempotent (tests and docs generation call it again).
const preparedAnnotation = "kubectl-apic/prepared"

// errSilent marks an error whose message the command already printed.
var errSilent = errors.New("already reported")

// Silent wraps code so Execute exits with it without printing anything more; for commands whose
// output already says what went wrong (a CRITICAL status table, a failed step summary).
func Silent(code exitcode.Code) error {
	if code == exitcode.OK {
		return nil
	}
	return exitcode.New(code, errSilent)
}

// DisplayName is how the user invoked a plugin, for usage lines: kubectl runs kubectl-apic-status for
// `kubectl apic status` and the krew-installed kubectl-apic_status for `kubectl apic-status`.
func DisplayName(argv0, fallback string) string {
	// Split on both separators: argv[0] is a Windows path on Windows.
	base := argv0[strings.LastIndexAny(argv0, `/\`)+1:]
	base = strings.TrimSuffix(base, ".exe")
	if !strings.HasPrefix(base, "kubectl-") {
		return fallback
	}
	words := strings.Split(strings.TrimPrefix(base, "kubectl-"), "-")
	for i, w := range words {
		words[i] = strings.ReplaceAll(w, "_", "-")
	}
	return "kubectl " + strings.Join(words, " ")
}

// SetDisplayName makes cobra print name (e.g. "kubectl apic status") in usage and help.
func SetDisplayName(cmd *cobra.Command, name string) {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[cobra.CommandDisplayNameAnnotation] = name
}
