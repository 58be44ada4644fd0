package failover_test

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	ft "github.com/kubectl-apic/kubectl-apic/hack/lab/labtest/failovertest"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/failover"
)

// Kill the binary with SIGKILL as each step starts, then re-run the same command: it must complete
// every time, and no instant may have two active sites.
func TestKillAtEveryStepBoundaryThenResume(t *testing.T) {
	l := env.Require(t)
	rec := ft.Record(t, l)
	defer rec.Check(t)
	steps := func(from, to string) []string {
		return []string{"preflight",
			"management: demote " + from, "management: promote " + to,
			"portal: demote " + from, "portal: promote " + to,
			"management: verify " + from, "portal: verify " + from}
	}
	for i := range len(steps("", "")) {
		from, to := activeSite(t, l)
		target := steps(from, to)[i]
		t.Run(strings.ReplaceAll(target, " ", "_"), func(t *testing.T) {
			p := ft.Start(t, l.Kubeconfig(), "--from", from, "--to", to, "--yes")
			killed := false
			for ev := range p.Events() {
				if ev.Event == "start" && ev.Step == target {
					if err := p.Cmd.Process.Kill(); err != nil {
						t.Fatal(err)
					}
					killed = true
					break
				}
			}
			p.Drain()
			code, _, stderr := p.Wait() // reaps the process: its pid is no longer alive for the lease check
			if !killed {
				t.Fatalf("step %q never started (exit %d)\n%s", target, code, stderr)
			}
			out := ft.Run(t, l.Kubeconfig(), "--from", from, "--to", to, "--yes", "--progress=plain")
			if out.Code != 0 {
				t.Fatalf("re-run after kill at %q: exit %d", target, out.Code)
			}
			if target != "preflight" && !strings.Contains(out.Stderr, "is no longer running on this host") {
				t.Errorf("re-run did not report taking over the dead run's lease")
			}
			requireActive(t, l, to, apic.Management, apic.Portal)
		})
	}
}

// Two failovers started together: one proceeds, the other is refused naming the holder.
func TestConcurrentFailovers(t *testing.T) {
	l := env.Require(t)
	rec := ft.Record(t, l)
	defer rec.Check(t)
	from, to := activeSite(t, l)
	var wg sync.WaitGroup
	type res struct {
		code           int
		stdout, stderr string
		pid            int
	}
	results := make([]res, 2)
	procs := []*ft.Process{
		ft.Start(t, l.Kubeconfig(), "--from", from, "--to", to, "--yes"),
		ft.Start(t, l.Kubeconfig(), "--from", from, "--to", to, "--yes"),
	}
	for i, p := range procs {
		p.Drain()
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, o, e := p.Wait()
			results[i] = res{c, o, e, p.Cmd.Process.Pid}
		}()
	}
	wg.Wait()
	ok, refused := -1, -1
	for i, r := range results {
		switch r.code {
		case 0:
			ok = i
		case int(exitcode.Refused):
			refused = i
		}
	}
	if ok < 0 || refused < 0 {
		t.Fatalf("want one success and one refusal, got exits %d and %d\n%s\n%s", results[0].code, results[1].code, results[0].stderr, results[1].stderr)
	}
	msg := results[refused].stderr
	if !strings.Contains(msg, "another failover is in progress") || !strings.Contains(msg, fmt.Sprintf("pid %d", results[ok].pid)) {
		t.Errorf("refusal does not name the holder (pid %d):\n%s", results[ok].pid, msg)
	}
	requireActive(t, l, to, apic.Management, apic.Portal)
}

