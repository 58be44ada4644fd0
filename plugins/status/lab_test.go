package status_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubectl-apic/kubectl-apic/hack/lab/labtest"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/plugins/status"
)

// One lab for the package (CI time): the tests below run in file order and each restores what it
// breaks; the split-brain and stuck-demotion tests, which leave the pairing changed, come last.
var env *labtest.Env

func TestMain(m *testing.M) { os.Exit(labtest.Main(m, &env, lab.Config{})) }

func requireLab(t *testing.T) *lab.Lab {
	t.Helper()
	return labtest.Require(t, env)
}

// counter counts the API requests of one run, by method and path.
type counter struct {
	mu  sync.Mutex
	req map[string]int
}

func (c *counter) wrap(cfg *rest.Config) *rest.Config {
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(r *http.Request) (*http.Response, error) {
			c.mu.Lock()
			c.req[r.Method+" "+r.URL.Host+r.URL.Path]++
			c.mu.Unlock()
			return rt.RoundTrip(r)
		})
	})
	return cfg
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type result struct {
	out, err string
	code     exitcode.Code
	requests map[string]int
}

func run(t *testing.T, kubeconfig string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	o := status.NewOptions(streams)
	c := &counter{req: map[string]int{}}
	o.ConfigFlags.WrapConfigFn = c.wrap
	cmd := status.NewCommandWithOptions("kubectl apic status", o)
	cmd.SetArgs(append([]string{"--kubeconfig", kubeconfig}, args...))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := exitcode.Code(cli.Execute(ctx, cmd, streams))
	t.Logf("kubectl apic status %s → exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
	return result{out: out.String(), err: errOut.String(), code: code, requests: c.req}
}

func report(t *testing.T, r result) status.Report {
	t.Helper()
	var rep status.Report
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil {
		t.Fatalf("output is not a StatusReport: %v\n%s", err, r.out)
	}
	return rep
}

func codes(rep status.Report) []string {
	var out []string
	for _, f := range rep.Findings {
		out = append(out, f.Site+"/"+f.Code)
	}
	sort.Strings(out)
	return out
}

func hasFinding(rep status.Report, site, code string) bool {
	for _, f := range rep.Findings {
		if f.Code == code && (site == "" || f.Site == site) {
			return true
		}
	}
	return false
}

// eventually re-runs the command until cond holds on its JSON report.
func eventually(t *testing.T, kc string, timeout time.Duration, cond func(status.Report) bool, args ...string) status.Report {
	t.Helper()
	var last status.Report
	err := wait.PollUntilContextTimeout(context.Background(), 300*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		var out, errOut bytes.Buffer
		streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
		o := status.NewOptions(streams)
		cmd := status.NewCommandWithOptions("kubectl apic status", o)
		cmd.SetArgs(append([]string{"--kubeconfig", kc, "-o", "json"}, args...))
		cli.Execute(context.Background(), cmd, streams)
		last = status.Report{}
		if json.Unmarshal(out.Bytes(), &last) != nil {
			return false, nil
		}
		return cond(last), nil
	})
	if err != nil {
		b, _ := json.MarshalIndent(last, "", "  ")
		t.Fatalf("condition not reached in %s; last report:\n%s", timeout, b)
	}
	return last
}

