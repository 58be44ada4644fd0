// Command kubectl-apic-rollout is the kubectl plugin behind `kubectl apic rollout` (run directly, or by
// the umbrella kubectl-apic; through its kubectl-apic_rollout alias also `kubectl apic-rollout`).
package main

import (
	"os"

	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/plugins/rollout"
)

func main() { os.Exit(cli.PluginMain("kubectl apic rollout", rollout.NewCommand)) }
