// Package krew tests what we ship, installed the way SREs install kubectl plugins. The release
// archives and the krew manifest come from `make release-snapshot` (goreleaser, offline, into dist/;
// nothing committed carries a sha256). They are checked with krew's own validate-krew-manifest and
// installed with the real krew (sigs.k8s.io/krew v0.5.0, built by hack/krew-tools.sh) and run
// through the real /usr/bin/kubectl:
//
//   - the one krew plugin `apic` (the kubectl-apic-suite archive: the umbrella and every plugin
//     binary), installed into an empty KREW_ROOT with `kubectl krew install --manifest --archive`,
//     and from a local index over HTTP so that `kubectl krew upgrade` really runs;
//   - the per-plugin archives, and the suite archive, unpacked onto PATH.
//
// Every command's --help runs through kubectl and must show the command as the user typed it;
// completion runs through `kubectl __complete` against the real apiserver (internal/testenv).
//
// KUBECTL_APIC_DIST names dist/ of a `make release-snapshot` (.ci/run sets it); otherwise the test
// runs it (several minutes). KREW_TOOLS names hack/krew-tools.sh's directory; otherwise the test runs
// the script (cached after the first build).
package krew

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-apic/kubectl-apic/internal/testenv"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/plugins/drr"
	"github.com/kubectl-apic/kubectl-apic/plugins/failover"
	"github.com/kubectl-apic/kubectl-apic/plugins/rollout"
	"github.com/kubectl-apic/kubectl-apic/plugins/spread"
	"github.com/kubectl-apic/kubectl-apic/plugins/status"
	"github.com/kubectl-apic/kubectl-apic/plugins/umbrella"
)

// Manifest is the part of krew's Plugin (krew.googlecontainertools.github.com/v1alpha2) we check
// beyond what krew's validator checks.
type Manifest struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version          string     `json:"version"`
		ShortDescription string     `json:"shortDescription"`
		Description      string     `json:"description"`
		Caveats          string     `json:"caveats"`
		Platforms        []Platform `json:"platforms"`
	} `json:"spec"`
}

// Platform is one entry of spec.platforms.
type Platform struct {
	URI      string `json:"uri"`
	Sha256   string `json:"sha256"`
	Bin      string `json:"bin"`
	Selector struct {
		MatchLabels map[string]string `json:"matchLabels"`
	} `json:"selector"`
}

// plugins are the suite's binaries besides the umbrella.
func plugins() []string {
	var out []string
	for _, p := range umbrella.Plugins() {
		out = append(out, p.Name)
	}
	return out
}

const releaseURL = "https://github.com/kubectl-apic/kubectl-apic/releases/download/"

// Nothing committed may carry a sha256 that no archive has: manifests exist only in dist/.
func TestNoCommittedChecksums(t *testing.T) {
	sum := regexp.MustCompile(`\b[0-9a-f]{64}\b`)
	files, _ := filepath.Glob("*.yaml")
	more, _ := filepath.Glob("../*.yaml")
	for _, f := range append(append(files, more...), "../.krew.yaml") {
		raw, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if sum.Match(raw) {
			t.Errorf("%s carries a sha256 sum: krew manifests are generated from the archives at release (dist/krew)", f)
		}
	}
}

// --- what the release built ---------------------------------------------------------------------

var distOnce struct {
	sync.Once
	dir string
	err error
}

// dist returns a goreleaser snapshot's dist directory, building it if KUBECTL_APIC_DIST is unset.
func dist(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("packaging test: needs the release archives (skipped with -short; run make test)")
	}
	distOnce.Do(func() {
		if d := os.Getenv("KUBECTL_APIC_DIST"); d != "" {
			distOnce.dir, distOnce.err = filepath.Abs(d)
			return
		}
		out, err := exec.Command("make", "-C", "..", "release-snapshot").CombinedOutput()
		if err != nil {
			distOnce.err = fmt.Errorf("make release-snapshot: %v\n%s", err, out)
			return
		}
		distOnce.dir, distOnce.err = filepath.Abs(filepath.Join("..", "dist"))
	})
	if distOnce.err != nil {
		t.Fatal(distOnce.err)
	}
	return distOnce.dir
}

var toolsOnce struct {
	sync.Once
	dir string
	err error
}