func TestHealthyBothSites(t *testing.T) {
	l := requireLab(t)
	r := run(t, l.Kubeconfig(), "--context", "dc1", "--peer-context", "dc2", "-o", "json")
	rep := report(t, r)
	if len(rep.Sites) != 2 || !rep.Sites[0].Reachable || !rep.Sites[1].Reachable {
		t.Fatalf("want two reachable sites, got %+v", rep.Sites)
	}
	for _, f := range rep.Findings {
		if f.Severity == "CRITICAL" {
			t.Errorf("healthy lab has a critical finding: %+v", f)
		}
		switch f.Code {
		case status.FindingZoneRisk, status.FindingZones:
		default:
			if f.Severity != "INFO" {
				t.Errorf("unexpected finding on a healthy lab: %+v", f)
			}
		}
	}
	if len(rep.Pairs) != 2 {
		t.Fatalf("want management and portal pairs, got %+v", rep.Pairs)
	}
	for _, p := range rep.Pairs {
		if strings.Join(p.Active, ",") != "dc1" || len(p.Members) != 2 || !p.Members[1].Replicating {
			t.Errorf("pair %s/%s: want dc1 active and dc2 replicating, got %+v", p.Subsystem, p.Name, p)
		}
	}
	if got := len(rep.Sites[0].Subsystems); got != 5 {
		t.Errorf("dc1: want mgmt, ptl, a7s, gw, dp; got %d: %+v", got, rep.Sites[0].Subsystems)
	}
	// The lab serves APIConnectCluster without objects of it (subsystem shape) and IBM's
	// DataPowerService CRD with the simulator's one per gateway (the dp row above).
	// Efficiency: exactly one request per kind per site, all LISTs.
	// With two sites, one GET of namespace kube-system each: the cluster identity (same cluster?).
	perSite := map[string]int{}
	for k, n := range r.requests {
		if n != 1 || !strings.HasPrefix(k, "GET ") {
			t.Errorf("request %s made %d times, want one GET", k, n)
		}
		perSite[strings.SplitN(strings.TrimPrefix(k, "GET "), "/", 2)[0]]++
	}
	want := len(apic.Kinds()) + 3 // API Connect kinds + pods + nodes + kube-system
	if len(perSite) != 2 {
		t.Errorf("want requests to 2 API servers, got %v", perSite)
	}
	for host, n := range perSite {
		if n != want {
			t.Errorf("%s: %d requests, want %d (one LIST per kind): %v", host, n, want, r.requests)
		}
	}
}

func TestHealthyTableAndExitCode(t *testing.T) {
	l := requireLab(t)
	r := run(t, l.Kubeconfig(), "--context", "dc1", "--peer-context", "dc2")
	for _, want := range []string{"SITE dc1", "SITE dc2", "GATEWAYS dc1", "ZONES dc1", "2DCDR", "active (Ready)", "passive (Ready)", "HEALTH:"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("table lacks %q", want)
		}
	}
	// Default lab placement: two of three gateways share zone-a, a warning (Degraded), not healthy.
	if r.code != exitcode.Degraded {
		t.Errorf("exit %d, want %d (zone risk)", r.code, exitcode.Degraded)
	}
}

func TestZoneRisk(t *testing.T) {
	l := requireLab(t)
	rep := report(t, run(t, l.Kubeconfig(), "--context", "dc1", "-o", "json"))
	found := false
	for _, f := range rep.Findings {
		if f.Code == status.FindingZoneRisk && strings.Contains(f.Message, "zone zone-a") && strings.Contains(f.Message, lab.GatewayName) {
			found = true
			if !strings.Contains(f.Fix, "kubectl apic spread") {
				t.Errorf("zone risk fix does not name the spread command: %q", f.Fix)
			}
		}
	}
	if !found {
		t.Errorf("no zone-a risk for %s: %v", lab.GatewayName, codes(rep))
	}
	if rep.ExitCode != int(exitcode.Degraded) || rep.Health != status.Degraded {
		t.Errorf("health %s exit %d, want Degraded 3", rep.Health, rep.ExitCode)
	}
}

func TestPeering(t *testing.T) {
	l := requireLab(t)
	r := run(t, l.Kubeconfig(), "--context", "dc1", "--peering", "-o", "json")
	rep := report(t, r)
	gws := rep.Sites[0].Gateways
	if len(gws) != 1 || gws[0].Peering == nil {
		t.Fatalf("want peering of one gateway, got %+v", gws)
	}
	p := gws[0].Peering
	if len(p.Errors) > 0 {
		t.Fatalf("peering read errors: %v", p.Errors)
	}
	if len(p.Objects) == 0 {
		t.Fatal("no peering objects")
	}
	for _, o := range p.Objects {
		if !o.Quorum || o.Members != 3 || o.Primary == "" {
			t.Errorf("peering %s: want quorum of 3 with a primary, got %+v", o.Name, o)
		}
	}
	tr := run(t, l.Kubeconfig(), "--context", "dc1", "--peering")
	if !strings.Contains(tr.out, "PEERING dc1 "+lab.GatewayName) {
		t.Errorf("table lacks the peering section")
	}
}

