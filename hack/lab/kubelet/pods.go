package kubelet

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
)

// nodeNameIndex indexes the pod cache by spec.nodeName.
const nodeNameIndex = "spec.nodeName"

// podRuntime is the simulated runtime state of one pod on one of our nodes; guarded by Kubelet.mu.
type podRuntime struct {
	uid           types.UID
	node          string
	restartPolicy corev1.RestartPolicy
	hostNetwork   bool
	ip            netip.Addr
	started       metav1.Time
	containers    map[string]*containerRuntime // regular containers by name

	// ctx is the current incarnation of the containers (a child of base, the Kubelet's context):
	// cancelled when they are killed, exit, or the pod goes away, which ends its attach/exec sessions.
	base   context.Context
	ctx    context.Context
	cancel context.CancelFunc

	restartAt time.Time // killed containers come back then (zero: none pending)
	exitAt    time.Time // Job pods' containers complete then (zero: never)
	killAt    time.Time // a terminating pod's containers stop then, its preStop hook done (zero: not terminating)
	// readinessFails: the readiness fault (FailReadiness) holds for this incarnation, so its
	// containers run but never turn Ready.
	readinessFails bool
}

type containerRuntime struct {
	restarts  int32
	running   bool
	startedAt metav1.Time
	state     *corev1.ContainerStateTerminated // when not running
	last      *corev1.ContainerStateTerminated // previous termination
	// readyDelay is the readiness probe's initialDelaySeconds; readyAt is when the running container
	// turns Ready (zero: it is).
	readyDelay time.Duration
	readyAt    time.Time
}

// startPods starts the pod informer (one for all our nodes) and the workers, and waits for the
// cache to sync.
func (k *Kubelet) startPods() error {
	k.factory = informers.NewSharedInformerFactoryWithOptions(k.client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "spec.nodeName!=" }))
	inf := k.factory.Core().V1().Pods().Informer()
	if err := inf.AddIndexers(cache.Indexers{nodeNameIndex: func(obj any) ([]string, error) {
		return []string{obj.(*corev1.Pod).Spec.NodeName}, nil
	}}); err != nil {
		return err
	}
	// Managed fields are a third of a pod's size and we never read them: thousands of pods are cached.
	if err := inf.SetTransform(func(obj any) (any, error) {
		if m, ok := obj.(metav1.Object); ok {
			m.SetManagedFields(nil)
		}
		return obj, nil
	}); err != nil {
		return err
	}
	k.podInformer = inf
	k.queue = workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    k.enqueuePod,
		UpdateFunc: func(_, obj any) { k.enqueuePod(obj) },
		DeleteFunc: k.enqueuePod,
	}); err != nil {
		return err
	}
	k.factory.Start(k.ctx.Done())
	for typ, ok := range k.factory.WaitForCacheSync(k.ctx.Done()) {
		if !ok {
			return fmt.Errorf("kubelet simulator: %v cache did not sync", typ)
		}
	}
	for range k.cfg.Workers {
		k.goRun(k.runWorker)
	}
	return nil
}

func (k *Kubelet) enqueuePod(obj any) {
	if pod, ok := obj.(*corev1.Pod); ok && !k.isOurs(pod) {
		return
	}
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err == nil {
		k.queue.Add(key)
	}
}

// enqueueNodePods queues every pod bound to a node (after its readiness changed).
func (k *Kubelet) enqueueNodePods(node string) {
	if k.podInformer == nil {
		return
	}
	objs, _ := k.podInformer.GetIndexer().ByIndex(nodeNameIndex, node)
	for _, obj := range objs {
		k.enqueuePod(obj)
	}
}

func (k *Kubelet) runWorker(ctx context.Context) {
	for {
		key, shutdown := k.queue.Get()
		if shutdown {
			return
		}
		if err := k.syncPod(ctx, key); err != nil && ctx.Err() == nil {
			if k.queue.NumRequeues(key) == 0 {
				k.logf("kubelet simulator: pod %s: %v (retrying)", key, err)
			}
			k.queue.AddRateLimited(key)
		} else {
			k.queue.Forget(key)
		}
		k.queue.Done(key)
	}
}