// krewTools returns the directory holding krew and validate-krew-manifest.
func krewTools(t *testing.T) string {
	t.Helper()
	toolsOnce.Do(func() {
		if d := os.Getenv("KREW_TOOLS"); d != "" {
			toolsOnce.dir = d
			return
		}
		cmd := exec.Command("../hack/krew-tools.sh")
		var errOut bytes.Buffer
		cmd.Stderr = &errOut
		out, err := cmd.Output()
		if err != nil {
			toolsOnce.err = fmt.Errorf("hack/krew-tools.sh: %v\n%s", err, errOut.String())
			return
		}
		toolsOnce.dir = strings.TrimSpace(string(out))
	})
	if toolsOnce.err != nil {
		t.Fatal(toolsOnce.err)
	}
	return toolsOnce.dir
}

func loadManifest(t *testing.T, path string) Manifest {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m Manifest
	if err := yaml.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// suiteArchive is this platform's kubectl-apic-suite archive.
func suiteArchive(t *testing.T, d string) string {
	t.Helper()
	return archive(t, d, "apic-suite")
}

// archive is this platform's archive kubectl-<name>_v..._<os>_<arch>.tar.gz.
func archive(t *testing.T, d, name string) string {
	t.Helper()
	pattern := filepath.Join(d, fmt.Sprintf("kubectl-%s_v*_%s_%s.tar.gz", name, runtime.GOOS, runtime.GOARCH))
	matches, _ := filepath.Glob(pattern)
	if len(matches) != 1 {
		t.Fatalf("want one archive %s, found %v", pattern, matches)
	}
	return matches[0]
}

// One krew manifest, for the one plugin apic, generated from the suite archives: what krew's
// validator does not check (krew-index's rules, the archives' contents) is checked here, then
// krew's validate-krew-manifest installs it for every platform.
func TestManifest(t *testing.T) {
	d := dist(t)
	files, _ := filepath.Glob(filepath.Join(d, "krew", "*.yaml"))
	if len(files) != 1 || filepath.Base(files[0]) != "apic.yaml" {
		t.Fatalf("dist/krew has %v, want only apic.yaml: one krew plugin with subcommands", files)
	}
	m := loadManifest(t, files[0])
	if sd := m.Spec.ShortDescription; len(sd) > 50 {
		t.Errorf("shortDescription has %d characters, krew-index wants at most 50: %q", len(sd), sd)
	}
	for _, want := range []string{"get, list, watch", "patch", "pods/attach", "leases", "Secret", "kubectl_complete-apic"} {
		if !strings.Contains(m.Spec.Caveats, want) {
			t.Errorf("caveats do not mention %q (they name the cluster permissions each command needs):\n%s", want, m.Spec.Caveats)
		}
	}
	for _, p := range plugins() {
		if !strings.Contains(m.Spec.Description, "kubectl apic "+p) {
			t.Errorf("description does not name kubectl apic %s", p)
		}
	}
	if len(m.Spec.Platforms) != 6 {
		t.Errorf("%d platforms, want linux/darwin/windows × amd64/arm64", len(m.Spec.Platforms))
	}
	for _, p := range m.Spec.Platforms {
		exe := ""
		if p.Selector.MatchLabels["os"] == "windows" {
			exe = ".exe"
		}
		name := filepath.Base(p.URI)
		if !strings.HasPrefix(p.URI, releaseURL) || !strings.HasPrefix(name, "kubectl-apic-suite_"+m.Spec.Version+"_") {
			t.Errorf("uri %s: want the suite archive of %s in the release's downloads", p.URI, m.Spec.Version)
		}
		raw, err := os.ReadFile(filepath.Join(d, name))
		if err != nil {
			t.Errorf("archive of %s: %v", p.URI, err)
			continue
		}
		if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != p.Sha256 {
			t.Errorf("sha256 of %s does not match the manifest", name)
		}
		if p.Bin != "kubectl-apic"+exe {
			t.Errorf("%s: bin %q, want the umbrella", name, p.Bin)
		}
		names := archiveNames(t, name, raw)
		want := []string{"LICENSE", "kubectl-apic" + exe, umbrella.CompletionName}
		for _, pl := range plugins() {
			want = append(want, "kubectl-apic-"+pl+exe)
		}
		for _, w := range want {
			if !names[w] {
				t.Errorf("%s lacks %s (has %v)", name, w, names)
			}
		}
		if (exe != "") != strings.HasSuffix(name, ".zip") {
			t.Errorf("%s: zip on Windows, tar.gz elsewhere", name)
		}
	}

	// krew's own validator, installing every platform from the archives (served over HTTP in place
	// of the release's downloads, which a snapshot does not have).
	tools := krewTools(t)
	srv := httptest.NewServer(http.FileServer(http.Dir(d)))
	defer srv.Close()
	good := filepath.Join(t.TempDir(), "apic.yaml")
	writeManifest(t, files[0], good, srv.URL, "")
	out, err := validate(t, tools, good)
	if err != nil || !strings.Contains(out, "all 6 spec.platforms installed fine") {
		t.Errorf("validate-krew-manifest: %v\n%s", err, out)
	}
	// The validator can fail: a sum that no archive has is refused.
	bad := filepath.Join(t.TempDir(), "apic.yaml")
	writeManifest(t, files[0], bad, srv.URL, "", func(m map[string]any) {
		p := m["spec"].(map[string]any)["platforms"].([]any)[0].(map[string]any)
		p["sha256"] = strings.Repeat("0", 64)
	})
	if out, err := validate(t, tools, bad); err == nil || !strings.Contains(out, "checksum") {
		t.Errorf("validate-krew-manifest accepted a wrong sha256: %v\n%s", err, out)
	}
}

// validate runs krew's validate-krew-manifest, which installs each platform with `kubectl krew`.
func validate(t *testing.T, tools, manifest string) (string, error) {
	t.Helper()
	s := newSandbox(t, tools)
	cmd := exec.Command(filepath.Join(tools, "validate-krew-manifest"), "-manifest", manifest)
	cmd.Env = s.env()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// writeManifest copies the manifest from src to dst with its uris under baseURL, its version set
// (unless ""), and edits applied.
func writeManifest(t *testing.T, src, dst, baseURL, version string, edits ...func(map[string]any)) {
	t.Helper()
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	spec := m["spec"].(map[string]any)
	for _, p := range spec["platforms"].([]any) {
		p := p.(map[string]any)
		p["uri"] = baseURL + "/" + filepath.Base(p["uri"].(string))
	}
	if version != "" {
		spec["version"] = version
	}
	for _, e := range edits {
		e(m)
	}
	out, err := yaml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func archiveNames(t *testing.T, name string, raw []byte) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	if strings.HasSuffix(name, ".zip") {
		zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range zr.File {
			out[f.Name] = true
		}
		return out
	}
	gz, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = true
	}
	return out
}

// extract unpacks a tar.gz archive into dir.
func extract(t *testing.T, archive, dir string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.OpenFile(filepath.Join(dir, filepath.Base(h.Name)), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o777)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, tr); err != nil {
			t.Fatal(err)
		}
		out.Close()
	}
}

