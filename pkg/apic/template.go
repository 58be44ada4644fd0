package apic

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Template overrides (seed 003): spec.template is a list of entries {name, replicaCount, enabled,
// containers, ...} keyed by microservice name.
//
// Our choices, kept in this one place because IBM publishes no full sample:
//   - on a subsystem CR the list is spec.template; on the top-level APIConnectCluster it is
//     spec.<subsystem>.template, next to spec.<subsystem>.multiSiteHA;
//   - top-level entry names carry the subsystem prefix IBM documents for CP4I (gw-datapower, mgmt-apim);
//     for portal and analytics, where IBM shows no prefix, we use ptl- and a7s- after the short names;
//   - an affinity override is the Kubernetes core/v1 Affinity object under the entry's "affinity" key
//     (seed 003 shows podAntiAffinity with preferred terms of weight 100).

// TemplatePrefix is the entry-name prefix of sub on the top-level CR.
func TemplatePrefix(sub Subsystem) string {
	switch sub {
	case Gateway:
		return "gw-"
	case Management:
		return "mgmt-"
	case Portal:
		return "ptl-"
	case Analytics:
		return "a7s-"
	}
	return ""
}

// OverridableMicroservices are the microservices seed 003 lists as accepting template overrides.
func OverridableMicroservices(sub Subsystem) []string {
	switch sub {
	case Gateway:
		return []string{"datapower"}
	case Analytics:
		return []string{"ingestion", "storage", "director", "mtls-gw"}
	case Management:
		return []string{"apim", "taskmanager", "ldap", "lur", "ui", "client-downloads-server", "analytics-proxy", "portal-proxy"}
	case Portal:
		return []string{"db", "www", "nginx"}
	}
	return nil
}

// TemplateEntryName is the entry name for microservice ms of sub on this object's shape.
func (o Object) TemplateEntryName(sub Subsystem, ms string) string {
	if o.IsTopLevel() {
		return TemplatePrefix(sub) + ms
	}
	return ms
}

// TemplatePath is where this object keeps sub's template overrides.
func (o Object) TemplatePath(sub Subsystem) ([]string, error) {
	base, err := o.SubsystemPath(sub)
	if err != nil {
		return nil, err
	}
	return append(base, "template"), nil
}

// Template returns sub's template entries (deep copies); nil when there are none.
func (o Object) Template(sub Subsystem) ([]map[string]interface{}, error) {
	path, err := o.TemplatePath(sub)
	if err != nil {
		return nil, err
	}
	raw, found, err := unstructured.NestedSlice(o.U.Object, path...)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", o.Ref(), strings.Join(path, "."), err)
	}
	if !found {
		return nil, nil
	}
	out := make([]map[string]interface{}, 0, len(raw))
	for i, r := range raw {
		m, ok := r.(map[string]interface{})
		if !ok {
			return nil, fmt.Errorf("%s: %s[%d] is not an object", o.Ref(), strings.Join(path, "."), i)
		}
		out = append(out, m)
	}
	return out, nil
}

// SetTemplate replaces sub's template entries; an empty list removes the field.
func (o Object) SetTemplate(sub Subsystem, entries []map[string]interface{}) error {
	path, err := o.TemplatePath(sub)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		unstructured.RemoveNestedField(o.U.Object, path...)
		return nil
	}
	raw := make([]interface{}, len(entries))
	for i, e := range entries {
		raw[i] = e
	}
	return unstructured.SetNestedSlice(o.U.Object, raw, path...)
}

// HasTemplateOverrides reports whether any subsystem in this object carries template overrides
// (IBM recommends removing them before an upgrade).
func (o Object) HasTemplateOverrides() bool {
	subs := []Subsystem{o.Kind.Subsystem}
	if o.IsTopLevel() {
		subs = Subsystems()
	}
	for _, s := range subs {
		if s == "" {
			continue
		}
		if t, _ := o.Template(s); len(t) > 0 {
			return true
		}
	}
	return false
}

// Gateway specifics.

// AdminSecretName is spec.adminUser.secretName of a GatewayCluster: the Secret with the DataPower
// admin credentials.
func (o Object) AdminSecretName() string { return o.str("spec", "adminUser", "secretName") }

// ProfileReplicas is the digit after n in spec.profile (n3xc4.m8 → 3); 0 when absent. IBM: "For one
// replica profiles, specified by n1x...., the replica count is 1. For three replica profiles,
// specified by n3x..., replica count is 3. Note, however, that for Cloud Pak for Integration the API
// Connect Cluster profile n3xc4.m16 replica count is 1" (Replica override for microservices). It is
// the lab simulator's sizing rule only: the product never reads it as a replica count (it counts
// pods, a template replicaCount or the DataPowerService's spec.replicas).
func (o Object) ProfileReplicas() int {
	p := o.str("spec", "profile")
	if len(p) < 2 || p[0] != 'n' {
		return 0
	}
	n := 0
	for _, c := range p[1:] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// TemplateReplicas is the gateway's datapower template entry's replicaCount, when one is set.
func (o Object) TemplateReplicas() (int, bool) {
	t, _ := o.Template(Gateway)
	want := o.TemplateEntryName(Gateway, "datapower")
	for _, e := range t {
		if e["name"] == want {
			if n, ok, _ := unstructured.NestedInt64(e, "replicaCount"); ok {
				return int(n), true
			}
			if f, ok := e["replicaCount"].(float64); ok {
				return int(f), true
			}
		}
	}
	return 0, false
}

// Replicas is the number of gateway pods the lab simulator deploys: the datapower template entry's
// replicaCount if set, else the profile's digit (ProfileReplicas: the lab's rule, not the product's).
func (o Object) Replicas() int {
	if n, ok := o.TemplateReplicas(); ok {
		return n
	}
	return o.ProfileReplicas()
}
