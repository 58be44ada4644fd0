// Package rollout is `kubectl apic rollout`: restart or upgrade the DataPower members of an API
// Connect gateway one at a time, data center by data center, never losing peering quorum, with the
// primary last and availability measured. The mechanics live in pkg/rollout; run.go reads like the
// runbook.
package rollout

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/pkg/datapower"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/kube"
	"github.com/kubectl-apic/kubectl-apic/pkg/printers"
	"github.com/kubectl-apic/kubectl-apic/pkg/probe"
	"github.com/kubectl-apic/kubectl-apic/pkg/progress"
	prollout "github.com/kubectl-apic/kubectl-apic/pkg/rollout"
)

// Actions (the subcommands).
const (
	ActionRestart = prollout.ActionRestart
	ActionUpgrade = prollout.ActionUpgrade
	ActionUndo    = prollout.ActionUndo
	ActionStatus  = "status"
)

// Result document kinds in -o json|yaml (apiVersion apic.kubectl-apic.io/v1alpha1).
const (
	ReportKind = "RolloutReport"
	StatusKind = "RolloutStatus"
)

// Options of `kubectl apic rollout`.
type Options struct {
	// Shell: streams, terminal rule (IsTerminal, Getenv), ConfigFlags, Print; the same in every plugin.
	cli.Shell

	Action      string
	Gateway     string
	PeerContext string
	Admin       datapower.AdminKeys
	Domain      string
	// Version and License are upgrade's.
	Version string
	License string

	DrainHook   string
	UndrainHook string
	SmokeCmd    string
	VerifyCmd   string

	RestartTimeout time.Duration
	ReadyTimeout   time.Duration
	RejoinTimeout  time.Duration
	SwitchTimeout  time.Duration
	CommandTimeout time.Duration
	PollInterval   time.Duration
	ProbeWindow    time.Duration

	DryRun      bool
	Yes         bool
	ForceUnlock bool
	// Fresh plans anew although the journal holds an unfinished run.
	Fresh    bool
	LogDir   string
	Progress progress.Mode
	Probe    probe.Options

	// Dependencies, replaced in tests.

	// NewSites resolves the kubeconfig flags into one site per context.
	NewSites func(base *genericclioptions.ConfigFlags, contexts []string) ([]*kube.Site, error)
	// Attach opens a member's console stream; default pods/attach (datapower.Attach).
	Attach func(ctx context.Context, site *kube.Site, target datapower.AttachTarget) (datapower.Conn, error)
	// Confirm asks before the first change; default cli.ConfirmContext.
	Confirm cli.ConfirmFunc
	// RunHook runs --drain-hook, --smoke-cmd, --undrain-hook, --verify-cmd; default sh -c.
	RunHook prollout.HookFunc
	// Now is the clock.
	Now func() time.Time

	sites []*kube.Site
	probe *probe.Probe
}

// NewOptions returns options with production dependencies.
func NewOptions(streams genericiooptions.IOStreams) *Options {
	return &Options{
		Shell:          cli.NewShell(streams, printers.NewFlags()),
		Admin:          datapower.NewAdminKeys(),
		Domain:         "apiconnect",
		RestartTimeout: prollout.DefaultRestartTimeout,
		ReadyTimeout:   prollout.DefaultReadyTimeout,
		RejoinTimeout:  prollout.DefaultRejoinTimeout,
		SwitchTimeout:  prollout.DefaultSwitchTimeout,
		CommandTimeout: datapower.DefaultCommandTimeout,
		PollInterval:   prollout.DefaultPollInterval,
		ProbeWindow:    prollout.DefaultProbeWindow,
		Progress:       progress.ModeAuto,
		NewSites:       kube.NewSites,
		Attach: func(ctx context.Context, site *kube.Site, t datapower.AttachTarget) (datapower.Conn, error) {
			return datapower.Attach(ctx, site.Config, site.Kube, t)
		},
		Confirm: cli.ConfirmContext,
		RunHook: prollout.RunShell,
		Now:     time.Now,
	}
}

