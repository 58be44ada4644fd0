//go:build !windows

package probe

import (
	"os/exec"
	"syscall"
)

// ownGroup starts the checker in a process group of its own, so that stopping it stops what its
// shell started (k6 under sh -c) too.
func ownGroup(c *exec.Cmd) { c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// terminate asks the checker's process group to end (SIGTERM).
func terminate(c *exec.Cmd) { _ = syscall.Kill(-c.Process.Pid, syscall.SIGTERM) }

// kill ends the checker's process group (SIGKILL).
func kill(c *exec.Cmd) { _ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
