package drr

import (
	"context"
	"encoding/json"

	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubectl-apic/kubectl-apic/pkg/datapower"
	"github.com/kubectl-apic/kubectl-apic/pkg/datapower/datapowertest"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
)

// The fake is pkg/datapower/datapowertest: consoles printing the fixtures' real shapes, in memory,
// no control plane.

const password = "s3cret-Pa55"

type fixture struct {
	g       *datapowertest.Group
	members []Member
	creds   datapower.Credentials
	domain  string
	mu      sync.Mutex
	opened  map[string]int
}

func newFixture(t *testing.T, n int) *fixture {
	t.Helper()
	f := &fixture{creds: datapower.Credentials{Username: "admin", Password: password}, domain: "apiconnect", opened: map[string]int{}}
	var pods [][2]string
	for i := range n {
		m := Member{Pod: fmt.Sprintf("gw-%d", i), IP: fmt.Sprintf("10.0.0.%d", i+1), Node: "node", Ready: true}
		pods = append(pods, [2]string{m.Pod, m.IP})
		f.members = append(f.members, m)
	}
	f.g = datapowertest.NewGroup("admin", password, pods...)
	return f
}

func (f *fixture) open(ctx context.Context, m Member) (*datapower.Session, error) {
	f.mu.Lock()
	f.opened[m.Pod]++
	f.mu.Unlock()
	o := datapower.Opener{Attach: f.g.Attach, Credentials: f.creds, Domain: f.domain,
		Options: datapower.Options{CommandTimeout: 2 * time.Second, LoginFailureMessage: "check Secret apic/gw-admin"}}
	return o.Open(ctx, datapower.AttachTarget{Namespace: "apic", Pod: m.Pod})
}

// registered is a RegistrationCheck that confirms once the peering was flushed (what API Manager
// would see after the DRR; pkg/apimanager's fake is tested on its own).
func (f *fixture) registered(ctx context.Context) (bool, string, error) {
	if f.g.Flushed("gwd") {
		return true, "service up to date", nil
	}
	return false, "not flushed", nil
}

func (f *fixture) config(mod func(*Config)) Config {
	c := Config{Gateway: "gw", Namespace: "apic", Domain: "apiconnect", Members: f.members, Open: f.open,
		Registration: f.registered, PollInterval: 10 * time.Millisecond, RegistrationTimeout: 3 * time.Second, LogTimeout: time.Second}
	if mod != nil {
		mod(&c)
	}
	return c
}

// run is Preflight, Plan, Execute, Close.
func run(t *testing.T, cfg Config) (*Report, error) {
	t.Helper()
	r := New(cfg)
	defer r.Close()
	if err := r.Preflight(context.Background()); err != nil {
		return r.Report(), err
	}
	p, err := r.Plan()
	if err != nil {
		return r.Report(), err
	}
	return r.Report(), r.Execute(context.Background(), p)
}

func statusOf(t *testing.T, rep *Report, member, step string) string {
	t.Helper()
	s, ok := rep.Result(member, step)
	if !ok {
		return "<none>"
	}
	return s.Status
}

