// Command kubectl-apic is the umbrella plugin: `kubectl apic` lists the suite's plugins and
// `kubectl apic <name> ...` runs the sibling binary kubectl-apic-<name> (or krew's kubectl-apic_<name>).
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/plugins/umbrella"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	os.Exit(cli.Main(umbrella.NewCommand(streams), streams))
}
