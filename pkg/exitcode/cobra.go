package exitcode

import "github.com/spf13/cobra"

// Args wraps a cobra positional-argument validator so its errors exit with Usage:
//
//	cmd.Args = exitcode.Args(cobra.ExactArgs(1))
func Args(validate cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if validate == nil {
			return nil
		}
		return UsageError(validate(cmd, args))
	}
}

// FlagErrorFunc makes flag parsing errors exit with Usage: cmd.SetFlagErrorFunc(exitcode.FlagErrorFunc).
// Cobra passes it on to subcommands.
func FlagErrorFunc(_ *cobra.Command, err error) error { return UsageError(err) }
