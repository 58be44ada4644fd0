// Package drr is `kubectl apic drr`: IBM's outage-less Dynamic Reregistration and Reconfiguration
// of an API Connect gateway service (seed 000), run on every member's DataPower CLI through
// `pods/attach`. The mechanics live in pkg/drr; this file reads like the runbook.
package drr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/pkg/datapower"
	pdrr "github.com/kubectl-apic/kubectl-apic/pkg/drr"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/kube"
	"github.com/kubectl-apic/kubectl-apic/pkg/printers"
	"github.com/kubectl-apic/kubectl-apic/pkg/probe"
	"github.com/kubectl-apic/kubectl-apic/pkg/progress"
)

// Result document kinds in -o json|yaml (apiVersion apic.kubectl-apic.io/v1alpha1).
const (
	ReportKind = "DRRReport"
	StatusKind = "DRRStatus"
)

// Options of `kubectl apic drr`.
type Options struct {
	// Shell: streams, terminal rule (IsTerminal, Getenv), ConfigFlags, Print; the same in every plugin.
	cli.Shell

	Gateway             string
	Admin               datapower.AdminKeys
	Domain              string
	Status              bool
	DryRun              bool
	Yes                 bool
	Force               bool
	MaxConcurrency      int
	RegistrationTimeout time.Duration
	CommandTimeout      time.Duration
	// GatewayServiceLog is --gw-service-log, the apic-gw-service debug log's file.
	GatewayServiceLog string
	PollInterval      time.Duration
	PrimaryMember     string
	TranscriptDir     string
	APIManagerURL     string
	APIManagerSecret  string
	Catalog           string
	GatewayService    string
	ForceUnlock       bool
	Progress          progress.Mode
	Probe             probe.Options

	// Dependencies, replaced in tests.

	// NewSite resolves the kubeconfig flags.
	NewSite func(*genericclioptions.ConfigFlags) (*kube.Site, error)
	// Attach opens a member's console stream; default: pods/attach (datapower.Attach).
	Attach func(ctx context.Context, site *kube.Site, target datapower.AttachTarget) (datapower.Conn, error)
	// Confirm asks before changing anything; default cli.ConfirmContext.
	Confirm cli.ConfirmFunc
	// APIManagerHTTP is the HTTP client of API Manager calls; nil: TLS against the system roots (or
	// the Secret's ca.crt).
	APIManagerHTTP *http.Client

	site  *kube.Site
	probe *probe.Probe
}

// NewOptions returns options with production dependencies.
func NewOptions(streams genericiooptions.IOStreams) *Options {
	return &Options{
		Shell:               cli.NewShell(streams, printers.NewFlags()),
		Admin:               datapower.NewAdminKeys(),
		Domain:              "apiconnect",
		RegistrationTimeout: pdrr.DefaultRegistrationTimeout,
		CommandTimeout:      datapower.DefaultCommandTimeout,
		GatewayServiceLog:   datapower.APICGatewayServiceLog,
		PollInterval:        pdrr.DefaultPollInterval,
		NewSite:             kube.NewSite,
		Attach: func(ctx context.Context, site *kube.Site, t datapower.AttachTarget) (datapower.Conn, error) {
			return datapower.Attach(ctx, site.Config, site.Kube, t)
		},
		Confirm:  cli.ConfirmContext,
		Progress: progress.ModeAuto,
	}
}

