package probe

import (
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"time"

	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
)

// K6ThresholdsBreached is the exit status with which k6 reports breached thresholds.
const K6ThresholdsBreached = 99

// CmdResult is how --probe-cmd ended.
type CmdResult struct {
	Command  string `json:"command"`
	ExitCode int    `json:"exitCode"` // -1: stopped with the operation, still running
	Outcome  string `json:"outcome"`
}

// checker is the --probe-cmd process, run with sh -c alongside the command; its output goes to the
// command's stderr.
type checker struct {
	command string
	cmd     *exec.Cmd
	done    chan struct{}
	mu      sync.Mutex
	exited  bool
	code    int
	err     error
}

func startChecker(command string, log io.Writer) (*checker, error) {
	c := &checker{command: command, done: make(chan struct{})}
	c.cmd = exec.Command("sh", "-c", command)
	c.cmd.Stdout, c.cmd.Stderr = log, log
	ownGroup(c.cmd)
	if err := c.cmd.Start(); err != nil {
		return nil, exitcode.Newf(exitcode.Error, "--probe-cmd: %v", err)
	}
	go func() {
		err := c.cmd.Wait()
		c.mu.Lock()
		c.exited, c.err = true, err
		c.code = c.cmd.ProcessState.ExitCode()
		c.mu.Unlock()
		close(c.done)
	}()
	return c, nil
}

// failed is the checker's failure so far (breach or error), nil while it runs or once it passed.
func (c *checker) failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.exited || c.code == 0 {
		return nil
	}
	return fmt.Errorf("%q exited %d", c.command, c.code)
}

// breached is the stop the checker asks for: exit 99 is a breach (exit 8), any other non-zero
// status an error of the checker (exit 1).
func (c *checker) breached() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case !c.exited || c.code == 0:
		return nil
	case c.code == K6ThresholdsBreached:
		return exitcode.Newf(exitcode.ProbeBreached, "probe: --probe-cmd %q reported breached thresholds (exit %d)", c.command, c.code)
	default:
		return exitcode.Newf(exitcode.Error, "probe: --probe-cmd %q failed (exit %d)", c.command, c.code)
	}
}

// stop ends the checker (SIGTERM to its process group, SIGKILL after 5 s; on Windows the process) and reports how it ended.
func (c *checker) stop() *CmdResult {
	c.mu.Lock()
	exited := c.exited
	c.mu.Unlock()
	stopped := false
	if !exited {
		stopped = true
		terminate(c.cmd)
		select {
		case <-c.done:
		case <-time.After(5 * time.Second):
			kill(c.cmd)
			<-c.done
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r := &CmdResult{Command: c.command, ExitCode: c.code}
	switch {
	case stopped:
		r.ExitCode, r.Outcome = -1, "still running when the operation ended; stopped"
	case c.code == 0:
		r.Outcome = "passed (exit 0)"
	case c.code == K6ThresholdsBreached:
		r.Outcome = fmt.Sprintf("thresholds breached (exit %d)", c.code)
	default:
		var ee *exec.ExitError
		if c.err != nil && !errors.As(c.err, &ee) {
			r.Outcome = "error: " + c.err.Error()
		} else {
			r.Outcome = fmt.Sprintf("error (exit %d)", c.code)
		}
	}
	return r
}

// Result is the command's outcome as an error: the breach (exit 8) or failure (exit 1) a checker
// that ended reported, nil otherwise. Commands combine it with their own result after Stop.
func (s *Summary) Result() error {
	if s == nil {
		return nil
	}
	if s.Breach != "" {
		return exitcode.New(exitcode.ProbeBreached, errors.New(s.Breach))
	}
	if s.Cmd != nil && s.Cmd.ExitCode == K6ThresholdsBreached {
		return exitcode.Newf(exitcode.ProbeBreached, "probe: --probe-cmd %q reported breached thresholds", s.Cmd.Command)
	}
	if s.Cmd != nil && s.Cmd.ExitCode > 0 {
		return exitcode.Newf(exitcode.Error, "probe: --probe-cmd %q failed (exit %d)", s.Cmd.Command, s.Cmd.ExitCode)
	}
	return nil
}
