package rollout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/kubectl-apic/kubectl-apic/pkg/datapower"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/kube"
	"github.com/kubectl-apic/kubectl-apic/pkg/lock"
	"github.com/kubectl-apic/kubectl-apic/pkg/printers"
	"github.com/kubectl-apic/kubectl-apic/pkg/probe"
	"github.com/kubectl-apic/kubectl-apic/pkg/progress"
	prollout "github.com/kubectl-apic/kubectl-apic/pkg/rollout"
)

// runRollout is restart, upgrade and undo: connect to every site, read the journal, take the lease
// (not on a dry run), pre-flight and plan, confirm, run the members, report.
func (o *Options) runRollout(ctx context.Context) error {
	rep := o.Reporter(o.ErrOut, o.Progress, nil)
	defer func() { _ = rep.Close() }()
	if err := o.distinctClusters(ctx); err != nil {
		return err
	}
	runID := o.Now().UTC().Format("20060102T150405Z")
	logs, err := newLogs(o.LogDir, o.Gateway, runID)
	if err != nil {
		return err
	}
	defer logs.close()
	sites, err := o.connect(ctx, logs)
	if err != nil {
		return err
	}
	journal := prollout.NewJournal(sites, o.Gateway)
	if o.DryRun {
		if holder, err := prollout.LiveHolder(ctx, sites, o.Gateway, o.Now()); err != nil || holder != "" {
			if err != nil {
				return err
			}
			return exitcode.Newf(exitcode.Refused, "a rollout of gateway %s is running (%s): not attaching to the consoles it drives; try again when it ends", o.Gateway, holder)
		}
	} else {
		l, err := prollout.TakeLease(ctx, sites, o.Gateway, lock.CurrentHolder(o.commandLine()), lock.Options{Force: o.ForceUnlock})
		if err != nil {
			return err
		}
		for _, t := range l.TakeOvers {
			rep.Warnf("took over lease %s on %s from %s: %s", prollout.JournalName(o.Gateway), t.Site, t.Previous, t.Reason)
		}
		defer func() {
			if err := l.Release(context.WithoutCancel(ctx)); err != nil {
				rep.Warnf("releasing lease %s: %v", prollout.JournalName(o.Gateway), err)
			}
		}()
		var stop func()
		ctx, stop = l.Hold(ctx) // the run stops if the lease is lost
		defer stop()
	}
	last, hist, err := journal.Read(ctx)
	if err != nil {
		return err
	}
	cfg := o.engineConfig(sites, rep, logs, runID)
	if cfg.Resume, err = o.resumable(last, rep); err != nil {
		return err
	}
	if o.Action == prollout.ActionUndo {
		if cfg.Restore, err = o.undoTargets(ctx, sites, hist); err != nil {
			return err
		}
	}
	if !o.DryRun {
		cfg.Journal = journal
	}
	if cfg.Probe, err = o.startProbe(ctx, logs.dir); err != nil {
		return err
	}
	r := prollout.New(cfg)
	defer r.Close()
	if err := r.Assess(ctx); err != nil {
		if !o.Print.IsStructured() && len(r.Report().Preflight) > 0 {
			if perr := printers.RenderSections(o.Out, []printers.Table{preflightTable(r.Report())}, o.Print.IsWide(), o.Style(o.Out)); perr != nil {
				return perr
			}
		}
		return o.finish(r, logs, err, true)
	}
	if !o.Print.IsStructured() {
		if err := printers.RenderSections(o.Out, []printers.Table{preflightTable(r.Report()), planTable(r.Plan(), o.hooks())}, o.Print.IsWide(), o.Style(o.Out)); err != nil {
			return err
		}
	}
	if o.DryRun {
		r.Report().Outcome, r.Report().DryRun = prollout.OutcomePlanned, true
		return o.finish(r, logs, nil, true)
	}
	if err := o.confirm(ctx, rep, r.Plan()); err != nil {
		return err
	}
	err = r.Execute(ctx)
	if cause := context.Cause(ctx); err != nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = fmt.Errorf("%w (%v)", err, cause) // the lease was lost
	}
	return o.finish(r, logs, err, false)
}

// distinctClusters refuses two contexts that reach one cluster: a site would be rolled twice.
func (o *Options) distinctClusters(ctx context.Context) error {
	if len(o.sites) < 2 {
		return nil
	}
	cmp, err := kube.CompareClusters(ctx, o.sites[0], o.sites[1])
	if err != nil {
		return nil // undecidable: the rollout reads both anyway
	}
	if cmp.Match == kube.OneCluster {
		return exitcode.Newf(exitcode.Usage, "--context %s and --peer-context %s reach the same cluster (%s): give the second data center's context", o.sites[0].Name, o.sites[1].Name, cmp.Evidence)
	}
	return nil
}

func (o *Options) commandLine() string {
	s := fmt.Sprintf("kubectl apic rollout %s %s -n %s --context %s", o.Action, o.Gateway, o.sites[0].Namespace, o.sites[0].Name)
	if len(o.sites) > 1 {
		s += " --peer-context " + o.sites[1].Name
	}
	if o.Action == prollout.ActionUpgrade {
		s += " --version " + o.Version
	}
	return s
}