func TestDRRSucceeds(t *testing.T) {
	for _, tt := range []struct {
		name          string
		members       int
		primary       string
		wantSwitch    bool
		concurrency   int
		wantPrimaryAt string
	}{
		{name: "3 members, current primary", members: 3, wantPrimaryAt: "gw-0"},
		{name: "3 members, chosen member", members: 3, primary: "gw-2", wantSwitch: true, wantPrimaryAt: "gw-2"},
		{name: "5 members, concurrency 2", members: 5, concurrency: 2, wantPrimaryAt: "gw-0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.members)
			rep, err := run(t, f.config(func(c *Config) { c.Primary, c.MaxConcurrency = tt.primary, tt.concurrency }))
			if err != nil {
				t.Fatalf("DRR: %v\n%+v", err, rep.Results)
			}
			if rep.Outcome != OutcomeSucceeded || rep.ExitCode != 0 || rep.Peering != "gwd" {
				t.Errorf("outcome %q exit %d peering %q", rep.Outcome, rep.ExitCode, rep.Peering)
			}
			if !f.g.Flushed("gwd") {
				t.Error("gateway peering gwd was not flushed")
			}
			for _, m := range f.members {
				if f.g.AdminState(m.Pod) != "enabled" {
					t.Errorf("%s left with apic-gw-service %s", m.Pod, f.g.AdminState(m.Pod))
				}
			}
			if got := f.g.Primary("gwd"); got != tt.wantPrimaryAt {
				t.Errorf("primary %s, want %s", got, tt.wantPrimaryAt)
			}
			want := Skipped
			if tt.wantSwitch {
				want = Passed
			}
			if got := statusOf(t, rep, tt.wantPrimaryAt, StepPrimary); got != want {
				t.Errorf("switch-primary %s, want %s", got, want)
			}
			for _, m := range f.members {
				for _, st := range []string{StepPreflight, StepCycle, StepWaitingLog, StepRegistration, StepHealth} {
					if got := statusOf(t, rep, m.Pod, st); got != Passed {
						t.Errorf("%s %s: %s", m.Pod, st, got)
					}
				}
				// One session per member for the whole run.
				if f.opened[m.Pod] != 1 {
					t.Errorf("%s opened %d times", m.Pod, f.opened[m.Pod])
				}
			}
			if got := statusOf(t, rep, tt.wantPrimaryAt, StepFlush); got != Passed {
				t.Errorf("flush %s", got)
			}
		})
	}
}

func TestPreflightRefuses(t *testing.T) {
	for _, tt := range []struct {
		name    string
		setup   func(f *fixture)
		force   bool
		code    exitcode.Code
		message string
	}{
		{name: "lost quorum", setup: func(f *fixture) { f.g.SetUp("gw-1", false); f.g.SetUp("gw-2", false) },
			code: exitcode.Refused, message: "no quorum"},
		{name: "member not ready", setup: func(f *fixture) { f.members[1].Ready, f.members[1].NotReadyReason = false, "node down" },
			code: exitcode.Refused, message: "member gw-1 is not Ready (node down)"},
		{name: "wrong password", setup: func(f *fixture) { f.creds.Password = "wrong" },
			code: exitcode.Refused, message: "check Secret apic/gw-admin"},
		{name: "wrong password is not forceable", setup: func(f *fixture) { f.creds.Password = "wrong" }, force: true,
			code: exitcode.Refused, message: "login failed"},
		{name: "wrong domain", setup: func(f *fixture) {}, code: exitcode.Refused, message: "does not exist"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, 3)
			tt.setup(f)
			cfg := f.config(func(c *Config) { c.Force = tt.force })
			if tt.name == "wrong domain" {
				cfg.Domain, f.domain = "nosuch", "nosuch"
			}
			opens := 0
			var mu sync.Mutex
			open := cfg.Open
			cfg.Open = func(ctx context.Context, m Member) (*datapower.Session, error) {
				mu.Lock()
				opens++
				mu.Unlock()
				return open(ctx, m)
			}
			rep, err := run(t, cfg)
			if err == nil {
				t.Fatal("want refusal")
			}
			if strings.HasPrefix(tt.name, "wrong password") && opens != 1 {
				t.Errorf("a rejected login was tried on %d members, want 1 (failed logins count against the account)", opens)
			}
			if got := exitcode.FromError(err); got != tt.code {
				t.Errorf("exit %s, want %s (%v)", got, tt.code, err)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error %q lacks %q", err, tt.message)
			}
			if strings.Contains(err.Error(), password) {
				t.Error("password in error")
			}
			if f.g.Flushed("gwd") {
				t.Error("pre-flight changed the gateway")
			}
			if rep.Outcome != OutcomeRefused {
				t.Errorf("outcome %q", rep.Outcome)
			}
		})
	}
}

func TestForceProceedsWithoutReadyMember(t *testing.T) {
	f := newFixture(t, 3)
	f.members[2].Ready = false
	rep, err := run(t, f.config(func(c *Config) { c.Force = true }))
	if err != nil {
		t.Fatalf("%v", err)
	}
	if statusOf(t, rep, "gw-2", StepPreflight) != Failed || statusOf(t, rep, "gw-2", StepCycle) != Passed {
		t.Errorf("%+v", rep.Results)
	}
}

