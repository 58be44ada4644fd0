// Package drr is the mechanics of IBM's outage-less Dynamic Reregistration and Reconfiguration
// (DRR) of an API Connect gateway service (seed 000): pre-flight checks on every member's DataPower
// CLI, the plan, the steps (switch primary, flush the apic-gw-service peering, disable and enable
// apic-gw-service on every member, confirm the "Waiting for gateway service registration." log
// line, wait for the re-registration, check peering health) and the report. It talks to the
// DataPower CLI through pkg/datapower sessions; how a session is opened (kubectl attach) is the
// caller's business.
//
// Layout: an engine, the mechanics of one command (kubectl apic drr), imported by plugins/drr alone
// (and by plugins/status for the journal only; README, "Code layout", tested by internal/layout).
// What another command needs goes into a shared package (pkg/datapower, pkg/inventory, ...).
package drr

import (
	"time"

	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/probe"
)

// Step names, as they appear in reports (a stable schema: scripts match on them).
const (
	StepPreflight    = "preflight"
	StepPrimary      = "switch-primary"
	StepFlush        = "flush"
	StepCycle        = "cycle-gw-service"
	StepWaitingLog   = "waiting-log"
	StepRegistration = "registration"
	StepHealth       = "peering-health"
)

// Steps lists the step names in order.
func Steps() []string {
	return []string{StepPreflight, StepPrimary, StepFlush, StepCycle, StepWaitingLog, StepRegistration, StepHealth}
}

// Step statuses.
const (
	Passed  = "PASSED"
	Failed  = "FAILED"
	Skipped = "SKIPPED"
	// Unverified: the step ran as far as it can but nothing confirmed its effect (registration
	// without a RegistrationCheck); the message says why and how to check by hand.
	Unverified = "UNVERIFIED"
)

// Outcomes of a run.
const (
	OutcomeSucceeded = "Succeeded"
	OutcomeFailed    = "Failed"
	OutcomeRefused   = "Refused"
	OutcomePlanned   = "Planned" // --dry-run: pre-flight passed, nothing changed
	// OutcomeInterrupted: Ctrl-C (or a lost lease) stopped the run mid-way; the journal says where.
	OutcomeInterrupted = "Interrupted"
)

// PhaseCode is the exit code of a failure in step (exitcode's DRR phase codes).
func PhaseCode(step string) exitcode.Code {
	switch step {
	case StepPreflight:
		return exitcode.Refused
	case StepPrimary:
		return exitcode.DRRPrimaryFailed
	case StepFlush:
		return exitcode.DRRFlushFailed
	case StepCycle, StepWaitingLog:
		return exitcode.DRRServiceCycleFailed
	case StepRegistration, StepHealth:
		return exitcode.DRRRegistrationFailed
	}
	return exitcode.Error
}

// Report is the result document of `kubectl apic drr` (kind DRRReport in -o json|yaml). Its field
// names are a stable schema; new fields may be added, none renamed.
type Report struct {
	Gateway   string `json:"gateway"`
	Namespace string `json:"namespace"`
	Context   string `json:"context,omitempty"`
	// Domain is the API Connect application domain the commands ran in.
	Domain string `json:"domain"`
	// Peering is the apic-gw-service gateway-peering object, as `show gateway-peering-manager` names it.
	Peering string `json:"peering,omitempty"`
	DryRun  bool   `json:"dryRun"`
	Forced  bool   `json:"forced"`
	// Outcome is Succeeded, Failed, Refused or Planned.
	Outcome string `json:"outcome"`
	// ExitCode is the process exit code; FailedStep the step that set it.
	ExitCode   int    `json:"exitCode"`
	FailedStep string `json:"failedStep,omitempty"`
	Error      string `json:"error,omitempty"`

	Preflight Preflight   `json:"preflight"`
	Plan      Plan        `json:"plan"`
	Results   []StepState `json:"results"`

	StartedAt       time.Time `json:"startedAt"`
	DurationSeconds float64   `json:"durationSeconds"`
	// Probe is what --probe measured (nil without it).
	Probe *probe.Summary `json:"probe,omitempty"`
}

// Preflight is what the read-only checks found.
type Preflight struct {
	Members []MemberState `json:"members"`
	Quorum  QuorumState   `json:"quorum"`
	// Problems are the reasons to refuse; with --force they are warnings.
	Problems []string `json:"problems,omitempty"`
}

