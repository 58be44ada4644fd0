package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-apic/kubectl-apic/hack/lab/operator"
	"github.com/kubectl-apic/kubectl-apic/hack/lab/traffic"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

// What a gateway member runs is fixed when its DataPower container starts, as on a real pod: the
// version it was created with (its productVersion annotation) and the ConfigMaps its GatewayCluster
// references in spec.additionalDomainConfig (IBM "Customizing a DataPower deployment"), read at that
// moment. Editing the GatewayCluster or a ConfigMap later changes nothing on a running member; only a
// restart does. The member reports it on its API answer (hack/lab/traffic) and its console banner.

// Annotations on gateway pods (the operator simulator sets them in the StatefulSet's pod template).
const (
	ProductVersionAnnotation = operator.ProductVersionAnnotation
	ProductNameAnnotation    = operator.ProductNameAnnotation
)

// Headers of a gateway member's API answer (hack/lab/traffic): the version the member runs and the
// ConfigMaps it read at start (MemberRun.ConfigString).
const (
	VersionHeader = traffic.VersionHeader
	ConfigHeader  = traffic.ConfigHeader
)

// ConfigAbsent is the revision reported for a referenced ConfigMap that did not exist at start (a
// real pod would not start without it; the simulator starts it and says so).
const ConfigAbsent = "absent"

// MemberRun is what one incarnation of a gateway pod runs.
type MemberRun struct {
	// Pod and UID name the incarnation; Restarts is its DataPower container's restart count then
	// (a container restart reads the ConfigMaps again).
	Pod      string
	UID      types.UID
	Restarts int32
	// Version is the productVersion the pod was created with, or the wrong-version fault's.
	Version string
	// Config lists the ConfigMaps of spec.additionalDomainConfig (dpApp.config and dpApp.local),
	// sorted by name, with the resourceVersion each had at start (ConfigAbsent if missing).
	Config []ConfigRevision
}

// ConfigRevision is one ConfigMap's content revision.
type ConfigRevision struct {
	Name            string `json:"name"`
	ResourceVersion string `json:"resourceVersion"`
}

// ConfigString is "<cm>=<resourceVersion>,..." (the X-Simulator-Config header; "" for none).
func (r MemberRun) ConfigString() string {
	parts := make([]string, len(r.Config))
	for i, c := range r.Config {
		parts[i] = c.Name + "=" + c.ResourceVersion
	}
	return strings.Join(parts, ",")
}

// BannerVersion is the console banner's firmware for a member version: `IDG.<version>` (our choice:
// nothing public maps an API Connect gateway version to the DataPower build it ships).
func BannerVersion(version string) string {
	if version == "" || strings.HasPrefix(version, "IDG.") {
		return version
	}
	return "IDG." + version
}

// memberRun returns what pod's current incarnation runs, recording it the first time it is asked
// (the informers see the container start within milliseconds; the first reader fixes it).
func (g *gatewaySimulator) memberRun(p *corev1.Pod) MemberRun {
	restarts := dataPowerRestarts(p)
	g.mu.Lock()
	if r, ok := g.runs[p.UID]; ok && r.Restarts == restarts {
		g.mu.Unlock()
		return r
	}
	g.mu.Unlock()
	run := MemberRun{Pod: p.Name, UID: p.UID, Restarts: restarts, Version: g.startVersion(p)}
	run.Config = g.readConfig(p.Labels[apic.InstanceLabel])
	g.mu.Lock()
	defer g.mu.Unlock()
	if r, ok := g.runs[p.UID]; ok && r.Restarts == restarts { // another reader was first
		return r
	}
	g.runs[p.UID] = run
	g.current[p.Name] = p.UID
	return run
}

// lastRun is the recorded run of pod's current incarnation (false before it started).
func (g *gatewaySimulator) lastRun(pod string) (MemberRun, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	r, ok := g.runs[g.current[pod]]
	return r, ok
}

func dataPowerRestarts(p *corev1.Pod) int32 {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == DataPowerContainer {
			return cs.RestartCount
		}
	}
	return 0
}

