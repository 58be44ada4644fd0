package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
)

// upOptions are the flags of up and serve.
type upOptions struct {
	shape      string
	timeScale  float64
	assets     string
	foreground bool
	timeout    time.Duration

	consoleLogSeed uint64
	noConsoleLogs  bool
}

func newUpCommand(p func() (paths, error), serve bool) *cobra.Command {
	o := upOptions{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the two-site lab in the background and wait until it is ready",
		Long: "Start the two-site lab (dc1 active, dc2 warm-standby) in the background: apic-lab serve runs detached,\n" +
			"logging to <dir>/lab.log. up waits until the lab is ready and prints how to use it. Running up\n" +
			"again while the lab is up says so. --foreground runs the lab in this terminal until Ctrl-C.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ps, err := p()
			if err != nil {
				return err
			}
			if o.shape != string(lab.ShapeSubsystems) && o.shape != string(lab.ShapeTopLevel) {
				return fmt.Errorf("--shape must be %s or %s", lab.ShapeSubsystems, lab.ShapeTopLevel)
			}
			if serve {
				return runServe(cmd.Context(), ps, o, cmd.ErrOrStderr(), nil)
			}
			return runUp(cmd.Context(), ps, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	if serve {
		cmd.Use, cmd.Short, cmd.Long, cmd.Hidden = "serve", "Run the lab in this process until SIGTERM or SIGINT (what up starts)", "", true
	}
	f := cmd.Flags()
	f.StringVar(&o.shape, "shape", string(lab.ShapeSubsystems), "deployment shape: subsystems (one CR per subsystem) or toplevel (APIConnectCluster)")
	f.Float64Var(&o.timeScale, "time-scale", 0, "factor applied to IBM's documented durations (0: the simulator's default, 5 minutes become 1 second)")
	f.Uint64Var(&o.consoleLogSeed, "console-log-seed", lab.DefaultConsoleLogSeed, "seed of the asynchronous log lines the simulated DataPower consoles print at random points")
	f.BoolVar(&o.noConsoleLogs, "no-console-logs", false, "the simulated DataPower consoles print no asynchronous log lines")
	f.StringVar(&o.assets, "assets", "", "control-plane bin directory (default $KUBEBUILDER_ASSETS, else the output of hack/control-plane.sh)")
	if !serve {
		f.BoolVar(&o.foreground, "foreground", false, "run the lab in this terminal until Ctrl-C instead of in the background")
		f.DurationVar(&o.timeout, "timeout", 3*time.Minute, "how long to wait for the lab to be ready")
	}
	return cmd
}

// runUp starts the lab in the background (or runs it with --foreground) and waits until it is ready.
func runUp(ctx context.Context, ps paths, o upOptions, out, errOut io.Writer) error {
	if socketAlive(ctx, ps) {
		st, err := lab.NewControlClient(ps.Socket).Status(ctx)
		if err == nil {
			fmt.Fprintf(out, "The lab is already up in %s (pid %d).\n", ps.Dir, st.PID)
			printHints(out, ps, st)
			return nil
		}
	}
	if pid := readPID(ps); pid != 0 && serveProcess(pid, ps) {
		return fmt.Errorf("a lab is starting or stopping in %s (pid %d); see %s", ps.Dir, pid, ps.Log)
	}
	assets, err := resolveAssets(o.assets, errOut)
	if err != nil {
		return err
	}
	o.assets = assets
	if err := os.MkdirAll(ps.Dir, 0o700); err != nil {
		return err
	}
	if o.foreground {
		logf, err := os.Create(ps.Log)
		if err != nil {
			return err
		}
		defer logf.Close()
		return runServe(ctx, ps, o, io.MultiWriter(logf, errOut), func(st lab.Status) {
			printHints(out, ps, st)
			fmt.Fprintln(out, "\nThe lab runs in the foreground: Ctrl-C stops it.")
		})
	}

	logf, err := os.Create(ps.Log)
	if err != nil {
		return err
	}
	defer logf.Close()
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	args := []string{"serve", "--dir", ps.Dir, "--shape", o.shape, "--assets", o.assets,
		"--time-scale", strconv.FormatFloat(o.timeScale, 'g', -1, 64),
		"--console-log-seed", strconv.FormatUint(o.consoleLogSeed, 10)}
	if o.noConsoleLogs {
		args = append(args, "--no-console-logs")
	}
	child := exec.Command(exe, args...)
	child.Stdout, child.Stderr = logf, logf
	// Its own session: the lab outlives this command and the terminal's Ctrl-C does not reach it.
	child.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := child.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()
	fmt.Fprintf(errOut, "Starting the lab simulator in %s (pid %d, log %s)...\n", ps.Dir, child.Process.Pid, ps.Log)

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	deadline := time.NewTimer(o.timeout)
	defer deadline.Stop()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	client := lab.NewControlClient(ps.Socket)
	start := time.Now()
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("the lab exited while starting (%v); last lines of %s:\n%s", err, ps.Log, tail(ps.Log, 20))
		case <-deadline.C:
			_ = child.Process.Signal(syscall.SIGTERM)
			return fmt.Errorf("the lab was not ready after %s (stopping it); last lines of %s:\n%s", o.timeout, ps.Log, tail(ps.Log, 20))
		case <-ctx.Done():
			_ = child.Process.Signal(syscall.SIGTERM)
			return errors.New("interrupted: stopping the lab")
		case <-tick.C:
		}
		if !socketAlive(ctx, ps) {
			continue
		}
		st, err := client.Status(ctx)
		if err != nil {
			continue
		}
		fmt.Fprintf(out, "The lab is up in %s (ready in %s).\n", ps.Dir, time.Since(start).Round(100*time.Millisecond))
		printHints(out, ps, st)
		return nil
	}
}

