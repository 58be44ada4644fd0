package spread

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-apic/kubectl-apic/internal/goldenfile"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenfile.Assert(t, filepath.Join("testdata", name+".golden"), []byte(got))
}

func load(t *testing.T, file string) apic.Object {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(raw, &u.Object); err != nil {
		t.Fatal(err)
	}
	o, err := apic.Wrap(u)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func diffs(t *testing.T, p Plan) string {
	t.Helper()
	var b strings.Builder
	for _, c := range p.Changes {
		d, err := c.Diff(p.Object.Ref())
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(d)
	}
	return b.String()
}

func gw(instance string) []Request {
	return []Request{{Subsystem: apic.Gateway, Instance: instance}}
}

func mustApply(t *testing.T, o apic.Object, reqs []Request, mode Mode) Plan {
	t.Helper()
	p, err := PlanApply(o, reqs, mode)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustRemove(t *testing.T, o apic.Object, subs ...apic.Subsystem) Plan {
	t.Helper()
	p, err := PlanRemove(o, subs, RemoveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func entry(t *testing.T, o apic.Object, sub apic.Subsystem, name string) map[string]interface{} {
	t.Helper()
	l, err := o.Template(sub)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range l {
		if e["name"] == name {
			return e
		}
	}
	return nil
}

func TestApplyKeepsOtherKeysAndRemoveRestores(t *testing.T) {
	orig := load(t, "gatewaycluster.yaml")
	p := mustApply(t, orig, gw("gwv6"), Soft)
	if !p.Changed() {
		t.Fatal("apply changed nothing")
	}
	golden(t, "apply-soft.diff", diffs(t, p))
	e := entry(t, p.Object, apic.Gateway, "datapower")
	if n, _, _ := unstructured.NestedFloat64(e, "replicaCount"); n != 3 {
		t.Errorf("replicaCount lost: %v", e)
	}
	if got := p.Changes[0].Entries; !reflect.DeepEqual(got, []EntryChange{{"datapower", ActionUpdate}}) {
		t.Errorf("entries %v", got)
	}
	if _, ok := p.Object.U.GetAnnotations()[RecordAnnotation]; !ok {
		t.Error("no record annotation")
	}
	if !reflect.DeepEqual(orig.U.Object, load(t, "gatewaycluster.yaml").U.Object) {
		t.Error("PlanApply modified its input")
	}
	// A second apply is a no-op.
	if again := mustApply(t, p.Object, gw("gwv6"), Soft); again.Changed() {
		t.Errorf("re-apply changes:\n%s", diffs(t, again))
	}
	r := mustRemove(t, p.Object)
	golden(t, "remove-soft.diff", diffs(t, r))
	if !reflect.DeepEqual(r.Object.U.Object, orig.U.Object) {
		t.Errorf("remove did not restore the object:\n%v\nwant\n%v", r.Object.U.Object, orig.U.Object)
	}
}

func TestApplyCreatesEntryAndRemoveDropsIt(t *testing.T) {
	orig := load(t, "gatewaycluster.yaml")
	_ = orig.SetTemplate(apic.Gateway, nil)
	p := mustApply(t, orig, gw("gwv6"), Hard)
	golden(t, "apply-hard-new-entry.diff", diffs(t, p))
	rec, _ := ReadRecord(p.Object)
	if len(rec.Entries) != 1 || !rec.Entries[0].CreatedEntry || rec.Entries[0].Mode != Hard {
		t.Errorf("record %+v", rec)
	}
	r := mustRemove(t, p.Object, apic.Gateway)
	if !reflect.DeepEqual(r.Object.U.Object, orig.U.Object) {
		t.Errorf("remove did not restore:\n%v\nwant\n%v", r.Object.U.Object, orig.U.Object)
	}
}

func TestSwitchModeReplacesOurTerm(t *testing.T) {
	orig := load(t, "gatewaycluster.yaml")
	soft := mustApply(t, orig, gw("gwv6"), Soft)
	hard := mustApply(t, soft.Object, gw("gwv6"), Hard)
	e := entry(t, hard.Object, apic.Gateway, "datapower")
	anti, _, _ := unstructured.NestedMap(e, "affinity", "podAntiAffinity")
	if _, ok := anti[preferredKey]; ok {
		t.Errorf("soft term left behind: %v", anti)
	}
	if l, _ := anti[requiredKey].([]interface{}); len(l) != 1 {
		t.Errorf("required terms %v", anti)
	}
	if r := mustRemove(t, hard.Object); !reflect.DeepEqual(r.Object.U.Object, orig.U.Object) {
		t.Errorf("remove after mode switch did not restore:\n%v", r.Object.U.Object)
	}
}

func TestUsersOwnTermIsLeftAlone(t *testing.T) {
	orig := load(t, "gatewaycluster-own-term.yaml")
	p := mustApply(t, orig, gw("gwv6"), Soft)
	if p.Changed() {
		t.Errorf("apply over the user's identical term changed it:\n%s", diffs(t, p))
	}
	if _, ok := p.Object.U.GetAnnotations()[RecordAnnotation]; ok {
		t.Error("recorded a term that is the user's")
	}
	if r := mustRemove(t, p.Object); r.Changed() || !reflect.DeepEqual(r.Object.U.Object, orig.U.Object) {
		t.Errorf("remove touched the user's term:\n%s", diffs(t, r))
	}
}

func TestRemoveKeepsWhatOthersAddedMeanwhile(t *testing.T) {
	orig := load(t, "gatewaycluster.yaml")
	_ = orig.SetTemplate(apic.Gateway, nil)
	p := mustApply(t, orig, gw("gwv6"), Soft)
	// Someone sets replicaCount on our entry and adds an entry of their own.
	l, _ := p.Object.Template(apic.Gateway)
	l[0]["replicaCount"] = int64(5)
	l = append(l, map[string]interface{}{"name": "other", "enabled": false})
	_ = p.Object.SetTemplate(apic.Gateway, l)
	r := mustRemove(t, p.Object)
	got, _ := r.Object.Template(apic.Gateway)
	want := []map[string]interface{}{{"name": "datapower", "replicaCount": int64(5)}, {"name": "other", "enabled": false}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after remove %v, want %v", got, want)
	}
}

func TestTopLevelShape(t *testing.T) {
	orig := load(t, "apiconnectcluster.yaml")
	reqs := []Request{
		{Subsystem: apic.Gateway, Instance: "production-gw"},
		{Subsystem: apic.Management, Instance: "production-mgmt"},
		{Subsystem: apic.Analytics, Instance: "production-a7s"},
	}
	p := mustApply(t, orig, reqs, Soft)
	golden(t, "apply-toplevel.diff", diffs(t, p))
	e := entry(t, p.Object, apic.Gateway, "gw-datapower")
	if e == nil {
		t.Fatalf("no gw-datapower entry in spec.template: %v", p.Object.U.Object["spec"])
	}
	// ONE list at spec.template, in the order: the user's mgmt-apim where it was, then the rest.
	all, _, _ := unstructured.NestedSlice(p.Object.U.Object, "spec", "template")
	if len(all) != 1+len(apic.OverridableMicroservices(apic.Management))+len(apic.OverridableMicroservices(apic.Analytics)) ||
		all[0].(map[string]interface{})["name"] != "mgmt-apim" {
		t.Errorf("spec.template has %d entries, first %v", len(all), all[0])
	}
	for _, sub := range []string{"gateway", "management", "analytics"} {
		if _, found, _ := unstructured.NestedFieldNoCopy(p.Object.U.Object, "spec", sub, "template"); found {
			t.Errorf("spec.%s.template written (the old location)", sub)
		}
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(p.Object.U.Object, "spec", "analytics"); found {
		t.Error("spec.analytics created")
	}
	_, term := Term(map[string]string{apic.InstanceLabel: "production-gw", apic.KindLabel: "datapower"}, Soft)
	if l, _, _ := unstructured.NestedSlice(e, "affinity", "podAntiAffinity", preferredKey); len(l) != 1 || !sameJSON(l[0], term) {
		t.Errorf("gw-datapower term %v", l)
	}
	apim := entry(t, p.Object, apic.Management, "mgmt-apim")
	if _, ok, _ := unstructured.NestedMap(apim, "affinity", "nodeAffinity"); !ok || apim["replicaCount"] == nil {
		t.Errorf("user's mgmt-apim keys lost: %v", apim)
	}
	if n := len(p.Changes[1].After); n != len(apic.OverridableMicroservices(apic.Management)) || p.Changes[1].Path != "spec.template" {
		t.Errorf("management entries %d at %s", n, p.Changes[1].Path)
	}
	// remove restores the CR exactly.
	r := mustRemove(t, p.Object)
	if !reflect.DeepEqual(r.Object.U.Object, orig.U.Object) {
		got, _ := yaml.Marshal(r.Object.U.Object)
		t.Errorf("remove did not restore the top-level CR:\n%s", got)
	}
	// Removing only the gateway keeps management's.
	g := mustRemove(t, p.Object, apic.Gateway)
	if entry(t, g.Object, apic.Gateway, "gw-datapower") != nil || len(entry(t, g.Object, apic.Management, "mgmt-ui")) == 0 {
		t.Error("--subsystem gateway remove touched other subsystems or missed the gateway")
	}
	if subs, _ := Recorded(g.Object); !reflect.DeepEqual(subs, []apic.Subsystem{apic.Management, apic.Analytics}) {
		t.Errorf("recorded after partial remove %v", subs)
	}
}

func TestSelectorsAndEntryNames(t *testing.T) {
	orig := load(t, "gatewaycluster.yaml")
	if _, err := PlanApply(orig, []Request{{Subsystem: apic.Gateway, Instance: "gwv6", Microservices: []string{"nginx"}}}, Soft); err == nil {
		t.Error("a microservice seed 003 does not list was accepted")
	}
	m := apic.New(apic.ManagementClusterKind, "apic", "production-mgmt")
	m.U.Object["spec"] = map[string]interface{}{"version": "10.0.8.0"}
	p := mustApply(t, m, []Request{{Subsystem: apic.Management, Instance: "production-mgmt", Microservices: []string{"apim"}}}, Soft)
	golden(t, "apply-mgmt-apim.diff", diffs(t, p))
	if _, err := PlanApply(m, gw("x"), Soft); err == nil {
		t.Error("gateway override accepted on a ManagementCluster")
	}
}

func TestMergePatch(t *testing.T) {
	orig := load(t, "gatewaycluster.yaml")
	p := mustApply(t, orig, gw("gwv6"), Soft)
	raw, err := MergePatch(orig.U, p.Object.U)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]interface{}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if rv, _, _ := unstructured.NestedString(m, "metadata", "resourceVersion"); rv != "4711" {
		t.Errorf("no resourceVersion precondition: %s", raw)
	}
	l, _, _ := unstructured.NestedSlice(m, "spec", "template")
	if len(l) != 1 || l[0].(map[string]interface{})["replicaCount"] == nil {
		t.Errorf("merge patch must carry the full merged list: %s", raw)
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(m, "spec", "profile"); found {
		t.Errorf("patch touches unrelated fields: %s", raw)
	}
	// Removing the last entry sends null for the list.
	r := mustRemove(t, p.Object)
	_ = r.Object.SetTemplate(apic.Gateway, nil)
	raw, _ = MergePatch(p.Object.U, r.Object.U)
	if !strings.Contains(string(raw), `"template":null`) {
		t.Errorf("removal patch %s", raw)
	}
}

func TestRecordErrors(t *testing.T) {
	o := load(t, "gatewaycluster.yaml")
	o.U.SetAnnotations(map[string]string{RecordAnnotation: "{not json"})
	if _, err := PlanApply(o, gw("gwv6"), Soft); err == nil {
		t.Error("a corrupt record was accepted")
	}
	if _, err := PlanRemove(o, nil, RemoveOptions{}); err == nil {
		t.Error("a corrupt record was accepted by remove")
	}
	bad := load(t, "gatewaycluster.yaml")
	_ = bad.SetTemplate(apic.Gateway, []map[string]interface{}{{"name": "datapower", "affinity": "nope"}})
	if _, err := PlanApply(bad, gw("gwv6"), Soft); err == nil || !strings.Contains(err.Error(), "affinity is not an object") {
		t.Errorf("non-object affinity: %v", err)
	}
}

// preferredTerms is the entry's preferred list, to tune in tests as a user would.
func preferredTerms(t *testing.T, o apic.Object, name string) []interface{} {
	t.Helper()
	l, _, _ := unstructured.NestedSlice(entry(t, o, apic.Gateway, name), "affinity", "podAntiAffinity", preferredKey)
	return l
}

func setPreferredTerms(t *testing.T, o apic.Object, name string, terms []interface{}) {
	t.Helper()
	l, _ := o.Template(apic.Gateway)
	for _, e := range l {
		if e["name"] == name {
			if err := unstructured.SetNestedSlice(e, terms, "affinity", "podAntiAffinity", preferredKey); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := o.SetTemplate(apic.Gateway, l); err != nil {
		t.Fatal(err)
	}
}

// Issue 11 item 8: a user tuned our term (weight 100 → 50, or more) after apply. remove still
// recognises it by what it is (topologyKey zone + our labelSelector), takes it out and says what was
// changed since; apply puts our term back and says so.
func TestTunedTermIsRecognised(t *testing.T) {
	tune := map[string]func(term map[string]interface{}){
		"weight": func(term map[string]interface{}) { term["weight"] = int64(50) },
		"namespaces": func(term map[string]interface{}) {
			pat := term["podAffinityTerm"].(map[string]interface{})
			pat["namespaces"] = []interface{}{"gateway-prod"}
		},
	}
	wants := map[string]string{
		"weight":     "datapower: our zone term was changed since apply (weight changed 100→50); removing it all the same",
		"namespaces": `datapower: our zone term was changed since apply (podAffinityTerm.namespaces added (["gateway-prod"])); removing it all the same`,
	}
	for name, fn := range tune {
		t.Run(name, func(t *testing.T) {
			orig := load(t, "gatewaycluster.yaml")
			applied := mustApply(t, orig, gw("gwv6"), Soft).Object
			terms := preferredTerms(t, applied, "datapower")
			fn(terms[0].(map[string]interface{}))
			setPreferredTerms(t, applied, "datapower", terms)

			r := mustRemove(t, applied)
			if !r.TemplateChanged() || !reflect.DeepEqual(r.Object.U.Object, orig.U.Object) {
				t.Errorf("remove left the tuned term (changed %v):\n%s", r.TemplateChanged(), diffs(t, r))
			}
			if got := r.Changes[0].Notes; len(got) != 1 || got[0] != wants[name] {
				t.Errorf("notes %q, want %q", got, wants[name])
			}
			a := mustApply(t, applied, gw("gwv6"), Soft)
			if l := preferredTerms(t, a.Object, "datapower"); len(l) != 1 || !sameJSON(l[0], mustTerm(Soft)) {
				t.Errorf("apply over a tuned term: %v", l)
			}
			if n := a.Changes[0].Notes; len(n) != 1 || !strings.Contains(n[0], "replacing it with the term as we add it") {
				t.Errorf("apply notes %q", n)
			}
		})
	}
}

func mustTerm(m Mode) map[string]interface{} {
	_, term := Term(map[string]string{apic.InstanceLabel: "gwv6", apic.KindLabel: apic.DataPowerKindValue}, m)
	return term
}

func TestHardTermMovedToSoftIsRecognised(t *testing.T) {
	orig := load(t, "gatewaycluster.yaml")
	applied := mustApply(t, orig, gw("gwv6"), Hard).Object
	// The user turns our rule into a preference by hand.
	l, _ := applied.Template(apic.Gateway)
	anti, _, _ := unstructured.NestedMap(l[0], "affinity", "podAntiAffinity")
	req := anti[requiredKey].([]interface{})
	anti[preferredKey] = []interface{}{map[string]interface{}{"weight": int64(10), "podAffinityTerm": req[0]}}
	anti[requiredKey] = []interface{}{}
	_ = unstructured.SetNestedMap(l[0], anti, "affinity", "podAntiAffinity")
	_ = applied.SetTemplate(apic.Gateway, l)

	r := mustRemove(t, applied)
	e := entry(t, r.Object, apic.Gateway, "datapower")
	if l, _, _ := unstructured.NestedSlice(e, "affinity", "podAntiAffinity", preferredKey); len(l) != 0 {
		t.Errorf("moved term left behind: %v", e)
	}
	want := "moved from requiredDuringSchedulingIgnoredDuringExecution (hard) to preferredDuringSchedulingIgnoredDuringExecution (soft)"
	if n := r.Changes[0].Notes; len(n) != 1 || !strings.Contains(n[0], want) {
		t.Errorf("notes %q, want %q", n, want)
	}
}

func TestTermTakenOutByHandDropsTheRecord(t *testing.T) {
	orig := load(t, "gatewaycluster.yaml")
	applied := mustApply(t, orig, gw("gwv6"), Soft).Object
	l, _ := applied.Template(apic.Gateway)
	delete(l[0], "affinity") // by hand: kubectl edit
	_ = applied.SetTemplate(apic.Gateway, l)
	r := mustRemove(t, applied)
	if r.TemplateChanged() || !r.RecordChanged || !r.Changed() {
		t.Errorf("template changed %v, record changed %v", r.TemplateChanged(), r.RecordChanged)
	}
	if _, ok := r.Object.U.GetAnnotations()[RecordAnnotation]; ok {
		t.Error("record kept")
	}
	if n := r.Notes(); len(n) != 1 || !strings.Contains(n[0], "no longer there") || !strings.HasPrefix(n[0], "spec.template: datapower:") {
		t.Errorf("notes %q", n)
	}
}

func TestSeveralLookalikesAreLeftAlone(t *testing.T) {
	// The user had a zone term of their own (weight 50) before apply; then tuned ours to 70.
	orig := load(t, "gatewaycluster-own-term.yaml")
	terms := preferredTerms(t, orig, "datapower")
	terms[0].(map[string]interface{})["weight"] = int64(50)
	setPreferredTerms(t, orig, "datapower", terms)
	applied := mustApply(t, orig, gw("gwv6"), Soft).Object
	terms = preferredTerms(t, applied, "datapower")
	if len(terms) != 2 {
		t.Fatalf("apply beside the user's own weight-50 term: %v", terms)
	}
	terms[1].(map[string]interface{})["weight"] = int64(70)
	setPreferredTerms(t, applied, "datapower", terms)
	before := applied.U.DeepCopy()

	r := mustRemove(t, applied)
	if r.Changed() || !reflect.DeepEqual(r.Object.U.Object, before.Object) {
		t.Errorf("remove guessed between two lookalikes:\n%s", diffs(t, r))
	}
	if n := r.Notes(); len(n) != 1 || !strings.Contains(n[0], "2 pod anti-affinity terms") || !strings.Contains(n[0], "by hand") {
		t.Errorf("notes %q", n)
	}
}

// Overrides an earlier version wrote at spec.<subsystem>.template of the top-level CR: remove says
// so and keeps their record; remove --move-legacy moves them into spec.template, taking our terms
// out, and drops the sections only we had created.
func TestRemoveFindsAndMovesTheOldLocation(t *testing.T) {
	orig := load(t, "apiconnectcluster-legacy.yaml")

	p := mustRemove(t, orig)
	if p.Changed() {
		t.Errorf("remove without --move-legacy changed the CR: %s", diffs(t, p))
	}
	var legacyNotes []string
	for _, c := range p.Changes {
		if strings.HasPrefix(c.Path, "spec.gateway") || strings.HasPrefix(c.Path, "spec.analytics") {
			legacyNotes = append(legacyNotes, c.Notes...)
		}
	}
	// In Subsystems() order: analytics, then the gateway.
	if len(legacyNotes) != 2 || !strings.Contains(legacyNotes[1], "--move-legacy") || !strings.Contains(legacyNotes[1], "1 template entry (gw-datapower)") {
		t.Errorf("notes at the old location = %q", legacyNotes)
	}
	if subs, _ := Recorded(p.Object); len(subs) != 2 {
		t.Errorf("the record of terms at the old location was dropped: %v", subs)
	}

	m, err := PlanRemove(orig, nil, RemoveOptions{MoveLegacy: true})
	if err != nil {
		t.Fatal(err)
	}
	spec := m.Object.U.Object["spec"].(map[string]interface{})
	if _, ok := spec["analytics"]; ok {
		t.Errorf("spec.analytics (created by the earlier version) left: %v", spec["analytics"])
	}
	if g, _ := spec["gateway"].(map[string]interface{}); g["template"] != nil || g["profile"] != "n3xc4.m8" {
		t.Errorf("spec.gateway = %v, want only its profile", g)
	}
	all, _, _ := unstructured.NestedSlice(m.Object.U.Object, "spec", "template")
	want := []interface{}{
		map[string]interface{}{"name": "mgmt-apim", "replicaCount": int64(3)},
		map[string]interface{}{"name": "a7s-ingestion", "replicaCount": int64(2)},
		map[string]interface{}{"name": "gw-datapower", "replicaCount": int64(3)},
	}
	if !sameJSON(all, want) {
		got, _ := yaml.Marshal(all)
		t.Errorf("spec.template after the move:\n%s", got)
	}
	if _, ok := m.Object.U.GetAnnotations()[RecordAnnotation]; ok {
		t.Error("record left after the move took our terms out")
	}
	if !strings.Contains(strings.Join(m.Notes(), "\n"), "ingestion → a7s-ingestion") {
		t.Errorf("notes %q do not name the prefixed entry", m.Notes())
	}

	// An entry at both places is not merged.
	both := apic.Object{Kind: orig.Kind, U: orig.U.DeepCopy()}
	_ = unstructured.SetNestedSlice(both.U.Object, []interface{}{map[string]interface{}{"name": "gw-datapower"}}, "spec", "template")
	if _, err := PlanRemove(both, nil, RemoveOptions{MoveLegacy: true}); err == nil || !strings.Contains(err.Error(), "merge them by hand") {
		t.Errorf("move with gw-datapower at both places: %v", err)
	}

	// apply writes spec.template and says what is left at the old location.
	a := mustApply(t, orig, gw("production-gw"), Soft)
	if e := entry(t, a.Object, apic.Gateway, "gw-datapower"); e == nil {
		t.Error("apply did not write gw-datapower to spec.template")
	}
	if !strings.Contains(strings.Join(a.Notes(), "\n"), "spec.gateway.template: 1 template entry (gw-datapower) at the old location") {
		t.Errorf("apply notes %q", a.Notes())
	}
}

// The management microservices that IBM shows accepting only `enabled: false` in spec.template
// (apim-schema, apim-data, lur-schema, lur-data, billing, juhu, websocket-proxy; an IBM engineer's
// 2024 DR-testing post) are the user's: apply and remove leave those entries exactly as they were.
func TestUsersDisabledMicroservicesAreKept(t *testing.T) {
	orig := load(t, "apiconnectcluster.yaml")
	all, _, _ := unstructured.NestedSlice(orig.U.Object, "spec", "template")
	for _, ms := range []string{"apim-schema", "apim-data", "lur-schema", "lur-data", "billing", "juhu", "websocket-proxy"} {
		all = append(all, map[string]interface{}{"name": "mgmt-" + ms, "enabled": false})
	}
	if err := unstructured.SetNestedSlice(orig.U.Object, all, "spec", "template"); err != nil {
		t.Fatal(err)
	}
	before := orig.U.DeepCopy()
	p := mustApply(t, orig, []Request{{Subsystem: apic.Management, Instance: "production-mgmt"}}, Soft)
	for _, ms := range []string{"juhu", "websocket-proxy", "apim-schema"} {
		if e := entry(t, p.Object, apic.Management, "mgmt-"+ms); !reflect.DeepEqual(e, map[string]interface{}{"name": "mgmt-" + ms, "enabled": false}) {
			t.Errorf("apply changed the user's mgmt-%s: %v", ms, e)
		}
	}
	if r := mustRemove(t, p.Object); !reflect.DeepEqual(r.Object.U.Object, before.Object) {
		got, _ := yaml.Marshal(r.Object.U.Object)
		t.Errorf("remove did not restore the CR with the user's disabled microservices:\n%s", got)
	}
}
