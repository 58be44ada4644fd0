// Package spread is `kubectl apic spread`: checks whether losing one availability zone would take an
// API Connect gateway peer group (or a subsystem's replicas) out of quorum, and adds or removes the
// zone anti-affinity template overrides of seed 003 that make the scheduler spread the pods.
package spread

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/ptr"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/kube"
	"github.com/kubectl-apic/kubectl-apic/pkg/lock"
	"github.com/kubectl-apic/kubectl-apic/pkg/printers"
	"github.com/kubectl-apic/kubectl-apic/pkg/progress"
	"github.com/kubectl-apic/kubectl-apic/pkg/spread"
)

// Actions.
const (
	ActionCheck  = "check"
	ActionPlan   = "plan"
	ActionApply  = "apply"
	ActionRemove = "remove"
)

// Options of `kubectl apic spread`.
type Options struct {
	// Shell: streams, terminal rule (IsTerminal, Getenv), ConfigFlags, Print; the same in every plugin.
	cli.Shell

	Action    string
	Subsystem string // --subsystem as given; "" means the action's default
	Hard      bool
	DryRun    bool
	Yes       bool
	Wait      bool
	Timeout   time.Duration
	// ForceUnlock takes a CR's Lease over from another run (--force-unlock).
	ForceUnlock bool
	// AllNamespaces reads every namespace (-A, check only).
	AllNamespaces bool
	// Progress is --progress of apply and remove.
	Progress progress.Mode
	// MoveLegacy moves top-level overrides from the old spec.<subsystem>.template into spec.template
	// (--move-legacy, remove only).
	MoveLegacy bool

	// Dependencies, replaced in tests.
	NewSite func(*genericclioptions.ConfigFlags) (*kube.Site, error)
	Confirm cli.ConfirmFunc
	// Lock tunes the Leases (tests shorten them); Holder names this run on them (zero:
	// lock.CurrentHolder of the command line).
	Lock   lock.Options
	Holder lock.Holder

	site     *kube.Site
	subs     []apic.Subsystem
	explicit bool // --subsystem was given
	progress *progress.Reporter
	style    printers.Style
}

// NewOptions returns options with the real dependencies.
func NewOptions(streams genericiooptions.IOStreams) *Options {
	return &Options{
		Shell:    cli.NewShell(streams, printers.NewFlags()),
		Action:   ActionCheck,
		Timeout:  15 * time.Minute,
		NewSite:  kube.NewSite,
		Confirm:  cli.ConfirmContext,
		Progress: progress.ModeAuto,
	}
}

const long = `Spread API Connect pods over availability zones (IBM's zone-spread technique for gateways).

IBM's operator gives gateway pods only soft anti-affinity between nodes. On a cluster with more nodes
than zones, two of three gateways can then land in one zone; losing that zone leaves the survivor out
of quorum (a peer group needs n/2+1 members): peering turns read-only, so OAuth token management,
rate limiting and API publishing stop. The cure IBM documents is a template override on the
GatewayCluster adding pod anti-affinity on topology.kubernetes.io/zone; the management, analytics
and portal microservices that accept overrides can get the same.

  check    (default) pods per zone and node for each gateway peer group and microservice, and for
           each zone whether losing it keeps quorum. Only ready, scheduled pods count as survivors
           (a Pending pod is a member that is lost already). Exit 0 OK, 3 Degraded (a zone's loss
           would break quorum, zones cannot be judged, or no API Connect pods here), 4 Critical
           (quorum lost now). -A reads every namespace.
  plan     show the overrides as a diff of each CR's template list; changes nothing.
  apply    write them (server-side dry run first), optionally --wait for the pods to move. First
           it checks every pod can be placed: with --hard each pod needs a zone of its own with a
           ready, schedulable node (judged by node readiness, cordons, taints and nodeSelector, not
           free CPU or memory); if some pod could not be placed, apply --hard is refused (exit 5)
           and says what the soft variant would do. If --wait times out, it names the Pending pods.
  remove   take our overrides out again, leaving every other template entry and key as it was.
           Our terms are recognised by what they are (zone topology key and our label selector),
           so a term someone tuned since apply (e.g. weight 100 -> 50) is still taken out, and the
           output says what was changed. IBM recommends removing all overrides before upgrading
           API Connect.

apply and remove take a coordination.k8s.io Lease per CR they change (apic-spread-<kind>-<name>,
in the CR's namespace), renewed while they run: a second run on the same CR is refused (exit 5)
naming the holder. A crashed run's lease is taken over after a minute; --force-unlock takes it
over at once.

On the top-level APIConnectCluster (Cloud Pak for Integration), the override goes on the
APIConnectCluster, in its ONE template list spec.template with prefixed entry names (gw-datapower,
mgmt-apim, a7s-storage: IBM's "Replica override for microservices"), not on the subsystem CRs the
operator owns. What we added is recorded in the CR's annotation spread.kubectl-apic.io/overrides,
which remove reads. Earlier versions wrote top-level overrides to spec.<subsystem>.template, which
IBM does not document: plan, apply and remove say when entries are there, and remove --move-legacy
moves them into spec.template (taking our terms out on the way). An entry present at both places
is not merged: the move is refused until it is merged by hand.

Soft or hard: by default the term is preferred (preferredDuringSchedulingIgnoredDuringExecution,
weight 100): the scheduler spreads the pods when it can, but still starts a pod in a zone that
already has one when no other zone has room, so capacity and uptime come first. --hard makes it
required: a pod never shares a zone with another of its group and stays Pending instead, e.g. when
a zone is down or full, or when a group has more pods than there are zones. IBM's advice is soft.`

