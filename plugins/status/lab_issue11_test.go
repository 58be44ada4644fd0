package status_test

// Lab tests of the status cases of issue 11 (hostile runs). Each restores what it changes.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	"github.com/kubectl-apic/kubectl-apic/hack/lab/labtest"
	"github.com/kubectl-apic/kubectl-apic/internal/testenv"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/plugins/failover"
	"github.com/kubectl-apic/kubectl-apic/plugins/status"
)

// klogHeader is a klog line: client-go's log output.
var klogHeader = regexp.MustCompile(`(?m)^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ \S+:\d+\] `)

// Issue 11, item 3: `status --context dc2` on the healthy warm-standby (dc1 active) is not
// CRITICAL NoActiveSite advising to promote it: it is a warm-standby, peer not checked.
func TestSingleSiteWarmStandby(t *testing.T) {
	l := requireLab(t)
	r := run(t, l.Kubeconfig(), "--context", "dc2", "-n", "apic", "-o", "json")
	rep := report(t, r)
	if hasFinding(rep, "", "NoActiveSite") || r.code == exitcode.Critical {
		t.Fatalf("healthy warm-standby alone: exit %d, findings %v", r.code, codes(rep))
	}
	for _, sub := range []string{"management", "portal"} {
		found := false
		for _, f := range rep.Findings {
			if f.Code == "PeerNotChecked" && f.Subsystem == sub {
				found = true
				if f.Severity != "INFO" || !strings.Contains(f.Message, "warm-standby") || !strings.Contains(f.Message, "replicating") || !strings.Contains(f.Fix, "--peer-context") {
					t.Errorf("%s: %+v", sub, f)
				}
			}
		}
		if !found {
			t.Errorf("no PeerNotChecked for %s: %v", sub, codes(rep))
		}
	}
	tr := run(t, l.Kubeconfig(), "--context", "dc2", "-n", "apic")
	if !strings.Contains(tr.out, "INFO  PeerNotChecked") || strings.Contains(tr.out, "CRITICAL") {
		t.Errorf("table:\n%s", tr.out)
	}
}

