package drr

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubectl-apic/kubectl-apic/hack/lab/labtest"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/pkg/datapower"
	pdrr "github.com/kubectl-apic/kubectl-apic/pkg/drr"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/kube"
)

// Integration tests on the lab: one two-site lab for the package, a 3-member and a 5-member
// GatewayCluster on each site. Tests run one after another and restore what they break.

const (
	gw3 = lab.GatewayName
	gw5 = "big-gw"
)

var env *labtest.Env

func TestMain(m *testing.M) {
	os.Exit(labtest.Main(m, &env, lab.Config{Gateways: []lab.GatewaySpec{{Name: gw3, Replicas: 3}, {Name: gw5, Replicas: 5}}}))
}

func requireLab(t *testing.T) *lab.Lab {
	t.Helper()
	return labtest.Require(t, env)
}

// fastFlags make the lab's scaled heartbeat (1s) the bound on a run.
var fastFlags = []string{"--poll-interval", "100ms", "--registration-timeout", "30s", "--command-timeout", "10s"}

type result struct {
	out, errOut string
	code        exitcode.Code
}

// runCmd runs the command in-process against the lab; mod may replace dependencies.
func runCmd(t *testing.T, l *lab.Lab, mod func(*Options), args ...string) result {
	t.Helper()
	return runCmdCtx(t, l, context.Background(), mod, args...)
}

// runCmdCtx is runCmd under ctx (a cancel is the user's Ctrl-C).
func runCmdCtx(t *testing.T, l *lab.Lab, parent context.Context, mod func(*Options), args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	o := NewOptions(genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	if mod != nil {
		mod(o)
	}
	cmd := NewCommandWithOptions("kubectl apic drr", o)
	cmd.SetArgs(append([]string{"--kubeconfig", l.Kubeconfig(), "--context", "dc1", "-n", "apic"}, args...))
	ctx, cancel := context.WithTimeout(parent, 2*time.Minute)
	defer cancel()
	code := cli.Execute(ctx, cmd, o.IOStreams)
	return result{out.String(), errOut.String(), exitcode.Code(code)}
}

func group(t *testing.T, l *lab.Lab, name string) interface {
	Registered() bool
	ConfigGeneration() int
	Members() []string
	SetMemberUp(string, bool)
	Primary(string) string
} {
	t.Helper()
	g, err := l.Gateway("dc1", name)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// eventuallyRegistered waits for the simulated heartbeat to re-register g: drr's REGISTRATION step
// does not wait on the device any more (no DataPower property shows it).
func eventuallyRegistered(t *testing.T, g interface{ Registered() bool }) {
	t.Helper()
	labtest.Eventually(t, 30*time.Second, "re-registration by the heartbeat", func() (bool, string) { return g.Registered(), "" })
}

func waitReady(t *testing.T, l *lab.Lab) {
	t.Helper()
	if err := l.WaitReady(context.Background(), time.Minute); err != nil {
		t.Fatal(err)
	}
}

func decode(t *testing.T, out string) pdrr.Report {
	t.Helper()
	var rep pdrr.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("decoding -o json: %v\n%s", err, out)
	}
	return rep
}

func TestLabDRRCompletes(t *testing.T) {
	l := requireLab(t)
	for _, tt := range []struct {
		gateway string
		members int
	}{{gw3, 3}, {gw5, 5}} {
		t.Run(tt.gateway, func(t *testing.T) {
			g := group(t, l, tt.gateway)
			eventuallyRegistered(t, g) // an earlier run's re-registration comes with the heartbeat
			gen := g.ConfigGeneration()
			res := runCmd(t, l, nil, append([]string{tt.gateway, "--yes", "-o", "json"}, fastFlags...)...)
			if res.code != exitcode.OK {
				t.Fatalf("exit %s\n%s\n%s", res.code, res.out, res.errOut)
			}
			rep := decode(t, res.out)
			if rep.Outcome != pdrr.OutcomeSucceeded || len(rep.Preflight.Members) != tt.members || rep.Peering != "gwd" {
				t.Errorf("outcome %s, %d members, peering %q", rep.Outcome, len(rep.Preflight.Members), rep.Peering)
			}
			// The configuration is back after the simulated heartbeat; drr cannot see it on the
			// device (the lab has no API Manager), so its REGISTRATION step is UNVERIFIED.
			eventuallyRegistered(t, g)
			if g.ConfigGeneration() <= gen {
				t.Errorf("not re-registered: generation %d (was %d)", g.ConfigGeneration(), gen)
			}
			for _, m := range rep.Preflight.Members {
				for _, st := range []string{pdrr.StepCycle, pdrr.StepWaitingLog, pdrr.StepHealth} {
					if s, _ := rep.Result(m.Pod, st); s.Status != pdrr.Passed {
						t.Errorf("%s %s: %s %s", m.Pod, st, s.Status, s.Message)
					}
				}
				if s, _ := rep.Result(m.Pod, pdrr.StepRegistration); s.Status != pdrr.Unverified || !strings.Contains(s.Message, "configured-gateway-services") {
					t.Errorf("%s registration: %s %s", m.Pod, s.Status, s.Message)
				}
			}
			if !strings.Contains(res.errOut, "flush gateway peering gwd") {
				t.Errorf("no progress on stderr:\n%s", res.errOut)
			}
		})
	}
}

func TestLabTableSummaryAndStatus(t *testing.T) {
	l := requireLab(t)
	res := runCmd(t, l, nil, append([]string{gw3, "--yes", "--primary-member", gw3 + "-1"}, fastFlags...)...)
	if res.code != exitcode.OK {
		t.Fatalf("exit %s\n%s\n%s", res.code, res.out, res.errOut)
	}
	for _, want := range []string{"PLAN", "gateway-peering-switch-primary gwd", "DRR apic/" + gw3 + ": Succeeded",
		"MEMBER", "PEERING-HEALTH", gw3 + "-1   PASSED"} {
		if !strings.Contains(res.out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, res.out)
		}
	}
	if p := group(t, l, gw3).Primary("gwd"); p != gw3+"-1" {
		t.Errorf("primary %s", p)
	}
	st := runCmd(t, l, nil, gw3, "--status")
	// 3 members x 5 peering objects, then each member's apic-gw-service.
	if st.code != exitcode.OK || strings.Count(st.out, "\n"+gw3+"-") != 18 || !strings.Contains(st.out, "QUORUM") ||
		!strings.Contains(st.out, "APIC-GW-SERVICE") {
		t.Errorf("--status exit %s:\n%s\n%s", st.code, st.out, st.errOut)
	}
}

