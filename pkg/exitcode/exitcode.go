// Package exitcode defines the process exit codes of every kubectl-apic command, in one table that
// is also rendered to docs/exit-codes.md, and an error type that carries a code up to main.
//
// Library code returns errors; only main turns them into an exit status:
//
//	if err := cmd.Execute(); err != nil {
//		fmt.Fprintln(os.Stderr, "error:", err)
//		os.Exit(int(exitcode.FromError(err)))
//	}
//
// A command that fails in a known way wraps its error with the code that tells scripts what happened:
//
//	return exitcode.Newf(exitcode.Refused, "site dc2 is not ready for promotion (haMode=%s)", mode)
//
// A command that checks several things combines the outcomes with Worst.
package exitcode

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Code is a process exit status.
type Code int

// The exit codes. Keep All() in step when adding one: it is the documentation.
const (
	OK          Code = 0
	Error       Code = 1
	Usage       Code = 2
	Degraded    Code = 3
	Critical    Code = 4
	Refused     Code = 5
	Timeout     Code = 6
	Unreachable Code = 7
	// ProbeBreached: a traffic probe's gate stopped a mutating command at a safe point.
	ProbeBreached Code = 8

	// Failover phases.
	DemoteFailed       Code = 10
	PromoteFailed      Code = 11
	PostFailoverFailed Code = 12

	// DataPower DRR phases.
	DRRPrimaryFailed      Code = 20
	DRRFlushFailed        Code = 21
	DRRServiceCycleFailed Code = 22
	DRRRegistrationFailed Code = 23

	// Spread phases.
	SpreadApplyFailed Code = 30

	// Rollout phases (per member: PRECHECK ... PROBE; the hooks; the spec change).
	RolloutPrecheckFailed      Code = 40
	RolloutSwitchPrimaryFailed Code = 41
	RolloutRestartFailed       Code = 42
	RolloutReadyFailed         Code = 43
	RolloutRejoinFailed        Code = 44
	RolloutVerifyFailed        Code = 45
	RolloutProbeFailed         Code = 46
	RolloutHookFailed          Code = 47
	RolloutSpecChangeFailed    Code = 48

	// Interrupted follows the shell convention 128+SIGINT.
	Interrupted Code = 130
)

// Command names used in the Commands column. These are the plugin names (kubectl apic <name>).
const (
	cmdStatus   = "status"
	cmdFailover = "failover"
	cmdDRR      = "drr"
	cmdSpread   = "spread"
	cmdRollout  = "rollout"
)

// Info documents one exit code. An empty Commands means every command may return it.
type Info struct {
	Code     Code
	Name     string
	Meaning  string
	Commands []string
}

// All is the single source of truth for exit codes, in ascending order.
func All() []Info {
	mutating := []string{cmdFailover, cmdDRR, cmdSpread, cmdRollout}
	return []Info{
		{OK, "OK", "Success; for checks: everything healthy.", nil},
		{Error, "Error", "An error not covered by a more specific code (API error, bad cluster state, bug).", nil},
		{Usage, "Usage", "Invalid arguments or flags, or a kubeconfig context that does not exist.", nil},
		{Degraded, "Degraded", "Checks found warnings (e.g. a replica not ready, pods not spread over zones); nothing is down.", []string{cmdStatus, cmdSpread, cmdDRR}},
		{Critical, "Critical", "Checks found a critical problem: split-brain (two active sites), lost quorum, no active site.", []string{cmdStatus, cmdSpread, cmdDRR}},
		{Refused, "Refused", "A safety check refused a mutating command; nothing was changed.", mutating},
		{Timeout, "Timeout", "The command's deadline passed before the operation finished; the cluster may be mid-change.", nil},
		{Unreachable, "Unreachable", "A site (kubeconfig context) could not be reached: connection refused, DNS, TLS or network timeout.", nil},
		{ProbeBreached, "ProbeBreached", "A traffic probe gate (--max-error-rate, --max-gap, or --probe-cmd exiting 99) was breached; the command stopped at the next safe point (before the next member or step), so the cluster may be mid-change.", []string{cmdFailover, cmdDRR, cmdRollout}},
		{DemoteFailed, "DemoteFailed", "Failover: demoting the active site to passive failed.", []string{cmdFailover}},
		{PromoteFailed, "PromoteFailed", "Failover: the old active site was demoted but promoting the passive site failed; no site may be active.", []string{cmdFailover}},
		{PostFailoverFailed, "PostFailoverFailed", "Failover: promotion succeeded but a post-failover step (e.g. configurator job, verification) failed.", []string{cmdFailover}},
		{DRRPrimaryFailed, "DRRPrimaryFailed", "DRR: gateway-peering-switch-primary on the peering failed.", []string{cmdDRR}},
		{DRRFlushFailed, "DRRFlushFailed", "DRR: gateway-peering-flush on the peering failed.", []string{cmdDRR}},
		{DRRServiceCycleFailed, "DRRServiceCycleFailed", "DRR: disabling/re-enabling apic-gw-service on a member failed.", []string{cmdDRR}},
		{DRRRegistrationFailed, "DRRRegistrationFailed", "DRR: the gateway service did not re-register with the management server.", []string{cmdDRR}},
		{SpreadApplyFailed, "SpreadApplyFailed", "Spread: applying the zone-spread affinity to the gateway failed; the gateway may be partly rolled.", []string{cmdSpread}},
		{RolloutPrecheckFailed, "RolloutPrecheckFailed", "Rollout: a member's pre-check (quorum on every peering object would not survive its absence, or peering unhealthy) stopped the rollout before that member; the members before it are done, nothing else was touched.", []string{cmdRollout}},
		{RolloutSwitchPrimaryFailed, "RolloutSwitchPrimaryFailed", "Rollout: gateway-peering-switch-primary away from the member failed; the member was not restarted.", []string{cmdRollout}},
		{RolloutRestartFailed, "RolloutRestartFailed", "Rollout: deleting the member's pod failed, or the StatefulSet did not recreate it in time.", []string{cmdRollout}},
		{RolloutReadyFailed, "RolloutReadyFailed", "Rollout: the recreated member did not become Ready in time; the members after it were not touched.", []string{cmdRollout}},
		{RolloutRejoinFailed, "RolloutRejoinFailed", "Rollout: the member did not rejoin gateway peering (link ok, no pending updates, one primary per peering object) in time.", []string{cmdRollout}},
		{RolloutVerifyFailed, "RolloutVerifyFailed", "Rollout: the member does not run what it should (StatefulSet revision, product version, configuration, --verify-cmd).", []string{cmdRollout}},
		{RolloutProbeFailed, "RolloutProbeFailed", "Rollout: the member's availability window failed (traffic probe gate or --probe-cmd) after its restart.", []string{cmdRollout}},
		{RolloutHookFailed, "RolloutHookFailed", "Rollout: a --drain-hook, --undrain-hook or --smoke-cmd exited non-zero; the rollout stopped there.", []string{cmdRollout}},
		{RolloutSpecChangeFailed, "RolloutSpecChangeFailed", "Rollout: saving the GatewayCluster spec (EXPORT) or applying the spec change (upgrade version, undo) failed.", []string{cmdRollout}},
		{Interrupted, "Interrupted", "Interrupted (Ctrl-C / SIGINT, or the context was cancelled); the cluster may be mid-change.", nil},
	}
}