// kubeconfigWith rewrites kc: context dc2 uses dc1's cluster and user (a copied entry), at server
// (or dc1's URL), namespace ns.
func kubeconfigWith(t *testing.T, kc, server, ns string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(kc)
	if err != nil {
		t.Fatal(err)
	}
	c := *cfg.Clusters[cfg.Contexts["dc1"].Cluster]
	if server != "" {
		c.Server = server
	}
	cfg.Clusters["dc2-alias"] = &c
	ctx := *cfg.Contexts["dc1"]
	ctx.Cluster = "dc2-alias"
	ctx.Namespace = ns
	cfg.Contexts["dc2"] = &ctx
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// Issue 11, item 2: a kubeconfig whose dc2 context points at dc1's cluster must not give a false
// SplitBrain (whose fix would demote the only active site): status refuses to judge 2DCDR on one
// cluster; when it cannot tell (no access to kube-system), it says so.
func TestSameClusterTwice(t *testing.T) {
	l := requireLab(t)
	dc1, _ := l.Site("dc1")
	server := dc1.Config.Host
	localhost := strings.Replace(server, "127.0.0.1", "localhost", 1)
	refusedSame := func(t *testing.T, r result, evidence string) {
		t.Helper()
		if r.code != exitcode.Usage || !strings.Contains(r.err, "contexts dc1 and dc2 are the same cluster ("+evidence) ||
			!strings.Contains(r.err, "cannot judge 2DCDR on one cluster") {
			t.Errorf("want the same-cluster usage error (%s), got exit %d: %q", evidence, r.code, r.err)
		}
		if strings.Contains(r.out, "SplitBrain") || strings.Contains(r.out, "passive") {
			t.Errorf("a report (or a demotion fix) was printed:\n%s", r.out)
		}
	}
	t.Run("admin, same URL", func(t *testing.T) {
		kc := kubeconfigWith(t, l.Kubeconfig(), "", "apic")
		refusedSame(t, run(t, kc, "--context", "dc1", "--peer-context", "dc2"), "the same kube-system namespace UID")
		refusedSame(t, run(t, kc, "--context", "dc1", "--peer-context", "dc2", "-o", "json"), "the same kube-system namespace UID")
	})
	t.Run("admin, same URL, --watch", func(t *testing.T) {
		w := startWatch(t, kubeconfigWith(t, l.Kubeconfig(), "", "apic"), "--context", "dc1", "--peer-context", "dc2")
		select {
		case code := <-w.done:
			if code != exitcode.Usage || !strings.Contains(w.err.String(), "are the same cluster") || strings.Contains(w.out.String(), "SplitBrain") {
				t.Errorf("--watch: exit %d, stderr %q, stdout %q", code, w.err.String(), w.out.String())
			}
		case <-time.After(time.Minute):
			w.cancel()
			t.Errorf("--watch on one cluster twice kept running:\n%s", w.out.String())
		}
	})
	t.Run("admin, another URL", func(t *testing.T) {
		kc := kubeconfigWith(t, l.Kubeconfig(), localhost, "apic")
		refusedSame(t, run(t, kc, "--context", "dc1", "--peer-context", "dc2"), "the same kube-system namespace UID")
	})

	// A user who may read API Connect objects, pods and nodes, but not namespace kube-system.
	ctx := context.Background()
	cr := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "apic-no-kube-system"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods", "nodes"}, Verbs: []string{"list", "watch"}}}}
	for _, k := range apic.Kinds() {
		cr.Rules = append(cr.Rules, rbacv1.PolicyRule{APIGroups: []string{k.Group}, Resources: []string{k.Plural}, Verbs: []string{"list", "watch"}})
	}
	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "apic-no-kube-system"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: cr.Name},
		Subjects: []rbacv1.Subject{{Kind: "User", Name: "nokube", APIGroup: "rbac.authorization.k8s.io"}}}
	if _, err := dc1.Kube.RbacV1().ClusterRoles().Create(ctx, cr, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = dc1.Kube.RbacV1().ClusterRoles().Delete(context.Background(), cr.Name, metav1.DeleteOptions{})
	}()
	if _, err := dc1.Kube.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = dc1.Kube.RbacV1().ClusterRoleBindings().Delete(context.Background(), crb.Name, metav1.DeleteOptions{})
	}()
	userKC, err := l.UserKubeconfig("nokube")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("no kube-system access, same URL", func(t *testing.T) {
		refusedSame(t, run(t, kubeconfigWith(t, userKC, "", "apic"), "--context", "dc1", "--peer-context", "dc2"), "the same API server")
	})
	t.Run("no kube-system access, another URL, same objects", func(t *testing.T) {
		refusedSame(t, run(t, kubeconfigWith(t, userKC, localhost, "apic"), "--context", "dc1", "--peer-context", "dc2"), "the same objects")
	})
	t.Run("no kube-system access, another URL, nothing to compare", func(t *testing.T) {
		// dc2's context namespace is empty: nothing decides. Say so, name the RBAC, do not guess.
		r := run(t, kubeconfigWith(t, userKC, localhost, "nothing-here"), "--context", "dc1", "--peer-context", "dc2", "-o", "json")
		rep := report(t, r)
		var f *status.Finding
		for i := range rep.Findings {
			if rep.Findings[i].Code == status.FindingClustersUnknown {
				f = &rep.Findings[i]
			}
		}
		if f == nil || f.Severity != "WARNING" || !strings.Contains(f.Message, "cannot tell whether contexts dc1 and dc2 are two clusters") ||
			!strings.Contains(f.Message, "forbidden") || !strings.Contains(f.Fix, "get on namespace kube-system in context dc1 and dc2") {
			t.Errorf("want ClusterIdentityUnknown naming the RBAC, got %+v (%v)", f, codes(rep))
		}
		if hasFinding(rep, "", "SplitBrain") {
			t.Errorf("split-brain reported: %v", codes(rep))
		}
	})
	t.Run("two real sites", func(t *testing.T) {
		rep := report(t, run(t, l.Kubeconfig(), "--context", "dc1", "--peer-context", "dc2", "-o", "json"))
		if hasFinding(rep, "", status.FindingClustersUnknown) || len(rep.Sites) != 2 {
			t.Errorf("two clusters: %v", codes(rep))
		}
	})
}

// frames decodes the JSON reports --watch printed so far.
func frames(s string) []status.Report {
	var out []status.Report
	dec := json.NewDecoder(strings.NewReader(s))
	for {
		var r status.Report
		if err := dec.Decode(&r); err != nil {
			return out
		}
		out = append(out, r)
	}
}

type watcher struct {
	out, err labtest.SyncBuffer
	cancel   context.CancelFunc
	done     chan exitcode.Code
}

func startWatch(t *testing.T, kc string, args ...string) *watcher {
	t.Helper()
	w := &watcher{done: make(chan exitcode.Code, 1)}
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &w.out, ErrOut: &w.err}
	o := status.NewOptions(streams)
	o.Debounce = 200 * time.Millisecond
	cmd := status.NewCommandWithOptions("kubectl apic status", o)
	cmd.SetArgs(append([]string{"--kubeconfig", kc, "--watch", "-o", "json"}, args...))
	var ctx context.Context
	ctx, w.cancel = context.WithCancel(context.Background())
	go func() { w.done <- exitcode.Code(cli.Execute(ctx, cmd, streams)) }()
	return w
}

