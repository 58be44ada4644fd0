// Package drr benchmarks `kubectl apic drr` on the lab: the wall time of a whole DRR (pre-flight,
// switch-primary, flush, apic-gw-service cycle, waiting log, registration, peering health) for
// gateways of 3, 9 and 27 members. The per-member work runs in parallel, so the time should grow
// little with the member count; the lab's scaled heartbeat (1s at TimeScale 1/300) bounds each run.
//
//	go test -run '^$' -bench . -benchtime 3x ./hack/bench/drr/
package drr

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	"github.com/kubectl-apic/kubectl-apic/internal/testenv"
	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	pdrr "github.com/kubectl-apic/kubectl-apic/pkg/drr"
	"github.com/kubectl-apic/kubectl-apic/plugins/drr"
)

var sizes = []int{3, 9, 27}

var (
	theLab *lab.Lab
	labErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() || flagValue("test.bench") == "" {
		os.Exit(m.Run())
	}
	assets, err := testenv.Assets()
	if err != nil {
		labErr = err
		os.Exit(m.Run())
	}
	dir, _ := os.MkdirTemp("", "apic-drr-bench-")
	var gws []lab.GatewaySpec
	for _, n := range sizes {
		gws = append(gws, lab.GatewaySpec{Name: fmt.Sprintf("gw-%d", n), Replicas: n})
	}
	theLab, labErr = lab.Start(context.Background(), lab.Config{Dir: dir, Assets: assets, Gateways: gws,
		Nodes: lab.DefaultNodes(9, "zone-a", "zone-b", "zone-c"), NoBusyNodes: true})
	code := m.Run()
	if theLab != nil {
		theLab.Stop()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func flagValue(name string) string {
	if f := flag.Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}

// runDRR runs one whole DRR in-process, as the binary would, and returns the time spent waiting
// for the heartbeat (the longest registration step): the part that does not depend on the members.
func runDRR(b *testing.B, gateway string) time.Duration {
	var out, errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	cmd := drr.NewCommand("kubectl apic drr", streams)
	cmd.SetArgs([]string{"--kubeconfig", theLab.Kubeconfig(), "--context", "dc1", "-n", "apic", gateway, "--yes",
		"-o", "json", "--poll-interval", "50ms", "--registration-timeout", "30s"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if code := cli.Execute(ctx, cmd, streams); code != 0 {
		b.Fatalf("drr %s: exit %d\n%s", gateway, code, errOut.String())
	}
	var rep pdrr.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		b.Fatal(err)
	}
	if os.Getenv("DRR_BENCH_STEPS") != "" {
		per := map[string]float64{}
		for _, r := range rep.Results {
			per[r.Step] = max(per[r.Step], r.DurationSeconds)
		}
		b.Logf("%s: total %.3fs, slowest member per step %v", gateway, rep.DurationSeconds, per)
	}
	wait := 0.0
	for _, r := range rep.Results {
		if r.Step == pdrr.StepRegistration {
			wait = max(wait, r.DurationSeconds)
		}
	}
	return time.Duration(wait * float64(time.Second))
}

func BenchmarkDRR(b *testing.B) {
	if labErr != nil {
		b.Fatalf("lab failed to start: %v", labErr)
	}
	if theLab == nil {
		b.Skip("needs the lab (not started with -short)")
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			gw := fmt.Sprintf("gw-%d", n)
			var wait time.Duration
			for b.Loop() {
				wait += runDRR(b, gw)
			}
			// Wall time without the heartbeat wait, whose phase is random (0 to 1s on the lab).
			b.ReportMetric((b.Elapsed()-wait).Seconds()/float64(b.N), "s-excl-heartbeat/op")
		})
	}
}
