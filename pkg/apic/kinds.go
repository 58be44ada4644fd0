// Package apic is the API Connect resource model: the custom resources IBM's operators serve, their
// GroupVersionResources, and typed read/write views over unstructured objects.
//
// Objects stay unstructured underneath so that fields IBM adds (or that we do not know) survive every
// read-modify-write; the views only read and set the documented fields. The facts used here come from
// IBM's documentation as gathered in shared/apic-reference.md.
package apic

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Subsystem is an API Connect subsystem.
type Subsystem string

const (
	Management Subsystem = "management"
	Portal     Subsystem = "portal"
	Gateway    Subsystem = "gateway"
	Analytics  Subsystem = "analytics"
)

// Subsystems lists the subsystems in the order IBM documents operations on them.
func Subsystems() []Subsystem { return []Subsystem{Management, Portal, Analytics, Gateway} }

// Kind describes one API Connect custom resource kind.
type Kind struct {
	Kind      string // e.g. ManagementCluster
	Plural    string // e.g. managementclusters
	Singular  string
	ShortName string // e.g. mgmt; empty where IBM documents none
	Group     string
	Version   string
	// Subsystem is the subsystem a subsystem CR deploys; empty for APIConnectCluster and DataPowerService.
	Subsystem Subsystem
}

// GVR is the kind's GroupVersionResource.
func (k Kind) GVR() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: k.Group, Version: k.Version, Resource: k.Plural}
}

// GVK is the kind's GroupVersionKind.
func (k Kind) GVK() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: k.Group, Version: k.Version, Kind: k.Kind}
}

// APIVersion is group/version as written in manifests.
func (k Kind) APIVersion() string { return k.Group + "/" + k.Version }

// Display is the name users type: the short name where there is one.
func (k Kind) Display() string {
	if k.ShortName != "" {
		return k.ShortName
	}
	return k.Singular
}

// The API Connect kinds (groups and versions from shared/apic-reference.md).
var (
	ManagementClusterKind = Kind{Kind: "ManagementCluster", Plural: "managementclusters", Singular: "managementcluster",
		ShortName: "mgmt", Group: "management.apiconnect.ibm.com", Version: "v1beta1", Subsystem: Management}
	PortalClusterKind = Kind{Kind: "PortalCluster", Plural: "portalclusters", Singular: "portalcluster",
		ShortName: "ptl", Group: "portal.apiconnect.ibm.com", Version: "v1beta1", Subsystem: Portal}
	GatewayClusterKind = Kind{Kind: "GatewayCluster", Plural: "gatewayclusters", Singular: "gatewaycluster",
		ShortName: "gw", Group: "gateway.apiconnect.ibm.com", Version: "v1beta1", Subsystem: Gateway}
	AnalyticsClusterKind = Kind{Kind: "AnalyticsCluster", Plural: "analyticsclusters", Singular: "analyticscluster",
		ShortName: "a7s", Group: "analytics.apiconnect.ibm.com", Version: "v1beta1", Subsystem: Analytics}
	// APIConnectClusterKind is the top-level CR used on Cloud Pak for Integration and OpenShift. IBM
	// documents no short name for it.
	APIConnectClusterKind = Kind{Kind: "APIConnectCluster", Plural: "apiconnectclusters", Singular: "apiconnectcluster",
		Group: "apiconnect.ibm.com", Version: "v1beta1"}
	DataPowerServiceKind = Kind{Kind: "DataPowerService", Plural: "datapowerservices", Singular: "datapowerservice",
		ShortName: "dp", Group: "datapower.ibm.com", Version: "v1beta3"}
)

// Kinds lists every kind in the order commands show them: subsystems, then the top-level CR, then
// DataPowerService.
func Kinds() []Kind {
	return []Kind{ManagementClusterKind, PortalClusterKind, AnalyticsClusterKind, GatewayClusterKind,
		APIConnectClusterKind, DataPowerServiceKind}
}

// SubsystemKind returns the subsystem CR kind for s.
func SubsystemKind(s Subsystem) (Kind, bool) {
	for _, k := range Kinds() {
		if k.Subsystem == s && s != "" {
			return k, true
		}
	}
	return Kind{}, false
}

// KindFor finds a kind by its Kind, plural, singular or short name.
func KindFor(name string) (Kind, bool) {
	for _, k := range Kinds() {
		if name == k.Kind || name == k.Plural || name == k.Singular || (k.ShortName != "" && name == k.ShortName) {
			return k, true
		}
	}
	return Kind{}, false
}

// Labels and annotations documented by IBM.
const (
	// DataDeletionConfirmationAnnotation must accompany mode: passive when demoting an active site
	// (seed 002): demotion deletes that site's management database, to be replaced from the peer.
	DataDeletionConfirmationAnnotation = "apiconnect-operator/dr-data-deletion-confirmation"
	// KindLabel marks DataPower gateway pods (value "datapower").
	KindLabel = "crd.apiconnect.ibm.com/kind"
	// InstanceLabel names the CR instance a pod belongs to.
	InstanceLabel = "crd.apiconnect.ibm.com/instance"
	// DataPowerKindValue is KindLabel's value on gateway pods.
	DataPowerKindValue = "datapower"
	// ComponentLabel with value "configurator" marks the CP4I configurator job (seed 002 step 6).
	ComponentLabel        = "app.kubernetes.io/component"
	ConfiguratorComponent = "configurator"
	ZoneLabel             = "topology.kubernetes.io/zone"
)

// ParseSubsystems reads a --subsystem value: subsystem names, kinds' singular or short names
// (gateway, gw, mgmt, ...), comma-separated, in the order given, or "all" for every one of among.
// Only subsystems in among are accepted; the error lists them.
func ParseSubsystems(spec string, among []Subsystem) ([]Subsystem, error) {
	var out []Subsystem
	for _, w := range strings.Split(spec, ",") {
		w = strings.ToLower(strings.TrimSpace(w))
		if w == "all" {
			return slices.Clone(among), nil
		}
		found := false
		for _, s := range among {
			k, _ := SubsystemKind(s)
			if w == string(s) || w == k.ShortName || w == k.Singular {
				if !slices.Contains(out, s) {
					out = append(out, s)
				}
				found = true
			}
		}
		if !found {
			names := make([]string, 0, len(among)+1)
			for _, s := range among {
				names = append(names, string(s))
			}
			return nil, fmt.Errorf("unknown subsystem %q: use %s or all", w, strings.Join(names, ", "))
		}
	}
	return out, nil
}
