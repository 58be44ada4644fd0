// Command kubectl-apic-spread is the kubectl plugin behind `kubectl apic spread` (run directly, or by the
// umbrella kubectl-apic; through its kubectl-apic_spread alias also `kubectl apic-spread`).
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/plugins/spread"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	os.Exit(cli.Main(spread.NewCommand(cli.InvokedAs(os.Args[0], os.Getenv(cli.InvokedAsEnv), "kubectl apic spread"), streams), streams))
}
