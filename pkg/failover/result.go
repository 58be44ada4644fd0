package failover

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/printers"
	"github.com/kubectl-apic/kubectl-apic/pkg/probe"
)

// ResultKind is the kind of the -o json|yaml document (schema: docs/failover-schema.md).
const ResultKind = "FailoverResult"

// Outcomes.
const (
	OutcomeSucceeded   = "Succeeded"
	OutcomeFailed      = "Failed"
	OutcomeRefused     = "Refused"
	OutcomePlanned     = "Planned" // --dry-run
	OutcomeNothingToDo = "NothingToDo"
	OutcomeInterrupted = "Interrupted"
	OutcomeTimedOut    = "TimedOut"
)

// Result is the command's result document and the source of its summary table.
type Result struct {
	From       string           `json:"from"`
	To         string           `json:"to"`
	Subsystems []apic.Subsystem `json:"subsystems"`
	// Pairs are the subsystem pairs in scope, in run order (several portal services each have one).
	Pairs     []PairRef    `json:"pairs,omitempty"`
	Shape     Shape        `json:"shape,omitempty"`
	DryRun    bool         `json:"dryRun,omitempty"`
	Fenced    bool         `json:"fenced,omitempty"`
	Outcome   string       `json:"outcome"`
	ExitCode  int          `json:"exitCode"`
	ExitName  string       `json:"exitCodeName"`
	Message   string       `json:"message,omitempty"`
	StartTime metav1.Time  `json:"startTime"`
	Elapsed   float64      `json:"elapsedSeconds"`
	Lock      *LockInfo    `json:"lock,omitempty"`
	Steps     []StepResult `json:"steps"`
	NextSteps []string     `json:"nextSteps,omitempty"`
	// Reconnect are the commands to run on --from before its network is restored (fenced runs).
	Reconnect []string `json:"reconnect,omitempty"`
	// Probe is what --probe measured (nil without it).
	Probe *probe.Summary `json:"probe,omitempty"`
}

// PairRef names one subsystem pair: its subsystem and CR name.
type PairRef struct {
	Subsystem apic.Subsystem `json:"subsystem"`
	Name      string         `json:"name"`
}

// LockInfo describes the lease held during the run.
type LockInfo struct {
	Lease     string   `json:"lease"`
	Holder    string   `json:"holder"`
	Sites     []string `json:"sites"`
	TakeOvers []string `json:"takeOvers,omitempty"`
}

// SummaryTable is seed 004's summary (one row per site and subsystem pair, one column per phase,
// cells PASSED/FAILED/SKIPPED/INTERRUPTED/UNKNOWN with the time taken) in kubectl's table style.
func (r *Result) SummaryTable() printers.Table {
	has := func(p Phase) bool {
		for _, s := range r.Steps {
			if s.Phase == p {
				return true
			}
		}
		return false
	}
	phases := []Phase{PhasePreflight}
	if has(PhaseConfirm) {
		phases = append(phases, PhaseConfirm)
	}
	phases = append(phases, PhaseDemote, PhasePromote)
	for _, p := range []Phase{PhaseRouter, PhaseConfigurator} {
		if has(p) {
			phases = append(phases, p)
		}
	}
	phases = append(phases, PhaseVerify)
	headers := []string{"Subsystem", "Name", "Site", "Role"}
	for _, p := range phases {
		headers = append(headers, string(p))
	}
	t := printers.Table{
		Title:   fmt.Sprintf("FAILOVER SUMMARY %s → %s: %s (exit %d %s)", r.From, r.To, r.Outcome, r.ExitCode, r.ExitName),
		Headers: headers,
	}
	pairs := r.Pairs
	if len(pairs) == 0 {
		for _, sub := range r.Subsystems {
			pairs = append(pairs, PairRef{Subsystem: sub})
		}
	}
	for _, pr := range pairs {
		for _, site := range []string{r.From, r.To} {
			role := "active → warm-standby"
			if site == r.To {
				role = "warm-standby → active"
			}
			name := pr.Name
			if name == "" {
				name = "-"
			}
			row := []string{string(pr.Subsystem), name, site, role}
			for _, p := range phases {
				row = append(row, r.cell(pr, site, p))
			}
			t.Rows = append(t.Rows, row)
		}
	}
	return t
}

func (r *Result) cell(pr PairRef, site string, p Phase) string {
	for _, s := range r.Steps {
		mine := s.Subsystem == pr.Subsystem && (pr.Name == "" || s.Instance == "" || s.Instance == pr.Name)
		match := s.Phase == p && ((mine && s.Site == site) ||
			(p == PhasePreflight || p == PhaseConfirm) || (p == PhaseConfigurator && s.Site == site))
		if !match {
			continue
		}
		switch s.Status {
		case StatusPassed, StatusFailed, StatusInterrupted, StatusUnknown:
			return fmt.Sprintf("%s (%s)", s.Status, shortDuration(s.ElapsedSeconds))
		}
		return s.Status
	}
	return "-"
}