func TestLabDryRunAndConfirmation(t *testing.T) {
	l := requireLab(t)
	g := group(t, l, gw3)
	eventuallyRegistered(t, g) // an earlier run's re-registration comes with the heartbeat
	gen := g.ConfigGeneration()
	res := runCmd(t, l, nil, gw3, "--dry-run", "-o", "yaml")
	if res.code != exitcode.OK || !strings.Contains(res.out, "outcome: Planned") || !strings.Contains(res.out, "kind: DRRReport") {
		t.Errorf("dry run exit %s:\n%s\n%s", res.code, res.out, res.errOut)
	}
	// Without --yes and without a terminal there is nobody to confirm.
	res = runCmd(t, l, nil, gw3)
	if res.code != exitcode.Refused || !strings.Contains(res.errOut, "--yes") {
		t.Errorf("unconfirmed run exit %s: %s", res.code, res.errOut)
	}
	if g.ConfigGeneration() != gen || !g.Registered() {
		t.Error("dry run or unconfirmed run changed the gateway")
	}
}

func TestLabLostQuorumRefused(t *testing.T) {
	l := requireLab(t)
	g := group(t, l, gw3)
	ms := g.Members()
	g.SetMemberUp(ms[1], false)
	g.SetMemberUp(ms[2], false)
	defer func() { g.SetMemberUp(ms[1], true); g.SetMemberUp(ms[2], true) }()
	res := runCmd(t, l, nil, gw3, "--yes")
	if res.code != exitcode.Refused || !strings.Contains(res.errOut, "no quorum") || !strings.Contains(res.out, "quorum LOST") {
		t.Errorf("exit %s:\n%s\n%s", res.code, res.out, res.errOut)
	}
	st := runCmd(t, l, nil, gw3, "--status")
	if st.code != exitcode.Critical {
		t.Errorf("--status exit %s:\n%s", st.code, st.out)
	}
}

