// Package failover is `kubectl apic failover`: IBM's 2DCDR "Failing over to the warm-standby" runbook
// (management, then portal; subsystem CRs or the CP4I top-level APIConnectCluster) as one resumable
// command. The mechanics live in pkg/failover; this package is flags, wiring and output.
package failover

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/failover"
	"github.com/kubectl-apic/kubectl-apic/pkg/kube"
	"github.com/kubectl-apic/kubectl-apic/pkg/lock"
	"github.com/kubectl-apic/kubectl-apic/pkg/printers"
	"github.com/kubectl-apic/kubectl-apic/pkg/probe"
	"github.com/kubectl-apic/kubectl-apic/pkg/progress"
)

// Subsystem values of --subsystem.
const (
	SubsystemAll = "all"
)

// Options of `kubectl apic failover`.
type Options struct {
	// Shell: streams, terminal rule (IsTerminal, Getenv), ConfigFlags, Print; the same in every plugin.
	cli.Shell

	From, To       string
	Subsystem      string
	Names          []string
	Yes            bool
	DryRun         bool
	FromFenced     bool
	ForceUnlock    bool
	RouterHook     string
	DemoteTimeout  time.Duration
	PromoteTimeout time.Duration
	Progress       progress.Mode
	Probe          probe.Options

	// Dependencies, replaced by tests.
	Now      func() time.Time
	NewSites func(base *genericclioptions.ConfigFlags, contexts []string) ([]*kube.Site, error)
	RunHook  func(ctx context.Context, command string, env []string, out io.Writer) error
	Confirm  cli.ConfirmFunc
	// Lock tunes the lease (tests shorten it); zero values are lock's defaults.
	Lock  lock.Options
	Trace func(failover.TraceEvent)
	// Result is the last run's result (tests and the benchmark read it).
	Result *failover.Result

	name       string
	sites      []*kube.Site // --from, --to
	subsystems []apic.Subsystem
	command    string
	probe      *probe.Probe
}

// NewOptions returns options with the real dependencies.
func NewOptions(streams genericiooptions.IOStreams) *Options {
	return &Options{
		Shell:     cli.NewShell(streams, printers.NewFlags()),
		Subsystem: SubsystemAll,
		Progress:  progress.ModeAuto,
		Now:       time.Now,
		NewSites:  kube.NewSites,
		RunHook:   runShell,
		Confirm:   cli.ConfirmContext,
	}
}

const example = `  # Fail over management, then portal, from dc1 to dc2 (kubeconfig contexts), asking before any change
  kubectl apic failover --from dc1 --to dc2

  # Show the plan (each patch, the condition waited for, IBM's documented duration) and change nothing
  kubectl apic failover --from dc1 --to dc2 --dry-run

  # Several portal services: fail over only one of them (default: every pair, in IBM's order)
  kubectl apic failover --from dc1 --to dc2 --subsystem portal --name portal-b

  # Management only, no prompt, run a script that points the router at the new site
  kubectl apic failover --from dc1 --to dc2 --subsystem management --yes --router-hook ./switch-router.sh

  # The same command again resumes an interrupted failover; reversed, it fails back
  kubectl apic failover --from dc2 --to dc1

  # dc1 is down: after isolating its network, promote dc2 (prints how to reconnect dc1 safely)
  kubectl apic failover --from dc1 --to dc2 --from-fenced

  # Machine-readable: JSON-lines progress on stderr, JSON summary on stdout
  kubectl apic failover --from dc1 --to dc2 --yes --progress=jsonl -o json`

// NewCommand builds the command; name is how the user invoked it (for usage lines).
func NewCommand(name string, streams genericiooptions.IOStreams) *cobra.Command {
	return NewCommandWithOptions(name, NewOptions(streams))
}

