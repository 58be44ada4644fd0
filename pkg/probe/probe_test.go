package probe

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/kubectl-apic/kubectl-apic/internal/goldenfile"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/printers"
)

// flags parses args with the shared flag set, as a command would.
func flags(t *testing.T, args ...string) Options {
	t.Helper()
	var o Options
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	AddFlags(fs, &o)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return o
}

func TestValidateUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string // "" = valid
	}{
		{nil, ""},
		{[]string{"--probe", "http://127.0.0.1:1/"}, ""},
		{[]string{"--probe", "127.0.0.1:8080"}, "not an http:// or https:// URL"},
		{[]string{"--probe", "ftp://x/"}, "not an http:// or https:// URL"},
		{[]string{"--probe", "http://"}, "not an http:// or https:// URL"},
		{[]string{"--probe", "http://x/", "--probe-rate", "0"}, "--probe-rate 0"},
		{[]string{"--probe", "http://x/", "--probe-rate", "-3"}, "--probe-rate -3"},
		{[]string{"--probe", "http://x/", "--probe-rate", "NaN"}, "--probe-rate NaN"},
		{[]string{"--probe", "http://x/", "--probe-rate", "100000"}, "--probe-rate 100000"},
		{[]string{"--probe", "http://x/", "--probe-expect-status", "42"}, "not an HTTP status"},
		{[]string{"--probe", "http://x/", "--max-error-rate", "150"}, "at most 100"},
		{[]string{"--probe", "http://x/", "--probe-header", "X-API-Key=s3cret"}, `want "Name: value"`},
		{[]string{"--probe", "http://x/", "--probe-timeout", "0s"}, "must be positive"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			o := flags(t, tt.args...)
			err := o.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
			if exitcode.FromError(err) != exitcode.Usage {
				t.Errorf("exit %d, want %d (usage)", exitcode.FromError(err), exitcode.Usage)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("a header value leaked into the error: %v", err)
			}
		})
	}
}

// server answers status (atomically switchable) and counts new connections.
type server struct {
	*httptest.Server
	status atomic.Int32
	conns  atomic.Int32
	hits   atomic.Int32
}

func newServer(t *testing.T) *server {
	s := &server{}
	s.status.Store(200)
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		w.WriteHeader(int(s.status.Load()))
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func quick(t *testing.T, url string, extra ...string) Options {
	return flags(t, append([]string{"--probe", url, "--probe-rate", "100", "--probe-baseline", "200ms", "--probe-timeout", "500ms"}, extra...)...)
}

func TestBaselineFailureRefuses(t *testing.T) {
	s := newServer(t)
	s.status.Store(503)
	var log bytes.Buffer
	_, err := Start(context.Background(), quick(t, s.URL), Config{Log: &log})
	if exitcode.FromError(err) != exitcode.Refused {
		t.Fatalf("Start = %v (exit %d), want exit 5", err, exitcode.FromError(err))
	}
	if !strings.Contains(err.Error(), "HTTP 503") || !strings.Contains(err.Error(), "before any change") {
		t.Errorf("the refusal does not show what the probe got: %v", err)
	}
	// Accepted explicitly: the command may go on.
	p, err := Start(context.Background(), quick(t, s.URL, "--probe-accept-baseline-errors"), Config{Log: &log})
	if err != nil {
		t.Fatalf("with --probe-accept-baseline-errors: %v", err)
	}
	p.Stop()
}

func TestBaselineRefusesUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/"
	ln.Close()
	_, err = Start(context.Background(), quick(t, url), Config{})
	if exitcode.FromError(err) != exitcode.Refused || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Start = %v, want exit 5 showing connection refused", err)
	}
}