const longHelp = `Run IBM's outage-less Dynamic Reregistration and Reconfiguration (DRR) of an API Connect
gateway service: the gateway service re-fetches its whole configuration from the management
server without restarting any gateway pod.

It finds the GatewayCluster's pods (labels crd.apiconnect.ibm.com/kind=datapower and
crd.apiconnect.ibm.com/instance=<gateway>), reads the DataPower admin password from the Secret
named in spec.adminUser.secretName (key "password", user "admin": our convention;
--admin-password-key, --admin-user and --admin-user-key change them), attaches to each pod's
container as kubectl attach picks it (the kubectl.kubernetes.io/default-container annotation,
else "datapower", else the first), and drives each member's DataPower CLI through pods/attach (stdin, no TTY;
it detaches by closing the stream and never sends Ctrl-D, which would end the pod).

Steps (IBM: "Dynamically re-registering and reconfiguring a Gateway service in a
Kubernetes deployment", section "Triggering an outage-less DRR"):
  preflight         read-only, every member in parallel: log in, switch <domain>, read the
                    apic-gw-service peering name (config; show gateway-peering-manager), its status and quorum
                    (show gateway-peering-status) and registration. Refuses (exit 5) if quorum is
                    lost or a member is not Ready or unreachable, unless --force.
  switch-primary    config; gateway-peering-switch-primary <peering> on the chosen member
                    (skipped when it already is primary; --primary-member chooses it).
  flush             diag; gateway-peering-flush <peering>, answering y: the configuration held in
                    the peering is dropped on every member.
  cycle-gw-service  config; apic-gw-service; admin-state disabled; exit; apic-gw-service;
                    admin-state enabled; exit, on every member in parallel (--max-concurrency).
  waiting-log       confirm "Waiting for gateway service registration." in
                    the apic-gw-service debug log on every member (--gw-service-log; default
                    logtemp:///gwd-log.log, the gwd-log target of IBM's Kubernetes gateway chart).
  registration      no DataPower property shows the re-registration, which the management
                    server's heartbeat (every 5 minutes) triggers. With --api-manager-url (and
                    --api-manager-secret, --catalog, --gateway-service) wait (--registration-timeout)
                    until API Manager shows the gateway service up to date
                    (configured-gateway-services: service_up_to_date): PASSED. Without it the step
                    is UNVERIFIED, with the command to check by hand. (The lab has no API Manager.)
  peering-health    show gateway-peering-status: quorum and every member's link ok.

A summary table (member x step: PASSED, FAILED or SKIPPED with the time taken) goes to stdout,
progress to stderr. -o json|yaml prints a DRRReport document (apiVersion
apic.kubectl-apic.io/v1alpha1; fields in docs/drr-schema.md). Exit codes: 5 refused by
pre-flight (nothing changed: lost quorum, a member not Ready, a rejected login, another DRR of the
gateway running), 20 switch-primary, 21 flush, 22 cycle-gw-service or waiting-log, 23 registration
or peering-health failed, 130 interrupted. Re-running after a failure is safe and completes the DRR.

One DRR per gateway: a run takes the Lease apic-drr-<gateway> in the gateway's namespace before it
attaches to any console (a second run is refused, naming the holder; --force-unlock takes over a
lease whose run is gone) and keeps a journal there: the step it reached, whether it flushed the
peering, how it ended. A gateway whose DRR was interrupted or failed after the flush is reported by
--status and by kubectl apic status --peering, with the command that finishes it (a re-run).

--status only reads: every member's row of show gateway-peering-status for every peering object,
each peering's quorum, each member's apic-gw-service admin-state, and the journal (exit 4 if a
peering lost quorum or the gateway was left mid-DRR, 3 if a member could not be read or has
apic-gw-service disabled).`

const examples = `  # See the peering status of every member, read-only
  %[1]s production-gw -n apic --status

  # Pre-flight and plan only; change nothing
  %[1]s production-gw -n apic --dry-run

  # Run the DRR without asking, keeping each member's CLI session (password redacted)
  %[1]s production-gw -n apic --yes --transcript ./drr-transcripts

  # Confirm the re-registration in API Manager (credentials in Secret apim-login, never in argv)
  %[1]s production-gw -n apic --api-manager-url https://platform-api.example.com \
      --api-manager-secret apim-login --catalog myorg/sandbox --gateway-service apigateway-service`

