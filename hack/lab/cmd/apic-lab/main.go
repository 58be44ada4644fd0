// Command apic-lab runs the kubectl-apic lab: a SIMULATOR of a two-site IBM API Connect installation
// (dc1 active, dc2 warm-standby) on real Kubernetes control planes, for trying kubectl-apic and the
// runbooks it automates by hand.
//
//	apic-lab up [--dir .lab] [--shape subsystems|toplevel] [--time-scale F] [--foreground]
//	apic-lab status
//	apic-lab fault <kind> [args]
//	apic-lab down
//
// `up` starts `apic-lab serve` in the background (its own session, logging to .lab/lab.log) and waits
// until the lab is ready; the other commands talk to it over the unix socket .lab/control.sock.
package main

import (
	"context"
	"fmt"
	"os"
)

func main() {
	cmd := newRootCommand(os.Stdout, os.Stderr)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "apic-lab:", err)
		os.Exit(1)
	}
}