const longHelp = `Restart or upgrade the DataPower members of an API Connect gateway one at a time, data
center by data center, never losing gateway-peering quorum, with peering primaries handed to an
already refreshed member before their member goes, and availability measured.

  restart   delete each member's pod in our order (the StatefulSet creates it again): after an
            additionalDomainConfig ConfigMap change, or a gateway extension deployed "deferred"
            that needs the apic-gw-service restarted. Members that are primary of nothing go
            first (highest ordinal first); the member holding the primaries (the keeper) goes
            last, and every other member hands its primaries to the keeper, the keeper to the
            first member refreshed.
  upgrade   --version V [--license L]: IBM's lever is the GatewayCluster's spec.version; the
            operator then rolls the gateway StatefulSet itself, highest ordinal first, replacing a
            pod only when the one before it is Ready (IBM: "Kubernetes removes the pod from the load
            balancer configuration, deletes the pod and then starts a new pod"). API Connect's
            operator owns the DataPowerService, and IBM's "Customizing a DataPower deployment"
            maps no GatewayCluster property onto its updateStrategy: a tool cannot order the pods
            of an upgrade without fighting the operator. So upgrade checks IBM's rules first
            (management at V or newer, template overrides removed, peering healthy with one primary
            per object), saves the spec (EXPORT), moves every primary to the lowest ordinal (taken
            last), changes spec.version (CHANGE), then follows the roll member by member and hands
            the primaries to the first upgraded member as soon as it is back. It verifies every pod's
            own productVersion, not only the CR's reconciled version (IBM's known failure with
            several primaries). A GatewayCluster made from a top-level APIConnectCluster (Cloud
            Pak for Integration) is refused: its version is changed on the top-level CR.
  undo      restore the configuration saved by the last rollouts (the ConfigMaps that
            additionalDomainConfig names and spec.additionalDomainConfig: the newest saved state
            that differs from the current one) and restart again, as the rollback of an extension
            change in "Managed Extension Updates" does. A version is never undone: IBM: "Interrupting
            and rolling back API Connect upgrades is not possible."
  status    every member: pod, node, zone, ready, revision, productVersion, peering role; and the
            last run's table from the journal. Read-only.

Per member, the phases and their gates:
  PRECHECK        every other member Ready and in peering; every peering object keeps quorum
                  (n/2+1 members active) without this member. Else refused (exit 5 before any
                  change, 40 later) and nothing more is touched.
  SWITCH-PRIMARY  gateway-peering-switch-primary <peering>, on the member taking over, for every
                  peering object the member is primary of; read back from
                  show gateway-peering-status (its output is not documented).
  RESTART         delete the pod (restart, undo) or see the StatefulSet controller replace it
                  (upgrade); --restart-timeout.
  READY           the new pod Ready (--ready-timeout, default 10m: our choice).
  REJOIN          the member back in every peering object: link ok, no pending updates, exactly one
                  primary per object (--rejoin-timeout).
  VERIFY          the pod runs the StatefulSet's update revision; upgrade: productVersion is V;
                  restart and undo: DataPower started after the last change of every ConfigMap
                  additionalDomainConfig names; then --verify-cmd if given.
  PROBE           with --probe, the traffic window after the member (--probe-window) passes the
                  gates; else SKIPPED.
Per site: DRAIN (--drain-hook) before its first member, SMOKE (--smoke-cmd, the site still
drained: non-zero stops the rollout there) and UNDRAIN (--undrain-hook) after its last. Hooks run
with sh -c and ROLLOUT_ACTION, ROLLOUT_GATEWAY, ROLLOUT_SITE, ROLLOUT_NAMESPACE, ROLLOUT_STEP
(and ROLLOUT_POD, ROLLOUT_POD_IP, ROLLOUT_VERSION for --verify-cmd) in the environment.

Everything is checked before the first change; --dry-run prints the plan (member order, primaries
to hand over, hooks, gates) and changes nothing. One rollout per gateway: the Lease
apic-rollout-<gateway> in the gateway's namespace on every site (a second run is refused, naming
the holder; --force-unlock takes over a lease whose run is gone). The journal, ConfigMap
apic-rollout-<gateway>, records a member's start and each phase that changes something
(SWITCH-PRIMARY, RESTART, the site steps) before it runs: a re-run after Ctrl-C, a crash or a lost
connection continues at that member and phase, never deletes a pod twice, and redoes the phases
that only wait and read (--fresh plans anew).

The summary table (MEMBER x phases: PASSED (s), FAILED (code), SKIPPED, UNVERIFIED, UNKNOWN while
the result of an interrupted phase is not known, * not reached) goes to stdout, progress to
stderr; -o json|yaml prints a RolloutReport (docs/rollout-schema.md). Each member gets a log
(phases, its attach transcript with the password redacted, pod events) in --log-dir, default
<user cache dir>/kubectl-apic/rollout/<gateway>/<run>. Exit codes (docs/exit-codes.md): 5 refused,
40 PRECHECK, 41 SWITCH-PRIMARY, 42 RESTART, 43 READY, 44 REJOIN, 45 VERIFY, 46 PROBE, 47 a hook,
48 EXPORT or the spec change, 8 a probe gate breached before a member, 130 interrupted.`