// Pre-flight refusals change nothing.
func TestRefusedWithNothingChanged(t *testing.T) {
	l := env.Require(t)
	rec := ft.Record(t, l)
	defer rec.Check(t)
	from, to := activeSite(t, l)
	refused := func(t *testing.T, kubeconfig, want string, args ...string) {
		t.Helper()
		before := ft.Snapshot(t, l)
		out := ft.Run(t, kubeconfig, append(args, "--yes")...)
		if out.Code != int(exitcode.Refused) {
			t.Errorf("exit %d, want Refused (%d)", out.Code, exitcode.Refused)
		}
		if !strings.Contains(out.Stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
		ft.Unchanged(t, l, before)
	}

	t.Run("same cluster twice", func(t *testing.T) {
		kc := ft.WriteKubeconfigAlias(t, l.Kubeconfig(), from, from+"-alias")
		refused(t, kc, "are the same cluster", "--from", from, "--to", from+"-alias")
	})
	t.Run("end state already holds", func(t *testing.T) {
		// --from the warm-standby --to the active site: what was asked already holds. Like kubectl
		// apply with nothing to change: exit 0, nothing changed.
		before := ft.Snapshot(t, l)
		out := ft.Run(t, l.Kubeconfig(), "--from", to, "--to", from, "--yes")
		if out.Code != 0 || out.Result.Outcome != failover.OutcomeNothingToDo || !strings.Contains(out.Stderr, "nothing to do") {
			t.Errorf("exit %d outcome %s, want 0 NothingToDo", out.Code, out.Result.Outcome)
		}
		ft.Unchanged(t, l, before)
	})
	t.Run("dry run", func(t *testing.T) {
		before := ft.Snapshot(t, l)
		out := ft.Run(t, l.Kubeconfig(), "--from", from, "--to", to, "--dry-run")
		if out.Code != 0 || !strings.Contains(out.Stdout, "Plan: fail over management and portal") || !strings.Contains(out.Stdout, apic.DataDeletionConfirmationAnnotation) {
			t.Errorf("dry run: exit %d", out.Code)
		}
		ft.Unchanged(t, l, before)
	})
	t.Run("no confirmation without a terminal", func(t *testing.T) {
		before := ft.Snapshot(t, l)
		out := ft.Run(t, l.Kubeconfig(), "--from", from, "--to", to)
		if out.Code != int(exitcode.Refused) || !strings.Contains(out.Stderr, "--yes") {
			t.Errorf("exit %d", out.Code)
		}
		ft.Unchanged(t, l, before)
	})
	t.Run("warm-standby cannot reach its peer", func(t *testing.T) {
		l.CutLink()
		defer func() {
			l.RestoreLink()
			activeSite(t, l)
		}()
		ft.WaitFor(t, l, to, apic.ManagementClusterKind, lab.MgmtName, "PeerNotReachable", 10*time.Second, func(o apic.Object) bool {
			c, _ := o.ActiveHAStatus()
			return c.Type == apic.HAStatusPeerNotReachable
		})
		refused(t, l.Kubeconfig(), "PeerNotReachable", "--from", from, "--to", to)
	})
	t.Run("missing RBAC", func(t *testing.T) {
		// Every gap, on both sites, in one refusal.
		kc := restrictedUser(t, l)
		before := ft.Snapshot(t, l)
		out := ft.Run(t, kc, "--from", from, "--to", to, "--yes")
		if out.Code != int(exitcode.Refused) {
			t.Errorf("exit %d, want Refused", out.Code)
		}
		for _, want := range []string{"missing RBAC on " + from + " (namespace apic): patch managementclusters",
			"; on " + to + " (namespace apic): ", "list pods, patch managementclusters"} {
			if !strings.Contains(out.Stderr, want) {
				t.Errorf("stderr lacks %q", want)
			}
		}
		if n := strings.Count(out.Result.Message, "missing RBAC"); n != 1 {
			t.Errorf("%d refusals, want one listing every gap", n)
		}
		ft.Unchanged(t, l, before)
	})
	t.Run("reads denied: every gap of both sites", func(t *testing.T) {
		kc := noReadUser(t, l)
		before := ft.Snapshot(t, l)
		out := ft.Run(t, kc, "--from", from, "--to", to, "--yes")
		if out.Code != int(exitcode.Refused) {
			t.Errorf("exit %d, want Refused (5), not Error", out.Code)
		}
		for _, want := range []string{"missing RBAC on " + from, "on " + to, "list managementclusters", "list portalclusters", "list pods"} {
			if !strings.Contains(out.Stderr, want) {
				t.Errorf("stderr lacks %q", want)
			}
		}
		ft.Unchanged(t, l, before)
	})
	t.Run("both active", func(t *testing.T) {
		rec.Stop() // this subtest makes a split-brain on purpose
		split(t, l, to, apic.ModeActive)
		defer func() {
			split(t, l, to, apic.ModePassive)
			ft.WaitFor(t, l, to, apic.ManagementClusterKind, lab.MgmtName, "warm-standby again", 15*time.Second, func(o apic.Object) bool {
				c, _ := o.ActiveHAStatus()
				return o.HAMode() == apic.HAModePassive && c.Type == apic.HAStatusReady
			})
		}()
		ft.WaitFor(t, l, to, apic.ManagementClusterKind, lab.MgmtName, "active", 10*time.Second, func(o apic.Object) bool {
			return o.HAMode() == apic.HAModeActive
		})
		refused(t, l.Kubeconfig(), "split-brain", "--from", from, "--to", to, "--subsystem", "management")
	})
}

func split(t *testing.T, l *lab.Lab, site, mode string) {
	t.Helper()
	s, _ := l.Site(site)
	patch, _ := apic.ModePatch(apic.ManagementClusterKind, apic.Management, mode)
	if _, err := s.Dynamic.Resource(apic.ManagementClusterKind.GVR()).Namespace(s.Namespace).Patch(context.Background(), lab.MgmtName, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

// restrictedUser may read everything a failover reads but not patch the management CR.
func restrictedUser(t *testing.T, l *lab.Lab) string {
	t.Helper()
	ctx := context.Background()
	kc, err := l.UserKubeconfig("operator-viewer")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range l.Sites() {
		role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "failover-partial", Namespace: s.Namespace}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{apic.ManagementClusterKind.Group, apic.PortalClusterKind.Group}, Resources: []string{"*"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{apic.PortalClusterKind.Group}, Resources: []string{"*"}, Verbs: []string{"patch"}},
			{APIGroups: []string{apic.APIConnectClusterKind.Group}, Resources: []string{"*"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "create", "update"}},
		}}
		binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "failover-partial", Namespace: s.Namespace},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "failover-partial"},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "operator-viewer"}}}
		cr := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "failover-cluster-id"}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get"}}}}
		crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "failover-cluster-id"},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "failover-cluster-id"},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "operator-viewer"}}}
		rbac := s.Kube.RbacV1()
		_, _ = rbac.Roles(s.Namespace).Create(ctx, role, metav1.CreateOptions{})
		_, _ = rbac.RoleBindings(s.Namespace).Create(ctx, binding, metav1.CreateOptions{})
		_, _ = rbac.ClusterRoles().Create(ctx, cr, metav1.CreateOptions{})
		_, _ = rbac.ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{})
	}
	return kc
}

