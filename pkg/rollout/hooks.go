package rollout

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// Hooks are the user's commands around each site (the load balancer and test runner of the "Managed Extension Updates" procedure): run
// with sh -c (cmd /C on Windows), the environment plus ROLLOUT_* variables, output to the log.
type Hooks struct {
	// Drain runs before the site's first member (take the site out of the global load balancer).
	Drain string
	// Smoke runs after the site's last member, still drained (the test runner); non-zero stops
	// the rollout with the site drained.
	Smoke string
	// Undrain runs after Smoke (put the site back).
	Undrain string
	// Verify runs in each member's VERIFY phase (ROLLOUT_POD, ROLLOUT_POD_IP set).
	Verify string
}

// HookFunc runs one hook command.
type HookFunc func(ctx context.Context, command string, env []string, out io.Writer) error

// RunShell is the default HookFunc.
func RunShell(ctx context.Context, command string, env []string, out io.Writer) error {
	var c *exec.Cmd
	if runtime.GOOS == "windows" {
		c = exec.CommandContext(ctx, "cmd", "/C", command)
	} else {
		c = exec.CommandContext(ctx, "sh", "-c", command)
	}
	c.Env = append(os.Environ(), env...)
	c.Stdout, c.Stderr = out, out
	if err := c.Run(); err != nil {
		return fmt.Errorf("%q: %w", command, err)
	}
	return nil
}

// hookEnv is what every hook is told.
func hookEnv(action, gateway, site, namespace, step string, more ...string) []string {
	return append([]string{"ROLLOUT_ACTION=" + action, "ROLLOUT_GATEWAY=" + gateway, "ROLLOUT_SITE=" + site,
		"ROLLOUT_NAMESPACE=" + namespace, "ROLLOUT_STEP=" + strings.ToLower(step)}, more...)
}
