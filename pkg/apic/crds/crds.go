// Package crds holds our CustomResourceDefinitions for the API Connect kinds, written from IBM's
// documented fields (see each file's header). Tests and the lab install them; the product reads
// them only to know the kinds.
package crds

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

//go:embed *.yaml
var files embed.FS

// Unstructured returns every CRD, sorted by name.
func Unstructured() ([]*unstructured.Unstructured, error) {
	names, err := fs.Glob(files, "*.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	out := make([]*unstructured.Unstructured, 0, len(names))
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
	return out, nil
}

// FS exposes the YAML files, e.g. for envtest's CRDInstallOptions.
func FS() fs.FS { return files }
