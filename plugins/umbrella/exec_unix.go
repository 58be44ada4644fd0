//go:build !windows

package umbrella

import (
	"context"
	"os"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// execPlugin replaces this process with the plugin, as kubectl does with plugins, so the terminal,
// signals and exit code are the plugin's own. With non-file streams (tests) it runs a child instead.
func execPlugin(ctx context.Context, path string, args []string, streams genericiooptions.IOStreams, env ...string) error {
	if streams.In == os.Stdin && streams.Out == os.Stdout && streams.ErrOut == os.Stderr {
		return syscall.Exec(path, append([]string{path}, args...), append(os.Environ(), env...))
	}
	return runPlugin(ctx, path, args, streams, env...)
}
