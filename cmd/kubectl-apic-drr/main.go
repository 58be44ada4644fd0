// Command kubectl-apic-drr is the kubectl plugin behind `kubectl apic drr` (and, installed by krew,
// `kubectl apic-drr`).
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/plugins/drr"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	os.Exit(cli.Main(drr.NewCommand(cli.DisplayName(os.Args[0], "kubectl apic drr"), streams), streams))
}
