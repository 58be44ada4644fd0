// Package spread plans the zone-spread template overrides of seed 003 ("High Availability across
// Availability Zones for IBM API Connect Gateways") and merges them into, or takes them out of, an
// API Connect CR's template list without touching anything else in it.
//
// What we add: to the template entry of each chosen microservice (datapower, or gw-datapower on the
// top-level APIConnectCluster; the others seed 003 lists), under the entry's "affinity" key (the shape
// pkg/apic/template.go documents), one pod anti-affinity term on topology.kubernetes.io/zone whose
// label selector picks that microservice's pods:
//
//   - name: datapower
//     affinity:
//     podAntiAffinity:
//     preferredDuringSchedulingIgnoredDuringExecution:   # requiredDuring... with --hard
//   - weight: 100
//     podAffinityTerm:
//     labelSelector:
//     matchLabels: {crd.apiconnect.ibm.com/instance: gwv6, crd.apiconnect.ibm.com/kind: datapower}
//     topologyKey: topology.kubernetes.io/zone
//
// How we find it again: the CR's annotation RecordAnnotation holds a Record (JSON) naming every term we
// added and every entry or key we had to create for it. Remove takes out exactly those terms, then
// whatever of the created keys and entries is left empty, so the template is what it was before apply
// plus whatever others changed meanwhile (e.g. a replicaCount set on our entry stays, and so does
// the entry).
package spread

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

// Mode says whether the zone anti-affinity is a preference or a rule.
type Mode string

const (
	// Soft (preferredDuringSchedulingIgnoredDuringExecution, weight 100) lets the scheduler place a pod
	// in an occupied zone when no other zone has room: capacity and uptime first (seed 003's advice).
	Soft Mode = "soft"
	// Hard (requiredDuringSchedulingIgnoredDuringExecution) never places two pods of the group in one
	// zone: a pod stays Pending rather than share a zone.
	Hard Mode = "hard"
)

const (
	// TopologyKey is the well-known zone label.
	TopologyKey = apic.ZoneLabel
	// Weight is seed 003's weight for the preferred term.
	Weight int64 = 100
	// RecordAnnotation holds the Record of what we added to a CR's template.
	RecordAnnotation = "spread.kubectl-apic.io/overrides"
	// MicroserviceLabel names a microservice's pods besides the instance and kind labels.
	MicroserviceLabel = "app.kubernetes.io/name"

	preferredKey = "preferredDuringSchedulingIgnoredDuringExecution"
	requiredKey  = "requiredDuringSchedulingIgnoredDuringExecution"
)

// Selector is the label selector of microservice ms's pods of the subsystem CR instance. Seed 003
// documents the gateway's: instance=<CR> and kind=datapower. IBM documents no labels for the other
// microservices; we choose kind=<subsystem> plus app.kubernetes.io/name=<microservice>, the labels
// pkg/zones groups their pods by.
func Selector(sub apic.Subsystem, instance, ms string) map[string]string {
	if sub == apic.Gateway {
		return map[string]string{apic.InstanceLabel: instance, apic.KindLabel: apic.DataPowerKindValue}
	}
	return map[string]string{apic.InstanceLabel: instance, apic.KindLabel: string(sub), MicroserviceLabel: ms}
}

// Term is the anti-affinity term of mode for pods matching sel, and the podAntiAffinity list it goes in.
func Term(sel map[string]string, mode Mode) (listKey string, term map[string]interface{}) {
	labels := map[string]interface{}{}
	for k, v := range sel {
		labels[k] = v
	}
	pat := map[string]interface{}{
		"labelSelector": map[string]interface{}{"matchLabels": labels},
		"topologyKey":   TopologyKey,
	}
	if mode == Hard {
		return requiredKey, pat
	}
	return preferredKey, map[string]interface{}{"weight": Weight, "podAffinityTerm": pat}
}

// Record is what we added to one CR, kept in RecordAnnotation.
type Record struct {
	Entries []RecordEntry `json:"entries"`
	// CreatedSections are top-level spec.<subsystem> sections that did not exist before we added a
	// template to them.
	CreatedSections []apic.Subsystem `json:"createdSections,omitempty"`
}

// RecordEntry is one term we added to one template entry.
type RecordEntry struct {
	Subsystem apic.Subsystem    `json:"subsystem"`
	Name      string            `json:"name"` // the template entry's name
	Mode      Mode              `json:"mode"`
	Selector  map[string]string `json:"selector"`
	// CreatedEntry: the template entry did not exist before.
	CreatedEntry bool `json:"createdEntry,omitempty"`
	// CreatedKeys are the keys of the entry we created, dotted, outermost first (affinity,
	// affinity.podAntiAffinity, affinity.podAntiAffinity.preferred...).
	CreatedKeys []string `json:"createdKeys,omitempty"`
}

