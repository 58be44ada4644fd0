// Command kubectl-apic is the umbrella plugin: `kubectl apic` lists the suite's plugins and
// `kubectl apic <name> ...` runs the sibling binary kubectl-apic-<name> (or kubectl-apic_<name>).
// Linked as kubectl_complete-apic it is kubectl's completion executable for `kubectl apic <TAB>`.
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/plugins/umbrella"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	cmd := umbrella.NewCommand(streams)
	cmd.SetArgs(umbrella.Args(os.Args[0], os.Args[1:]))
	os.Exit(cli.Main(cmd, streams))
}