// NewCommand builds the command; name is how the user invoked it (for usage lines).
func NewCommand(name string, streams genericiooptions.IOStreams) *cobra.Command {
	return NewCommandWithOptions(name, NewOptions(streams))
}

// NewCommandWithOptions builds the command around o (tests inject dependencies).
func NewCommandWithOptions(name string, o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "drr GATEWAYCLUSTER",
		Short:   "Re-register and reconfigure a gateway service without an outage (DataPower DRR)",
		Long:    longHelp,
		Example: fmt.Sprintf(examples, name),
		Args:    cobra.ExactArgs(1),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return o.completeGateways(cmd.Context(), toComplete), cobra.ShellCompDirectiveNoFileComp
		},
	}
	f := cmd.Flags()
	o.ConfigFlags.AddFlags(f)
	o.Print.AddFlags(cmd)
	o.Admin.AddFlags(f)
	f.StringVar(&o.Domain, "domain", o.Domain, "API Connect application domain on the gateways")
	f.BoolVar(&o.Status, "status", false, "Only show every member's gateway-peering-status and quorum (read-only)")
	f.BoolVar(&o.DryRun, "dry-run", false, "Run the read-only pre-flight and print the plan; change nothing")
	f.BoolVarP(&o.Yes, "yes", "y", false, "Do not ask for confirmation")
	f.BoolVar(&o.Force, "force", false, "Proceed although pre-flight found problems (lost quorum, members not Ready or unreachable)")
	f.IntVar(&o.MaxConcurrency, "max-concurrency", 0, "Members whose apic-gw-service is cycled at once (0: all)")
	f.DurationVar(&o.RegistrationTimeout, "registration-timeout", o.RegistrationTimeout, "How long to wait for the gateway service to re-register (the heartbeat comes every 5 minutes)")
	f.StringVar(&o.GatewayServiceLog, "gw-service-log", o.GatewayServiceLog, "File of the apic-gw-service debug log target (IBM's Kubernetes gateway chart: target gwd-log, logtemp:///gwd-log.log; find yours with show logging target)")
	f.DurationVar(&o.CommandTimeout, "command-timeout", o.CommandTimeout, "Timeout of each DataPower CLI command")
	f.DurationVar(&o.PollInterval, "poll-interval", o.PollInterval, "How often the registration state and the log are read")
	f.StringVar(&o.PrimaryMember, "primary-member", "", "Member (pod) to make primary and flush from (default: the current primary)")
	f.StringVar(&o.TranscriptDir, "transcript", "", "Directory to write each member's CLI session to (<pod>.txt, password redacted)")
	f.StringVar(&o.APIManagerURL, "api-manager-url", "", "Platform API URL of API Manager: confirm the re-registration there (configured-gateway-services; not tested on the lab)")
	f.StringVar(&o.APIManagerSecret, "api-manager-secret", "", "Secret (in the gateway's namespace) with keys username, password, realm, client_id, client_secret (optional ca.crt; optional token: also trigger a webhook by a catalog edit)")
	f.StringVar(&o.Catalog, "catalog", "", "ORG/CATALOG in which API Manager shows the gateway service (with --api-manager-url)")
	f.StringVar(&o.GatewayService, "gateway-service", "", "Name of the gateway service in API Manager (with --api-manager-url)")
	f.BoolVar(&o.ForceUnlock, "force-unlock", false, "Take the gateway's DRR lease even from a live holder (only once you are sure that run is gone)")
	probe.AddFlags(f, &o.Probe)
	cli.AddProgressFlag(cmd, &o.Progress)
	return cli.Plugin(cmd, name, "kubectl-apic-drr", o.IOStreams, o)
}

// Complete resolves the kubeconfig context and namespace.
func (o *Options) Complete(cmd *cobra.Command, args []string) error {
	o.Gateway = args[0]
	site, err := o.NewSite(o.ConfigFlags)
	if err != nil {
		return err
	}
	o.site = site
	return nil
}

