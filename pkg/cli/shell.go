package cli

import (
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/pkg/printers"
)

// Shell is what every plugin's Options starts with, embedded, so each command has the same seams in
// the same places: its streams (o.Out, o.ErrOut), the terminal and colour rule (o.IsTerminal,
// o.Getenv, o.Style, o.Reporter), kubectl's kubeconfig flags (o.ConfigFlags, resolved into clients
// in Complete) and the -o flags (o.Print).
type Shell struct {
	genericiooptions.IOStreams
	Terminal
	ConfigFlags *genericclioptions.ConfigFlags
	Print       *printers.Flags
}

// NewShell is the real shell on streams, printing with print (printers.NewFlags(), or with
// WithName() for commands that offer -o name).
func NewShell(streams genericiooptions.IOStreams, print *printers.Flags) Shell {
	return Shell{IOStreams: streams, Terminal: NewTerminal(), ConfigFlags: genericclioptions.NewConfigFlags(true), Print: print}
}
