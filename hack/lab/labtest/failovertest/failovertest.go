// Package failovertest is test support for the failover command's integration tests: one lab per
// test package, a split-brain recorder watching both sites, and helpers to run the command in-process
// or as the built binary.
package failovertest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kubectl-apic/kubectl-apic/hack/lab/labtest"
	"github.com/kubectl-apic/kubectl-apic/internal/ptytest"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	"github.com/kubectl-apic/kubectl-apic/internal/testenv"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/pkg/failover"
	plugin "github.com/kubectl-apic/kubectl-apic/plugins/failover"
)

// TimeScale makes IBM's minutes lab milliseconds: a full failover takes a second or two.
const TimeScale = 1.0 / 3000

// Env is the package's lab (hack/lab/labtest's, with failover's time scale).
type Env struct{ lab *labtest.Env }

// Main starts one lab of shape for the test package (unless -short), runs the tests, stops it.
func Main(m *testing.M, shape lab.Shape, env *Env) int {
	return labtest.Main(m, &env.lab, lab.Config{Shape: shape, TimeScale: TimeScale})
}

// Require returns the lab or ends the test (skip with -short, fail when the lab did not start).
func (e *Env) Require(t testing.TB) *lab.Lab {
	t.Helper()
	return labtest.Require(t, e.lab)
}

// Outcome is one run of the command.
type Outcome struct {
	Code   int
	Stdout string
	Stderr string
	Result *failover.Result
}

// Run runs `kubectl apic failover` in-process with the lab's kubeconfig and args; --yes is not
// implied.
func Run(t testing.TB, kubeconfig string, args ...string) Outcome {
	t.Helper()
	var out, errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	o := plugin.NewOptions(streams)
	o.Getenv = func(string) string { return "" }
	cmd := plugin.NewCommandWithOptions("kubectl apic failover", o)
	cmd.SetArgs(append([]string{"--kubeconfig", kubeconfig}, args...))
	code := cli.Execute(context.Background(), cmd, streams)
	t.Logf("kubectl apic failover %s → exit %d\n%s", strings.Join(args, " "), code, indent(out.String()+errOut.String()))
	return Outcome{Code: code, Stdout: out.String(), Stderr: errOut.String(), Result: o.Result}
}

func indent(s string) string {
	if len(s) > 6000 {
		s = s[:3000] + "\n…\n" + s[len(s)-3000:]
	}
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

// Binary builds cmd/kubectl-apic-failover once per test process.
func Binary(t testing.TB) string {
	t.Helper()
	return testenv.Binary(t, "kubectl-apic-failover")
}

// Event is one JSON-lines progress event.
type Event struct {
	Time    string `json:"time"`
	Step    string `json:"step"`
	Event   string `json:"event"`
	Message string `json:"message"`
}

// Process is the binary running in the background with --progress=jsonl.
type Process struct {
	Cmd    *exec.Cmd
	stdout bytes.Buffer
	mu     sync.Mutex
	stderr bytes.Buffer
	events chan Event
	done   chan struct{}
}

// Start starts the binary; its JSON-lines progress is available from Events.
func Start(t testing.TB, kubeconfig string, args ...string) *Process {
	t.Helper()
	p := &Process{events: make(chan Event, 256), done: make(chan struct{})}
	p.Cmd = exec.Command(Binary(t), append([]string{"--kubeconfig", kubeconfig, "--progress=jsonl"}, args...)...)
	p.Cmd.Stdout = &p.stdout
	pipe, err := p.Cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		defer close(p.events)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.stderr.WriteString(line + "\n")
			p.mu.Unlock()
			var ev Event
			if json.Unmarshal([]byte(line), &ev) == nil {
				select {
				case p.events <- ev:
				default:
				}
			}
		}
	}()
	return p
}

// Events is the stream of progress events (closed when stderr closes).
func (p *Process) Events() <-chan Event { return p.events }

// Wait waits for the process and returns its exit code, stdout and stderr.
func (p *Process) Wait() (int, string, string) {
	<-p.done
	err := p.Cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return code, p.stdout.String(), p.stderr.String()
}

// Drain discards events until the channel closes (so the reader never blocks).
func (p *Process) Drain() {
	go func() {
		for range p.events {
		}
	}()
}