// waitFrame waits for a frame satisfying cond and returns it.
func (w *watcher) waitFrame(t *testing.T, what string, timeout time.Duration, cond func(status.Report) bool) status.Report {
	t.Helper()
	var got status.Report
	labtest.Eventually(t, timeout, what, func() (bool, string) {
		fs := frames(w.out.String())
		if len(fs) == 0 {
			return false, "no frame yet\n" + w.err.String()
		}
		got = fs[len(fs)-1]
		b, _ := json.MarshalIndent(got.Sites, "", " ")
		return cond(got), string(b)
	})
	return got
}

func (w *watcher) stop(t *testing.T) exitcode.Code {
	t.Helper()
	w.cancel()
	select {
	case c := <-w.done:
		return c
	case <-time.After(time.Minute):
		t.Fatal("--watch did not end after cancel")
		return 0
	}
}

func dc2Down(r status.Report) bool {
	return len(r.Sites) == 2 && !r.Sites[1].Reachable && strings.Contains(r.Sites[1].Error, "context dc2 unreachable")
}

func dc2Up(r status.Report) bool {
	return len(r.Sites) == 2 && r.Sites[1].Reachable && r.Sites[1].Error == "" && len(r.Sites[1].Subsystems) > 0
}

// Issue 11, item 5: `status --watch` of both sites, then dc2's API server stops: the site is marked
// UNREACHABLE within the bound --help states (not drawn from the cache as active/Ready), recovers
// when the server returns, no client-go log line reaches stderr at the default verbosity (-v=4
// shows them), and the exit code is that of the last frame.
func TestWatchMarksSiteUnreachable(t *testing.T) {
	l := requireLab(t)
	bound := status.DefaultProbeInterval + status.DefaultProbeTimeout
	restart := func() {
		if err := l.StartAPIServer(context.Background(), "dc2"); err != nil {
			t.Fatal(err)
		}
	}
	w := startWatch(t, l.Kubeconfig(), "--context", "dc1", "--peer-context", "dc2")
	w.waitFrame(t, "a first frame with dc2 up", time.Minute, dc2Up)
	if err := l.StopAPIServer("dc2"); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	down := w.waitFrame(t, "dc2 marked unreachable", bound+30*time.Second, dc2Down)
	took := time.Since(stopped)
	t.Logf("dc2 shown unreachable %s after its API server stopped (bound in --help: %s)", took.Round(time.Millisecond), bound)
	if down.ExitCode != int(exitcode.Unreachable) || down.Health != status.Unreachable {
		t.Errorf("frame with dc2 down: health %s exit %d", down.Health, down.ExitCode)
	}
	for _, p := range down.Pairs {
		if len(p.Unreachable) != 1 || p.Unreachable[0] != "dc2" {
			t.Errorf("pair %s still shows dc2 from the cache: %+v", p.Name, p)
		}
	}
	time.Sleep(3 * time.Second) // let the retries run: none may log to stderr
	restart()
	up := w.waitFrame(t, "dc2 back", 2*time.Minute, dc2Up)
	code := w.stop(t)
	last := frames(w.out.String())
	if code != exitcode.Code(last[len(last)-1].ExitCode) || up.ExitCode == int(exitcode.Unreachable) {
		t.Errorf("exit %d, last frame says %d (health %s)", code, last[len(last)-1].ExitCode, last[len(last)-1].Health)
	}
	if klogHeader.MatchString(w.err.String()) || strings.Contains(w.err.String(), "Watch failed") {
		t.Errorf("library log lines on stderr at the default verbosity:\n%s", w.err.String())
	}

	// The same with -v=4: the library's lines are shown.
	v := startWatch(t, l.Kubeconfig(), "--context", "dc1", "--peer-context", "dc2", "-v=4")
	v.waitFrame(t, "a first frame with dc2 up (-v=4)", time.Minute, dc2Up)
	if err := l.StopAPIServer("dc2"); err != nil {
		t.Fatal(err)
	}
	v.waitFrame(t, "dc2 marked unreachable (-v=4)", bound+30*time.Second, dc2Down)
	restart()
	v.waitFrame(t, "dc2 back (-v=4)", 2*time.Minute, dc2Up)
	v.stop(t)
	if !klogHeader.MatchString(v.err.String()) || !strings.Contains(v.err.String(), "Watch failed") {
		t.Errorf("-v=4: no client-go log line on stderr:\n%s", v.err.String())
	}
}

// -v=6 traces every API request through client-go's round-trippers, as kubectl -v=6 does; the
// default shows none.
func TestVerbosityTracesRequests(t *testing.T) {
	l := requireLab(t)
	r := run(t, l.Kubeconfig(), "--context", "dc1", "-v=6")
	if !strings.Contains(r.err, `verb="GET" url="https://127.0.0.1`) || !strings.Contains(r.err, `status="200 OK"`) {
		t.Errorf("-v=6: no request trace on stderr:\n%s", r.err)
	}
	if q := run(t, l.Kubeconfig(), "--context", "dc1"); q.err != "" {
		t.Errorf("default verbosity: stderr %q", q.err)
	}
}

