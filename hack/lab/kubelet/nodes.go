package kubelet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
)

// Node labels the simulated kubelet sets, as a real one does.
const (
	LabelHostname     = "kubernetes.io/hostname"
	LabelOS           = "kubernetes.io/os"
	LabelArch         = "kubernetes.io/arch"
	LabelZone         = "topology.kubernetes.io/zone"
	LabelInstanceType = "node.kubernetes.io/instance-type"
)

// leaseDurationSeconds is the real kubelet's default (nodeLeaseDurationSeconds).
const leaseDurationSeconds = 40

// apiParallelism bounds concurrent API calls for node registration and lease renewal.
const apiParallelism = 16

// nodeState is what the simulator remembers of one node; guarded by Kubelet.mu.
type nodeState struct {
	spec          NodeSpec
	uid           types.UID
	bootID        string
	ready         bool
	registered    metav1.Time // transition time of the pressure conditions
	readySince    metav1.Time // transition time of the Ready condition
	lastHeartbeat metav1.Time
	lease         *coordinationv1.Lease
}

func now() metav1.Time { return metav1.NewTime(time.Now().UTC().Truncate(time.Second)) }

// registerNodes creates or updates every node, in parallel.
func (k *Kubelet) registerNodes(ctx context.Context) error {
	t := now()
	k.mu.Lock()
	for _, st := range k.nodes {
		st.registered, st.readySince, st.lastHeartbeat = t, t, t
		st.bootID = string(uuid.NewUUID())
	}
	k.mu.Unlock()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(apiParallelism)
	for _, n := range k.cfg.Nodes {
		g.Go(func() error { return k.registerNode(gctx, n.Name) })
	}
	return g.Wait()
}

// registerNode creates the node with its status, or brings an existing one (a restarted lab) to
// our labels and status.
func (k *Kubelet) registerNode(ctx context.Context, name string) error {
	want := k.desiredNode(name)
	nodes := k.client.CoreV1().Nodes()
	got, err := nodes.Create(ctx, want, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur, err := nodes.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if cur.Labels == nil {
				cur.Labels = map[string]string{}
			}
			for k, v := range want.Labels {
				cur.Labels[k] = v
			}
			if cur, err = nodes.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
				return err
			}
			cur.Status = want.Status
			got, err = nodes.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("registering node %s: %w", name, err)
	}
	k.mu.Lock()
	k.nodes[name].uid = got.UID
	k.mu.Unlock()
	return nil
}

// desiredNode is the Node object a real kubelet would register for a NodeSpec.
func (k *Kubelet) desiredNode(name string) *corev1.Node {
	k.mu.Lock()
	st := k.nodes[name]
	spec := st.spec
	conditions := st.conditions()
	bootID := st.bootID
	k.mu.Unlock()

	labels := map[string]string{
		LabelHostname: name,
		LabelOS:       "linux",
		LabelArch:     runtime.GOARCH,
		// No real instance types here; the label says so and carries the size.
		LabelInstanceType: strings.ToLower(fmt.Sprintf("simulator.%sc.%s", spec.CPU, spec.Memory)),
	}
	if spec.Zone != "" {
		labels[LabelZone] = spec.Zone
	}
	for k, v := range spec.Labels {
		labels[k] = v
	}
	resources := corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse(spec.CPU),
		corev1.ResourceMemory:           resource.MustParse(spec.Memory),
		corev1.ResourcePods:             *resource.NewQuantity(int64(spec.MaxPods), resource.DecimalSI),
		corev1.ResourceEphemeralStorage: resource.MustParse("500Gi"),
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:   name,
			Labels: labels,
			Annotations: map[string]string{
				"node.alpha.kubernetes.io/ttl":                           "0",
				"volumes.kubernetes.io/controller-managed-attach-detach": "true",
			},
		},
		Status: corev1.NodeStatus{
			Capacity:    resources,
			Allocatable: resources.DeepCopy(),
			Phase:       corev1.NodeRunning,
			Conditions:  conditions,
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: k.cfg.Address},
				{Type: corev1.NodeHostName, Address: name},
			},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{
				KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(k.Port())},
			},
			NodeInfo: corev1.NodeSystemInfo{
				MachineID:               hashHex("machine/"+name, 32),
				SystemUUID:              uuidFromHash("system/" + name),
				BootID:                  bootID,
				KernelVersion:           "6.8.0-simulator",
				OSImage:                 "kubectl-apic lab simulator",
				ContainerRuntimeVersion: "simulator://" + Version,
				KubeletVersion:          Version,
				OperatingSystem:         "linux",
				Architecture:            runtime.GOARCH,
			},
		},
	}
}

