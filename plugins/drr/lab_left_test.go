package drr

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	"github.com/kubectl-apic/kubectl-apic/internal/testenv"
	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/pkg/datapower"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/kube"
	"github.com/kubectl-apic/kubectl-apic/plugins/status"
)

// Issue 11: a DRR left half done must be reported, a second DRR refused, a wrong password refused
// before any change, and refused runs must not print client-go's lines.

// finishCmd is the command the reports must name to finish gw3's DRR.
const finishCmd = "kubectl apic drr " + gw3 + " -n apic --context dc1 --yes"

// hookConn calls onRead with what the console printed.
type hookConn struct {
	*datapower.AttachConn
	onRead func([]byte)
}

func (c *hookConn) Read(p []byte) (int, error) {
	n, err := c.AttachConn.Read(p)
	if n > 0 {
		c.onRead(p[:n])
	}
	return n, err
}

// runStatusPeering runs `kubectl apic status --context dc1 -n apic --peering` in-process.
func runStatusPeering(t *testing.T, l *lab.Lab) result {
	t.Helper()
	var out, errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	cmd := status.NewCommand("kubectl apic status", streams)
	cmd.SetArgs([]string{"--kubeconfig", l.Kubeconfig(), "--context", "dc1", "-n", "apic", "--peering", "-o", "wide"})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := cli.Execute(ctx, cmd, streams)
	return result{out.String(), errOut.String(), exitcode.Code(code)}
}