// KUBECONFIG naming a missing file says so (not "no current context"); a request that outlives
// --request-timeout names the flag.
func TestKubeconfigAndRequestTimeoutMessages(t *testing.T) {
	l := requireLab(t)
	t.Setenv("KUBECONFIG", "/nonexistent")
	var out, errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	cmd := status.NewCommand("kubectl apic status", streams)
	cmd.SetArgs([]string{"-n", "apic"})
	code := exitcode.Code(cli.Execute(context.Background(), cmd, streams))
	if code != exitcode.Usage || !strings.Contains(errOut.String(), "kubeconfig file not found: /nonexistent (from KUBECONFIG)") {
		t.Errorf("KUBECONFIG=/nonexistent: exit %d, %q", code, errOut.String())
	}
	r := run(t, l.Kubeconfig(), "--context", "dc1", "--request-timeout", "1ms")
	if r.code != exitcode.Timeout || !strings.Contains(r.err, "--request-timeout") {
		t.Errorf("--request-timeout=1ms: exit %d, %q", r.code, r.err)
	}
}

// Issue 11: management and portal active on different sites (after failover --subsystem portal):
// INFO, saying IBM documents no warning, with a fix that runs (the test runs it to restore the lab).
func TestManagementAndPortalActiveApart(t *testing.T) {
	l := requireLab(t)
	dc1, _ := l.Site("dc1")
	dc2, _ := l.Site("dc2")
	patchPortal := func(s *lab.Site, mode string) {
		t.Helper()
		p, _ := apic.ModePatch(apic.PortalClusterKind, apic.Portal, mode)
		if _, err := s.Dynamic.Resource(apic.PortalClusterKind.GVR()).Namespace(s.Namespace).
			Patch(context.Background(), lab.PortalName, types.MergePatchType, p, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	patchPortal(dc1, apic.ModePassive)
	patchPortal(dc2, apic.ModeActive)
	rep := eventually(t, l.Kubeconfig(), 2*time.Minute, func(r status.Report) bool {
		return hasFinding(r, "", "ManagementPortalActiveApart")
	}, "--context", "dc1", "--peer-context", "dc2")
	var fix string
	for _, f := range rep.Findings {
		if f.Code == "ManagementPortalActiveApart" {
			fix = f.Fix
			if f.Severity != "INFO" || !strings.Contains(f.Message, "IBM documents failing over either subsystem alone and does not document a warning") {
				t.Errorf("finding: %+v", f)
			}
		}
	}
	cmds := commandsIn(fix)
	if len(cmds) != 1 || strings.Join(cmds[0][:3], " ") != "kubectl apic failover" {
		t.Fatalf("fix %q: want one kubectl apic failover command", fix)
	}
	// Run the fix (with --yes: no terminal here); it fails the portal back to dc1.
	var out, errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	fcmd := failover.NewCommand("kubectl apic failover", streams)
	fcmd.SetArgs(append(append([]string{"--kubeconfig", l.Kubeconfig()}, cmds[0][3:]...), "--yes"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if code := cli.Execute(ctx, fcmd, streams); code != 0 {
		t.Fatalf("the printed fix %q failed: exit %d\n%s%s", fix, code, out.String(), errOut.String())
	}
	eventually(t, l.Kubeconfig(), 2*time.Minute, func(r status.Report) bool {
		if hasFinding(r, "", "ManagementPortalActiveApart") {
			return false
		}
		for _, p := range r.Pairs {
			if strings.Join(p.Active, ",") != "dc1" || !p.Members[1].Replicating {
				return false
			}
		}
		return len(r.Pairs) == 2
	}, "--context", "dc1", "--peer-context", "dc2")
}

// runFix runs one printed kubectl command against the lab (with --dry-run=server unless apply).
func runFix(t *testing.T, l *lab.Lab, args []string, apply bool) {
	t.Helper()
	if len(args) < 2 || args[0] != "kubectl" || args[1] == "apic" {
		t.Fatalf("not a kubectl command: %q", args)
	}
	a := args[1:]
	if !apply {
		a = append(a, "--dry-run=server")
	}
	out, errOut, err := testenv.RunKubectl(l.Kubeconfig(), a...)
	var exit interface{ ExitCode() int }
	if err != nil && !errors.As(err, &exit) && !errors.Is(err, io.EOF) {
		t.Fatalf("kubectl %q: %v", a, err)
	}
	if err != nil {
		t.Errorf("the printed fix does not run: kubectl %s: %v\n%s%s", strings.Join(a, " "), err, out, errOut)
		return
	}
	t.Logf("kubectl %s: %s", strings.Join(a, " "), strings.TrimSpace(out))
}
