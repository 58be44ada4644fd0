// Package labtest is the support for the lab's integration tests: one lab per test package started
// in TestMain, the real /usr/bin/kubectl against it (get, patch, edit, attach with and without a
// TTY) and the documented scenarios shared by the lab's deployment shapes (failover.go).
//
//	var env *labtest.Env
//	func TestMain(m *testing.M) { os.Exit(labtest.Main(m, &env, lab.Config{})) }
//	func TestSomething(t *testing.T) { l := labtest.Require(t, env); ... }
//
// With -short no lab starts and the tests skip, saying so; a lab that cannot start fails every test.
package labtest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	"github.com/kubectl-apic/kubectl-apic/internal/testenv"
)

// Env is the package's lab.
type Env struct {
	Lab *lab.Lab
	// StartTime is how long lab.Start took (warm: control-plane binaries cached).
	StartTime time.Duration
	err       error
}

// Main starts the package's lab (unless -short), runs the tests and stops the lab. When the test
// binary runs as kubectl's editor (see Edit) it edits the file instead and starts nothing.
func Main(m *testing.M, env **Env, cfg lab.Config) int {
	if spec := os.Getenv(editorEnv); spec != "" {
		return runEditor(spec, os.Args[len(os.Args)-1])
	}
	flag.Parse()
	if testing.Short() {
		return m.Run()
	}
	e := &Env{}
	*env = e
	assets, err := testenv.Assets()
	if err != nil {
		e.err = err
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "apic-lab-test-")
	if err != nil {
		e.err = err
		return m.Run()
	}
	defer os.RemoveAll(dir)
	cfg.Dir, cfg.Assets = dir, assets
	if cfg.Logf == nil && os.Getenv("LAB_LOG") != "" {
		cfg.Logf = func(f string, a ...any) { fmt.Fprintf(os.Stderr, "lab: "+f+"\n", a...) }
	}
	start := time.Now()
	e.Lab, e.err = lab.Start(context.Background(), cfg)
	e.StartTime = time.Since(start)
	fmt.Fprintf(os.Stderr, "labtest: %s lab started in %s (err=%v)\n", shapeOf(cfg), e.StartTime.Round(time.Millisecond), e.err)
	code := m.Run()
	if e.Lab != nil {
		e.Lab.Stop()
	}
	// Nothing of the lab may outlive it: every process it started names its directory.
	if left := lab.Processes(dir); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "labtest: processes of the lab still running after Stop: %v\n", left)
		code = 1
	}
	return code
}

func shapeOf(cfg lab.Config) lab.Shape {
	if cfg.Shape == "" {
		return lab.ShapeSubsystems
	}
	return cfg.Shape
}

// Require returns the package's lab or ends the test: a skip (with the reason) under -short, a
// failure when the lab could not start.
func Require(t testing.TB, env *Env) *lab.Lab {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs the lab (two real control planes; skipped with -short, run make test)")
	}
	if env == nil {
		t.Fatal("labtest: lab not started: call labtest.Main from TestMain")
	}
	if env.err != nil {
		t.Fatalf("labtest: the lab failed to start: %v", env.err)
	}
	return env.Lab
}

// Kubectl runs the real kubectl against the lab's kubeconfig and returns stdout; it fails the test on
// error.
func Kubectl(t testing.TB, l *lab.Lab, args ...string) string {
	t.Helper()
	out, errOut, err := testenv.RunKubectl(l.Kubeconfig(), args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// Eventually polls check every 250ms until it reports done or timeout passes; check's last
// description is in the failure.
func Eventually(t testing.TB, timeout time.Duration, what string, check func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, desc := check()
		if ok {
			return
		}
		last = desc
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last seen:\n%s", timeout, what, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// Namespace is the lab's API Connect namespace.
const Namespace = "apic"