// Validate checks the options before anything is read or changed.
func (o *Options) Validate() error {
	if err := o.Probe.Validate(); err != nil {
		return err
	}
	if err := o.Print.Validate(); err != nil {
		return err
	}
	if err := o.Admin.Validate(); err != nil {
		return err
	}
	switch {
	case o.Status && (o.DryRun || o.Force || o.PrimaryMember != "" || o.ForceUnlock):
		return exitcode.UsageErrorf("--status only reads; it takes none of --dry-run, --force, --primary-member, --force-unlock")
	case o.MaxConcurrency < 0:
		return exitcode.UsageErrorf("--max-concurrency must be 0 (all) or more")
	case !strings.Contains(o.GatewayServiceLog, ":///") || strings.ContainsAny(o.GatewayServiceLog, " \t\n"):
		return exitcode.UsageErrorf("--gw-service-log must be a DataPower file URL such as logtemp:///gwd-log.log, not %q", o.GatewayServiceLog)
	case o.RegistrationTimeout <= 0 || o.CommandTimeout <= 0 || o.PollInterval <= 0:
		return exitcode.UsageErrorf("--registration-timeout, --command-timeout and --poll-interval must be positive")
	case o.Domain == "":
		return exitcode.UsageErrorf("--domain must not be empty")
	case (o.APIManagerURL == "") != (o.APIManagerSecret == "") || (o.APIManagerURL == "") != (o.Catalog == "") ||
		(o.APIManagerURL == "") != (o.GatewayService == ""):
		return exitcode.UsageErrorf("--api-manager-url, --api-manager-secret, --catalog and --gateway-service go together")
	case o.Catalog != "" && strings.Count(o.Catalog, "/") != 1:
		return exitcode.UsageErrorf("--catalog must be ORG/CATALOG, not %q", o.Catalog)
	}
	return nil
}

// Run follows IBM's DRR procedure ("Disaster recovery of gateway peering"): find the gateway and its
// admin credentials, read the journal (--status, --dry-run) or take the Lease, then pre-flight,
// plan, confirm, execute and report.
func (o *Options) Run(ctx context.Context) error {
	rep := o.Reporter(o.ErrOut, o.Progress, nil)
	defer func() { _ = rep.Close() }()
	gw, cfg, closeTranscripts, err := o.connect(ctx, rep)
	if err != nil {
		return err
	}
	defer closeTranscripts()
	if o.Status || o.DryRun {
		prev, err := o.readJournal(ctx, gw, rep)
		if err != nil {
			return err
		}
		if o.Status {
			return o.runStatus(ctx, cfg, prev)
		}
		if prev.Unfinished() {
			rep.Warnf("gateway %s/%s was left mid-DRR (%s): a run finishes it", gw.Namespace, gw.Name, prev.Describe())
		}
		return o.drr(ctx, gw, cfg, rep, nil)
	}
	guard, err := o.takeLease(ctx, gw, rep)
	if err != nil {
		return err
	}
	defer func() {
		if err := guard.Release(ctx); err != nil {
			rep.Warnf("releasing lease %s: %v", pdrr.LeaseName(gw.Name), err)
		}
	}()
	ctx, stop := guard.Hold(ctx) // the run ends if the lease is lost
	defer stop()
	cfg.Journal = guard
	return o.drr(ctx, gw, cfg, rep, guard)
}

