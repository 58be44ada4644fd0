// Package rollout benchmarks `kubectl apic rollout restart` on the lab simulator: the command's own
// time per member, beyond the pod's restart and the probe window (target under 1 s), for gateways
// of 3 and 9 members.
//
//	go test -run '^$' -bench . -benchtime 3x -timeout 30m ./hack/bench/rollout/
//
// Each run restarts every member of one gateway on dc1 in-process (as the binary would) with
// --probe on the site's gateway endpoint and -o json, and reads the RolloutReport. Per run:
//
//	own time per member = (wall time of the command − Σ over members of RESTART + READY + PROBE) / members
//
// RESTART (delete, until the StatefulSet created the pod again), READY (until the new pod is Ready)
// and PROBE (the --probe-window after the member) are the pod's and the window's time; everything
// else is the command's: connecting and reading the admin Secret, the lease, the journal read and
// writes, pre-flight and plan, PRECHECK (a peering read), SWITCH-PRIMARY (switch and read back),
// REJOIN (peering reads after Ready), VERIFY, the exports after, the lease release. The probe's
// baseline (--probe-baseline, before the first change) is left out: it is a fixed wait the user
// asked for, like the window.
//
// It reports own-s/member (median) and logs min/median/max and where the own time goes:
// the phases PRECHECK, SWITCH-PRIMARY, REJOIN, VERIFY summed over members, "gaps" (between a
// member's phases: journal writes, a GatewayCluster and pod re-read per member), "start" (command
// start until the first phase, less the baseline) and "end" (after the last phase). ROLLOUT_BENCH_ARGS
// adds flags to every run (e.g. "--poll-interval 500ms" to compare with another interval);
// ROLLOUT_BENCH_RTT=100ms puts the lab's latency fault (a round-trip time between the workstation
// and dc1's kube-apiserver, as over a VPN) on for the whole benchmark. README.md beside this file
// holds a run's figures.
package rollout

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	"github.com/kubectl-apic/kubectl-apic/internal/testenv"
	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	prollout "github.com/kubectl-apic/kubectl-apic/pkg/rollout"
	"github.com/kubectl-apic/kubectl-apic/plugins/rollout"
)

var sizes = []int{3, 9}

// The probe's windows: short, so that a 9-member run stays near a minute; they are subtracted.
const (
	probeWindow   = time.Second
	probeBaseline = time.Second
)

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
	dir, _ := os.MkdirTemp("", "apic-rollout-bench-")
	var gws []lab.GatewaySpec
	for _, n := range sizes {
		gws = append(gws, lab.GatewaySpec{Name: gatewayName(n), Replicas: n})
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

func gatewayName(n int) string { return fmt.Sprintf("gw-%d", n) }

// sample is one run's split of the wall time.
type sample struct {
	wall, podAndWindow time.Duration
	members            int
	// exchanges with dc1's kube-apiserver (request→response flights, watch events included) when
	// ROLLOUT_BENCH_RTT is set.
	exchanges int64
	// parts of the own time: phase name (PRECHECK, ...), "gaps", "start", "end".
	parts map[string]time.Duration
}

func (s sample) ownPerMember() time.Duration {
	return (s.wall - probeBaseline - s.podAndWindow) / time.Duration(s.members)
}

// runRestart runs one `rollout restart` of gateway in-process and splits its time.
func runRestart(b *testing.B, gateway, endpoint string) sample {
	var out, errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	cmd := rollout.NewCommandWithOptions("kubectl apic rollout", rollout.NewOptions(streams))
	args := []string{"restart", gateway, "--kubeconfig", theLab.Kubeconfig(), "--context", "dc1", "-n", "apic",
		"--yes", "-o", "json", "--progress=plain", "--log-dir", b.TempDir(),
		"--probe", endpoint, "--probe-window", probeWindow.String(), "--probe-baseline", probeBaseline.String()}
	args = append(args, strings.Fields(os.Getenv("ROLLOUT_BENCH_ARGS"))...)
	cmd.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	before, _ := theLab.LatencyStats("dc1")
	start := time.Now()
	code := cli.Execute(ctx, cmd, streams)
	wall := time.Since(start)
	after, _ := theLab.LatencyStats("dc1")
	if code != 0 {
		b.Fatalf("rollout restart %s: exit %d\n%s\n%s", gateway, code, out.String(), errOut.String())
	}
	var rep prollout.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		b.Fatalf("%v\n%s", err, out.String())
	}
	s := split(b, start, wall, &rep)
	s.exchanges = after.Exchanges - before.Exchanges
	return s
}

