package lab_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	"github.com/kubectl-apic/kubectl-apic/internal/testenv"
)

var theLab *lab.Lab
var labErr error

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	assets, err := testenv.Assets()
	if err != nil {
		labErr = err
		os.Exit(m.Run())
	}
	dir, _ := os.MkdirTemp("", "apic-lab-test-")
	start := time.Now()
	theLab, labErr = lab.Start(context.Background(), lab.Config{Dir: dir, Assets: assets,
		Logf: func(f string, a ...any) { fmt.Fprintf(os.Stderr, "lab: "+f+"\n", a...) }})
	fmt.Fprintf(os.Stderr, "lab started in %s (err=%v)\n", time.Since(start), labErr)
	code := m.Run()
	if theLab != nil {
		theLab.Stop()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func requireLab(t *testing.T) *lab.Lab {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs the lab (skipped with -short; run make test)")
	}
	if labErr != nil {
		t.Fatalf("lab failed to start: %v", labErr)
	}
	return theLab
}

func TestLabUp(t *testing.T) {
	l := requireLab(t)
	out, errOut, err := testenv.RunKubectl(l.Kubeconfig(), "--context", "dc1", "get", "mgmt,ptl,gw,a7s", "-n", "apic")
	t.Logf("%s%s%v", out, errOut, err)
	out, errOut, err = testenv.RunKubectl(l.Kubeconfig(), "--context", "dc2", "get", "mgmt,ptl,gw,a7s,pods", "-n", "apic", "-o", "wide")
	t.Logf("%s%s%v", out, errOut, err)
}
