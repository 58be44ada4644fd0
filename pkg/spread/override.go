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
// added and every entry or key we had to create for it. A recorded term is recognised by what it is
// (a term on the zone key with exactly our label selector, in either list), not by its bytes, so one
// a user tuned since apply is still found, and the Change's Notes say what was changed. Remove
// takes out exactly those terms, then whatever of the created keys and entries is left empty, so
// the template is what it was before apply plus whatever others changed meanwhile (e.g. a
// replicaCount set on our entry stays, and so does the entry).
//
// Layout: an engine, the mechanics of one command (kubectl apic spread), imported by plugins/spread
// alone (README, "Code layout", tested by internal/layout). What another command needs goes into a
// shared package (pkg/apic, pkg/inventory, pkg/zones, ...).
package spread

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

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
	// CreatedSections are top-level spec.<subsystem> sections that did not exist before an earlier
	// version added a template to them at the old location (spec.<subsystem>.template); moving
	// that template (remove --move-legacy) takes such a section out again when it is left empty.
	// Nothing is added to it any more: the overrides go in spec.template.
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
	// Path is the template list's path: spec.template, or the old location spec.<subsystem>.template
	// of a top-level CR.
	Path string
	// Scope says which part of the list Before and After hold: on the top-level CR's spec.template,
	// one subsystem's entries ("gw-* entries"); "" for the whole list.
	Scope         string
	Before, After []map[string]interface{}
	Entries       []EntryChange
	// Notes tell what others changed in our terms since apply, and what the plan does about it
	// (e.g. "datapower: our zone term was changed since apply (weight changed 100→50); removing it").
	Notes []string
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
	label := ref + " " + c.Path
	if c.Scope != "" {
		label += " (" + c.Scope + ")"
	}
	return unifiedDiff(a, b, label)
}

// scoped sets c.Scope for sub's slice of o's spec.template.
func scoped(o apic.Object, sub apic.Subsystem, c Change) Change {
	if o.IsTopLevel() {
		c.Scope = apic.TemplatePrefix(sub) + "* entries"
	}
	return c
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
	// RecordChanged: the Record annotation changes (e.g. remove drops the record of a term someone
	// already took out by hand), whether or not a template list does.
	RecordChanged bool
}

// Changed reports whether anything changes.
func (p Plan) Changed() bool { return p.TemplateChanged() || p.RecordChanged }

// TemplateChanged reports whether a template list changes (and so the operator restarts pods).
func (p Plan) TemplateChanged() bool {
	for _, c := range p.Changes {
		if c.Changed() {
			return true
		}
	}
	return false
}

