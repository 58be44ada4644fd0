// Command kubectl-apic-spread is the kubectl plugin behind `kubectl apic spread` (and, installed by krew,
// `kubectl apic-spread`).
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/plugins/spread"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	os.Exit(cli.Main(spread.NewCommand(cli.DisplayName(os.Args[0], "kubectl apic spread"), streams), streams))
}