// conditions are the node's conditions: all healthy when ready; all Unknown when not, as the node
// lifecycle controller reports a node whose kubelet stopped posting status.
func (st *nodeState) conditions() []corev1.NodeCondition {
	type cond struct {
		t                  corev1.NodeConditionType
		healthy            corev1.ConditionStatus
		reason, message    string
		transitionWhenGood metav1.Time
	}
	conds := []cond{
		{corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available", st.registered},
		{corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure", st.registered},
		{corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available", st.registered},
		{corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status", st.readySince},
	}
	out := make([]corev1.NodeCondition, 0, len(conds))
	for _, c := range conds {
		nc := corev1.NodeCondition{
			Type: c.t, Status: c.healthy, Reason: c.reason, Message: c.message,
			LastHeartbeatTime: st.lastHeartbeat, LastTransitionTime: c.transitionWhenGood,
		}
		if !st.ready {
			nc.Status, nc.Reason = corev1.ConditionUnknown, "NodeStatusUnknown"
			nc.Message = "Kubelet stopped posting node status (simulator fault injection)."
			nc.LastTransitionTime = st.readySince
		}
		out = append(out, nc)
	}
	return out
}

// runHeartbeats renews the leases of Ready nodes every LeaseInterval (what keeps the node lifecycle
// controller from tainting them) and refreshes their condition heartbeats every StatusInterval.
func (k *Kubelet) runHeartbeats(ctx context.Context) {
	k.renewLeases(ctx)
	leases := time.NewTicker(k.cfg.LeaseInterval)
	defer leases.Stop()
	status := time.NewTicker(k.cfg.StatusInterval)
	defer status.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-leases.C:
			k.renewLeases(ctx)
		case <-status.C:
			k.forEachReadyNode(ctx, "refreshing status", func(name string) error {
				k.mu.Lock()
				k.nodes[name].lastHeartbeat = now()
				k.mu.Unlock()
				return k.patchNodeConditions(ctx, name)
			})
		}
	}
}

func (k *Kubelet) renewLeases(ctx context.Context) {
	k.forEachReadyNode(ctx, "renewing lease", func(name string) error { return k.renewLease(ctx, name) })
}

// forEachReadyNode runs f for every Ready node with bounded parallelism and logs a summary of
// failures (one line per round, not one per node: there may be hundreds).
func (k *Kubelet) forEachReadyNode(ctx context.Context, what string, f func(name string) error) {
	var g errgroup.Group
	g.SetLimit(apiParallelism)
	errs := make(chan error, len(k.nodes))
	for name, st := range k.nodes {
		k.mu.Lock()
		ready := st.ready
		k.mu.Unlock()
		if !ready {
			continue
		}
		g.Go(func() error {
			if err := f(name); err != nil && ctx.Err() == nil {
				errs <- fmt.Errorf("node %s: %w", name, err)
			}
			return nil
		})
	}
	_ = g.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	if len(all) > 0 {
		k.logf("kubelet simulator: %s failed for %d nodes, first: %v", what, len(all), all[0])
	}
}

// renewLease renews (or creates) the node's Lease in kube-node-lease, updating the cached copy
// so a renewal is a single request.
func (k *Kubelet) renewLease(ctx context.Context, name string) error {
	k.mu.Lock()
	st := k.nodes[name]
	if !st.ready {
		k.mu.Unlock()
		return nil
	}
	cached, uid := st.lease, st.uid
	k.mu.Unlock()

	leases := k.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	renew := func(l *coordinationv1.Lease) {
		t := metav1.NewMicroTime(time.Now())
		l.Spec.RenewTime = &t
		l.Spec.HolderIdentity = ptr.To(name)
		l.Spec.LeaseDurationSeconds = ptr.To[int32](leaseDurationSeconds)
	}
	var got *coordinationv1.Lease
	var err error
	if cached != nil {
		l := cached.DeepCopy()
		renew(l)
		got, err = leases.Update(ctx, l, metav1.UpdateOptions{})
		if err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
			return err
		}
	}
	if got == nil {
		got, err = leases.Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: corev1.NamespaceNodeLease}}
			if uid != "" {
				// As the real kubelet does, so that deleting the node deletes its lease.
				l.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: name, UID: uid}}
			}
			renew(l)
			got, err = leases.Create(ctx, l, metav1.CreateOptions{})
			if apierrors.IsNotFound(err) { // kube-node-lease not created yet by the apiserver
				if err := k.ensureLeaseNamespace(ctx); err != nil {
					return err
				}
				got, err = leases.Create(ctx, l, metav1.CreateOptions{})
			}
		case err == nil:
			renew(got)
			got, err = leases.Update(ctx, got, metav1.UpdateOptions{})
		}
		if err != nil {
			return err
		}
	}
	k.mu.Lock()
	st.lease = got
	k.mu.Unlock()
	return nil
}