func TestUnknownContext(t *testing.T) {
	l := requireLab(t)
	r := run(t, l.Kubeconfig(), "--context", "dc1", "--peer-context", "dc9")
	if r.code != exitcode.Usage || !strings.Contains(r.err, `context "dc9" not found`) {
		t.Errorf("want usage error naming dc9, got %d %q", r.code, r.err)
	}
}

func TestEmptyNamespace(t *testing.T) {
	l := requireLab(t)
	r := run(t, l.Kubeconfig(), "--context", "dc1", "-n", "nothing-here")
	if r.code != exitcode.Degraded || !strings.Contains(r.out, `no API Connect custom resources in namespace nothing-here of context dc1`) {
		t.Errorf("want a degraded report saying the namespace is empty, got %d", r.code)
	}
}

func TestForbidden(t *testing.T) {
	l := requireLab(t)
	kc, err := l.UserKubeconfig("viewer")
	if err != nil {
		t.Fatal(err)
	}
	s := l.Sites()[0]
	ctx := context.Background()
	// The user may list API Connect objects but not pods.
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "apic-viewer", Namespace: s.Namespace}}
	for _, k := range apic.Kinds() {
		role.Rules = append(role.Rules, rbacv1.PolicyRule{APIGroups: []string{k.Group}, Resources: []string{k.Plural}, Verbs: []string{"list", "watch"}})
	}
	if _, err := s.Kube.RbacV1().Roles(s.Namespace).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "apic-viewer", Namespace: s.Namespace},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "apic-viewer"},
		Subjects: []rbacv1.Subject{{Kind: "User", Name: "viewer", APIGroup: "rbac.authorization.k8s.io"}}}
	if _, err := s.Kube.RbacV1().RoleBindings(s.Namespace).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	r := run(t, kc, "--context", "dc1")
	if r.code != exitcode.Error || !strings.Contains(r.err, `cannot list pods in namespace "apic": ask for RBAC "list" on pods`) {
		t.Errorf("want an RBAC error naming list pods, got %d %q", r.code, r.err)
	}
}

func TestPeerNotReachable(t *testing.T) {
	l := requireLab(t)
	l.CutLink()
	defer l.RestoreLink()
	rep := eventually(t, l.Kubeconfig(), time.Minute, func(r status.Report) bool {
		return hasFinding(r, "", "PeerNotReachable")
	}, "--context", "dc1", "--peer-context", "dc2")
	if rep.ExitCode != int(exitcode.Degraded) {
		t.Errorf("PeerNotReachable: exit %d, want Degraded", rep.ExitCode)
	}
	l.RestoreLink()
	eventually(t, l.Kubeconfig(), time.Minute, func(r status.Report) bool {
		return !hasFinding(r, "", "PeerNotReachable")
	}, "--context", "dc1", "--peer-context", "dc2")
}

func TestLostQuorum(t *testing.T) {
	l := requireLab(t)
	if err := l.SetZoneReady("dc1", "zone-a", false); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = l.SetZoneReady("dc1", "zone-a", true)
		if err := l.WaitReady(context.Background(), 2*time.Minute); err != nil {
			t.Errorf("lab did not recover: %v", err)
		}
	}()
	rep := eventually(t, l.Kubeconfig(), time.Minute, func(r status.Report) bool {
		return hasFinding(r, "dc1", status.FindingQuorumLost) && r.Health == status.Critical
	}, "--context", "dc1")
	if rep.ExitCode != int(exitcode.Critical) {
		t.Errorf("lost quorum: exit %d, want Critical", rep.ExitCode)
	}
}

