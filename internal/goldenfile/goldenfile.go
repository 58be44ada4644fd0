// Package goldenfile compares test output with files under testdata; `go test ... -update` rewrites them.
// Test support only.
package goldenfile

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files the tests compare against")

// Update reports whether the test run was asked to rewrite golden files.
func Update() bool { return *update }

// Assert fails t unless got equals the file at path; with -update it writes got there first.
func Assert(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test with -update to accept)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