// syncPod brings one pod to what its node would report: started and Running, its containers
// restarted or completed when their time has come, deleted when terminating. Level-based: it can run
// any number of times and writes only when the status differs.
func (k *Kubelet) syncPod(ctx context.Context, key string) error {
	obj, exists, err := k.podInformer.GetIndexer().GetByKey(key)
	if err != nil {
		return err
	}
	if !exists || !k.isOurs(obj.(*corev1.Pod)) {
		k.mu.Lock()
		k.forgetPodLocked(key)
		k.mu.Unlock()
		return nil
	}
	pod := obj.(*corev1.Pod)

	k.mu.Lock()
	nodeReady := k.nodes[pod.Spec.NodeName].ready
	rt := k.pods[key]
	if rt != nil && rt.uid != pod.UID { // recreated under the same name (StatefulSets)
		k.forgetPodLocked(key)
		rt = nil
	}
	switch {
	case !nodeReady && rt == nil:
		// A dead node starts nothing; the pod stays as it is until the node is back.
		k.mu.Unlock()
		return nil
	case nodeReady && pod.DeletionTimestamp != nil:
		if rt != nil {
			if rt.killAt.IsZero() {
				rt.killAt = time.Now().Add(preStopDelay(pod))
			}
			if wait := time.Until(rt.killAt); wait > 0 {
				// The preStop hook runs; the containers (still serving) get SIGTERM after it.
				k.mu.Unlock()
				k.queue.AddAfter(key, wait)
				return nil
			}
			rt.cancel()
		}
		k.mu.Unlock()
		return k.deletePod(ctx, pod)
	case rt == nil && (pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed):
		// Finished before we (re)started: terminal pods never run again.
		k.mu.Unlock()
		return nil
	}
	if rt == nil {
		if rt, err = k.newPodRuntime(key, pod); err != nil {
			k.mu.Unlock()
			return err
		}
	}
	var wake time.Duration
	if nodeReady {
		wake = rt.advance(time.Now())
	}
	k.mu.Unlock()
	if wake > 0 {
		k.queue.AddAfter(key, wake)
	}
	return k.writeStatus(ctx, key, pod)
}

// writeStatus computes the pod's status and writes it with UpdateStatus if it changed, reading the
// pod again on conflict.
func (k *Kubelet) writeStatus(ctx context.Context, key string, pod *corev1.Pod) error {
	pods := k.client.CoreV1().Pods(pod.Namespace)
	first := true
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		if !first {
			fresh, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			if err != nil {
				return err
			}
			pod = fresh
		}
		first = false
		k.mu.Lock()
		rt := k.pods[key]
		if rt == nil || rt.uid != pod.UID {
			k.mu.Unlock()
			return nil // gone meanwhile; the informer brings the news
		}
		status := podStatus(pod, rt, k.cfg.Address, k.nodes[pod.Spec.NodeName].ready, now())
		k.mu.Unlock()
		if apiequality.Semantic.DeepEqual(pod.Status, status) {
			return nil
		}
		updated := pod.DeepCopy()
		updated.Status = status
		_, err := pods.UpdateStatus(ctx, updated, metav1.UpdateOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	})
}

// deletePod finishes a graceful deletion at once, as the kubelet does once the containers have
// stopped (the simulated ones stop instantly). The UID precondition spares a recreated namesake.
func (k *Kubelet) deletePod(ctx context.Context, pod *corev1.Pod) error {
	err := k.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr.To[int64](0),
		Preconditions:      &metav1.Preconditions{UID: &pod.UID},
	})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

// newPodRuntime starts a pod: IP, start time and containers. It keeps what the pod already reports
// (IP, start time, restart counts) so that a restarted simulator does not change running pods.
// Called with k.mu held.
func (k *Kubelet) newPodRuntime(key string, pod *corev1.Pod) (*podRuntime, error) {
	t := now()
	rt := &podRuntime{
		uid:           pod.UID,
		node:          pod.Spec.NodeName,
		restartPolicy: pod.Spec.RestartPolicy,
		hostNetwork:   pod.Spec.HostNetwork,
		started:       t,
		containers:    make(map[string]*containerRuntime, len(pod.Spec.Containers)),
	}
	if pod.Status.StartTime != nil {
		rt.started = *pod.Status.StartTime
	}
	if rt.hostNetwork {
		rt.ip = netip.MustParseAddr(k.cfg.Address)
	} else {
		ip, err := netip.ParseAddr(pod.Status.PodIP)
		if err != nil || !k.ipam.Claim(ip, key) {
			if ip, err = k.ipam.Allocate(key); err != nil {
				return nil, err
			}
		}
		rt.ip = ip
	}
	reported := map[string]corev1.ContainerStatus{}
	for _, cs := range pod.Status.ContainerStatuses {
		reported[cs.Name] = cs
	}
	for _, c := range pod.Spec.Containers {
		cr := &containerRuntime{running: true, startedAt: t, readyDelay: readinessDelay(c)}
		cr.readyAt = time.Now().Add(cr.readyDelay)
		if cs, ok := reported[c.Name]; ok {
			if cs.Ready {
				cr.readyAt = time.Time{}
			}
			cr.restarts = cs.RestartCount
			cr.last = cs.LastTerminationState.Terminated
			if cs.State.Running != nil {
				cr.startedAt = cs.State.Running.StartedAt
			}
		}
		rt.containers[c.Name] = cr
	}
	if rt.restartPolicy != corev1.RestartPolicyAlways && k.cfg.JobRunTime > 0 {
		rt.exitAt = time.Now().Add(k.cfg.JobRunTime)
	}
	if spared, ok := k.readinessFaults[key]; ok && spared != pod.UID {
		rt.readinessFails = true
	}
	rt.base = k.ctx
	rt.ctx, rt.cancel = context.WithCancel(rt.base)
	k.pods[key] = rt
	return rt, nil
}

