package status_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	pkgfailover "github.com/kubectl-apic/kubectl-apic/pkg/failover"
	"github.com/kubectl-apic/kubectl-apic/pkg/hastate"
	"github.com/kubectl-apic/kubectl-apic/pkg/inventory"
	"github.com/kubectl-apic/kubectl-apic/pkg/kube"
	"github.com/kubectl-apic/kubectl-apic/plugins/drr"
	"github.com/kubectl-apic/kubectl-apic/plugins/failover"
	"github.com/kubectl-apic/kubectl-apic/plugins/spread"
	"github.com/kubectl-apic/kubectl-apic/plugins/status"
)

// Every fix status prints must be a command that runs and is right in the state it was printed
// for. These tests take each `kubectl ...` command out of the fixes and check it: ours are parsed
// by the real command (flags, then Complete and Validate) and, for failover, judged by failover's
// own pre-flight assessment against the state; kubectl patches must name an object of that site,
// carry valid JSON and leave exactly one site active. The lab test (TestFixesRunInTheLab) runs
// the kubectl ones against a real API server.

// commandEnd ends a command inside a fix's prose.
var commandEnd = regexp.MustCompile(`;\s|\s\(|,\s+or\s|\)$`)

// commandsIn returns the kubectl command lines in a fix, split into words (single quotes kept
// together, as a shell would).
func commandsIn(fix string) [][]string {
	var out [][]string
	for {
		i := strings.Index(fix, "kubectl ")
		if i < 0 {
			return out
		}
		fix = fix[i:]
		end := len(fix)
		if loc := commandEnd.FindStringIndex(fix); loc != nil {
			end = loc[0]
		}
		out = append(out, shellWords(strings.TrimRight(fix[:end], ". ")))
		fix = fix[end:]
	}
}

