package docs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// internalSource matches the project's internal names for its source runbooks ("seed 002",
// "seeds/003_..."). Users know IBM's page titles, not our file names, so no text they can see may
// carry one: not the help (docs/reference is generated from it), not the output (golden files), not
// a string literal of the product that may end up in either.
var internalSource = regexp.MustCompile(`(?i)\bseeds?[ _]*0\d\d\b|seeds/`)

func TestNoInternalSourceNamesInUserText(t *testing.T) {
	root := ".."
	var userText []string // files whose whole text a user reads
	var product []string  // Go files of the product, whose string literals a user may read
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			switch rel {
			case ".git", "bin", "dist", ".lab":
				return filepath.SkipDir
			}
			return nil
		}
		top := strings.SplitN(filepath.ToSlash(rel), "/", 2)[0]
		switch {
		case strings.HasSuffix(rel, ".golden"), rel == "README.md",
			top == "docs" && strings.HasSuffix(rel, ".md"):
			userText = append(userText, path)
		case (top == "pkg" || top == "plugins" || top == "cmd") &&
			strings.HasSuffix(rel, ".go") && !strings.HasSuffix(rel, "_test.go"):
			product = append(product, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(userText) < 10 || len(product) < 20 {
		t.Fatalf("found only %d user-text files and %d product files: is the walk rooted right?", len(userText), len(product))
	}
	for _, f := range userText {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if m := internalSource.FindString(line); m != "" {
				t.Errorf("%s:%d: %q names an internal source file; cite IBM's page title instead", f, i+1, m)
			}
		}
	}
	fset := token.NewFileSet()
	for _, f := range product {
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if m := internalSource.FindString(lit.Value); m != "" {
					t.Errorf("%s: string literal names an internal source file (%q); cite IBM's page title instead", fset.Position(lit.Pos()), m)
				}
			}
			return true
		})
	}
}