func (k *Kubelet) ensureLeaseNamespace(ctx context.Context) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: corev1.NamespaceNodeLease}}
	_, err := k.client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// patchNodeConditions writes the node's conditions with one strategic merge patch of the status
// (no read, no conflicts with the node lifecycle controller's taint updates). A node that has
// disappeared is registered again, as a real kubelet does.
func (k *Kubelet) patchNodeConditions(ctx context.Context, name string) error {
	k.mu.Lock()
	conds := k.nodes[name].conditions()
	k.mu.Unlock()
	body, err := json.Marshal(map[string]any{"status": map[string]any{"conditions": conds}})
	if err != nil {
		return err
	}
	_, err = k.client.CoreV1().Nodes().Patch(ctx, name, types.StrategicMergePatchType, body, metav1.PatchOptions{}, "status")
	if apierrors.IsNotFound(err) {
		return k.registerNode(ctx, name)
	}
	return err
}

// SetNodeReady is the node fault: NotReady makes the node look like one whose kubelet died (lease
// no longer renewed, conditions Unknown, its pods Ready=False and otherwise frozen); Ready brings it
// back (lease renewed at once, conditions healthy, pending pod work done).
func (k *Kubelet) SetNodeReady(name string, ready bool) error {
	k.mu.Lock()
	st, ok := k.nodes[name]
	if !ok {
		k.mu.Unlock()
		return fmt.Errorf("kubelet simulator: no node %q", name)
	}
	if st.ready != ready {
		st.ready = ready
		st.readySince = now()
	}
	if ready {
		st.lastHeartbeat = now()
	}
	k.mu.Unlock()
	k.logf("kubelet simulator: node %s ready=%t", name, ready)

	ctx, cancel := context.WithTimeout(k.ctx, 30*time.Second)
	defer cancel()
	var errs []error
	if ready {
		errs = append(errs, k.renewLease(ctx, name))
	}
	errs = append(errs, k.patchNodeConditions(ctx, name))
	k.enqueueNodePods(name)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("kubelet simulator: node %s ready=%t: %w", name, ready, err)
	}
	return nil
}

// SetZoneReady applies SetNodeReady to every node of a zone.
func (k *Kubelet) SetZoneReady(zone string, ready bool) error {
	var names []string
	for name, st := range k.nodes {
		if st.spec.Zone == zone { // spec is immutable: no lock needed
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return fmt.Errorf("kubelet simulator: no node in zone %q", zone)
	}
	var g errgroup.Group
	g.SetLimit(apiParallelism)
	errs := make([]error, len(names))
	for i, name := range names {
		g.Go(func() error { errs[i] = k.SetNodeReady(name, ready); return nil })
	}
	_ = g.Wait()
	return errors.Join(errs...)
}

func hashHex(s string, n int) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:n]
}

func uuidFromHash(s string) string {
	h := hashHex(s, 32)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
