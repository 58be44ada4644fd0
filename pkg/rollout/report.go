// Package rollout is the engine of `kubectl apic rollout`: it restarts (or follows the operator's
// upgrade of) the DataPower members of a GatewayCluster one at a time, data center by data center,
// checking before each member that every gateway-peering object keeps its quorum without it,
// moving peering primaries to an already refreshed member before their member goes, and recording
// each member's phases in a journal so a re-run continues where a run stopped.
//
// Files: report.go (the result schema), model.go (sites and members as read), assess.go (reading
// them), plan.go (member order, primaries to switch), engine.go (the phases), wait.go (watches),
// verify.go, hooks.go, journal.go (the ConfigMap journal and the spec exports), lease.go.
package rollout

import (
	"time"

	"github.com/kubectl-apic/kubectl-apic/pkg/probe"
)

// Actions.
const (
	ActionRestart = "restart"
	ActionUpgrade = "upgrade"
	ActionUndo    = "undo"
)

// Member phases, in order (the columns of the summary table; phases per node as in Axway's "Zero downtime upgrade").
const (
	PhasePrecheck      = "PRECHECK"
	PhaseSwitchPrimary = "SWITCH-PRIMARY"
	PhaseRestart       = "RESTART"
	PhaseReady         = "READY"
	PhaseRejoin        = "REJOIN"
	PhaseVerify        = "VERIFY"
	PhaseProbe         = "PROBE"
)

// Site steps (hooks) and the spec steps of upgrade and undo.
const (
	StepDrain   = "DRAIN"
	StepSmoke   = "SMOKE"
	StepUndrain = "UNDRAIN"
	StepExport  = "EXPORT"
	StepChange  = "CHANGE"
)

// Phases are the member phases in order.
func Phases() []string {
	return []string{PhasePrecheck, PhaseSwitchPrimary, PhaseRestart, PhaseReady, PhaseRejoin, PhaseVerify, PhaseProbe}
}

// Statuses of a phase or step.
const (
	Passed     = "PASSED"
	Failed     = "FAILED"
	Skipped    = "SKIPPED"
	Unverified = "UNVERIFIED"
	// Unknown: the run stopped (interrupt, lost connection) while the phase ran; what it did is not
	// known until a re-run reads the state again (patronictl's lesson: not "failed").
	Unknown = "UNKNOWN"
	// NotReached is "*" in the table: the run stopped before this phase.
	NotReached = ""
)

// Outcomes of a run.
const (
	OutcomeSucceeded   = "succeeded"
	OutcomeFailed      = "failed"
	OutcomeRefused     = "refused"
	OutcomeInterrupted = "interrupted"
	OutcomePlanned     = "planned"
)

// Report is a rollout's result: the RolloutReport document of -o json|yaml (docs/rollout-schema.md).
type Report struct {
	Action    string   `json:"action"`
	Gateway   string   `json:"gateway"`
	Namespace string   `json:"namespace"`
	Sites     []string `json:"sites"`
	// Version is upgrade's target version.
	Version string `json:"version,omitempty"`
	RunID   string `json:"runID,omitempty"`
	// Resumed: this run continued an unfinished one (its journal), skipping what was done.
	Resumed         bool      `json:"resumed"`
	DryRun          bool      `json:"dryRun"`
	StartedAt       time.Time `json:"startedAt"`
	DurationSeconds float64   `json:"durationSeconds"`
	Outcome         string    `json:"outcome"`
	ExitCode        int       `json:"exitCode"`
	Error           string    `json:"error,omitempty"`
	// FailedMember and FailedPhase say where the run stopped ("" when it did not fail in a member).
	FailedMember string `json:"failedMember,omitempty"`
	FailedPhase  string `json:"failedPhase,omitempty"`
	// Preflight lists the checks made before any change.
	Preflight []Check `json:"preflight"`
	// Steps are the site and spec steps (DRAIN, SMOKE, UNDRAIN, EXPORT, CHANGE) in the order run.
	Steps   []StepResult   `json:"steps"`
	Members []MemberResult `json:"members"`
	// LogDir holds a log per member (phases, attach transcript, pod events) and the probe samples.
	LogDir string         `json:"logDir,omitempty"`
	Probe  *probe.Summary `json:"probe,omitempty"`
}

// Check is one pre-flight check.
type Check struct {
	Name    string `json:"name"`
	Site    string `json:"site,omitempty"`
	Status  string `json:"status"` // PASSED, FAILED, UNVERIFIED
	Message string `json:"message"`
}

// MemberResult is one member's row: where it runs, what it was primary of, its phases.
type MemberResult struct {
	Site    string `json:"site"`
	Pod     string `json:"pod"`
	Ordinal int    `json:"ordinal"`
	Node    string `json:"node,omitempty"`
	Zone    string `json:"zone,omitempty"`
	// PrimaryOf lists the peering objects the member was primary of when the run planned it.
	PrimaryOf []string `json:"primaryOf,omitempty"`
	// SwitchTo is the member the primaries move to before it goes.
	SwitchTo string        `json:"switchTo,omitempty"`
	Phases   []PhaseResult `json:"phases"`
}

// PhaseResult is one cell of the summary table.
type PhaseResult struct {
	Phase           string    `json:"phase"`
	Status          string    `json:"status"`
	Code            int       `json:"code,omitempty"`
	StartedAt       time.Time `json:"startedAt,omitzero"`
	DurationSeconds float64   `json:"durationSeconds"`
	Message         string    `json:"message,omitempty"`
}

// StepResult is one site or spec step.
type StepResult struct {
	Step            string    `json:"step"`
	Site            string    `json:"site"`
	Status          string    `json:"status"`
	Code            int       `json:"code,omitempty"`
	StartedAt       time.Time `json:"startedAt,omitzero"`
	DurationSeconds float64   `json:"durationSeconds"`
	Message         string    `json:"message,omitempty"`
}

// Phase returns the member's result of phase (zero when not reached).
func (m *MemberResult) Phase(phase string) PhaseResult {
	for _, p := range m.Phases {
		if p.Phase == phase {
			return p
		}
	}
	return PhaseResult{Phase: phase}
}

// Done reports whether every phase of the member ended PASSED, SKIPPED or UNVERIFIED.
func (m *MemberResult) Done() bool {
	for _, ph := range Phases() {
		switch m.Phase(ph).Status {
		case Passed, Skipped, Unverified:
		default:
			return false
		}
	}
	return true
}

func (m *MemberResult) set(r PhaseResult) {
	for i, p := range m.Phases {
		if p.Phase == r.Phase {
			m.Phases[i] = r
			return
		}
	}
	m.Phases = append(m.Phases, r)
}

// Member returns the row of site/pod.
func (r *Report) Member(site, pod string) *MemberResult {
	for i := range r.Members {
		if r.Members[i].Site == site && r.Members[i].Pod == pod {
			return &r.Members[i]
		}
	}
	return nil
}
