package umbrella

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
)

// fakePlugin writes an executable script standing in for a plugin binary.
func fakePlugin(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func finderIn(dir string) Finder {
	return func(plugin string) (string, error) {
		for _, n := range Names(plugin) {
			p := filepath.Join(dir, n)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
		return "", notInstalled(plugin)
	}
}

func run(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	cmd := NewCommand(streams)
	o := &Options{IOStreams: streams, Find: finderIn(dir), Exec: runPlugin}
	// Rebuild the plugin subcommands with the test's finder.
	for _, c := range cmd.Commands() {
		if c.Name() != "version" {
			cmd.RemoveCommand(c)
		}
	}
	for _, p := range Plugins() {
		cmd.AddCommand(o.pluginCommand(p))
	}
	cmd.RunE = func(*cobra.Command, []string) error { return o.List() }
	cmd.SetArgs(args)
	code := cli.Execute(context.Background(), cmd, streams)
	return code, out.String(), errOut.String()
}

func TestListShowsInstalledPlugins(t *testing.T) {
	dir := t.TempDir()
	fakePlugin(t, dir, "kubectl-apic-status", "exit 0")
	fakePlugin(t, dir, "kubectl-apic_failover", "exit 0")
	code, out, _ := run(t, dir)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"status", "failover", "drr", "spread", "rollout", filepath.Join(dir, "kubectl-apic-status"), filepath.Join(dir, "kubectl-apic_failover"), "not installed"} {
		if !strings.Contains(out, want) {
			t.Errorf("listing lacks %q:\n%s", want, out)
		}
	}
}

// `kubectl apic failover ...` runs the krew-named sibling with every argument, flags included, and
// exits with its code.
func TestDispatchPassesArgsAndExitCode(t *testing.T) {
	dir := t.TempDir()
	fakePlugin(t, dir, "kubectl-apic_failover", `echo "args:$*"; exit 5`)
	code, out, _ := run(t, dir, "failover", "--from", "dc1", "--to", "dc2", "-o", "json")
	if code != 5 || strings.TrimSpace(out) != "args:--from dc1 --to dc2 -o json" {
		t.Errorf("exit %d, out %q", code, out)
	}
}

func TestMissingPluginNamesTheFix(t *testing.T) {
	code, _, errOut := run(t, t.TempDir(), "drr", "gw")
	if code == 0 || !strings.Contains(errOut, "kubectl-apic-drr") || !strings.Contains(errOut, "krew plugin apic") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

// Completion is forwarded to the plugin's own cobra __complete.
func TestCompletionForwarded(t *testing.T) {
	dir := t.TempDir()
	fakePlugin(t, dir, "kubectl-apic-drr", `if [ "$1" = __complete ]; then shift; echo "gw-$#"; echo production-gw; echo ":4"; fi`)
	code, out, _ := run(t, dir, cobra.ShellCompRequestCmd, "drr", "")
	if code != 0 || !strings.Contains(out, "production-gw") || !strings.Contains(out, ":4") {
		t.Errorf("exit %d, completion output:\n%s", code, out)
	}
}

// The plugin learns how the user invoked it, whichever name its binary has, so its usage lines say
// `kubectl apic status` and not the binary's name (krew's kubectl-apic_status said kubectl apic-status).
func TestDispatchTellsThePluginItsName(t *testing.T) {
	for _, bin := range []string{"kubectl-apic-status", "kubectl-apic_status"} {
		dir := t.TempDir()
		fakePlugin(t, dir, bin, `echo "$`+cli.InvokedAsEnv+`"`)
		code, out, _ := run(t, dir, "status", "--help")
		if code != 0 || strings.TrimSpace(out) != "kubectl apic status" {
			t.Errorf("%s: exit %d, plugin saw %s=%q", bin, code, cli.InvokedAsEnv, out)
		}
	}
}

// Linked as kubectl_complete-apic, the umbrella turns kubectl's completion call into cobra's
// __complete request.
func TestCompletionExecutableName(t *testing.T) {
	for _, tc := range []struct {
		argv0 string
		args  []string
		want  string
	}{
		{"/home/u/.krew/bin/kubectl_complete-apic", []string{"drr", ""}, "__complete drr "},
		{`C:\krew\bin\kubectl_complete-apic.exe`, []string{""}, "__complete "},
		{"/home/u/.krew/bin/kubectl-apic", []string{"drr", "gw"}, "drr gw"},
		{"kubectl_complete-apic-drr", []string{"x"}, "x"},
	} {
		if got := strings.Join(Args(tc.argv0, tc.args), " "); got != tc.want {
			t.Errorf("Args(%q, %q) = %q, want %q", tc.argv0, tc.args, got, tc.want)
		}
	}
	dir := t.TempDir()
	fakePlugin(t, dir, "kubectl-apic-drr", `if [ "$1" = __complete ]; then echo production-gw; echo ":4"; fi`)
	code, out, _ := run(t, dir, Args("kubectl_complete-apic", []string{"drr", ""})...)
	if code != 0 || !strings.Contains(out, "production-gw\n:4") {
		t.Errorf("exit %d, completion output:\n%s", code, out)
	}
}