const examples = `  # The plan only: member order, primaries to hand over, hooks; nothing changes
  %[1]s restart production-gw --context dc1 --peer-context dc2 -n apic --dry-run

  # Both data centers, each taken out of the global load balancer while it restarts
  %[1]s restart production-gw --context dc1 --peer-context dc2 -n apic --yes \
      --drain-hook 'lb-ctl disable $ROLLOUT_SITE' --undrain-hook 'lb-ctl enable $ROLLOUT_SITE' \
      --smoke-cmd './smoke-tests.sh $ROLLOUT_SITE' --probe https://api.example.com/ping

  # Upgrade both data centers, checking every pod's productVersion
  %[1]s upgrade production-gw --version 10.0.8.1 --context dc1 --peer-context dc2 -n apic

  # Put back the configuration the last rollout ran, then restart again
  %[1]s undo production-gw --context dc1 -n apic

  # Members, versions, peering roles and the last run
  %[1]s status production-gw --context dc1 --peer-context dc2 -n apic`

// NewCommand builds the command; name is how the user invoked it (for usage lines).
func NewCommand(name string, streams genericiooptions.IOStreams) *cobra.Command {
	return NewCommandWithOptions(name, NewOptions(streams))
}

// NewCommandWithOptions builds the command around o (tests inject dependencies).
func NewCommandWithOptions(name string, o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "rollout SUBCOMMAND GATEWAYCLUSTER",
		Short:   "Restart or upgrade DataPower gateways member by member without losing quorum",
		Long:    longHelp,
		Example: fmt.Sprintf(examples, name),
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	pf := cmd.PersistentFlags()
	o.ConfigFlags.AddFlags(pf)
	pf.StringVar(&o.PeerContext, "peer-context", "", "Kubeconfig context of the second data center, rolled after --context")
	pf.StringVar(&o.Domain, "domain", o.Domain, "API Connect application domain on the gateways")
	o.Admin.AddFlags(pf)
	pf.DurationVar(&o.CommandTimeout, "command-timeout", o.CommandTimeout, "Timeout of each DataPower CLI command")
	completeContexts := cli.CompleteContexts(o.ConfigFlags)
	completeGateways := func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return o.completeGateways(cmd.Context(), toComplete), cobra.ShellCompDirectiveNoFileComp
	}
	for _, a := range []struct{ action, short, example string }{
		{ActionRestart, "Restart every member of a gateway, one at a time, primary last", `  # The plan only, then both data centers drained at the load balancer in turn
  %[1]s restart production-gw --context dc1 --peer-context dc2 -n apic --dry-run
  %[1]s restart production-gw --context dc1 --peer-context dc2 -n apic --yes \
      --drain-hook 'lb-ctl disable $ROLLOUT_SITE' --undrain-hook 'lb-ctl enable $ROLLOUT_SITE' \
      --smoke-cmd './smoke-tests.sh $ROLLOUT_SITE' --probe https://api.example.com/ping

  # After Ctrl-C or a failure: the same command continues where the run stopped
  %[1]s restart production-gw --context dc1 -n apic --yes`},
		{ActionUpgrade, "Upgrade a gateway's version, following the operator's roll member by member", `  # Check IBM's rules and print the plan
  %[1]s upgrade production-gw --version 10.0.8.1 --context dc1 --peer-context dc2 -n apic --dry-run

  # Upgrade both data centers, verifying every pod's productVersion
  %[1]s upgrade production-gw --version 10.0.8.1 --context dc1 --peer-context dc2 -n apic --yes`},
		{ActionUndo, "Restore the configuration saved by the last rollout and restart again", `  # Put back the ConfigMaps and additionalDomainConfig the last rollout ran, then restart
  %[1]s undo production-gw --context dc1 -n apic --dry-run
  %[1]s undo production-gw --context dc1 -n apic --yes`},
		{ActionStatus, "Show each member's version, revision and peering role, and the last run", `  # Both data centers and the journal's last run
  %[1]s status production-gw --context dc1 --peer-context dc2 -n apic

  # As a document for a pipeline
  %[1]s status production-gw --context dc1 -n apic -o json`},
	} {
		action := a.action
		sub := &cobra.Command{
			Use: action + " GATEWAYCLUSTER", Short: a.short, Args: cobra.ExactArgs(1),
			Long:              a.short + ".\n\n" + subcommandHelp(action) + "\nSee kubectl apic rollout --help for the phases, gates, journal and exit codes.",
			Example:           fmt.Sprintf(a.example, name),
			ValidArgsFunction: completeGateways,
			RunE: func(cmd *cobra.Command, args []string) error {
				o.Action = action
				return cli.RunE(o)(cmd, args)
			},
		}
		f := sub.Flags()
		o.Print.AddFlags(sub)
		if action != ActionStatus {
			o.addRunFlags(sub)
		}
		if action == ActionUpgrade {
			f.StringVar(&o.Version, "version", "", "API Connect version to upgrade the gateway to (spec.version), e.g. 10.0.8.1")
			f.StringVar(&o.License, "license", "", "License ID to set with the version (spec.license.license), when the new version needs another")
		}
		cmd.AddCommand(sub)
	}
	_ = cmd.RegisterFlagCompletionFunc("context", completeContexts)
	_ = cmd.RegisterFlagCompletionFunc("peer-context", completeContexts)
	return cli.Plugin(cmd, name, "kubectl-apic-rollout", o.IOStreams, o)
}