// Ctrl-C right after the flush: every member stays flushed. --status and status --peering say so
// and name the re-run, which finishes it.
func TestLabInterruptedDRRIsReportedAndFinished(t *testing.T) {
	l := requireLab(t)
	g := group(t, l, gw3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once sync.Once
	res := runCmdCtx(t, l, ctx, func(o *Options) {
		o.Attach = func(actx context.Context, site *kube.Site, tg datapower.AttachTarget) (datapower.Conn, error) {
			c, err := datapower.Attach(actx, site.Config, site.Kube, tg)
			if err != nil {
				return c, err
			}
			return &hookConn{AttachConn: c, onRead: func(b []byte) {
				if bytes.Contains(b, []byte(" flushed.")) {
					once.Do(cancel) // the user's Ctrl-C, the moment the device has flushed
				}
			}}, nil
		}
	}, append([]string{gw3, "--yes"}, fastFlags...)...)
	if res.code != exitcode.Interrupted || !strings.Contains(res.errOut, "left mid-DRR") || !strings.Contains(res.errOut, finishCmd) ||
		!strings.Contains(res.out, "DRR apic/"+gw3+": Interrupted") {
		t.Fatalf("interrupted run: exit %s\n%s\n%s", res.code, res.out, res.errOut)
	}
	t.Logf("interrupted run: exit %s\nstdout:\n%s\nstderr:\n%s", res.code, res.out, res.errOut)
	time.Sleep(2 * time.Second) // heartbeats (1s in the lab) do not re-register a flushed gateway by themselves
	if g.Registered() {
		t.Fatal("the gateway re-registered without the cycle: the interruption did not leave it flushed")
	}

	st := runCmd(t, l, nil, gw3, "--status")
	// Every member is read, the one whose console the interruption left in diag mode too.
	if st.code != exitcode.Critical || !strings.Contains(st.out, "LEFT MID-DRR") || !strings.Contains(st.out, finishCmd) ||
		!strings.Contains(st.out, "DRR interrupted at step flush") || strings.Contains(st.out, "UNREADABLE") {
		t.Errorf("--status after the interruption: exit %s\n%s\n%s", st.code, st.out, st.errOut)
	}
	t.Logf("--status: exit %s\nstdout:\n%s\nstderr:\n%s", st.code, st.out, st.errOut)
	js := runCmd(t, l, nil, gw3, "--status", "-o", "json")
	if !strings.Contains(js.out, `"flushed": true`) || !strings.Contains(js.out, `"fix": "`+finishCmd+`"`) {
		t.Errorf("--status -o json:\n%s", js.out)
	}
	sp := runStatusPeering(t, l)
	if sp.code != exitcode.Critical || !strings.Contains(sp.out, "DRRUnfinished") || !strings.Contains(sp.out, finishCmd) {
		t.Errorf("status --peering: exit %s\n%s\n%s", sp.code, sp.out, sp.errOut)
	}

	t.Logf("status --peering: exit %s\nstdout:\n%s", sp.code, sp.out)
	re := runCmd(t, l, nil, append([]string{gw3, "--yes"}, fastFlags...)...)
	if eventuallyRegistered(t, g); re.code != exitcode.OK || !g.Registered() || !strings.Contains(re.errOut, "left mid-DRR") {
		t.Fatalf("re-run: exit %s registered %v\n%s\n%s", re.code, g.Registered(), re.out, re.errOut)
	}
	if st := runCmd(t, l, nil, gw3, "--status"); st.code != exitcode.OK || strings.Contains(st.out, "LEFT MID-DRR") {
		t.Errorf("--status after the re-run: exit %s\n%s", st.code, st.out)
	}
	if sp := runStatusPeering(t, l); strings.Contains(sp.out, "DRRUnfinished") || strings.Contains(sp.out, "GatewayServiceDisabled") {
		t.Errorf("status --peering after the re-run:\n%s", sp.out)
	}
}

// `apic-lab fault fail-command dc1 production-gw production-gw-2 "admin-state enabled"` leaves
// apic-gw-service disabled on that member: reported by --status (read from the device) and
// status --peering; the re-run finishes it.
func TestLabDisabledGatewayServiceIsReported(t *testing.T) {
	l := requireLab(t)
	g := group(t, l, gw3)
	victim := g.Members()[2]
	ctx := context.Background()
	if _, err := l.Fault(ctx, "fail-command", "dc1", gw3, victim, "admin-state enabled"); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.ClearDataPowerFaults("dc1", gw3) }()
	res := runCmd(t, l, nil, append([]string{gw3, "--yes"}, fastFlags...)...)
	if res.code != exitcode.DRRServiceCycleFailed || !strings.Contains(res.errOut, finishCmd) {
		t.Fatalf("exit %s\n%s\n%s", res.code, res.out, res.errOut)
	}
	want := "member " + victim + ": apic-gw-service admin-state is disabled"
	st := runCmd(t, l, nil, gw3, "--status")
	if st.code != exitcode.Critical || !strings.Contains(st.out, want) || !strings.Contains(st.out, finishCmd) {
		t.Errorf("--status: exit %s\n%s\n%s", st.code, st.out, st.errOut)
	}
	sp := runStatusPeering(t, l)
	if !strings.Contains(sp.out, "GatewayServiceDisabled") || !strings.Contains(sp.out, "member "+victim+": apic-gw-service admin-state is disabled") {
		t.Errorf("status --peering: exit %s\n%s\n%s", sp.code, sp.out, sp.errOut)
	}
	if err := l.ClearDataPowerFaults("dc1", gw3); err != nil {
		t.Fatal(err)
	}
	re := runCmd(t, l, nil, append([]string{gw3, "--yes"}, fastFlags...)...)
	if re.code != exitcode.OK {
		t.Fatalf("re-run: exit %s\n%s", re.code, re.errOut)
	}
	eventuallyRegistered(t, g)
	if st := runCmd(t, l, nil, gw3, "--status"); st.code != exitcode.OK || strings.Contains(st.out, "disabled") {
		t.Errorf("--status after the re-run: exit %s\n%s", st.code, st.out)
	}
}