func shortDuration(sec float64) string {
	d := time.Duration(sec * float64(time.Second))
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

// WriteNextSteps fills NextSteps (and Reconnect for fenced runs) from the outcome.
func (r *Result) WriteNextSteps(subjects []Subject, namespace string, routerHookRan bool, command string) {
	switch r.Outcome {
	case OutcomeNothingToDo:
		r.NextSteps = []string{fmt.Sprintf("nothing was changed: %s is already the active site and %s the warm-standby", r.To, r.From),
			fmt.Sprintf("to fail back, run the command reversed: kubectl apic failover --from %s --to %s", r.To, r.From)}
		return
	case OutcomeSucceeded:
	case OutcomePlanned:
		r.NextSteps = []string{"run the same command without --dry-run to fail over"}
		return
	case OutcomeRefused:
		return
	default:
		if !r.stepsBegan() {
			r.NextSteps = []string{"nothing was changed (the run stopped before its first step): fix what the error says, then run the command again: " + command}
			return
		}
		r.NextSteps = []string{
			"re-run the same command to resume from where it stopped: " + command,
			fmt.Sprintf("watch both sites meanwhile: kubectl --context %s get mgmt,ptl; kubectl --context %s get mgmt,ptl", r.From, r.To),
		}
		return
	}
	if routerHookRan {
		r.NextSteps = append(r.NextSteps, fmt.Sprintf("the router hook ran: check that all traffic now reaches %s", r.To))
	} else {
		r.NextSteps = append(r.NextSteps, fmt.Sprintf("update your dynamic router to redirect all traffic to %s instead of %s (IBM: Failing over to the warm-standby, step 5)", r.To, r.From))
	}
	if r.Fenced {
		r.Reconnect = ReconnectCommands(r.From, namespace, subjects)
		r.NextSteps = append(r.NextSteps,
			fmt.Sprintf("keep the network to and from %s's management and portal subsystems disabled", r.From),
			fmt.Sprintf("before reconnecting %s, set it to warm-standby from a machine that reaches its API server (not over the fenced link); the reconnect commands are listed below", r.From),
			fmt.Sprintf("then check kubectl --context %s -n %s get mgmt,ptl: no haMode may be active; only then restore connectivity", r.From, namespace),
			"the longer the site was down, the longer replication takes; a warm-standby offline for more than 24 hours fills the active site's disk",
		)
		r.NextSteps = append(r.NextSteps, ConfirmationCleanupCommands(r.From, namespace, subjects)...)
		return
	}
	r.NextSteps = append(r.NextSteps,
		fmt.Sprintf("verify replication between the data centers (kubectl --context %s get mgmt,ptl -o yaml: haMode passive, haStatus Ready)", r.From),
		fmt.Sprintf("to fail back later, run the same command reversed: kubectl apic failover --from %s --to %s", r.To, r.From),
	)
}

// stepsBegan reports whether a step after pre-flight and the confirmation began.
func (r *Result) stepsBegan() bool {
	for _, s := range r.Steps {
		if s.Phase == PhasePreflight || s.Phase == PhaseConfirm {
			continue
		}
		if s.Status != StatusNotRun && s.Status != StatusPlanned {
			return true
		}
	}
	return false
}

// ReconnectCommands are the exact commands that set the fenced site to warm-standby before it may be
// reconnected: IBM's demote patch with the data-deletion annotation, for the site's shape. The fenced
// site cannot be read, so names and namespace are the peer's (IBM's examples use the same on both).
func ReconnectCommands(site, namespace string, subjects []Subject) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range subjects {
		spec := s.To.Spec
		patch, err := apic.ModePatch(spec.Kind, s.Subsystem, apic.ModePassive)
		if err != nil {
			continue
		}
		cmd := fmt.Sprintf("kubectl --context %s -n %s patch %s %s --type merge --patch '%s'",
			site, namespace, kindArg(spec.Kind), spec.Name(), string(patch))
		if !seen[cmd] {
			seen[cmd] = true
			out = append(out, cmd)
		}
	}
	return out
}

// ConfirmationCleanupCommands remove IBM's data-deletion confirmation annotation from the fenced
// site once its demotion is complete (management haMode passive with haStatus Ready), as IBM's
// public 2DCDR lab does before resuming; otherwise a later change to passive counts as confirmed.
func ConfirmationCleanupCommands(site, namespace string, subjects []Subject) []string {
	var out []string
	for _, s := range subjects {
		if s.Subsystem != apic.Management {
			continue
		}
		spec := s.To.Spec
		out = append(out, fmt.Sprintf("once kubectl --context %s -n %s get mgmt shows it passive with HA status Ready, remove the data-deletion confirmation (IBM's 2DCDR lab does): kubectl --context %s -n %s annotate %s %s %s-",
			site, namespace, site, namespace, kindArg(spec.Kind), spec.Name(), apic.DataDeletionConfirmationAnnotation))
	}
	return out
}

func kindArg(k apic.Kind) string {
	if k.ShortName != "" {
		return k.ShortName
	}
	return k.Singular
}

// Text is what follows the summary table in the human form: reconnect commands and next steps.
func (r *Result) Text() string {
	var b strings.Builder
	if len(r.Reconnect) > 0 {
		fmt.Fprintf(&b, "\nBefore %s may reconnect, set it to warm-standby (run against %s's API server):\n", r.From, r.From)
		for _, c := range r.Reconnect {
			fmt.Fprintf(&b, "  %s\n", c)
		}
	}
	if len(r.NextSteps) > 0 {
		b.WriteString("\nNext steps:\n")
		for _, s := range r.NextSteps {
			fmt.Fprintf(&b, "  - %s\n", s)
		}
	}
	return b.String()
}
