package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// builds holds one build per command name for the test process.
var builds sync.Map // name → *build

type build struct {
	once sync.Once
	path string
	err  error
}

// Binary builds this module's ./cmd/<name> once per test process and returns its path, for tests
// that run a command as a user does (a subprocess: its own stderr, argv and exit code). Every test
// of the process shares the one build.
func Binary(t testing.TB, name string) string {
	t.Helper()
	v, _ := builds.LoadOrStore(name, &build{})
	b := v.(*build)
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", name+"-bin-")
		if err != nil {
			b.err = err
			return
		}
		b.path, b.err = Build(dir, name)
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// Build builds this module's ./cmd/<name> into dir and returns the binary's path: for tests
// (through Binary) and for the benchmark programs under hack/bench.
func Build(dir, name string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	c := exec.Command("go", "build", "-o", path, "./cmd/"+name)
	c.Dir = root
	if out, err := c.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/%s: %v\n%s", name, err, out)
	}
	return path, nil
}