// connect finds the gateway's members and admin Secret and makes the engine's configuration: how
// to open each member's console (the datapower container, logged in, in --domain).
func (o *Options) connect(ctx context.Context, rep *progress.Reporter) (*pdrr.Gateway, pdrr.Config, func(), error) {
	site := o.site
	gw, err := pdrr.Discover(ctx, site.Dynamic, site.Kube, site.Name, site.Namespace, o.Gateway)
	if err != nil {
		return nil, pdrr.Config{}, nil, err
	}
	secret := gw.AdminSecret(o.Admin)
	creds, err := datapower.ReadAdminCredentials(ctx, site.Kube, site.Name, secret)
	if err != nil {
		return nil, pdrr.Config{}, nil, err
	}
	transcripts, err := newTranscripts(o.TranscriptDir)
	if err != nil {
		return nil, pdrr.Config{}, nil, err
	}
	opener := &datapower.Opener{
		Attach: func(ctx context.Context, t datapower.AttachTarget) (datapower.Conn, error) {
			return o.Attach(ctx, site, t)
		},
		Credentials: creds, Domain: o.Domain, Transcript: transcripts.open,
		Options: datapower.Options{CommandTimeout: o.CommandTimeout, LoginFailureMessage: secret.LoginFailureMessage()},
	}
	cfg := pdrr.Config{
		Gateway: gw.Name, Namespace: gw.Namespace, Context: site.Name, Domain: o.Domain, Members: gw.Members,
		MaxConcurrency: o.MaxConcurrency, RegistrationTimeout: o.RegistrationTimeout, PollInterval: o.PollInterval,
		Force: o.Force, Primary: o.PrimaryMember, Progress: rep, LogFile: o.GatewayServiceLog,
		Open: func(ctx context.Context, m pdrr.Member) (*datapower.Session, error) {
			return opener.Open(ctx, datapower.AttachTarget{Namespace: gw.Namespace, Pod: m.Pod, Container: gw.Containers[m.Pod]})
		},
	}
	return gw, cfg, transcripts.close, nil
}

// drr runs the DRR itself: the registration check and the probe set up, pre-flight, the plan (a dry
// run stops there), the confirmation, then the steps, recorded in the journal (guard; nil on a dry
// run).
func (o *Options) drr(ctx context.Context, gw *pdrr.Gateway, cfg pdrr.Config, rep *progress.Reporter, guard *pdrr.Guard) error {
	var err error
	if o.APIManagerURL != "" {
		if cfg.Registration, cfg.Trigger, err = o.apiManager(ctx, gw.Namespace); err != nil {
			return err
		}
	}
	if cfg.Probe, err = o.startProbe(ctx); err != nil {
		return err
	}
	r := pdrr.New(cfg)
	defer r.Close()
	if err := r.Preflight(ctx); err != nil {
		return o.finish(r, err, true)
	}
	plan, err := r.Plan()
	if err != nil {
		return o.finish(r, err, true)
	}
	if !o.Print.IsStructured() {
		if err := o.renderPlan(r.Report()); err != nil {
			return err
		}
	}
	if o.DryRun {
		r.Report().Outcome, r.Report().DryRun = pdrr.OutcomePlanned, true
		return o.finish(r, nil, true)
	}
	if err := o.confirm(ctx, rep, gw, r.Report().Peering, len(plan.Members)); err != nil {
		return err
	}
	if err := guard.Start(ctx, r.Report().Peering); err != nil {
		return err
	}
	err = r.Execute(ctx, plan)
	if cause := context.Cause(ctx); err != nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = fmt.Errorf("%w (%v)", err, cause) // the lease was lost
	}
	if jerr := guard.Finish(ctx, err); jerr != nil {
		rep.Warnf("could not record the outcome in the DRR journal (lease %s): %v", pdrr.LeaseName(gw.Name), jerr)
	}
	return o.finish(r, o.leftHint(err, gw, r.Report(), guard.Flushed()), false)
}

// confirm asks before the first change unless --yes.
func (o *Options) confirm(ctx context.Context, rep *progress.Reporter, gw *pdrr.Gateway, peering string, members int) error {
	if o.Yes {
		return nil
	}
	q := fmt.Sprintf("Flush gateway peering %s and re-register gateway %s/%s (%d members)?", peering, gw.Namespace, gw.Name, members)
	defer rep.Pause()() // no live line redrawn over the question while it waits
	return o.Confirm(ctx, o.IOStreams, q)
}

