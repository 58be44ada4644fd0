// Package krew holds the krew plugin manifests and the tests of what we ship: the manifests against
// krew's rules (sigs.k8s.io/krew is not served by the Go module proxy, so the rules are restated here
// from krew's validation), and the release archives installed both ways — plain names, and krew's
// names plus the umbrella — and run through the real kubectl, including completion.
//
// The archives come from `make release-snapshot` (goreleaser, offline). Set KUBECTL_APIC_DIST to its
// dist/ directory to reuse a build; otherwise the test runs it (several minutes).
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
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-apic/kubectl-apic/internal/testenv"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

// Manifest is the part of krew's Plugin (krew.googlecontainertools.github.com/v1alpha2) we check.
type Manifest struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version          string     `json:"version"`
		Homepage         string     `json:"homepage"`
		ShortDescription string     `json:"shortDescription"`
		Description      string     `json:"description"`
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
	Files []struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"files"`
}

var plugins = []string{"apic", "apic-status", "apic-failover", "apic-drr", "apic-spread"}

var (
	semverV   = regexp.MustCompile(`^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
	sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)
	nameRule  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*[a-z0-9]$`)
)

// validate restates krew's manifest rules (krew's pkg/index/validation).
func validate(file string, m Manifest) []string {
	var errs []string
	bad := func(f string, a ...any) { errs = append(errs, fmt.Sprintf("%s: %s", file, fmt.Sprintf(f, a...))) }
	if m.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || m.Kind != "Plugin" {
		bad("apiVersion/kind = %s/%s", m.APIVersion, m.Kind)
	}
	if want := strings.TrimSuffix(filepath.Base(file), ".yaml"); m.Metadata.Name != want {
		bad("metadata.name %q does not match the file name %q", m.Metadata.Name, want)
	}
	if !nameRule.MatchString(m.Metadata.Name) {
		bad("invalid plugin name %q", m.Metadata.Name)
	}
	if !semverV.MatchString(m.Spec.Version) {
		bad("version %q is not semver with a v prefix", m.Spec.Version)
	}
	sd := m.Spec.ShortDescription
	if sd == "" || strings.ContainsAny(sd, "\r\n") || len(sd) > 255 {
		bad("shortDescription must be one non-empty line: %q", sd)
	}
	if len(m.Spec.Platforms) == 0 {
		bad("no platforms")
	}
	for i, p := range m.Spec.Platforms {
		if !sha256Hex.MatchString(p.Sha256) {
			bad("platforms[%d].sha256 %q is not lowercase 64-hex", i, p.Sha256)
		}
		if p.URI == "" || p.Bin == "" {
			bad("platforms[%d] needs uri and bin", i)
		}
		if len(p.Selector.MatchLabels) == 0 {
			bad("platforms[%d] has no selector", i)
		}
		for j := 0; j < i; j++ {
			if overlap(p.Selector.MatchLabels, m.Spec.Platforms[j].Selector.MatchLabels) {
				bad("platforms[%d] and [%d] have overlapping selectors %v / %v", j, i, m.Spec.Platforms[j].Selector.MatchLabels, p.Selector.MatchLabels)
			}
		}
	}
	return errs
}

// overlap: two matchLabels selectors can both match one platform when no key they share differs.
func overlap(a, b map[string]string) bool {
	for k, v := range a {
		if w, ok := b[k]; ok && w != v {
			return false
		}
	}
	return true
}

func loadManifests(t *testing.T, dir string) map[string]Manifest {
	t.Helper()
	out := map[string]Manifest{}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m Manifest
		if err := yaml.UnmarshalStrict(raw, &m); err != nil {
			// krew manifests have more fields than we model; fall back to a lenient parse.
			if err := yaml.Unmarshal(raw, &m); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		}
		out[f] = m
	}
	return out
}

func TestCommittedManifests(t *testing.T) {
	ms := loadManifests(t, ".")
	var names []string
	for f, m := range ms {
		for _, e := range validate(f, m) {
			t.Error(e)
		}
		names = append(names, m.Metadata.Name)
	}
	sort.Strings(names)
	want := append([]string(nil), plugins...)
	sort.Strings(want)
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("krew/ has manifests %v, want %v", names, want)
	}
}

func TestValidatorRejects(t *testing.T) {
	var m Manifest
	m.APIVersion, m.Kind = "krew.googlecontainertools.github.com/v1alpha2", "Plugin"
	m.Metadata.Name = "apic-status"
	m.Spec.Version = "0.1.0"
	m.Spec.ShortDescription = "two\nlines"
	p := Platform{URI: "u", Bin: "b", Sha256: "ABC"}
	p.Selector.MatchLabels = map[string]string{"os": "linux"}
	q := p
	q.Selector.MatchLabels = map[string]string{"os": "linux", "arch": "amd64"}
	m.Spec.Platforms = []Platform{p, q}
	errs := strings.Join(validate("other.yaml", m), "\n")
	for _, want := range []string{"does not match the file name", "not semver", "one non-empty line", "lowercase 64-hex", "overlapping selectors"} {
		if !strings.Contains(errs, want) {
			t.Errorf("validator did not report %q:\n%s", want, errs)
		}
	}
}

var distOnce struct {
	sync.Once
	dir string
	err error
}

// dist returns a goreleaser snapshot's dist directory, building it if KUBECTL_APIC_DIST is unset.
func dist(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("packaging test: builds release archives (skipped with -short; run make test)")
	}
	distOnce.Do(func() {
		if d := os.Getenv("KUBECTL_APIC_DIST"); d != "" {
			distOnce.dir = d
			return
		}
		cmd := exec.Command("make", "-C", "..", "release-snapshot")
		out, err := cmd.CombinedOutput()
		if err != nil {
			distOnce.err = fmt.Errorf("make release-snapshot: %v\n%s", err, out)
			return
		}
		distOnce.dir = filepath.Join("..", "dist")
	})
	if distOnce.err != nil {
		t.Fatal(distOnce.err)
	}
	return distOnce.dir
}

func TestGeneratedManifestsMatchArchives(t *testing.T) {
	d := dist(t)
	ms := loadManifests(t, filepath.Join(d, "krew"))
	if len(ms) != len(plugins) {
		t.Fatalf("dist/krew has %d manifests, want %d", len(ms), len(plugins))
	}
	for f, m := range ms {
		for _, e := range validate(f, m) {
			t.Error(e)
		}
		if len(m.Spec.Platforms) != 6 {
			t.Errorf("%s: %d platforms, want linux/darwin/windows × amd64/arm64", f, len(m.Spec.Platforms))
		}
		for _, p := range m.Spec.Platforms {
			archive := filepath.Join(d, filepath.Base(p.URI))
			raw, err := os.ReadFile(archive)
			if err != nil {
				t.Errorf("%s: archive of %s: %v", f, p.URI, err)
				continue
			}
			sum := sha256.Sum256(raw)
			if hex.EncodeToString(sum[:]) != p.Sha256 {
				t.Errorf("%s: sha256 of %s does not match", f, archive)
			}
			names := archiveNames(t, archive, raw)
			for _, want := range []string{"LICENSE", p.Bin} {
				if !names[want] {
					t.Errorf("%s: %s lacks %s (has %v)", f, archive, want, names)
				}
			}
			if (p.Selector.MatchLabels["os"] == "windows") != strings.HasSuffix(archive, ".zip") {
				t.Errorf("%s: %s: zip on Windows, tar.gz elsewhere", f, archive)
			}
		}
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

// extract unpacks this platform's archive of plugin into dir.
func extract(t *testing.T, d, plugin, dir string) {
	t.Helper()
	pattern := filepath.Join(d, fmt.Sprintf("kubectl-%s_v*_%s_%s.tar.gz", plugin, runtime.GOOS, runtime.GOARCH))
	matches, _ := filepath.Glob(pattern)
	if len(matches) != 1 {
		t.Fatalf("want one archive %s, found %v", pattern, matches)
	}
	f, err := os.Open(matches[0])
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

type kubectlRun struct{ path, kubeconfig string }

func (k kubectlRun) run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command("/usr/bin/kubectl", args...)
	kc := k.kubeconfig
	if kc == "" {
		kc = filepath.Join(t.TempDir(), "none")
	}
	cmd.Env = []string{"PATH=" + k.path, "HOME=" + t.TempDir(), "KUBECONFIG=" + kc}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	return o.String(), e.String(), err
}

// The archives installed into an empty PATH directory, both ways, run through the real kubectl.
func TestInstalledBothWays(t *testing.T) {
	plain, krewBin := install(t)
	// kubectl maps `kubectl apic-status` to an executable named kubectl-apic_status (dashes in the
	// command become underscores) and `kubectl apic status` to kubectl-apic-status, else to the
	// umbrella kubectl-apic with "status" as its first argument. Plain names serve the spaced form
	// directly and the dashed one through the kubectl-apic_<plugin> alias each archive carries;
	// krew's names serve the dashed form directly and the spaced one through the umbrella.
	spaced := [][]string{{"apic", "status", "--help"}, {"apic", "failover", "--help"}, {"apic", "drr", "--help"}, {"apic", "spread", "--help"}}
	dashed := [][]string{{"apic-status", "--help"}, {"apic-failover", "--help"}, {"apic-drr", "--help"}, {"apic-spread", "--help"}}
	for _, tc := range []struct {
		layout string
		path   string
		forms  [][]string
	}{{"plain", plain, append(spaced, dashed...)}, {"krew", krewBin, append(spaced, dashed...)}} {
		t.Run(tc.layout, func(t *testing.T) {
			k := kubectlRun{path: tc.path}
			for _, args := range tc.forms {
				out, errOut, err := k.run(t, args...)
				if err != nil || !strings.Contains(out, "Usage:") {
					t.Errorf("kubectl %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
				}
			}
			out, _, err := k.run(t, "apic")
			if err != nil || !strings.Contains(out, "failover") || strings.Contains(out, "not installed") {
				t.Errorf("kubectl apic: %v\n%s", err, out)
			}
			out, errOut, err := k.run(t, "plugin", "list")
			if err != nil || strings.Contains(strings.ToLower(out+errOut), "warning") {
				t.Errorf("kubectl plugin list: %v\n%s%s", err, out, errOut)
			}
			out, _, _ = k.run(t, "apic", "version")
			if !strings.Contains(out, "kubectl-apic v") {
				t.Errorf("kubectl apic version: %q", out)
			}
			// Every binary reports the version, commit and date the release build set by ldflags.
			for _, p := range plugins {
				bin := "kubectl-" + p
				if tc.layout == "krew" {
					bin = "kubectl-" + strings.ReplaceAll(p, "-", "_")
				}
				cmd := exec.Command(filepath.Join(tc.path, bin), "version", "-o", "json")
				raw, err := cmd.Output()
				if err != nil || !strings.Contains(string(raw), `"version": "v0.`) || strings.Contains(string(raw), `"commit": "unknown"`) {
					t.Errorf("%s version: %v\n%s", bin, err, raw)
				}
			}
		})
	}
}

