package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubectl-apic/kubectl-apic/hack/lab/labtest"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	"github.com/kubectl-apic/kubectl-apic/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func TestRenderStatus(t *testing.T) {
	st := lab.Status{PID: 4242, Dir: "/work/.lab", Kubeconfig: "/work/.lab/kubeconfig", Shape: lab.ShapeSubsystems,
		TimeScale: 1.0 / 300, Namespace: "apic", LinkUp: false,
		Sites: []lab.SiteStatus{
			{Name: "dc1", Server: "https://127.0.0.1:40657", APIServer: true, Latency: "100ms", Proxy: "https://127.0.0.1:41003", Gateway: &lab.GatewayTraffic{
				Endpoint: "http://127.0.0.1:41001", Up: true, Drained: true, Routes: []string{"production-gw-0", "production-gw-2"}}, Objects: []lab.ObjectStatus{
				{Kind: "mgmt", Name: "production-mgmt", Ready: "24/24", Phase: "Warning", HAMode: "active",
					Message: "HA status PeerNotReachable - see HAStatus in CR for details"},
				{Kind: "gw", Name: "production-gw", Ready: "3/3", Phase: "Running", Message: "Gateway is ready"},
			}},
			{Name: "dc2", Server: "https://127.0.0.1:45985", Error: "kube-apiserver stopped",
				Gateway: &lab.GatewayTraffic{Endpoint: "http://127.0.0.1:41002"}},
		}, Router: "http://127.0.0.1:41000"}
	var b bytes.Buffer
	if err := renderStatus(&b, st); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "status.golden")
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if b.String() != string(want) {
		t.Errorf("status:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestFaultArguments(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"cut-link"}, ""},
		{[]string{"cut-link", "dc1"}, "usage: fault cut-link"},
		{[]string{"stop-apiserver"}, "usage: fault stop-apiserver <site>"},
		{[]string{"fail-command", "dc1", "gw", "pod", "show"}, ""},
		{[]string{"fail-command", "dc1", "gw", "pod", "show", "% boom"}, ""},
		{[]string{"fail-command", "dc1", "gw", "pod", "show", "% boom", "extra"}, "usage: fault fail-command <site> <gateway> <pod> <prefix> [message]"},
		{[]string{"never-ready", "dc1", "production-gw-2"}, ""},
		{[]string{"never-ready", "dc1"}, "usage: fault never-ready <site> <pod>"},
		{[]string{"wrong-version", "dc1", "production-gw-2", "10.0.7.0"}, ""},
		{[]string{"wrong-version", "dc1", "production-gw-2"}, "usage: fault wrong-version <site> <pod> <version>"},
		{[]string{"rotate-password", "dc1", "production-gw"}, ""},
		{[]string{"rotate-password", "dc1"}, "usage: fault rotate-password <site> <gateway>"},
		{[]string{"latency", "dc2", "100ms"}, ""},
		{[]string{"latency", "dc2"}, "usage: fault latency <site> <rtt>"},
		{[]string{"clear-latency"}, ""},
		{[]string{"clear-latency", "dc2"}, ""},
		{[]string{"clear-latency", "dc1", "dc2"}, "usage: fault clear-latency [site]"},
		{[]string{"explode"}, `unknown fault "explode"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			cmd := newRootCommand(&out, &errOut)
			// A directory without a lab: argument errors come first, then "no lab running".
			cmd.SetArgs(append([]string{"--dir", t.TempDir(), "fault"}, tt.args...))
			err := cmd.ExecuteContext(context.Background())
			want := tt.wantErr
			if want == "" {
				want = "no lab running"
			}
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error %v, want one containing %q", err, want)
			}
		})
	}
}

// buildBinary builds apic-lab (as make build-lab does, without -trimpath: a different cache key would rebuild every dependency).
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "apic-lab")
	cmd := exec.Command("go", "build", "-o", bin, ".") // no -trimpath: reuse the test build cache
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func requireIntegration(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: starts the lab (skipped with -short; run make test)")
	}
	assets, err := testenv.Assets()
	if err != nil {
		t.Fatalf("control-plane binaries: %v", err)
	}
	return assets
}

func run(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	out, err := cmd.CombinedOutput()
	t.Logf("apic-lab %s:\n%s", strings.Join(args, " "), out)
	return string(out), err
}

func wantProcesses(t *testing.T, dir string) {
	t.Helper()
	names := map[string]int{}
	for _, p := range lab.Processes(dir) {
		names[p.Name]++
	}
	for _, n := range []string{"apic-lab", "etcd", "kube-apiserver", "kube-scheduler", "kube-controller-manager"} {
		want := 2
		if n == "apic-lab" {
			want = 1
		}
		if names[n] != want {
			t.Errorf("%d %s processes of the lab, want %d (all: %v)", names[n], n, want, names)
		}
	}
}

func wantNoProcesses(t *testing.T, dir string) {
	t.Helper()
	if left := lab.Processes(dir); len(left) > 0 {
		t.Errorf("processes of the lab left behind: %v", left)
	}
}

// up → up again → status → fault → down → down again: the background lab's whole life through the
// built binary, and nothing left behind.
func TestUpStatusFaultDown(t *testing.T) {
	assets := requireIntegration(t)
	bin := buildBinary(t)
	dir := filepath.Join(t.TempDir(), ".lab")
	t.Cleanup(func() { _, _ = run(t, bin, "down", "--dir", dir) })

	out, err := run(t, bin, "up", "--dir", dir, "--assets", assets)
	if err != nil || !strings.Contains(out, "The lab is up") || !strings.Contains(out, "export KUBECONFIG=") {
		t.Fatalf("up: %v", err)
	}
	wantProcesses(t, dir)
	if out, err := run(t, bin, "up", "--dir", dir, "--assets", assets); err != nil || !strings.Contains(out, "already up") {
		t.Errorf("second up: %v", err)
	}
	out, err = run(t, bin, "status", "--dir", dir)
	for _, want := range []string{"dc1", "dc2", "https://127.0.0.1:", "Inter-site link: up", "production-mgmt", "active", "passive"} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("status (err %v) lacks %q", err, want)
		}
	}

	if _, err := run(t, bin, "fault", "--dir", dir, "cut-link"); err != nil {
		t.Fatalf("fault cut-link: %v", err)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	deadline := time.Now().Add(20 * time.Second)
	for {
		o, _, err := testenv.RunKubectl(kubeconfig, "--context", "dc1", "-n", "apic", "get", "mgmt")
		if err == nil && strings.Contains(o, "PeerNotReachable") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kubectl get mgmt never showed PeerNotReachable after fault cut-link:\n%s", o)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if out, _ := run(t, bin, "status", "--dir", dir); !strings.Contains(out, "Inter-site link: CUT") {
		t.Error("status does not show the cut link")
	}
	if _, err := run(t, bin, "fault", "--dir", dir, "node-down", "dc1", "no-such-node"); err == nil {
		t.Error("fault node-down on an unknown node succeeded")
	}

	if out, err := run(t, bin, "down", "--dir", dir); err != nil || !strings.Contains(out, "none of its processes is left") {
		t.Errorf("down: %v", err)
	}
	wantNoProcesses(t, dir)
	for _, f := range []string{"control.sock", "lab.pid"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s left after down", f)
		}
	}
	if out, err := run(t, bin, "down", "--dir", dir); err != nil || !strings.Contains(out, "No lab is running") {
		t.Errorf("down without a lab: %v", err)
	}
	if _, err := run(t, bin, "status", "--dir", dir); err == nil {
		t.Error("status without a lab exited 0")
	}
}

// up --foreground stops the whole lab on Ctrl-C (SIGINT to the terminal's foreground process group).
func TestForegroundStopsOnCtrlC(t *testing.T) {
	assets := requireIntegration(t)
	bin := buildBinary(t)
	dir := filepath.Join(t.TempDir(), ".lab")
	cmd := exec.Command(bin, "up", "--foreground", "--dir", dir, "--assets", assets)
	var out labtest.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its own group, as a shell's foreground job
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	})
	deadline := time.After(3 * time.Minute)
	for !strings.Contains(out.String(), "Ctrl-C stops it") {
		select {
		case err := <-done:
			t.Fatalf("up --foreground exited before the lab was ready: %v\n%s", err, out.String())
		case <-deadline:
			t.Fatalf("up --foreground not ready after 3 minutes:\n%s", out.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
	wantProcesses(t, dir)
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("up --foreground after Ctrl-C: %v", err)
		}
	case <-time.After(90 * time.Second):
		t.Fatalf("up --foreground still running 90s after Ctrl-C:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "lab stopped") {
		t.Errorf("no \"lab stopped\" in the output:\n%s", out.String())
	}
	wantNoProcesses(t, dir)
}
