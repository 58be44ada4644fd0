// Package failover is `kubectl apic failover`.
package failover

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
)

// Options of `kubectl apic failover`.
type Options struct {
	genericiooptions.IOStreams
	ConfigFlags *genericclioptions.ConfigFlags
}

// NewCommand builds the command; name is how the user invoked it (for usage lines).
func NewCommand(name string, streams genericiooptions.IOStreams) *cobra.Command {
	o := &Options{IOStreams: streams, ConfigFlags: genericclioptions.NewConfigFlags(true)}
	cmd := &cobra.Command{
		Use:   "failover",
		Short: "failover (under construction)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(cmd, args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd)
		},
	}
	cli.SetDisplayName(cmd, name)
	o.ConfigFlags.AddFlags(cmd.Flags())
	cmd.AddCommand(cli.NewVersionCommand("kubectl-apic-failover", streams))
	return cmd
}

// Complete fills in defaults from the flags and kubeconfig.
func (o *Options) Complete(cmd *cobra.Command, args []string) error { return nil }

// Validate checks the options before anything is read or changed.
func (o *Options) Validate() error { return nil }

// Run executes the command.
func (o *Options) Run(cmd *cobra.Command) error {
	return exitcode.Newf(exitcode.Error, "kubectl apic failover is not implemented yet")
}
