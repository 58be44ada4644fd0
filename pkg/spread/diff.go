package spread

import "github.com/pmezard/go-difflib/difflib"

// unifiedDiff is `diff -u` of two texts, labelled a/<name> and b/<name>.
func unifiedDiff(before, after, name string) (string, error) {
	return difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A:        difflib.SplitLines(before),
		B:        difflib.SplitLines(after),
		FromFile: "a/" + name,
		ToFile:   "b/" + name,
		Context:  3,
	})
}