// addRunFlags are the flags of the mutating subcommands.
func (o *Options) addRunFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.BoolVar(&o.DryRun, "dry-run", false, "Check everything and print the plan; change nothing")
	f.BoolVarP(&o.Yes, "yes", "y", false, "Do not ask for confirmation")
	f.BoolVar(&o.ForceUnlock, "force-unlock", false, "Take the gateway's rollout lease even from a live holder (only once you are sure that run is gone)")
	f.BoolVar(&o.Fresh, "fresh", false, "Plan anew although the journal holds an unfinished rollout (it is not continued)")
	f.StringVar(&o.DrainHook, "drain-hook", "", "Command run before a site's first member (take the site out of the global load balancer)")
	f.StringVar(&o.UndrainHook, "undrain-hook", "", "Command run after a site's last member and --smoke-cmd (put the site back)")
	f.StringVar(&o.SmokeCmd, "smoke-cmd", "", "Command run after a site's last member, still drained; non-zero stops the rollout")
	f.StringVar(&o.VerifyCmd, "verify-cmd", "", "Command run in each member's VERIFY phase (ROLLOUT_POD, ROLLOUT_POD_IP set); non-zero fails it")
	f.DurationVar(&o.RestartTimeout, "restart-timeout", o.RestartTimeout, "How long the StatefulSet may take to create a deleted pod again")
	f.DurationVar(&o.ReadyTimeout, "ready-timeout", o.ReadyTimeout, "How long a restarted member may take to become Ready")
	f.DurationVar(&o.RejoinTimeout, "rejoin-timeout", o.RejoinTimeout, "How long a Ready member may take to rejoin gateway peering")
	f.DurationVar(&o.SwitchTimeout, "switch-timeout", o.SwitchTimeout, "How long gateway-peering-switch-primary may take to show in gateway-peering-status")
	f.DurationVar(&o.PollInterval, "poll-interval", o.PollInterval, "How often gateway-peering-status is read while waiting")
	f.DurationVar(&o.ProbeWindow, "probe-window", o.ProbeWindow, "How long PROBE watches traffic after each member (with --probe)")
	f.StringVar(&o.LogDir, "log-dir", "", "Directory for the per-member logs and probe samples (default: <user cache dir>/kubectl-apic/rollout/<gateway>/<run>)")
	probe.AddFlags(f, &o.Probe)
	cli.AddProgressFlag(cmd, &o.Progress)
}