// ReadRecord reads o's Record; an absent annotation is an empty Record.
func ReadRecord(o apic.Object) (Record, error) {
	var r Record
	raw, ok := o.U.GetAnnotations()[RecordAnnotation]
	if !ok || raw == "" {
		return r, nil
	}
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		return r, fmt.Errorf("%s: annotation %s: %w", o.Ref(), RecordAnnotation, err)
	}
	return r, nil
}

func writeRecord(o apic.Object, r Record) error {
	ann := o.U.GetAnnotations()
	if len(r.Entries) == 0 {
		delete(ann, RecordAnnotation)
	} else {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if ann == nil {
			ann = map[string]string{}
		}
		ann[RecordAnnotation] = string(b)
	}
	if len(ann) == 0 {
		ann = nil
	}
	o.U.SetAnnotations(ann)
	return nil
}

// Request asks for the override on some microservices of one subsystem.
type Request struct {
	Subsystem apic.Subsystem
	// Instance is the subsystem CR whose pods carry crd.apiconnect.ibm.com/instance=<Instance>: the
	// CR itself, or on the top-level shape the subsystem CR the operator made from it.
	Instance string
	// Microservices default to apic.OverridableMicroservices(Subsystem).
	Microservices []string
}

// Action is what a plan does to one template entry.
type Action string

const (
	ActionAdd       Action = "add"       // the entry is new
	ActionUpdate    Action = "update"    // an existing entry changes
	ActionRemove    Action = "remove"    // the entry goes
	ActionUnchanged Action = "unchanged" // already as wanted
)

// EntryChange is one template entry of a plan.
type EntryChange struct {
	Name   string `json:"name"`
	Action Action `json:"action"`
}

// Change is a plan's effect on one subsystem's template list.
type Change struct {
	Subsystem apic.Subsystem
	// Path is the template list's path, e.g. spec.template or spec.gateway.template.
	Path          string
	Before, After []map[string]interface{}
	Entries       []EntryChange
}

// Changed reports whether the list changes.
func (c Change) Changed() bool {
	return (len(c.Before) != 0 || len(c.After) != 0) && !sameJSON(c.Before, c.After)
}

// Diff is a unified diff of the list's YAML before and after; "" when unchanged.
func (c Change) Diff(ref string) (string, error) {
	if !c.Changed() {
		return "", nil
	}
	a, err := listYAML(c.Before)
	if err != nil {
		return "", err
	}
	b, err := listYAML(c.After)
	if err != nil {
		return "", err
	}
	return unifiedDiff(a, b, ref+" "+c.Path)
}

func listYAML(l []map[string]interface{}) (string, error) {
	if len(l) == 0 {
		return "", nil
	}
	b, err := yaml.Marshal(l)
	return string(b), err
}

// Plan is the changes to one CR. Object is the CR as it will be written.
type Plan struct {
	Object  apic.Object
	Changes []Change
}

// Changed reports whether anything changes.
func (p Plan) Changed() bool {
	for _, c := range p.Changes {
		if c.Changed() {
			return true
		}
	}
	return false
}

