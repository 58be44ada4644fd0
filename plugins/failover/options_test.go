package failover_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/kube"
	plugin "github.com/kubectl-apic/kubectl-apic/plugins/failover"
)

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--to", "dc2"}, "--from and --to are required"},
		{[]string{"--from", "dc1", "--to", "dc1"}, "the same context"},
		{[]string{"--from", "dc1", "--to", "dc2", "--subsystem", "gateway"}, "--subsystem must be"},
		{[]string{"--from", "dc1", "--to", "dc2", "--progress", "fancy"}, "--progress must be"},
		{[]string{"--from", "dc1", "--to", "dc2", "-o", "xml"}, "unknown output format"},
		{[]string{"--from", "dc1", "--to", "dc2", "--probe", "gw.example.com/health"}, "--probe \"gw.example.com/health\": not an http:// or https:// URL"},
		{[]string{"--from", "dc1", "--to", "dc2", "--probe", "http://gw/", "--probe-rate", "0"}, "--probe-rate 0"},
		{[]string{"--from", "dc1", "--to", "dc2", "--probe", "http://gw/", "--probe-rate", "fast"}, "invalid argument \"fast\""},
	} {
		var out, errOut bytes.Buffer
		streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
		o := plugin.NewOptions(streams)
		o.NewSites = func(_ *genericclioptions.ConfigFlags, contexts []string) ([]*kube.Site, error) {
			return []*kube.Site{{Name: contexts[0]}, {Name: contexts[1]}}, nil // Complete resolves them; no kubeconfig here
		}
		cmd := plugin.NewCommandWithOptions("kubectl apic failover", o)
		cmd.SetArgs(tc.args)
		if code := cli.Execute(context.Background(), cmd, streams); code != int(exitcode.Usage) || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q", tc.args, code, errOut.String())
		}
	}
}

func TestCompletionOffersContexts(t *testing.T) {
	var out bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &out}
	cmd := plugin.NewCommand("kubectl apic failover", streams)
	kc := t.TempDir() + "/kubeconfig"
	if err := writeFile(kc, "apiVersion: v1\nkind: Config\ncontexts:\n- name: dc1\n  context: {cluster: a}\n- name: dc2\n  context: {cluster: b}\nclusters: []\nusers: []\n"); err != nil {
		t.Fatal(err)
	}
	cmd.SetArgs([]string{cobra.ShellCompRequestCmd, "--kubeconfig", kc, "--from", ""})
	cmd.SetOut(&out)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "dc1\ndc2\n") {
		t.Errorf("completion: %q", out.String())
	}
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }
