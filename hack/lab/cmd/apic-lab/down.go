package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
)

func newDownCommand(p func() (paths, error)) *cobra.Command {
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop the lab and check that none of its processes is left",
		Long: "Stop the lab: SIGTERM to apic-lab serve (which stops every control-plane process), SIGKILL after\n" +
			"--grace, then check that no process of the lab is left (any process whose command line names the\n" +
			"lab directory). Exits 0 when no lab is running.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ps, err := p()
			if err != nil {
				return err
			}
			return runDown(ps, grace, cmd.OutOrStdout())
		},
	}
	cmd.Flags().DurationVar(&grace, "grace", 60*time.Second, "how long serve may take to stop before it is killed")
	return cmd
}

func runDown(ps paths, grace time.Duration, out io.Writer) error {
	pid := readPID(ps)
	running := pid != 0 && serveProcess(pid, ps)
	if running {
		fmt.Fprintf(out, "Stopping the lab in %s (pid %d)...\n", ps.Dir, pid)
		_ = syscall.Kill(pid, syscall.SIGTERM)
		if !waitGone([]int{pid}, grace) {
			fmt.Fprintf(out, "The lab did not stop in %s: killing pid %d.\n", grace, pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			waitGone([]int{pid}, 10*time.Second)
		}
	}
	// The control-plane processes die with serve (Pdeathsig); give them a moment, then kill any that
	// are left (by pid: only processes whose command line names this lab's directory).
	left := lab.Processes(ps.Dir)
	if len(left) > 0 && !waitGone(pids(left), 10*time.Second) {
		for _, lp := range lab.Processes(ps.Dir) {
			fmt.Fprintf(out, "Killing leftover process %d (%s).\n", lp.PID, lp.Name)
			_ = syscall.Kill(lp.PID, syscall.SIGKILL)
		}
		waitGone(pids(left), 10*time.Second)
	}
	_ = os.Remove(ps.Socket)
	_ = os.Remove(ps.PID)
	if left := lab.Processes(ps.Dir); len(left) > 0 {
		return fmt.Errorf("processes of the lab are still running: %s", describe(left))
	}
	if running {
		fmt.Fprintln(out, "The lab is down; none of its processes is left.")
	} else {
		fmt.Fprintf(out, "No lab is running in %s.\n", ps.Dir)
	}
	return nil
}

// serveProcess reports whether pid is alive and is apic-lab serve (or up --foreground) for this lab.
func serveProcess(pid int, ps paths) bool {
	for _, lp := range lab.Processes(ps.Dir) {
		if lp.PID == pid {
			return true
		}
	}
	// up --foreground run with a relative --dir: its command line does not name the absolute dir.
	if pid == os.Getpid() {
		return false
	}
	return lab.ProcessAlive(pid) && strings.Contains(cmdline(pid), "apic-lab")
}

func cmdline(pid int) string {
	b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	return strings.ReplaceAll(string(b), "\x00", " ")
}

func waitGone(ps []int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		gone := true
		for _, pid := range ps {
			if lab.ProcessAlive(pid) {
				gone = false
			}
		}
		if gone {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func pids(lps []lab.Process) []int {
	out := make([]int, len(lps))
	for i, lp := range lps {
		out[i] = lp.PID
	}
	return out
}

func describe(lps []lab.Process) string {
	parts := make([]string, len(lps))
	for i, lp := range lps {
		parts[i] = fmt.Sprintf("%d %s", lp.PID, lp.Name)
	}
	return strings.Join(parts, ", ")
}

// socketAlive reports whether a lab answers on the control socket.
func socketAlive(ctx context.Context, ps paths) bool {
	var d net.Dialer
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "unix", ps.Socket)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
