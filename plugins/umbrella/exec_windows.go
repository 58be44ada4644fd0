//go:build windows

package umbrella

import (
	"context"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// execPlugin runs the plugin as a child: Windows has no exec.
func execPlugin(ctx context.Context, path string, args []string, streams genericiooptions.IOStreams, env ...string) error {
	return runPlugin(ctx, path, args, streams, env...)
}
