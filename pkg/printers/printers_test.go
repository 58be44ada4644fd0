package printers

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-apic/kubectl-apic/internal/goldenfile"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
)

func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenfile.Assert(t, filepath.Join("testdata", name+".golden"), []byte(got))
}

// sample is shaped like a command's result document.
type sample struct {
	Sites    []site `json:"sites"`
	Worst    string `json:"worst"`
	ExitCode int    `json:"exitCode"`
	Note     string `json:"note,omitempty"`
}

type site struct {
	Context    string    `json:"context"`
	Subsystem  string    `json:"subsystem"`
	HAMode     string    `json:"haMode"`
	Status     string    `json:"status"`
	Replicas   int       `json:"replicas"`
	ObservedAt time.Time `json:"observedAt"`
}

func sampleDoc() sample {
	at := time.Date(2026, 11, 22, 1, 2, 3, 0, time.UTC)
	return sample{Worst: "WARNING", ExitCode: 3, Sites: []site{
		{Context: "dc1", Subsystem: "management", HAMode: "active", Status: "OK", Replicas: 3, ObservedAt: at},
		{Context: "dc2", Subsystem: "management", HAMode: "BlockedWarmStandbyConversion", Status: "WARNING", Replicas: 1, ObservedAt: at},
	}}
}

func sampleTables() []Table {
	return []Table{
		{
			Title:       "SITE dc1",
			Headers:     []string{"Kind", "Name", "HA Mode", "Status"},
			WideHeaders: []string{"Version", "Message"},
			Rows: [][]string{
				{"mgmt", "management", "active", "OK", "10.0.8.0", "all replicas ready"},
				{"ptl", "portal-with-a-long-name", "active", "CRITICAL", "10.0.8.0", "Peer   not   reachable"},
			},
		},
		{
			Title:       "SITE dc2",
			Headers:     []string{"Kind", "Name", "HA Mode", "Status"},
			WideHeaders: []string{"Version", "Message"},
			Rows: [][]string{
				{"mgmt", "management", "BlockedWarmStandbyConversion", "WARNING", "", ""},
			},
		},
		{Headers: []string{"Check", "Result"}, Rows: [][]string{{"split-brain", "OK"}, {"quorum", "FAILED"}}},
	}
}

func render(t *testing.T, wide bool, style Style) string {
	t.Helper()
	var b bytes.Buffer
	if err := RenderSections(&b, sampleTables(), wide, style); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestTableGolden(t *testing.T) {
	golden(t, "table", render(t, false, Style{}))
	golden(t, "table-wide", render(t, true, Style{}))
	golden(t, "table-color", render(t, false, Style{Color: true}))
}

func TestTableIsKubectlPlain(t *testing.T) {
	out := render(t, true, Style{})
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if strings.HasSuffix(line, " ") {
			t.Errorf("trailing space in %q", line)
		}
		if strings.ContainsAny(line, "|+-─│\x1b") && !strings.Contains(line, "split-brain") && !strings.Contains(line, "a-long-name") {
			t.Errorf("border or escape in %q", line)
		}
	}
	// Columns are separated by exactly three spaces after the widest cell.
	if !strings.Contains(out, "KIND   NAME                      HA MODE") {
		t.Errorf("header spacing wrong:\n%s", out)
	}
	// Cell text is kept verbatim (no wrapping, no collapsing of spaces).
	if !strings.Contains(out, "Peer   not   reachable") {
		t.Errorf("cell text altered:\n%s", out)
	}
	if strings.Contains(render(t, false, Style{}), "VERSION") {
		t.Error("wide column shown without -o wide")
	}
}

func TestColorOnlyWhenAsked(t *testing.T) {
	plain, color := render(t, false, Style{}), render(t, false, Style{Color: true})
	if strings.Contains(plain, "\x1b") {
		t.Error("escape codes without Style.Color")
	}
	for _, want := range []string{ansiGreen + "OK" + ansiReset, ansiRed + "CRITICAL" + ansiReset,
		ansiYellow + "WARNING" + ansiReset, ansiRed + "FAILED" + ansiReset} {
		if !strings.Contains(color, want) {
			t.Errorf("missing %q in colored output", want)
		}
	}
	// Coloring must not shift columns: stripping the escapes gives the plain table.
	stripped := strings.NewReplacer(ansiGreen, "", ansiRed, "", ansiYellow, "", ansiReset, "").Replace(color)
	if stripped != plain {
		t.Errorf("colored table misaligned:\n%s\nvs\n%s", stripped, plain)
	}
}

func TestStatusColor(t *testing.T) {
	for cell, want := range map[string]string{"OK": ansiGreen, "WARNING": ansiYellow, "CRITICAL": ansiRed,
		"FAILED": ansiRed, "ok": "", "BOOKED": "", "active": ""} {
		if got := StatusColor(cell); got != want {
			t.Errorf("StatusColor(%q) = %q, want %q", cell, got, want)
		}
	}
}

