package layout

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/kubectl-apic/kubectl-apic/"

// engines maps each engine package to the one plugin it serves.
var engines = map[string]string{
	"pkg/drr":      "plugins/drr",
	"pkg/failover": "plugins/failover",
	"pkg/spread":   "plugins/spread",
	"pkg/rollout":  "plugins/rollout",
}

// known are the second importers of an engine that exist today, each with why; a new one fails the
// test, and so does one listed here that no longer imports the engine (take its line out).
var known = map[string]map[string]string{
	"pkg/drr": {"plugins/status": "status --peering reads kubectl apic drr's journal (the annotations of its Lease) to report a DRR left unfinished"},
}

// product reports whether pkg is part of what we ship: cmd/, plugins/ and pkg/. hack/ (the lab,
// benchmarks) and internal/ (test helpers) may import anything.
func product(pkg string) bool {
	return strings.HasPrefix(pkg, "cmd/") || strings.HasPrefix(pkg, "plugins/") || strings.HasPrefix(pkg, "pkg/")
}

type listed struct {
	ImportPath string
	Imports    []string
}

// imports is `go list -json ./...` of the module: each package's non-test imports, module-relative.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports", "./...")
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	return parse(t, out)
}

func parse(t *testing.T, out []byte) map[string][]string {
	t.Helper()
	got := map[string][]string{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		var own []string
		for _, imp := range p.Imports {
			if rel, ok := strings.CutPrefix(imp, module); ok {
				own = append(own, rel)
			}
		}
		got[strings.TrimPrefix(p.ImportPath, module)] = own
	}
	return got
}

// violations applies the rule to a module's imports.
func violations(imports map[string][]string) []string {
	var out []string
	for engine, plugin := range engines {
		seen := map[string]bool{}
		for pkg, imps := range imports {
			if !product(pkg) || pkg == plugin || !slices.Contains(imps, engine) {
				continue
			}
			seen[pkg] = true
			if _, ok := known[engine][pkg]; !ok {
				out = append(out, engine+" is the engine of "+plugin+" alone, but "+pkg+" imports it: move what both need into a shared package (README, Code layout)")
			}
		}
		for pkg := range known[engine] {
			if !seen[pkg] {
				out = append(out, pkg+" no longer imports "+engine+": take it out of known in internal/layout")
			}
		}
	}
	for pkg, imps := range imports {
		if !strings.HasPrefix(pkg, "pkg/") || engines[pkg] != "" {
			continue
		}
		for _, imp := range imps {
			if engines[imp] != "" || strings.HasPrefix(imp, "plugins/") {
				out = append(out, "shared package "+pkg+" imports "+imp+": a shared package serves every command and imports no engine or plugin")
			}
		}
	}
	slices.Sort(out)
	return out
}

func TestEnginesHaveOneImporter(t *testing.T) {
	imps := imports(t)
	for engine := range engines {
		if _, ok := imps[engine]; !ok {
			t.Errorf("engine %s not found by go list", engine)
		}
	}
	for _, v := range violations(imps) {
		t.Error(v)
	}
}

// The rule itself, on made-up imports: a second plugin importing an engine, and a shared package
// importing one, are caught; hack/ and tests are not the product.
func TestViolations(t *testing.T) {
	base := map[string][]string{
		"plugins/drr":      {"pkg/drr", "pkg/cli"},
		"plugins/status":   {"pkg/drr", "pkg/inventory"},
		"plugins/failover": {"pkg/failover"},
		"plugins/spread":   {"pkg/spread"},
		"plugins/rollout":  {"pkg/rollout"},
		"hack/bench/x":     {"pkg/spread", "pkg/failover"},
		"pkg/inventory":    {"pkg/apic"},
	}
	if v := violations(base); len(v) != 0 {
		t.Fatalf("clean layout: %q", v)
	}
	bad := map[string][]string{}
	for k, v := range base {
		bad[k] = v
	}
	bad["plugins/status"] = []string{"pkg/drr", "pkg/failover"}
	bad["pkg/inventory"] = []string{"pkg/spread"}
	v := strings.Join(violations(bad), "\n")
	for _, want := range []string{
		"pkg/failover is the engine of plugins/failover alone, but plugins/status imports it",
		"pkg/spread is the engine of plugins/spread alone, but pkg/inventory imports it",
		"shared package pkg/inventory imports pkg/spread",
	} {
		if !strings.Contains(v, want) {
			t.Errorf("violations lack %q:\n%s", want, v)
		}
	}
	delete(bad, "plugins/status")
	if v := strings.Join(violations(bad), "\n"); !strings.Contains(v, "plugins/status no longer imports pkg/drr") {
		t.Errorf("a stale known importer is not reported:\n%s", v)
	}
}

// The README says which packages are engines, in its section "Code layout".
func TestReadmeNamesTheEngines(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Code layout\n")
	if !ok {
		t.Fatal(`README.md has no section "## Code layout"`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	for engine, plugin := range engines {
		if !strings.Contains(section, "`"+engine+"`") || !strings.Contains(section, "`"+plugin+"`") {
			t.Errorf("README's Code layout does not name engine %s of %s", engine, plugin)
		}
	}
}
