package cli

import (
	"context"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// Runner is every plugin's Options: kubectl's Complete (resolve the clients and what the flags
// imply), Validate (check, read nothing), Run (do it).
type Runner interface {
	Complete(cmd *cobra.Command, args []string) error
	Validate() error
	Run(ctx context.Context) error
}

// RunE is the cobra RunE of o: Complete, Validate, then Run with the command's context.
func RunE(o Runner) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := o.Complete(cmd, args); err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		return o.Run(cmd.Context())
	}
}

// Plugin finishes a plugin's root command the same way for every binary: RunE from o (unless cmd
// has its own), usage lines under the name the user invoked it by, and the version subcommand of
// binary.
func Plugin(cmd *cobra.Command, name, binary string, streams genericiooptions.IOStreams, o Runner) *cobra.Command {
	if cmd.RunE == nil && o != nil {
		cmd.RunE = RunE(o)
	}
	SetDisplayName(cmd, name)
	cmd.AddCommand(NewVersionCommand(binary, streams))
	return cmd
}

// StdStreams are the process's standard streams.
func StdStreams() genericiooptions.IOStreams {
	return genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
}

// PluginMain is a plugin binary's whole main: os.Exit(cli.PluginMain("kubectl apic drr", drr.NewCommand)).
// fallback is the usage name when neither a launcher (InvokedAsEnv) nor argv[0] says how the user
// invoked it.
func PluginMain(fallback string, newCommand func(name string, streams genericiooptions.IOStreams) *cobra.Command) int {
	streams := StdStreams()
	return Main(newCommand(InvokedAs(os.Args[0], os.Getenv(InvokedAsEnv), fallback), streams), streams)
}
