package rollout

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	"github.com/kubectl-apic/kubectl-apic/hack/lab/labtest"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	prollout "github.com/kubectl-apic/kubectl-apic/pkg/rollout"
)

// Helpers of the lab tests: one two-site lab for the package (dc1, dc2; GatewayCluster
// production-gw with 3 members in namespace apic on each), the command run in-process, the lab's
// state read before and after.

const gw = lab.GatewayName

var env *labtest.Env

func TestMain(m *testing.M) { os.Exit(labtest.Main(m, &env, lab.Config{})) }

// peeringNames are the lab gateway's peering objects.
var peeringNames = []string{"gwd", "tms", "subs", "rate-limit", "api-probe"}

// fastFlags bound a run by the lab's speed (a pod restarts in a few seconds), not the defaults.
func fastFlags(t *testing.T) []string {
	return []string{"--yes", "--poll-interval", "200ms", "--probe-window", "1s", "--ready-timeout", "60s",
		"--rejoin-timeout", "60s", "--switch-timeout", "20s", "--command-timeout", "15s", "--log-dir", t.TempDir()}
}

type result struct {
	out, errOut string
	code        exitcode.Code
}

// runOpts are what a test changes about one in-process run.
type runOpts struct {
	ctx context.Context
	// errOut also receives stderr (e.g. an eventWatcher).
	errOut io.Writer
}

// run runs `kubectl apic rollout ARGS` in-process against the lab's kubeconfig.
func run(t *testing.T, l *lab.Lab, ro runOpts, args ...string) result {
	t.Helper()
	var out bytes.Buffer
	errBuf := &labtest.SyncBuffer{}
	var errW io.Writer = errBuf
	if ro.errOut != nil {
		errW = io.MultiWriter(errBuf, ro.errOut)
	}
	o := NewOptions(genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: errW})
	cmd := NewCommandWithOptions("kubectl apic rollout", o)
	cmd.SetArgs(append(args, "--kubeconfig", l.Kubeconfig(), "-n", labtest.Namespace))
	parent := ro.ctx
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithTimeout(parent, 4*time.Minute)
	defer cancel()
	code := cli.Execute(ctx, cmd, o.IOStreams)
	return result{out.String(), errBuf.String(), exitcode.Code(code)}
}

// reportDoc is the -o json document.
type reportDoc struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	prollout.Report
}

func decodeReport(t *testing.T, res result) reportDoc {
	t.Helper()
	var d reportDoc
	if err := json.Unmarshal([]byte(res.out), &d); err != nil {
		t.Fatalf("decoding -o json: %v\nstdout:\n%s\nstderr:\n%s", err, res.out, res.errOut)
	}
	if d.Kind != ReportKind {
		t.Fatalf("kind %q, want %s", d.Kind, ReportKind)
	}
	return d
}

func mustCode(t *testing.T, res result, want exitcode.Code) {
	t.Helper()
	if res.code != want {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", res.code, want, res.out, res.errOut)
	}
}

// order is the members' pods in the report's (the plan's) order on site.
func order(d reportDoc, site string) []string {
	var out []string
	for _, m := range d.Members {
		if m.Site == site {
			out = append(out, m.Pod)
		}
	}
	return out
}

