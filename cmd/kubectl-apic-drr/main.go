// Command kubectl-apic-drr is the kubectl plugin behind `kubectl apic drr` (run directly, or by the
// umbrella kubectl-apic; through its kubectl-apic_drr alias also `kubectl apic-drr`).
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/plugins/drr"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	os.Exit(cli.Main(drr.NewCommand(cli.InvokedAs(os.Args[0], os.Getenv(cli.InvokedAsEnv), "kubectl apic drr"), streams), streams))
}