// startVersion: the wrong-version fault's version, else the productVersion the pod was created
// with, else its image tag.
func (g *gatewaySimulator) startVersion(p *corev1.Pod) string {
	if v := g.wrongVersionFor(p); v != "" {
		return v
	}
	if v := p.Annotations[ProductVersionAnnotation]; v != "" {
		return v
	}
	for _, c := range p.Spec.Containers {
		if c.Name == DataPowerContainer {
			if i := strings.LastIndex(c.Image, ":"); i > strings.LastIndex(c.Image, "/") {
				return c.Image[i+1:]
			}
		}
	}
	return ""
}

// readConfig reads the ConfigMaps the GatewayCluster references in spec.additionalDomainConfig.
func (g *gatewaySimulator) readConfig(gateway string) []ConfigRevision {
	s := g.site
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u, err := s.Dynamic.Resource(apic.GatewayClusterKind.GVR()).Namespace(s.Namespace).Get(ctx, gateway, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	var out []ConfigRevision
	for _, name := range domainConfigMaps(u) {
		rv := ConfigAbsent
		cm, err := s.Kube.CoreV1().ConfigMaps(s.Namespace).Get(ctx, name, metav1.GetOptions{})
		switch {
		case err == nil:
			rv = cm.ResourceVersion
		case !apierrors.IsNotFound(err):
			rv = "unknown"
		}
		out = append(out, ConfigRevision{Name: name, ResourceVersion: rv})
	}
	return out
}

// domainConfigMaps lists, sorted and once each, the ConfigMap names of spec.additionalDomainConfig:
// [{name: <domain>, dpApp: {config: [<ConfigMap>...], local: [<ConfigMap>...]}}].
func domainConfigMaps(u *unstructured.Unstructured) []string {
	domains, _, _ := unstructured.NestedSlice(u.Object, "spec", "additionalDomainConfig")
	seen := map[string]bool{}
	var out []string
	for _, d := range domains {
		dm, ok := d.(map[string]interface{})
		if !ok {
			continue
		}
		for _, field := range []string{"config", "local"} {
			names, _, _ := unstructured.NestedStringSlice(dm, "dpApp", field)
			for _, n := range names {
				if n != "" && !seen[n] {
					seen[n] = true
					out = append(out, n)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// podFault is a fault that applies to a gateway pod when it is next (re)created: every incarnation
// but the one running when it was set (spare), until cleared.
type podFault struct {
	gateway string
	spare   types.UID
	version string // wrong-version: the version reported
}

// wrongVersionFor decides, once per incarnation, whether the wrong-version fault holds for p; if so
// it patches the pod's productVersion annotation (in the background) and returns the version.
func (g *gatewaySimulator) wrongVersionFor(p *corev1.Pod) string {
	g.mu.Lock()
	if v, ok := g.overrides[p.UID]; ok {
		g.mu.Unlock()
		return v
	}
	f, ok := g.wrongVersion[p.Name]
	if !ok || f.spare == p.UID || p.DeletionTimestamp != nil {
		g.mu.Unlock()
		return ""
	}
	g.overrides[p.UID] = f.version
	g.mu.Unlock()
	if p.Annotations[ProductVersionAnnotation] != f.version {
		go g.patchProductVersion(p.Name, p.UID, f.version)
	}
	return f.version
}

// patchProductVersion sets the pod's productVersion; the uid in the patch is a precondition, so a
// recreated namesake is not touched.
func (g *gatewaySimulator) patchProductVersion(pod string, uid types.UID, version string) {
	s := g.site
	patch, _ := json.Marshal(map[string]interface{}{"metadata": map[string]interface{}{
		"uid": uid, "annotations": map[string]string{ProductVersionAnnotation: version}}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := s.Kube.CoreV1().Pods(s.Namespace).Patch(ctx, pod, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		g.logf("gateway simulator %s: wrong-version fault: patching pod %s: %v", s.Name, pod, err)
	}
}

// forgetIncarnation drops what was recorded about a deleted pod incarnation.
func (g *gatewaySimulator) forgetIncarnation(pod string, uid types.UID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.runs, uid)
	delete(g.overrides, uid)
	if g.current[pod] == uid {
		delete(g.current, pod)
	}
}

var ordinalSuffix = regexp.MustCompile(`-[0-9]+$`)

// podFaultTarget returns the gateway of pod and the UID of its running incarnation (none when the
// pod does not exist, e.g. between deletion and recreation).
func (s *Site) podFaultTarget(pod string) (gateway string, spare types.UID, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := s.Kube.CoreV1().Pods(s.Namespace).Get(ctx, pod, metav1.GetOptions{})
	switch {
	case err == nil:
		if p.Labels[apic.KindLabel] != apic.DataPowerKindValue || p.Labels[apic.InstanceLabel] == "" {
			return "", "", fmt.Errorf("lab: pod %q on %s is not a gateway pod", pod, s.Name)
		}
		return p.Labels[apic.InstanceLabel], p.UID, nil
	case apierrors.IsNotFound(err):
		// Not there now: a StatefulSet pod is <GatewayCluster>-<ordinal>.
		if !ordinalSuffix.MatchString(pod) {
			return "", "", fmt.Errorf("lab: no pod %q on %s, and the name is not <gateway>-<ordinal>", pod, s.Name)
		}
		return ordinalSuffix.ReplaceAllString(pod, ""), "", nil
	default:
		return "", "", err
	}
}

// NeverReady is the never-ready fault: from now on, whenever gateway pod `pod` is (re)created, it
// runs (its container starts, it answers on its API address, it is a peering member) but its
// readiness fails, so it never turns Ready and is never up in peering, until the gateway's faults are
// cleared (ClearDataPowerFaults, `apic-lab fault clear-faults <site> <gateway>`); it then turns
// Ready normally. The incarnation running when the fault is set is spared.
func (l *Lab) NeverReady(site, pod string) error {
	s, err := l.Site(site)
	if err != nil {
		return err
	}
	gateway, spare, err := s.podFaultTarget(pod)
	if err != nil {
		return err
	}
	s.gateways.mu.Lock()
	s.gateways.neverReady[pod] = podFault{gateway: gateway, spare: spare}
	s.gateways.mu.Unlock()
	s.kubelet.FailReadiness(s.Namespace, pod, spare)
	return nil
}

// WrongVersion is the wrong-version fault (IBM "Troubleshooting upgrade on OpenShift", "Incorrect
// productVersion of gateway pods after upgrade": pods keep the old productVersion while the CR shows
// the right reconciled version): whenever gateway pod `pod` is next (re)created, the simulator patches
// its productVersion annotation to version and the member reports version (API answer, console
// banner) instead of its template's, until the gateway's faults are cleared. Clearing does not change
// a running member: it reports what it started with until it restarts.
func (l *Lab) WrongVersion(site, pod, version string) error {
	if version == "" {
		return fmt.Errorf("lab: wrong-version needs a version")
	}
	s, err := l.Site(site)
	if err != nil {
		return err
	}
	gateway, spare, err := s.podFaultTarget(pod)
	if err != nil {
		return err
	}
	s.gateways.mu.Lock()
	s.gateways.wrongVersion[pod] = podFault{gateway: gateway, spare: spare, version: version}
	s.gateways.mu.Unlock()
	return nil
}

// clearPodFaults removes the never-ready and wrong-version faults of gateway's pods.
func (s *Site) clearPodFaults(gateway string) {
	g := s.gateways
	g.mu.Lock()
	var ready []string
	for pod, f := range g.neverReady {
		if f.gateway == gateway {
			ready = append(ready, pod)
			delete(g.neverReady, pod)
		}
	}
	for pod, f := range g.wrongVersion {
		if f.gateway == gateway {
			delete(g.wrongVersion, pod)
		}
	}
	g.mu.Unlock()
	for _, pod := range ready {
		s.kubelet.ClearReadinessFault(s.Namespace, pod)
	}
}

// MemberRun is what the current incarnation of gateway pod `pod` runs (its version and the
// ConfigMap revisions it read at start), as its API answer and console report it; an error while
// the pod has not started.
func (l *Lab) MemberRun(site, pod string) (MemberRun, error) {
	s, err := l.Site(site)
	if err != nil {
		return MemberRun{}, err
	}
	r, ok := s.gateways.lastRun(pod)
	if !ok {
		return MemberRun{}, fmt.Errorf("lab: gateway pod %q on %s is not running", pod, site)
	}
	return r, nil
}