// finish prints the report and returns err (already carrying its exit code).
func (o *Options) finish(r *pdrr.Runner, err error, preflightOnly bool) error {
	report := r.Report()
	err = o.stopProbe(report, err)
	if o.Print.IsStructured() {
		if perr := o.Print.PrintObject(o.Out, ReportKind, report); perr != nil {
			return perr
		}
		return err
	}
	if preflightOnly && err != nil {
		if len(report.Preflight.Members) == 0 {
			return err // refused before any member was read (a rejected login): the error says it all
		}
		if perr := o.renderPreflight(report); perr != nil {
			return perr
		}
		return err
	}
	if preflightOnly {
		return nil
	}
	if perr := printers.RenderSections(o.Out, summaryTables(report, o.Print.IsWide()), o.Print.IsWide(), o.style()); perr != nil {
		return perr
	}
	if perr := report.Probe.Render(o.Out, o.style()); perr != nil {
		return perr
	}
	return err
}

func (o *Options) style() printers.Style { return o.Style(o.Out) }

func (o *Options) renderPreflight(r *pdrr.Report) error {
	return printers.RenderSections(o.Out, []printers.Table{preflightTable(r)}, o.Print.IsWide(), o.style())
}

func (o *Options) renderPlan(r *pdrr.Report) error {
	return printers.RenderSections(o.Out, []printers.Table{preflightTable(r), planTable(r)}, o.Print.IsWide(), o.style())
}

func (o *Options) runStatus(ctx context.Context, cfg pdrr.Config, j pdrr.Journal) error {
	st, err := pdrr.Status(ctx, cfg)
	if err != nil {
		return err
	}
	st.DRR = j
	st.Judge()
	if err := o.Print.Print(o.Out, StatusKind, st, o.style(), statusTables(st)...); err != nil {
		return err
	}
	for _, q := range st.Quorum {
		if !q.HasQuorum {
			return cli.Silent(exitcode.Critical)
		}
	}
	if j.Unfinished() {
		return exitcode.Newf(exitcode.Critical, "gateway %s/%s was left mid-DRR: finish it with %s", st.Namespace, st.Gateway, st.Fix)
	}
	if len(st.LeftBehind) > 0 {
		return exitcode.Newf(exitcode.Degraded, "%s: finish it with %s", strings.Join(st.LeftBehind, "; "), st.Fix)
	}
	if len(st.Errors) > 0 {
		return exitcode.Newf(exitcode.Degraded, "%s", strings.Join(st.Errors, "; "))
	}
	return nil
}

// completeGateways lists GatewayCluster names in the namespace for shell completion.
func (o *Options) completeGateways(ctx context.Context, prefix string) []cobra.Completion {
	site, err := o.NewSite(o.ConfigFlags)
	return kube.CompleteNames(ctx, site, err, apic.GatewayClusterKind.GVR(), prefix)
}

// transcripts writes one file per member; nil-safe when no directory was given.
type transcripts struct {
	dir   string
	mu    sync.Mutex
	files []*os.File
}

func newTranscripts(dir string) (*transcripts, error) {
	if dir == "" {
		return &transcripts{}, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, exitcode.Newf(exitcode.Usage, "--transcript: %v", err)
	}
	return &transcripts{dir: dir}, nil
}

// open returns the transcript writer of pod (nil without --transcript). A member's second
// session in one run appends to the same file.
func (t *transcripts) open(pod string) (io.Writer, error) {
	if t.dir == "" {
		return nil, nil
	}
	f, err := os.OpenFile(filepath.Join(t.dir, pod+".txt"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("--transcript: %w", err)
	}
	t.mu.Lock()
	t.files = append(t.files, f)
	t.mu.Unlock()
	return f, nil
}

func (t *transcripts) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, f := range t.files {
		_ = f.Close()
	}
}
