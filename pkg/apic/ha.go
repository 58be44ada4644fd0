package apic

import (
	"encoding/json"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Documented spec.multiSiteHA.mode values.
const (
	ModeActive  = "active"
	ModePassive = "passive"
)

// Documented status.haMode values and haStatus types (seed 002, apic-reference.md). Portal's
// "progressing to passive" is quoted from IBM's portal failover steps; IBM lists no other portal
// passive states, so IsPassiveHAMode accepts any value that contains "passive".
const (
	HAModeActive                       = "active"
	HAModePassive                      = "passive"
	HAModeBlockedWarmStandbyConversion = "BlockedWarmStandbyConversion"
	HAModeReadyForPromotion            = "ReadyForPromotion"
	HAModeProgressingToPassive         = "progressing to passive"
	// HAModeProgressingToActive is our simulator's name for the promotion in progress; IBM's
	// documentation does not name that state.
	HAModeProgressingToActive = "progressing to active"

	HAStatusReady            = "Ready"
	HAStatusPeerNotReachable = "PeerNotReachable"
	HAStatusPending          = "Pending"
	HAStatusWarning          = "Warning"
	HAStatusBlocked          = HAModeBlockedWarmStandbyConversion
	HAStatusReadyToPromote   = HAModeReadyForPromotion
)

// IsPassiveHAMode reports whether haMode is passive or one of the documented states on the way to it.
func IsPassiveHAMode(m string) bool {
	switch m {
	case HAModePassive, HAModeBlockedWarmStandbyConversion, HAModeReadyForPromotion, HAModeProgressingToPassive:
		return true
	}
	return strings.Contains(strings.ToLower(m), "passive")
}

// MultiSiteHA is spec.multiSiteHA (on a subsystem CR) or spec.<subsystem>.multiSiteHA (top-level CR).
type MultiSiteHA struct {
	Mode                string `json:"mode,omitempty"`
	ReplicationPeerFQDN string `json:"replicationPeerFQDN,omitempty"`
	SiteName            string `json:"siteName,omitempty"`
}

// IsTopLevel reports whether o is the top-level APIConnectCluster.
func (o Object) IsTopLevel() bool { return o.Kind.Kind == APIConnectClusterKind.Kind }

// SubsystemPath is the path of subsystem sub's section inside this object's spec: ["spec"] on a
// subsystem CR, ["spec", "<subsystem>"] on the top-level CR.
func (o Object) SubsystemPath(sub Subsystem) ([]string, error) {
	if o.IsTopLevel() {
		return []string{"spec", string(sub)}, nil
	}
	if o.Kind.Subsystem != sub {
		return nil, fmt.Errorf("%s does not configure the %s subsystem", o.Ref(), sub)
	}
	return []string{"spec"}, nil
}

// MultiSiteHA reads the multi-site HA settings of sub; ok is false when the section is absent.
func (o Object) MultiSiteHA(sub Subsystem) (MultiSiteHA, bool) {
	base, err := o.SubsystemPath(sub)
	if err != nil {
		return MultiSiteHA{}, false
	}
	m, found, _ := unstructured.NestedMap(o.U.Object, append(base, "multiSiteHA")...)
	if !found {
		return MultiSiteHA{}, false
	}
	ha := MultiSiteHA{}
	ha.Mode, _ = m["mode"].(string)
	ha.ReplicationPeerFQDN, _ = m["replicationPeerFQDN"].(string)
	ha.SiteName, _, _ = unstructured.NestedString(o.U.Object, append(base, "siteName")...)
	return ha, true
}

// HASubsystems lists the subsystems this object configures for 2DCDR (management, portal).
func (o Object) HASubsystems() []Subsystem {
	var out []Subsystem
	for _, s := range []Subsystem{Management, Portal} {
		if _, ok := o.MultiSiteHA(s); ok {
			out = append(out, s)
		}
	}
	return out
}

// SetMultiSiteHAMode sets the mode of sub in place (for read-modify-write callers and the simulator).
func (o Object) SetMultiSiteHAMode(sub Subsystem, mode string) error {
	base, err := o.SubsystemPath(sub)
	if err != nil {
		return err
	}
	return unstructured.SetNestedField(o.U.Object, mode, append(base, "multiSiteHA", "mode")...)
}

// ModePatch is the merge patch IBM documents for changing a site's mode (seed 002). Demoting
// management carries the data-deletion confirmation annotation, which the operator requires because
// demotion deletes that site's management database; IBM's portal steps change the mode only.
func ModePatch(k Kind, sub Subsystem, mode string) ([]byte, error) {
	ha := map[string]interface{}{"multiSiteHA": map[string]interface{}{"mode": mode}}
	spec := ha
	if k.Kind == APIConnectClusterKind.Kind {
		spec = map[string]interface{}{string(sub): ha}
	} else if k.Subsystem != sub {
		return nil, fmt.Errorf("%s does not configure the %s subsystem", k.Display(), sub)
	}
	patch := map[string]interface{}{"spec": spec}
	if mode == ModePassive && sub == Management {
		patch["metadata"] = map[string]interface{}{
			"annotations": map[string]interface{}{DataDeletionConfirmationAnnotation: "true"},
		}
	}
	return json.Marshal(patch)
}
