package apic

import "time"

// IBM's documented 2DCDR transition times (seed 002, "Failover of both management and portal
// subsystems"; apic-reference.md). The failover command plans and times out with them, status
// judges stuck demotions by them, and the lab's operator simulator scales them down.
const (
	ManagementPromoteDuration = 5 * time.Minute  // management warm-standby → active
	ManagementDemoteDuration  = 15 * time.Minute // management active → warm-standby
	PortalPromoteMinDuration  = 15 * time.Minute // portal warm-standby → active: 15–40 minutes
	PortalPromoteMaxDuration  = 40 * time.Minute
	PortalDemoteDuration      = 10 * time.Minute // portal active → warm-standby
	// PromotePeerDownDuration: promotion with the active site inaccessible "can take up to 30 minutes".
	PromotePeerDownDuration = 30 * time.Minute
)
