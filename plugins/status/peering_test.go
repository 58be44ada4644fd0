package status

import (
	"strings"
	"testing"
	"time"

	pdrr "github.com/kubectl-apic/kubectl-apic/pkg/drr"
	"github.com/kubectl-apic/kubectl-apic/pkg/hastate"
)

// A gateway left mid-DRR (the journal) or with apic-gw-service disabled (the device) is reported
// with the re-run that finishes it; a DRR running now is reported, not finished.
func TestDRRFindings(t *testing.T) {
	const fix = "kubectl apic drr production-gw -n apic --context dc1 --yes"
	exp := now.Add(time.Minute)
	for _, tt := range []struct {
		name     string
		journal  pdrr.Journal
		disabled bool
		want     map[string]hastate.Severity
	}{
		{name: "finished", journal: pdrr.Journal{State: pdrr.JournalSucceeded}, want: map[string]hastate.Severity{}},
		{name: "interrupted after the flush", journal: pdrr.Journal{State: pdrr.JournalInterrupted, Step: pdrr.StepFlush, Flushed: true, Peering: "gwd"},
			want: map[string]hastate.Severity{FindingDRRUnfinished: hastate.Critical}},
		{name: "failed with a member disabled", journal: pdrr.Journal{State: pdrr.JournalFailed, Step: pdrr.StepCycle, Flushed: true}, disabled: true,
			want: map[string]hastate.Severity{FindingDRRUnfinished: hastate.Critical, FindingGatewayServiceDisabled: hastate.Warning}},
		{name: "disabled without a DRR", disabled: true, want: map[string]hastate.Severity{FindingGatewayServiceDisabled: hastate.Warning}},
		{name: "running now", journal: pdrr.Journal{State: pdrr.JournalRunning, Step: pdrr.StepCycle, Flushed: true, Holder: "sre@host pid 7", Expires: &exp},
			want: map[string]hastate.Severity{FindingDRRInProgress: hastate.Warning}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := fixture()
			rd := in[0].Peering["apic/production-gw"]["production-gw-0"]
			if tt.disabled {
				rd.AdminState = "disabled"
			}
			in[0].Peering["apic/production-gw"]["production-gw-0"] = rd
			in[0].DRR = map[string]DRRRead{"apic/production-gw": {Journal: tt.journal}}
			r := Build(in, BuildOptions{Now: now})
			got := map[string]string{}
			for _, f := range r.Findings {
				switch f.Code {
				case FindingDRRUnfinished, FindingGatewayServiceDisabled, FindingDRRInProgress:
					got[f.Code] = f.Severity
					if f.Code != FindingDRRInProgress && f.Fix != fix {
						t.Errorf("%s fix %q, want %q", f.Code, f.Fix, fix)
					}
					if f.Code == FindingGatewayServiceDisabled && !strings.Contains(f.Message, "member production-gw-0") {
						t.Errorf("message %q", f.Message)
					}
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("findings %v, want %v", got, tt.want)
			}
			for c, s := range tt.want {
				if got[c] != s.String() {
					t.Errorf("%s: %q, want %q", c, got[c], s)
				}
			}
		})
	}
}
