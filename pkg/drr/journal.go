package drr

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-apic/kubectl-apic/pkg/lock"
)

// The DRR journal is a few annotations on the gateway's DRR Lease (LeaseName, in the gateway's
// namespace), the same mechanism as failover's journal (pkg/failover/journal.go, pkg/lock's
// Annotate): which step the last DRR reached, whether it flushed the apic-gw-service peering, and
// how it ended. It survives the lease's release and a crash of the run, so that `drr --status`,
// `status --peering` and a re-run can tell "a DRR flushed this gateway and never finished" from a
// healthy gateway. The device cannot tell that: no DataPower property says a peering was flushed.
const (
	journalPrefix  = "drr.kubectl-apic.io/"
	JournalState   = journalPrefix + "state"
	JournalStep    = journalPrefix + "step"
	JournalFlushed = journalPrefix + "flushed"
	JournalStarted = journalPrefix + "started"
	JournalPeering = journalPrefix + "peering"
	JournalBy      = journalPrefix + "by"
)

// Journal states.
const (
	JournalRunning     = "running"
	JournalSucceeded   = "succeeded"
	JournalFailed      = "failed"
	JournalInterrupted = "interrupted"
)

// LeasePrefix starts the name of every gateway's DRR Lease.
const LeasePrefix = "apic-drr-"

// LeaseName is the Lease that serialises DRRs of gateway and keeps their journal.
func LeaseName(gateway string) string { return LeasePrefix + gateway }

// Journal is the record of a gateway's last DRR (field names are a stable schema, docs/drr-schema.md).
type Journal struct {
	// State is running, succeeded, failed or interrupted; "" when no DRR was recorded.
	State string `json:"state,omitempty"`
	// Step is the step the run was in (or failed in).
	Step string `json:"step,omitempty"`
	// Flushed: the run sent (or was about to send) gateway-peering-flush, and no run finished the
	// DRR since: the gateway service may hold no configuration from the management server.
	Flushed bool   `json:"flushed"`
	Started string `json:"started,omitempty"`
	Peering string `json:"peering,omitempty"`
	// By is who ran it (user@host pid N (command)).
	By string `json:"by,omitempty"`
	// Holder is the live run holding the lease now ("" when none, or its lease expired).
	Holder string `json:"holder,omitempty"`
	// Expires is when a held lease expires if its run is gone.
	Expires *time.Time `json:"expires,omitempty"`
}

// JournalFromLease reads the journal on le (nil: none); now tells a live holder from an expired one.
func JournalFromLease(le *coordinationv1.Lease, now time.Time) Journal {
	if le == nil {
		return Journal{}
	}
	a := le.Annotations
	j := Journal{State: a[JournalState], Step: a[JournalStep], Flushed: a[JournalFlushed] == "true",
		Started: a[JournalStarted], Peering: a[JournalPeering], By: a[JournalBy]}
	if h, exp, live := lock.LiveHolder(le, now); live {
		j.Holder, j.Expires = h.String(), &exp
	}
	return j
}

// ReadJournal reads gateway's DRR journal in namespace (an empty Journal when there is no lease).
func ReadJournal(ctx context.Context, kube kubernetes.Interface, namespace, gateway string, now time.Time) (Journal, error) {
	le, err := lock.Inspect(ctx, lock.Target{Client: kube, Namespace: namespace}, LeaseName(gateway))
	if err != nil {
		return Journal{}, err
	}
	return JournalFromLease(le, now), nil
}

// InProgress reports whether a live run holds the lease.
func (j Journal) InProgress() bool { return j.Holder != "" }

// Unfinished reports whether a DRR flushed the gateway's peering and nobody finished it: no run
// holds the lease and the last one did not succeed.
func (j Journal) Unfinished() bool {
	return j.Flushed && j.State != JournalSucceeded && !j.InProgress()
}

