package labtest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

// The failover runbook (seed 002) as a user runs it with kubectl only, for both deployment shapes.

// demoteYAML is seed 002's demote-to-warm-standby.yaml, verbatim for each shape.
func demoteYAML(shape lab.Shape) string {
	if shape == lab.ShapeTopLevel {
		return `metadata:
  annotations:
    apiconnect-operator/dr-data-deletion-confirmation: "true"
spec:
  management:
    multiSiteHA:
      mode: passive
`
	}
	return `metadata:
  annotations:
    apiconnect-operator/dr-data-deletion-confirmation: "true"
spec:
  multiSiteHA:
    mode: passive
`
}

// monitorJSONPath is seed 002's command to follow a management transition.
const monitorJSONPath = `jsonpath={"Status: "}{.status.phase}{"\n - HA Mode: "}{.status.haMode} {"\n - Ha Status: "}{.status.haStatus[?(@.status=="True")].type}{"\n"}`

// haTarget is what a user patches and edits for one subsystem: the subsystem CR, or the top-level
// CR's section (seed 002: "If you are using a top-level CR you must edit the multiSiteHA section for
// the subsystem in the top-level CR").
type haTarget struct{ resource, name, modePath string }

func targetFor(shape lab.Shape, sub apic.Subsystem) haTarget {
	if shape == lab.ShapeTopLevel {
		return haTarget{"apiconnectcluster", lab.TopLevelName, "spec." + string(sub) + ".multiSiteHA.mode"}
	}
	if sub == apic.Portal {
		return haTarget{"ptl", lab.PortalName, "spec.multiSiteHA.mode"}
	}
	return haTarget{"mgmt", lab.MgmtName, "spec.multiSiteHA.mode"}
}

func haMode(t testing.TB, l *lab.Lab, site, resource, name string) string {
	return Kubectl(t, l, "--context", site, "-n", Namespace, "get", resource, name, "-o", "jsonpath={.status.haMode}")
}

// waitHAMode waits until resource/name on site shows one of modes.
func waitHAMode(t testing.TB, l *lab.Lab, site, resource, name string, timeout time.Duration, modes ...string) {
	t.Helper()
	Eventually(t, timeout, fmt.Sprintf("%s %s/%s haMode %q", site, resource, name, modes), func() (bool, string) {
		m := haMode(t, l, site, resource, name)
		for _, want := range modes {
			if m == want {
				return true, ""
			}
		}
		return false, "haMode " + m
	})
}

// waitGetShows waits until `kubectl get <resource> <name>` on site prints every want string.
func waitGetShows(t testing.TB, l *lab.Lab, site, resource, name string, timeout time.Duration, want ...string) string {
	t.Helper()
	var out string
	Eventually(t, timeout, fmt.Sprintf("kubectl --context %s get %s %s to show %q", site, resource, name, want), func() (bool, string) {
		out = Kubectl(t, l, "--context", site, "-n", Namespace, "get", resource, name)
		for _, w := range want {
			if !strings.Contains(out, w) {
				return false, out
			}
		}
		return true, ""
	})
	return out
}

// timeout for one documented transition: the lab's scaled duration with room for a loaded machine.
func transitionTimeout(l *lab.Lab) time.Duration {
	// IBM's longest single step here is 15 minutes (management active→warm-standby).
	return time.Duration(float64(15*time.Minute)*l.TimeScale()) + 30*time.Second
}