// MemberState is one gateway member as pre-flight saw it.
type MemberState struct {
	Pod     string `json:"pod"`
	Node    string `json:"node,omitempty"`
	Address string `json:"address,omitempty"`
	Ready   bool   `json:"ready"`
	// Reachable: its console answered and the login succeeded.
	Reachable bool `json:"reachable"`
	Primary   bool `json:"primary"`
	// LinkStatus is the member's own row in gateway-peering-status ("ok", "down"; "" if absent).
	LinkStatus string `json:"linkStatus,omitempty"`
	Error      string `json:"error,omitempty"`
}

// QuorumState is the documented quorum of the apic-gw-service peering: the primary is up and at
// least n/2+1 of the n members are active.
type QuorumState struct {
	Members   int    `json:"members"`
	Active    int    `json:"active"`
	Needed    int    `json:"needed"`
	Primary   string `json:"primary,omitempty"` // the primary's address
	HasQuorum bool   `json:"hasQuorum"`
	Reason    string `json:"reason,omitempty"`
}

// Plan is what the run will do.
type Plan struct {
	// Member is the member made primary and flushed from.
	Member string `json:"member"`
	// SwitchPrimary is false when Member already is primary.
	SwitchPrimary bool `json:"switchPrimary"`
	// Members are the members the run works on (all of them unless --force skipped unreachable ones).
	Members []string      `json:"members"`
	Steps   []PlannedStep `json:"steps"`
}

// PlannedStep is one step of the plan.
type PlannedStep struct {
	Step        string   `json:"step"`
	Members     []string `json:"members"`
	Commands    []string `json:"commands"`
	Description string   `json:"description"`
}

// StepState is one step on one member.
type StepState struct {
	Member          string    `json:"member"`
	Step            string    `json:"step"`
	Status          string    `json:"status"` // PASSED, FAILED, SKIPPED
	StartedAt       time.Time `json:"startedAt"`
	DurationSeconds float64   `json:"durationSeconds"`
	Message         string    `json:"message,omitempty"`
}

// Result is the state of step on member, and whether one was recorded.
func (r *Report) Result(member, step string) (StepState, bool) {
	for _, s := range r.Results {
		if s.Member == member && s.Step == step {
			return s, true
		}
	}
	return StepState{}, false
}

// StatusReport is `kubectl apic drr <gw> --status` (kind DRRStatus): every member's own row of
// `show gateway-peering-status` for every peering object.
type StatusReport struct {
	Gateway   string          `json:"gateway"`
	Namespace string          `json:"namespace"`
	Context   string          `json:"context,omitempty"`
	Domain    string          `json:"domain"`
	Rows      []StatusRow     `json:"rows"`
	Quorum    []PeeringQuorum `json:"quorum"`
	Errors    []string        `json:"errors,omitempty"`
	// Services is each member's apic-gw-service as `show apic-gw-service` shows it.
	Services []ServiceState `json:"services"`
	// DRR is the gateway's DRR journal (the lease's record of the last run).
	DRR Journal `json:"drr"`
	// LeftBehind is what a DRR left unfinished (a flushed peering, a disabled apic-gw-service);
	// Fix the command that finishes it.
	LeftBehind []string `json:"leftBehind,omitempty"`
	Fix        string   `json:"fix,omitempty"`
}

// ServiceState is one member's apic-gw-service.
type ServiceState struct {
	Member string `json:"member"`
	// AdminState is admin-state (enabled, disabled); "" when it could not be read.
	AdminState string `json:"adminState,omitempty"`
	// State is the operational state in the object's header (up, down).
	State string `json:"state,omitempty"`
}

// StatusRow is one member's row for one peering object, as that member reports it.
type StatusRow struct {
	Member            string `json:"member"`
	Address           string `json:"address"`
	Peering           string `json:"peering"`
	Owner             string `json:"owner,omitempty"`
	PendingUpdates    int64  `json:"pendingUpdates"`
	ReplicationOffset int64  `json:"replicationOffset"`
	LinkStatus        string `json:"linkStatus"`
	Primary           bool   `json:"primary"`
}

// PeeringQuorum is the quorum of one peering object.
type PeeringQuorum struct {
	Peering string `json:"peering"`
	QuorumState
}
