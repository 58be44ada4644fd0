package drr

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubectl-apic/kubectl-apic/pkg/datapower"
	pdrr "github.com/kubectl-apic/kubectl-apic/pkg/drr"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/kube"
	"github.com/kubectl-apic/kubectl-apic/pkg/probe"
)

func probeFlags(l interface{ RouterURL() string }, extra ...string) []string {
	return append([]string{"--probe", l.RouterURL(), "--probe-rate", "50", "--probe-baseline", "1s"}, extra...)
}

// DRR restarts no pod: with --probe on the global router (both sites' gateway endpoints) not one
// API call fails, and the summary counts them per member and step.
func TestLabDRRWithProbeLosesNoRequest(t *testing.T) {
	l := requireLab(t)
	waitReady(t, l)
	dir := t.TempDir()
	args := append(append([]string{gw3, "--yes", "-o", "json", "--max-concurrency", "1", "--transcript", dir, "--max-error-rate", "0"}, fastFlags...),
		probeFlags(l, "--probe-rate", "200")...)
	res := runCmd(t, l, nil, args...)
	if res.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.out, res.errOut)
	}
	rep := decode(t, res.out)
	p := rep.Probe
	if p == nil || p.Requests == 0 {
		t.Fatalf("no probe summary in the report: %+v", p)
	}
	if p.Failed != 0 {
		t.Errorf("DRR cost %d of %d API calls: %+v", p.Failed, p.Requests, p.Rows)
	}
	// The lab's DRR takes about a second, most of it the registration wait: a step of a few
	// milliseconds may get no request, so the test asks for the long phases and valid tags only.
	steps := map[string]bool{probe.PhaseBaseline: true}
	for _, st := range pdrr.Steps() {
		steps[st] = true
	}
	seen := map[string]bool{}
	for _, r := range p.Rows {
		seen[r.Phase] = true
		if !steps[r.Phase] {
			t.Errorf("probe row tagged with phase %q, not a DRR step", r.Phase)
		}
	}
	for _, want := range []string{probe.PhaseBaseline, pdrr.StepPreflight, pdrr.StepRegistration} {
		if !seen[want] {
			t.Errorf("no probe row for phase %s (rows %v)", want, seen)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, probe.SamplesFile)); err != nil || strings.Count(string(b), "\n") < p.Requests {
		t.Errorf("samples file: %d lines, %v; want at least %d", strings.Count(string(b), "\n"), err, p.Requests)
	}
	t.Logf("probe: %d requests, 0 failed, %d rows", p.Requests, len(p.Rows))
}

// faultConn injects fault once, when the first member is told to disable apic-gw-service, and
// holds that command back for hold: the fault comes mid-run, with the probe given time to see it.
type faultConn struct {
	*datapower.AttachConn
	once  *sync.Once
	fault func()
	hold  time.Duration
}

func (c *faultConn) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("admin-state disabled")) {
		c.once.Do(func() {
			c.fault()
			time.Sleep(c.hold)
		})
	}
	return c.AttachConn.Write(p)
}

// A member answering 5xx mid-run is counted and, with --max-error-rate, stops the DRR before the
// next member (exit 8); a second run finishes the DRR.
func TestLabDRRProbeStopsOn5xxMember(t *testing.T) {
	l := requireLab(t)
	waitReady(t, l)
	const faulty = "production-gw-2"
	defer func() { _ = l.SetMemberFault("dc1", faulty, 0, 0) }()
	var once sync.Once
	args := append(append([]string{gw3, "--yes", "-o", "json", "--max-concurrency", "1", "--max-error-rate", "0.5"}, fastFlags...),
		probeFlags(l, "--probe-rate", "200")...)
	res := runCmd(t, l, func(o *Options) {
		o.Attach = func(ctx context.Context, site *kube.Site, tg datapower.AttachTarget) (datapower.Conn, error) {
			c, err := datapower.Attach(ctx, site.Config, site.Kube, tg)
			if err != nil {
				return c, err
			}
			return &faultConn{AttachConn: c, once: &once, hold: 500 * time.Millisecond, fault: func() {
				if err := l.SetMemberFault("dc1", faulty, 503, 0); err != nil {
					t.Error(err)
				}
			}}, nil
		}
	}, args...)
	if res.code != exitcode.ProbeBreached {
		t.Fatalf("exit %d, want %d (ProbeBreached)\n%s", res.code, exitcode.ProbeBreached, res.errOut)
	}
	rep := decode(t, res.out)
	if rep.Probe == nil || rep.Probe.Failed == 0 || rep.Probe.Breach == "" {
		t.Fatalf("the 5xx answers are not counted: %+v", rep.Probe)
	}
	cycled, skipped := 0, 0
	for _, r := range rep.Results {
		if r.Step == pdrr.StepCycle {
			switch r.Status {
			case pdrr.Passed:
				cycled++
			case pdrr.Skipped:
				skipped++
			}
		}
	}
	if cycled != 1 || skipped != 2 {
		t.Errorf("cycle-gw-service: %d PASSED, %d SKIPPED; want the run stopped after the first member", cycled, skipped)
	}
	t.Logf("stopped: %s (%d of %d failed)", rep.Probe.Breach, rep.Probe.Failed, rep.Probe.Requests)
	_ = l.SetMemberFault("dc1", faulty, 0, 0)
	if again := runCmd(t, l, nil, append([]string{gw3, "--yes"}, fastFlags...)...); again.code != 0 {
		t.Fatalf("the DRR left mid-run did not finish: exit %d\n%s", again.code, again.errOut)
	}
}
