package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
)

// Phases the probe itself names.
const (
	PhaseBaseline = "baseline"
	// PhaseOperation is the phase before the command's first Phase call after the baseline.
	PhaseOperation = "operation"
	// SamplesFile is the name of the samples file in Config.SamplesDir.
	SamplesFile = "probe-samples.jsonl"
)

// Config is what the command gives the probe besides its flags.
type Config struct {
	// Log receives progress (the command's stderr); nil discards it.
	Log io.Writer
	// SamplesDir, when set, receives every sample as JSON lines (SamplesFile).
	SamplesDir string
	// Transport overrides the HTTP transport (tests).
	Transport http.RoundTripper
	// Phase tags the samples between the baseline and the command's first Phase call
	// (PhaseOperation when empty), e.g. the command's pre-flight.
	Phase string
}

// Sample is one probe request.
type Sample struct {
	Time    time.Time     `json:"time"`
	Target  string        `json:"target"`
	Member  string        `json:"member"`
	Phase   string        `json:"phase"`
	Status  int           `json:"status,omitempty"`
	Error   string        `json:"error,omitempty"`
	OK      bool          `json:"ok"`
	Latency time.Duration `json:"latencyNs"`
}

type rowKey struct{ target, member, phase string }

type row struct {
	requests, failed int
	longestGap       time.Duration
	latencies        []time.Duration
	errors           map[string]int
	order            int
}

// Probe is a running probe. A nil *Probe does nothing.
type Probe struct {
	opts    Options
	cfg     Config
	client  *http.Client
	headers http.Header
	host    string
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	started time.Time
	samples *os.File
	cmd     *checker
	// baselineInflight counts the baseline's requests not answered yet.
	baselineInflight sync.WaitGroup

	mu         sync.Mutex
	member     string
	phase      string
	rows       map[rowKey]*row
	lastOK     map[string]time.Time // by target
	opRequests int
	opFailed   int
	breach     error
	stopped    bool
	summary    *Summary
}