func TestRenderTableErrors(t *testing.T) {
	var b bytes.Buffer
	err := RenderTable(&b, Table{Title: "x", Headers: []string{"a", "b"}, Rows: [][]string{{"1"}}}, false, Style{})
	if err == nil || !strings.Contains(err.Error(), "row 0 has 1 cells, want 2") {
		t.Errorf("short row: %v", err)
	}
	err = RenderTable(&b, Table{Headers: []string{"a"}, WideHeaders: []string{"b"}, Rows: [][]string{{"1"}}}, false, Style{})
	if err == nil {
		t.Error("row without its wide cells accepted")
	}
}

func TestEmptyTable(t *testing.T) {
	var b bytes.Buffer
	if err := RenderTable(&b, Table{Title: "T", Headers: []string{"name", "status"}}, false, Style{}); err != nil {
		t.Fatal(err)
	}
	if b.String() != "T\nNAME   STATUS\n" {
		t.Errorf("got %q", b.String())
	}
	b.Reset()
	if err := RenderTable(&b, Table{Title: "only a title"}, false, Style{}); err != nil || b.String() != "only a title\n" {
		t.Errorf("got %q, %v", b.String(), err)
	}
}

func printWith(t *testing.T, format string) string {
	t.Helper()
	f := NewFlags()
	*f.PrintFlags.OutputFormat = format
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := f.Print(&b, "HAStatus", sampleDoc(), Style{Color: true}, sampleTables()...); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestStructuredGolden(t *testing.T) {
	golden(t, "status.json", printWith(t, "json"))
	golden(t, "status.yaml", printWith(t, "yaml"))
	// Upper case and pointers are accepted too.
	f := NewFlags()
	*f.PrintFlags.OutputFormat = "JSON"
	var b bytes.Buffer
	doc := sampleDoc()
	if err := f.PrintObject(&b, "HAStatus", &doc); err != nil {
		t.Fatal(err)
	}
	golden(t, "status.json", b.String())
}

func TestPrintDispatch(t *testing.T) {
	if got := printWith(t, "table"); got != render(t, false, Style{Color: true}) {
		t.Errorf("table output differs from RenderSections:\n%s", got)
	}
	if got := printWith(t, "wide"); got != render(t, true, Style{Color: true}) {
		t.Errorf("wide output differs from RenderSections:\n%s", got)
	}
	if got := printWith(t, "json"); strings.Contains(got, "\x1b") {
		t.Error("JSON must never be colored")
	}
}

func TestToObject(t *testing.T) {
	obj, err := ToObject("HAStatus", sampleDoc())
	if err != nil {
		t.Fatal(err)
	}
	u := obj.(*unstructured.Unstructured)
	if u.GetAPIVersion() != APIVersion || u.GetKind() != "HAStatus" {
		t.Errorf("type meta %s %s", u.GetAPIVersion(), u.GetKind())
	}
	if n, _, _ := unstructured.NestedInt64(u.Object, "exitCode"); n != 3 {
		t.Errorf("exitCode = %d", n)
	}
	if _, found := u.Object["note"]; found {
		t.Error("omitempty ignored")
	}
	// A runtime.Object is printed as it is.
	if got, _ := ToObject("Other", u); got != obj {
		t.Error("runtime.Object was converted")
	}
	if _, err := ToObject("Bad", []string{"a"}); err == nil {
		t.Error("a slice cannot be a document")
	}
	if _, err := ToObject("Bad", nil); err == nil {
		t.Error("nil cannot be a document")
	}
}

func TestFlags(t *testing.T) {
	f := NewFlags()
	cmd := &cobra.Command{Use: "x"}
	f.AddFlags(cmd)
	if f.Format() != "table" || f.IsStructured() || f.IsWide() {
		t.Errorf("default %q", f.Format())
	}
	if !strings.Contains(cmd.Flag("output").Usage, "table, wide, json, yaml, kyaml, go-template, go-template-file, jsonpath,") || cmd.Flag("output").Shorthand != "o" ||
		strings.Contains(cmd.Flag("output").Usage, "name") || cmd.Flag("template") == nil || cmd.Flag("allow-missing-template-keys") == nil {
		t.Errorf("usage %q", cmd.Flag("output").Usage)
	}
	tests := []struct {
		arg        string
		valid      bool
		structured bool
		wide       bool
	}{
		{"json", true, true, false},
		{"yaml", true, true, false},
		{"YAML", true, true, false},
		{"wide", true, false, true},
		{"table", true, false, false},
		{"xml", false, false, false},
		{"name", false, false, false},
		{"jsonpath={.x}", true, true, false},
		{"JSONPath={.Worst}", true, true, false},
		{"jsonpath={.x", false, false, false},
		{"go-template={{.worst}}", true, true, false},
		{"go-template={{.worst", false, false, false},
		{"go-template", false, false, false}, // no template given
		{"custom-columns=A:.a", false, false, false},
	}
	for _, tt := range tests {
		f := NewFlags()
		cmd := &cobra.Command{Use: "x"}
		f.AddFlags(cmd)
		if err := cmd.ParseFlags([]string{"-o", tt.arg}); err != nil {
			t.Fatal(err)
		}
		err := f.Validate()
		if (err == nil) != tt.valid {
			t.Errorf("-o %s: Validate() = %v", tt.arg, err)
			continue
		}
		if err != nil {
			if exitcode.FromError(err) != exitcode.Usage || strings.Contains(err.Error(), "\n") ||
				(!strings.Contains(err.Error(), "table, wide, json, yaml") && !strings.Contains(err.Error(), "-o "+tt.arg+": ")) {
				t.Errorf("-o %s: error %q (code %v)", tt.arg, err, exitcode.FromError(err))
			}
			continue
		}
		if f.IsStructured() != tt.structured || f.IsWide() != tt.wide {
			t.Errorf("-o %s: structured=%v wide=%v", tt.arg, f.IsStructured(), f.IsWide())
		}
	}
	if err := NewFlags().PrintObject(&bytes.Buffer{}, "K", sampleDoc()); err == nil {
		t.Error("PrintObject with table format should fail")
	}
}

// The template formats print the result document as kubectl prints objects.
func TestTemplateFormatsGolden(t *testing.T) {
	golden(t, "status.jsonpath", printWith(t, `jsonpath={range .sites[*]}{.context}{"\t"}{.status}{"\n"}{end}`))
	golden(t, "status.go-template", printWith(t, `go-template={{range .sites}}{{.context}} {{.haMode}}{{"\n"}}{{end}}`))
	// --template alone means go-template, as in kubectl.
	f := NewFlags()
	cmd := &cobra.Command{Use: "x"}
	f.AddFlags(cmd)
	if err := cmd.ParseFlags([]string{"--template", "{{.worst}}"}); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := f.Validate(); err != nil || f.Print(&b, "HAStatus", sampleDoc(), Style{}) != nil || b.String() != "WARNING" {
		t.Errorf("--template: %v %q", err, b.String())
	}
	// A missing key is an error only with --allow-missing-template-keys=false.
	f = NewFlags()
	cmd = &cobra.Command{Use: "x"}
	f.AddFlags(cmd)
	if err := cmd.ParseFlags([]string{"-o", "jsonpath={.nope}", "--allow-missing-template-keys=false"}); err != nil {
		t.Fatal(err)
	}
	if err := f.Print(&bytes.Buffer{}, "HAStatus", sampleDoc(), Style{}); err == nil {
		t.Error("missing key accepted with --allow-missing-template-keys=false")
	}
}

type namedDoc struct {
	Names []string `json:"names"`
}

func (d namedDoc) ObjectRefs() []ObjectRef {
	var out []ObjectRef
	for _, n := range d.Names {
		out = append(out, ObjectRef{APIVersion: "management.apiconnect.ibm.com/v1beta1", Kind: "ManagementCluster", Namespace: "apic", Name: n})
	}
	out = append(out, ObjectRef{APIVersion: "v1", Kind: "Pod", Name: "gw-0"})
	return out
}

// -o name is offered only by commands whose documents name objects, printed kubectl's way.
func TestNameFormat(t *testing.T) {
	f := NewFlags().WithName()
	if !slices.Contains(f.AllowedFormats(), "name") || slices.Contains(NewFlags().AllowedFormats(), "name") {
		t.Errorf("name offered: %v / %v", f.AllowedFormats(), NewFlags().AllowedFormats())
	}
	*f.PrintFlags.OutputFormat = "name"
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := f.Print(&b, "X", namedDoc{Names: []string{"mgmt-a", "mgmt-b"}}, Style{}); err != nil {
		t.Fatal(err)
	}
	if want := "managementcluster.management.apiconnect.ibm.com/mgmt-a\nmanagementcluster.management.apiconnect.ibm.com/mgmt-b\npod/gw-0\n"; b.String() != want {
		t.Errorf("-o name:\n%s\nwant\n%s", b.String(), want)
	}
	err := f.Print(&b, "HAStatus", sampleDoc(), Style{})
	if exitcode.FromError(err) != exitcode.Usage {
		t.Errorf("-o name of a document without names: %v", err)
	}
}

func TestAge(t *testing.T) {
	now := time.Date(2026, 11, 22, 1, 2, 3, 0, time.UTC)
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Time{}, "<unknown>"},
		{now.Add(-30 * time.Second), "30s"},
		{now.Add(-5 * time.Minute), "5m"},
		{now.Add(-(3*time.Hour + 12*time.Minute)), "3h12m"},
		{now.Add(-49 * time.Hour), "2d1h"},
	}
	for _, tt := range tests {
		if got := Age(tt.t, now); got != tt.want {
			t.Errorf("Age(%v) = %q, want %q", now.Sub(tt.t), got, tt.want)
		}
	}
	if HumanDuration(90*time.Second) != "90s" {
		t.Errorf("HumanDuration(90s) = %q", HumanDuration(90*time.Second))
	}
}

func TestSeconds(t *testing.T) {
	for d, want := range map[time.Duration]float64{0: 0, 1500 * time.Microsecond: 0.002, 1499 * time.Microsecond: 0.001,
		90 * time.Second: 90, 2*time.Second + 345678*time.Microsecond: 2.346} {
		if got := Seconds(d); got != want {
			t.Errorf("Seconds(%v) = %v, want %v", d, got, want)
		}
	}
}