func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	inQuote, have := false, false
	for _, r := range s {
		switch {
		case r == '\'':
			inQuote, have = !inQuote, true
		case r == ' ' && !inQuote:
			if have {
				words = append(words, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if have {
		words = append(words, cur.String())
	}
	return words
}

// fixState is what a fix is judged against; nil fields skip those checks (golden files).
type fixState struct {
	sites []string
	pairs []hastate.Pair
	objs  map[string][]apic.Object // site → objects
}

func checkFix(t *testing.T, args []string, st fixState) {
	t.Helper()
	if len(args) < 2 || args[0] != "kubectl" {
		t.Errorf("not a kubectl command: %q", args)
		return
	}
	if args[1] == "apic" {
		checkOurs(t, args[2:], st)
		return
	}
	checkKubectl(t, args[1:], st)
}

func discard() genericiooptions.IOStreams { return genericiooptions.NewTestIOStreamsDiscard() }

// parse finds the subcommand of root for args and parses its flags as cobra would.
func parse(t *testing.T, root *cobra.Command, args []string) (*cobra.Command, bool) {
	t.Helper()
	cli.Prepare(root)
	cmd, rest, err := root.Find(args)
	if err != nil {
		t.Errorf("%q: %v", args, err)
		return nil, false
	}
	if err := cmd.ParseFlags(rest); errors.Is(err, pflag.ErrHelp) {
		return cmd, false
	} else if err != nil {
		t.Errorf("%q: %v", args, err)
		return nil, false
	}
	if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
		t.Errorf("%q: %v", args, err)
		return nil, false
	}
	help, _ := cmd.Flags().GetBool("help")
	return cmd, !help
}

func checkOurs(t *testing.T, args []string, st fixState) {
	t.Helper()
	if len(args) == 0 {
		t.Errorf("kubectl apic without a command")
		return
	}
	switch args[0] {
	case "failover":
		o := failover.NewOptions(discard())
		o.NewSites = func(_ *genericclioptions.ConfigFlags, contexts []string) ([]*kube.Site, error) {
			return []*kube.Site{{Name: contexts[0]}, {Name: contexts[1]}}, nil // Complete resolves them; no kubeconfig here
		}
		cmd, run := parse(t, failover.NewCommandWithOptions("kubectl apic failover", o), args[1:])
		if !run {
			return
		}
		if err := o.Complete(cmd, nil); err != nil {
			t.Errorf("%q: Complete: %v", args, err)
			return
		}
		if err := o.Validate(); err != nil {
			t.Errorf("%q: Validate: %v", args, err)
			return
		}
		if st.pairs != nil {
			subs := []apic.Subsystem{apic.Management, apic.Portal}
			switch o.Subsystem {
			case "management", "mgmt":
				subs = subs[:1]
			case "portal", "ptl":
				subs = subs[1:]
			}
			if _, err := pkgfailover.Assess(st.pairs, pkgfailover.Request{From: o.From, To: o.To, Subsystems: subs}, pkgfailover.Journal{}); err != nil {
				t.Errorf("%q would be refused in this state: %v", args, err)
			}
		}
	case "spread":
		o := spread.NewOptions(discard())
		o.NewSite = func(*genericclioptions.ConfigFlags) (*kube.Site, error) { return &kube.Site{}, nil } // no kubeconfig here
		cmd, run := parse(t, spread.NewCommandWithOptions("kubectl apic spread", o), args[1:])
		if !run {
			return
		}
		o.Action = cmd.Name()
		if err := o.Complete(cmd, nil); err != nil {
			t.Errorf("%q: Complete: %v", args, err)
			return
		}
		if err := o.Validate(); err != nil {
			t.Errorf("%q: Validate: %v", args, err)
		}
		checkContext(t, args, cmd, st)
	case "drr":
		parse(t, drr.NewCommand("kubectl apic drr", discard()), args[1:])
	case "status":
		cmd, _ := parse(t, status.NewCommand("kubectl apic status", discard()), args[1:])
		if cmd != nil {
			checkContext(t, args, cmd, st)
		}
	default:
		t.Errorf("%q: no such command", args)
	}
}

func checkContext(t *testing.T, args []string, cmd *cobra.Command, st fixState) {
	t.Helper()
	for _, name := range []string{"context", "peer-context"} {
		if f := cmd.Flags().Lookup(name); f != nil && f.Changed && st.sites != nil && !contains(st.sites, f.Value.String()) {
			t.Errorf("%q: --%s %s is not one of the sites %v", args, name, f.Value.String(), st.sites)
		}
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// checkKubectl checks a plain kubectl command: its context is a site; a patch names an object of
// that site, is valid JSON, and (for a mode change) leaves exactly one site active.
func checkKubectl(t *testing.T, args []string, st fixState) {
	t.Helper()
	var site, ns string
	var words []string
	var patch string
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--context":
			i++
			site = args[i]
		case "-n", "--namespace":
			i++
			ns = args[i]
		case "-p", "--patch":
			i++
			patch = args[i]
		case "--type", "-l", "--selector":
			i++
		default:
			words = append(words, args[i])
		}
	}
	if site == "" || (st.sites != nil && !contains(st.sites, site)) {
		t.Errorf("%q: --context %q is not one of the sites %v", args, site, st.sites)
	}
	if ns == "" {
		t.Errorf("%q: no namespace: it would act on the context's default namespace", args)
	}
	if len(words) == 0 {
		t.Errorf("%q: no verb", args)
		return
	}
	switch words[0] {
	case "describe", "get", "delete":
		return
	case "patch":
	default:
		t.Errorf("%q: unexpected verb %s", args, words[0])
		return
	}
	if len(words) != 3 {
		t.Errorf("%q: want patch RESOURCE NAME", args)
		return
	}
	var p map[string]interface{}
	if err := json.Unmarshal([]byte(patch), &p); err != nil {
		t.Errorf("%q: patch is not JSON: %v", args, err)
		return
	}
	if st.objs == nil {
		return
	}
	var target *apic.Object
	for _, o := range st.objs[site] {
		if o.Kind.Plural+"."+o.Kind.Group == words[1] && o.Name() == words[2] && o.Namespace() == ns {
			target = &o
			break
		}
	}
	if target == nil {
		t.Errorf("%q: no %s %s in %s/%s", args, words[1], words[2], site, ns)
		return
	}
	// The mode after the patch, per site, for the pair it concerns: exactly one active.
	for _, pr := range st.pairs {
		m, ok := pr.Member(site)
		if !ok || m.Spec.Name() != target.Name() || m.Spec.Kind != target.Kind {
			continue
		}
		merged := target.U.DeepCopy()
		spec := map[string]interface{}{}
		_ = json.Unmarshal([]byte(patch), &spec)
		mergePatch(merged.Object, spec)
		after, _ := apic.Object{Kind: target.Kind, U: merged}.MultiSiteHA(pr.Subsystem)
		active := 0
		for _, other := range pr.Members {
			mode := other.Mode
			if other.Site == site {
				mode = after.Mode
			}
			if mode == apic.ModeActive {
				active++
			}
		}
		if active != 1 {
			t.Errorf("%q: leaves %s %s set active on %d sites", args, pr.Subsystem, pr.Name, active)
		}
		if after.Mode == apic.ModePassive && pr.Subsystem == apic.Management && !strings.Contains(patch, apic.DataDeletionConfirmationAnnotation) {
			t.Errorf("%q: demotes management without IBM's confirmation annotation", args)
		}
	}
}

// mergePatch applies a JSON merge patch (RFC 7386) to dst.
func mergePatch(dst, patch map[string]interface{}) {
	for k, v := range patch {
		if v == nil {
			delete(dst, k)
			continue
		}
		if pm, ok := v.(map[string]interface{}); ok {
			dm, ok := dst[k].(map[string]interface{})
			if !ok {
				dm = map[string]interface{}{}
				dst[k] = dm
			}
			mergePatch(dm, pm)
			continue
		}
		dst[k] = v
	}
}

// TestGoldenFixesRun checks every command in the fixes of the golden files (the report shapes the
// unit tests pin).
func TestGoldenFixesRun(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.golden")
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var fixes []string
		if strings.HasSuffix(f, ".json.golden") {
			var r status.Report
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatal(err)
			}
			for _, x := range r.Findings {
				fixes = append(fixes, x.Fix)
			}
		} else {
			for _, line := range strings.Split(string(b), "\n") {
				if _, fix, ok := strings.Cut(line, "    fix: "); ok {
					fixes = append(fixes, fix)
				}
			}
		}
		for _, fix := range fixes {
			for _, args := range commandsIn(fix) {
				n++
				checkFix(t, args, fixState{sites: []string{"dc1", "dc2"}})
			}
		}
	}
	if n == 0 {
		t.Fatal("no commands found in the golden files' fixes")
	}
}

