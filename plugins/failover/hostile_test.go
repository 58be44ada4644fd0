package failover_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	ft "github.com/kubectl-apic/kubectl-apic/hack/lab/labtest/failovertest"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/failover"
)

// Issue 11, item 1: `apic-lab fault zone-down dc2 zone-a; ... zone-b` leaves the warm-standby's
// management Pending with most pods not ready while its haStatus still says the database is ready.
// Pre-flight must refuse (exit 5, nothing changed) saying what is wrong, and --dry-run the same.
func TestRefusesWarmStandbyNotReady(t *testing.T) {
	l := env.Require(t)
	rec := ft.Record(t, l)
	defer rec.Check(t)
	from, to := activeSite(t, l)
	for _, z := range []string{"zone-a", "zone-b"} {
		if err := l.SetZoneReady(to, z, false); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, z := range []string{"zone-a", "zone-b"} {
			_ = l.SetZoneReady(to, z, true)
		}
		if err := l.WaitReady(context.Background(), 2*time.Minute); err != nil {
			t.Fatal(err)
		}
		activeSite(t, l)
	}()
	ft.WaitFor(t, l, to, apic.ManagementClusterKind, lab.MgmtName, "phase Pending", 60*time.Second, func(o apic.Object) bool {
		return o.Phase() == "Pending"
	})
	if c, _ := ft.Get(t, l, to, apic.ManagementClusterKind, lab.MgmtName).ActiveHAStatus(); c.Type != apic.HAStatusReady {
		t.Logf("note: the warm-standby's haStatus is %s, not Ready: the case is easier than the issue's", c.Type)
	}

	for _, args := range [][]string{{"--yes"}, {"--dry-run"}} {
		t.Run(args[0], func(t *testing.T) {
			before := ft.Snapshot(t, l)
			out := ft.Run(t, l.Kubeconfig(), append([]string{"--from", from, "--to", to}, args...)...)
			if out.Code != int(exitcode.Refused) {
				t.Errorf("exit %d, want Refused (5)", out.Code)
			}
			for _, want := range []string{"warm-standby " + to + " is not ready to take over",
				"warm-standby phase: management " + lab.MgmtName + " on " + to + " is phase Pending",
				"warm-standby ready count: management " + lab.MgmtName,
				"warm-standby pods: ", "pods of management " + lab.MgmtName + " on " + to + " are not ready",
				"do not fail over if you suspect the warm-standby also has problems", "Nothing was changed"} {
				if !strings.Contains(out.Stderr, want) {
					t.Errorf("stderr lacks %q", want)
				}
			}
			for _, s := range out.Result.Steps {
				if s.Phase != failover.PhasePreflight {
					t.Errorf("a step after pre-flight ran: %+v", s)
				}
			}
			ft.Unchanged(t, l, before)
		})
	}
}

