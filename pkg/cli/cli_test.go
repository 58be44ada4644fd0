package cli

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
)

func TestDisplayName(t *testing.T) {
	for argv0, want := range map[string]string{
		"/usr/local/bin/kubectl-apic-status":    "kubectl apic status",
		"/home/u/.krew/bin/kubectl-apic_status": "kubectl apic-status",
		"kubectl-apic":                          "kubectl apic",
		`C:\bin\kubectl-apic-failover.exe`:      "kubectl apic failover",
		"/tmp/go-build123/b001/status.test":     "fallback",
		"./kubectl-apic_failover":               "kubectl apic-failover",
	} {
		if got := DisplayName(argv0, "fallback"); got != want {
			t.Errorf("DisplayName(%q) = %q, want %q", argv0, got, want)
		}
	}
}

func TestExecuteExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		runErr error
		code   exitcode.Code
		stderr string
	}{
		{"ok", nil, nil, exitcode.OK, ""},
		{"plain error", nil, errors.New("boom"), exitcode.Error, "error: boom\n"},
		{"coded error", nil, exitcode.Newf(exitcode.Refused, "no"), exitcode.Refused, "error: no\n"},
		{"silent", nil, Silent(exitcode.Critical), exitcode.Critical, ""},
		{"unknown flag", []string{"--nope"}, nil, exitcode.Usage, "See 'x --help' for usage."},
		{"extra argument", []string{"a"}, nil, exitcode.Usage, "See 'x --help' for usage."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			streams, _, _, errOut := genericiooptions.NewTestIOStreams()
			cmd := &cobra.Command{Use: "x", Args: cobra.NoArgs, RunE: func(*cobra.Command, []string) error { return tc.runErr }}
			cmd.SetArgs(tc.args)
			if got := Execute(context.Background(), cmd, streams); got != int(tc.code) {
				t.Errorf("exit %d, want %d (stderr %q)", got, tc.code, errOut.String())
			}
			if !strings.Contains(errOut.String(), tc.stderr) || (tc.stderr == "" && errOut.Len() > 0) {
				t.Errorf("stderr = %q, want %q", errOut.String(), tc.stderr)
			}
		})
	}
}

func TestConfirmRefusesWithoutTerminal(t *testing.T) {
	streams, in, _, _ := genericiooptions.NewTestIOStreams()
	in.WriteString("y\n")
	err := Confirm(streams, "Demote dc1?")
	if exitcode.FromError(err) != exitcode.Refused || !strings.Contains(err.Error(), "--yes") {
		t.Errorf("Confirm without a terminal = %v; want a refusal naming --yes", err)
	}
}

func TestVersionCommand(t *testing.T) {
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	cmd := NewVersionCommand("kubectl-apic-status", streams)
	cmd.SetArgs([]string{"-o", "json"})
	if code := Execute(context.Background(), cmd, streams); code != 0 || !strings.Contains(out.String(), `"version"`) {
		t.Errorf("version -o json: %d %q", code, out.String())
	}
}

// With --progress=jsonl the final error is a JSON-lines event like the rest of stderr.
func TestExecuteJSONLinesError(t *testing.T) {
	streams, _, _, errOut := genericiooptions.NewTestIOStreams()
	cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return exitcode.Newf(exitcode.Refused, `no "way"`) }}
	cmd.Flags().String(ProgressFlag, "auto", "")
	cmd.SetArgs([]string{"--progress=jsonl"})
	if got := Execute(context.Background(), cmd, streams); got != int(exitcode.Refused) {
		t.Fatalf("exit %d", got)
	}
	var ev map[string]any
	if err := json.Unmarshal(errOut.Bytes(), &ev); err != nil {
		t.Fatalf("stderr is not one JSON line: %q (%v)", errOut.String(), err)
	}
	if ev["event"] != "error" || ev["message"] != `no "way"` || ev["exitCode"] != float64(5) || ev["exitCodeName"] != "Refused" {
		t.Errorf("error event %v", ev)
	}
}
