package status

// The StatusReport document (-o json|yaml): types only, documented in docs/status-schema.md and
// changed together with it. The judgement that fills them is in report.go.

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-apic/kubectl-apic/pkg/hastate"
)

// ReportKind is the kind of the -o json|yaml document (apiVersion printers.APIVersion). The schema
// is documented in docs/status-schema.md; change both together.
const ReportKind = "StatusReport"

// Health is the report's overall verdict.
type Health string

const (
	Healthy     Health = "Healthy"
	Degraded    Health = "Degraded"
	Critical    Health = "Critical"
	Unreachable Health = "Unreachable"
	Failed      Health = "Error"
)

// Finding codes added by this command (hastate's codes are used as they are).
const (
	FindingSiteUnreachable   = hastate.SiteUnreachable
	FindingSiteError         = "SiteError"
	FindingNoObjects         = "NoAPIConnectObjects"
	FindingFewGateways       = "FewGateways"
	FindingTemplateOverrides = "TemplateOverrides"
	FindingLegacyTemplate    = "TemplateAtOldLocation"
	FindingDataPowerWarning  = "DataPowerServiceWarning"
	FindingConfiguratorJob   = "ConfiguratorJobFailed"
	FindingSubsystemNotReady = "SubsystemNotReady"
	FindingQuorumLost        = "QuorumLost"
	FindingZoneRisk          = "ZoneRisk"
	FindingZones             = "ZoneLayout"
	FindingPeeringQuorumLost = "PeeringQuorumLost"
	FindingPeeringLinkDown   = "PeeringLinkDown"
	FindingPeeringUnreadable = "PeeringUnreadable"
	FindingKindNotInstalled  = "KindNotInstalled"
	FindingClustersUnknown   = "ClusterIdentityUnknown"
)

// Report is the StatusReport document.
type Report struct {
	// GeneratedAt is when the report was computed.
	GeneratedAt metav1.Time `json:"generatedAt"`
	// Health is Healthy, Degraded, Critical, Unreachable or Error; ExitCode the process exit code.
	Health   Health       `json:"health"`
	ExitCode int          `json:"exitCode"`
	Sites    []SiteReport `json:"sites"`
	Pairs    []PairReport `json:"pairs"`
	Findings []Finding    `json:"findings"`
}

// Finding is one thing wrong or worth knowing, with its fix. Severity is INFO, WARNING or CRITICAL.
type Finding struct {
	Severity  string `json:"severity"`
	Code      string `json:"code"`
	Subsystem string `json:"subsystem,omitempty"`
	Site      string `json:"site,omitempty"`
	Message   string `json:"message"`
	Fix       string `json:"fix,omitempty"`
}

// SiteReport is one kubeconfig context.
type SiteReport struct {
	Name      string `json:"name"`
	Server    string `json:"server,omitempty"`
	Namespace string `json:"namespace"` // "" with -A
	Reachable bool   `json:"reachable"`
	// Error says why the site could not be read (then Reachable may still be true, e.g. RBAC).
	Error        string          `json:"error,omitempty"`
	MissingKinds []string        `json:"missingKinds,omitempty"`
	Subsystems   []SubsystemInfo `json:"subsystems"`
	Gateways     []GatewayInfo   `json:"gateways"`
	Zones        *ZoneReport     `json:"zones,omitempty"`
}

// SubsystemInfo is one API Connect custom resource (subsystem CR, APIConnectCluster, DataPowerService).
type SubsystemInfo struct {
	Kind              string      `json:"kind"`
	Name              string      `json:"name"`
	Namespace         string      `json:"namespace"`
	Version           string      `json:"version,omitempty"`
	ReconciledVersion string      `json:"reconciledVersion,omitempty"`
	Phase             string      `json:"phase,omitempty"`
	Ready             string      `json:"ready,omitempty"`
	Mode              string      `json:"mode,omitempty"`
	HAMode            string      `json:"haMode,omitempty"`
	HAStatus          string      `json:"haStatus,omitempty"`
	HAMessage         string      `json:"haMessage,omitempty"`
	Message           string      `json:"message,omitempty"`
	CreationTimestamp metav1.Time `json:"creationTimestamp"`
}

// GatewayInfo is one GatewayCluster and its pods.
type GatewayInfo struct {
	Name      string       `json:"name"`
	Namespace string       `json:"namespace"`
	Replicas  int          `json:"replicas"`
	Pods      []PodInfo    `json:"pods"`
	Peering   *PeeringInfo `json:"peering,omitempty"`
}

// PodInfo is one gateway pod.
type PodInfo struct {
	Name     string `json:"name"`
	Node     string `json:"node,omitempty"`
	Zone     string `json:"zone,omitempty"`
	IP       string `json:"ip,omitempty"`
	Phase    string `json:"phase"`
	Ready    bool   `json:"ready"`
	Restarts int32  `json:"restarts"`
}

// PeeringInfo is the gateway-peering state read from every member with --peering.
type PeeringInfo struct {
	Objects []PeeringObject `json:"objects"`
	// Errors are the members that could not be read, by pod.
	Errors map[string]string `json:"errors,omitempty"`
}

// PeeringObject is one peering object (gwd, tms, subs, rate-limit, api-probe, ...) as its
// members see it.
type PeeringObject struct {
	Name           string `json:"name"`
	Primary        string `json:"primary,omitempty"`
	Members        int    `json:"members"`
	LinksOK        int    `json:"linksOK"`
	PendingUpdates int64  `json:"pendingUpdates"`
	Quorum         bool   `json:"quorum"`
	Reason         string `json:"reason,omitempty"`
	// Disagree is set when members report different primaries.
	Disagree bool `json:"disagree,omitempty"`
}

// ZoneReport is pkg/zones' analysis of one site.
type ZoneReport struct {
	Zones    []string    `json:"zones"`
	Groups   []ZoneGroup `json:"groups"`
	Problems []string    `json:"problems,omitempty"`
}

// ZoneGroup is one group of pods that must keep quorum.
type ZoneGroup struct {
	Name      string         `json:"name"`
	Subsystem string         `json:"subsystem"`
	Kind      string         `json:"kind"`
	Members   int            `json:"members"`
	Ready     int            `json:"ready"`
	Quorum    int            `json:"quorum"`
	InQuorum  bool           `json:"inQuorum"`
	PerZone   map[string]int `json:"perZone"`
	AtRisk    []string       `json:"atRisk,omitempty"`
}

// PairReport is one management or portal subsystem across sites (2DCDR).
type PairReport struct {
	Subsystem   string       `json:"subsystem"`
	Name        string       `json:"name"`
	Active      []string     `json:"active"`
	Members     []PairMember `json:"members"`
	Unreachable []string     `json:"unreachable,omitempty"`
}

// PairMember is one site's side.
type PairMember struct {
	Site        string      `json:"site"`
	Name        string      `json:"name"`
	SpecRef     string      `json:"specRef"`
	Mode        string      `json:"mode"`
	HAMode      string      `json:"haMode"`
	HAStatus    string      `json:"haStatus"`
	HAMessage   string      `json:"haMessage,omitempty"`
	Phase       string      `json:"phase"`
	Replicating bool        `json:"replicating"`
	Since       metav1.Time `json:"since,omitempty"`
}