// PlanApply adds our override for every request to a copy of obj, replacing terms we added before
// (so a re-run is a no-op and --hard after soft swaps the term), and records what it added.
func PlanApply(obj apic.Object, reqs []Request, mode Mode) (Plan, error) {
	out := apic.Object{Kind: obj.Kind, U: obj.U.DeepCopy()}
	rec, err := ReadRecord(out)
	if err != nil {
		return Plan{}, err
	}
	p := Plan{Object: out}
	for _, req := range reqs {
		sub := req.Subsystem
		path, err := out.TemplatePath(sub)
		if err != nil {
			return Plan{}, err
		}
		sectionExisted := sectionExists(out, path)
		before, err := out.Template(sub)
		if err != nil {
			return Plan{}, err
		}
		entries := cloneList(before)
		// Take out what we added before; entries we created stay as placeholders so they keep
		// their place in the list.
		var mine []RecordEntry
		rec.Entries, mine = partition(rec.Entries, sub)
		placeholders := map[string]bool{}
		for _, re := range mine {
			if strip(entries, re) {
				placeholders[re.Name] = true
			}
		}
		mss := req.Microservices
		if len(mss) == 0 {
			mss = apic.OverridableMicroservices(sub)
		}
		for _, ms := range mss {
			if !slices.Contains(apic.OverridableMicroservices(sub), ms) {
				return Plan{}, fmt.Errorf("%s does not accept template overrides (IBM's template overrides accept %s)",
					ms, strings.Join(apic.OverridableMicroservices(sub), ", "))
			}
			name := out.TemplateEntryName(sub, ms)
			sel := Selector(sub, req.Instance, ms)
			re := RecordEntry{Subsystem: sub, Name: name, Mode: mode, Selector: sel}
			i := indexOf(entries, name)
			if i < 0 {
				entries = append(entries, map[string]interface{}{"name": name})
				i = len(entries) - 1
				re.CreatedEntry = true
			} else if placeholders[name] {
				re.CreatedEntry = true
				delete(placeholders, name)
			}
			added, created, err := addTerm(entries[i], sel, mode)
			if err != nil {
				return Plan{}, fmt.Errorf("%s: template entry %q: %w", out.Ref(), name, err)
			}
			if !added {
				continue // the user already has this very term: it is theirs, not ours
			}
			re.CreatedKeys = created
			rec.Entries = append(rec.Entries, re)
		}
		entries = dropPlaceholders(entries, placeholders)
		if err := out.SetTemplate(sub, entries); err != nil {
			return Plan{}, err
		}
		if !sectionExisted && len(path) > 2 && !slices.Contains(rec.CreatedSections, sub) && len(entries) > 0 {
			rec.CreatedSections = append(rec.CreatedSections, sub)
		}
		p.Changes = append(p.Changes, change(sub, path, before, entries))
	}
	if err := writeRecord(out, rec); err != nil {
		return Plan{}, err
	}
	return p, nil
}

// PlanRemove takes out of a copy of obj every term the Record says we added for subs (all subsystems
// when subs is empty), and then whatever of the keys and entries we created is left empty.
func PlanRemove(obj apic.Object, subs []apic.Subsystem) (Plan, error) {
	out := apic.Object{Kind: obj.Kind, U: obj.U.DeepCopy()}
	rec, err := ReadRecord(out)
	if err != nil {
		return Plan{}, err
	}
	if len(subs) == 0 {
		for _, re := range rec.Entries {
			if !slices.Contains(subs, re.Subsystem) {
				subs = append(subs, re.Subsystem)
			}
		}
	}
	p := Plan{Object: out}
	for _, sub := range subs {
		var mine []RecordEntry
		rec.Entries, mine = partition(rec.Entries, sub)
		if len(mine) == 0 {
			continue
		}
		path, err := out.TemplatePath(sub)
		if err != nil {
			return Plan{}, err
		}
		before, err := out.Template(sub)
		if err != nil {
			return Plan{}, err
		}
		entries := cloneList(before)
		empty := map[string]bool{}
		for _, re := range mine {
			if strip(entries, re) {
				empty[re.Name] = true
			}
		}
		entries = dropPlaceholders(entries, empty)
		if err := out.SetTemplate(sub, entries); err != nil {
			return Plan{}, err
		}
		if i := slices.Index(rec.CreatedSections, sub); i >= 0 && len(entries) == 0 {
			rec.CreatedSections = slices.Delete(rec.CreatedSections, i, i+1)
			section := path[:len(path)-1]
			if m, found, _ := unstructured.NestedMap(out.U.Object, section...); found && len(m) == 0 {
				unstructured.RemoveNestedField(out.U.Object, section...)
			}
		}
		p.Changes = append(p.Changes, change(sub, path, before, entries))
	}
	if len(rec.Entries) == 0 {
		rec.CreatedSections = nil
	}
	if err := writeRecord(out, rec); err != nil {
		return Plan{}, err
	}
	return p, nil
}

// Recorded lists the subsystems o's Record names.
func Recorded(o apic.Object) ([]apic.Subsystem, error) {
	rec, err := ReadRecord(o)
	if err != nil {
		return nil, err
	}
	var out []apic.Subsystem
	for _, re := range rec.Entries {
		if !slices.Contains(out, re.Subsystem) {
			out = append(out, re.Subsystem)
		}
	}
	return out, nil
}

func partition(all []RecordEntry, sub apic.Subsystem) (others, mine []RecordEntry) {
	for _, re := range all {
		if re.Subsystem == sub {
			mine = append(mine, re)
		} else {
			others = append(others, re)
		}
	}
	return others, mine
}

