// Package version reports the build's version, commit and date, set by the linker
// (-X github.com/kubectl-apic/kubectl-apic/pkg/version.version=... in the Makefile and .goreleaser.yaml).
package version

import (
	"fmt"
	"runtime"
)

// Set by -ldflags -X at build time; the defaults describe a plain `go build`.
var (
	version = "v0.0.0-dev"
	commit  = "unknown"
	date    = "unknown"
)

// Info describes a build.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns this binary's build information.
func Get() Info {
	return Info{Version: version, Commit: commit, Date: date, GoVersion: runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH}
}

// String is the one-line form printed by `version`.
func (i Info) String() string {
	return fmt.Sprintf("%s (commit %s, built %s, %s, %s)", i.Version, i.Commit, i.Date, i.GoVersion, i.Platform)
}
