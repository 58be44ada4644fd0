// Command kubectl-apic-spread is the kubectl plugin behind `kubectl apic spread` (run directly, or by the
// umbrella kubectl-apic; through its kubectl-apic_spread alias also `kubectl apic-spread`).
package main

import (
	"os"

	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/plugins/spread"
)

func main() { os.Exit(cli.PluginMain("kubectl apic spread", spread.NewCommand)) }
