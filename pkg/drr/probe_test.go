package drr

import (
	"errors"
	"sync"
	"testing"

	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
)

// fakeProbe breaches once it has seen breachAt member steps.
type fakeProbe struct {
	mu       sync.Mutex
	phases   []string
	breachAt int
}

func (p *fakeProbe) Phase(member, step string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.phases = append(p.phases, member+"/"+step)
}

func (p *fakeProbe) Breached() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, ph := range p.phases {
		if ph[0] != '/' { // a member's step
			n++
		}
	}
	if p.breachAt > 0 && n >= p.breachAt {
		return exitcode.New(exitcode.ProbeBreached, errors.New("probe: gate breached"))
	}
	return nil
}

// The probe sees every member and step; a breach stops the run before the next member (exit 8),
// the member not started recorded SKIPPED, never mid-step.
func TestProbeTagsPhasesAndStopsAtSafePoint(t *testing.T) {
	f := newFixture(t, 3)
	p := &fakeProbe{}
	if _, err := run(t, f.config(func(c *Config) { c.Probe = p })); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/" + StepFlush, "gw-0/" + StepFlush, "gw-2/" + StepCycle, "/" + StepRegistration, "gw-1/" + StepHealth} {
		found := false
		for _, ph := range p.phases {
			found = found || ph == want
		}
		if !found {
			t.Errorf("probe never told %q (got %v)", want, p.phases)
		}
	}

	f = newFixture(t, 3)
	// Flush (1 member step), then cycle one member at a time: the breach comes after gw-0's cycle.
	p = &fakeProbe{breachAt: 2}
	rep, err := run(t, f.config(func(c *Config) { c.Probe, c.MaxConcurrency = p, 1 }))
	if exitcode.FromError(err) != exitcode.ProbeBreached || rep.ExitCode != int(exitcode.ProbeBreached) {
		t.Fatalf("err %v exit %d, want exit 8", err, rep.ExitCode)
	}
	passed, skipped := 0, 0
	for _, m := range []string{"gw-0", "gw-1", "gw-2"} {
		switch statusOf(t, rep, m, StepCycle) {
		case Passed:
			passed++
		case Skipped:
			skipped++
		}
	}
	if passed != 1 || skipped != 2 {
		t.Errorf("cycle: %d PASSED, %d SKIPPED; want the member started before the breach to pass and the 2 after it skipped", passed, skipped)
	}
}
