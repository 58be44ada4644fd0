package apic

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Object is a typed view over an API Connect custom resource. It reads documented fields from the
// unstructured object and never drops the ones it does not know.
type Object struct {
	Kind Kind
	U    *unstructured.Unstructured
}

// Wrap views u as an API Connect object; it fails for objects of other kinds.
func Wrap(u *unstructured.Unstructured) (Object, error) {
	gvk := u.GroupVersionKind()
	for _, k := range Kinds() {
		if k.Group == gvk.Group && k.Kind == gvk.Kind {
			return Object{Kind: k, U: u}, nil
		}
	}
	return Object{}, fmt.Errorf("%s is not an API Connect kind", gvk)
}

// New returns an empty object of kind k named namespace/name.
func New(k Kind, namespace, name string) Object {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(k.GVK())
	u.SetNamespace(namespace)
	u.SetName(name)
	return Object{Kind: k, U: u}
}

func (o Object) Name() string      { return o.U.GetName() }
func (o Object) Namespace() string { return o.U.GetNamespace() }

// Ref is kind/name as users type it, e.g. mgmt/production-mgmt.
func (o Object) Ref() string { return o.Kind.Display() + "/" + o.Name() }

// Phase is status.phase (Running, Pending, Blocked, Warning, ...).
func (o Object) Phase() string { return o.str("status", "phase") }

// HAMode is status.haMode (active, passive, BlockedWarmStandbyConversion, ReadyForPromotion, ...).
func (o Object) HAMode() string { return o.str("status", "haMode") }

// Version is spec.version: the VERSION column of the API Connect kinds (a DataPowerService's column
// is PrintedVersion).
func (o Object) Version() string { return o.str("spec", "version") }

// PrintedVersion is what `kubectl get` prints as VERSION: spec.version on the API Connect kinds,
// status.versions.reconciled on a DataPowerService (IBM's DataPowerService CRD, printer column
// Version; fixture kubectl/get-dp.txt).
func (o Object) PrintedVersion() string {
	if o.isDataPowerService() {
		return o.ReconciledVersion()
	}
	return o.Version()
}

func (o Object) isDataPowerService() bool { return o.Kind.Kind == DataPowerServiceKind.Kind }

// ReconciledVersion is status.versions.reconciled, the RECONCILED VERSION column.
func (o Object) ReconciledVersion() string { return o.str("status", "versions", "reconciled") }

// Ready is the READY column: status.ready ("n/m" ready services) on the API Connect kinds; on a
// DataPowerService the status of its Ready condition ("True", "False"), which is what IBM's CRD
// prints (it has no status.ready: the API server drops one).
func (o Object) Ready() string {
	if o.isDataPowerService() {
		c, _ := o.Condition(ConditionReady)
		return c.Status
	}
	return o.str("status", "ready")
}

// ConditionReady is the condition type whose status and message a DataPowerService prints as READY
// and SUMMARY (IBM/datapower-operator-doc v1beta3: Ready, with reason StatefulSetReady and message
// "StatefulSet replicas ready: 3/3").
const ConditionReady = "Ready"

// Condition is the status.conditions[] entry of type t.
func (o Object) Condition(t string) (Condition, bool) {
	for _, c := range o.Conditions() {
		if c.Type == t {
			return c, true
		}
	}
	return Condition{}, false
}

// HAStatus is status.haStatus[].
func (o Object) HAStatus() []Condition { return conditionsAt(o.U.Object, "status", "haStatus") }

// Conditions is status.conditions[].
func (o Object) Conditions() []Condition { return conditionsAt(o.U.Object, "status", "conditions") }

// ActiveHAStatus is the haStatus entry whose status is "True" — what IBM's own jsonpath
// `.status.haStatus[?(@.status=="True")].type` shows.
func (o Object) ActiveHAStatus() (Condition, bool) { return activeOf(o.HAStatus()) }

// ActiveCondition is the condition whose status is "True"; its message is the MESSAGE column.
func (o Object) ActiveCondition() (Condition, bool) { return activeOf(o.Conditions()) }