// --- a user's machine ---------------------------------------------------------------------------

// sandbox is a user's environment: an empty HOME and KREW_ROOT, a PATH of krew's bin directory, the
// given directories and one with kubectl, kubectl-krew (when tools is given) and git.
type sandbox struct {
	t          *testing.T
	home       string
	krewRoot   string
	path       []string
	kubeconfig string
}

func newSandbox(t *testing.T, tools string, dirs ...string) *sandbox {
	t.Helper()
	s := &sandbox{t: t, home: t.TempDir(), krewRoot: t.TempDir()}
	s.kubeconfig = filepath.Join(s.home, "no-kubeconfig")
	bin := t.TempDir()
	links := map[string]string{"kubectl": "/usr/bin/kubectl"}
	if tools != "" {
		links["kubectl-krew"] = filepath.Join(tools, "krew")
		if git, err := exec.LookPath("git"); err == nil {
			links["git"] = git
		}
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	s.path = append(append([]string{filepath.Join(s.krewRoot, "bin")}, dirs...), bin)
	return s
}

func (s *sandbox) env() []string {
	return []string{"PATH=" + strings.Join(s.path, string(os.PathListSeparator)), "HOME=" + s.home,
		"KUBECONFIG=" + s.kubeconfig, "KREW_ROOT=" + s.krewRoot, "KREW_NO_UPGRADE_CHECK=1"}
}

// kubectl runs the real /usr/bin/kubectl in the sandbox.
func (s *sandbox) kubectl(args ...string) (string, string, error) {
	s.t.Helper()
	cmd := exec.Command("/usr/bin/kubectl", args...)
	cmd.Env = s.env()
	cmd.Dir = s.home
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	return o.String(), e.String(), err
}

// must runs kubectl and fails the test when it fails.
func (s *sandbox) must(args ...string) string {
	s.t.Helper()
	out, errOut, err := s.kubectl(args...)
	if err != nil {
		s.t.Fatalf("kubectl %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out + errOut
}

// krewBin lists KREW_ROOT/bin.
func (s *sandbox) krewBin() []string {
	entries, _ := os.ReadDir(filepath.Join(s.krewRoot, "bin"))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// commandPaths are every command of the suite below `kubectl apic`, e.g. [spread check], from the
// commands' own trees.
func commandPaths() [][]string {
	streams := genericiooptions.NewTestIOStreamsDiscard()
	out := [][]string{}
	var walk func(path []string, c *cobra.Command)
	walk = func(path []string, c *cobra.Command) {
		out = append(out, path)
		for _, sub := range c.Commands() {
			if !sub.Hidden && sub.Name() != "help" {
				walk(append(slices.Clone(path), sub.Name()), sub)
			}
		}
	}
	for _, c := range umbrella.NewCommand(streams).Commands() {
		if c.Name() == "version" {
			walk([]string{"version"}, c)
		}
	}
	walk([]string{"status"}, status.NewCommand("x", streams))
	walk([]string{"failover"}, failover.NewCommand("x", streams))
	walk([]string{"drr"}, drr.NewCommand("x", streams))
	walk([]string{"spread"}, spread.NewCommand("x", streams))
	walk([]string{"rollout"}, rollout.NewCommand("x", streams))
	return out
}

// helpEverywhere runs every command's --help through kubectl and checks its usage line names the
// command as typed: `kubectl apic spread check`, and with dashed, also `kubectl apic-spread check`.
func helpEverywhere(t *testing.T, s *sandbox, dashed bool) {
	t.Helper()
	out := s.must("apic", "--help")
	if !strings.Contains(out, "Usage:\n  kubectl apic [flags]") {
		t.Errorf("kubectl apic --help: usage line:\n%s", out)
	}
	for _, path := range commandPaths() {
		forms := [][]string{append([]string{"apic"}, path...)}
		if dashed && path[0] != "version" {
			forms = append(forms, append([]string{"apic-" + path[0]}, path[1:]...))
		}
		for _, form := range forms {
			out, errOut, err := s.kubectl(append(slices.Clone(form), "--help")...)
			typed := "kubectl " + strings.Join(form, " ")
			usage := regexp.MustCompile(`(?m)^Usage:\n  (.*)$`).FindStringSubmatch(out)
			if err != nil || usage == nil || !(usage[1] == typed || strings.HasPrefix(usage[1], typed+" ")) {
				got := "(none)"
				if usage != nil {
					got = usage[1]
				}
				t.Errorf("%s --help: %v: usage line %q, want %q...\nstderr:\n%s", typed, err, got, typed, errOut)
			}
		}
	}
}

// pluginListClean checks `kubectl plugin list` finds the plugins without a warning.
func pluginListClean(t *testing.T, s *sandbox, want ...string) {
	t.Helper()
	out, errOut, err := s.kubectl("plugin", "list")
	if err != nil || strings.Contains(strings.ToLower(out+errOut), "warning") {
		t.Errorf("kubectl plugin list: %v\n%s%s", err, out, errOut)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("kubectl plugin list lacks %s:\n%s", w, out)
		}
	}
}

// versionsStamped checks each binary in dir reports the version, commit and date of the build.
func versionsStamped(t *testing.T, dir string) {
	t.Helper()
	for _, b := range append([]string{"kubectl-apic"}, prefixed("kubectl-apic-", plugins())...) {
		raw, err := exec.Command(filepath.Join(dir, b), "version", "-o", "json").Output()
		if err != nil || !strings.Contains(string(raw), `"version": "v0.`) || strings.Contains(string(raw), `"commit": "unknown"`) {
			t.Errorf("%s version: %v\n%s", b, err, raw)
		}
	}
}

func prefixed(prefix string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + n
	}
	return out
}

// The one krew plugin, installed with the real krew from the generated manifest and this platform's
// archive into an empty KREW_ROOT, used through kubectl, and uninstalled.
func TestKrewInstall(t *testing.T) {
	d := dist(t)
	s := newSandbox(t, krewTools(t))
	s.must("krew", "install", "--manifest="+filepath.Join(d, "krew", "apic.yaml"), "--archive="+suiteArchive(t, d))
	if _, err := os.Stat(filepath.Join(s.krewRoot, "receipts", "apic.yaml")); err != nil {
		t.Errorf("krew's receipt of apic: %v", err)
	}
	// krew links the umbrella only; every plugin runs from krew's store through it.
	if got := s.krewBin(); !slices.Equal(got, []string{"kubectl-apic"}) {
		t.Errorf("KREW_ROOT/bin has %v, want [kubectl-apic]", got)
	}
	store, _ := filepath.Glob(filepath.Join(s.krewRoot, "store", "apic", "v*"))
	if len(store) != 1 {
		t.Fatalf("krew store: %v", store)
	}
	out := s.must("apic")
	for _, p := range plugins() {
		if !strings.Contains(out, filepath.Join(store[0], "kubectl-apic-"+p)) {
			t.Errorf("kubectl apic does not list %s from krew's store:\n%s", p, out)
		}
	}
	helpEverywhere(t, s, false)
	pluginListClean(t, s, filepath.Join(s.krewRoot, "bin", "kubectl-apic"))
	versionsStamped(t, store[0])

	// krew refuses to uninstall without a plugin index (users have krew-index): a local one.
	newIndex(t, s).add()
	s.must("krew", "uninstall", "apic")
	if got := s.krewBin(); len(got) != 0 {
		t.Errorf("after uninstall KREW_ROOT/bin has %v", got)
	}
	if _, err := os.Stat(filepath.Join(s.krewRoot, "store", "apic")); !os.IsNotExist(err) {
		t.Errorf("after uninstall the store keeps apic: %v", err)
	}
	if _, _, err := s.kubectl("apic"); err == nil {
		t.Error("kubectl apic still runs after uninstall")
	}
}

// The archives unpacked onto PATH, both the per-plugin ones and the suite: both invocation forms.
func TestPlainArchives(t *testing.T) {
	d := dist(t)
	for _, layout := range []struct {
		name     string
		archives []string
	}{
		{"per-plugin archives", append([]string{"apic"}, prefixed("apic-", plugins())...)},
		{"suite archive", []string{"apic-suite"}},
	} {
		t.Run(layout.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, a := range layout.archives {
				extract(t, archive(t, d, a), dir)
			}
			s := newSandbox(t, "", dir)
			out := s.must("apic")
			if strings.Contains(out, "not installed") {
				t.Errorf("kubectl apic:\n%s", out)
			}
			helpEverywhere(t, s, true)
			pluginListClean(t, s, append(prefixed(filepath.Join(dir, "kubectl-apic-"), plugins()), prefixed(filepath.Join(dir, "kubectl-apic_"), plugins())...)...)
			versionsStamped(t, dir)
		})
	}
}

// Completion through kubectl's own `__complete`, which runs kubectl_complete-<plugin> from PATH:
// contexts for --from, GatewayCluster names (from the real apiserver) for drr. With krew, the one
// documented link kubectl_complete-apic → kubectl-apic in krew's bin directory survives a real
// `kubectl krew upgrade` (a link into krew's versioned store would not).
func TestCompletionThroughKubectl(t *testing.T) {
	e := testenv.Require(t, env)
	d := dist(t)
	tools := krewTools(t)
	kc := completionCluster(t, e)

	complete := func(t *testing.T, s *sandbox, args []string, want ...string) {
		t.Helper()
		out, errOut, err := s.kubectl(append([]string{"__complete"}, args...)...)
		for _, w := range want {
			if err != nil || !(strings.Contains("\n"+out, "\n"+w+"\n") || strings.Contains("\n"+out, "\n"+w+"\t")) {
				t.Errorf("kubectl __complete %s: %v: want %q in\n%s%s", strings.Join(args, " "), err, w, out, errOut)
			}
		}
	}
	suite := []string{"status", "failover", "drr", "spread", "rollout"}

	t.Run("plain archives", func(t *testing.T) {
		dir := t.TempDir()
		for _, a := range append([]string{"apic"}, prefixed("apic-", plugins())...) {
			extract(t, archive(t, d, a), dir)
		}
		s := newSandbox(t, "", dir)
		s.kubeconfig = kc
		complete(t, s, []string{"apic", "failover", "--from", ""}, "dc1", "dc2")
		complete(t, s, []string{"apic", "drr", ""}, "production-gw")
		complete(t, s, []string{"apic", "status", "--peer-context", ""}, "dc1", "dc2")
		complete(t, s, []string{"apic-failover", "--to", ""}, "dc1", "dc2")
		complete(t, s, []string{"apic-drr", ""}, "production-gw")
		complete(t, s, []string{"apic", ""}, suite...)
	})

	t.Run("krew install and upgrade", func(t *testing.T) {
		srv := httptest.NewServer(http.FileServer(http.Dir(d)))
		defer srv.Close()
		s := newSandbox(t, tools)
		s.kubeconfig = kc
		// A local krew index whose manifest points at the archives over HTTP: krew downloads, checks
		// the sum, installs and later upgrades for real.
		index := newIndex(t, s)
		publish := func(version string) {
			index.publish(filepath.Join(d, "krew", "apic.yaml"), srv.URL, version)
		}
		publish("v1.0.0")
		index.add()
		s.must("krew", "install", "test/apic")

		// The documented one-time set-up (README, the manifest's caveats).
		if err := os.Symlink("kubectl-apic", filepath.Join(s.krewRoot, "bin", umbrella.CompletionName)); err != nil {
			t.Fatal(err)
		}
		check := func() {
			t.Helper()
			complete(t, s, []string{"apic", "failover", "--from", ""}, "dc1", "dc2")
			complete(t, s, []string{"apic", "drr", ""}, "production-gw")
			complete(t, s, []string{"apic", "status", "--peer-context", ""}, "dc1", "dc2")
			complete(t, s, []string{"apic", ""}, suite...)
		}
		check()

		publish("v1.0.1")
		if out := s.must("krew", "upgrade", "apic"); !strings.Contains(out, "Upgraded plugin: test/apic") {
			t.Errorf("kubectl krew upgrade apic:\n%s", out)
		}
		if _, err := os.Stat(filepath.Join(s.krewRoot, "store", "apic", "v1.0.0")); !os.IsNotExist(err) {
			t.Errorf("krew kept the old version's store directory: %v", err)
		}
		if _, err := os.Stat(filepath.Join(s.krewRoot, "store", "apic", "v1.0.1", "kubectl-apic")); err != nil {
			t.Errorf("upgraded store: %v", err)
		}
		check()

		s.must("krew", "uninstall", "apic")
		if got := s.krewBin(); !slices.Equal(got, []string{umbrella.CompletionName}) {
			t.Errorf("after uninstall KREW_ROOT/bin has %v, want only the user's completion link", got)
		}
		// The dangling link is harmless: kubectl finds no completion executable and no plugin.
		out, errOut, err := s.kubectl("__complete", "apic", "")
		if err != nil || strings.Contains(out, "failover") {
			t.Errorf("completion after uninstall: %v\n%s%s", err, out, errOut)
		}
	})
}

// index is a local krew plugin index: a git repository, as krew-index is.
type index struct {
	t   *testing.T
	s   *sandbox
	dir string
}

func newIndex(t *testing.T, s *sandbox) *index {
	t.Helper()
	ix := &index{t: t, s: s, dir: t.TempDir()}
	ix.git("init", "-q")
	if err := os.MkdirAll(filepath.Join(ix.dir, "plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ix.dir, "README.md"), []byte("test index\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ix.git("add", "-A")
	ix.git("commit", "-q", "-m", "index")
	return ix
}

func (ix *index) git(args ...string) {
	ix.t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=test", "-c", "user.email=test@example.com"}, args...)...)
	cmd.Dir, cmd.Env = ix.dir, ix.s.env()
	if out, err := cmd.CombinedOutput(); err != nil {
		ix.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// add registers the index with the sandbox's krew as "test".
func (ix *index) add() { ix.s.must("krew", "index", "add", "test", ix.dir) }

// publish commits the manifest src as plugins/apic.yaml, its archives under baseURL, at version.
func (ix *index) publish(src, baseURL, version string) {
	ix.t.Helper()
	writeManifest(ix.t, src, filepath.Join(ix.dir, "plugins", "apic.yaml"), baseURL, version)
	ix.git("add", "-A")
	ix.git("commit", "-q", "-m", version)
}

// completionCluster makes a GatewayCluster in the test apiserver and a kubeconfig with two contexts
// named like data centers (namespace apic), both pointing at it.
func completionCluster(t *testing.T, e *testenv.Env) string {
	t.Helper()
	ctx := context.Background()
	if _, err := e.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "apic"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	gw := apic.New(apic.GatewayClusterKind, "apic", "production-gw")
	gw.U.Object["spec"] = map[string]interface{}{"version": "10.0.8.0"}
	if _, err := e.Dynamic.Resource(apic.GatewayClusterKind.GVR()).Namespace("apic").Create(ctx, gw.U, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(e.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.Load(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"dc1", "dc2"} {
		c := *cfg.Contexts[cfg.CurrentContext]
		c.Namespace = "apic"
		cfg.Contexts[name] = &c
	}
	cfg.CurrentContext = "dc1"
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, kc); err != nil {
		t.Fatal(err)
	}
	return kc
}

var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Run(m, &env)) }