// Lookup returns the documentation of c.
func Lookup(c Code) (Info, bool) {
	for _, i := range All() {
		if i.Code == c {
			return i, true
		}
	}
	return Info{}, false
}

// String is the code's name, e.g. "Refused".
func (c Code) String() string {
	if i, ok := Lookup(c); ok {
		return i.Name
	}
	return fmt.Sprintf("Code(%d)", int(c))
}

// Severity orders codes for Worst, lowest first. Health outcomes rank below failures of the
// command itself: a check that could not reach a site (Unreachable) is worse than one that found
// warnings, but better than one that found split-brain. Any failure of the command outranks every
// health outcome, a partial change (phase codes) outranks a refusal that changed nothing, and an
// interrupt outranks everything because the user asked to stop.
func Severity() []Code {
	return []Code{OK, Degraded, Unreachable, Critical, Timeout, Error, Usage, Refused, ProbeBreached,
		DemoteFailed, PromoteFailed, PostFailoverFailed,
		DRRPrimaryFailed, DRRFlushFailed, DRRServiceCycleFailed, DRRRegistrationFailed,
		SpreadApplyFailed, RolloutPrecheckFailed, RolloutSwitchPrimaryFailed, RolloutRestartFailed, RolloutReadyFailed,
		RolloutRejoinFailed, RolloutVerifyFailed, RolloutProbeFailed, RolloutHookFailed, RolloutSpecChangeFailed, Interrupted}
}

func rank(c Code) int {
	for i, s := range Severity() {
		if s == c {
			return i
		}
	}
	return rank(Error) // undocumented codes count as generic errors
}

// Worst returns the most severe of codes by Severity(); OK when none is given. Between phase codes
// (which a single command never produces together) the later phase wins.
func Worst(codes ...Code) Code {
	worst := OK
	for _, c := range codes {
		if rank(c) > rank(worst) {
			worst = c
		}
	}
	return worst
}

// ExitError is an error carrying the exit code main should use. (It is not called Error because
// that is the name of the generic code.)
type ExitError struct {
	Code Code
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		if i, ok := Lookup(e.Code); ok {
			return strings.TrimSuffix(i.Meaning, ".")
		}
		return e.Code.String()
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// New wraps err with code. New(OK, nil) is nil; a nil err with another code still yields an error
// whose message is the code's meaning.
func New(code Code, err error) error {
	if err == nil && code == OK {
		return nil
	}
	return &ExitError{Code: code, Err: err}
}

// Newf is New with a formatted error; %w works.
func Newf(code Code, format string, args ...any) error {
	return &ExitError{Code: code, Err: fmt.Errorf(format, args...)}
}

// FromError is the exit code for err: nil is OK; the outermost *ExitError in the chain gives its
// code; otherwise a deadline is Timeout, a cancellation Interrupted, anything else Error.
func FromError(err error) Code {
	if err == nil {
		return OK
	}
	var e *ExitError
	if errors.As(err, &e) {
		return e.Code
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return Timeout
	case errors.Is(err, context.Canceled):
		return Interrupted
	}
	return Error
}

// UsageError marks err (an argument or flag problem) as Usage. It returns nil for nil.
func UsageError(err error) error {
	if err == nil {
		return nil
	}
	return New(Usage, err)
}

// UsageErrorf is a formatted UsageError.
func UsageErrorf(format string, args ...any) error { return Newf(Usage, format, args...) }
