// Command kubectl-apic-failover is the kubectl plugin behind `kubectl apic failover` (and, installed by krew,
// `kubectl apic-failover`).
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/plugins/failover"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	os.Exit(cli.Main(failover.NewCommand(cli.DisplayName(os.Args[0], "kubectl apic failover"), streams), streams))
}