// Start begins probing every URL at the configured rate, runs the baseline window and returns once
// it is over. A failed baseline request refuses the command (exit 5) unless accepted; the error
// says what the probe got. Start returns nil, nil when no probe was asked for.
func Start(ctx context.Context, o Options, cfg Config) (*Probe, error) {
	if !o.Enabled() {
		return nil, nil
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	p := &Probe{opts: o, cfg: cfg, phase: PhaseBaseline, member: "-", rows: map[rowKey]*row{}, lastOK: map[string]time.Time{}}
	if err := p.setupClient(); err != nil {
		return nil, err
	}
	if cfg.SamplesDir != "" {
		if err := os.MkdirAll(cfg.SamplesDir, 0o755); err != nil {
			return nil, exitcode.UsageErrorf("probe samples directory: %v", err)
		}
		f, err := os.OpenFile(filepath.Join(cfg.SamplesDir, SamplesFile), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return nil, exitcode.UsageErrorf("probe samples: %v", err)
		}
		p.samples = f
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.cancel = cancel
	p.started = time.Now()
	for _, u := range o.URLs {
		p.lastOK[redact(u)] = p.started
		p.wg.Add(1)
		go p.run(runCtx, u)
	}
	if o.Cmd != "" {
		c, err := startChecker(o.Cmd, cfg.Log)
		if err != nil {
			p.Stop()
			return nil, err
		}
		p.cmd = c
	}
	if len(o.URLs) > 0 {
		fmt.Fprintf(cfg.Log, "Probing %s at %g requests/s each (%s connections); baseline %s\n", strings.Join(redactAll(o.URLs), ", "), o.Rate, p.connMode(), o.Baseline)
	}
	select {
	case <-ctx.Done():
		p.Stop()
		return nil, ctx.Err()
	case <-time.After(o.Baseline):
	}
	// Requests started during the baseline are counted in it: wait for them to finish or time out.
	if err := p.endBaseline(ctx); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

func (p *Probe) connMode() string {
	if p.opts.KeepAlive {
		return "keep-alive"
	}
	return "new"
}

func (p *Probe) setupClient() error {
	tr := p.cfg.Transport
	if tr == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DisableKeepAlives = !p.opts.KeepAlive
		t.MaxIdleConnsPerHost = 100
		t.Proxy = nil // probe the URL itself, never through an environment proxy
		if p.opts.CAFile != "" {
			pem, err := os.ReadFile(p.opts.CAFile)
			if err != nil {
				return exitcode.UsageErrorf("--probe-ca-file: %v", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return exitcode.UsageErrorf("--probe-ca-file %s: no PEM certificate found", p.opts.CAFile)
			}
			t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
		tr = t
	}
	p.client = &http.Client{Transport: tr, Timeout: p.opts.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	p.headers = http.Header{}
	for _, h := range p.opts.Headers {
		name, value, _ := strings.Cut(h, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if strings.EqualFold(name, "Host") {
			p.host = value
			continue
		}
		p.headers.Add(name, value)
	}
	return nil
}

// run sends requests to target at the rate, each on its own goroutine (an open loop: a slow answer
// does not slow the probe down, as k6's constant-arrival-rate). Request i is due at start + i/rate:
// after a scheduling stall the probe catches up instead of silently sending fewer requests.
func (p *Probe) run(ctx context.Context, target string) {
	defer p.wg.Done()
	interval := time.Duration(float64(time.Second) / p.opts.Rate)
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	var inflight sync.WaitGroup
	defer inflight.Wait()
	for i := 0; ; i++ {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return
		}
		p.mu.Lock()
		member, phase := p.member, p.phase
		if phase == PhaseBaseline { // under mu: endBaseline's Wait starts after the last Add
			p.baselineInflight.Add(1)
		}
		p.mu.Unlock()
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			p.record(p.once(ctx, target, member, phase))
			if phase == PhaseBaseline {
				p.baselineInflight.Done()
			}
		}()
	}
}

func (p *Probe) once(ctx context.Context, target, member, phase string) Sample {
	s := Sample{Time: time.Now(), Target: redact(target), Member: member, Phase: phase}
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, target, nil)
	if err != nil {
		s.Error = err.Error()
		return s
	}
	req.Header = p.headers.Clone()
	if p.host != "" {
		req.Host = p.host
	}
	resp, err := p.client.Do(req)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		s.Status = resp.StatusCode
	}
	s.Latency = time.Since(s.Time)
	switch {
	case err != nil:
		s.Error = classify(err)
	case s.Status != p.opts.ExpectStatus:
		s.Error = fmt.Sprintf("HTTP %d", s.Status)
	default:
		s.OK = true
	}
	return s
}

// classify names a transport error the way operators talk about it.
func classify(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "socket hang up"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return msg
}

func (p *Probe) record(s Sample) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	k := rowKey{s.Target, s.Member, s.Phase}
	r := p.rows[k]
	if r == nil {
		r = &row{errors: map[string]int{}, order: len(p.rows)}
		p.rows[k] = r
	}
	r.requests++
	r.latencies = append(r.latencies, s.Latency)
	end := s.Time.Add(s.Latency)
	if s.OK {
		if gap := end.Sub(p.lastOK[s.Target]); gap > r.longestGap {
			r.longestGap = gap
		}
		if end.After(p.lastOK[s.Target]) {
			p.lastOK[s.Target] = end
		}
	} else {
		r.failed++
		r.errors[s.Error]++
	}
	if s.Phase != PhaseBaseline {
		p.opRequests++
		if !s.OK {
			p.opFailed++
		}
		p.checkGatesLocked(time.Now())
	}
	if p.samples != nil {
		b, _ := json.Marshal(s)
		_, _ = p.samples.Write(append(b, '\n'))
	}
}

func (p *Probe) checkGatesLocked(now time.Time) {
	if p.breach != nil || p.phase == PhaseBaseline {
		return
	}
	if p.opts.MaxErrorRate >= 0 && p.opFailed > 0 {
		if rate := 100 * float64(p.opFailed) / float64(p.opRequests); rate > p.opts.MaxErrorRate {
			p.breach = exitcode.Newf(exitcode.ProbeBreached, "probe: %d of %d requests failed (%.1f%%, --max-error-rate %g%%) at %s %s",
				p.opFailed, p.opRequests, rate, p.opts.MaxErrorRate, p.member, p.phase)
			return
		}
	}
	if p.opts.MaxGap > 0 {
		for _, u := range p.opts.URLs {
			if gap := now.Sub(p.lastOK[redact(u)]); gap > p.opts.MaxGap {
				p.breach = exitcode.Newf(exitcode.ProbeBreached, "probe: no successful request to %s for %s (--max-gap %s) at %s %s",
					redact(u), gap.Round(time.Millisecond), p.opts.MaxGap, p.member, p.phase)
				return
			}
		}
	}
}

// endBaseline closes the baseline window and refuses the command if requests failed in it.
func (p *Probe) endBaseline(ctx context.Context) error {
	p.mu.Lock()
	p.phase, p.member = PhaseOperation, "-"
	if p.cfg.Phase != "" {
		p.phase = p.cfg.Phase
	}
	p.mu.Unlock()
	// Let the baseline's requests in flight finish (they may still fail); each is bounded by the
	// request timeout.
	done := make(chan struct{})
	go func() {
		p.baselineInflight.Wait()
		close(done)
	}()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-done:
	}
	if p.cmd != nil {
		if err := p.cmd.failed(); err != nil {
			return exitcode.Newf(exitcode.Refused, "probe: --probe-cmd failed during the baseline, before any change: %v", err)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var lines []string
	requests, failed := 0, 0
	for _, k := range p.sortedKeysLocked() {
		if k.phase != PhaseBaseline {
			continue
		}
		r := p.rows[k]
		requests += r.requests
		failed += r.failed
		if r.failed > 0 {
			lines = append(lines, fmt.Sprintf("  %s: %d of %d failed (%s)", k.target, r.failed, r.requests, errorList(r.errors)))
		}
	}
	if failed == 0 {
		fmt.Fprintf(p.cfg.Log, "Probe baseline: %d requests, 0 failed\n", requests)
		return nil
	}
	msg := fmt.Sprintf("probe baseline: %d of %d requests failed before any change:\n%s", failed, requests, strings.Join(lines, "\n"))
	if p.opts.AcceptBaselineErrors {
		fmt.Fprintf(p.cfg.Log, "%s\n(accepted: --probe-accept-baseline-errors)\n", msg)
		return nil
	}
	return exitcode.Newf(exitcode.Refused, "%s\nnothing was changed; fix the traffic first, or pass --probe-accept-baseline-errors to accept this error rate", msg)
}

func errorList(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || (m[keys[i]] == m[keys[j]] && keys[i] < keys[j]) })
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// Phase tags the samples that follow with the member the command works on and its step ("" member:
// the whole gateway or site).
func (p *Probe) Phase(member, phase string) {
	if p == nil {
		return
	}
	if member == "" {
		member = "-"
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.member, p.phase = member, phase
}

// Breached returns the gate breach (exit 8) the command must stop for, or nil. Commands call it at
// their safe points: before the next member or step, never in the middle of one.
func (p *Probe) Breached() error {
	if p == nil {
		return nil
	}
	if p.cmd != nil {
		if err := p.cmd.breached(); err != nil {
			return err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.checkGatesLocked(time.Now())
	return p.breach
}

// Stop ends probing, waits for requests in flight, stops --probe-cmd and returns the summary. Safe
// to call more than once (the same summary); nil for a nil Probe.
func (p *Probe) Stop() *Summary {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	if p.summary != nil {
		defer p.mu.Unlock()
		return p.summary
	}
	p.mu.Unlock()
	if p.cancel != nil {
		p.cancel()
	}
	p.wg.Wait()
	var cmdResult *CmdResult
	if p.cmd != nil {
		cmdResult = p.cmd.stop()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	if p.samples != nil {
		_ = p.samples.Close()
	}
	p.summary = p.summarizeLocked(cmdResult)
	return p.summary
}

func (p *Probe) sortedKeysLocked() []rowKey {
	keys := make([]rowKey, 0, len(p.rows))
	for k := range p.rows {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].target != keys[j].target {
			return keys[i].target < keys[j].target
		}
		return p.rows[keys[i]].order < p.rows[keys[j]].order
	})
	return keys
}

// redact hides a password in a URL's user information: targets are printed, logged and stored.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Redacted()
}

func redactAll(urls []string) []string {
	out := make([]string, len(urls))
	for i, u := range urls {
		out[i] = redact(u)
	}
	return out
}
