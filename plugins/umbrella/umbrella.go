// Package umbrella is `kubectl apic`: it lists the suite's plugins and runs them as
// `kubectl apic <plugin> ...`, whichever way they were installed. kubectl itself runs the longest
// matching executable, so with the plugins unpacked onto PATH `kubectl apic status` reaches
// kubectl-apic-status directly; installed by krew (the one plugin `apic`, of which krew links only
// kubectl-apic onto PATH) it reaches us, and we hand over to the sibling binary in krew's store.
//
// The umbrella is also kubectl's completion executable for the suite: invoked as
// kubectl_complete-apic (a link to kubectl-apic) it answers cobra's __complete protocol, handing
// plugin words to the plugin's own completion.
package umbrella

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
)

// Plugin is one binary of the suite.
type Plugin struct {
	Name  string // e.g. status
	Short string // one-line description, as `kubectl apic` lists it
}

// Plugins is the suite, in the order `kubectl apic` lists them.
func Plugins() []Plugin {
	return []Plugin{
		{"status", "Show the HA picture of API Connect across both data centers"},
		{"failover", "Fail API Connect management and portal over to the warm-standby site, safely"},
		{"drr", "Re-register a DataPower gateway service without an outage (outage-less DRR)"},
		{"spread", "Check and fix zone spread so every gateway peer group keeps quorum"},
		{"rollout", "Restart or upgrade DataPower gateways member by member without losing quorum"},
	}
}

// Finder locates a plugin's executable; a function field so tests can point it anywhere.
type Finder func(plugin string) (string, error)

// Options of the umbrella command.
type Options struct {
	genericiooptions.IOStreams
	Find Finder
	// Exec runs the plugin binary; it replaces this process on Unix (see execPlugin).
	// env is added to the plugin's environment.
	Exec func(ctx context.Context, path string, args []string, streams genericiooptions.IOStreams, env ...string) error
}

// NewOptions returns options with the real dependencies.
func NewOptions(streams genericiooptions.IOStreams) *Options {
	return &Options{IOStreams: streams, Find: FindSibling, Exec: execPlugin}
}

// Main is the umbrella binary's main: argv is os.Args (its argv[0] says whether kubectl runs us as
// the completion executable).
func Main(argv []string, streams genericiooptions.IOStreams) int {
	cmd := NewCommand(streams)
	cmd.SetArgs(Args(argv[0], argv[1:]))
	return cli.Main(cmd, streams)
}

// NewCommand builds `kubectl apic`.
func NewCommand(streams genericiooptions.IOStreams) *cobra.Command {
	return NewCommandWithOptions(NewOptions(streams))
}

// NewCommandWithOptions builds `kubectl apic` around o (tests inject dependencies through o).
func NewCommandWithOptions(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "apic",
		Short: "kubectl plugins for IBM API Connect high availability",
		Long: `kubectl apic runs IBM API Connect's high-availability runbooks as safe, scriptable commands.

Each command is its own binary (kubectl-apic-status, ...), found next to kubectl-apic (krew's
store) or on PATH. oc finds these plugins the same way (oc apic status).

Completion of kubectl apic <TAB> needs kubectl's completion executable kubectl_complete-apic on
PATH: with krew, run once
  ln -sf kubectl-apic "${KREW_ROOT:-$HOME/.krew}/bin/kubectl_complete-apic"`,
		Example: `  # List the plugins and whether they are installed
  kubectl apic

  # Show both data centers
  kubectl apic status --context dc1 --peer-context dc2`,
		Args: cobra.NoArgs,
	}
	for _, p := range Plugins() {
		cmd.AddCommand(o.pluginCommand(p))
	}
	return cli.Plugin(cmd, "kubectl apic", "kubectl-apic", o.IOStreams, o)
}

// Complete has nothing to resolve: the listing reads no cluster.
func (o *Options) Complete(*cobra.Command, []string) error { return nil }

// Validate has no flags to check.
func (o *Options) Validate() error { return nil }

// Run lists the plugins.
func (o *Options) Run(context.Context) error { return o.List() }

