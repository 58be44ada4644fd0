package rollout

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/datapower"
	"github.com/kubectl-apic/kubectl-apic/pkg/datapower/datapowertest"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/kube"
	prollout "github.com/kubectl-apic/kubectl-apic/pkg/rollout"
)

// Unit tests of the command through its seams (NewSites, Attach, Confirm, RunHook) over fake
// clients and the DataPower fake: a deleted pod comes back (a new UID, Ready) as the StatefulSet
// would make it, and its peering link goes down meanwhile. No control plane; they run under -short.
// The lab tests (lab_test.go) run the same command against the real control plane and scheduler.

const unitPassword = "Unit-s3cret-42"

type unitEnv struct {
	site *kube.Site
	g    *datapowertest.Group
	kube *kubefake.Clientset

	mu      sync.Mutex
	events  []string // "delete gw-2", "primary gwd gw-2" as they happened
	uids    map[string]int
	onReady func(pod string) bool // nil: every recreated pod becomes Ready
}

func unitPod(name, ip string, uid int) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "apic", UID: types.UID(fmt.Sprintf("%s-uid-%d", name, uid)),
			Labels:          map[string]string{apic.KindLabel: apic.DataPowerKindValue, apic.InstanceLabel: "gw", appsv1.StatefulSetRevisionLabel: "gw-rev1"},
			OwnerReferences: []metav1.OwnerReference{{Kind: "StatefulSet", Name: "gw", Controller: ptr.To(true)}}},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "datapower"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip,
			Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "datapower", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}}},
	}
}

func newUnitEnv(t *testing.T) *unitEnv {
	t.Helper()
	gw := apic.New(apic.GatewayClusterKind, "apic", "gw")
	gw.U.Object["spec"] = map[string]interface{}{"version": "10.0.8.0", "adminUser": map[string]interface{}{"secretName": "gw-admin"}}
	objs := []runtime.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "gw-admin", Namespace: "apic"}, Data: map[string][]byte{"password": []byte(unitPassword)}},
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "gw", Namespace: "apic"}, Status: appsv1.StatefulSetStatus{UpdateRevision: "gw-rev1"}},
	}
	var pods [][2]string
	e := &unitEnv{uids: map[string]int{}}
	for i := range 3 {
		name, ip := fmt.Sprintf("gw-%d", i), fmt.Sprintf("10.0.0.%d", i+1)
		pods = append(pods, [2]string{name, ip})
		objs = append(objs, unitPod(name, ip, 0))
	}
	lists := map[schema.GroupVersionResource]string{}
	for _, k := range apic.Kinds() {
		lists[k.GVR()] = k.Kind + "List"
	}
	e.kube = kubefake.NewClientset(objs...)
	e.g = datapowertest.NewGroup("admin", unitPassword, pods...)
	e.site = &kube.Site{Name: "dc1", Namespace: "apic", Kube: e.kube,
		Dynamic: dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), lists, gw.U)}
	// The StatefulSet controller and the kubelet: a deleted pod comes back with a new UID.
	e.kube.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		name := a.(k8stesting.DeleteAction).GetName()
		e.mu.Lock()
		e.events = append(e.events, "delete "+name+" (gwd primary "+e.g.Primary("gwd")+")")
		e.uids[name]++
		n := e.uids[name]
		ready := e.onReady == nil || e.onReady(name)
		e.mu.Unlock()
		old, err := e.kube.Tracker().Get(corev1.SchemeGroupVersion.WithResource("pods"), "apic", name)
		if err != nil {
			return true, nil, err
		}
		ip := old.(*corev1.Pod).Status.PodIP
		e.g.SetUp(name, false)
		_ = e.kube.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("pods"), "apic", name)
		p := unitPod(name, ip, n)
		if !ready {
			p.Status.Conditions[0].Status = corev1.ConditionFalse
		}
		go func() {
			time.Sleep(20 * time.Millisecond)
			_ = e.kube.Tracker().Add(p)
			if ready {
				e.g.SetUp(name, true)
			}
		}()
		return true, nil, nil
	})
	return e
}

type unitResult struct {
	out, errOut string
	err         error
	report      prollout.Report
}

func (e *unitEnv) run(t *testing.T, args ...string) unitResult {
	t.Helper()
	var out, errOut bytes.Buffer
	o := NewOptions(genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	o.NewSites = func(*genericclioptions.ConfigFlags, []string) ([]*kube.Site, error) { return []*kube.Site{e.site}, nil }
	o.Attach = func(ctx context.Context, _ *kube.Site, t datapower.AttachTarget) (datapower.Conn, error) {
		return e.g.Attach(ctx, t)
	}
	o.Confirm = func(context.Context, genericiooptions.IOStreams, string) error { return nil }
	o.RunHook = func(_ context.Context, cmd string, env []string, out io.Writer) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.events = append(e.events, "hook "+cmd)
		return nil
	}
	cmd := NewCommandWithOptions("kubectl apic rollout", o)
	cmd.SetArgs(append(args, "gw", "-o", "json", "--log-dir", t.TempDir(), "--poll-interval", "10ms", "--command-timeout", "2s",
		"--ready-timeout", "2s", "--restart-timeout", "2s", "--rejoin-timeout", "2s", "--switch-timeout", "2s"))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	r := unitResult{out: out.String(), errOut: errOut.String(), err: err}
	if strings.TrimSpace(r.out) != "" {
		if jerr := json.Unmarshal(out.Bytes(), &r.report); jerr != nil {
			t.Fatalf("-o json: %v\n%s", jerr, out.String())
		}
	}
	return r
}

