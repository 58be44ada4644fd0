// Command kubectl-apic-status is the kubectl plugin behind `kubectl apic status` (and, installed by krew,
// `kubectl apic-status`).
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/plugins/status"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	os.Exit(cli.Main(status.NewCommand(cli.DisplayName(os.Args[0], "kubectl apic status"), streams), streams))
}
