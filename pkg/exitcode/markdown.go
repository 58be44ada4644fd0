package exitcode

import (
	"fmt"
	"strings"
)

// Markdown renders All() and Severity() as the exit-code reference (docs/exit-codes.md).
func Markdown() string {
	var b strings.Builder
	b.WriteString("# Exit codes\n\n")
	b.WriteString("<!-- Generated from pkg/exitcode; do not edit. Regenerate: go test ./pkg/exitcode -update -->\n\n")
	b.WriteString("Every kubectl-apic command exits with one of these codes. Codes 10 and above name the phase\n")
	b.WriteString("of a mutating command that failed, so a script knows how far the change got.\n\n")
	b.WriteString("| Code | Name | Meaning | Commands |\n")
	b.WriteString("|-----:|------|---------|----------|\n")
	for _, i := range All() {
		cmds := "all"
		if len(i.Commands) > 0 {
			cmds = strings.Join(i.Commands, ", ")
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s |\n", int(i.Code), i.Name, escape(i.Meaning), cmds)
	}
	b.WriteString("\n## Several outcomes\n\n")
	b.WriteString("When a command finds several problems (e.g. `status` over two sites), it exits with the most\n")
	b.WriteString("severe, from least to most severe:\n\n")
	names := make([]string, 0, len(Severity()))
	for _, c := range Severity() {
		names = append(names, fmt.Sprintf("%s (%d)", c, int(c)))
	}
	b.WriteString(strings.Join(names, " < "))
	b.WriteString("\n\nA site that cannot be reached is worse than warnings but better than split-brain; any failure\n")
	b.WriteString("of the command itself outranks every health outcome; a partial change outranks a refusal that\n")
	b.WriteString("changed nothing; an interrupt outranks everything.\n")
	return b.String()
}

func escape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
