package status

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// kubectl's template and name formats, through the command's own -o flag.
func TestOutputTemplatesAndNames(t *testing.T) {
	r := Build(fixture(), BuildOptions{Now: now})
	for _, c := range []struct{ file, format string }{
		{"report.jsonpath.golden", `jsonpath={.health}{"\n"}{range .sites[*]}{.name}{":"}{range .subsystems[*]} {.kind}/{.name}={.haMode}{end}{"\n"}{end}`},
		{"report.go-template.golden", `go-template={{range .findings}}{{.severity}} {{.code}}{{"\n"}}{{end}}`},
		{"report.name.golden", "name"},
	} {
		t.Run(c.format, func(t *testing.T) {
			streams, _, _, _ := genericiooptions.NewTestIOStreams()
			o := NewOptions(streams)
			o.Now, o.IsTerminal, o.Getenv = func() time.Time { return now }, func(any) bool { return false }, func(string) string { return "" }
			cmd := NewCommandWithOptions("kubectl apic status", o)
			if err := cmd.ParseFlags([]string{"-o", c.format}); err != nil {
				t.Fatal(err)
			}
			if err := o.Print.Validate(); err != nil {
				t.Fatalf("-o %s: %v", c.format, err)
			}
			var buf bytes.Buffer
			if err := o.render(&buf, r); err != nil {
				t.Fatal(err)
			}
			golden(t, c.file, buf.Bytes())
		})
	}
	// -o name is offered in --help.
	out, _, _ := execute(t, "--help")
	if !strings.Contains(out, "yaml, kyaml, name, go-template") {
		t.Errorf("--help does not offer -o name:\n%s", out)
	}
}
