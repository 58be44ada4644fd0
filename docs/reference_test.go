// Package docs holds the user documentation; this test keeps the generated command reference in
// docs/reference current (cobra/doc). Regenerate with: go test ./docs -update
package docs

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/plugins/drr"
	"github.com/kubectl-apic/kubectl-apic/plugins/failover"
	"github.com/kubectl-apic/kubectl-apic/plugins/rollout"
	"github.com/kubectl-apic/kubectl-apic/plugins/spread"
	"github.com/kubectl-apic/kubectl-apic/plugins/status"
	"github.com/kubectl-apic/kubectl-apic/plugins/umbrella"
)

var update = flag.Bool("update", false, "regenerate docs/reference")

func commands() []*cobra.Command {
	streams := genericiooptions.NewTestIOStreamsDiscard()
	cmds := []*cobra.Command{
		umbrella.NewCommand(streams),
		status.NewCommand("kubectl apic status", streams),
		failover.NewCommand("kubectl apic failover", streams),
		drr.NewCommand("kubectl apic drr", streams),
		spread.NewCommand("kubectl apic spread", streams),
		rollout.NewCommand("kubectl apic rollout", streams),
	}
	for _, c := range cmds {
		cli.Prepare(c)
		c.DisableAutoGenTag = true // keep the files stable across days
	}
	return cmds
}

func TestReferenceIsCurrent(t *testing.T) {
	dir := t.TempDir()
	for _, c := range commands() {
		if err := doc.GenMarkdownTree(c, dir); err != nil {
			t.Fatal(err)
		}
	}
	generated, _ := filepath.Glob(filepath.Join(dir, "*.md"))
	if *update {
		old, _ := filepath.Glob("reference/*.md")
		for _, f := range old {
			os.Remove(f)
		}
		for _, f := range generated {
			b, _ := os.ReadFile(f)
			if err := os.WriteFile(filepath.Join("reference", filepath.Base(f)), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	committed, _ := filepath.Glob("reference/*.md")
	names := func(fs []string) []string {
		var out []string
		for _, f := range fs {
			out = append(out, filepath.Base(f))
		}
		sort.Strings(out)
		return out
	}
	if g, c := names(generated), names(committed); len(g) != len(c) {
		t.Fatalf("docs/reference is stale: generated %v, committed %v (run go test ./docs -update)", g, c)
	}
	for _, f := range generated {
		want, _ := os.ReadFile(f)
		got, err := os.ReadFile(filepath.Join("reference", filepath.Base(f)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("docs/reference/%s is stale: run go test ./docs -update", filepath.Base(f))
		}
	}
}

// Every command and subcommand shows examples in --help.
func TestEveryCommandHasExamples(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" || c.Name() == "version" || c.Parent() != nil && c.Parent().Name() == "completion" {
			return
		}
		if c.Example == "" && c.Runnable() {
			t.Errorf("%s has no examples in --help", c.CommandPath())
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	for _, c := range commands() {
		walk(c)
	}
}