// ---- split-brain recorder ----

// Sample is one observed haMode of one site's subsystem.
type Sample struct {
	At        time.Time
	Site      string
	Subsystem apic.Subsystem
	HAMode    string
}

// Recorder watches status.haMode of every mgmt and ptl on both sites and records each change, to
// prove that no instant had both sites active for the same subsystem.
type Recorder struct {
	mu      sync.Mutex
	samples []Sample
	fenced  map[string]bool
	stop    context.CancelFunc
	wg      sync.WaitGroup
}

// Record starts a recorder over the lab's sites; call Check (or CheckAndStop) at the end of the test.
func Record(t testing.TB, l *lab.Lab) *Recorder {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &Recorder{stop: cancel, fenced: map[string]bool{}}
	for _, s := range l.Sites() {
		f := dynamicinformer.NewFilteredDynamicSharedInformerFactory(s.Dynamic, 0, s.Namespace, nil)
		for _, k := range []apic.Kind{apic.ManagementClusterKind, apic.PortalClusterKind} {
			inf := f.ForResource(k.GVR()).Informer()
			site, sub := s.Name, k.Subsystem
			h := func(obj any) {
				u, ok := obj.(*unstructured.Unstructured)
				if !ok {
					return
				}
				r.add(site, sub, u)
			}
			_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: h, UpdateFunc: func(_, n any) { h(n) }})
		}
		f.Start(ctx.Done())
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			<-ctx.Done()
			f.Shutdown()
		}()
		sync := f.WaitForCacheSync(ctx.Done())
		for gvr, ok := range sync {
			if !ok {
				t.Fatalf("recorder: %s on %s did not sync", gvr, s.Name)
			}
		}
	}
	t.Cleanup(func() { r.Stop() })
	return r
}

// add records u's haMode at the moment the operator simulator entered its stage
// (status.simulator.since, written by the simulators with one clock), else at receipt.
func (r *Recorder) add(site string, sub apic.Subsystem, u *unstructured.Unstructured) {
	mode, _, _ := unstructured.NestedString(u.Object, "status", "haMode")
	at := time.Now()
	if since, _, _ := unstructured.NestedString(u.Object, "status", "simulator", "since"); since != "" {
		if ts, err := time.Parse(time.RFC3339Nano, since); err == nil {
			at = ts
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fenced[site] {
		return
	}
	for i := len(r.samples) - 1; i >= 0; i-- {
		if s := r.samples[i]; s.Site == site && s.Subsystem == sub {
			if s.HAMode == mode {
				return
			}
			break
		}
	}
	r.samples = append(r.samples, Sample{At: at, Site: site, Subsystem: sub, HAMode: mode})
}

// Fence stops counting a site: while its network is isolated (and its API server down) its stale
// "active" cannot act; Unfence resumes once it was set to warm-standby.
func (r *Recorder) Fence(site string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fenced[site] = true
	at := time.Now()
	for _, sub := range []apic.Subsystem{apic.Management, apic.Portal} {
		r.samples = append(r.samples, Sample{At: at, Site: site, Subsystem: sub, HAMode: "(fenced)"})
	}
}

// Unfence counts the site again from its next change.
func (r *Recorder) Unfence(site string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.fenced, site)
}

// Stop stops watching.
func (r *Recorder) Stop() {
	r.stop()
	r.wg.Wait()
}

// Samples returns the recorded samples in time order.
func (r *Recorder) Samples() []Sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]Sample(nil), r.samples...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// SplitBrains returns every instant at which two sites were active for the same subsystem.
func SplitBrains(samples []Sample) []string {
	var bad []string
	cur := map[apic.Subsystem]map[string]string{}
	for _, s := range samples {
		if cur[s.Subsystem] == nil {
			cur[s.Subsystem] = map[string]string{}
		}
		cur[s.Subsystem][s.Site] = s.HAMode
		var active []string
		for site, m := range cur[s.Subsystem] {
			if m == apic.HAModeActive {
				active = append(active, site)
			}
		}
		if len(active) > 1 {
			sort.Strings(active)
			bad = append(bad, fmt.Sprintf("%s: %s active at once at %s", s.Subsystem, strings.Join(active, " and "), s.At.Format("15:04:05.000000")))
		}
	}
	return bad
}

