package cli

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/klog/v2"
)

// klogLine is klog's header: severity, date, time, pid, file:line.
var klogLine = regexp.MustCompile(`(?m)^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ \S+:\d+\] `)

// A command whose libraries log (as client-go does when a watch fails) prints none of it at the
// default verbosity, and prints it, klog-formatted, with -v.
func TestLibraryLoggingFollowsVerbosity(t *testing.T) {
	run := func(args ...string) (string, int) {
		var out, errOut bytes.Buffer
		streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
		cmd := &cobra.Command{Use: "x", RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			klog.FromContext(ctx).Error(errors.New("connection refused"), "Watch failed") // client-go's RetryWatcher
			utilruntime.HandleErrorWithContext(ctx, errors.New("broken pipe"), "Copying stdin failed")
			klog.V(4).InfoS("a level-4 detail")
			klog.V(7).InfoS("a level-7 detail")
			return nil
		}}
		cmd.SetArgs(args)
		code := Execute(context.Background(), cmd, streams)
		return errOut.String(), code
	}
	quiet, code := run()
	if quiet != "" || code != 0 {
		t.Errorf("default verbosity: exit %d, stderr %q; want nothing", code, quiet)
	}
	loud, _ := run("-v=4")
	for _, want := range []string{"Watch failed", "Copying stdin failed", "a level-4 detail"} {
		if !strings.Contains(loud, want) {
			t.Errorf("-v=4 lacks %q:\n%s", want, loud)
		}
	}
	if strings.Contains(loud, "level-7") {
		t.Errorf("-v=4 shows a level-7 line:\n%s", loud)
	}
	if !klogLine.MatchString(loud) {
		t.Errorf("-v=4 lines are not in klog's format:\n%s", loud)
	}
	// The next run at the default level is quiet again (klog is global; Execute restores it).
	if again, _ := run(); again != "" {
		t.Errorf("after a -v run, default verbosity prints %q", again)
	}
	if _, code := run("-v=x"); code != 2 {
		t.Errorf("-v=x: exit %d, want usage 2", code)
	}
}