// The member holding every primary goes last, and hands its primaries to the first member
// restarted before its pod is deleted; the hooks come around the members.
func TestUnitRestartPrimaryLast(t *testing.T) {
	e := newUnitEnv(t)
	r := e.run(t, "restart", "--yes", "--drain-hook", "drain", "--undrain-hook", "undrain", "--smoke-cmd", "smoke")
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.errOut)
	}
	want := []string{"hook drain", "delete gw-2 (gwd primary gw-0)", "delete gw-1 (gwd primary gw-0)",
		"delete gw-0 (gwd primary gw-2)", "hook smoke", "hook undrain"}
	if strings.Join(e.events, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(e.events, "\n"), strings.Join(want, "\n"))
	}
	if r.report.Outcome != prollout.OutcomeSucceeded || len(r.report.Members) != 3 {
		t.Fatalf("report: %+v", r.report)
	}
	for _, m := range r.report.Members {
		if !m.Done() {
			t.Errorf("%s not done: %+v", m.Pod, m.Phases)
		}
	}
	if sw := r.report.Member("dc1", "gw-0").Phase(prollout.PhaseSwitchPrimary); sw.Status != prollout.Passed {
		t.Errorf("gw-0 SWITCH-PRIMARY %+v", sw)
	}
	if strings.Contains(r.out+r.errOut, unitPassword) {
		t.Error("the admin password was printed")
	}
}

// Without quorum nothing is changed: refused (exit 5) before any delete or console change.
func TestUnitRefusesWithoutQuorum(t *testing.T) {
	e := newUnitEnv(t)
	e.g.SetUp("gw-1", false)
	r := e.run(t, "restart", "--yes")
	if got := exitcode.FromError(r.err); got != exitcode.Refused {
		t.Fatalf("exit %s, want Refused: %v", got, r.err)
	}
	if len(e.events) != 0 {
		t.Errorf("changes before the refusal: %v", e.events)
	}
	for _, pod := range []string{"gw-0", "gw-1", "gw-2"} {
		for _, line := range e.g.Typed(pod) {
			if strings.HasPrefix(line, "gateway-peering-") {
				t.Errorf("%s: %q typed before the refusal", pod, line)
			}
		}
	}
}

// A member that never becomes Ready stops the run there (exit 43); later members are untouched.
func TestUnitNeverReadyStops(t *testing.T) {
	e := newUnitEnv(t)
	e.onReady = func(pod string) bool { return pod != "gw-2" }
	r := e.run(t, "restart", "--yes")
	if got := exitcode.FromError(r.err); got != exitcode.RolloutReadyFailed {
		t.Fatalf("exit %s, want RolloutReadyFailed: %v", got, r.err)
	}
	if len(e.events) != 1 || !strings.HasPrefix(e.events[0], "delete gw-2") {
		t.Errorf("events %v, want only gw-2 deleted", e.events)
	}
	if r.report.FailedMember != "dc1/gw-2" || r.report.FailedPhase != prollout.PhaseReady {
		t.Errorf("failed at %s %s", r.report.FailedMember, r.report.FailedPhase)
	}
	if p := r.report.Member("dc1", "gw-1").Phase(prollout.PhasePrecheck); p.Status != prollout.NotReached {
		t.Errorf("gw-1 was reached: %+v", p)
	}
}

// A dry run plans and changes nothing, and writes no journal.
func TestUnitDryRun(t *testing.T) {
	e := newUnitEnv(t)
	r := e.run(t, "restart", "--dry-run")
	if r.err != nil || r.report.Outcome != prollout.OutcomePlanned || !r.report.DryRun {
		t.Fatalf("%v %+v", r.err, r.report)
	}
	if len(e.events) != 0 {
		t.Errorf("changes: %v", e.events)
	}
	if _, err := e.kube.CoreV1().ConfigMaps("apic").Get(context.Background(), prollout.JournalName("gw"), metav1.GetOptions{}); err == nil {
		t.Error("a dry run wrote the journal")
	}
}

// A GatewayCluster made from a top-level APIConnectCluster is upgraded there, not here.
func TestUnitTopLevelUpgradeRefused(t *testing.T) {
	e := newUnitEnv(t)
	gvr := apic.GatewayClusterKind.GVR()
	u, err := e.site.Dynamic.Resource(gvr).Namespace("apic").Get(context.Background(), "gw", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	u.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "apiconnect.ibm.com/v1beta1", Kind: "APIConnectCluster", Name: "production", UID: "top"}})
	if _, err := e.site.Dynamic.Resource(gvr).Namespace("apic").Update(context.Background(), u, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	r := e.run(t, "upgrade", "--version", "10.0.8.1", "--yes")
	if got := exitcode.FromError(r.err); got != exitcode.Refused || !strings.Contains(r.err.Error(), "APIConnectCluster production") {
		t.Fatalf("exit %s: %v", got, r.err)
	}
	if len(e.events) != 0 {
		t.Errorf("changes: %v", e.events)
	}
}

// Bad input: a clear one-line error and the usage exit code, before anything is read.
func TestUnitUsage(t *testing.T) {
	e := newUnitEnv(t)
	for _, args := range [][]string{{"upgrade"}, {"restart", "--probe-window", "0s"}, {"upgrade", "--version", "10 0"}} {
		r := e.run(t, args...)
		if got := exitcode.FromError(r.err); got != exitcode.Usage {
			t.Errorf("%v: exit %s (%v), want Usage", args, got, r.err)
		}
	}
}