// Two DRRs of one gateway at once: the second is refused before it touches a console, naming the
// holder (exit 5, as failover refuses a concurrent failover); --status stands back too. The first
// completes.
func TestLabConcurrentDRRRefused(t *testing.T) {
	l := requireLab(t)
	g := group(t, l, gw3)
	eventuallyRegistered(t, g) // an earlier run's re-registration comes with the heartbeat
	gen := g.ConfigGeneration()
	attached := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	done := make(chan result, 1)
	go func() {
		done <- runCmd(t, l, func(o *Options) {
			attach := o.Attach
			o.Attach = func(ctx context.Context, site *kube.Site, tg datapower.AttachTarget) (datapower.Conn, error) {
				once.Do(func() { close(attached) })
				<-release // hold the first run (and its lease) in pre-flight
				return attach(ctx, site, tg)
			}
		}, append([]string{gw3, "--yes"}, fastFlags...)...)
	}()
	select {
	case <-attached:
	case r := <-done:
		t.Fatalf("first run ended early: exit %s\n%s", r.code, r.errOut)
	}
	var secondAttached bool
	second := runCmd(t, l, func(o *Options) {
		attach := o.Attach
		o.Attach = func(ctx context.Context, site *kube.Site, tg datapower.AttachTarget) (datapower.Conn, error) {
			secondAttached = true
			return attach(ctx, site, tg)
		}
	}, append([]string{gw3, "--yes"}, fastFlags...)...)
	st := runCmd(t, l, nil, gw3, "--status")
	close(release)
	first := <-done
	t.Logf("second run: exit %s\n%s\n--status: exit %s\n%s", second.code, second.errOut, st.code, st.errOut)
	if second.code != exitcode.Refused || secondAttached || !strings.Contains(second.errOut, "another DRR of gateway apic/"+gw3+" is running") ||
		!strings.Contains(second.errOut, "kubectl apic drr "+gw3+" -n apic --context dc1") || !strings.Contains(second.errOut, "pid ") {
		t.Errorf("second run: exit %s attached %v\n%s", second.code, secondAttached, second.errOut)
	}
	if st.code != exitcode.Refused || !strings.Contains(st.errOut, "not attaching to the consoles it drives") {
		t.Errorf("--status during a run: exit %s\n%s", st.code, st.errOut)
	}
	eventuallyRegistered(t, g)
	if first.code != exitcode.OK || g.ConfigGeneration() <= gen {
		t.Errorf("first run: exit %s\n%s", first.code, first.errOut)
	}
}

// errorLine is the one "error: " line of stderr ("" unless there is exactly one).
func errorLine(stderr string) string {
	var found []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "error: ") {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		return ""
	}
	return found[0]
}

// binary builds cmd/kubectl-apic-drr once for the package's subprocess tests.
func binary(t *testing.T) string {
	t.Helper()
	return testenv.Binary(t, "kubectl-apic-drr")
}

