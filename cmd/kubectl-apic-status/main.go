// Command kubectl-apic-status is the kubectl plugin behind `kubectl apic status` (run directly, or by the
// umbrella kubectl-apic; through its kubectl-apic_status alias also `kubectl apic-status`).
package main

import (
	"os"

	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/plugins/status"
)

func main() { os.Exit(cli.PluginMain("kubectl apic status", status.NewCommand)) }
