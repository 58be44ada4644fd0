package spread

import (
	"strings"

	"github.com/pmezard/go-difflib/difflib"
)

// unifiedDiff is `diff -u` of two texts, labelled a/<name> and b/<name>.
func unifiedDiff(before, after, name string) (string, error) {
	return difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A:        lines(before),
		B:        lines(after),
		FromFile: "a/" + name,
		ToFile:   "b/" + name,
		Context:  3,
	})
}

// lines splits text into lines; an empty text has none, and a final newline adds no empty line
// (difflib.SplitLines would add one).
func lines(text string) []string {
	if text == "" {
		return nil
	}
	return difflib.SplitLines(strings.TrimSuffix(text, "\n"))
}
