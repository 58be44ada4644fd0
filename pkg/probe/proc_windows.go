package probe

import "os/exec"

// Windows has no process groups to signal or SIGTERM: the checker process itself is ended.
func ownGroup(*exec.Cmd)    {}
func terminate(c *exec.Cmd) { _ = c.Process.Kill() }
func kill(c *exec.Cmd)      { _ = c.Process.Kill() }
