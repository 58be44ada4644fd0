package kube

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
)

const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: dc1
  cluster: {server: "https://dc1.example.com:6443"}
- name: dc2
  cluster: {server: "https://dc2.example.com:6443"}
users:
- name: admin
  user: {token: "t"}
contexts:
- name: dc1
  context: {cluster: dc1, user: admin, namespace: apic}
- name: dc2
  context: {cluster: dc2, user: admin}
current-context: dc1
`

func flags(t *testing.T) *genericclioptions.ConfigFlags {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	f := genericclioptions.NewConfigFlags(true)
	f.KubeConfig = &path
	return f
}

func TestNewSitesResolvesEachContext(t *testing.T) {
	sites, err := NewSites(flags(t), []string{"", "dc2"})
	if err != nil {
		t.Fatal(err)
	}
	if sites[0].Name != "dc1" || sites[0].Namespace != "apic" || sites[0].Server != "https://dc1.example.com:6443" {
		t.Errorf("site 0 = %s %s %s", sites[0].Name, sites[0].Namespace, sites[0].Server)
	}
	if sites[1].Name != "dc2" || sites[1].Namespace != "default" || sites[1].Server != "https://dc2.example.com:6443" {
		t.Errorf("site 1 = %s %s %s", sites[1].Name, sites[1].Namespace, sites[1].Server)
	}
	if sites[0].Config.QPS != defaultQPS || sites[0].Dynamic == nil || sites[0].Kube == nil || sites[0].Metadata == nil {
		t.Error("clients not built or rate limits not raised")
	}
}

func TestForContextKeepsOtherFlags(t *testing.T) {
	base := flags(t)
	ns := "other"
	base.Namespace = &ns
	f := ForContext(base, "dc2")
	if *f.Context != "dc2" || f.KubeConfig != base.KubeConfig || *f.Namespace != "other" {
		t.Errorf("ForContext lost flags: context %q namespace %q", *f.Context, *f.Namespace)
	}
	if *base.Context != "" {
		t.Error("ForContext changed the base flags")
	}
	s, err := NewSite(f)
	if err != nil || s.Namespace != "other" || !s.ExplicitNamespace {
		t.Errorf("site = %+v, %v", s, err)
	}
}

func TestBadContextsAreUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		contexts []string
		want     string
	}{
		{[]string{"dc3"}, `context "dc3" not found in kubeconfig: see kubectl config get-contexts`},
		{[]string{"dc1", "dc1"}, `context "dc1" given twice`},
	} {
		_, err := NewSites(flags(t), tc.contexts)
		if exitcode.FromError(err) != exitcode.Usage || err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewSites(%v) = %v; want a usage error containing %q", tc.contexts, err, tc.want)
		}
	}
}

// KUBECONFIG naming a file that does not exist is "file not found", not "no current context"
// (clientcmd skips missing KUBECONFIG files silently).
func TestMissingKubeconfigFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nonexistent")
	t.Setenv("KUBECONFIG", missing)
	_, err := NewSites(genericclioptions.NewConfigFlags(true), []string{""})
	if exitcode.FromError(err) != exitcode.Usage || err == nil ||
		!strings.Contains(err.Error(), "kubeconfig file not found: "+missing+" (from KUBECONFIG)") {
		t.Errorf("err = %v (exit %d)", err, exitcode.FromError(err))
	}
	// An existing but empty KUBECONFIG keeps the "no current context" message.
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", empty)
	if _, err := NewSites(genericclioptions.NewConfigFlags(true), []string{""}); err == nil || !strings.Contains(err.Error(), "no current context") {
		t.Errorf("empty kubeconfig: %v", err)
	}
}