// Describe says what the journal records, for messages.
func (j Journal) Describe() string {
	if j.State == "" {
		return "no DRR recorded"
	}
	s := fmt.Sprintf("DRR %s", j.State)
	if j.Step != "" {
		s += " at step " + j.Step
	}
	if j.State == JournalRunning && !j.InProgress() {
		s = fmt.Sprintf("DRR stopped at step %s without recording an end (the run was killed or lost its lease)", cmp.Or(j.Step, "(none)"))
	}
	var more []string
	if j.Started != "" {
		more = append(more, "started "+j.Started)
	}
	if j.By != "" {
		more = append(more, "by "+j.By)
	}
	if len(more) > 0 {
		s += " (" + strings.Join(more, " ") + ")"
	}
	return s
}

// FinishCommand is the command that finishes (or redoes) the DRR of gateway: a re-run.
func FinishCommand(gateway, namespace, context string) string {
	cmd := "kubectl apic drr " + gateway + " -n " + namespace
	if context != "" {
		cmd += " --context " + context
	}
	return cmd + " --yes"
}

// Left describes what a DRR left behind on the gateway: an unfinished DRR from the journal, and
// members whose apic-gw-service the device shows disabled (admin-state maps member → the state
// `show apic-gw-service` printed; "" unknown). It returns nothing when nothing was left.
func Left(j Journal, adminState map[string]string, members []string) []string {
	var out []string
	if j.Unfinished() {
		out = append(out, fmt.Sprintf("left mid-DRR: %s; the run recorded flushing gateway peering %s (before sending it) and no run finished the DRR since, so the gateway service may hold no configuration from the management server",
			j.Describe(), cmp.Or(j.Peering, "(none)")))
	}
	for _, m := range members {
		if strings.EqualFold(adminState[m], "disabled") {
			out = append(out, fmt.Sprintf("member %s: apic-gw-service admin-state is disabled (show apic-gw-service): it is not registered with the management server", m))
		}
	}
	return out
}

// journalStart is the record of a run starting: a fresh DRR, or one finishing an unfinished one
// (which stays flushed until this run succeeds).
func journalStart(peering, started, by string, prev Journal) map[string]string {
	flushed := ""
	if prev.Flushed && prev.State != JournalSucceeded {
		flushed = "true"
	}
	return map[string]string{JournalState: JournalRunning, JournalStep: StepPreflight, JournalFlushed: flushed,
		JournalStarted: started, JournalPeering: peering, JournalBy: by}
}

// journalStep records the step being entered; entering flush records the flush before it is sent.
func journalStep(step string) map[string]string {
	kv := map[string]string{JournalStep: step}
	if step == StepFlush {
		kv[JournalFlushed] = "true"
	}
	return kv
}

// journalEnd records how the run ended; success clears the flush.
func journalEnd(state string) map[string]string {
	kv := map[string]string{JournalState: state}
	if state == JournalSucceeded {
		kv[JournalFlushed] = ""
	}
	return kv
}

// StepJournal records the step a run enters (Guard implements it on the lease).
type StepJournal interface {
	Step(ctx context.Context, step string) error
}

// mark records step in the journal before it starts. Before the flush a failure to record stops
// the run (nothing was flushed: the journal must know before the device does); later it warns.
func (r *Runner) mark(ctx context.Context, step string) error {
	if r.cfg.Probe != nil {
		r.cfg.Probe.Phase("", step)
	}
	if r.cfg.Journal == nil {
		return nil
	}
	err := r.cfg.Journal.Step(ctx, step)
	if err == nil {
		return nil
	}
	if step == StepFlush {
		return fmt.Errorf("recording the flush in the DRR journal (lease %s) failed, so nothing was flushed: %w", LeaseName(r.cfg.Gateway), err)
	}
	if r.cfg.Progress != nil {
		r.cfg.Progress.Warnf("could not record step %s in the DRR journal (lease %s): %v", step, LeaseName(r.cfg.Gateway), err)
	}
	return nil
}