// A device password that differs from the Secret (`apic-lab fault rotate-password`), and a user
// the Secret is not for (`--admin-user nobody`), refuse before any change (exit 5) with one line
// naming the Secret and the fix: no table of nothing, no client-go lines. The real binary runs, so
// stderr is what a user sees (client-go logs to the process's stderr).
func TestLabRefusedLoginsAreOneQuietLine(t *testing.T) {
	l := requireLab(t)
	g := group(t, l, gw3)
	bin := binary(t)
	ctx := context.Background()
	eventuallyRegistered(t, g) // an earlier run's re-registration comes with the heartbeat
	gen := g.ConfigGeneration()
	primary := g.Primary("gwd")
	run := func(args ...string) result {
		cmd := exec.Command(bin, append([]string{"--kubeconfig", l.Kubeconfig(), "--context", "dc1", "-n", "apic"}, args...)...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code := exitcode.OK
		if ee, ok := err.(*exec.ExitError); ok {
			code = exitcode.Code(ee.ExitCode())
		} else if err != nil {
			t.Fatal(err)
		}
		return result{out.String(), errOut.String(), code}
	}
	quiet := func(name string, r result) {
		t.Helper()
		t.Logf("%s: exit %s\nstdout:\n%s\nstderr:\n%s", name, r.code, r.out, r.errOut)
		for _, bad := range []string{"Copying stdin failed", "UnhandledError", "Waiting for server to close stdin"} {
			if strings.Contains(r.errOut, bad) {
				t.Errorf("%s: stderr has client-go's %q:\n%s", name, bad, r.errOut)
			}
		}
	}

	if _, err := l.Fault(ctx, "rotate-password", "dc1", gw3); err != nil {
		t.Fatal(err)
	}
	res := run(append([]string{gw3, "--yes"}, fastFlags...)...)
	if _, err := l.Fault(ctx, "restore-password", "dc1", gw3); err != nil {
		t.Fatal(err)
	}
	if res.code != exitcode.Refused || !strings.Contains(errorLine(res.errOut), "Secret apic/gw-admin") || !strings.Contains(errorLine(res.errOut), "nothing was changed") ||
		strings.TrimSpace(res.out) != "" {
		t.Errorf("rotated device password: exit %s\nstdout:\n%s\nstderr:\n%s", res.code, res.out, res.errOut)
	}
	quiet("rotated password", res)

	res = run(gw3, "--yes", "--admin-user", "nobody")
	if res.code != exitcode.Refused || !strings.Contains(errorLine(res.errOut), `user "nobody"`) || !strings.Contains(errorLine(res.errOut), "Secret apic/gw-admin") ||
		strings.Contains(res.out, "quorum LOST") || strings.TrimSpace(res.out) != "" {
		t.Errorf("--admin-user nobody: exit %s\nstdout:\n%s\nstderr:\n%s", res.code, res.out, res.errOut)
	}
	quiet("--admin-user nobody", res)

	res = run(gw3, "--status", "--admin-user", "nobody")
	if res.code != exitcode.Refused || !strings.Contains(res.errOut, "Secret apic/gw-admin") {
		t.Errorf("--status --admin-user nobody: exit %s\n%s\n%s", res.code, res.out, res.errOut)
	}
	quiet("--status --admin-user nobody", res)

	// A pre-flight refusal after a successful login (lost quorum) detaches quietly too.
	ms := g.Members()
	g.SetMemberUp(ms[1], false)
	g.SetMemberUp(ms[2], false)
	res = run(gw3, "--yes")
	g.SetMemberUp(ms[1], true)
	g.SetMemberUp(ms[2], true)
	if res.code != exitcode.Refused {
		t.Errorf("lost quorum: exit %s\n%s", res.code, res.errOut)
	}
	quiet("lost quorum", res)

	if g.ConfigGeneration() != gen || !g.Registered() || g.Primary("gwd") != primary {
		t.Error("a refused run changed the gateway")
	}
}

// SIGKILL right after "flush ... started": no end is recorded and the lease stays held. --status
// says the gateway is left mid-DRR (the holder's process is gone), and the re-run takes the lease
// over and finishes it.
func TestLabKilledDRRIsReportedAndFinished(t *testing.T) {
	l := requireLab(t)
	g := group(t, l, gw3)
	bin := binary(t)
	cmd := exec.Command(bin, append([]string{"--kubeconfig", l.Kubeconfig(), "--context", "dc1", "-n", "apic", gw3, "--yes"}, fastFlags...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var seen bytes.Buffer
	buf := make([]byte, 4096)
	killed := false
	for !killed {
		n, err := stderr.Read(buf)
		seen.Write(buf[:n])
		if strings.Contains(seen.String(), "flush gateway peering gwd: started") {
			_ = cmd.Process.Kill()
			killed = true
		}
		if err != nil {
			break
		}
	}
	_ = cmd.Wait()
	if !killed {
		t.Fatalf("the run ended before its flush:\n%s", seen.String())
	}
	st := runCmd(t, l, nil, gw3, "--status")
	t.Logf("--status after SIGKILL: exit %s\n%s\n%s", st.code, st.out, st.errOut)
	if st.code != exitcode.Critical || !strings.Contains(st.out, "without recording an end") || !strings.Contains(st.out, finishCmd) {
		t.Errorf("--status after SIGKILL: exit %s\n%s\n%s", st.code, st.out, st.errOut)
	}
	re := runCmd(t, l, nil, append([]string{gw3, "--yes"}, fastFlags...)...)
	if eventuallyRegistered(t, g); re.code != exitcode.OK || !g.Registered() || !strings.Contains(re.errOut, "took over lease apic-drr-"+gw3) {
		t.Fatalf("re-run: exit %s registered %v\n%s\n%s", re.code, g.Registered(), re.out, re.errOut)
	}
	if st := runCmd(t, l, nil, gw3, "--status"); st.code != exitcode.OK {
		t.Errorf("--status after the re-run: exit %s\n%s", st.code, st.out)
	}
}