// noReadUser may only hold the lease: it cannot even read the API Connect CRs.
func noReadUser(t *testing.T, l *lab.Lab) string {
	t.Helper()
	ctx := context.Background()
	kc, err := l.UserKubeconfig("lease-only")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range l.Sites() {
		role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "lease-only", Namespace: s.Namespace}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "create", "update"}},
		}}
		binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "lease-only", Namespace: s.Namespace},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "lease-only"},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "lease-only"}}}
		cr := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "failover-cluster-id"}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get"}}}}
		_, _ = s.Kube.RbacV1().ClusterRoles().Create(ctx, cr, metav1.CreateOptions{})
		crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "failover-cluster-id-lease-only"},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "failover-cluster-id"},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "lease-only"}}}
		rbac := s.Kube.RbacV1()
		_, _ = rbac.Roles(s.Namespace).Create(ctx, role, metav1.CreateOptions{})
		_, _ = rbac.RoleBindings(s.Namespace).Create(ctx, binding, metav1.CreateOptions{})
		_, _ = rbac.ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{})
	}
	return kc
}

// The active site's API server is down: refused without --from-fenced; with it, the warm-standby is
// promoted and the steps to reconnect the old site are printed. The test then follows them.
func TestActiveSiteDown(t *testing.T) {
	l := env.Require(t)
	rec := ft.Record(t, l)
	defer rec.Check(t)
	from, to := activeSite(t, l)
	ctx := context.Background()
	rec.Fence(from)
	if err := l.StopAPIServer(from); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			_ = l.StartAPIServer(ctx, from)
		}
	}()

	before := snapshotSite(t, l, to)
	out := ft.Run(t, l.Kubeconfig(), "--from", from, "--to", to, "--yes")
	if out.Code != int(exitcode.Refused) || !strings.Contains(out.Stderr, "--from-fenced") || !strings.Contains(out.Stderr, "unreachable") {
		t.Fatalf("without --from-fenced: exit %d", out.Code)
	}
	if after := snapshotSite(t, l, to); after != before {
		t.Errorf("%s changed by a refused run", to)
	}

	out = ft.Run(t, l.Kubeconfig(), "--from", from, "--to", to, "--from-fenced", "--yes")
	if out.Code != 0 {
		t.Fatalf("with --from-fenced: exit %d", out.Code)
	}
	for _, name := range []string{lab.MgmtName, lab.PortalName} {
		k := apic.ManagementClusterKind
		if name == lab.PortalName {
			k = apic.PortalClusterKind
		}
		if got := ft.Get(t, l, to, k, name).HAMode(); got != apic.HAModeActive {
			t.Errorf("%s on %s: haMode %s", name, to, got)
		}
	}
	want := fmt.Sprintf(`kubectl --context %s -n apic patch mgmt %s --type merge --patch '{"metadata":{"annotations":{"apiconnect-operator/dr-data-deletion-confirmation":"true"}},"spec":{"multiSiteHA":{"mode":"passive"}}}'`, from, lab.MgmtName)
	if !strings.Contains(out.Stdout, want) {
		t.Errorf("stdout lacks the reconnect command\n%s", want)
	}

	// Follow the printed steps: keep the site isolated, bring its API server back, set it to
	// warm-standby with the printed commands, check, and only then restore the link.
	l.CutLink()
	if err := l.StartAPIServer(ctx, from); err != nil {
		t.Fatal(err)
	}
	restarted = true
	for _, c := range out.Result.Reconnect {
		cmd := exec.Command("/bin/sh", "-c", c)
		cmd.Env = append(cmd.Environ(), "KUBECONFIG="+l.Kubeconfig())
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", c, err, b)
		}
	}
	ft.WaitFor(t, l, from, apic.ManagementClusterKind, lab.MgmtName, "demotion", 20*time.Second, func(o apic.Object) bool { return apic.IsPassiveHAMode(o.HAMode()) })
	ft.WaitFor(t, l, from, apic.PortalClusterKind, lab.PortalName, "demotion", 20*time.Second, func(o apic.Object) bool { return apic.IsPassiveHAMode(o.HAMode()) })
	rec.Unfence(from)
	l.RestoreLink()
	requireActive(t, l, to, apic.Management, apic.Portal)
}

func snapshotSite(t *testing.T, l *lab.Lab, site string) string {
	t.Helper()
	var b strings.Builder
	for _, k := range []apic.Kind{apic.ManagementClusterKind, apic.PortalClusterKind} {
		name := lab.MgmtName
		if k == apic.PortalClusterKind {
			name = lab.PortalName
		}
		o := ft.Get(t, l, site, k, name)
		ha, _ := o.MultiSiteHA(k.Subsystem)
		fmt.Fprintf(&b, "%s %d %s %v;", name, o.U.GetGeneration(), ha.Mode, o.U.GetAnnotations())
	}
	return b.String()
}