// Message is the MESSAGE column: status.message (IBM's summary, e.g. "Management is ready. HA
// status Ready - see HAStatus in CR for details", or on the top-level CR "Warning - see status
// condition for details"), else the message of the condition that is True. On a DataPowerService it
// is the SUMMARY column, the Ready condition's message (also when Ready is False: "StatefulSet
// replicas ready: 1/3"), else the message of a True condition.
func (o Object) Message() string {
	if o.isDataPowerService() {
		if c, ok := o.Condition(ConditionReady); ok && c.Message != "" {
			return c.Message
		}
	} else if m := o.str("status", "message"); m != "" {
		return m
	}
	c, _ := o.ActiveCondition()
	return c.Message
}

// Age is the time since creation.
func (o Object) Age(now time.Time) time.Duration {
	ts := o.U.GetCreationTimestamp()
	if ts.IsZero() {
		return 0
	}
	return now.Sub(ts.Time)
}

func (o Object) str(path ...string) string {
	s, _, _ := unstructured.NestedString(o.U.Object, path...)
	return s
}

// Condition is one entry of status.conditions[] or status.haStatus[].
type Condition struct {
	Type               string      `json:"type"`
	Status             string      `json:"status"`
	Reason             string      `json:"reason,omitempty"`
	Message            string      `json:"message,omitempty"`
	LastTransitionTime metav1.Time `json:"lastTransitionTime,omitempty"`
}

// IsTrue reports whether the condition's status is "True".
func (c Condition) IsTrue() bool { return c.Status == "True" }

func activeOf(cs []Condition) (Condition, bool) {
	for _, c := range cs {
		if c.IsTrue() {
			return c, true
		}
	}
	return Condition{}, false
}

func conditionsAt(obj map[string]interface{}, path ...string) []Condition {
	raw, found, err := unstructured.NestedSlice(obj, path...)
	if !found || err != nil {
		return nil
	}
	out := make([]Condition, 0, len(raw))
	for _, r := range raw {
		m, ok := r.(map[string]interface{})
		if !ok {
			continue
		}
		c := Condition{}
		c.Type, _ = m["type"].(string)
		c.Status, _ = m["status"].(string)
		c.Reason, _ = m["reason"].(string)
		c.Message, _ = m["message"].(string)
		if ts, ok := m["lastTransitionTime"].(string); ok {
			if t, err := time.Parse(time.RFC3339, ts); err == nil {
				c.LastTransitionTime = metav1.NewTime(t)
			}
		}
		out = append(out, c)
	}
	return out
}

// SetHAStatus replaces status.haStatus[]; used by the lab's simulator and tests.
func (o Object) SetHAStatus(cs []Condition) { setConditions(o.U.Object, cs, "status", "haStatus") }

// SetConditions replaces status.conditions[]; used by the lab's simulator and tests.
func (o Object) SetConditions(cs []Condition) { setConditions(o.U.Object, cs, "status", "conditions") }

func setConditions(obj map[string]interface{}, cs []Condition, path ...string) {
	raw := make([]interface{}, 0, len(cs))
	for _, c := range cs {
		m := map[string]interface{}{"type": c.Type, "status": c.Status, "reason": c.Reason, "message": c.Message}
		if !c.LastTransitionTime.IsZero() {
			m["lastTransitionTime"] = c.LastTransitionTime.UTC().Format(time.RFC3339)
		}
		raw = append(raw, m)
	}
	_ = unstructured.SetNestedSlice(obj, raw, path...)
}

// SetStatusField sets one status field (phase, haMode, ready, ...), keeping the rest.
func (o Object) SetStatusField(value string, path ...string) {
	_ = unstructured.SetNestedField(o.U.Object, value, append([]string{"status"}, path...)...)
}

// configuratorJobError starts the condition message of the Cloud Pak for Integration warning after
// a failover, in IBM's spelling ("Failing over to the warm-standby", step 6: "an error occured
// while running job apic/<name>-configurator").
const configuratorJobError = "an error occured while running job"

// ConfiguratorJobWarning returns the top-level CR's condition that reports IBM's CP4I configurator
// job error, which deleting the configurator jobs on the new active site clears.
func (o Object) ConfiguratorJobWarning() (Condition, bool) {
	if !o.IsTopLevel() {
		return Condition{}, false
	}
	for _, c := range o.Conditions() {
		if c.IsTrue() && strings.Contains(c.Message, configuratorJobError) && strings.Contains(c.Message, "configurator") {
			return c, true
		}
	}
	return Condition{}, false
}
