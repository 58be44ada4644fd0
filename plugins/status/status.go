// Package status is `kubectl apic status`: is my API Connect HA set-up healthy, and what breaks if
// a site or a zone fails?
//
// Sites. One kubeconfig context is one data center. `--context dc1` (kubectl's own flag, or the
// current context) is the first site; `--peer-context dc2` adds the second, shown side by side. We
// chose this over a `--sites dc1,dc2` list: --context keeps its kubectl meaning, and every other
// kubectl-apic command names the second site the same way.
//
// What it reads, per site and in parallel, one LIST per kind (pkg/inventory): every API Connect
// custom resource (mgmt, ptl, a7s, gw, APIConnectCluster, DataPowerService) in the namespace (-n, or
// the context's; -A for all), the API Connect pods (label crd.apiconnect.ibm.com/instance) and the
// nodes (metadata only, for their zones). A kind whose CRD is missing is noted, not an error.
//
// What it judges: the 2DCDR pairing of management and portal (pkg/hastate: split-brain, no active
// site, a stuck demotion, PeerNotReachable), each gateway's pods and (with --peering, read-only
// DataPower commands through pods/attach) its peering objects' quorum, each zone's loss against every
// peer group's and replica set's quorum (pkg/zones), and the warnings IBM's runbooks name (fewer than
// 3 gateways, template overrides, the CP4I configurator job).
//
// The exit code is the verdict (docs/exit-codes.md): 0 healthy, 3 degraded (warnings), 4 critical
// (split-brain, lost quorum, no active site), 7 a site unreachable. -o json|yaml prints a
// StatusReport (apic.kubectl-apic.io/v1alpha1) documented in docs/status-schema.md.
package status

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/pkg/datapower"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/hastate"
	"github.com/kubectl-apic/kubectl-apic/pkg/inventory"
	"github.com/kubectl-apic/kubectl-apic/pkg/kube"
	"github.com/kubectl-apic/kubectl-apic/pkg/printers"
)

// DefaultPeeringDomain is the DataPower application domain holding API Connect's peering objects.
// IBM's runbook writes it as <APIC_APP_DOMAIN>; "apiconnect" is our default (the lab simulator's too).
const DefaultPeeringDomain = "apiconnect"

// DefaultDebounce groups the events of one change (an operator updates several objects) into one
// redraw in --watch mode.
const DefaultDebounce = 500 * time.Millisecond

// --watch's liveness bounds (see runWatch): a site that stops answering is shown UNREACHABLE
// within DefaultProbeInterval+DefaultProbeTimeout, and read again at most DefaultRetryMax apart.
const (
	DefaultProbeInterval = 10 * time.Second
	DefaultProbeTimeout  = 5 * time.Second
	DefaultRetryMax      = 10 * time.Second
	DefaultReadTimeout   = 30 * time.Second
)

// Options of `kubectl apic status`.
type Options struct {
	// Shell: streams, terminal rule (IsTerminal, Getenv), ConfigFlags, Print; the same in every plugin.
	cli.Shell

	PeerContext   string
	AllNamespaces bool
	Watch         bool
	StuckAfter    time.Duration
	Peering       bool
	PeeringDomain string
	// Admin says where the gateways' admin Secrets keep the DataPower credentials (--peering).
	Admin    datapower.AdminKeys
	Debounce time.Duration
	// --watch: how often and how long each site is probed, how long a read may take, and the
	// longest wait between reads of a site that is down.
	ProbeInterval, ProbeTimeout, ReadTimeout, RetryMax time.Duration

	// Dependencies, replaceable in tests.
	NewSites  func(base *genericclioptions.ConfigFlags, contexts []string) ([]*kube.Site, error)
	Read      func(ctx context.Context, c inventory.Clients, req inventory.Request) (*inventory.Snapshot, error)
	WatchSite func(ctx context.Context, c inventory.Clients, req inventory.Request, snap *inventory.Snapshot, changed func(*inventory.Snapshot)) error
	// Attach opens a gateway member's console stream (--peering); default pods/attach.
	Attach func(ctx context.Context, s *kube.Site, target datapower.AttachTarget) (datapower.Conn, error)
	Probe  func(ctx context.Context, s *kube.Site) error
	Now    func() time.Time

	sites []*kube.Site
}

// NewOptions returns options with the real dependencies.
func NewOptions(streams genericiooptions.IOStreams) *Options {
	return &Options{
		Shell:         cli.NewShell(streams, printers.NewFlags().WithName()),
		StuckAfter:    hastate.DefaultStuckAfter,
		PeeringDomain: DefaultPeeringDomain,
		Admin:         datapower.NewAdminKeys(),
		Debounce:      DefaultDebounce,
		ProbeInterval: DefaultProbeInterval,
		ProbeTimeout:  DefaultProbeTimeout,
		ReadTimeout:   DefaultReadTimeout,
		RetryMax:      DefaultRetryMax,
		Probe:         ProbeVersion,
		NewSites:      kube.NewSites,
		Read:          inventory.Read,
		WatchSite:     inventory.Watch,
		Attach:        attachMember,
		Now:           time.Now,
	}
}