// forgetPodLocked drops a pod's runtime: its sessions end and its IP is freed.
func (k *Kubelet) forgetPodLocked(key string) {
	rt := k.pods[key]
	if rt == nil {
		return
	}
	rt.cancel()
	if !rt.hostNetwork {
		k.ipam.Release(rt.ip, key)
	}
	delete(k.pods, key)
}

// advance applies what is due by t (killed containers restart, Job containers complete) and returns
// how long until the next due event (0: none).
func (rt *podRuntime) advance(t time.Time) time.Duration {
	if !rt.restartAt.IsZero() && !t.Before(rt.restartAt) {
		rt.restartAt = time.Time{}
		for _, cr := range rt.containers {
			if !cr.running {
				cr.last, cr.state = cr.state, nil
				cr.running = true
				cr.restarts++
				cr.startedAt = now()
				cr.readyAt = t.Add(cr.readyDelay)
			}
		}
		rt.ctx, rt.cancel = context.WithCancel(rt.base)
	}
	if !rt.exitAt.IsZero() && !t.Before(rt.exitAt) && rt.restartAt.IsZero() {
		rt.exitAt = time.Time{}
		rt.stop(0, "Completed")
	}
	due := []time.Time{rt.restartAt, rt.exitAt}
	for _, cr := range rt.containers {
		if !cr.readyAt.IsZero() && !t.Before(cr.readyAt) {
			cr.readyAt = time.Time{}
		}
		if cr.running {
			due = append(due, cr.readyAt)
		}
	}
	var next time.Duration
	for _, at := range due {
		if d := at.Sub(t); !at.IsZero() && (next == 0 || d < next) {
			next = d
		}
	}
	if next < 0 {
		next = time.Millisecond
	}
	return next
}

// stop terminates every running container with an exit code and ends the incarnation's sessions.
func (rt *podRuntime) stop(code int32, reason string) {
	t := now()
	for _, cr := range rt.containers {
		if cr.running {
			cr.running = false
			cr.state = &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, StartedAt: cr.startedAt, FinishedAt: t}
		}
	}
	rt.cancel()
}

// KillContainer is the container fault: every container of the pod is killed (exit code 137, as
// after SIGKILL), its attach/exec sessions end, and unless the pod's restartPolicy is Never the
// containers come back after Config.RestartDelay with restartCount+1.
func (k *Kubelet) KillContainer(namespace, pod string) error {
	key := namespace + "/" + pod
	k.mu.Lock()
	rt := k.pods[key]
	if rt == nil {
		k.mu.Unlock()
		return fmt.Errorf("kubelet simulator: pod %s is not running on a simulated node", key)
	}
	if !k.nodes[rt.node].ready {
		k.mu.Unlock()
		return fmt.Errorf("kubelet simulator: pod %s: node %s is not ready", key, rt.node)
	}
	rt.stop(137, "Error")
	if rt.restartPolicy != corev1.RestartPolicyNever {
		rt.restartAt = time.Now().Add(k.cfg.RestartDelay)
	}
	k.mu.Unlock()
	k.logf("kubelet simulator: killed the containers of pod %s", key)
	k.queue.Add(key)
	return nil
}