// FailoverManagement runs seed 002's management failover from dc1 to dc2 with kubectl patch and edit
// only, checking the documented haMode sequence on both sites.
func FailoverManagement(t *testing.T, l *lab.Lab) {
	shape := l.Shape()
	tg := targetFor(shape, apic.Management)
	timeout := transitionTimeout(l)
	w1 := WatchHAMode(t, l, "dc1", "mgmt", lab.MgmtName)
	w2 := WatchHAMode(t, l, "dc2", "mgmt", lab.MgmtName)
	waitHAMode(t, l, "dc1", "mgmt", lab.MgmtName, timeout, apic.HAModeActive)
	waitHAMode(t, l, "dc2", "mgmt", lab.MgmtName, timeout, apic.HAModePassive)

	// Step 1: kubectl patch <dc1 CR> --type merge --patch "$(cat demote-to-warm-standby.yaml)".
	Kubectl(t, l, "--context", "dc1", "-n", Namespace, "patch", tg.resource, tg.name, "--type", "merge", "--patch", demoteYAML(shape))

	// Step 2: dc1's haMode is no longer active: BlockedWarmStandbyConversion, as the seed's monitor prints it.
	monitor := func(site string) string {
		// IBM's command omits the CR name; kubectl then prints a List, on which these paths are empty,
		// so we name the CR.
		out := Kubectl(t, l, "--context", site, "-n", Namespace, "get", "mgmt", lab.MgmtName, "-o", monitorJSONPath)
		lines := strings.Split(out, "\n")
		for i := range lines {
			lines[i] = strings.TrimRight(lines[i], " ")
		}
		return strings.Join(lines, "\n")
	}
	wantBlocked := "Status: Blocked\n - HA Mode: BlockedWarmStandbyConversion\n - Ha Status: BlockedWarmStandbyConversion\n"
	Eventually(t, timeout, "dc1 management BlockedWarmStandbyConversion", func() (bool, string) {
		out := monitor("dc1")
		return out == wantBlocked, out
	})

	// Step 3: wait until dc2 shows ReadyForPromotion, then kubectl edit dc2: mode active.
	wantReady := "Status: Blocked\n - HA Mode: ReadyForPromotion\n - Ha Status: ReadyForPromotion\n"
	Eventually(t, timeout, "dc2 management ReadyForPromotion", func() (bool, string) {
		out := monitor("dc2")
		return out == wantReady, out
	})
	if m := haMode(t, l, "dc1", "mgmt", lab.MgmtName); m != apic.HAModeBlockedWarmStandbyConversion {
		t.Fatalf("dc1 management left BlockedWarmStandbyConversion (%q) before dc2 was made active", m)
	}
	Edit(t, l, "dc2", tg.resource, tg.name, tg.modePath, apic.ModeActive)

	// Step 4: both sites end Ready: dc2 active, dc1 warm-standby.
	ready := "Management is ready. HA status Ready - see HAStatus in CR for details"
	waitHAMode(t, l, "dc2", "mgmt", lab.MgmtName, timeout, apic.HAModeActive)
	waitHAMode(t, l, "dc1", "mgmt", lab.MgmtName, timeout, apic.HAModePassive)
	for _, site := range []string{"dc1", "dc2"} {
		out := waitGetShows(t, l, site, "mgmt", lab.MgmtName, timeout, "Running", ready)
		t.Logf("kubectl --context %s get mgmt:\n%s", site, out)
	}

	got1, got2 := w1.Stop(), w2.Stop()
	t.Logf("dc1 management haMode: %s", strings.Join(got1, " → "))
	t.Logf("dc2 management haMode: %s", strings.Join(got2, " → "))
	if want := []string{apic.HAModeActive, apic.HAModeBlockedWarmStandbyConversion, apic.HAModePassive}; !IsSubsequence(got1, want) {
		t.Errorf("dc1 management went %q, want the documented %q", got1, want)
	}
	if want := []string{apic.HAModePassive, apic.HAModeReadyForPromotion, apic.HAModeActive}; !IsSubsequence(got2, want) {
		t.Errorf("dc2 management went %q, want the documented %q", got2, want)
	}
	if slicesContain(got1[1:], apic.HAModeActive) {
		t.Errorf("dc1 management was active again during the failover: %q", got1)
	}

	if shape == lab.ShapeTopLevel {
		clearConfiguratorWarning(t, l, "dc2")
	}
}

// clearConfiguratorWarning is seed 002 step 6 (Cloud Pak for Integration): after the failover the new
// active site's APIConnectCluster shows Warning with a failed configurator job; deleting the jobs
// labelled app.kubernetes.io/component=configurator clears it.
func clearConfiguratorWarning(t *testing.T, l *lab.Lab, site string) {
	t.Helper()
	timeout := transitionTimeout(l)
	out := waitGetShows(t, l, site, "apiconnectcluster", lab.TopLevelName, timeout, "Warning")
	t.Logf("kubectl --context %s get apiconnectcluster:\n%s", site, out)
	conds := Kubectl(t, l, "--context", site, "-n", Namespace, "get", "apiconnectcluster", lab.TopLevelName,
		"-o", `jsonpath={.status.conditions[?(@.status=="True")].message}`)
	if want := "an error occured while running job apic/" + lab.TopLevelName + "-configurator"; conds != want {
		t.Errorf("True condition message %q, want IBM's %q", conds, want)
	}
	Kubectl(t, l, "--context", site, "-n", Namespace, "delete", "job", "-l", "app.kubernetes.io/component=configurator")
	waitGetShows(t, l, site, "apiconnectcluster", lab.TopLevelName, timeout, "Running")
}