func TestLabNodeDownRefused(t *testing.T) {
	l := requireLab(t)
	s, _ := l.Site("dc1")
	pods, err := s.Kube.CoreV1().Pods("apic").List(context.Background(), metav1.ListOptions{LabelSelector: "crd.apiconnect.ibm.com/instance=" + gw3})
	if err != nil || len(pods.Items) == 0 {
		t.Fatal(err)
	}
	node := pods.Items[0].Spec.NodeName
	if err := l.SetNodeReady("dc1", node, false); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.SetNodeReady("dc1", node, true); waitReady(t, l) }()
	var res result
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		// The attach to a pod on a NotReady node fails at once (refused too); the pod turns unready
		// a moment later.
		if res = runCmd(t, l, nil, gw3, "--dry-run"); res.code == exitcode.Refused && strings.Contains(res.errOut, "is not Ready") {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if res.code != exitcode.Refused || !strings.Contains(res.errOut, "is not Ready") {
		t.Errorf("exit %s:\n%s\n%s", res.code, res.out, res.errOut)
	}
}

func TestLabWrongCredentialsNameTheSecret(t *testing.T) {
	l := requireLab(t)
	s, _ := l.Site("dc1")
	secrets := s.Kube.CoreV1().Secrets("apic")
	ctx := context.Background()
	setPassword := func(pw string) {
		sec, err := secrets.Get(ctx, lab.AdminSecretName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sec.Data["password"] = []byte(pw)
		if _, err := secrets.Update(ctx, sec, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// The simulator accepts whatever the Secret says at attach time: the command reads the changed
	// Secret, then (in its Attach) the Secret is put back, so the console holds the old password,
	// as when someone changed the Secret without changing the DataPower admin password.
	setPassword("not-the-password")
	var once sync.Once
	defer once.Do(func() { setPassword(s.AdminPassword) })
	res := runCmd(t, l, func(o *Options) {
		attach := o.Attach
		o.Attach = func(ctx context.Context, site *kube.Site, tg datapower.AttachTarget) (datapower.Conn, error) {
			once.Do(func() { setPassword(s.AdminPassword) })
			return attach(ctx, site, tg)
		}
	}, gw3, "--yes")
	if res.code != exitcode.Refused || !strings.Contains(res.errOut, "Secret apic/gw-admin") || !strings.Contains(res.errOut, "login failed") {
		t.Errorf("exit %s:\n%s", res.code, res.errOut)
	}
	// The wrong user, with the right Secret, says the same.
	res = runCmd(t, l, nil, gw3, "--yes", "--admin-user", "operator")
	if res.code != exitcode.Refused || !strings.Contains(res.errOut, `user "operator"`) || !strings.Contains(res.errOut, "Secret apic/gw-admin") ||
		strings.Contains(res.out, "quorum LOST") {
		t.Errorf("exit %s:\n%s", res.code, res.errOut)
	}
}

func TestLabDataPowerCommandFailure(t *testing.T) {
	l := requireLab(t)
	g := group(t, l, gw3)
	victim := g.Members()[2]
	if err := l.FailDataPowerCommand("dc1", gw3, victim, "admin-state disabled", ""); err != nil {
		t.Fatal(err)
	}
	res := runCmd(t, l, nil, append([]string{gw3, "--yes"}, fastFlags...)...)
	_ = l.ClearDataPowerFaults("dc1", gw3)
	if res.code != exitcode.DRRServiceCycleFailed || !strings.Contains(res.errOut, "member "+victim+": step cycle-gw-service") ||
		!strings.Contains(res.errOut, "Simulated failure") {
		t.Errorf("exit %s:\n%s\n%s", res.code, res.out, res.errOut)
	}
	if res := runCmd(t, l, nil, append([]string{gw3, "--yes"}, fastFlags...)...); res.code != exitcode.OK {
		t.Errorf("re-run exit %s:\n%s", res.code, res.errOut)
	}
}

// killingConn deletes its pod just before the member is told to disable apic-gw-service, and
// waits for the attach stream to end, so the member dies mid-run.
type killingConn struct {
	*datapower.AttachConn
	kill func()
	once sync.Once
}

func (c *killingConn) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("admin-state disabled")) {
		c.once.Do(func() {
			c.kill()
			select {
			case <-c.Done():
			case <-time.After(20 * time.Second):
			}
		})
	}
	return c.AttachConn.Write(p)
}

func TestLabMemberDiesMidRunThenRerunCompletes(t *testing.T) {
	l := requireLab(t)
	g := group(t, l, gw5)
	victim := g.Members()[3]
	res := runCmd(t, l, func(o *Options) {
		o.Attach = func(ctx context.Context, site *kube.Site, tg datapower.AttachTarget) (datapower.Conn, error) {
			c, err := datapower.Attach(ctx, site.Config, site.Kube, tg)
			if err != nil || tg.Pod != victim {
				return c, err
			}
			return &killingConn{AttachConn: c, kill: func() {
				if err := l.DeletePod(context.Background(), "dc1", victim); err != nil {
					t.Error(err)
				}
			}}, nil
		}
	}, append([]string{gw5, "--yes", "-o", "json"}, fastFlags...)...)
	if res.code != exitcode.DRRServiceCycleFailed {
		t.Fatalf("exit %s:\n%s\n%s", res.code, res.out, res.errOut)
	}
	rep := decode(t, res.out)
	if s, _ := rep.Result(victim, pdrr.StepCycle); s.Status != pdrr.Failed || !strings.Contains(s.Message, "lost the member's console") {
		t.Errorf("victim cycle: %+v", s)
	}
	waitReady(t, l)
	res = runCmd(t, l, nil, append([]string{gw5, "--yes"}, fastFlags...)...)
	if res.code != exitcode.OK {
		t.Errorf("re-run exit %s:\n%s\n%s", res.code, res.out, res.errOut)
	}
	eventuallyRegistered(t, g)
}

func TestLabCompletion(t *testing.T) {
	l := requireLab(t)
	var out bytes.Buffer
	o := NewOptions(genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &out})
	cmd := NewCommandWithOptions("kubectl apic drr", o)
	cmd.SetArgs([]string{"__complete", "--kubeconfig", l.Kubeconfig(), "--context", "dc1", "-n", "apic", "b"})
	cmd.SetOut(&out)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), gw5) || strings.Contains(out.String(), gw3+"\n") {
		t.Errorf("completion:\n%s", out.String())
	}
}

