// Package probe measures what a mutating command costs the API traffic it promises to keep serving:
// it sends requests at a steady rate to one or more URLs (each site's gateway endpoint, a global
// router) while the command runs, tags every sample with the member and phase the command is at,
// refuses to start when the traffic already fails, stops the command at its next safe point when a
// gate is breached, and summarises requests, failures, the longest gap between successes and the p95
// latency per member and phase.
//
// Every mutating command registers the same flags with AddFlags and drives the probe the same way:
//
//	p, err := probe.Start(ctx, opts, probe.Config{Log: errOut, SamplesDir: dir}) // baseline; exit 5 if it fails
//	defer p.Stop()
//	p.Phase(member, "flush")                 // at each step
//	if err := p.Breached(); err != nil { … } // before the next member or step (exit 8)
//	summary := p.Stop()                      // table and JSON
//
// A nil *Probe (no --probe given) does nothing, so commands call it unconditionally.
package probe

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
)

// Defaults of the flags.
const (
	DefaultRate     = 10.0
	DefaultTimeout  = 2 * time.Second
	DefaultBaseline = 5 * time.Second
	MaxRate         = 5000.0
)

// Options are the probe's flags, shared by every mutating command.
type Options struct {
	URLs         []string
	Rate         float64 // requests per second per URL
	ExpectStatus int
	Timeout      time.Duration
	CAFile       string
	Headers      []string // "Name: value"
	KeepAlive    bool
	Baseline     time.Duration
	// AcceptBaselineErrors lets the command start although requests fail during the baseline.
	AcceptBaselineErrors bool
	// MaxErrorRate is the highest share of failed requests (percent, during the operation) before
	// the command stops; negative: no gate.
	MaxErrorRate float64
	// MaxGap is the longest time without a successful request to a URL before the command stops;
	// 0: no gate.
	MaxGap time.Duration
	// Cmd is an external checker run alongside (sh -c): exit 0 passes, 99 (k6: thresholds
	// breached) breaches, anything else is an error.
	Cmd string
}

// AddFlags registers the probe flags on fs with their defaults in o: the one place every mutating
// command gets them from.
func AddFlags(fs *pflag.FlagSet, o *Options) {
	o.Rate, o.ExpectStatus, o.Timeout, o.Baseline, o.MaxErrorRate = DefaultRate, 200, DefaultTimeout, DefaultBaseline, -1
	fs.StringArrayVar(&o.URLs, "probe", nil, "URL to send API requests to while the command runs (repeatable: each site's gateway endpoint, a global router)")
	fs.Float64Var(&o.Rate, "probe-rate", o.Rate, "Probe requests per second, per URL")
	fs.IntVar(&o.ExpectStatus, "probe-expect-status", o.ExpectStatus, "HTTP status a probe request must answer to count as a success")
	fs.DurationVar(&o.Timeout, "probe-timeout", o.Timeout, "Timeout of one probe request")
	fs.StringVar(&o.CAFile, "probe-ca-file", "", "PEM file of the CA that signs the probed URLs' certificates (default: the system's)")
	fs.StringArrayVar(&o.Headers, "probe-header", nil, `Header sent with every probe request, "Name: value" (repeatable; e.g. an API key or Host)`)
	fs.BoolVar(&o.KeepAlive, "probe-keepalive", false, "Reuse connections between probe requests (default: a new connection per request, which sees a pod leaving the endpoints; keep-alive hides it)")
	fs.DurationVar(&o.Baseline, "probe-baseline", o.Baseline, "How long to probe before the first change; requests failing then refuse the command (exit 5)")
	fs.BoolVar(&o.AcceptBaselineErrors, "probe-accept-baseline-errors", false, "Start although probe requests fail during the baseline")
	fs.Float64Var(&o.MaxErrorRate, "max-error-rate", o.MaxErrorRate, "Stop at the next safe point (exit 8) when more than this percentage of probe requests fail during the operation (negative: no gate)")
	fs.DurationVar(&o.MaxGap, "max-gap", 0, "Stop at the next safe point (exit 8) when a probed URL has answered no success for this long (0: no gate)")
	fs.StringVar(&o.Cmd, "probe-cmd", "", "External checker run alongside the command with sh -c (e.g. a k6 script): exit 0 passes, 99 (k6's thresholds breached) stops the command, anything else is an error")
}

// Enabled reports whether any probe was asked for.
func (o *Options) Enabled() bool { return len(o.URLs) > 0 || o.Cmd != "" }

// Validate checks the flags; problems are usage errors (exit 2).
func (o *Options) Validate() error {
	for _, raw := range o.URLs {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return exitcode.UsageErrorf("--probe %q: not an http:// or https:// URL with a host", raw)
		}
	}
	if !o.Enabled() {
		return nil
	}
	if o.Rate <= 0 || o.Rate > MaxRate || o.Rate != o.Rate {
		return exitcode.UsageErrorf("--probe-rate %s: must be more than 0 and at most %g requests per second", strconv.FormatFloat(o.Rate, 'g', -1, 64), MaxRate)
	}
	if o.ExpectStatus < 100 || o.ExpectStatus > 599 {
		return exitcode.UsageErrorf("--probe-expect-status %d: not an HTTP status", o.ExpectStatus)
	}
	if o.Timeout <= 0 {
		return exitcode.UsageErrorf("--probe-timeout %s: must be positive", o.Timeout)
	}
	if o.Baseline < 0 {
		return exitcode.UsageErrorf("--probe-baseline %s: must not be negative", o.Baseline)
	}
	if o.MaxErrorRate > 100 {
		return exitcode.UsageErrorf("--max-error-rate %g: a percentage, at most 100", o.MaxErrorRate)
	}
	if o.MaxGap < 0 {
		return exitcode.UsageErrorf("--max-gap %s: must not be negative", o.MaxGap)
	}
	for _, h := range o.Headers {
		if name, _, ok := strings.Cut(h, ":"); !ok || strings.TrimSpace(name) == "" {
			return exitcode.UsageErrorf("--probe-header %q: want \"Name: value\"", redactHeader(h))
		}
	}
	return nil
}

// redactHeader keeps a header's name only: its value may be a credential.
func redactHeader(h string) string {
	if name, _, ok := strings.Cut(h, ":"); ok {
		return name + ": <redacted>"
	}
	return fmt.Sprintf("<%d characters>", len(h))
}