// Samples are counted per member and phase; a 5xx phase breaches --max-error-rate (exit 8) and the
// summary shows where the failures were.
func TestPhasesCountsAndErrorRateGate(t *testing.T) {
	s := newServer(t)
	dir := t.TempDir()
	p, err := Start(context.Background(), quick(t, s.URL, "--max-error-rate", "5"), Config{SamplesDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	p.Phase("gw-0", "flush")
	time.Sleep(150 * time.Millisecond)
	if err := p.Breached(); err != nil {
		t.Fatalf("breached with no failure: %v", err)
	}
	p.Phase("gw-1", "flush")
	time.Sleep(50 * time.Millisecond) // gw-0's requests in flight are answered first
	s.status.Store(500)
	time.Sleep(150 * time.Millisecond)
	err = p.Breached()
	if exitcode.FromError(err) != exitcode.ProbeBreached || !strings.Contains(err.Error(), "--max-error-rate 5%") {
		t.Fatalf("Breached = %v, want exit 8 naming the gate", err)
	}
	sum := p.Stop()
	rows := map[string]Row{}
	for _, r := range sum.Rows {
		rows[r.Member+"/"+r.Phase] = r
	}
	if r := rows["-/baseline"]; r.Requests < 10 || r.Failed != 0 {
		t.Errorf("baseline row %+v", r)
	}
	if r := rows["gw-0/flush"]; r.Requests < 5 || r.Failed != 0 {
		t.Errorf("gw-0 row %+v", r)
	}
	if r := rows["gw-1/flush"]; r.Failed < 5 || r.Errors["HTTP 500"] != r.Failed {
		t.Errorf("gw-1 row %+v", r)
	}
	if sum.Breach == "" || exitcode.FromError(sum.Result()) != exitcode.ProbeBreached {
		t.Errorf("summary does not carry the breach: %+v", sum)
	}
	// Every request is in the samples file, tagged.
	f, err := os.Open(filepath.Join(dir, SamplesFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, tagged := 0, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var smp Sample
		if err := json.Unmarshal(sc.Bytes(), &smp); err != nil {
			t.Fatal(err)
		}
		n++
		if smp.Member == "gw-1" && !smp.OK {
			tagged++
		}
	}
	total := 0
	for _, r := range sum.Rows {
		total += r.Requests
	}
	if n != total || tagged != rows["gw-1/flush"].Failed {
		t.Errorf("samples file: %d lines (%d gw-1 failures), summary %d requests (%d)", n, tagged, total, rows["gw-1/flush"].Failed)
	}
}

func TestMaxGapGate(t *testing.T) {
	s := newServer(t)
	p, err := Start(context.Background(), quick(t, s.URL, "--max-gap", "300ms"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	p.Phase("gw-0", "cycle")
	s.Close() // nothing answers any more
	deadline := time.Now().Add(3 * time.Second)
	for p.Breached() == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := p.Breached(); exitcode.FromError(err) != exitcode.ProbeBreached || !strings.Contains(err.Error(), "--max-gap") {
		t.Fatalf("Breached = %v, want the gap gate", err)
	}
	if sum := p.Stop(); sum.Failed == 0 {
		t.Error("no failure counted after the server closed")
	}
}

// New connections by default (keep-alive hides pods leaving the endpoints); --probe-keepalive reuses.
func TestConnectionMode(t *testing.T) {
	for _, keep := range []bool{false, true} {
		s := newServer(t)
		extra := []string{}
		if keep {
			extra = append(extra, "--probe-keepalive")
		}
		p, err := Start(context.Background(), quick(t, s.URL, extra...), Config{})
		if err != nil {
			t.Fatal(err)
		}
		p.Stop()
		hits, conns := s.hits.Load(), s.conns.Load()
		if !keep && conns < hits {
			t.Errorf("default: %d connections for %d requests, want one each", conns, hits)
		}
		if keep && conns*2 > hits {
			t.Errorf("--probe-keepalive: %d connections for %d requests", conns, hits)
		}
	}
}

func TestHeadersAndHost(t *testing.T) {
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Host + "|" + r.Header.Get("X-IBM-Client-Id"))
	}))
	defer srv.Close()
	p, err := Start(context.Background(), quick(t, srv.URL, "--probe-header", "X-IBM-Client-Id: abc", "--probe-header", "Host: api.example.com"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	p.Stop()
	if g, _ := got.Load().(string); g != "api.example.com|abc" {
		t.Errorf("server saw %q", g)
	}
}

func TestProbeCmd(t *testing.T) {
	tests := []struct {
		cmd  string
		want exitcode.Code
	}{
		{"exit 0", exitcode.OK},
		{"sleep 0.3; exit 99", exitcode.ProbeBreached},
		{"sleep 0.3; exit 3", exitcode.Error},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			o := flags(t, "--probe-cmd", tt.cmd, "--probe-baseline", "100ms")
			p, err := Start(context.Background(), o, Config{})
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(500 * time.Millisecond)
			if got := exitcode.FromError(p.Breached()); got != tt.want {
				t.Errorf("Breached: exit %d, want %d", got, tt.want)
			}
			if got := exitcode.FromError(p.Stop().Result()); got != tt.want {
				t.Errorf("Result: exit %d, want %d", got, tt.want)
			}
		})
	}
	// A checker failing during the baseline refuses the command.
	o := flags(t, "--probe-cmd", "exit 99", "--probe-baseline", "200ms")
	if _, err := Start(context.Background(), o, Config{}); exitcode.FromError(err) != exitcode.Refused {
		t.Errorf("checker failing in the baseline: %v, want exit 5", err)
	}
}

func TestNilProbe(t *testing.T) {
	p, err := Start(context.Background(), flags(t), Config{})
	if p != nil || err != nil {
		t.Fatalf("no --probe: %v %v", p, err)
	}
	p.Phase("x", "y")
	if p.Breached() != nil || p.Stop() != nil || p.Stop().Result() != nil {
		t.Error("a nil probe did something")
	}
}

func TestSummaryGolden(t *testing.T) {
	s := &Summary{Targets: []string{"http://dc1/", "http://router/"}, Rate: 10, Requests: 120, Failed: 3,
		Rows: []Row{
			{Target: "http://dc1/", Member: "-", Phase: "baseline", Requests: 50, LongestGapSeconds: 0.1, P95Seconds: 0.0213},
			{Target: "http://dc1/", Member: "production-gw-0", Phase: "flush", Requests: 60, Failed: 3, LongestGapSeconds: 0.4, P95Seconds: 0.0251, Errors: map[string]int{"socket hang up": 3}},
			{Target: "http://router/", Member: "production-gw-0", Phase: "flush", Requests: 60, LongestGapSeconds: 1.234, P95Seconds: 1.5},
		},
		Breach: "probe: 3 of 120 requests failed (2.5%, --max-error-rate 1%) at production-gw-0 flush"}
	var b bytes.Buffer
	if err := s.Render(&b, printers.Style{}); err != nil {
		t.Fatal(err)
	}
	goldenfile.Assert(t, "testdata/summary.golden", b.Bytes())
	j, err := s.JSON()
	if err != nil {
		t.Fatal(err)
	}
	goldenfile.Assert(t, "testdata/summary.json.golden", append(j, '\n'))
}

func TestP95(t *testing.T) {
	var ls []time.Duration
	for i := 1; i <= 100; i++ {
		ls = append(ls, time.Duration(i)*time.Millisecond)
	}
	if got := p95(ls); got != 95*time.Millisecond {
		t.Errorf("p95 of 1..100 ms = %s", got)
	}
	if got := p95([]time.Duration{7}); got != 7 {
		t.Errorf("p95 of one = %s", got)
	}
}

// A password in a probed URL is never printed: not in the log, the summary or the samples.
func TestURLPasswordRedacted(t *testing.T) {
	s := newServer(t)
	url := strings.Replace(s.URL, "http://", "http://user:hunter2@", 1)
	var log bytes.Buffer
	dir := t.TempDir()
	p, err := Start(context.Background(), quick(t, url), Config{Log: &log, SamplesDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	j, _ := p.Stop().JSON()
	samples, _ := os.ReadFile(filepath.Join(dir, SamplesFile))
	for what, b := range map[string]string{"log": log.String(), "summary": string(j), "samples": string(samples)} {
		if strings.Contains(b, "hunter2") {
			t.Errorf("the password is in the %s", what)
		}
	}
	if !strings.Contains(string(j), "user:xxxxx@") {
		t.Errorf("summary targets: %s", j)
	}
}