// connect makes each site's engine view: its clients and how to open a member's console (the
// admin Secret of that site's GatewayCluster, the datapower container, --domain).
func (o *Options) connect(ctx context.Context, logs *logs) ([]*prollout.Site, error) {
	var out []*prollout.Site
	for _, ks := range o.sites {
		s := &prollout.Site{Name: ks.Name, Namespace: ks.Namespace, Kube: ks.Kube, Dynamic: ks.Dynamic}
		g, err := prollout.ReadGateway(ctx, s, o.Gateway)
		if err != nil {
			return nil, err
		}
		secret := datapower.AdminSecret{Namespace: ks.Namespace, Name: g.Object.AdminSecretName(), Gateway: o.Gateway, Keys: o.Admin}
		if secret.Name == "" {
			return nil, exitcode.Newf(exitcode.Error, "GatewayCluster %s/%s (context %s) has no spec.adminUser.secretName: cannot find the DataPower admin credentials", ks.Namespace, o.Gateway, ks.Name)
		}
		creds, err := datapower.ReadAdminCredentials(ctx, ks.Kube, ks.Name, secret)
		if err != nil {
			return nil, err
		}
		site := ks
		opener := &datapower.Opener{
			Attach: func(ctx context.Context, t datapower.AttachTarget) (datapower.Conn, error) {
				return o.Attach(ctx, site, t)
			},
			Credentials: creds, Domain: o.Domain,
			Transcript: func(pod string) (io.Writer, error) { return logs.member(site.Name, pod), nil },
			Options:    datapower.Options{CommandTimeout: o.CommandTimeout, LoginFailureMessage: secret.LoginFailureMessage()},
		}
		s.Open = func(ctx context.Context, pod, container string) (*datapower.Session, error) {
			return opener.Open(ctx, datapower.AttachTarget{Namespace: site.Namespace, Pod: pod, Container: container})
		}
		out = append(out, s)
	}
	return out, nil
}

func (o *Options) hooks() prollout.Hooks {
	return prollout.Hooks{Drain: o.DrainHook, Smoke: o.SmokeCmd, Undrain: o.UndrainHook, Verify: o.VerifyCmd}
}

func (o *Options) engineConfig(sites []*prollout.Site, rep *progress.Reporter, logs *logs, runID string) prollout.Config {
	return prollout.Config{
		Action: o.Action, Gateway: o.Gateway, Sites: sites, Version: o.Version, License: o.License,
		Hooks: o.hooks(), RunHook: o.RunHook,
		RestartTimeout: o.RestartTimeout, ReadyTimeout: o.ReadyTimeout, RejoinTimeout: o.RejoinTimeout,
		SwitchTimeout: o.SwitchTimeout, PollInterval: o.PollInterval, ProbeWindow: o.ProbeWindow,
		Progress: rep, MemberLog: logs.member, RunID: runID, By: lock.CurrentHolder(o.commandLine()).String(), Now: o.Now,
	}
}

// resumable decides whether this run continues the journal's last run: an unfinished run of the
// same action (and version) is continued unless --fresh; an unfinished run of another kind refuses
// this one, so that two half-done changes are never mixed.
func (o *Options) resumable(last *prollout.RunRecord, rep *progress.Reporter) (*prollout.RunRecord, error) {
	if !last.Unfinished() || o.Fresh {
		if last.Unfinished() {
			rep.Warnf("--fresh: not continuing the %s %s run %s (stopped at %s)", last.State, last.Action, last.ID, position(last.Current))
		}
		return nil, nil
	}
	if last.Action != o.Action || last.Version != o.Version {
		what := last.Action
		if last.Version != "" {
			what += " to " + last.Version
		}
		return nil, exitcode.Newf(exitcode.Refused, "the journal holds an unfinished %s (run %s, %s at %s): finish it by running that again, or plan anew with --fresh. Nothing was changed",
			what, last.ID, last.State, position(last.Current))
	}
	rep.Infof("continuing %s run %s (%s at %s)", last.Action, last.ID, last.State, position(last.Current))
	return last, nil
}

func position(p prollout.Position) string {
	s := strings.TrimSpace(strings.Join([]string{p.Site, p.Pod, p.Phase}, " "))
	if s == "" {
		return "its start"
	}
	return s
}

// undoTargets picks, per site, the saved configuration to restore.
func (o *Options) undoTargets(ctx context.Context, sites []*prollout.Site, hist map[string][]prollout.Export) (map[string]prollout.Export, error) {
	out := map[string]prollout.Export{}
	for _, s := range sites {
		g, err := prollout.ReadGateway(ctx, s, o.Gateway)
		if err != nil {
			return nil, err
		}
		cur, err := prollout.CaptureExport(ctx, g, "", "", "now", o.Now())
		if err != nil {
			return nil, err
		}
		e, ok := prollout.UndoTarget(hist[s.Name], cur)
		if !ok {
			return nil, exitcode.Newf(exitcode.Refused, "nothing to undo on %s: the journal (ConfigMap %s) holds no saved configuration that differs from what gateway %s runs now",
				s.Name, prollout.JournalName(o.Gateway), o.Gateway)
		}
		out[s.Name] = e
	}
	return out, nil
}