func TestStepFailuresStopWithPhaseCode(t *testing.T) {
	for _, tt := range []struct {
		name, pod, prefix, step string
		primary                 string
		code                    exitcode.Code
	}{
		{name: "switch-primary", pod: "gw-1", prefix: "gateway-peering-switch-primary", step: StepPrimary, primary: "gw-1", code: exitcode.DRRPrimaryFailed},
		{name: "flush", pod: "gw-0", prefix: "gateway-peering-flush", step: StepFlush, code: exitcode.DRRFlushFailed},
		{name: "cycle", pod: "gw-2", prefix: "admin-state disabled", step: StepCycle, code: exitcode.DRRServiceCycleFailed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, 3)
			f.g.Fail(tt.pod, tt.prefix, "Simulated failure")
			rep, err := run(t, f.config(func(c *Config) { c.Primary = tt.primary }))
			if got := exitcode.FromError(err); got != tt.code {
				t.Fatalf("exit %s, want %s (%v)", got, tt.code, err)
			}
			for _, want := range []string{"member " + tt.pod, "step " + tt.step, "Simulated failure"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if statusOf(t, rep, tt.pod, tt.step) != Failed || rep.FailedStep != tt.step {
				t.Errorf("%s %s: %s; failed step %q", tt.pod, tt.step, statusOf(t, rep, tt.pod, tt.step), rep.FailedStep)
			}
			if got := statusOf(t, rep, "gw-0", StepRegistration); got != Skipped {
				t.Errorf("registration after a failure: %s", got)
			}
			// A re-run after the fault is cleared completes.
			f.g.Fail(tt.pod, tt.prefix, "")
			if rep, err := run(t, f.config(func(c *Config) { c.Primary = tt.primary })); err != nil || rep.Outcome != OutcomeSucceeded {
				t.Fatalf("re-run: %v", err)
			}
		})
	}
}

func TestRegistrationTimeout(t *testing.T) {
	f := newFixture(t, 3)
	confirmed := false
	check := func(ctx context.Context) (bool, string, error) { return confirmed, "1 outstanding event", nil }
	rep, err := run(t, f.config(func(c *Config) { c.RegistrationTimeout, c.Registration = 200*time.Millisecond, check }))
	if got := exitcode.FromError(err); got != exitcode.DRRRegistrationFailed {
		t.Fatalf("exit %s (%v)", got, err)
	}
	if !strings.Contains(err.Error(), "not re-registered within") || statusOf(t, rep, "gw-1", StepHealth) != Skipped {
		t.Errorf("%v %+v", err, rep.Results)
	}
	// The management side then confirms: a re-run completes (idempotent).
	confirmed = true
	if _, err := run(t, f.config(func(c *Config) { c.Registration = check })); err != nil {
		t.Fatal(err)
	}
}

// Without a registration check nothing shows that the gateway re-registered: the step is
// UNVERIFIED with the reason and the command to check by hand, never PASSED.
func TestRegistrationUnverifiedWithoutCheck(t *testing.T) {
	f := newFixture(t, 3)
	rep, err := run(t, f.config(func(c *Config) { c.Registration = nil }))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range f.members {
		s, _ := rep.Result(m.Pod, StepRegistration)
		if s.Status != Unverified {
			t.Errorf("%s registration %s, want UNVERIFIED", m.Pod, s.Status)
		}
		for _, want := range []string{"no registration check", "configured-gateway-services?fields=add(gateway_processing_status,events)",
			"service_up_to_date", "logtemp:///gwd-log.log"} {
			if !strings.Contains(s.Message, want) {
				t.Errorf("%s message %q lacks %q", m.Pod, s.Message, want)
			}
		}
	}
}

func TestTriggerForcesRegistration(t *testing.T) {
	f := newFixture(t, 3)
	called := 0
	rep, err := run(t, f.config(func(c *Config) {
		c.Trigger = func(ctx context.Context) (string, error) { called++; return "webhook sent", nil }
		c.Registration = func(ctx context.Context) (bool, string, error) { return called > 0, "up to date", nil }
	}))
	if err != nil || called != 1 {
		t.Fatalf("err %v, trigger called %d times", err, called)
	}
	if s, _ := rep.Result("gw-0", StepRegistration); !strings.Contains(s.Message, "webhook sent") || s.Status != Passed {
		t.Errorf("%s %q", s.Status, s.Message)
	}
}

