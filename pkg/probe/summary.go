package probe

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/kubectl-apic/kubectl-apic/pkg/printers"
)

// Summary is what the probe saw, per target, member and phase, in the order the phases came.
type Summary struct {
	Targets []string `json:"targets"`
	Rate    float64  `json:"rate"`
	// KeepAlive says whether connections were reused.
	KeepAlive bool  `json:"keepAlive"`
	Rows      []Row `json:"rows"`
	// Requests and Failed count the operation (the baseline excluded).
	Requests int `json:"requests"`
	Failed   int `json:"failed"`
	// Breach is the gate breach that stopped the command, if any.
	Breach string     `json:"breach,omitempty"`
	Cmd    *CmdResult `json:"cmd,omitempty"`
}

// Row is one target × member × phase.
type Row struct {
	Target   string `json:"target"`
	Member   string `json:"member"`
	Phase    string `json:"phase"`
	Requests int    `json:"requests"`
	Failed   int    `json:"failed"`
	// LongestGapSeconds is the longest time between two successful answers ending in this row.
	LongestGapSeconds float64        `json:"longestGapSeconds"`
	P95Seconds        float64        `json:"p95LatencySeconds"`
	Errors            map[string]int `json:"errors,omitempty"`
}

func (p *Probe) summarizeLocked(cmd *CmdResult) *Summary {
	s := &Summary{Targets: redactAll(p.opts.URLs), Rate: p.opts.Rate, KeepAlive: p.opts.KeepAlive, Rows: []Row{},
		Requests: p.opRequests, Failed: p.opFailed, Cmd: cmd}
	if p.breach != nil {
		s.Breach = p.breach.Error()
	}
	for _, k := range p.sortedKeysLocked() {
		r := p.rows[k]
		row := Row{Target: k.target, Member: k.member, Phase: k.phase, Requests: r.requests, Failed: r.failed,
			LongestGapSeconds: r.longestGap.Seconds(), P95Seconds: p95(r.latencies).Seconds()}
		if len(r.errors) > 0 {
			row.Errors = r.errors
		}
		s.Rows = append(s.Rows, row)
	}
	return s
}

// p95 is the nearest-rank 95th percentile.
func p95(ls []time.Duration) time.Duration {
	if len(ls) == 0 {
		return 0
	}
	s := slices.Clone(ls)
	slices.Sort(s)
	i := (95*len(s) + 99) / 100 // ceil(0.95 n), 1-based
	return s[i-1]
}

// Table is the summary as a table of the command's human output.
func (s *Summary) Table() printers.Table {
	t := printers.Table{Title: "TRAFFIC PROBE", Headers: []string{"Target", "Member", "Phase", "Requests", "Failed", "Longest gap", "P95"}}
	for _, r := range s.Rows {
		t.Rows = append(t.Rows, []string{r.Target, r.Member, r.Phase, strconv.Itoa(r.Requests), strconv.Itoa(r.Failed),
			fmtSeconds(r.LongestGapSeconds), fmtSeconds(r.P95Seconds)})
	}
	return t
}

// Render writes the table and a one-line verdict.
func (s *Summary) Render(w io.Writer, style printers.Style) error {
	if s == nil {
		return nil
	}
	if err := printers.RenderTable(w, s.Table(), false, style); err != nil {
		return err
	}
	fmt.Fprintf(w, "Probe: %d requests during the operation, %d failed", s.Requests, s.Failed)
	if s.Requests > 0 {
		fmt.Fprintf(w, " (%.2f%%)", 100*float64(s.Failed)/float64(s.Requests))
	}
	fmt.Fprintln(w)
	if s.Cmd != nil {
		fmt.Fprintf(w, "Probe command: %s\n", s.Cmd.Outcome)
	}
	if s.Breach != "" {
		fmt.Fprintf(w, "Stopped: %s\n", s.Breach)
	}
	return nil
}

// JSON is the summary as indented JSON.
func (s *Summary) JSON() ([]byte, error) { return json.MarshalIndent(s, "", "  ") }

func fmtSeconds(v float64) string {
	d := time.Duration(v * float64(time.Second))
	switch {
	case d == 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	default:
		return d.Round(10 * time.Millisecond).String()
	}
}