// Complete resolves the sites.
func (o *Options) Complete(_ *cobra.Command, args []string) error {
	o.Gateway = args[0]
	sites, err := o.NewSites(o.ConfigFlags, kube.Contexts(o.ConfigFlags, o.PeerContext))
	if err != nil {
		return err
	}
	o.sites = sites
	return nil
}

// Validate checks the options before anything is read or changed.
func (o *Options) Validate() error {
	if err := o.Print.Validate(); err != nil {
		return err
	}
	if err := o.Admin.Validate(); err != nil {
		return err
	}
	if err := o.Probe.Validate(); err != nil {
		return err
	}
	switch {
	case len(o.sites) == 2 && o.sites[0].Name == o.sites[1].Name:
		return exitcode.UsageErrorf("--peer-context %s is the same as --context: the second site needs its own context", o.PeerContext)
	case o.Action == ActionUpgrade && o.Version == "":
		return exitcode.UsageErrorf("upgrade needs --version, e.g. --version 10.0.8.1")
	case o.Action == ActionUpgrade && strings.ContainsAny(o.Version, " \t/"):
		return exitcode.UsageErrorf("--version %q is not a version such as 10.0.8.1", o.Version)
	case o.Domain == "":
		return exitcode.UsageErrorf("--domain must not be empty")
	case o.RestartTimeout <= 0 || o.ReadyTimeout <= 0 || o.RejoinTimeout <= 0 || o.SwitchTimeout <= 0 ||
		o.CommandTimeout <= 0 || o.PollInterval <= 0 || o.ProbeWindow <= 0:
		return exitcode.UsageErrorf("timeouts, --poll-interval and --probe-window must be positive")
	}
	return nil
}

// Run runs the subcommand.
func (o *Options) Run(ctx context.Context) error {
	if o.Action == ActionStatus {
		return o.runStatus(ctx)
	}
	return o.runRollout(ctx)
}

// completeGateways lists GatewayCluster names in the namespace for shell completion.
func (o *Options) completeGateways(ctx context.Context, prefix string) []cobra.Completion {
	site, err := kube.NewSite(o.ConfigFlags)
	return kube.CompleteNames(ctx, site, err, apic.GatewayClusterKind.GVR(), prefix)
}

// subcommandHelp is the subcommand's paragraph of the long help.
func subcommandHelp(action string) string {
	var out []string
	in := false
	for _, line := range strings.Split(longHelp, "\n") {
		switch {
		case strings.HasPrefix(line, "  "+action+" "):
			in = true
		case in && (strings.HasPrefix(line, "  ") && len(line) > 2 && line[2] != ' ' || line == ""):
			in = false
		}
		if in {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n") + "\n"
}