// FailoverPortal runs seed 002's portal failover from dc1 to dc2 with kubectl edit only.
func FailoverPortal(t *testing.T, l *lab.Lab) {
	tg := targetFor(l.Shape(), apic.Portal)
	timeout := transitionTimeout(l)
	w1 := WatchHAMode(t, l, "dc1", "ptl", lab.PortalName)
	w2 := WatchHAMode(t, l, "dc2", "ptl", lab.PortalName)
	waitHAMode(t, l, "dc1", "ptl", lab.PortalName, timeout, apic.HAModeActive)

	// Step 1-2: edit dc1 to passive; continue when haMode is "progressing to passive" or passive.
	Edit(t, l, "dc1", tg.resource, tg.name, tg.modePath, apic.ModePassive)
	waitHAMode(t, l, "dc1", "ptl", lab.PortalName, timeout, apic.HAModeProgressingToPassive, apic.HAModePassive)
	// Step 3: edit dc2 to active. Step 5: ready when dc1 is passive and dc2 active.
	Edit(t, l, "dc2", tg.resource, tg.name, tg.modePath, apic.ModeActive)
	waitHAMode(t, l, "dc1", "ptl", lab.PortalName, timeout, apic.HAModePassive)
	waitHAMode(t, l, "dc2", "ptl", lab.PortalName, timeout, apic.HAModeActive)
	for _, site := range []string{"dc1", "dc2"} {
		t.Logf("kubectl --context %s get ptl:\n%s", site, waitGetShows(t, l, site, "ptl", lab.PortalName, timeout, "Running"))
	}
	got1, got2 := w1.Stop(), w2.Stop()
	t.Logf("dc1 portal haMode: %s", strings.Join(got1, " → "))
	t.Logf("dc2 portal haMode: %s", strings.Join(got2, " → "))
	if want := []string{apic.HAModeActive, apic.HAModeProgressingToPassive, apic.HAModePassive}; !IsSubsequence(got1, want) {
		t.Errorf("dc1 portal went %q, want the documented %q", got1, want)
	}
	if want := []string{apic.HAModePassive, apic.HAModeActive}; !IsSubsequence(got2, want) {
		t.Errorf("dc2 portal went %q, want %q", got2, want)
	}
}

// ActiveActiveAndBack sets dc1 active again while dc2 is active (the split-brain IBM warns against:
// possible, and visible on both sites), then demotes dc2 with the documented patch so the lab ends
// where it started: dc1 active, dc2 warm-standby.
func ActiveActiveAndBack(t *testing.T, l *lab.Lab) {
	shape := l.Shape()
	timeout := transitionTimeout(l)
	patch := `{"spec":{"multiSiteHA":{"mode":"active"}}}`
	if shape == lab.ShapeTopLevel {
		patch = `{"spec":{"management":{"multiSiteHA":{"mode":"active"}},"portal":{"multiSiteHA":{"mode":"active"}}}}`
	}
	subs := []apic.Subsystem{apic.Management, apic.Portal}
	for _, sub := range subs {
		tg := targetFor(shape, sub)
		if shape != lab.ShapeTopLevel || sub == apic.Management {
			Kubectl(t, l, "--context", "dc1", "-n", Namespace, "patch", tg.resource, tg.name, "--type", "merge", "--patch", patch)
		}
	}
	for _, r := range [][2]string{{"mgmt", lab.MgmtName}, {"ptl", lab.PortalName}} {
		for _, site := range []string{"dc1", "dc2"} {
			waitHAMode(t, l, site, r[0], r[1], timeout, apic.HAModeActive)
		}
		t.Logf("both sites active (split-brain):\ndc1: %sdc2: %s",
			Kubectl(t, l, "--context", "dc1", "-n", Namespace, "get", r[0], "--no-headers"),
			Kubectl(t, l, "--context", "dc2", "-n", Namespace, "get", r[0], "--no-headers"))
	}

	// Back to the start: demote dc2 (management with the documented confirmation, portal to passive).
	if shape == lab.ShapeTopLevel {
		Kubectl(t, l, "--context", "dc2", "-n", Namespace, "patch", "apiconnectcluster", lab.TopLevelName, "--type", "merge", "--patch",
			demoteYAML(shape)+"  portal:\n    multiSiteHA:\n      mode: passive\n")
	} else {
		Kubectl(t, l, "--context", "dc2", "-n", Namespace, "patch", "mgmt", lab.MgmtName, "--type", "merge", "--patch", demoteYAML(shape))
		Kubectl(t, l, "--context", "dc2", "-n", Namespace, "patch", "ptl", lab.PortalName, "--type", "merge", "--patch",
			`{"spec":{"multiSiteHA":{"mode":"passive"}}}`)
	}
	for _, r := range [][2]string{{"mgmt", lab.MgmtName}, {"ptl", lab.PortalName}} {
		waitHAMode(t, l, "dc2", r[0], r[1], timeout, apic.HAModePassive)
		waitHAMode(t, l, "dc1", r[0], r[1], timeout, apic.HAModeActive)
	}
	if shape == lab.ShapeTopLevel {
		clearConfiguratorWarning(t, l, "dc1")
	}
	if err := l.WaitReady(t.Context(), timeout); err != nil {
		t.Fatal(err)
	}
}

func slicesContain(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