// runServe runs the lab in this process until ctx ends or SIGTERM/SIGINT, then stops it. ready, if
// set, is called once the lab is ready.
func runServe(ctx context.Context, ps paths, o upOptions, logw io.Writer, ready func(lab.Status)) error {
	assets, err := resolveAssets(o.assets, logw)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(ps.Dir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(ps.PID, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		return err
	}
	defer os.Remove(ps.PID)

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	var mu sync.Mutex
	logf := func(format string, args ...any) {
		line := time.Now().Format("15:04:05.000 ") + fmt.Sprintf(format, args...) + "\n"
		mu.Lock()
		defer mu.Unlock()
		_, _ = io.WriteString(logw, line)
	}
	start := time.Now()
	logf("starting the lab simulator in %s (shape %s)", ps.Dir, o.shape)
	l, err := lab.Start(ctx, lab.Config{Dir: ps.Dir, Assets: assets, Shape: lab.Shape(o.shape), TimeScale: o.timeScale,
		ConsoleLogSeed: o.consoleLogSeed, NoConsoleLogs: o.noConsoleLogs, Logf: logf})
	if err != nil {
		return fmt.Errorf("starting the lab: %w", err)
	}
	logf("lab ready in %s; kubeconfig %s", time.Since(start).Round(time.Millisecond), l.Kubeconfig())

	served := make(chan error, 1)
	go func() { served <- l.ServeControl(ctx, ps.Socket) }()
	if ready != nil {
		ready(l.Status(ctx))
	}
	select {
	case <-ctx.Done():
		err = nil
	case err = <-served:
	}
	// A second Ctrl-C kills this process at once; Pdeathsig then kills the control-plane processes.
	stop()
	logf("stopping the lab")
	l.Stop()
	logf("lab stopped")
	return err
}

func printHints(out io.Writer, ps paths, st lab.Status) {
	for _, s := range st.Sites {
		fmt.Fprintf(out, "  %s  %s\n", s.Name, s.Server)
	}
	rel := ps.Kubeconfig
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, ps.Kubeconfig); err == nil && !strings.HasPrefix(r, "..") {
			rel = r
		}
	}
	first, ns := "dc1", st.Namespace
	if len(st.Sites) > 0 {
		first = st.Sites[0].Name
	}
	fmt.Fprintf(out, "Kubeconfig: %s\n\n", ps.Kubeconfig)
	fmt.Fprintf(out, "  export KUBECONFIG=%s\n", rel)
	fmt.Fprintf(out, "  kubectl --context %s get mgmt -n %s\n", first, ns)
	fmt.Fprintf(out, "  apic-lab status\n  apic-lab fault --help\n  apic-lab down\n")
}

// resolveAssets finds the control-plane binaries: the flag, $KUBEBUILDER_ASSETS, else
// hack/control-plane.sh of the repository around the working directory (instant once cached).
func resolveAssets(flag string, errOut io.Writer) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" {
		return d, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		script := filepath.Join(dir, "hack", "control-plane.sh")
		if _, err := os.Stat(script); err == nil {
			cmd := exec.Command(script)
			cmd.Stderr = errOut
			b, err := cmd.Output()
			if err != nil {
				return "", fmt.Errorf("%s: %w", script, err)
			}
			return strings.TrimSpace(string(b)), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("control-plane binaries not found: pass --assets or set KUBEBUILDER_ASSETS " +
				"(or run from the kubectl-apic repository, whose hack/control-plane.sh builds them)")
		}
		dir = parent
	}
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