// TestLabPasswordNeverShown runs the real binary as a subprocess: the password must not appear on
// stdout, stderr, in the transcripts or in the process's arguments.
func TestLabPasswordNeverShown(t *testing.T) {
	l := requireLab(t)
	s, _ := l.Site("dc1")
	pw := s.AdminPassword
	bin := binary(t)
	transcripts := t.TempDir()
	for _, args := range [][]string{
		append([]string{gw3, "--yes", "--transcript", transcripts, "-o", "wide"}, fastFlags...),
		{gw3, "--status", "--transcript", transcripts},
	} {
		cmd := exec.Command(bin, append([]string{"--kubeconfig", l.Kubeconfig(), "--context", "dc1", "-n", "apic"}, args...)...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		checks := 0
	watch:
		for {
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("%v: %v\n%s", args, err, errOut.String())
				}
				break watch
			case <-time.After(20 * time.Millisecond):
				if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", cmd.Process.Pid)); err == nil {
					checks++
					if bytes.Contains(b, []byte(pw)) {
						t.Errorf("password in /proc/<pid>/cmdline")
					}
				}
				if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", cmd.Process.Pid)); err == nil && bytes.Contains(b, []byte(pw)) {
					t.Errorf("password in /proc/<pid>/environ")
				}
			}
		}
		if checks == 0 {
			t.Error("never saw the process's cmdline")
		}
		if strings.Contains(out.String()+errOut.String(), pw) {
			t.Errorf("password in output")
		}
		if !strings.Contains(out.String(), "PEERING") {
			t.Errorf("unexpected output:\n%s\n%s", out.String(), errOut.String())
		}
	}
	files, _ := filepath.Glob(filepath.Join(transcripts, "*.txt"))
	if len(files) != 3 {
		t.Fatalf("transcripts %v", files)
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if bytes.Contains(b, []byte(pw)) {
			t.Errorf("password in %s", f)
		}
		for _, want := range []string{"********", "admin-state disabled", "show gateway-peering-status"} {
			if !bytes.Contains(b, []byte(want)) {
				t.Errorf("%s lacks %q", f, want)
			}
		}
	}
}
