package spread

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/explain"
	"github.com/kubectl-apic/kubectl-apic/pkg/inventory"
)

// Target is one CR whose template carries overrides, with the subsystem CRs whose pods it places.
type Target struct {
	Object apic.Object
	// Instances maps each subsystem the CR configures to the subsystem CR whose name the pods carry
	// in crd.apiconnect.ibm.com/instance.
	Instances map[apic.Subsystem]string
}

// TopLevel reports whether the target is an APIConnectCluster.
func (t Target) TopLevel() bool { return t.Object.IsTopLevel() }

// Subsystems are the target's subsystems in apic.Subsystems() order.
func (t Target) Subsystems() []apic.Subsystem {
	var out []apic.Subsystem
	for _, s := range apic.Subsystems() {
		if _, ok := t.Instances[s]; ok {
			out = append(out, s)
		}
	}
	return out
}

// Requests are the plan requests for the target's subsystems among subs.
func (t Target) Requests(subs []apic.Subsystem) []Request {
	var out []Request
	for _, s := range t.Subsystems() {
		if slices.Contains(subs, s) {
			out = append(out, Request{Subsystem: s, Instance: t.Instances[s]})
		}
	}
	return out
}

// TopLevelInstance is the subsystem CR name the operator derives from top-level CR top when none
// exists yet to read it from. IBM's samples name them <top>-<short name> (production-mgmt); we
// assume the same for every subsystem.
func TopLevelInstance(top string, sub apic.Subsystem) string {
	k, _ := apic.SubsystemKind(sub)
	return top + "-" + k.ShortName
}

// FindTargets reads the API Connect CRs of namespace ns and decides where the overrides go. A subsystem
// CR with an ownerReference to an APIConnectCluster belongs to the top-level shape: the operator
// rewrites it from the top-level CR, so the override goes on the APIConnectCluster (as
// spec.<subsystem>.template with prefixed entry names). Every other subsystem CR is its own target.
// A cluster without the APIConnectCluster CRD is simply of the subsystem shape, and one without a
// subsystem's CRD has no target for it. The CRs are read by pkg/inventory (one LIST per kind).
func FindTargets(ctx context.Context, dyn dynamic.Interface, site, ns string) ([]Target, error) {
	kinds := append([]apic.Kind{apic.APIConnectClusterKind}, subsystemKinds()...)
	snap, err := inventory.Read(ctx, inventory.Clients{Site: site, Dynamic: dyn}, inventory.Request{Namespace: ns, Kinds: kinds})
	if err != nil {
		return nil, err
	}
	byName := map[string]*Target{}
	var order []string
	add := func(o apic.Object) *Target {
		key := o.Kind.Kind + "/" + o.Name()
		if t, ok := byName[key]; ok {
			return t
		}
		t := &Target{Object: o, Instances: map[apic.Subsystem]string{}}
		byName[key] = t
		order = append(order, key)
		return t
	}
	tops := map[string]apic.Object{}
	for _, o := range snap.ObjectsOf(apic.APIConnectClusterKind) {
		tops[o.Name()] = o
		t := add(o)
		for _, s := range apic.Subsystems() {
			t.Instances[s] = TopLevelInstance(o.Name(), s)
		}
	}
	for _, k := range kinds[1:] {
		for _, o := range snap.ObjectsOf(k) {
			if owner, ok := topLevelOwner(o); ok {
				if top, ok := tops[owner]; ok {
					add(top).Instances[k.Subsystem] = o.Name()
					continue
				}
			}
			add(o).Instances[k.Subsystem] = o.Name()
		}
	}
	sort.Strings(order)
	out := make([]Target, 0, len(order))
	for _, key := range order {
		out = append(out, *byName[key])
	}
	return out, nil
}

func subsystemKinds() []apic.Kind {
	var out []apic.Kind
	for _, s := range apic.Subsystems() {
		k, _ := apic.SubsystemKind(s)
		out = append(out, k)
	}
	return out
}

// topLevelOwner is the name of the APIConnectCluster owning o, if one does.
func topLevelOwner(o apic.Object) (string, bool) {
	for _, ref := range o.U.GetOwnerReferences() {
		if ref.Kind == apic.APIConnectClusterKind.Kind && groupOf(ref.APIVersion) == apic.APIConnectClusterKind.Group {
			return ref.Name, true
		}
	}
	return "", false
}

func groupOf(apiVersion string) string {
	for i := range apiVersion {
		if apiVersion[i] == '/' {
			return apiVersion[:i]
		}
	}
	return ""
}

// PlanFunc computes a plan from a freshly read object.
type PlanFunc func(apic.Object) (Plan, error)

// Write reads the object afresh, plans with fn and, when the plan changes something, sends it as a
// JSON merge patch carrying the read resourceVersion, so a concurrent change makes it fail with a
// conflict instead of being overwritten; conflicts are retried from a new read. A merge patch replaces
// a list as a whole, which is why the full merged template list is computed from the fresh read. With
// dryRun the patch is sent with dryRun=All: the API server validates and admits it but stores nothing.
func Write(ctx context.Context, dyn dynamic.Interface, site string, k apic.Kind, ns, name string, fn PlanFunc, dryRun bool) (Plan, error) {
	ri := dyn.Resource(k.GVR()).Namespace(ns)
	var plan Plan
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		u, err := ri.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		plan, err = fn(apic.Object{Kind: k, U: u})
		if err != nil || !plan.Changed() {
			return err
		}
		patch, err := MergePatch(u, plan.Object.U)
		if err != nil {
			return err
		}
		opts := metav1.PatchOptions{}
		if dryRun {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		_, err = ri.Patch(ctx, name, types.MergePatchType, patch, opts)
		return err
	})
	if err != nil {
		return plan, explain.Error(err, site, k.GVR(), "patch")
	}
	return plan, nil
}

// MergePatch is the JSON merge patch from before to after, with before's resourceVersion as the
// optimistic-concurrency precondition.
func MergePatch(before, after *unstructured.Unstructured) ([]byte, error) {
	a, err := json.Marshal(before.Object)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(after.Object)
	if err != nil {
		return nil, err
	}
	p, err := jsonpatch.CreateMergePatch(a, b)
	if err != nil {
		return nil, err
	}
	var m map[string]interface{}
	if err := json.Unmarshal(p, &m); err != nil {
		return nil, err
	}
	if err := unstructured.SetNestedField(m, before.GetResourceVersion(), "metadata", "resourceVersion"); err != nil {
		return nil, fmt.Errorf("merge patch: %w", err)
	}
	return json.Marshal(m)
}