// install unpacks this platform's archives into two empty PATH directories: plain names, and krew's
// layout (each plugin in its own store directory, linked onto PATH as kubectl-<name with _>).
func install(t *testing.T) (plain, krewBin string) {
	t.Helper()
	d := dist(t)
	plain = t.TempDir()
	for _, p := range plugins {
		extract(t, d, p, plain)
	}
	// Krew's layout: each plugin unpacked in its own store directory and linked onto PATH as
	// kubectl-<name with - replaced by _>; the umbrella as kubectl-apic.
	krewBin = t.TempDir()
	store := t.TempDir()
	for _, p := range plugins {
		dir := filepath.Join(store, p)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		extract(t, d, p, dir)
		link := "kubectl-" + strings.ReplaceAll(p, "-", "_")
		if err := os.Symlink(filepath.Join(dir, "kubectl-"+p), filepath.Join(krewBin, link)); err != nil {
			t.Fatal(err)
		}
		// Krew links only the plugin itself (krew issue 812); the README tells users to link the
		// completion executable too, as done here.
		comp := "kubectl_complete-" + strings.ReplaceAll(p, "-", "_")
		if err := os.Symlink(filepath.Join(dir, comp), filepath.Join(krewBin, comp)); err != nil {
			t.Fatal(err)
		}
	}
	return plain, krewBin
}