func split(b *testing.B, start time.Time, wall time.Duration, rep *prollout.Report) sample {
	s := sample{wall: wall, members: len(rep.Members), parts: map[string]time.Duration{}}
	secs := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	var first, last time.Time
	var inPhases time.Duration
	for _, m := range rep.Members {
		for _, p := range m.Phases {
			if p.Status != prollout.Passed && p.Status != prollout.Skipped && p.Status != prollout.Unverified {
				b.Fatalf("%s %s: %s %s", m.Pod, p.Phase, p.Status, p.Message)
			}
			d := secs(p.DurationSeconds)
			inPhases += d
			switch p.Phase {
			case prollout.PhaseRestart, prollout.PhaseReady, prollout.PhaseProbe:
				s.podAndWindow += d
			default:
				s.parts[p.Phase] += d
			}
			if p.StartedAt.IsZero() {
				continue
			}
			if first.IsZero() || p.StartedAt.Before(first) {
				first = p.StartedAt
			}
			if end := p.StartedAt.Add(d); end.After(last) {
				last = end
			}
		}
	}
	s.parts["start"] = first.Sub(start) - probeBaseline
	s.parts["end"] = start.Add(wall).Sub(last)
	s.parts["gaps"] = last.Sub(first) - inPhases
	return s
}

func BenchmarkRolloutRestart(b *testing.B) {
	if labErr != nil {
		b.Fatalf("lab failed to start: %v", labErr)
	}
	if theLab == nil {
		b.Skip("needs the lab simulator (not started with -short)")
	}
	endpoint, err := theLab.GatewayEndpoint("dc1")
	if err != nil {
		b.Fatal(err)
	}
	if v := os.Getenv("ROLLOUT_BENCH_RTT"); v != "" {
		rtt, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("ROLLOUT_BENCH_RTT: %v", err)
		}
		if err := theLab.SetLatency("dc1", rtt); err != nil {
			b.Fatal(err)
		}
		defer func() { _ = theLab.ClearLatency("dc1") }()
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			var samples []sample
			for b.Loop() {
				samples = append(samples, runRestart(b, gatewayName(n), endpoint))
			}
			own := make([]time.Duration, len(samples))
			for i, s := range samples {
				own[i] = s.ownPerMember()
			}
			b.ReportMetric(median(own).Seconds(), "own-s/member")
			b.ReportMetric(slices.Max(own).Seconds(), "own-max-s/member")
			b.Logf("%d members, %d runs: own time per member min %s median %s max %s",
				n, len(own), round(slices.Min(own)), round(median(own)), round(slices.Max(own)))
			for i, s := range samples {
				b.Logf("  run %d: wall %s, restart+ready+probe %s, own %s/member; own per member by part: %s%s",
					i+1, round(s.wall), round(s.podAndWindow), round(s.ownPerMember()), breakdown(s), exchanges(s))
			}
		})
	}
}

// breakdown lists the own time's parts per member, largest first.
func breakdown(s sample) string {
	type part struct {
		name string
		d    time.Duration
	}
	var ps []part
	for k, d := range s.parts {
		ps = append(ps, part{k, d / time.Duration(s.members)})
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].d > ps[j].d })
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprintf("%s %s", p.name, round(p.d)))
	}
	return strings.Join(out, ", ")
}

func exchanges(s sample) string {
	if s.exchanges == 0 {
		return ""
	}
	return fmt.Sprintf("; %.0f apiserver exchanges/member", float64(s.exchanges)/float64(s.members))
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func round(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