const examples = `  # Is every gateway peer group safe from the loss of one zone?
  kubectl apic spread -n apic

  # Show the override for the gateways, then apply it and wait for the pods to move
  kubectl apic spread plan -n apic
  kubectl apic spread apply -n apic --wait

  # All subsystems, as a rule rather than a preference, without asking
  kubectl apic spread apply --subsystem all --hard --yes

  # Before upgrading API Connect: take our overrides out again
  kubectl apic spread remove -n apic --yes

  # ... and move top-level entries an earlier version left at spec.<subsystem>.template
  kubectl apic spread remove -n apic --move-legacy --yes

  # Machine-readable verdict
  kubectl apic spread check -o json`

// NewCommand builds the command; name is how the user invoked it (for usage lines).
func NewCommand(name string, streams genericiooptions.IOStreams) *cobra.Command {
	return NewCommandWithOptions(name, NewOptions(streams))
}

// NewCommandWithOptions builds the command around o (tests inject dependencies there).
func NewCommandWithOptions(name string, o *Options) *cobra.Command {
	run := func(action string) func(*cobra.Command, []string) error {
		runE := cli.RunE(o)
		return func(cmd *cobra.Command, args []string) error {
			o.Action = action
			return runE(cmd, args)
		}
	}
	cmd := &cobra.Command{
		Use:     "spread [check|plan|apply|remove]",
		Short:   "Check and fix the spread of API Connect pods over availability zones",
		Long:    long,
		Example: examples,
		Args:    cobra.NoArgs,
		RunE:    run(ActionCheck),
	}
	o.ConfigFlags.AddFlags(cmd.PersistentFlags())
	o.Print.PrintFlags.OutputFormat = ptr.To(o.Print.Format())
	cmd.PersistentFlags().StringVarP(o.Print.PrintFlags.OutputFormat, "output", "o", printers.FormatTable,
		fmt.Sprintf("Output format. One of: (%s).", strings.Join(o.Print.AllowedFormats(), ", ")))
	cmd.PersistentFlags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false,
		"check: read API Connect pods in all namespaces (plan, apply and remove work on one namespace: use -n)")
	cmd.PersistentFlags().StringVar(&o.Subsystem, "subsystem", "",
		"Subsystems: gateway, management, analytics, portal (comma-separated) or all. Default: all for check and remove, gateway for plan and apply")

	sub := func(use, short string, mutating bool) *cobra.Command {
		c := &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs, RunE: run(use), Example: examples}
		if use == ActionPlan || use == ActionApply {
			c.Flags().BoolVar(&o.Hard, "hard", false,
				"Require the spread (requiredDuringScheduling...) instead of preferring it: pods stay Pending rather than share a zone (see --help of spread)")
		}
		if use == ActionRemove {
			c.Flags().BoolVar(&o.MoveLegacy, "move-legacy", false,
				"On an APIConnectCluster, also move template entries from the old location spec.<subsystem>.template (where earlier versions of kubectl apic spread wrote them) into spec.template, taking our terms out of them")
		}
		if mutating {
			c.Flags().BoolVar(&o.DryRun, "dry-run", false, "Send the change as a server-side dry run only (dryRun=All): validated, not stored")
			c.Flags().BoolVarP(&o.Yes, "yes", "y", false, "Do not ask for confirmation")
			c.Flags().BoolVar(&o.Wait, "wait", false, "Wait until the operator has rolled the StatefulSets and the pods have moved, then check again")
			c.Flags().DurationVar(&o.Timeout, "timeout", o.Timeout, "How long --wait waits for the rollout")
			c.Flags().BoolVar(&o.ForceUnlock, "force-unlock", false, "Take a CR's apic-spread-* lease over even if another run holds it (only when that run is certainly dead)")
			cli.AddProgressFlag(c, &o.Progress)
		}
		return c
	}
	cmd.AddCommand(
		sub(ActionCheck, "Show pods per zone and whether losing a zone keeps quorum (the default)", false),
		sub(ActionPlan, "Show the zone anti-affinity overrides as a diff of each CR's template list", false),
		sub(ActionApply, "Add the zone anti-affinity overrides to the CRs' templates", true),
		sub(ActionRemove, "Remove the overrides this command added (recommended before upgrading)", true),
	)
	return cli.Plugin(cmd, name, "kubectl-apic-spread", o.IOStreams, o)
}