// Completion goes through kubectl's own `__complete`, which runs our kubectl_complete-<plugin>
// executables: contexts for --from, GatewayCluster names for drr (from the real apiserver).
func TestCompletionThroughKubectl(t *testing.T) {
	e := testenv.Require(t, env)
	plain, krewBin := install(t)
	ctx := context.Background()
	if _, err := e.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "apic"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	gw := apic.New(apic.GatewayClusterKind, "apic", "production-gw")
	gw.U.Object["spec"] = map[string]interface{}{"version": "10.0.8.0"}
	if _, err := e.Dynamic.Resource(apic.GatewayClusterKind.GVR()).Namespace("apic").Create(ctx, gw.U, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	// Two contexts named like data centers, both pointing at the test apiserver.
	raw, err := os.ReadFile(e.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
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
	if err := clientcmd.WriteToFile(*cfg, kc); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		layout string
		path   string
		args   []string
		want   []string
	}{
		{"plain", plain, []string{"apic", "failover", "--from", ""}, []string{"dc1", "dc2"}},
		{"plain", plain, []string{"apic", "drr", ""}, []string{"production-gw"}},
		{"plain", plain, []string{"apic", "status", "--peer-context", ""}, []string{"dc1", "dc2"}},
		{"plain alias", plain, []string{"apic-failover", "--from", ""}, []string{"dc1", "dc2"}},
		{"krew", krewBin, []string{"apic-failover", "--to", ""}, []string{"dc1", "dc2"}},
		{"krew", krewBin, []string{"apic-drr", ""}, []string{"production-gw"}},
		{"krew umbrella", krewBin, []string{"apic", "failover", "--from", ""}, []string{"dc1", "dc2"}},
		{"krew umbrella", krewBin, []string{"apic", "drr", ""}, []string{"production-gw"}},
		{"krew umbrella", krewBin, []string{"apic", ""}, []string{"status", "failover", "drr", "spread"}},
	} {
		k := kubectlRun{path: tc.path, kubeconfig: kc}
		out, errOut, err := k.run(t, append([]string{"__complete"}, tc.args...)...)
		for _, w := range tc.want {
			if err != nil || !strings.Contains("\n"+out, "\n"+w) {
				t.Errorf("%s: kubectl __complete %s: %v: want %q in\n%s%s", tc.layout, strings.Join(tc.args, " "), err, w, out, errOut)
			}
		}
	}
}

var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Run(m, &env)) }
