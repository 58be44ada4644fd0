package operator

import (
	"time"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

// Durations are how long the simulated operator takes for each documented 2DCDR transition, before
// Options.TimeScale is applied.
type Durations struct {
	// Seed 002, "Failover of both management and portal subsystems": approximate timings.
	ManagementWarmStandbyToActive time.Duration // "warm-standby to active: 5 minutes"
	ManagementActiveToWarmStandby time.Duration // "active to warm-standby: 15 minutes"
	// IBM documents 15-40 minutes; the simulator uses the lower bound so lab runs stay short.
	PortalWarmStandbyToActive time.Duration
	PortalActiveToWarmStandby time.Duration // "active to warm-standby: 10 minutes"
	// PromotionPeerDown is the promotion time when the active site cannot be reached: IBM says
	// promotion with the active site inaccessible "can take up to 30 minutes"; the simulator takes
	// the full 30.
	PromotionPeerDown time.Duration
}

// DocumentedDurations returns IBM's documented timings (seed 002, apic-reference.md).
func DocumentedDurations() Durations {
	return Durations{
		ManagementWarmStandbyToActive: apic.ManagementPromoteDuration,
		ManagementActiveToWarmStandby: apic.ManagementDemoteDuration,
		PortalWarmStandbyToActive:     apic.PortalPromoteMinDuration,
		PortalActiveToWarmStandby:     apic.PortalDemoteDuration,
		PromotionPeerDown:             apic.PromotePeerDownDuration,
	}
}

// DefaultTimeScale turns IBM's minutes into lab seconds: 5 minutes become 1 second.
const DefaultTimeScale = 1.0 / 300

// scale multiplies every duration by f.
func (d Durations) scale(f float64) Durations {
	s := func(x time.Duration) time.Duration { return time.Duration(float64(x) * f) }
	return Durations{
		ManagementWarmStandbyToActive: s(d.ManagementWarmStandbyToActive),
		ManagementActiveToWarmStandby: s(d.ManagementActiveToWarmStandby),
		PortalWarmStandbyToActive:     s(d.PortalWarmStandbyToActive),
		PortalActiveToWarmStandby:     s(d.PortalActiveToWarmStandby),
		PromotionPeerDown:             s(d.PromotionPeerDown),
	}
}