// podStatus is the status a kubelet would report for pod given its simulated runtime: a pure
// function of its arguments (times come from rt and from the pod's current conditions), so that
// recomputing it finds nothing to write.
func podStatus(pod *corev1.Pod, rt *podRuntime, hostIP string, nodeReady bool, t metav1.Time) corev1.PodStatus {
	st := *pod.Status.DeepCopy()
	st.ObservedGeneration = pod.Generation
	st.HostIP = hostIP
	st.HostIPs = []corev1.HostIP{{IP: hostIP}}
	st.PodIP = rt.ip.String()
	st.PodIPs = []corev1.PodIP{{IP: rt.ip.String()}}
	st.StartTime = ptr.To(rt.started)

	running, restarting, failed := false, !rt.restartAt.IsZero(), false
	var unready []string
	st.ContainerStatuses = make([]corev1.ContainerStatus, 0, len(pod.Spec.Containers))
	for _, c := range pod.Spec.Containers {
		cr := rt.containers[c.Name]
		if cr == nil { // the spec cannot change containers; be safe anyway
			continue
		}
		id := containerID(rt.uid, c.Name, cr.restarts)
		cs := corev1.ContainerStatus{
			Name:         c.Name,
			Image:        c.Image,
			ImageID:      imageID(c.Image),
			ContainerID:  id,
			RestartCount: cr.restarts,
			Started:      ptr.To(cr.running),
			Ready:        cr.running && nodeReady && cr.readyAt.IsZero() && !rt.readinessFails,
		}
		if cr.running {
			running = true
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: cr.startedAt}
		} else if cr.state != nil {
			term := *cr.state
			term.ContainerID = id
			cs.State.Terminated = &term
			failed = failed || term.ExitCode != 0
		}
		if cr.last != nil {
			last := *cr.last
			last.ContainerID = containerID(rt.uid, c.Name, cr.restarts-1)
			cs.LastTerminationState.Terminated = &last
		}
		if !cs.Ready {
			unready = append(unready, c.Name)
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	st.InitContainerStatuses = initContainerStatuses(pod, rt)

	switch {
	case running || restarting:
		st.Phase = corev1.PodRunning
	case failed:
		st.Phase = corev1.PodFailed
	default:
		st.Phase = corev1.PodSucceeded
	}
	terminal := st.Phase != corev1.PodRunning

	ready := cond(corev1.PodReady, len(unready) == 0, "", "")
	containersReady := cond(corev1.ContainersReady, len(unready) == 0, "", "")
	switch {
	case terminal:
		ready.Status, ready.Reason = corev1.ConditionFalse, "PodCompleted"
		containersReady.Status, containersReady.Reason = corev1.ConditionFalse, "PodCompleted"
	case !nodeReady:
		msg := fmt.Sprintf("node %s is not ready (simulator fault injection)", rt.node)
		ready.Status, ready.Reason, ready.Message = corev1.ConditionFalse, "NodeNotReady", msg
		containersReady.Status, containersReady.Reason, containersReady.Message = corev1.ConditionFalse, "NodeNotReady", msg
	case len(unready) > 0:
		msg := fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))
		ready.Reason, ready.Message = "ContainersNotReady", msg
		containersReady.Reason, containersReady.Message = "ContainersNotReady", msg
	default:
		if gate := unreadyGate(pod); gate != "" {
			ready.Status, ready.Reason = corev1.ConditionFalse, "ReadinessGatesNotReady"
			ready.Message = fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist or is not True.", gate)
		}
	}
	owned := []corev1.PodCondition{
		cond(corev1.PodReadyToStartContainers, !terminal, "", ""),
		cond(corev1.PodInitialized, true, "", ""),
		ready,
		containersReady,
		cond(corev1.PodScheduled, true, "", ""),
	}
	st.Conditions = mergeConditions(st.Conditions, owned, pod.Generation, t)
	return st
}

func cond(typ corev1.PodConditionType, ok bool, reason, message string) corev1.PodCondition {
	s := corev1.ConditionFalse
	if ok {
		s = corev1.ConditionTrue
	}
	return corev1.PodCondition{Type: typ, Status: s, Reason: reason, Message: message}
}

// mergeConditions replaces the conditions we own in cur (keeping their transition time when the
// status did not change) and keeps the others (DisruptionTarget, readiness gates) as they are.
func mergeConditions(cur, owned []corev1.PodCondition, generation int64, t metav1.Time) []corev1.PodCondition {
	out := make([]corev1.PodCondition, 0, len(cur)+len(owned))
	index := map[corev1.PodConditionType]int{}
	for _, c := range cur {
		index[c.Type] = len(out)
		out = append(out, c)
	}
	for _, c := range owned {
		c.ObservedGeneration = generation
		c.LastTransitionTime = t
		if i, ok := index[c.Type]; ok {
			if out[i].Status == c.Status {
				c.LastTransitionTime = out[i].LastTransitionTime
				c.LastProbeTime = out[i].LastProbeTime
			}
			out[i] = c
			continue
		}
		out = append(out, c)
	}
	return out
}