func (o *Options) pluginCommand(p Plugin) *cobra.Command {
	return &cobra.Command{
		Use:                p.Name,
		Short:              p.Short,
		Example:            fmt.Sprintf("  kubectl apic %s --help", p.Name),
		DisableFlagParsing: true, // every flag belongs to the plugin
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := o.Find(p.Name)
			if err != nil {
				return err
			}
			// The plugin's usage lines name the command the user typed, not the binary's name.
			return o.Exec(cmd.Context(), path, args, o.IOStreams, cli.InvokedAsEnv+"=kubectl apic "+p.Name)
		},
		// Completion is the plugin's own: ask it through cobra's __complete protocol.
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			path, err := o.Find(p.Name)
			if err != nil {
				return nil, cobra.ShellCompDirectiveError
			}
			return complete(cmd.Context(), path, append(args, toComplete))
		},
	}
}

// List prints the plugins with where each is installed.
func (o *Options) List() error {
	fmt.Fprintln(o.Out, "kubectl apic: IBM API Connect high-availability runbooks as commands.")
	fmt.Fprintln(o.Out)
	fmt.Fprintln(o.Out, "Plugins:")
	for _, p := range Plugins() {
		where := "not installed"
		if path, err := o.Find(p.Name); err == nil {
			where = path
		}
		fmt.Fprintf(o.Out, "  %-9s %s\n            (%s)\n", p.Name, p.Short, where)
	}
	fmt.Fprintln(o.Out)
	fmt.Fprintln(o.Out, "Run 'kubectl apic <plugin> --help' for a plugin's usage.")
	return nil
}

// Names are the executable names a plugin may be installed under: the plain one, and krew's, which
// kubectl invokes as `kubectl apic-<name>`.
func Names(plugin string) []string {
	names := []string{"kubectl-apic-" + plugin, "kubectl-apic_" + plugin}
	if runtime.GOOS == "windows" {
		for i := range names {
			names[i] += ".exe"
		}
	}
	return names
}

// FindSibling looks for the plugin next to this executable first (the same release), then on PATH.
func FindSibling(plugin string) (string, error) {
	if self, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(self); err == nil {
			self = real
		}
		for _, n := range Names(plugin) {
			p := filepath.Join(filepath.Dir(self), n)
			if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
				return p, nil
			}
		}
	}
	for _, n := range Names(plugin) {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", notInstalled(plugin)
}

func notInstalled(plugin string) error {
	return exitcode.Newf(exitcode.Error, "plugin %q is not installed: put kubectl-apic-%s next to kubectl-apic or on PATH (the kubectl-apic-suite release archive and the krew plugin apic carry it)", plugin, plugin)
}

// complete runs `<plugin> __complete args...` and parses cobra's completion output: one candidate a
// line, then ":<directive>".
func complete(ctx context.Context, path string, args []string) ([]cobra.Completion, cobra.ShellCompDirective) {
	out, err := exec.CommandContext(ctx, path, append([]string{cobra.ShellCompRequestCmd}, args...)...).Output()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var comps []cobra.Completion
	directive := cobra.ShellCompDirectiveDefault
	for _, line := range strings.Split(string(bytes.TrimSpace(out)), "\n") {
		if strings.HasPrefix(line, ":") {
			if d, err := strconv.Atoi(line[1:]); err == nil {
				directive = cobra.ShellCompDirective(d)
			}
			continue
		}
		if line != "" && !strings.HasPrefix(line, "Completion ended") {
			comps = append(comps, line)
		}
	}
	return comps, directive
}

// CompletionName is the name kubectl looks up for completing `kubectl apic ...` (kubectl's
// plugin_completion.go: kubectl_complete-<plugin>).
const CompletionName = "kubectl_complete-apic"

// Args are the umbrella's arguments: invoked as CompletionName, kubectl passes the words to complete,
// which are cobra's __complete request.
func Args(argv0 string, args []string) []string {
	base := argv0[strings.LastIndexAny(argv0, `/\`)+1:]
	if strings.TrimSuffix(base, ".exe") == CompletionName {
		return append([]string{cobra.ShellCompRequestCmd}, args...)
	}
	return args
}

// runPlugin runs the plugin as a child with our streams and exits with its code.
func runPlugin(ctx context.Context, path string, args []string, streams genericiooptions.IOStreams, env ...string) error {
	c := exec.CommandContext(ctx, path, args...)
	c.Env = append(os.Environ(), env...)
	c.Stdin, c.Stdout, c.Stderr = streams.In, streams.Out, streams.ErrOut
	err := c.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return cli.Silent(exitcode.Code(ee.ExitCode()))
	}
	return err
}
