// Command kubectl-apic-drr is the kubectl plugin behind `kubectl apic drr` (run directly, or by the
// umbrella kubectl-apic; through its kubectl-apic_drr alias also `kubectl apic-drr`).
package main

import (
	"os"

	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/plugins/drr"
)

func main() { os.Exit(cli.PluginMain("kubectl apic drr", drr.NewCommand)) }