// confirm asks before the first change unless --yes.
func (o *Options) confirm(ctx context.Context, rep *progress.Reporter, plan prollout.Plan) error {
	if o.Yes {
		return nil
	}
	n := 0
	var sites []string
	for _, s := range plan.Sites {
		n += len(s.Members)
		sites = append(sites, s.Site)
	}
	verb := map[string]string{prollout.ActionRestart: "Restart", prollout.ActionUpgrade: "Upgrade to " + o.Version + " and follow",
		prollout.ActionUndo: "Restore the saved configuration and restart"}[o.Action]
	q := fmt.Sprintf("%s %d members of gateway %s on %s, one at a time?", verb, n, o.Gateway, strings.Join(sites, ", "))
	defer rep.Pause()()
	return o.Confirm(ctx, o.IOStreams, q)
}

// finish completes the report and prints it; err already carries its exit code.
func (o *Options) finish(r *prollout.Runner, logs *logs, err error, preflightOnly bool) error {
	report := r.Report()
	if logs.dir != "" && !preflightOnly {
		report.LogDir = logs.dir
	}
	if o.probe != nil {
		report.Probe = o.probe.Stop()
		if err == nil {
			err = report.Probe.Result()
		}
	}
	switch {
	case err == nil && report.Outcome == "":
		report.Outcome = prollout.OutcomeSucceeded
	case err != nil:
		report.Error = err.Error()
		report.ExitCode = int(exitcode.FromError(err))
		switch {
		case report.ExitCode == int(exitcode.Interrupted):
			report.Outcome = prollout.OutcomeInterrupted
		case report.ExitCode == int(exitcode.Refused) || preflightOnly:
			report.Outcome = prollout.OutcomeRefused
		default:
			report.Outcome = prollout.OutcomeFailed
		}
		report.FailedMember, report.FailedPhase = failedAt(report)
	}
	if o.Print.IsStructured() {
		if perr := o.Print.PrintObject(o.Out, ReportKind, report); perr != nil {
			return perr
		}
		return err
	}
	if preflightOnly {
		return err
	}
	style := o.Style(o.Out)
	if perr := printers.RenderSections(o.Out, summaryTables(report, o.Print.IsWide()), o.Print.IsWide(), style); perr != nil {
		return perr
	}
	if report.Probe != nil {
		if perr := report.Probe.Render(o.Out, style); perr != nil {
			return perr
		}
	}
	if report.LogDir != "" {
		fmt.Fprintf(o.Out, "Logs: %s\n", report.LogDir)
	}
	return err
}

// failedAt is the member and phase (or site step) that failed or stopped.
func failedAt(r *prollout.Report) (string, string) {
	for _, m := range r.Members {
		for _, p := range m.Phases {
			if p.Status == prollout.Failed || p.Status == prollout.Unknown {
				return m.Site + "/" + m.Pod, p.Phase
			}
		}
	}
	for _, s := range r.Steps {
		if s.Status == prollout.Failed || s.Status == prollout.Unknown {
			return s.Site, s.Step
		}
	}
	return "", ""
}

// startProbe starts --probe (nothing without it); the samples go to the log directory.
func (o *Options) startProbe(ctx context.Context, dir string) (prollout.TrafficProbe, error) {
	p, err := probe.Start(ctx, o.Probe, probe.Config{Phase: prollout.PhasePrecheck, Log: o.ErrOut, SamplesDir: dir})
	if err != nil || p == nil {
		return nil, err
	}
	o.probe = p
	return p, nil
}

// logs writes one file per member (<site>_<pod>.log: phase lines, the attach transcript with the
// password redacted, pod events) and <site>__site.log for the hooks.
type logs struct {
	dir   string
	mu    sync.Mutex
	files map[string]*os.File
}

func newLogs(dir, gateway, runID string) (*logs, error) {
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return &logs{files: map[string]*os.File{}}, nil // no logs rather than no rollout
		}
		dir = filepath.Join(base, "kubectl-apic", "rollout", gateway, runID)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, exitcode.Newf(exitcode.Usage, "--log-dir: %v", err)
	}
	return &logs{dir: dir, files: map[string]*os.File{}}, nil
}

func (l *logs) member(site, pod string) io.Writer {
	if l.dir == "" {
		return nil
	}
	name := site + "_" + pod + ".log"
	l.mu.Lock()
	defer l.mu.Unlock()
	if f, ok := l.files[name]; ok {
		return f
	}
	f, err := os.OpenFile(filepath.Join(l.dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil
	}
	l.files[name] = f
	return f
}

func (l *logs) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, f := range l.files {
		_ = f.Close()
	}
}
