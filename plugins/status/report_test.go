package status

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-apic/kubectl-apic/internal/goldenfile"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/pkg/datapower"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/inventory"
	"github.com/kubectl-apic/kubectl-apic/pkg/printers"
)

var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func object(k apic.Kind, name string, spec map[string]interface{}, phase, ready, haMode, haType, haMsg string) apic.Object {
	o := apic.New(k, "apic", name)
	o.U.SetCreationTimestamp(metav1.NewTime(now.Add(-49 * time.Hour)))
	if spec == nil {
		spec = map[string]interface{}{}
	}
	spec["version"] = "10.0.8.0"
	o.U.Object["spec"] = spec
	o.SetStatusField(phase, "phase")
	o.SetStatusField(ready, "ready")
	o.SetStatusField("10.0.8.0-7178", "versions", "reconciled")
	if haMode != "" {
		o.SetStatusField(haMode, "haMode")
		o.SetHAStatus([]apic.Condition{{Type: haType, Status: "True", Message: haMsg, LastTransitionTime: metav1.NewTime(now.Add(-time.Hour))}})
	}
	return o
}

func ha(mode string) map[string]interface{} {
	return map[string]interface{}{"multiSiteHA": map[string]interface{}{"mode": mode}}
}

func gwPod(name, node string, ready bool) corev1.Pod {
	st := corev1.ConditionTrue
	if !ready {
		st = corev1.ConditionFalse
	}
	return corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "apic", Labels: map[string]string{
			apic.InstanceLabel: "production-gw", apic.KindLabel: apic.DataPowerKindValue}},
		Spec: corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0." + name[len(name)-1:],
			Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: st}},
			ContainerStatuses: []corev1.ContainerStatus{{RestartCount: 1}}},
	}
}

func nodes() []metav1.PartialObjectMetadata {
	var out []metav1.PartialObjectMetadata
	for _, n := range [][2]string{{"node-1", "zone-a"}, {"node-2", "zone-a"}, {"node-3", "zone-b"}, {"node-4", "zone-c"}} {
		out = append(out, metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: n[0], Labels: map[string]string{apic.ZoneLabel: n[1]}}})
	}
	return out
}