func site(t *testing.T, l *lab.Lab, name string) *lab.Site {
	t.Helper()
	s, err := l.Site(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// gatewayPods lists the gateway's pods on a site, by name.
func gatewayPods(t *testing.T, l *lab.Lab, siteName string) map[string]corev1.Pod {
	t.Helper()
	s := site(t, l, siteName)
	sel := apic.InstanceLabel + "=" + gw + "," + apic.KindLabel + "=" + apic.DataPowerKindValue
	list, err := s.Kube.CoreV1().Pods(s.Namespace).List(context.Background(), metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]corev1.Pod{}
	for _, p := range list.Items {
		out[p.Name] = p
	}
	return out
}

// uids are the gateway pods' UIDs on a site.
func uids(t *testing.T, l *lab.Lab, siteName string) map[string]types.UID {
	t.Helper()
	out := map[string]types.UID{}
	for n, p := range gatewayPods(t, l, siteName) {
		out[n] = p.UID
	}
	return out
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func gatewayObject(t *testing.T, l *lab.Lab, siteName string) apic.Object {
	t.Helper()
	s := site(t, l, siteName)
	u, err := s.Dynamic.Resource(apic.GatewayClusterKind.GVR()).Namespace(s.Namespace).Get(context.Background(), gw, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	o, err := apic.Wrap(u)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func patchGateway(t *testing.T, l *lab.Lab, siteName, patch string) {
	t.Helper()
	s := site(t, l, siteName)
	if _, err := s.Dynamic.Resource(apic.GatewayClusterKind.GVR()).Namespace(s.Namespace).Patch(context.Background(), gw,
		types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatalf("patch GatewayCluster on %s: %v", siteName, err)
	}
}

// journal is the journal ConfigMap on a site (nil: none).
func journal(t *testing.T, l *lab.Lab, siteName string) *corev1.ConfigMap {
	t.Helper()
	s := site(t, l, siteName)
	cm, err := s.Kube.CoreV1().ConfigMaps(s.Namespace).Get(context.Background(), prollout.JournalName(gw), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return cm
}

// journalRun is the journal's run.json on dc1.
func journalRun(t *testing.T, l *lab.Lab) *prollout.RunRecord {
	t.Helper()
	cm := journal(t, l, "dc1")
	if cm == nil || cm.Data["run.json"] == "" {
		return nil
	}
	var r prollout.RunRecord
	if err := json.Unmarshal([]byte(cm.Data["run.json"]), &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// primaries are the lab's peering primaries of the gateway on a site, by peering object.
func primaries(t *testing.T, l *lab.Lab, siteName string) map[string]string {
	t.Helper()
	g, err := l.Gateway(siteName, gw)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range peeringNames {
		out[p] = g.Primary(p)
	}
	return out
}

// healthy reports whether a site's gateway is as a rollout needs it: 3 Ready pods, none
// terminating, every peering object with quorum and a primary, 3 routable members.
func healthy(t *testing.T, l *lab.Lab, siteName string) (bool, string) {
	pods := gatewayPods(t, l, siteName)
	if len(pods) != 3 {
		return false, fmt.Sprintf("%d pods", len(pods))
	}
	for n, p := range pods {
		if p.DeletionTimestamp != nil || !podReady(&p) {
			return false, n + " not Ready"
		}
	}
	g, err := l.Gateway(siteName, gw)
	if err != nil {
		return false, err.Error()
	}
	for _, p := range peeringNames {
		if !g.HasQuorum(p) || g.Primary(p) == "" {
			return false, "peering " + p + " without quorum or primary"
		}
	}
	if r := site(t, l, siteName).Traffic().Routable(); len(r) != 3 {
		return false, fmt.Sprintf("routable %v", r)
	}
	return true, ""
}

// waitHealthy waits until both sites' gateways are healthy.
func waitHealthy(t *testing.T, l *lab.Lab) {
	t.Helper()
	for _, s := range []string{"dc1", "dc2"} {
		labtest.Eventually(t, 2*time.Minute, s+" gateway healthy", func() (bool, string) { return healthy(t, l, s) })
	}
}

// leaveHealthy registers the cleanup every test shares: faults cleared, both gateways healthy, no
// unfinished run in the journal (a test that leaves one on purpose clears it), the router undrained.
func leaveHealthy(t *testing.T, l *lab.Lab) {
	t.Helper()
	waitHealthy(t, l)
	t.Cleanup(func() {
		for _, s := range []string{"dc1", "dc2"} {
			_ = l.ClearDataPowerFaults(s, gw)
			_ = l.Router().SetDrained(s, false)
			site(t, l, s).Traffic().ClearMemberFaults()
		}
		waitHealthy(t, l)
		if r := journalRun(t, l); r.Unfinished() {
			t.Logf("cleanup: the journal holds an unfinished %s run %s (%s): deleting it", r.Action, r.ID, r.State)
			deleteJournal(t, l)
		}
	})
}

func deleteJournal(t *testing.T, l *lab.Lab) {
	t.Helper()
	for _, name := range []string{"dc1", "dc2"} {
		s := site(t, l, name)
		err := s.Kube.CoreV1().ConfigMaps(s.Namespace).Delete(context.Background(), prollout.JournalName(gw), metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Error(err)
		}
	}
}

// dryRunOrder is the plan of a dry run on site: the members in the order they would go.
func dryRunOrder(t *testing.T, l *lab.Lab, action, siteName string, extra ...string) []string {
	t.Helper()
	res := run(t, l, runOpts{}, append([]string{action, gw, "--context", siteName, "--dry-run", "-o", "json"}, extra...)...)
	mustCode(t, res, exitcode.OK)
	return order(decodeReport(t, res), siteName)
}

// event is one --progress jsonl line.
type event struct {
	Step    string `json:"step"`
	Event   string `json:"event"`
	Message string `json:"message"`
}

// eventWatcher is a writer for stderr under --progress jsonl that calls on for every event as it
// is written (synchronously: the run waits, so on sees the lab as it is when the event is sent).
type eventWatcher struct {
	mu  sync.Mutex
	buf bytes.Buffer
	on  func(event)
}

func (w *eventWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadBytes('\n')
		if err != nil {
			w.buf.Write(line) // incomplete: keep it for the next write
			break
		}
		var e event
		if json.Unmarshal(line, &e) == nil && e.Event != "" {
			w.on(e)
		}
	}
	return len(p), nil
}

// scanEvents reads --progress jsonl lines from r and calls on for each; it returns at EOF.
func scanEvents(r io.Reader, on func(event)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e event
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Event != "" {
			on(e)
		}
	}
}

// phaseStep is the progress step name of a member phase.
func phaseStep(siteName, pod, phase string) string { return siteName + "/" + pod + " " + phase }

// sortedKeys lists a map's keys, sorted (for messages).
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