func TestSiteUnreachable(t *testing.T) {
	l := requireLab(t)
	if err := l.StopAPIServer("dc2"); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			_ = l.StartAPIServer(context.Background(), "dc2")
		}
	}()
	r := run(t, l.Kubeconfig(), "--context", "dc1", "--peer-context", "dc2")
	if r.code != exitcode.Unreachable {
		t.Errorf("exit %d, want %d (unreachable)", r.code, exitcode.Unreachable)
	}
	if !strings.Contains(r.out, "SITE dc1") || !strings.Contains(r.out, "GATEWAYS dc1") {
		t.Errorf("dc1 not shown while dc2 is down")
	}
	if !strings.Contains(r.out, "UNREACHABLE: context dc2 unreachable") {
		t.Errorf("dc2 not marked unreachable")
	}
	rep := report(t, run(t, l.Kubeconfig(), "--context", "dc1", "--peer-context", "dc2", "-o", "json"))
	if rep.Health != status.Unreachable || rep.Sites[1].Reachable {
		t.Errorf("json: health %s, dc2 reachable %v", rep.Health, rep.Sites[1].Reachable)
	}
	// Only one site, down: the error alone.
	r = run(t, l.Kubeconfig(), "--context", "dc2")
	if r.code != exitcode.Unreachable || !strings.Contains(r.err, "context dc2 unreachable") {
		t.Errorf("single unreachable site: %d %q", r.code, r.err)
	}
	if err := l.StartAPIServer(context.Background(), "dc2"); err != nil {
		t.Fatal(err)
	}
	restarted = true
	eventually(t, l.Kubeconfig(), time.Minute, func(r status.Report) bool {
		return r.Sites[1].Reachable && r.Sites[1].Error == ""
	}, "--context", "dc1", "--peer-context", "dc2")
}

