// Command kubectl-apic is the umbrella plugin: `kubectl apic` lists the suite's plugins and
// `kubectl apic <name> ...` runs the sibling binary kubectl-apic-<name> (or kubectl-apic_<name>).
// Linked as kubectl_complete-apic it is kubectl's completion executable for `kubectl apic <TAB>`.
package main

import (
	"os"

	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/plugins/umbrella"
)

func main() { os.Exit(umbrella.Main(os.Args, cli.StdStreams())) }
