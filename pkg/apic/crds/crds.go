// Package crds holds the CustomResourceDefinitions tests and the lab install: ours for the API
// Connect kinds, written from IBM's documented fields (see each file's header), and the
// DataPowerService CRD in IBM's real schema, which is the fixture
// internal/fixtures/crds/datapowerservices.datapower.ibm.com.yaml (written from IBM's
// datapower-operator-chart; one file, so the lab serves exactly the schema the fixtures test checks).
// Test and lab support: the product does not import this package.
package crds

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-apic/kubectl-apic/internal/fixtures"
)

// DataPowerServiceFixture is the fixture holding IBM's DataPowerService CRD.
const DataPowerServiceFixture = "crds/datapowerservices.datapower.ibm.com.yaml"

//go:embed *.yaml
var files embed.FS

// Unstructured returns every CRD: ours sorted by file name, then IBM's DataPowerService.
func Unstructured() ([]*unstructured.Unstructured, error) {
	names, err := fs.Glob(files, "*.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	out := make([]*unstructured.Unstructured, 0, len(names)+1)
	for _, n := range names {
		raw, err := files.ReadFile(n)
		if err != nil {
			return nil, err
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(bytes.TrimSpace(raw), &u.Object); err != nil {
			return nil, fmt.Errorf("crds/%s: %w", n, err)
		}
		out = append(out, u)
	}
	u, err := fixtures.Unstructured(DataPowerServiceFixture)
	if err != nil {
		return nil, err
	}
	return append(out, u), nil
}

// FS exposes our YAML files (not the DataPowerService fixture: use Unstructured for every CRD).
func FS() fs.FS { return files }
