// Package cmd_test tests what `make build` leaves in bin/: the binaries and the kubectl-apic_<plugin>
// aliases beside them, so that both invocation forms the README promises (kubectl apic status and
// kubectl apic-status) work from a source build with bin/ on PATH, as they do from the release
// archives (.goreleaser.yaml packs the same aliases/ files).
package cmd_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

var plugins = []string{"status", "failover", "drr", "spread", "rollout"}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func makeBuild(t *testing.T, bin string, vars ...string) string {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("make not found: %v", err)
	}
	cmd := exec.Command("make", append([]string{"-C", repoRoot(t), "--no-print-directory", "build", "BIN=" + bin}, vars...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	return string(out)
}

// Every plugin gets its alias: checked with a stand-in for go that "builds" empty executables, so
// this part costs nothing.
func TestMakeBuildCreatesEveryAlias(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("make build's recipe is POSIX sh")
	}
	dir := t.TempDir()
	fakeGo := filepath.Join(dir, "go")
	// `go env GOOS` prints linux; `go build ... -o <file> <pkg>` creates an empty executable.
	script := `#!/bin/sh
if [ "$1" = env ]; then echo linux; exit 0; fi
while [ $# -gt 0 ]; do if [ "$1" = -o ]; then : > "$2"; chmod +x "$2"; fi; shift; done
`
	if err := os.WriteFile(fakeGo, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bin")
	makeBuild(t, bin, "GO="+fakeGo)
	for _, p := range plugins {
		alias := filepath.Join(bin, "kubectl-apic_"+p)
		st, err := os.Stat(alias)
		if err != nil || st.Mode()&0o111 == 0 {
			t.Errorf("make build left no executable %s: %v", alias, err)
		}
		if _, err := os.Stat(filepath.Join(bin, "kubectl-apic-"+p)); err != nil {
			t.Errorf("binary missing: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(bin, "kubectl-apic_")); err == nil {
		t.Error("the umbrella got an alias of its own")
	}
}

// The real thing for one plugin: after `make build`, `kubectl apic-status --help` runs through the
// real kubectl with bin/ on PATH.
func TestMakeBuildAliasRunsThroughKubectl(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds a binary (TestMakeBuildCreatesEveryAlias checks the aliases without building)")
	}
	if runtime.GOOS == "windows" {
		t.Skip("make build's recipe is POSIX sh")
	}
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatalf("kubectl not found (.ci/run installs it): %v", err)
	}
	bin := filepath.Join(t.TempDir(), "bin")
	makeBuild(t, bin, "BINARIES=kubectl-apic-status")
	for _, args := range [][]string{{"apic-status", "--help"}, {"apic_status", "--help"}} {
		cmd := exec.Command(kubectl, args...)
		cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Show the health of an API Connect HA installation") {
			t.Errorf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