const example = `  # One site: the current context, its namespace
  %[1]s

  # Both data centers side by side
  %[1]s --context dc1 --peer-context dc2 -n apic

  # Also read every gateway's peering status (read-only DataPower commands through kubectl attach)
  %[1]s --context dc1 --peer-context dc2 --peering

  # A pipeline: the exit code is the verdict (0 healthy, 3 degraded, 4 critical, 7 unreachable)
  %[1]s --context dc1 --peer-context dc2 -o json | jq '.findings[] | select(.severity=="CRITICAL")'

  # Follow a failover as it happens (redraws on every change; Ctrl-C to stop)
  %[1]s --context dc1 --peer-context dc2 --watch`

// NewCommand builds the command; name is how the user invoked it (for usage lines).
func NewCommand(name string, streams genericiooptions.IOStreams) *cobra.Command {
	return NewCommandWithOptions(name, NewOptions(streams))
}

// NewCommandWithOptions builds the command around o (tests inject dependencies through o).
func NewCommandWithOptions(name string, o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status [--context SITE1] [--peer-context SITE2]",
		Short: "Show the health of an API Connect HA installation and what breaks if a site or zone fails",
		Long: fmt.Sprintf(`Show the health of an API Connect HA installation across one or two data centers.

Sites are kubeconfig contexts: --context (or the current context) is the first, --peer-context the
second, shown side by side. For each site: every API Connect custom resource in the namespace (-n,
or -A for all), the 2DCDR pairing of management and portal (active / warm-standby, replication,
split-brain, stuck demotion), each gateway's pods with node and zone, and for each zone whether
losing it keeps every gateway peer group and subsystem replica set in quorum. Warnings come with
their fix.

With one site, a warm-standby that replicates is reported as such (INFO PeerNotChecked): its
active peer is not read; add --peer-context to judge the pair. Two contexts that reach the same
cluster are refused (exit 2): 2DCDR cannot be judged on one cluster. If that cannot be told (no
permission to get namespace kube-system, different server URLs) the report says so.

--watch redraws on every change. A site whose API server stops answering is shown UNREACHABLE
within %[1]s (probed every %[2]s with a %[3]s timeout, and at once when its watches fail); it is
read again at most %[4]s apart and followed again once it answers. The exit code is that of the
last report shown.

Exit codes: 0 healthy, 3 degraded (warnings), 4 critical (split-brain, lost quorum, no active site),
7 a site unreachable, 2 usage, 1 other errors (see docs/exit-codes.md). -o json|yaml prints a
versioned StatusReport (apiVersion apic.kubectl-apic.io/v1alpha1, docs/status-schema.md).
Client library log lines are hidden unless -v is 1 or more (kubectl's -v=6 shows every request).`,
			DefaultProbeInterval+DefaultProbeTimeout, DefaultProbeInterval, DefaultProbeTimeout, DefaultRetryMax),
		Example: fmt.Sprintf(example, name),
		Args:    cobra.NoArgs,
	}
	o.ConfigFlags.AddFlags(cmd.Flags())
	o.Print.AddFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.PeerContext, "peer-context", o.PeerContext, "Kubeconfig context of the second data center, shown beside --context")
	f.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", o.AllNamespaces, "Read API Connect objects in all namespaces")
	f.BoolVarP(&o.Watch, "watch", "w", o.Watch, "Keep watching and re-render on every change (Ctrl-C to stop)")
	f.DurationVar(&o.StuckAfter, "stuck-after", o.StuckAfter, "Report a demotion stuck in BlockedWarmStandbyConversion for longer than this")
	f.BoolVar(&o.Peering, "peering", o.Peering, "Read each gateway's peering status from every member (read-only DataPower commands via pods/attach)")
	f.StringVar(&o.PeeringDomain, "peering-domain", o.PeeringDomain, "DataPower application domain of API Connect's peering objects (with --peering)")
	o.Admin.AddFlags(f)
	completeContexts := cli.CompleteContexts(o.ConfigFlags)
	_ = cmd.RegisterFlagCompletionFunc("context", completeContexts)
	_ = cmd.RegisterFlagCompletionFunc("peer-context", completeContexts)
	return cli.Plugin(cmd, name, "kubectl-apic-status", o.IOStreams, o)
}

// Complete resolves the sites from the kubeconfig.
func (o *Options) Complete(cmd *cobra.Command, args []string) error {
	sites, err := o.NewSites(o.ConfigFlags, kube.Contexts(o.ConfigFlags, o.PeerContext))
	if err != nil {
		return err
	}
	o.sites = sites
	return nil
}

// Validate checks the flags.
func (o *Options) Validate() error {
	if err := o.Print.Validate(); err != nil {
		return err
	}
	if o.StuckAfter <= 0 {
		return exitcode.UsageErrorf("--stuck-after must be positive, got %s", o.StuckAfter)
	}
	if err := o.Admin.Validate(); err != nil {
		return err
	}
	if o.AllNamespaces && o.ConfigFlags.Namespace != nil && *o.ConfigFlags.Namespace != "" {
		return exitcode.UsageErrorf("-n and -A together: pick one")
	}
	if len(o.sites) == 2 && o.sites[0].Name == o.sites[1].Name {
		return exitcode.UsageErrorf("--peer-context %s is the same as --context: the second site needs its own context", o.PeerContext)
	}
	return nil
}

