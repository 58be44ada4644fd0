package lab

import (
	"context"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
)

// Faults the lab injects, from its CLI (bin/apic-lab fault ...) and its Go API.

// CutLink cuts the simulated inter-site link: each site's operator simulator stops seeing its peer
// and reports PeerNotReachable.
func (l *Lab) CutLink() { l.link.down.Store(true) }

// RestoreLink restores the inter-site link.
func (l *Lab) RestoreLink() { l.link.down.Store(false) }

// LinkUp reports whether the inter-site link is up.
func (l *Lab) LinkUp() bool { return l.link.Up() }

// StopAPIServer stops a site's kube-apiserver: the site becomes unreachable for clients (and for
// its peer's operator simulator), as when a data center is down.
func (l *Lab) StopAPIServer(site string) error {
	s, err := l.Site(site)
	if err != nil {
		return err
	}
	s.cp.stopAPIServer()
	return nil
}

// StartAPIServer restarts a stopped kube-apiserver on the same address with the same certificates.
func (l *Lab) StartAPIServer(ctx context.Context, site string) error {
	s, err := l.Site(site)
	if err != nil {
		return err
	}
	return s.cp.startAPIServer(ctx)
}

// DeletePod deletes a pod in the API Connect namespace (e.g. a gateway member dying); its
// StatefulSet recreates it.
func (l *Lab) DeletePod(ctx context.Context, site, pod string) error {
	s, err := l.Site(site)
	if err != nil {
		return err
	}
	zero := int64(0)
	return s.Kube.CoreV1().Pods(s.Namespace).Delete(ctx, pod, metav1.DeleteOptions{GracePeriodSeconds: &zero})
}

// SetNodeReady takes a node down (NotReady, its pods unready) or brings it back.
func (l *Lab) SetNodeReady(site, node string, ready bool) error {
	s, err := l.Site(site)
	if err != nil {
		return err
	}
	return s.kubelet.SetNodeReady(node, ready)
}

// SetZoneReady takes every node of a zone down, or brings them back.
func (l *Lab) SetZoneReady(site, zone string, ready bool) error {
	s, err := l.Site(site)
	if err != nil {
		return err
	}
	return s.kubelet.SetZoneReady(zone, ready)
}

// FailDataPowerCommand makes every command starting with prefix on a gateway member print a
// DataPower error (message), until ClearDataPowerFaults.
func (l *Lab) FailDataPowerCommand(site, gateway, pod, prefix, message string) error {
	g, err := l.Gateway(site, gateway)
	if err != nil {
		return err
	}
	// The peer group ignores faults for pods it does not know: say so instead of injecting nothing.
	if !slices.Contains(g.Members(), pod) {
		return fmt.Errorf("lab: pod %q is not a member of gateway %s on %s (members: %s)", pod, gateway, site, strings.Join(g.Members(), ", "))
	}
	if message == "" {
		message = fmt.Sprintf("%% Simulated failure of '%s'", prefix)
	}
	g.FailCommand(pod, prefix, message)
	return nil
}

// ClearDataPowerFaults removes injected DataPower command failures of a gateway and the never-ready
// and wrong-version faults of its pods (a pod held unready turns Ready).
func (l *Lab) ClearDataPowerFaults(site, gateway string) error {
	g, err := l.Gateway(site, gateway)
	if err != nil {
		return err
	}
	g.ClearFaults()
	s, _ := l.Site(site)
	s.clearPodFaults(gateway)
	return nil
}

// RotateDataPowerPassword changes the admin password on the DataPower of every member of a gateway
// and leaves its adminUser Secret as it was, so the Secret no longer logs in (until
// RestoreDataPowerPassword).
func (l *Lab) RotateDataPowerPassword(site, gateway string) error {
	g, err := l.Gateway(site, gateway)
	if err != nil {
		return err
	}
	if len(g.Members()) == 0 {
		return fmt.Errorf("lab: gateway %s has no members on %s", gateway, site)
	}
	g.SetDevicePassword("rotated-" + rand.String(12))
	return nil
}

// RestoreDataPowerPassword makes a gateway's consoles accept the password in its Secret again.
func (l *Lab) RestoreDataPowerPassword(site, gateway string) error {
	g, err := l.Gateway(site, gateway)
	if err != nil {
		return err
	}
	g.SetDevicePassword("")
	return nil
}

// Heartbeat sends the simulated management heartbeat to every gateway of a site now.
func (l *Lab) Heartbeat(site string) error {
	s, err := l.Site(site)
	if err != nil {
		return err
	}
	for _, g := range s.gateways.allGroups() {
		g.Heartbeat()
	}
	return nil
}