// Check fails the test if the recording shows a split-brain; it logs the timeline.
func (r *Recorder) Check(t testing.TB) {
	t.Helper()
	samples := r.Samples()
	if bad := SplitBrains(samples); len(bad) > 0 {
		var b strings.Builder
		for _, s := range samples {
			fmt.Fprintf(&b, "  %s %s %s %s\n", s.At.Format("15:04:05.000000"), s.Site, s.Subsystem, s.HAMode)
		}
		t.Errorf("split-brain recorded:\n  %s\ntimeline:\n%s", strings.Join(bad, "\n  "), b.String())
	}
	if len(samples) == 0 {
		t.Errorf("recorder saw nothing")
	}
}

// ---- state helpers ----

// Get reads one object of kind on site.
func Get(t testing.TB, l *lab.Lab, site string, k apic.Kind, name string) apic.Object {
	t.Helper()
	s, err := l.Site(site)
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.Dynamic.Resource(k.GVR()).Namespace(s.Namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get %s/%s on %s: %v", k.Display(), name, site, err)
	}
	return apic.Object{Kind: k, U: u}
}

// WaitFor polls until cond holds for site's object, or fails after timeout.
func WaitFor(t testing.TB, l *lab.Lab, site string, k apic.Kind, name, what string, timeout time.Duration, cond func(apic.Object) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last apic.Object
	for time.Now().Before(deadline) {
		s, _ := l.Site(site)
		u, err := s.Dynamic.Resource(k.GVR()).Namespace(s.Namespace).Get(context.Background(), name, metav1.GetOptions{})
		if err == nil {
			last = apic.Object{Kind: k, U: u}
			if cond(last) {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	mode := ""
	if last.U != nil {
		mode = last.HAMode()
	}
	t.Fatalf("timed out waiting for %s on %s %s/%s (haMode %q)", what, site, k.Display(), name, mode)
}

// Steady waits until both sites are steady for sub: one active (Ready), the other passive with
// haStatus Ready (replicating); it returns the active site.
func Steady(t testing.TB, l *lab.Lab, k apic.Kind, name string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		active, passive := "", 0
		for _, s := range l.Sites() {
			u, err := s.Dynamic.Resource(k.GVR()).Namespace(s.Namespace).Get(context.Background(), name, metav1.GetOptions{})
			if err != nil {
				continue
			}
			o := apic.Object{Kind: k, U: u}
			c, _ := o.ActiveHAStatus()
			switch {
			case o.HAMode() == apic.HAModeActive && c.Type == apic.HAStatusReady:
				active = s.Name
			case o.HAMode() == apic.HAModePassive && c.Type == apic.HAStatusReady:
				passive++
			}
		}
		if active != "" && passive == 1 {
			return active
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s/%s did not settle to one active and one replicating warm-standby", k.Display(), name)
	return ""
}

// Snapshot is the spec, annotations and generation of every API Connect object a failover may
// change, on every site: equal snapshots mean nothing was changed.
func Snapshot(t testing.TB, l *lab.Lab) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, s := range l.Sites() {
		for _, k := range []apic.Kind{apic.ManagementClusterKind, apic.PortalClusterKind, apic.APIConnectClusterKind} {
			list, err := s.Dynamic.Resource(k.GVR()).Namespace(s.Namespace).List(context.Background(), metav1.ListOptions{})
			if err != nil {
				t.Fatalf("snapshot %s on %s: %v", k.Plural, s.Name, err)
			}
			for _, u := range list.Items {
				a, _ := meta.Accessor(&u)
				out[s.Name+"/"+k.Display()+"/"+u.GetName()] = map[string]any{"spec": u.Object["spec"], "annotations": a.GetAnnotations(), "generation": a.GetGeneration()}
			}
		}
	}
	return out
}

// Unchanged fails the test if before and the current snapshot differ.
func Unchanged(t testing.TB, l *lab.Lab, before map[string]any) {
	t.Helper()
	after := Snapshot(t, l)
	if !reflect.DeepEqual(before, after) {
		for k := range before {
			if !reflect.DeepEqual(before[k], after[k]) {
				t.Errorf("%s changed:\n before %v\n after  %v", k, before[k], after[k])
			}
		}
	}
}

// WriteKubeconfigAlias writes a copy of kubeconfig with an extra context alias pointing at the same
// cluster and user as context, and returns its path.
func WriteKubeconfigAlias(t testing.TB, kubeconfig, context, alias string) string {
	t.Helper()
	out, errOut, err := testenv.RunKubectl(kubeconfig, "config", "view", "--raw", "--flatten")
	if err != nil {
		t.Fatalf("kubectl config view: %v %s", err, errOut)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	cluster, _, _ := testenv.RunKubectl(path, "config", "view", "-o", "jsonpath={.contexts[?(@.name==\""+context+"\")].context.cluster}")
	user, _, _ := testenv.RunKubectl(path, "config", "view", "-o", "jsonpath={.contexts[?(@.name==\""+context+"\")].context.user}")
	if _, e, err := testenv.RunKubectl(path, "config", "set-context", alias, "--cluster", cluster, "--user", user, "--namespace", "apic"); err != nil {
		t.Fatalf("set-context: %v %s", err, e)
	}
	return path
}

// MainWith is Main with a lab configuration of its own (e.g. two portal services per site); the
// failover time scale applies unless cfg sets one.
func MainWith(m *testing.M, cfg lab.Config, env *Env) int {
	if cfg.TimeScale == 0 {
		cfg.TimeScale = TimeScale
	}
	return labtest.Main(m, &env.lab, cfg)
}

// Terminal is the binary running with a pseudo-terminal as its stdin and controlling terminal, as
// at a user's shell: the confirmation prompt is asked, and typing Ctrl-C sends SIGINT through the
// terminal driver. Stdout and stderr are captured apart.
type Terminal struct {
	Cmd            *exec.Cmd
	master         *os.File
	Stdout, Stderr labtest.SyncBuffer
	done           chan struct{}
	code           int
}

// StartOnTerminal starts the binary on a new pseudo-terminal.
func StartOnTerminal(t testing.TB, kubeconfig string, args ...string) *Terminal {
	t.Helper()
	master, slave, err := ptytest.Open()
	if err != nil {
		t.Fatalf("opening a pty: %v", err)
	}
	defer slave.Close()
	tm := &Terminal{master: master, done: make(chan struct{})}
	tm.Cmd = exec.Command(Binary(t), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	tm.Cmd.Stdin, tm.Cmd.Stdout, tm.Cmd.Stderr = slave, &tm.Stdout, &tm.Stderr
	tm.Cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := tm.Cmd.Start(); err != nil {
		master.Close()
		t.Fatal(err)
	}
	go func() { // drain the echo
		b := make([]byte, 1024)
		for {
			if _, err := master.Read(b); err != nil {
				return
			}
		}
	}()
	go func() {
		err := tm.Cmd.Wait()
		tm.code = 0
		if ee, ok := err.(*exec.ExitError); ok {
			tm.code = ee.ExitCode()
		} else if err != nil {
			tm.code = -1
		}
		close(tm.done)
	}()
	t.Cleanup(func() {
		select {
		case <-tm.done:
		default:
			_ = tm.Cmd.Process.Kill()
			<-tm.done
		}
		master.Close()
	})
	return tm
}

// Type writes s to the terminal as typed keys.
func (tm *Terminal) Type(t testing.TB, s string) {
	t.Helper()
	if _, err := tm.master.Write([]byte(s)); err != nil {
		t.Fatalf("typing on the pty: %v", err)
	}
}

// ExpectStderr waits until stderr shows want.
func (tm *Terminal) ExpectStderr(t testing.TB, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(tm.Stderr.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("stderr did not show %q in %s:\n%s", want, timeout, tm.Stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Wait waits up to timeout for the process to exit and returns its exit code (-2 on timeout).
func (tm *Terminal) Wait(timeout time.Duration) int {
	select {
	case <-tm.done:
		return tm.code
	case <-time.After(timeout):
		return -2
	}
}

// Events parses JSON-lines stderr; every line must be JSON.
func ParseEvents(t testing.TB, stderr string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimRight(stderr, "\n"), "\n") {
		if line == "" {
			continue
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Errorf("stderr line is not JSON: %q", line)
			continue
		}
		out = append(out, ev)
	}
	return out
}