// haObject is a management or portal CR as the operator reports it.
func haObject(k apic.Kind, name, mode, haMode, haType string) apic.Object {
	o := apic.New(k, "apic", name)
	o.U.SetUID(types.UID("uid-" + name + "-" + mode + haMode))
	_ = unstructured.SetNestedField(o.U.Object, mode, "spec", "multiSiteHA", "mode")
	o.SetStatusField(haMode, "haMode")
	o.SetStatusField("Running", "phase")
	o.SetHAStatus([]apic.Condition{{Type: haType, Status: "True", Message: haType, LastTransitionTime: metav1.NewTime(time.Now().Add(-time.Hour))}})
	return o
}

// TestFixesAgainstState builds the states whose fixes were wrong (issue 11: split-brain, no
// active site, a one-site warm-standby, management and portal active apart) and checks every
// command in every fix against that state.
func TestFixesAgainstState(t *testing.T) {
	mg := func(mode, haMode, haType string) apic.Object {
		return haObject(apic.ManagementClusterKind, "production-mgmt", mode, haMode, haType)
	}
	pt := func(mode, haMode string) apic.Object {
		return haObject(apic.PortalClusterKind, "production-ptl", mode, haMode, "Ready")
	}
	for _, tc := range []struct {
		name     string
		dc1, dc2 []apic.Object
		want     string // a finding code the state must produce
	}{
		{"split-brain", []apic.Object{mg("active", "active", "Ready"), pt("active", "active")},
			[]apic.Object{mg("active", "active", "Ready"), pt("passive", "passive")}, hastate.SplitBrain},
		{"portal split-brain", []apic.Object{mg("active", "active", "Ready"), pt("active", "active")},
			[]apic.Object{mg("passive", "passive", "Ready"), pt("active", "active")}, hastate.SplitBrain},
		{"no active site after a demotion", []apic.Object{mg("passive", apic.HAModeBlockedWarmStandbyConversion, apic.HAModeBlockedWarmStandbyConversion), pt("active", "active")},
			[]apic.Object{mg("passive", "passive", "Ready"), pt("passive", "passive")}, hastate.NoActiveSite},
		{"no active site, both warm-standby", []apic.Object{mg("passive", "passive", "Ready"), pt("active", "active")},
			[]apic.Object{mg("passive", "passive", "Ready"), pt("passive", "passive")}, hastate.NoActiveSite},
		{"set active on both", []apic.Object{mg("active", "active", "Ready"), pt("active", "active")},
			[]apic.Object{mg("active", "ReadyForPromotion", "ReadyForPromotion"), pt("passive", "passive")}, hastate.SplitBrain},
		{"management and portal active apart", []apic.Object{mg("active", "active", "Ready"), pt("passive", "passive")},
			[]apic.Object{mg("passive", "passive", "Ready"), pt("active", "active")}, hastate.ActiveApart},
		{"promotion in progress", []apic.Object{mg("passive", apic.HAModeBlockedWarmStandbyConversion, apic.HAModeBlockedWarmStandbyConversion), pt("active", "active")},
			[]apic.Object{mg("active", "ReadyForPromotion", "ReadyForPromotion"), pt("passive", "passive")}, hastate.FailoverInProgress},
		{"one site, warm-standby", nil, []apic.Object{mg("passive", "passive", "Ready"), pt("passive", "passive")}, hastate.PeerNotChecked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var inputs []status.SiteInput
			var objs []hastate.SiteObjects
			st := fixState{objs: map[string][]apic.Object{}}
			for _, s := range []struct {
				name string
				objs []apic.Object
			}{{"dc1", tc.dc1}, {"dc2", tc.dc2}} {
				if s.objs == nil {
					continue
				}
				inputs = append(inputs, status.SiteInput{Name: s.name, Namespace: "apic", Snapshot: &inventory.Snapshot{Site: s.name, Objects: s.objs}})
				objs = append(objs, hastate.SiteObjects{Site: s.name, Objects: s.objs})
				st.sites = append(st.sites, s.name)
				st.objs[s.name] = s.objs
			}
			st.pairs = hastate.Pairs(objs, hastate.Options{})
			r := status.Build(inputs, status.BuildOptions{StuckAfter: time.Hour * 24, Now: time.Now()})
			found, n := false, 0
			for _, f := range r.Findings {
				found = found || f.Code == tc.want
				for _, args := range commandsIn(f.Fix) {
					n++
					checkFix(t, args, st)
				}
			}
			if !found {
				t.Errorf("no %s finding: %+v", tc.want, r.Findings)
			}
			if n == 0 && tc.want != hastate.PeerNotChecked {
				t.Errorf("no command in any fix: %+v", r.Findings)
			}
		})
	}
}