// Notes are every change's notes, each prefixed with the template path.
func (p Plan) Notes() []string {
	var out []string
	for _, c := range p.Changes {
		for _, n := range c.Notes {
			out = append(out, c.Path+": "+n)
		}
	}
	return out
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
		var notes []string
		for _, re := range mine {
			res := strip(entries, re)
			if res.emptyCreated {
				placeholders[re.Name] = true
			}
			if n := res.note(true); n != "" {
				notes = append(notes, n)
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
		c := scoped(out, sub, change(sub, path, before, entries))
		c.Notes = notes
		p.Changes = append(p.Changes, c)
		if n, ok, err := legacyNotice(out, sub); err != nil {
			return Plan{}, err
		} else if ok {
			p.Changes = append(p.Changes, n)
		}
	}
	if err := writeRecordOf(&p, rec); err != nil {
		return Plan{}, err
	}
	return p, nil
}

// writeRecordOf writes rec into p's object and notes whether the annotation changed.
func writeRecordOf(p *Plan, rec Record) error {
	before, had := p.Object.U.GetAnnotations()[RecordAnnotation]
	if err := writeRecord(p.Object, rec); err != nil {
		return err
	}
	after, has := p.Object.U.GetAnnotations()[RecordAnnotation]
	p.RecordChanged = had != has || before != after
	return nil
}

// RemoveOptions tune PlanRemove.
type RemoveOptions struct {
	// MoveLegacy moves template entries found at the old location of the top-level CR,
	// spec.<subsystem>.template (where earlier versions of kubectl-apic wrote them; IBM documents
	// ONE list at spec.template), into spec.template before our terms are taken out. Without it they
	// are left where they are and each Change at the old location says so.
	MoveLegacy bool
}

// PlanRemove takes out of a copy of obj every term the Record says we added for subs (all subsystems
// when subs is empty), and then whatever of the keys and entries we created is left empty. On the
// top-level CR it also looks at the old location spec.<subsystem>.template: see RemoveOptions.
func PlanRemove(obj apic.Object, subs []apic.Subsystem, opts RemoveOptions) (Plan, error) {
	out := apic.Object{Kind: obj.Kind, U: obj.U.DeepCopy()}
	rec, err := ReadRecord(out)
	if err != nil {
		return Plan{}, err
	}
	legacySubs := subs
	if len(legacySubs) == 0 {
		legacySubs = apic.Subsystems()
	}
	if len(subs) == 0 {
		for _, re := range rec.Entries {
			if !slices.Contains(subs, re.Subsystem) {
				subs = append(subs, re.Subsystem)
			}
		}
	}
	p := Plan{Object: out}
	// The old location first: left alone (and said so), or moved into spec.template.
	kept, moved := map[apic.Subsystem]bool{}, map[apic.Subsystem]bool{}
	for _, sub := range legacySubs {
		n, ok, err := legacyNotice(out, sub)
		if err != nil {
			return Plan{}, err
		}
		if !ok {
			continue
		}
		if !opts.MoveLegacy {
			kept[sub] = true
			p.Changes = append(p.Changes, n)
			continue
		}
		mv, err := moveLegacy(out, sub, &rec)
		if err != nil {
			return Plan{}, err
		}
		moved[sub] = true
		p.Changes = append(p.Changes, mv)
		if !slices.Contains(subs, sub) {
			subs = append(subs, sub)
		}
	}
	for _, sub := range subs {
		var mine []RecordEntry
		rec.Entries, mine = partition(rec.Entries, sub)
		if len(mine) == 0 && !moved[sub] {
			continue
		}
		path, err := out.TemplatePath(sub)
		if err != nil {
			return Plan{}, err
		}
		before, err := obj.Template(sub) // as read: a move shows in the diff
		if err != nil {
			return Plan{}, err
		}
		cur, err := out.Template(sub)
		if err != nil {
			return Plan{}, err
		}
		entries := cloneList(cur)
		empty := map[string]bool{}
		var notes []string
		for _, re := range mine {
			res := strip(entries, re)
			if res.emptyCreated {
				empty[re.Name] = true
			}
			switch {
			case res.gone && kept[sub]:
				// Probably at the old location, where an earlier version wrote it: keep the record
				// so that a later remove --move-legacy still takes it out.
				notes = append(notes, fmt.Sprintf("%s: our zone term is not in %s; %s holds entries at the old location: kept its record (re-run with --move-legacy)",
					re.Name, strings.Join(path, "."), strings.Join(out.LegacyTemplatePath(sub), ".")))
				rec.Entries = append(rec.Entries, re)
				continue
			case res.ambiguous:
				rec.Entries = append(rec.Entries, re) // still ours, somewhere: keep the record
			}
			if n := res.note(false); n != "" {
				notes = append(notes, n)
			}
		}
		entries = dropPlaceholders(entries, empty)
		if err := out.SetTemplate(sub, entries); err != nil {
			return Plan{}, err
		}
		c := scoped(out, sub, change(sub, path, before, entries))
		c.Notes = notes
		p.Changes = append(p.Changes, c)
	}
	if len(rec.Entries) == 0 {
		rec.CreatedSections = nil
	}
	if err := writeRecordOf(&p, rec); err != nil {
		return Plan{}, err
	}
	return p, nil
}

// legacyNotice is the unchanged Change at sub's old location spec.<subsystem>.template of the
// top-level CR when entries are there, with a note saying what they are and how to move them.
func legacyNotice(o apic.Object, sub apic.Subsystem) (Change, bool, error) {
	legacy, err := o.LegacyTemplate(sub)
	if err != nil || len(legacy) == 0 {
		return Change{}, false, err
	}
	c := change(sub, o.LegacyTemplatePath(sub), legacy, legacy)
	c.Notes = []string{fmt.Sprintf("%d template entr%s (%s) at the old location, which IBM does not document for the top-level CR (\"Replica override for microservices\": ONE list at spec.template with prefixed names): left as they are; move them with kubectl apic spread remove --move-legacy",
		len(legacy), plural(len(legacy), "y", "ies"), strings.Join(entryNames(legacy), ", "))}
	return c, true, nil
}

// moveLegacy moves sub's entries from spec.<subsystem>.template into spec.template (names get the
// subsystem's prefix when they lack it) and returns the Change at the old location. An entry whose
// name spec.template already has is not merged: the move is refused, to be resolved by hand.
func moveLegacy(o apic.Object, sub apic.Subsystem, rec *Record) (Change, error) {
	legacy, err := o.LegacyTemplate(sub)
	if err != nil {
		return Change{}, err
	}
	cur, err := o.Template(sub)
	if err != nil {
		return Change{}, err
	}
	old := strings.Join(o.LegacyTemplatePath(sub), ".")
	entries := cloneList(cur)
	var renamed []string
	for _, e := range cloneList(legacy) {
		n, _ := e["name"].(string)
		if !strings.HasPrefix(n, apic.TemplatePrefix(sub)) {
			renamed = append(renamed, fmt.Sprintf("%s → %s", n, apic.TemplatePrefix(sub)+n))
			n = apic.TemplatePrefix(sub) + n
			e["name"] = n
		}
		if indexOf(entries, n) >= 0 {
			return Change{}, fmt.Errorf("%s: template entry %q is both in spec.template and at the old location %s: merge them by hand (kubectl edit %s -n %s), then re-run",
				o.Ref(), n, old, o.Kind.Singular+"/"+o.Name(), o.Namespace())
		}
		entries = append(entries, e)
	}
	if err := o.SetTemplate(sub, entries); err != nil {
		return Change{}, err
	}
	created := slices.Index(rec.CreatedSections, sub)
	o.RemoveLegacyTemplate(sub, created >= 0)
	if created >= 0 {
		rec.CreatedSections = slices.Delete(rec.CreatedSections, created, created+1)
	}
	c := change(sub, o.LegacyTemplatePath(sub), legacy, nil)
	note := fmt.Sprintf("moved %d template entr%s (%s) to spec.template", len(legacy), plural(len(legacy), "y", "ies"), strings.Join(entryNames(legacy), ", "))
	if len(renamed) > 0 {
		note += ", prefixing names: " + strings.Join(renamed, ", ")
	}
	c.Notes = []string{note}
	return c, nil
}

func entryNames(l []map[string]interface{}) []string {
	out := make([]string, 0, len(l))
	for _, e := range l {
		n, _ := e["name"].(string)
		out = append(out, n)
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
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

// stripped is what strip found of one recorded term.
type stripped struct {
	entry string
	// emptyCreated: the entry was created by us and is now just its name.
	emptyCreated bool
	// gone: neither our term nor anything like it is there any more (someone took it out).
	gone bool
	// drift describes how the term we took out differs from what we added (it was changed since).
	drift []string
	// ambiguous: several terms look like ours but none is exactly it; all were left in place.
	ambiguous  bool
	candidates int
}

// note tells the user what strip found, for apply (replacing: it puts our term back) or remove;
// "" when the term was exactly what we added.
func (s stripped) note(replacing bool) string {
	switch {
	case s.ambiguous && replacing:
		return fmt.Sprintf("%s: %d pod anti-affinity terms on %s with our label selector, none exactly as we added it: left them in place (they count as yours now) and added ours",
			s.entry, s.candidates, TopologyKey)
	case s.ambiguous:
		return fmt.Sprintf("%s: %d pod anti-affinity terms on %s with our label selector, none exactly as we added it: left them all in place; remove the one that is ours by hand (kubectl edit)",
			s.entry, s.candidates, TopologyKey)
	case s.gone && replacing:
		return fmt.Sprintf("%s: our zone term is no longer there (taken out since apply); adding it again", s.entry)
	case s.gone:
		return fmt.Sprintf("%s: our zone term is no longer there (taken out since apply); nothing to take out, dropping its record", s.entry)
	case len(s.drift) > 0:
		what := "removing it all the same"
		if replacing {
			what = "replacing it with the term as we add it"
		}
		return fmt.Sprintf("%s: our zone term was changed since apply (%s); %s", s.entry, strings.Join(s.drift, "; "), what)
	}
	return ""
}

// strip removes re's term from its entry, then the keys re created if empty. Our term is recognised
// by what it is (a pod anti-affinity term on TopologyKey with exactly re's label selector, in either
// list), not by its bytes, so a term someone tuned since apply (weight 100→50, hard→soft) is still
// found and taken out, and the difference reported. Only when several such terms exist and none is
// exactly ours is nothing taken out.
func strip(entries []map[string]interface{}, re RecordEntry) stripped {
	res := stripped{entry: re.Name}
	i := indexOf(entries, re.Name)
	if i < 0 {
		res.gone = true
		return res // someone removed the entry; nothing of ours is left
	}
	e := entries[i]
	listKey, term := Term(re.Selector, re.Mode)
	anti, ok := nestedMap(e, "affinity", "podAntiAffinity")
	if ok {
		exact := false
		if list, ok := anti[listKey].([]interface{}); ok {
			kept := list[:0:0]
			for _, t := range list {
				if sameJSON(t, term) {
					exact = true
				} else {
					kept = append(kept, t)
				}
			}
			anti[listKey] = kept
		}
		if !exact {
			type found struct {
				key string
				at  int
			}
			var cands []found
			for _, k := range []string{listKey, otherList(listKey)} {
				list, _ := anti[k].([]interface{})
				for j, t := range list {
					if isZoneTerm(k, t, re.Selector) {
						cands = append(cands, found{k, j})
					}
				}
			}
			switch len(cands) {
			case 0:
				res.gone = true
			case 1:
				c := cands[0]
				list := anti[c.key].([]interface{})
				res.drift = drift(listKey, term, c.key, list[c.at])
				anti[c.key] = append(list[:c.at:c.at], list[c.at+1:]...)
			default:
				res.ambiguous, res.candidates = true, len(cands)
			}
		}
	} else {
		res.gone = true
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
	res.emptyCreated = re.CreatedEntry && len(e) == 1
	return res
}

func otherList(k string) string {
	if k == preferredKey {
		return requiredKey
	}
	return preferredKey
}

// isZoneTerm reports whether t, an item of podAntiAffinity's list k, is a term on TopologyKey whose
// label selector is exactly matchLabels sel (no matchExpressions): what we add, however tuned.
func isZoneTerm(k string, t interface{}, sel map[string]string) bool {
	m, ok := t.(map[string]interface{})
	if !ok {
		return false
	}
	if k == preferredKey {
		if m, ok = m["podAffinityTerm"].(map[string]interface{}); !ok {
			return false
		}
	}
	if m["topologyKey"] != TopologyKey {
		return false
	}
	ls, ok := m["labelSelector"].(map[string]interface{})
	if !ok || !isEmpty(ls["matchExpressions"]) {
		return false
	}
	ml, _ := ls["matchLabels"].(map[string]interface{})
	if len(ml) != len(sel) {
		return false
	}
	for k, v := range sel {
		if ml[k] != v {
			return false
		}
	}
	return true
}

// drift describes how got (in list gotKey) differs from want (in wantKey), e.g. "weight changed
// 100→50", "moved from preferredDuringSchedulingIgnoredDuringExecution (soft) to
// requiredDuringSchedulingIgnoredDuringExecution (hard)", "podAffinityTerm.namespaces added".
func drift(wantKey string, want map[string]interface{}, gotKey string, got interface{}) []string {
	var out []string
	if wantKey != gotKey {
		out = append(out, fmt.Sprintf("moved from %s (%s) to %s (%s)", wantKey, modeOfList(wantKey), gotKey, modeOfList(gotKey)))
	}
	// Compare the term itself (a preferred term's podAffinityTerm), and a preferred term's own
	// keys (weight) when both are preferred.
	inner := func(k string, t interface{}) (wrapper, pat map[string]interface{}) {
		m, _ := t.(map[string]interface{})
		if k != preferredKey {
			return nil, m
		}
		p, _ := m["podAffinityTerm"].(map[string]interface{})
		w := map[string]interface{}{}
		for kk, v := range m {
			if kk != "podAffinityTerm" {
				w[kk] = v
			}
		}
		return w, p
	}
	ww, wp := inner(wantKey, want)
	gw, gp := inner(gotKey, got)
	if wantKey == gotKey && ww != nil {
		out = append(out, fieldDiff("", ww, gw)...)
	}
	prefix := ""
	if gotKey == preferredKey {
		prefix = "podAffinityTerm."
	}
	return append(out, fieldDiff(prefix, wp, gp)...)
}

func modeOfList(k string) Mode {
	if k == requiredKey {
		return Hard
	}
	return Soft
}

// fieldDiff lists the leaves (dotted paths) that differ between two JSON objects.
func fieldDiff(prefix string, a, b map[string]interface{}) []string {
	fa, fb := map[string]string{}, map[string]string{}
	flatten(prefix, a, fa)
	flatten(prefix, b, fb)
	keys := map[string]bool{}
	for k := range fa {
		keys[k] = true
	}
	for k := range fb {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	slices.Sort(sorted)
	var out []string
	for _, k := range sorted {
		va, ina := fa[k]
		vb, inb := fb[k]
		switch {
		case !ina:
			out = append(out, fmt.Sprintf("%s added (%s)", k, vb))
		case !inb:
			out = append(out, fmt.Sprintf("%s removed (was %s)", k, va))
		case va != vb:
			out = append(out, fmt.Sprintf("%s changed %s→%s", k, va, vb))
		}
	}
	return out
}

func flatten(prefix string, m map[string]interface{}, out map[string]string) {
	for k, v := range m {
		if sub, ok := v.(map[string]interface{}); ok && len(sub) > 0 {
			flatten(prefix+k+".", sub, out)
			continue
		}
		b, _ := json.Marshal(v)
		out[prefix+k] = strings.Trim(string(b), `"`)
	}
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
