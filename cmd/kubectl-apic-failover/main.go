// Command kubectl-apic-failover is the kubectl plugin behind `kubectl apic failover` (run directly, or by the
// umbrella kubectl-apic; through its kubectl-apic_failover alias also `kubectl apic-failover`).
package main

import (
	"os"

	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/plugins/failover"
)

func main() { os.Exit(cli.PluginMain("kubectl apic failover", failover.NewCommand)) }
