package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
)

// paths are the files of one lab directory.
type paths struct {
	Dir        string // absolute
	PID        string
	Socket     string
	Log        string
	Kubeconfig string
}

func newPaths(dir string) (paths, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return paths{}, err
	}
	return paths{Dir: abs, PID: filepath.Join(abs, "lab.pid"), Socket: filepath.Join(abs, "control.sock"),
		Log: filepath.Join(abs, "lab.log"), Kubeconfig: filepath.Join(abs, "kubeconfig")}, nil
}

func newRootCommand(out, errOut io.Writer) *cobra.Command {
	var dir string
	root := &cobra.Command{
		Use:   "apic-lab",
		Short: "Run the kubectl-apic lab: a SIMULATOR of a two-site IBM API Connect installation on real Kubernetes control planes",
		Long: "apic-lab runs the kubectl-apic lab, a SIMULATOR of a two-site IBM API Connect installation (dc1 active,\n" +
			"dc2 warm-standby) on real Kubernetes control planes (etcd, kube-apiserver, kube-scheduler,\n" +
			"kube-controller-manager per site), with simulated nodes, an API Connect operator simulator and the\n" +
			"DataPower CLI simulator behind `kubectl attach`. No IBM software runs.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(out)
	root.SetErr(errOut)
	root.PersistentFlags().StringVar(&dir, "dir", ".lab", "the lab's directory (kubeconfig, logs, state)")
	p := func() (paths, error) { return newPaths(dir) }
	root.AddCommand(newUpCommand(p, false), newUpCommand(p, true), newDownCommand(p), newStatusCommand(p), newFaultCommand(p), newRouterCommand(p))
	return root
}

func newFaultCommand(p func() (paths, error)) *cobra.Command {
	var b strings.Builder
	b.WriteString("Inject a fault into the running lab.\n\nFaults:\n")
	for _, f := range lab.FaultKinds() {
		fmt.Fprintf(&b, "  %-55s %s\n", f.Usage(), f.Help)
	}
	return &cobra.Command{
		Use:   "fault <kind> [args]",
		Short: "Inject a fault (cut-link, stop-apiserver, node-down, fail-command, latency, ...)",
		Long:  b.String(),
		Example: "  apic-lab fault cut-link\n  apic-lab fault stop-apiserver dc1\n  apic-lab fault zone-down dc1 zone-a\n" +
			"  apic-lab fault fail-command dc1 production-gw production-gw-0 gateway-peering-flush\n" +
			"  apic-lab fault never-ready dc1 production-gw-2\n  apic-lab fault wrong-version dc1 production-gw-2 10.0.7.0\n" +
			"  apic-lab fault clear-faults dc1 production-gw\n" +
			"  apic-lab fault latency dc2 100ms\n  apic-lab fault clear-latency",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := lab.LookupFault(args[0], args[1:]); err != nil {
				return err
			}
			c, err := runningLab(cmd, p)
			if err != nil {
				return err
			}
			msg, err := c.Fault(cmd.Context(), args[0], args[1:]...)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), msg)
			return nil
		},
	}
}

// readPID returns the pid in the lab's pid file, 0 when there is none.
func readPID(ps paths) int {
	b, err := os.ReadFile(ps.PID)
	if err != nil {
		return 0
	}
	var pid int
	if _, err := fmt.Sscanf(strings.TrimSpace(string(b)), "%d", &pid); err != nil {
		return 0
	}
	return pid
}