// unreadyGate returns the first readiness gate whose condition is not True.
func unreadyGate(pod *corev1.Pod) string {
	for _, g := range pod.Spec.ReadinessGates {
		ok := false
		for _, c := range pod.Status.Conditions {
			if c.Type == g.ConditionType && c.Status == corev1.ConditionTrue {
				ok = true
			}
		}
		if !ok {
			return string(g.ConditionType)
		}
	}
	return ""
}

// initContainerStatuses reports init containers as completed, sidecars (restartPolicy Always) as
// running since the pod started.
func initContainerStatuses(pod *corev1.Pod, rt *podRuntime) []corev1.ContainerStatus {
	if len(pod.Spec.InitContainers) == 0 {
		return nil
	}
	out := make([]corev1.ContainerStatus, 0, len(pod.Spec.InitContainers))
	for _, c := range pod.Spec.InitContainers {
		id := containerID(rt.uid, c.Name, 0)
		cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: imageID(c.Image), ContainerID: id, Ready: true}
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			cs.Started = ptr.To(true)
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: rt.started}
		} else {
			cs.Started = ptr.To(false)
			cs.State.Terminated = &corev1.ContainerStateTerminated{
				ExitCode: 0, Reason: "Completed", StartedAt: rt.started, FinishedAt: rt.started, ContainerID: id,
			}
		}
		out = append(out, cs)
	}
	return out
}

// containerID is a stable simulated container ID: one per pod, container and restart.
func containerID(uid types.UID, container string, restarts int32) string {
	return fmt.Sprintf("sim://%s", hashHex(fmt.Sprintf("%s/%s/%d", uid, container, restarts), 64))
}

// imageID is what a runtime reports for an image reference: repository@digest (a made-up digest
// unless the reference carries one).
func imageID(image string) string {
	if strings.Contains(image, "@sha256:") {
		return image
	}
	repo := image
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		repo = image[:i]
	}
	return repo + "@sha256:" + hashHex(image, 64)
}

// readinessDelay is the container's readiness probe's initialDelaySeconds: the simulator does not run
// probes, but a container turns Ready only that long after it starts.
func readinessDelay(c corev1.Container) time.Duration {
	if c.ReadinessProbe == nil {
		return 0
	}
	return time.Duration(c.ReadinessProbe.InitialDelaySeconds) * time.Second
}

// preStopDelay is how long a terminating pod's containers keep running before SIGTERM: the longest
// preStop sleep action, bounded by the deletion's grace period. The simulated containers then stop
// at once.
func preStopDelay(pod *corev1.Pod) time.Duration {
	var d time.Duration
	for _, c := range pod.Spec.Containers {
		if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
			d = max(d, time.Duration(c.Lifecycle.PreStop.Sleep.Seconds)*time.Second)
		}
	}
	if g := pod.DeletionGracePeriodSeconds; g != nil {
		d = min(d, time.Duration(*g)*time.Second)
	}
	return d
}

// FailReadiness is the never-ready fault: from its next start on (a new incarnation: the pod
// recreated under that name, e.g. by its StatefulSet), the pod's containers run but their readiness
// fails, so the pod never turns Ready, until ClearReadinessFault. spare is the UID of the incarnation
// running now (if any), which keeps its readiness.
func (k *Kubelet) FailReadiness(namespace, pod string, spare types.UID) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.readinessFaults[namespace+"/"+pod] = spare
}

// ClearReadinessFault ends the never-ready fault of a pod: a pod it holds turns Ready normally.
// It reports whether there was a fault.
func (k *Kubelet) ClearReadinessFault(namespace, pod string) bool {
	key := namespace + "/" + pod
	k.mu.Lock()
	_, had := k.readinessFaults[key]
	delete(k.readinessFaults, key)
	if rt := k.pods[key]; rt != nil {
		rt.readinessFails = false
	}
	k.mu.Unlock()
	if had && k.queue != nil {
		k.queue.Add(key)
	}
	return had
}

// ReadinessFaults lists the pods (namespace/name) under the never-ready fault.
func (k *Kubelet) ReadinessFaults() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]string, 0, len(k.readinessFaults))
	for key := range k.readinessFaults {
		out = append(out, key)
	}
	sort.Strings(out)
	return out
}
