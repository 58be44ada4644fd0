package testenv

import (
	"os"
	"os/exec"
)

// Bench is what a benchmark program under hack/bench needs before it starts a lab: the control
// plane's bin directory, kubectl, a scratch directory and this module's commands built into it.
type Bench struct {
	Assets  string
	Kubectl string
	Dir     string
	// Bin maps each command name given to NewBench to its built binary.
	Bin map[string]string
}

// NewBench finds the control plane and kubectl (on PATH), makes a scratch directory named after
// prefix and builds ./cmd/<name> of each cmds into it. Close removes the directory.
func NewBench(prefix string, cmds ...string) (*Bench, error) {
	assets, err := Assets()
	if err != nil {
		return nil, err
	}
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, err
	}
	b := &Bench{Assets: assets, Kubectl: kubectl, Dir: dir, Bin: map[string]string{}}
	for _, name := range cmds {
		if b.Bin[name], err = Build(dir, name); err != nil {
			b.Close()
			return nil, err
		}
	}
	return b, nil
}

// Close removes the scratch directory.
func (b *Bench) Close() error { return os.RemoveAll(b.Dir) }
