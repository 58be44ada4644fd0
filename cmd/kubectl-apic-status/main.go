// Command kubectl-apic-status is the kubectl plugin behind `kubectl apic status` (run directly, or by the
// umbrella kubectl-apic; through its kubectl-apic_status alias also `kubectl apic-status`).
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/plugins/status"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	os.Exit(cli.Main(status.NewCommand(cli.InvokedAs(os.Args[0], os.Getenv(cli.InvokedAsEnv), "kubectl apic status"), streams), streams))
}