// addTerm adds our term to entry unless an identical one is there; it returns the keys it created.
func addTerm(entry map[string]interface{}, sel map[string]string, mode Mode) (added bool, created []string, err error) {
	listKey, term := Term(sel, mode)
	cur := entry
	path := []string{}
	for _, k := range []string{"affinity", "podAntiAffinity"} {
		path = append(path, k)
		next, ok := cur[k]
		if !ok || next == nil {
			m := map[string]interface{}{}
			cur[k] = m
			created = append(created, strings.Join(path, "."))
			cur = m
			continue
		}
		m, ok := next.(map[string]interface{})
		if !ok {
			return false, nil, fmt.Errorf("%s is not an object", strings.Join(path, "."))
		}
		cur = m
	}
	var list []interface{}
	switch l := cur[listKey].(type) {
	case nil:
		created = append(created, strings.Join(append(path, listKey), "."))
	case []interface{}:
		list = l
	default:
		return false, nil, fmt.Errorf("%s.%s is not a list", strings.Join(path, "."), listKey)
	}
	for _, t := range list {
		if sameJSON(t, term) {
			return false, nil, nil
		}
	}
	cur[listKey] = append(list, term)
	return true, created, nil
}

// strip removes re's term from its entry, then the keys re created if empty. It reports whether the
// entry was created by us and is now just its name.
func strip(entries []map[string]interface{}, re RecordEntry) bool {
	i := indexOf(entries, re.Name)
	if i < 0 {
		return false // someone removed the entry; nothing of ours is left
	}
	e := entries[i]
	listKey, term := Term(re.Selector, re.Mode)
	if anti, ok := nestedMap(e, "affinity", "podAntiAffinity"); ok {
		if list, ok := anti[listKey].([]interface{}); ok {
			kept := list[:0:0]
			for _, t := range list {
				if !sameJSON(t, term) {
					kept = append(kept, t)
				}
			}
			anti[listKey] = kept
		}
	}
	for j := len(re.CreatedKeys) - 1; j >= 0; j-- {
		keys := strings.Split(re.CreatedKeys[j], ".")
		parent, ok := nestedMap(e, keys[:len(keys)-1]...)
		if !ok {
			continue
		}
		if isEmpty(parent[keys[len(keys)-1]]) {
			delete(parent, keys[len(keys)-1])
		}
	}
	return re.CreatedEntry && len(e) == 1
}

func dropPlaceholders(entries []map[string]interface{}, names map[string]bool) []map[string]interface{} {
	out := entries[:0:0]
	for _, e := range entries {
		n, _ := e["name"].(string)
		if names[n] && len(e) == 1 {
			continue
		}
		out = append(out, e)
	}
	return out
}

func nestedMap(m map[string]interface{}, keys ...string) (map[string]interface{}, bool) {
	cur := m
	for _, k := range keys {
		next, ok := cur[k].(map[string]interface{})
		if !ok {
			return nil, false
		}
		cur = next
	}
	return cur, true
}

func isEmpty(v interface{}) bool {
	switch x := v.(type) {
	case nil:
		return true
	case map[string]interface{}:
		return len(x) == 0
	case []interface{}:
		return len(x) == 0
	}
	return false
}

func indexOf(entries []map[string]interface{}, name string) int {
	for i, e := range entries {
		if e["name"] == name {
			return i
		}
	}
	return -1
}

func sectionExists(o apic.Object, templatePath []string) bool {
	_, found, _ := unstructured.NestedFieldNoCopy(o.U.Object, templatePath[:len(templatePath)-1]...)
	return found
}

func cloneList(l []map[string]interface{}) []map[string]interface{} {
	out := make([]map[string]interface{}, len(l))
	for i, e := range l {
		out[i] = runtime.DeepCopyJSON(e)
	}
	return out
}

func change(sub apic.Subsystem, path []string, before, after []map[string]interface{}) Change {
	c := Change{Subsystem: sub, Path: strings.Join(path, "."), Before: before, After: cloneList(after)}
	seen := map[string]bool{}
	for _, a := range after {
		n, _ := a["name"].(string)
		seen[n] = true
		i := indexOf(before, n)
		switch {
		case i < 0:
			c.Entries = append(c.Entries, EntryChange{n, ActionAdd})
		case sameJSON(before[i], a):
			c.Entries = append(c.Entries, EntryChange{n, ActionUnchanged})
		default:
			c.Entries = append(c.Entries, EntryChange{n, ActionUpdate})
		}
	}
	for _, b := range before {
		if n, _ := b["name"].(string); !seen[n] {
			c.Entries = append(c.Entries, EntryChange{n, ActionRemove})
		}
	}
	return c
}

// sameJSON compares two JSON-shaped values by their encoding, so int64 and float64 numbers and
// map[string]string and map[string]interface{} label maps compare equal.
func sameJSON(a, b interface{}) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}
