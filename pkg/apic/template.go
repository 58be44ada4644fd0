package apic

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Template overrides (seed 003): spec.template is a list of entries {name, replicaCount, enabled,
// containers, ...} keyed by microservice name.
//
// Where they live, in this one place:
//   - on a subsystem CR the list is spec.template, entry names are the microservices (datapower);
//   - on the top-level APIConnectCluster it is ONE list, also at spec.template, for every subsystem,
//     with entry names prefixed by the subsystem (IBM "Replica override for microservices": the
//     template element goes under the main spec; on Cloud Pak for Integration the name carries the
//     subsystem's designator, mgmt-apim, gw-datapower, a7s-storage; fixture
//     objects/apiconnectcluster-template.yaml). The views below give each subsystem its own slice of
//     that list (the entries with its prefix) and put it back without touching the others';
//   - earlier versions of kubectl-apic wrote top-level overrides to spec.<subsystem>.template, which
//     IBM does not document: LegacyTemplate reads that old location so that spread can offer to move
//     it and status can report it.
//
// Our choices, because IBM publishes no full sample:
//   - IBM documents no portal prefix; we use ptl- after the short name;
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

// templatePath is the one template list of every shape.
var templatePath = []string{"spec", "template"}

// TemplatePath is where this object keeps sub's template overrides: spec.template on both shapes
// (on the top-level CR, sub's entries are those whose names carry TemplatePrefix(sub)).
func (o Object) TemplatePath(sub Subsystem) ([]string, error) {
	if _, err := o.SubsystemPath(sub); err != nil {
		return nil, err
	}
	return append([]string(nil), templatePath...), nil
}

// LegacyTemplatePath is the old, undocumented location of sub's overrides on the top-level CR,
// spec.<subsystem>.template; nil on a subsystem CR.
func (o Object) LegacyTemplatePath(sub Subsystem) []string {
	if !o.IsTopLevel() {
		return nil
	}
	return []string{"spec", string(sub), "template"}
}

// entriesAt reads the list at path (deep copies); nil when absent.
func (o Object) entriesAt(path []string) ([]map[string]interface{}, error) {
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

// setEntriesAt replaces the list at path; an empty list removes the field.
func (o Object) setEntriesAt(path []string, entries []map[string]interface{}) error {
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

// ownsEntry reports whether entry e of the spec.template list belongs to sub.
func (o Object) ownsEntry(sub Subsystem, e map[string]interface{}) bool {
	if !o.IsTopLevel() {
		return true
	}
	n, _ := e["name"].(string)
	return strings.HasPrefix(n, TemplatePrefix(sub))
}

// Template returns sub's template entries (deep copies); nil when there are none. On the top-level
// CR these are the entries of spec.template whose names carry sub's prefix.
func (o Object) Template(sub Subsystem) ([]map[string]interface{}, error) {
	if _, err := o.TemplatePath(sub); err != nil {
		return nil, err
	}
	all, err := o.entriesAt(templatePath)
	if err != nil || !o.IsTopLevel() {
		return all, err
	}
	var out []map[string]interface{}
	for _, e := range all {
		if o.ownsEntry(sub, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// SetTemplate replaces sub's template entries; an empty list removes them (and spec.template when
// nothing else is left). On the top-level CR the other subsystems' entries keep their places; sub's
// go where its first entry was, else at the end.
func (o Object) SetTemplate(sub Subsystem, entries []map[string]interface{}) error {
	if _, err := o.TemplatePath(sub); err != nil {
		return err
	}
	if !o.IsTopLevel() {
		return o.setEntriesAt(templatePath, entries)
	}
	all, err := o.entriesAt(templatePath)
	if err != nil {
		return err
	}
	out := make([]map[string]interface{}, 0, len(all)+len(entries))
	placed := false
	for _, e := range all {
		if !o.ownsEntry(sub, e) {
			out = append(out, e)
			continue
		}
		if !placed {
			out = append(out, entries...)
			placed = true
		}
	}
	if !placed {
		out = append(out, entries...)
	}
	return o.setEntriesAt(templatePath, out)
}

// LegacyTemplate returns the entries at sub's old location spec.<subsystem>.template of the top-level
// CR (deep copies); nil on a subsystem CR or when there are none.
func (o Object) LegacyTemplate(sub Subsystem) ([]map[string]interface{}, error) {
	p := o.LegacyTemplatePath(sub)
	if p == nil {
		return nil, nil
	}
	return o.entriesAt(p)
}

// RemoveLegacyTemplate deletes spec.<subsystem>.template of the top-level CR, and spec.<subsystem>
// when removeEmptySection is set and nothing else is left in it.
func (o Object) RemoveLegacyTemplate(sub Subsystem, removeEmptySection bool) {
	p := o.LegacyTemplatePath(sub)
	if p == nil {
		return
	}
	unstructured.RemoveNestedField(o.U.Object, p...)
	if m, found, _ := unstructured.NestedMap(o.U.Object, p[:len(p)-1]...); removeEmptySection && found && len(m) == 0 {
		unstructured.RemoveNestedField(o.U.Object, p[:len(p)-1]...)
	}
}

// LegacyTemplates lists the subsystems whose overrides sit at the old location, in Subsystems() order.
func (o Object) LegacyTemplates() []Subsystem {
	var out []Subsystem
	for _, s := range Subsystems() {
		if t, _ := o.LegacyTemplate(s); len(t) > 0 {
			out = append(out, s)
		}
	}
	return out
}

// HasTemplateOverrides reports whether any subsystem in this object carries template overrides
// (IBM recommends removing them before an upgrade).
func (o Object) HasTemplateOverrides() bool {
	if o.Kind.Subsystem == "" && !o.IsTopLevel() {
		return false
	}
	t, _ := o.entriesAt(templatePath)
	return len(t) > 0
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