// NewCommandWithOptions builds the command around o (tests inject dependencies into o).
func NewCommandWithOptions(name string, o *Options) *cobra.Command {
	o.name = name
	cmd := &cobra.Command{
		Use:   "failover --from CONTEXT --to CONTEXT",
		Short: "Fail API Connect management and portal over to the warm-standby data center (2DCDR)",
		Long: `Fail API Connect's management and portal subsystems over from the active data center to the
warm-standby, following IBM's runbook "Failing over to the warm-standby": demote --from first, wait
until it is passive, then promote --to, so that both sites are never active (split-brain).

Demoting a site DELETES its management database, to be replaced from the peer. Every run takes the
Lease apic-failover on both sites, so two failovers cannot interleave. Re-running the same command
resumes an interrupted failover; once the requested end state holds it does nothing and exits 0.
Before any change, pre-flight checks that the warm-standby is healthy: replicating (haStatus), phase
Running, READY complete and every pod of its subsystems ready; otherwise it refuses (exit 5).
Every pair of each subsystem is failed over (IBM: "If you have multiple Developer Portal services,
you must repeat these steps for each"); --name narrows. While a step needs the peer, a site that
reports PeerNotReachable for 30s stops the run with the state it left and how to resume.
Progress goes to stderr, the summary to stdout.`,
		Example: example,
		Args:    cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringVar(&o.From, "from", "", "Kubeconfig context of the active data center, to be demoted to warm-standby")
	f.StringVar(&o.To, "to", "", "Kubeconfig context of the warm-standby data center, to be promoted to active")
	f.StringVar(&o.Subsystem, "subsystem", o.Subsystem, "Subsystem to fail over: management, portal or all (management first, then portal)")
	f.StringSliceVar(&o.Names, "name", nil, "Fail over only the subsystem pairs whose CR has this name (repeatable, or comma-separated); default every pair of the subsystems, e.g. each of several portal services")
	f.BoolVarP(&o.Yes, "yes", "y", false, "Do not ask for confirmation")
	f.BoolVar(&o.DryRun, "dry-run", false, "Check and print the plan; change nothing")
	f.BoolVar(&o.FromFenced, "from-fenced", false, "--from is unreachable AND its network is isolated (fenced): promote --to without demoting --from")
	f.BoolVar(&o.ForceUnlock, "force-unlock", false, "Take the apic-failover lease over even if another run holds it (only when that run is certainly dead)")
	f.StringVar(&o.RouterHook, "router-hook", "", "Shell command run after each subsystem's promotion (IBM: update your dynamic router); gets APIC_FAILOVER_FROM, APIC_FAILOVER_TO, APIC_SUBSYSTEM, APIC_NAME, APIC_NAMESPACE, APIC_FAILOVER_FENCED")
	f.DurationVar(&o.DemoteTimeout, "demote-timeout", 0, "Limit for each demotion wait (default twice IBM's documented time: management 30m, portal 20m)")
	f.DurationVar(&o.PromoteTimeout, "promote-timeout", 0, "Limit for each promotion wait (default twice IBM's documented time: management 10m, portal 80m, 60m with --from-fenced)")
	cli.AddProgressFlag(cmd, &o.Progress)
	probe.AddFlags(f, &o.Probe)
	o.Print.AddFlags(cmd)
	o.ConfigFlags.AddFlags(f)

	contexts := cli.CompleteContexts(o.ConfigFlags)
	_ = cmd.RegisterFlagCompletionFunc("from", contexts)
	_ = cmd.RegisterFlagCompletionFunc("to", contexts)
	_ = cmd.RegisterFlagCompletionFunc("subsystem", cobra.FixedCompletions([]string{"management", "portal", SubsystemAll}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(o.Print.AllowedFormats(), cobra.ShellCompDirectiveNoFileComp))
	return cli.Plugin(cmd, name, "kubectl-apic-failover", o.IOStreams, o)
}

// Complete resolves the two sites (--from, --to) and fills in the subsystems and the command line
// (for the lease holder and resume hints).
func (o *Options) Complete(cmd *cobra.Command, _ []string) error {
	// Either order on the command line, IBM's order in the run: management first, then portal.
	ibmOrder := []apic.Subsystem{apic.Management, apic.Portal}
	if subs, err := apic.ParseSubsystems(o.Subsystem, ibmOrder); err == nil {
		o.subsystems = slices.DeleteFunc(slices.Clone(ibmOrder), func(s apic.Subsystem) bool { return !slices.Contains(subs, s) })
	}
	parts := []string{o.name}
	cmd.Flags().Visit(func(f *pflag.Flag) {
		switch f.Name {
		case "dry-run", "force-unlock":
			return
		}
		if f.Value.Type() == "bool" {
			parts = append(parts, "--"+f.Name)
			return
		}
		if f.Name == "probe-header" { // header values may be credentials: never in the lease or the hints
			parts = append(parts, "--probe-header=<redacted>")
			return
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			parts = append(parts, fmt.Sprintf("--%s=%s", f.Name, shellQuote(strings.Join(sv.GetSlice(), ","))))
			return
		}
		parts = append(parts, fmt.Sprintf("--%s=%s", f.Name, shellQuote(f.Value.String())))
	})
	o.command = strings.Join(parts, " ")
	if o.From == "" || o.To == "" || o.From == o.To {
		return nil // Validate says what is wrong; there is no pair of sites to resolve
	}
	sites, err := o.NewSites(o.ConfigFlags, []string{o.From, o.To})
	if err != nil {
		return err
	}
	o.sites = sites
	return nil
}

// Validate checks the options before anything is read or changed.
func (o *Options) Validate() error {
	switch {
	case o.From == "" || o.To == "":
		return exitcode.UsageErrorf("--from and --to are required: the kubeconfig contexts of the active and the warm-standby data center (see kubectl config get-contexts)")
	case o.From == o.To:
		return exitcode.UsageErrorf("--from and --to are the same context %q: a failover needs two data centers", o.From)
	case len(o.subsystems) == 0:
		return exitcode.UsageErrorf("--subsystem must be management, portal or all, not %q", o.Subsystem)
	case o.DemoteTimeout < 0 || o.PromoteTimeout < 0:
		return exitcode.UsageErrorf("timeouts must not be negative")
	}
	if err := o.Probe.Validate(); err != nil {
		return err
	}
	return o.Print.Validate()
}

// Run executes the failover and prints the summary.
func (o *Options) Run(ctx context.Context) error {
	sites := o.sites
	rep := o.Reporter(o.ErrOut, o.Progress, o.Now)
	// The plan and the hook's output share stderr with the progress lines: on a terminal they go
	// through the reporter so its live lines are not drawn over them; as JSON lines they become events.
	side := rep.Writer()
	cfg := failover.Config{
		Req:         failover.Request{From: o.From, To: o.To, Subsystems: o.subsystems, Names: o.Names, Fenced: o.FromFenced},
		Timeouts:    failover.Timeouts{Demote: o.DemoteTimeout, Promote: o.PromoteTimeout},
		Yes:         o.Yes,
		DryRun:      o.DryRun,
		ForceUnlock: o.ForceUnlock,
		Command:     o.command,
		Lock:        o.Lock,
		Confirm: func(ctx context.Context, q string) error {
			defer rep.Pause()() // no live line redrawn over the question while it waits
			return o.Confirm(ctx, o.IOStreams, q)
		},
		Reporter: rep,
		PlanOut:  side,
		Now:      o.Now,
		Trace:    o.Trace,
	}
	if o.RouterHook != "" {
		cfg.RouterHook = func(ctx context.Context, env []string) error { return o.RunHook(ctx, o.RouterHook, env, side) }
	}
	var err error
	if cfg.Probe, err = o.startProbe(ctx); err != nil {
		_ = rep.Close()
		return err
	}
	res, runErr := failover.Run(ctx, cfg, sites[0], sites[1])
	runErr = o.stopProbe(res, runErr)
	_ = rep.Close()
	o.Result = res
	if err := o.print(res, sites[1].Namespace, cfg); err != nil && runErr == nil {
		return err
	}
	return runErr
}

func (o *Options) print(res *failover.Result, namespace string, cfg failover.Config) error {
	if o.Print.IsStructured() {
		return o.Print.PrintObject(o.Out, failover.ResultKind, res)
	}
	if res.DryRun && res.Outcome == failover.OutcomePlanned {
		var steps []failover.Step
		for _, s := range res.Steps[1:] {
			st := s.Step
			st.Expected = time.Duration(s.ExpectedSeconds * float64(time.Second))
			st.Timeout = time.Duration(s.TimeoutSeconds * float64(time.Second))
			steps = append(steps, st)
		}
		failover.WritePlan(o.Out, cfg.Req, steps)
		fmt.Fprintln(o.Out)
	}
	style := o.Style(o.Out)
	if err := printers.RenderSections(o.Out, []printers.Table{res.SummaryTable()}, false, style); err != nil {
		return err
	}
	if _, err := io.WriteString(o.Out, res.Text()); err != nil {
		return err
	}
	return res.Probe.Render(o.Out, style)
}

// runShell runs the router hook with sh -c, its output going to out.
func runShell(ctx context.Context, command string, env []string, out io.Writer) error {
	c := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	c.Env = append(os.Environ(), env...)
	c.Stdout, c.Stderr = out, out
	return c.Run()
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '-' || r == '_' || r == '.' || r == '/' || r == ':' || r == '=' || r == ',' ||
			(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9'))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