// Complete resolves the site from the kubeconfig flags and fills in defaults from the flags.
func (o *Options) Complete(cmd *cobra.Command, _ []string) error {
	o.explicit = o.Subsystem != ""
	spec := o.Subsystem
	if spec == "" {
		spec = "all"
		if o.Action == ActionPlan || o.Action == ActionApply {
			spec = string(apic.Gateway)
		}
	}
	subs, err := ParseSubsystems(spec)
	if err != nil {
		return err
	}
	o.subs = subs
	site, err := o.NewSite(o.ConfigFlags)
	if err != nil {
		return err
	}
	o.site = site
	o.style = o.Style(o.Out)
	o.progress = o.Reporter(o.ErrOut, o.Progress, nil)
	return nil
}

// ParseSubsystems reads --subsystem: names or short names, comma-separated, or all.
func ParseSubsystems(spec string) ([]apic.Subsystem, error) {
	subs, err := apic.ParseSubsystems(spec, apic.Subsystems())
	if err != nil {
		return nil, exitcode.UsageErrorf("%v", err)
	}
	return subs, nil
}

// Validate checks the options before anything is read or changed.
func (o *Options) Validate() error {
	if err := o.Print.Validate(); err != nil {
		return err
	}
	if o.AllNamespaces && o.Action != ActionCheck {
		return exitcode.UsageErrorf("-A/--all-namespaces is for check only: %s changes one namespace at a time; pass -n with the API Connect namespace", o.Action)
	}
	if o.AllNamespaces && o.ConfigFlags.Namespace != nil && *o.ConfigFlags.Namespace != "" {
		return exitcode.UsageErrorf("-n and -A together: pick one")
	}
	if o.Wait && o.DryRun {
		return exitcode.UsageErrorf("--wait and --dry-run exclude each other: a dry run changes nothing to wait for")
	}
	if o.Wait && o.Timeout <= 0 {
		return exitcode.UsageErrorf("--timeout must be positive")
	}
	return nil
}

// Run executes the action.
func (o *Options) Run(ctx context.Context) error {
	defer func() { _ = o.progress.Close() }()
	switch o.Action {
	case ActionCheck:
		res, err := o.check(ctx)
		if err != nil {
			return err
		}
		if err := o.printCheck(res); err != nil {
			return err
		}
		return cli.Silent(exitcode.Code(res.ExitCode))
	case ActionPlan, ActionApply, ActionRemove:
		return o.change(ctx)
	}
	return exitcode.UsageErrorf("unknown action %q", o.Action)
}

func (o *Options) mode() spread.Mode {
	if o.Hard {
		return spread.Hard
	}
	return spread.Soft
}