// Run reads every site, renders the report (or keeps re-rendering it with --watch) and returns the
// verdict as the exit code.
func (o *Options) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.Watch {
		return o.runWatch(ctx)
	}
	inputs := o.readAll(ctx)
	if err := allFailed(inputs); err != nil {
		return err
	}
	clusters, err := o.compareSites(ctx, inputs)
	if err != nil {
		return err
	}
	r := o.build(inputs, clusters)
	if err := o.render(o.Out, r); err != nil {
		return err
	}
	return cli.Silent(exitcode.Code(r.ExitCode))
}

func (o *Options) request(s *kube.Site) inventory.Request {
	req := inventory.Request{Namespace: s.Namespace, Pods: true, Nodes: true}
	if o.AllNamespaces {
		req.Namespace = ""
	}
	return req
}

// readAll reads every site in parallel.
func (o *Options) readAll(ctx context.Context) []SiteInput {
	inputs := make([]SiteInput, len(o.sites))
	kube.EachSite(ctx, o.sites, func(ctx context.Context, s *kube.Site) error {
		i := slices.Index(o.sites, s)
		var g errgroup.Group
		if len(o.sites) == 2 {
			// The cluster identity, for compareSites: read beside the inventory (cached by Site).
			g.Go(func() error { _, _ = s.ClusterID(ctx); return nil })
		}
		inputs[i] = o.readSite(ctx, s)
		return g.Wait()
	})
	return inputs
}

// compareSites tells whether the two sites are one cluster (pkg/kube.CompareClusters, settled by the
// objects read where the identity is forbidden). One cluster under two contexts is a usage error: its
// 2DCDR cannot be judged (every active subsystem would look active on "both" sites: a false
// split-brain whose fix would demote the only active site). The comparison is returned when it
// stays unknown, for the report to say so; nil otherwise or with one site or a site not read.
func (o *Options) compareSites(ctx context.Context, inputs []SiteInput) (*kube.Comparison, error) {
	if len(o.sites) != 2 || inputs[0].Err != nil || inputs[1].Err != nil {
		return nil, nil
	}
	cmp, err := kube.CompareClusters(ctx, o.sites[0], o.sites[1])
	if err != nil {
		return nil, nil // the site's own read said what is wrong with it
	}
	cmp = cmp.RefineByObjects(objectUIDs(inputs[0].Snapshot), objectUIDs(inputs[1].Snapshot), inputs[0].Namespace == inputs[1].Namespace)
	switch cmp.Match {
	case kube.OneCluster:
		return nil, exitcode.UsageErrorf("contexts %s and %s are the same cluster (%s): status cannot judge 2DCDR on one cluster (its active subsystems would look active on both sites); give --peer-context the other data center's context, or leave it out for a one-site report",
			o.sites[0].Name, o.sites[1].Name, cmp.Evidence)
	case kube.UnknownClusters:
		return &cmp, nil
	}
	return nil, nil
}

func objectUIDs(s *inventory.Snapshot) []string {
	if s == nil {
		return nil
	}
	out := make([]string, 0, len(s.Objects))
	for _, o := range s.Objects {
		out = append(out, string(o.U.GetUID()))
	}
	return out
}

func (o *Options) readSite(ctx context.Context, s *kube.Site) SiteInput {
	req := o.request(s)
	in := SiteInput{Name: s.Name, Server: s.Server, Namespace: req.Namespace}
	in.Snapshot, in.Err = o.Read(ctx, inventory.ClientsOf(s), req)
	if in.Err == nil && o.Peering {
		in.DRR = readDRR(ctx, s, in.Snapshot, time.Now())
		in.Peering = o.readPeering(ctx, s, in.Snapshot, in.DRR)
	}
	return in
}

// allFailed returns the sites' errors when no site could be read: there is no report to show.
func allFailed(inputs []SiteInput) error {
	var errs []error
	codes := []exitcode.Code{}
	for _, in := range inputs {
		if in.Err == nil {
			return nil
		}
		errs = append(errs, in.Err)
		codes = append(codes, exitcode.FromError(in.Err))
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return exitcode.New(exitcode.Worst(codes...), errors.Join(errs...))
}

func (o *Options) build(inputs []SiteInput, clusters *kube.Comparison) Report {
	return Build(inputs, BuildOptions{StuckAfter: o.StuckAfter, Now: o.Now(), Clusters: clusters})
}

// render prints r in the chosen format.
func (o *Options) render(w io.Writer, r Report) error {
	if o.Print.IsStructured() {
		return o.Print.PrintObject(w, ReportKind, r)
	}
	style := o.Style(w)
	if err := printers.RenderSections(w, Tables(r, o.Now(), o.Print.IsWide()), o.Print.IsWide(), style); err != nil {
		return err
	}
	return RenderFindings(w, r, style)
}
