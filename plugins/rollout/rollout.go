// Package rollout is `kubectl apic rollout`: restart or upgrade the DataPower members of an API
// Connect gateway one at a time, data center by data center, never losing peering quorum, with the
// primary last and availability measured. The mechanics live in pkg/rollout; this file reads like
// the runbook.
package rollout

import (
	"context"
	"errors"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/pkg/printers"
)

// Actions (the subcommands).
const (
	ActionRestart = "restart"
	ActionUpgrade = "upgrade"
	ActionUndo    = "undo"
	ActionStatus  = "status"
)

// Options of `kubectl apic rollout`.
type Options struct {
	cli.Shell
	Action  string
	Gateway string
}

// NewOptions returns options with production dependencies.
func NewOptions(streams genericiooptions.IOStreams) *Options {
	return &Options{Shell: cli.NewShell(streams, printers.NewFlags())}
}

// NewCommand builds the command; name is how the user invoked it (for usage lines).
func NewCommand(name string, streams genericiooptions.IOStreams) *cobra.Command {
	return NewCommandWithOptions(name, NewOptions(streams))
}

// NewCommandWithOptions builds the command around o (tests inject dependencies).
func NewCommandWithOptions(name string, o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollout SUBCOMMAND GATEWAYCLUSTER",
		Short: "Restart or upgrade DataPower gateways member by member without losing quorum",
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	for _, a := range []struct{ action, short string }{
		{ActionRestart, "Restart every member of a gateway, one at a time, primary last"},
		{ActionUpgrade, "Upgrade a gateway's version, following the operator's roll member by member"},
		{ActionUndo, "Restore the spec saved by the last rollout and refresh again"},
		{ActionStatus, "Show each member's version, revision and peering role, and the last run"},
	} {
		sub := &cobra.Command{Use: a.action + " GATEWAYCLUSTER", Short: a.short, Args: cobra.ExactArgs(1)}
		action := a.action
		sub.RunE = func(cmd *cobra.Command, args []string) error {
			o.Action = action
			return cli.RunE(o)(cmd, args)
		}
		cmd.AddCommand(sub)
	}
	o.ConfigFlags.AddFlags(cmd.PersistentFlags())
	return cli.Plugin(cmd, name, "kubectl-apic-rollout", o.IOStreams, o)
}

// Complete resolves the gateway.
func (o *Options) Complete(_ *cobra.Command, args []string) error {
	o.Gateway = args[0]
	return nil
}

// Validate checks the options.
func (o *Options) Validate() error { return nil }

// Run is being written (skeleton for packaging work).
func (o *Options) Run(context.Context) error { return errors.New("rollout: not implemented yet") }
