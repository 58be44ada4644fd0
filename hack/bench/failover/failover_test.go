// Package failover_test benchmarks `kubectl apic failover` on the lab:
//
//	go test ./hack/bench/failover -run '^$' -bench . -benchtime 6x
//
// It reports, over b.N failovers (alternating dc1→dc2 and back, management and portal):
//   - reaction-median-ms / reaction-max-ms: from the watch event that satisfied a wait to the next
//     change the command sends (patch or delete);
//   - overhead-median-s / overhead-max-s: the command's total time minus the operator simulator's
//     own transition time (first patch until the last stage change the command waits for, read from
//     the simulator's status.simulator.since).
package failover_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	ft "github.com/kubectl-apic/kubectl-apic/hack/lab/labtest/failovertest"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/pkg/failover"
	plugin "github.com/kubectl-apic/kubectl-apic/plugins/failover"
)

var env ft.Env

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		os.Exit(m.Run()) // no lab unless benchmarking
	}
	os.Exit(ft.Main(m, lab.ShapeSubsystems, &env))
}

func BenchmarkFailover(b *testing.B) {
	l := env.Require(b)
	var reactions, overheads []time.Duration
	from, to := "dc1", "dc2"
	if ft.Steady(b, l, apic.ManagementClusterKind, lab.MgmtName) == "dc2" {
		from, to = to, from
	}
	b.ResetTimer()
	for range b.N {
		var mu sync.Mutex
		var trace []failover.TraceEvent
		var out, errOut bytes.Buffer
		streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
		o := plugin.NewOptions(streams)
		o.Trace = func(e failover.TraceEvent) { mu.Lock(); trace = append(trace, e); mu.Unlock() }
		cmd := plugin.NewCommandWithOptions("kubectl apic failover", o)
		cmd.SetArgs([]string{"--kubeconfig", l.Kubeconfig(), "--from", from, "--to", to, "--yes", "--progress=plain"})
		start := time.Now()
		if code := cli.Execute(context.Background(), cmd, streams); code != 0 {
			b.Fatalf("exit %d\n%s", code, errOut.String())
		}
		end := time.Now()

		var firstPatch, lastObserved time.Time
		for _, e := range trace {
			switch e.Kind {
			case "observed":
				lastObserved = e.At
			case "patch", "delete":
				if firstPatch.IsZero() {
					firstPatch = e.At
				} else if !lastObserved.IsZero() {
					reactions = append(reactions, e.At.Sub(lastObserved))
				}
				lastObserved = time.Time{}
			}
		}
		simEnd := lastStageChange(b, l, from, to)
		overheads = append(overheads, end.Sub(start)-simEnd.Sub(firstPatch))
		b.Logf("%s → %s: total %s, simulator %s", from, to, end.Sub(start).Round(time.Millisecond), simEnd.Sub(firstPatch).Round(time.Millisecond))
		from, to = to, from
	}
	b.StopTimer()
	b.ReportMetric(ms(median(reactions)), "reaction-median-ms")
	b.ReportMetric(ms(maxOf(reactions)), "reaction-max-ms")
	b.ReportMetric(median(overheads).Seconds(), "overhead-median-s")
	b.ReportMetric(maxOf(overheads).Seconds(), "overhead-max-s")
	fmt.Fprintf(os.Stderr, "reactions (n=%d): %v\noverheads: %v\n", len(reactions), reactions, overheads)
}

// lastStageChange is the latest status.simulator.since of the CRs the command waits on: --from's
// mgmt and ptl (warm-standby) and --to's (active).
func lastStageChange(b *testing.B, l *lab.Lab, from, to string) time.Time {
	var last time.Time
	for _, site := range []string{from, to} {
		for _, k := range []apic.Kind{apic.ManagementClusterKind, apic.PortalClusterKind} {
			name := lab.MgmtName
			if k == apic.PortalClusterKind {
				name = lab.PortalName
			}
			o := ft.Get(b, l, site, k, name)
			s, _, _ := unstructured.NestedString(o.U.Object, "status", "simulator", "since")
			ts, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				b.Fatalf("%s/%s on %s: status.simulator.since %q", k.Display(), name, site, s)
			}
			if ts.After(last) {
				last = ts
			}
		}
	}
	return last
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func maxOf(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