// fixture: dc1 active, dc2 warm-standby that cannot reach its peer; dc1's gateways share zone-a.
func fixture() []SiteInput {
	dc1 := &inventory.Snapshot{Site: "dc1", Missing: []apic.Kind{apic.DataPowerServiceKind}, Nodes: nodes(),
		Objects: []apic.Object{
			object(apic.ManagementClusterKind, "production-mgmt", ha("active"), "Running", "24/24", "active", "Ready", "Active DB is ready"),
			object(apic.PortalClusterKind, "production-ptl", ha("active"), "Running", "9/9", "active", "Ready", "Active DB is ready"),
			object(apic.GatewayClusterKind, "production-gw", map[string]interface{}{"profile": "n3xc4.m8"}, "Running", "3/3", "", "", ""),
		},
		Pods: []corev1.Pod{gwPod("production-gw-0", "node-1", true), gwPod("production-gw-1", "node-2", true), gwPod("production-gw-2", "node-3", true)},
	}
	dc2 := &inventory.Snapshot{Site: "dc2", Missing: []apic.Kind{apic.DataPowerServiceKind}, Nodes: nodes(),
		Objects: []apic.Object{
			object(apic.ManagementClusterKind, "production-mgmt", ha("passive"), "Warning", "24/24", "passive", "PeerNotReachable",
				"Cannot communicate with replication peer FQDN https://mgmt-replication.dc1/"),
			object(apic.PortalClusterKind, "production-ptl", ha("passive"), "Running", "9/9", "passive", "Ready", "Warm Standby DB is ready"),
			object(apic.GatewayClusterKind, "production-gw", map[string]interface{}{"profile": "n1xc4.m8",
				"template": []interface{}{map[string]interface{}{"name": "datapower", "replicaCount": int64(1)}}}, "Running", "1/1", "", "", ""),
		},
		Pods: []corev1.Pod{gwPod("production-gw-0", "node-4", true)},
	}
	peering := map[string]map[string]PeeringRead{"apic/production-gw": {
		"production-gw-0": {Statuses: []datapower.PeeringStatus{
			{Address: "10.0.0.0", ConfigurationName: "gwd", LinkStatus: "ok", Primary: true},
			{Address: "10.0.0.1", ConfigurationName: "gwd", LinkStatus: "ok", PendingUpdates: 2},
			{Address: "10.0.0.2", ConfigurationName: "gwd", LinkStatus: "ok"},
			{Address: "10.0.0.0", ConfigurationName: "tms", LinkStatus: "ok", Primary: true},
			{Address: "10.0.0.1", ConfigurationName: "tms", LinkStatus: "down"},
			{Address: "10.0.0.2", ConfigurationName: "tms", LinkStatus: "down"},
		}},
		"production-gw-1": {Err: errors.New("datapower: login failed")},
	}}
	return []SiteInput{
		{Name: "dc1", Server: "https://dc1.example:6443", Namespace: "apic", Snapshot: dc1, Peering: peering},
		{Name: "dc2", Server: "https://dc2.example:6443", Namespace: "apic", Snapshot: dc2},
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Assert(t, filepath.Join("testdata", name), got)
}

func render(t *testing.T, r Report, format string) []byte {
	t.Helper()
	f := printers.NewFlags()
	*f.PrintFlags.OutputFormat = format
	o := &Options{Shell: cli.Shell{Print: f, Terminal: cli.Terminal{IsTerminal: func(any) bool { return false }, Getenv: func(string) string { return "" }}}, Now: func() time.Time { return now }}
	var buf bytes.Buffer
	if err := o.render(&buf, r); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestGolden(t *testing.T) {
	r := Build(fixture(), BuildOptions{Now: now})
	for _, c := range []struct{ file, format string }{
		{"report.table.golden", "table"}, {"report.wide.golden", "wide"}, {"report.json.golden", "json"},
	} {
		t.Run(c.format, func(t *testing.T) { golden(t, c.file, render(t, r, c.format)) })
	}
}

func TestVerdicts(t *testing.T) {
	r := Build(fixture(), BuildOptions{Now: now})
	if r.Health != Critical || r.ExitCode != int(exitcode.Critical) {
		t.Errorf("fixture (tms peering without quorum): %s %d, want Critical", r.Health, r.ExitCode)
	}
	want := []string{"PeeringQuorumLost", "PeerNotReachable", "FewGateways", "ZoneRisk", "PeeringUnreadable", "TemplateOverrides", "KindNotInstalled"}
	var got []string
	for _, f := range r.Findings {
		got = append(got, f.Code)
	}
	for _, w := range want {
		if !strings.Contains(strings.Join(got, " "), w) {
			t.Errorf("missing finding %s in %v", w, got)
		}
	}

	// Split-brain is critical; a site that cannot be reached is Unreachable when nothing is worse.
	in := fixture()
	in[0].Peering = nil
	in[1].Snapshot.Objects[0] = object(apic.ManagementClusterKind, "production-mgmt", ha("active"), "Running", "24/24", "active", "Ready", "Active DB is ready")
	if r := Build(in, BuildOptions{Now: now}); r.Health != Critical || !hasCode(r, "SplitBrain") {
		t.Errorf("split-brain: %s %v", r.Health, r.Findings)
	}
	in = fixture()
	in[0].Peering = nil
	in[1] = SiteInput{Name: "dc2", Err: exitcode.Newf(exitcode.Unreachable, "context dc2 unreachable: connection refused")}
	r = Build(in, BuildOptions{Now: now})
	if r.Health != Unreachable || r.Sites[1].Reachable || !hasCode(r, FindingSiteUnreachable) {
		t.Errorf("unreachable: %s %+v", r.Health, r.Sites[1])
	}

	// Stuck demotion only past the threshold.
	in = fixture()
	in[0].Peering = nil
	in[0].Snapshot.Objects[0] = object(apic.ManagementClusterKind, "production-mgmt", ha("passive"), "Blocked", "24/24",
		apic.HAModeBlockedWarmStandbyConversion, apic.HAStatusBlocked, "Progressing to WarmStandby")
	if r := Build(in, BuildOptions{Now: now, StuckAfter: 30 * time.Minute}); !hasCode(r, "StuckDemotion") {
		t.Errorf("blocked for 1h with a 30m threshold: not stuck: %v", r.Findings)
	}
	if r := Build(in, BuildOptions{Now: now, StuckAfter: 2 * time.Hour}); hasCode(r, "StuckDemotion") {
		t.Errorf("blocked for 1h with a 2h threshold: stuck")
	}
}

func TestConfiguratorWarning(t *testing.T) {
	top := object(apic.APIConnectClusterKind, "production", map[string]interface{}{"management": ha("active")}, "Warning", "4/5", "", "", "")
	top.SetConditions([]apic.Condition{{Type: "Warning", Status: "True", Reason: "na", Message: "an error occured while running job apic/production-configurator"}})
	in := []SiteInput{{Name: "dc2", Namespace: "apic", Snapshot: &inventory.Snapshot{Site: "dc2", Objects: []apic.Object{top}}}}
	r := Build(in, BuildOptions{Now: now})
	for _, f := range r.Findings {
		if f.Code == FindingConfiguratorJob {
			if !strings.Contains(f.Fix, "kubectl --context dc2 -n apic delete job -l app.kubernetes.io/component=configurator") {
				t.Errorf("fix: %q", f.Fix)
			}
			return
		}
	}
	t.Errorf("no configurator finding: %v", r.Findings)
}

func hasCode(r Report, code string) bool {
	for _, f := range r.Findings {
		if f.Code == code {
			return true
		}
	}
	return false
}