func patchMode(t *testing.T, site *lab.Site, name, mode string) {
	t.Helper()
	patch, err := apic.ModePatch(apic.ManagementClusterKind, apic.Management, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := site.Dynamic.Resource(apic.ManagementClusterKind.GVR()).Namespace(site.Namespace).
		Patch(context.Background(), name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestWatchRedrawsOnChange(t *testing.T) {
	l := requireLab(t)
	var out labtest.SyncBuffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &out}
	o := status.NewOptions(streams)
	o.Debounce = 200 * time.Millisecond
	cmd := status.NewCommandWithOptions("kubectl apic status", o)
	cmd.SetArgs([]string{"--kubeconfig", l.Kubeconfig(), "--context", "dc1", "--watch", "-o", "json"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan exitcode.Code)
	go func() { done <- exitcode.Code(cli.Execute(ctx, cmd, streams)) }()
	count := func() int { return strings.Count(out.String(), `"kind": "StatusReport"`) }
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) { return count() >= 1, nil }); err != nil {
		t.Fatalf("no first report: %s", out.String())
	}
	// A change (a label on the gateway) must produce a new report, without polling.
	s := l.Sites()[0]
	if _, err := s.Dynamic.Resource(apic.GatewayClusterKind.GVR()).Namespace(s.Namespace).Patch(ctx, lab.GatewayName,
		types.MergePatchType, []byte(`{"spec":{"template":[{"name":"datapower","replicaCount":3}]}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_, _ = s.Dynamic.Resource(apic.GatewayClusterKind.GVR()).Namespace(s.Namespace).Patch(context.Background(), lab.GatewayName,
			types.MergePatchType, []byte(`{"spec":{"template":null}}`), metav1.PatchOptions{})
	}()
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return strings.Contains(out.String(), status.FindingTemplateOverrides), nil
	}); err != nil {
		t.Fatalf("watch did not re-render after the change:\n%s", out.String())
	}
	cancel()
	<-done
}

func TestSplitBrain(t *testing.T) {
	l := requireLab(t)
	dc2, _ := l.Site("dc2")
	patchMode(t, dc2, lab.MgmtName, apic.ModeActive)
	rep := eventually(t, l.Kubeconfig(), time.Minute, func(r status.Report) bool {
		for _, p := range r.Pairs {
			if p.Subsystem == "management" && len(p.Active) == 2 {
				return true
			}
		}
		return false
	}, "--context", "dc1", "--peer-context", "dc2")
	if !hasFinding(rep, "", "SplitBrain") || rep.ExitCode != int(exitcode.Critical) {
		t.Errorf("split-brain: findings %v exit %d", codes(rep), rep.ExitCode)
	}
	r := run(t, l.Kubeconfig(), "--context", "dc1", "--peer-context", "dc2")
	if r.code != exitcode.Critical || !strings.Contains(r.out, "CRITICAL  SplitBrain") {
		t.Errorf("table: exit %d, want the SplitBrain finding", r.code)
	}
	// Every printed fix runs (a server-side dry run); failover, which refuses split-brain, is not
	// one of them. Then the "keep dc1's data" fix, for real, puts dc2 back to warm-standby.
	var keepDC1 []string
	for _, f := range rep.Findings {
		if f.Code != "SplitBrain" {
			continue
		}
		for _, args := range commandsIn(f.Fix) {
			if args[1] == "apic" {
				t.Errorf("split-brain fix names kubectl apic: %q", f.Fix)
				continue
			}
			runFix(t, l, args, false)
			if args[2] == "dc2" {
				keepDC1 = args
			}
		}
	}
	if keepDC1 == nil {
		t.Fatal("no fix demotes dc2")
	}
	runFix(t, l, keepDC1, true)
	eventually(t, l.Kubeconfig(), 2*time.Minute, func(r status.Report) bool {
		// Until dc2 is a replicating warm-standby again: the next test demotes dc1.
		return !hasFinding(r, "", "SplitBrain") && len(r.Pairs) > 0 && strings.Join(r.Pairs[0].Active, ",") == "dc1" &&
			len(r.Pairs[0].Members) == 2 && r.Pairs[0].Members[1].Replicating
	}, "--context", "dc1", "--peer-context", "dc2")
}

func TestStuckDemotion(t *testing.T) {
	l := requireLab(t)
	dc1, _ := l.Site("dc1")
	// Demote dc1 and never promote dc2: the demotion waits in BlockedWarmStandbyConversion.
	patchMode(t, dc1, lab.MgmtName, apic.ModePassive)
	defer patchMode(t, dc1, lab.MgmtName, apic.ModeActive)
	eventually(t, l.Kubeconfig(), time.Minute, func(r status.Report) bool {
		return len(r.Pairs) > 0 && r.Pairs[0].Members[0].HAMode == apic.HAModeBlockedWarmStandbyConversion
	}, "--context", "dc1", "--peer-context", "dc2")
	time.Sleep(2 * time.Second) // lastTransitionTime has second precision
	rep := eventually(t, l.Kubeconfig(), 30*time.Second, func(r status.Report) bool {
		return hasFinding(r, "dc1", "StuckDemotion")
	}, "--context", "dc1", "--peer-context", "dc2", "--stuck-after", "1s")
	fmt.Println(codes(rep))
	// No site active: the fix promotes dc2 (the warm-standby not being demoted) with a patch that
	// runs; it is not `kubectl apic failover --to`, which cannot run without --from.
	n := 0
	for _, f := range rep.Findings {
		if f.Code != "NoActiveSite" {
			continue
		}
		for _, args := range commandsIn(f.Fix) {
			n++
			if args[1] == "apic" || args[2] != "dc2" {
				t.Errorf("NoActiveSite fix: %q", f.Fix)
				continue
			}
			runFix(t, l, args, false)
		}
	}
	if n == 0 {
		t.Errorf("no NoActiveSite fix with a command: %v", codes(rep))
	}
	// With the default threshold (30 minutes) the same state is not stuck.
	rep = report(t, run(t, l.Kubeconfig(), "--context", "dc1", "--peer-context", "dc2", "-o", "json"))
	if hasFinding(rep, "dc1", "StuckDemotion") {
		t.Errorf("stuck after 2s with the default --stuck-after")
	}
}