// Issue 11, item 12 and the confirmation annotation: after a failover, the data-deletion
// confirmation is on neither site (removed once the demotion it confirmed completed, and said so),
// and one left on the warm-standby from an earlier demotion by hand is removed when it is promoted.
func TestConfirmationAnnotationRemoved(t *testing.T) {
	l := env.Require(t)
	rec := ft.Record(t, l)
	defer rec.Check(t)
	from, to := activeSite(t, l)
	// As if to was demoted by hand with IBM's patch earlier and the annotation left behind.
	annotate(t, l, to, lab.MgmtName, `"true"`)

	out := ft.Run(t, l.Kubeconfig(), "--from", from, "--to", to, "--yes", "--progress=plain")
	if out.Code != 0 {
		t.Fatalf("exit %d", out.Code)
	}
	for _, site := range []string{from, to} {
		if a, ok := ft.Get(t, l, site, apic.ManagementClusterKind, lab.MgmtName).U.GetAnnotations()[apic.DataDeletionConfirmationAnnotation]; ok {
			t.Errorf("%s still has %s=%q after the failover", site, apic.DataDeletionConfirmationAnnotation, a)
		}
	}
	for _, want := range []string{"removed the annotation " + apic.DataDeletionConfirmationAnnotation + " from mgmt/" + lab.MgmtName + " on " + from,
		"removed the annotation " + apic.DataDeletionConfirmationAnnotation + " from mgmt/" + lab.MgmtName + " on " + to} {
		if !strings.Contains(out.Stderr, want) || !strings.Contains(out.Stdout+jsonMessages(out.Result), want) {
			t.Errorf("progress or summary does not say %q", want)
		}
	}
	// A later change to passive by hand without the annotation is not taken as confirmed: the
	// simulator, as IBM's operator requires, keeps the site active.
	s, _ := l.Site(to)
	if _, err := s.Dynamic.Resource(apic.ManagementClusterKind.GVR()).Namespace(s.Namespace).Patch(context.Background(), lab.MgmtName,
		types.MergePatchType, []byte(`{"spec":{"multiSiteHA":{"mode":"passive"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if m := ft.Get(t, l, to, apic.ManagementClusterKind, lab.MgmtName).HAMode(); m != apic.HAModeActive {
		t.Errorf("an unconfirmed change to passive demoted %s (haMode %s)", to, m)
	}
	split(t, l, to, apic.ModeActive) // back to its spec
	requireActive(t, l, to, apic.Management, apic.Portal)
}

func annotate(t *testing.T, l *lab.Lab, site, name, value string) {
	t.Helper()
	s, _ := l.Site(site)
	p := fmt.Sprintf(`{"metadata":{"annotations":{%q:%s}}}`, apic.DataDeletionConfirmationAnnotation, value)
	if _, err := s.Dynamic.Resource(apic.ManagementClusterKind.GVR()).Namespace(s.Namespace).Patch(context.Background(), name,
		types.MergePatchType, []byte(p), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

func jsonMessages(r *failover.Result) string {
	var b strings.Builder
	for _, s := range r.Steps {
		b.WriteString(s.Message + "\n")
	}
	return b.String()
}

// Issue 11, item 10: the same cluster under two URLs (127.0.0.1 and localhost), for a user who may
// not read namespace kube-system. Refused (safe) without blaming split-brain: it says it cannot tell
// whether the contexts are one cluster and how to let it check.
func TestSameClusterTwoURLsWithoutClusterIdentity(t *testing.T) {
	l := env.Require(t)
	rec := ft.Record(t, l)
	defer rec.Check(t)
	from, _ := activeSite(t, l)
	kc := namespaceAdmin(t, l, "ns-admin")
	// A second context for from's cluster under another URL of the same API server.
	cfg, err := clientcmd.LoadFromFile(kc)
	if err != nil {
		t.Fatal(err)
	}
	c := *cfg.Clusters[from]
	c.Server = strings.Replace(c.Server, "127.0.0.1", "localhost", 1)
	cfg.Clusters["alias"] = &c
	ctx := *cfg.Contexts[from]
	ctx.Cluster = "alias"
	cfg.Contexts["alias"] = &ctx
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}

	before := ft.Snapshot(t, l)
	out := ft.Run(t, path, "--from", from, "--to", "alias", "--yes")
	if out.Code != int(exitcode.Refused) {
		t.Errorf("exit %d, want Refused", out.Code)
	}
	for _, want := range []string{"cannot tell whether contexts " + from, "are one cluster", "not a split-brain",
		"kubectl create clusterrole apic-cluster-id --verb=get --resource=namespaces --resource-name=kube-system", "Nothing was changed"} {
		if !strings.Contains(out.Stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if strings.Contains(out.Stderr, "by hand") {
		t.Errorf("the refusal advises changing a site by hand")
	}
	ft.Unchanged(t, l, before)
}

// namespaceAdmin may do everything in the API Connect namespace of each site, and nothing at the
// cluster scope (no get on namespace kube-system).
func namespaceAdmin(t *testing.T, l *lab.Lab, user string) string {
	t.Helper()
	kc, err := l.UserKubeconfig(user)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range l.Sites() {
		b := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user, Namespace: s.Namespace},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "admin"},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: user}}}
		_, _ = s.Kube.RbacV1().RoleBindings(s.Namespace).Create(context.Background(), b, metav1.CreateOptions{})
		r := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: user + "-apic", Namespace: s.Namespace}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{apic.ManagementClusterKind.Group, apic.PortalClusterKind.Group, apic.APIConnectClusterKind.Group}, Resources: []string{"*"}, Verbs: []string{"*"}},
			{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"*"}},
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"*"}}}}
		_, _ = s.Kube.RbacV1().Roles(s.Namespace).Create(context.Background(), r, metav1.CreateOptions{})
		rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user + "-apic", Namespace: s.Namespace},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: user + "-apic"},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: user}}}
		_, _ = s.Kube.RbacV1().RoleBindings(s.Namespace).Create(context.Background(), rb, metav1.CreateOptions{})
	}
	return kc
}

// --progress=jsonl: every stderr line is JSON, the final error too (exit code in it).
func TestJSONLinesErrorLine(t *testing.T) {
	l := env.Require(t)
	from, _ := activeSite(t, l)
	kc := ft.WriteKubeconfigAlias(t, l.Kubeconfig(), from, from+"-alias")
	p := ft.Start(t, kc, "--from", from, "--to", from+"-alias", "--yes")
	p.Drain()
	code, _, stderr := p.Wait()
	if code != int(exitcode.Refused) {
		t.Errorf("exit %d", code)
	}
	evs := ft.ParseEvents(t, stderr)
	if len(evs) == 0 {
		t.Fatal("no events")
	}
	last := evs[len(evs)-1]
	if last["event"] != "error" || last["exitCode"] != float64(exitcode.Refused) || last["exitCodeName"] != "Refused" ||
		!strings.Contains(fmt.Sprint(last["message"]), "are the same cluster") {
		t.Errorf("last event %v, want the error with its exit code", last)
	}
}

// Ctrl-C at the confirmation prompt aborts at once (exit 130, nothing changed); the time spent at
// the prompt is reported apart from pre-flight's.
func TestConfirmationPrompt(t *testing.T) {
	l := env.Require(t)
	rec := ft.Record(t, l)
	defer rec.Check(t)
	from, to := activeSite(t, l)

	t.Run("ctrl-c", func(t *testing.T) {
		before := ft.Snapshot(t, l)
		tm := ft.StartOnTerminal(t, l.Kubeconfig(), "--from", from, "--to", to, "--progress=plain")
		tm.ExpectStderr(t, "[y/N]: ", 60*time.Second)
		start := time.Now()
		tm.Type(t, "\x03") // Ctrl-C: the terminal sends SIGINT
		code := tm.Wait(5 * time.Second)
		if code != int(exitcode.Interrupted) {
			t.Fatalf("exit %d %s after Ctrl-C, want 130 at once\nstderr:\n%s", code, time.Since(start), tm.Stderr.String())
		}
		if !strings.Contains(tm.Stderr.String(), "interrupted at the confirmation prompt: nothing was changed") {
			t.Errorf("stderr:\n%s", tm.Stderr.String())
		}
		if out := tm.Stdout.String(); !strings.Contains(out, "INTERRUPTED") || !strings.Contains(out, "nothing was changed (the run stopped before its first step)") ||
			strings.Contains(out, "to resume") {
			t.Errorf("summary after Ctrl-C at the prompt:\n%s", out)
		}
		ft.Unchanged(t, l, before)
	})
	t.Run("wait reported apart", func(t *testing.T) {
		before := ft.Snapshot(t, l)
		tm := ft.StartOnTerminal(t, l.Kubeconfig(), "--from", from, "--to", to, "--progress=plain", "-o", "json")
		tm.ExpectStderr(t, "[y/N]: ", 60*time.Second)
		time.Sleep(5 * time.Second)
		tm.Type(t, "n\n")
		if code := tm.Wait(30 * time.Second); code != int(exitcode.Refused) {
			t.Fatalf("exit %d after answering n", code)
		}
		res := decodeResult(t, tm.Stdout.String())
		var pre, confirm *failover.StepResult
		for i := range res.Steps {
			switch res.Steps[i].Phase {
			case failover.PhasePreflight:
				pre = &res.Steps[i]
			case failover.PhaseConfirm:
				confirm = &res.Steps[i]
			}
		}
		if pre == nil || confirm == nil {
			t.Fatalf("steps %+v: want preflight and confirm", res.Steps)
		}
		if confirm.ElapsedSeconds < 5 || pre.ElapsedSeconds >= 5 {
			t.Errorf("preflight %.1fs, confirm %.1fs: the prompt's wait must be the confirm step's only", pre.ElapsedSeconds, confirm.ElapsedSeconds)
		}
		if pre.Status != failover.StatusPassed || confirm.Status != failover.StatusFailed {
			t.Errorf("preflight %s, confirm %s", pre.Status, confirm.Status)
		}
		ft.Unchanged(t, l, before)
	})
}

// SIGINT during the demotion, after its patch was applied: the step says INTERRUPTED (not DEMOTE
// FAILED), the state it left and the resume command; the same command then finishes.
func TestInterruptDuringDemote(t *testing.T) {
	l := env.Require(t)
	rec := ft.Record(t, l)
	defer rec.Check(t)
	from, to := activeSite(t, l)
	step := "management: demote " + from
	p := ft.Start(t, l.Kubeconfig(), "--from", from, "--to", to, "--yes")
	sent := false
	for ev := range p.Events() {
		if ev.Step == step && ev.Event == "update" { // the patch was sent; the wait has begun
			if err := p.Cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			sent = true
			break
		}
		if ev.Step == step && ev.Event != "start" {
			break
		}
	}
	p.Drain()
	code, stdout, stderr := p.Wait()
	if !sent {
		t.Skipf("the demotion ended before its first update (exit %d): nothing to interrupt on this machine", code)
	}
	if code != int(exitcode.Interrupted) {
		t.Fatalf("exit %d, want 130\n%s", code, stderr)
	}
	evs := ft.ParseEvents(t, stderr)
	var ended map[string]any
	for _, ev := range evs {
		if ev["step"] == step && ev["event"] != "start" && ev["event"] != "update" {
			ended = ev
		}
	}
	if ended == nil || ended["event"] != "interrupted" {
		t.Errorf("demote step ended with %v, want event interrupted", ended)
	} else if msg := fmt.Sprint(ended["message"]); !strings.Contains(msg, "after its change was sent") || !strings.Contains(msg, "mode passive") {
		t.Errorf("interrupted message %q lacks what was sent and the state", msg)
	}
	last := evs[len(evs)-1]
	if msg := fmt.Sprint(last["message"]); last["event"] != "error" || !strings.Contains(msg, "re-run kubectl apic failover") || !strings.Contains(msg, "--from="+from) {
		t.Errorf("final error %v lacks the resume command", last)
	}
	if !strings.Contains(stdout, "INTERRUPTED") || strings.Contains(stdout, "FAILED") {
		t.Errorf("summary:\n%s", stdout)
	}
	out := ft.Run(t, l.Kubeconfig(), "--from", from, "--to", to, "--yes")
	if out.Code != 0 {
		t.Fatalf("resume: exit %d", out.Code)
	}
	requireActive(t, l, to, apic.Management, apic.Portal)
}

// The inter-site link is cut as the demotion starts: the warm-standby reports PeerNotReachable and
// never becomes ReadyForPromotion. The run stops long before the 10-minute promote timeout, with the
// state and the resume command; after the link is restored the same command finishes.
func TestLinkCutDuringDemote(t *testing.T) {
	l := env.Require(t)
	rec := ft.Record(t, l)
	defer rec.Check(t)
	from, to := activeSite(t, l)
	defer l.RestoreLink()
	p := ft.Start(t, l.Kubeconfig(), "--from", from, "--to", to, "--subsystem", "management", "--yes")
	start := time.Now()
	for ev := range p.Events() {
		if ev.Step == "management: demote "+from && ev.Event == "start" {
			l.CutLink()
			break
		}
	}
	p.Drain()
	code, stdout, stderr := p.Wait()
	took := time.Since(start)
	t.Logf("link cut: exit %d after %s\n%s\n%s", code, took, stdout, stderr)
	if code != int(exitcode.PromoteFailed) {
		t.Errorf("exit %d, want PromoteFailed (no site is active)", code)
	}
	if took > 3*time.Minute {
		t.Errorf("took %s: PeerNotReachable was not noticed before the promote timeout", took)
	}
	for _, want := range []string{"PeerNotReachable", "restore the link between the sites", "re-run kubectl apic failover", "no site is active"} {
		if !strings.Contains(strings.ToLower(stderr), strings.ToLower(want)) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if !strings.Contains(stdout, "FAILOVER SUMMARY") {
		t.Errorf("no summary")
	}
	l.RestoreLink()
	out := ft.Run(t, l.Kubeconfig(), "--from", from, "--to", to, "--subsystem", "management", "--yes")
	if out.Code != 0 {
		t.Fatalf("resume after the link is back: exit %d", out.Code)
	}
	requireActive(t, l, to, apic.Management)
	// Portal moves too, to keep the sites aligned for the next tests.
	if out := ft.Run(t, l.Kubeconfig(), "--from", from, "--to", to, "--yes"); out.Code != 0 {
		t.Fatalf("portal: exit %d", out.Code)
	}
}

// Issue 11, item 11: a run paused at its promotion, resumed after another run completed the same
// failover and a third failed back. It stops without changing anything, and its hint must not be
// "re-run ... --yes" (which would start a new failover, demoting the site active now); exit 11
// ("no site may be active") is wrong while a site is active.
func TestStaleRunHints(t *testing.T) {
	l := env.Require(t)
	rec := ft.Record(t, l)
	defer rec.Check(t)
	from, to := activeSite(t, l)
	a := ft.Start(t, l.Kubeconfig(), "--from", from, "--to", to, "--subsystem", "management", "--yes")
	paused := false
	for ev := range a.Events() {
		if ev.Step == "management: promote "+to && ev.Event == "start" {
			if err := a.Cmd.Process.Signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			paused = true
			break
		}
	}
	a.Drain()
	if !paused {
		code, _, stderr := a.Wait()
		t.Fatalf("the promotion never started (exit %d)\n%s", code, stderr)
	}
	defer func() { _ = a.Cmd.Process.Signal(syscall.SIGCONT) }()
	// Someone finishes the failover (taking the paused run's lease over), then fails back.
	if out := ft.Run(t, l.Kubeconfig(), "--from", from, "--to", to, "--subsystem", "management", "--yes", "--force-unlock"); out.Code != 0 {
		t.Fatalf("finishing run: exit %d", out.Code)
	}
	if out := ft.Run(t, l.Kubeconfig(), "--from", to, "--to", from, "--subsystem", "management", "--yes"); out.Code != 0 {
		t.Fatalf("fail-back run: exit %d", out.Code)
	}
	requireActive(t, l, from, apic.Management)
	before := ft.Snapshot(t, l)
	if err := a.Cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var code int
	var stdout, stderr string
	go func() { code, stdout, stderr = a.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Minute):
		_ = a.Cmd.Process.Kill()
		<-done
		t.Fatalf("the resumed stale run did not stop")
	}
	t.Logf("the resumed stale run: exit %d\n%s\n%s", code, stdout, stderr)
	if code == 0 || code == int(exitcode.PromoteFailed) {
		t.Errorf("exit %d: want a stop that is not PromoteFailed (a site is active)", code)
	}
	all := stdout + stderr
	if strings.Contains(all, "re-run the same command to resume") || strings.Contains(all, "to resume from where it stopped") {
		t.Errorf("the stale run advises resuming:\n%s", all)
	}
	if !strings.Contains(all, "no failover "+from+"→"+to+" is in progress") || !strings.Contains(all, "starts a NEW failover") {
		t.Errorf("the stale run does not say that no failover is in progress")
	}
	ft.Unchanged(t, l, before)
	requireActive(t, l, from, apic.Management)
}

func decodeResult(t *testing.T, s string) *failover.Result {
	t.Helper()
	var r failover.Result
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatalf("decoding the result: %v\n%s", err, s)
	}
	return &r
}
