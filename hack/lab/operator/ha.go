package operator

import (
	"fmt"
	"time"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

// This file is the simulator of IBM's 2DCDR mode changes for one management or portal subsystem on
// one site (seed 002, "Failing over to the warm-standby"). It is pure: the reconciler feeds it the
// spec, the peer's haMode (read over the simulated inter-site link) and the clock, and renders what it
// returns into status.

// stage is where the simulated operator is in the documented failover sequence. Stages are the
// simulator's bookkeeping (status.simulator.stage); users and commands read status.haMode.
type stage string

const (
	stageActive stage = "Active"
	// stageDemotionBlocked: management demoted, haMode BlockedWarmStandbyConversion, waiting for the
	// peer to become active (seed 002 step 2-3).
	stageDemotionBlocked stage = "DemotionBlocked"
	// stageConverting: the peer is active; the demoted management copies the peer's data for the
	// documented active→warm-standby time, still showing BlockedWarmStandbyConversion.
	stageConverting stage = "Converting"
	// stageProgressingToPassive: portal demotion, haMode "progressing to passive" (seed 002 portal step 2).
	stageProgressingToPassive stage = "ProgressingToPassive"
	stageWarmStandby          stage = "WarmStandby"
	// stageReadyForPromotion: management warm-standby whose peer has demoted (seed 002 step 3).
	stageReadyForPromotion stage = "ReadyForPromotion"
	// stagePromoting: set active, for the documented warm-standby→active time.
	stagePromoting stage = "Promoting"
)

// haState is what the simulator remembers between reconciles (persisted in status).
type haState struct {
	Stage      stage
	Since      time.Time     // when Stage began
	PromoteFor time.Duration // how long the current promotion takes
	// PromotedAt is when the last promotion completed; the CP4I configurator simulation keys on it.
	PromotedAt time.Time
	// DivergedSince is when this active site first saw its peer active too (split-brain): the
	// site's data diverges from then on.
	DivergedSince time.Time
}

// haInput is what one reconcile knows.
type haInput struct {
	Sub       apic.Subsystem // Management or Portal
	Mode      string         // spec.multiSiteHA.mode
	Confirmed bool           // the data-deletion confirmation annotation is "true"
	LinkUp    bool
	// PeerHAMode is the peer's status.haMode, read only while the link is up; "" when unknown.
	PeerHAMode string
	Now        time.Time
	D          Durations // already scaled
}

func (in haInput) peerKnown() bool { return in.LinkUp && in.PeerHAMode != "" }

// stepHA applies every transition that is due now.
func stepHA(st haState, in haInput) haState {
	for i := 0; i < 8; i++ {
		n, moved := nextHA(st, in)
		st = n
		if !moved {
			break
		}
	}
	// Split-brain marker: both sites active and able to see each other. IBM's operator lets both run
	// (seed 002: "an active-active configuration must be avoided"); the simulator does too and only
	// records when the divergence was first seen. It is cleared once replication is one-way again.
	if st.Stage == stageActive && in.peerKnown() {
		if in.PeerHAMode == apic.HAModeActive {
			if st.DivergedSince.IsZero() {
				st.DivergedSince = in.Now
			}
		} else {
			st.DivergedSince = time.Time{}
		}
	}
	return st
}

func nextHA(st haState, in haInput) (haState, bool) {
	to := func(s stage) (haState, bool) {
		n := st
		n.Stage, n.Since, n.PromoteFor = s, in.Now, 0
		return n, true
	}
	promote := func() (haState, bool) {
		n, _ := to(stagePromoting)
		n.PromoteFor = in.D.warmStandbyToActive(in.Sub)
		if !in.peerKnown() && in.D.PromotionPeerDown > n.PromoteFor {
			// IBM: promotion while the active site is inaccessible can take up to 30 minutes.
			n.PromoteFor = in.D.PromotionPeerDown
		}
		return n, true
	}
	elapsed := in.Now.Sub(st.Since)
	active := in.Mode == apic.ModeActive

	switch st.Stage {
	case "":
		// A new CR starts in the mode it asks for; initial deployment is not what the lab exercises.
		if active {
			return to(stageActive)
		}
		return to(stageWarmStandby)
	case stageActive:
		if in.Mode != apic.ModePassive {
			return st, false
		}
		if in.Sub == apic.Management {
			if !in.Confirmed {
				// IBM requires the confirmation to demote management (seed 002 step 1): stay active.
				return st, false
			}
			return to(stageDemotionBlocked)
		}
		// Seed 002 shows no confirmation for the portal.
		return to(stageProgressingToPassive)
	case stageDemotionBlocked:
		if active {
			// IBM documents no revert of a demotion in progress; the simulator treats it as a promotion.
			return promote()
		}
		if in.peerKnown() && in.PeerHAMode == apic.HAModeActive {
			return to(stageConverting)
		}
	case stageConverting, stageProgressingToPassive:
		if active {
			return promote()
		}
		if elapsed >= in.D.activeToWarmStandby(in.Sub) {
			n, moved := to(stageWarmStandby)
			n.DivergedSince = time.Time{} // this site's data was replaced from the peer
			return n, moved
		}
	case stageWarmStandby:
		if active {
			// Promoted while the peer is still active: IBM warns this is a split-brain; the simulator
			// lets it happen so that commands must detect it.
			return promote()
		}
		if in.Sub == apic.Management && in.peerKnown() && apic.IsPassiveHAMode(in.PeerHAMode) {
			return to(stageReadyForPromotion)
		}
	case stageReadyForPromotion:
		if active {
			return promote()
		}
		if in.peerKnown() && !apic.IsPassiveHAMode(in.PeerHAMode) {
			return to(stageWarmStandby) // the peer went back to (or towards) active
		}
	case stagePromoting:
		if !active {
			// IBM documents no demotion of a promotion in progress; nothing was deleted yet, so the
			// simulator returns straight to warm-standby.
			return to(stageWarmStandby)
		}
		if elapsed >= st.PromoteFor {
			n, moved := to(stageActive)
			n.PromotedAt = in.Now
			return n, moved
		}
	default:
		// Unknown bookkeeping (hand-edited status): start over from the spec.
		n := st
		n.Stage = ""
		return n, true
	}
	return st, false
}

func (d Durations) warmStandbyToActive(sub apic.Subsystem) time.Duration {
	if sub == apic.Portal {
		return d.PortalWarmStandbyToActive
	}
	return d.ManagementWarmStandbyToActive
}

func (d Durations) activeToWarmStandby(sub apic.Subsystem) time.Duration {
	if sub == apic.Portal {
		return d.PortalActiveToWarmStandby
	}
	return d.ManagementActiveToWarmStandby
}

// Messages. Quoted ones are IBM's (seed 002, apic-reference.md); the others are the simulator's
// choices where IBM publishes no sample.
const (
	msgActiveDBReady      = "Active DB is ready"                // IBM
	msgWarmStandbyDBReady = "Warm Standby DB is ready"          // IBM
	msgManagementReady    = "Management is ready."              // IBM, prefix of the Ready MESSAGE
	msgPortalReady        = "Serving 1 site"                    // IBM's portal MESSAGE sample; the simulator models one portal site
	msgSeeHAStatus        = " - see HAStatus in CR for details" // IBM
	// msgMissingConfirmation is our choice: IBM documents that demotion needs the annotation but not
	// what the operator reports without it.
	msgMissingConfirmation = "Demotion to warm-standby not started: set annotation " +
		apic.DataDeletionConfirmationAnnotation + `: "true" to confirm deletion of this site's management data`
)

// haView is the rendered state: what `kubectl get mgmt` and the haStatus list show.
type haView struct {
	HAMode      string
	Phase       string
	HAType      string // the haStatus entry that is True
	HAMessage   string
	CondType    string // the condition that is True (its message is the MESSAGE column)
	CondMessage string
	Replication string
}

// Phases and condition types the simulator uses (apic-reference.md: Running, Blocked, Pending, Warning).
const (
	phaseRunning = "Running"
	phaseBlocked = "Blocked"
	phasePending = "Pending"
	phaseWarning = "Warning"

	condReady   = "Ready"
	condPending = "Pending"
	condWarning = "Warning"
)

// Replication states: the simulator's own status.replication.state, a hint for status commands
// (IBM exposes replication health only through its own tooling).
const (
	ReplicationReplicating      = "Replicating"
	ReplicationPeerNotReachable = "PeerNotReachable"
	ReplicationSplitBrain       = "SplitBrain"
	ReplicationResynchronizing  = "Resynchronizing"
	ReplicationStopped          = "Stopped"
)

// haStatusMessage is IBM's MESSAGE for a non-Ready HA status, e.g. "HA status PeerNotReachable - see
// HAStatus in CR for details".
func haStatusMessage(t string) string { return "HA status " + t + msgSeeHAStatus }

// peerNotReachableMessage is IBM's PeerNotReachable haStatus message, trailing slash included (the
// public 2DCDR lab: "Cannot communicate with replication peer FQDN https://mgmt-replication.<host>/").
func peerNotReachableMessage(peerFQDN string) string {
	return "Cannot communicate with replication peer FQDN https://" + peerFQDN + "/"
}

// blockedMessage is the BlockedWarmStandbyConversion haStatus message of the public 2DCDR lab, with
// its spelling ("ReadyForPromotion. phase") and without a final period.
func blockedMessage(remote, remoteHAMode string) string {
	return "Progressing to WarmStandby: Backend ms and DB is in shutdown mode. Remote is " + remote +
		". Remote HAMode is " + remoteHAMode + ". Expected it to be in either active or setup complete phase." +
		" If remote is in ReadyForPromotion. phase, continue with remote promotion"
}

func readyMessage(sub apic.Subsystem) string {
	if sub == apic.Portal {
		return msgPortalReady
	}
	return msgManagementReady + " " + haStatusMessage(apic.HAStatusReady)
}

// viewHA renders st; peerFQDN is the replication peer shown in IBM's messages.
func viewHA(st haState, in haInput, peerFQDN string) haView {
	remote := "https://" + peerFQDN + "/"
	peerMode := in.PeerHAMode
	if !in.peerKnown() {
		peerMode = "unknown"
	}
	v := haView{}
	switch st.Stage {
	case stageActive:
		v = haView{HAMode: apic.HAModeActive, Phase: phaseRunning, HAType: apic.HAStatusReady, HAMessage: msgActiveDBReady,
			CondType: condReady, CondMessage: readyMessage(in.Sub)}
	case stageWarmStandby:
		v = haView{HAMode: apic.HAModePassive, Phase: phaseRunning, HAType: apic.HAStatusReady, HAMessage: msgWarmStandbyDBReady,
			CondType: condReady, CondMessage: readyMessage(in.Sub)}
	case stageReadyForPromotion:
		v = haView{HAMode: apic.HAModeReadyForPromotion, Phase: phaseBlocked, HAType: apic.HAStatusReadyToPromote,
			HAMessage: fmt.Sprintf("Ready for promotion to active. Remote is %s. Remote HAMode is %s.", remote, peerMode)}
	case stageDemotionBlocked, stageConverting:
		// The public 2DCDR lab's message, verbatim with the remote's URL and haMode filled in
		// (fixture managementcluster-dc1-blocked-warm-standby-conversion). It was seen with the remote
		// ReadyForPromotion; the simulator shows the same words for every remote haMode and while it
		// copies the remote's data (our choice: no other sample).
		v = haView{HAMode: apic.HAModeBlockedWarmStandbyConversion, Phase: phaseBlocked, HAType: apic.HAStatusBlocked,
			HAMessage: blockedMessage(remote, peerMode)}
	case stageProgressingToPassive:
		v = haView{HAMode: apic.HAModeProgressingToPassive, Phase: phasePending, HAType: apic.HAStatusPending,
			HAMessage: "Progressing to passive. Remote is " + remote + "."}
	case stagePromoting:
		v = haView{HAMode: apic.HAModeProgressingToActive, Phase: phasePending, HAType: apic.HAStatusPending,
			HAMessage: fmt.Sprintf("Progressing to active. Remote is %s. Remote HAMode is %s.", remote, peerMode)}
	}
	if v.CondType == "" {
		v.CondType, v.CondMessage = condPending, haStatusMessage(v.HAType)
	}

	steady := st.Stage == stageActive || st.Stage == stageWarmStandby || st.Stage == stageReadyForPromotion
	if steady && !in.peerKnown() {
		// IBM: haStatus PeerNotReachable "Cannot communicate with replication peer FQDN https://…/",
		// MESSAGE "HA status PeerNotReachable - see HAStatus in CR for details"; haMode unchanged. The
		// public 2DCDR lab shows it True on a new site whose peer is not installed yet: the link up
		// and no peer CR (or none with a haMode yet) is the same as the link down.
		v.Phase, v.HAType = phaseWarning, apic.HAStatusPeerNotReachable
		v.HAMessage = peerNotReachableMessage(peerFQDN)
		v.CondType, v.CondMessage = condWarning, haStatusMessage(apic.HAStatusPeerNotReachable)
	}
	if st.Stage == stageActive && in.Sub == apic.Management && in.Mode == apic.ModePassive && !in.Confirmed {
		v.Phase, v.CondType, v.CondMessage = phaseWarning, condWarning, msgMissingConfirmation
	}

	switch {
	case !in.LinkUp, v.HAType == apic.HAStatusPeerNotReachable:
		v.Replication = ReplicationPeerNotReachable
	case st.Stage == stageActive && in.PeerHAMode == apic.HAModeActive:
		v.Replication = ReplicationSplitBrain
	case st.Stage == stageConverting:
		v.Replication = ReplicationResynchronizing
	case st.Stage == stageActive && apic.IsPassiveHAMode(in.PeerHAMode),
		(st.Stage == stageWarmStandby || st.Stage == stageReadyForPromotion) && in.PeerHAMode == apic.HAModeActive:
		v.Replication = ReplicationReplicating
	default:
		v.Replication = ReplicationStopped
	}
	return v
}