func TestStatus(t *testing.T) {
	f := newFixture(t, 3)
	f.g.SetUp("gw-2", false)
	st, err := Status(context.Background(), f.config(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Rows) != 3*5 || len(st.Quorum) != 5 || !st.Healthy() {
		t.Fatalf("rows %d quorum %d healthy %v: %+v", len(st.Rows), len(st.Quorum), st.Healthy(), st)
	}
	for _, r := range st.Rows {
		if (r.LinkStatus == "down") != (r.Member == "gw-2") {
			t.Errorf("row %+v", r)
		}
	}
	f.g.SetUp("gw-1", false)
	if st, err = Status(context.Background(), f.config(nil)); err != nil || st.Healthy() {
		t.Fatalf("want lost quorum: %v %+v", err, st.Quorum)
	}
}

func TestNewLines(t *testing.T) {
	base := []string{"a", "b"}
	for _, tt := range []struct {
		lines, want []string
	}{
		{[]string{"a", "b", "c"}, []string{"c"}},
		{[]string{"x", "y"}, []string{"x", "y"}},
		{[]string{"a"}, nil},                                   // rotated: nothing written since
		{[]string{"a", "log", "b", "c"}, []string{"log", "c"}}, // a console line inside the output
		{[]string{"c", "a", "b"}, []string{"c"}},               // never the older lines again
		{[]string{"a", "b", "b"}, []string{"b"}},               // a repeated line is a new one
	} {
		if got := newLines(base, tt.lines); strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("newLines(%v) = %v, want %v", tt.lines, got, tt.want)
		}
	}
}

func TestAPIManagerTrigger(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	summary := "Sandbox"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		calls = append(calls, r.Method+" "+r.URL.Path)
		if r.Method == http.MethodPatch {
			var body map[string]string
			_ = json.NewDecoder(r.Body).Decode(&body)
			summary = body["summary"]
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"summary": summary})
	}))
	defer srv.Close()
	a := &APIManager{URL: srv.URL, Token: "tok", Org: "org", Catalog: "sandbox"}
	if _, err := a.Trigger(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(calls, ","); got != "GET /api/catalogs/org/sandbox,PATCH /api/catalogs/org/sandbox,PATCH /api/catalogs/org/sandbox" || summary != "Sandbox" {
		t.Errorf("calls %s, summary %q", got, summary)
	}
	a.Token = "bad"
	if _, err := a.Trigger(context.Background()); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("want 401, got %v", err)
	}
}

// switch-primary and flush print nothing any public sample shows: their effect is read back. A
// primary that did not move fails switch-primary; a flush that asked nothing fails the flush.
func TestUnsampledCommandsAreVerified(t *testing.T) {
	for _, tt := range []struct {
		name    string
		setup   func(*datapowertest.Group)
		step    string
		code    exitcode.Code
		message string
	}{
		{name: "primary did not move", setup: func(g *datapowertest.Group) { g.StickyPrimary = true }, step: StepPrimary,
			code: exitcode.DRRPrimaryFailed, message: `the primary is "10.0.0.1", not 10.0.0.3`},
		{name: "flush asked nothing", setup: func(g *datapowertest.Group) { g.FlushQuestion = "" }, step: StepFlush,
			code: exitcode.DRRFlushFailed, message: "asked no confirmation"},
		{name: "another question text", setup: func(g *datapowertest.Group) { g.FlushQuestion = "Really drop %s everywhere? [y/n]: " },
			step: StepFlush, code: exitcode.OK, message: `asked "Really drop gwd everywhere? [y/n]:", answered y`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, 3)
			tt.setup(f.g)
			rep, err := run(t, f.config(func(c *Config) { c.Primary = "gw-2" }))
			if got := exitcode.FromError(err); got != tt.code {
				t.Fatalf("exit %s, want %s (%v)", got, tt.code, err)
			}
			s, _ := rep.Result("gw-2", tt.step)
			if !strings.Contains(s.Message, tt.message) {
				t.Errorf("%s: %s %q lacks %q", tt.step, s.Status, s.Message, tt.message)
			}
		})
	}
}
