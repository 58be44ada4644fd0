// Command kubectl-apic-failover is the kubectl plugin behind `kubectl apic failover` (run directly, or by the
// umbrella kubectl-apic; through its kubectl-apic_failover alias also `kubectl apic-failover`).
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/plugins/failover"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	os.Exit(cli.Main(failover.NewCommand(cli.InvokedAs(os.Args[0], os.Getenv(cli.InvokedAsEnv), "kubectl apic failover"), streams), streams))
}
