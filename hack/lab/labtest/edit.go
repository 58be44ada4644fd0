package labtest

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
)

// editorEnv tells a test binary started as kubectl's editor which field to set: "a.b.c=value".
const editorEnv = "APIC_LABTEST_EDIT"

// Edit runs the real `kubectl edit` with the test binary itself as the editor, which sets the field at
// path (dotted, e.g. spec.multiSiteHA.mode) to value, as a user changing one line would (seed 002:
// "kubectl edit mgmt ... Change spec.multiSiteHA.mode to active").
func Edit(t testing.TB, l *lab.Lab, site, resource, name, path, value string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(kubectlBin(), "--kubeconfig", l.Kubeconfig(), "--context", site, "-n", Namespace, "edit", resource, name)
	cmd.Env = append(os.Environ(), "KUBE_EDITOR="+self, editorEnv+"="+path+"="+value)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl --context %s edit %s %s (%s=%s): %v\n%s", site, resource, name, path, value, err, out)
	}
	t.Logf("kubectl --context %s edit %s %s: set %s to %s: %s", site, resource, name, path, value, strings.TrimSpace(string(out)))
}

// runEditor is the test binary acting as kubectl's editor on file.
func runEditor(spec, file string) int {
	path, value, ok := strings.Cut(spec, "=")
	if !ok {
		fmt.Fprintf(os.Stderr, "labtest editor: bad %s=%q\n", editorEnv, spec)
		return 2
	}
	b, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, "labtest editor:", err)
		return 1
	}
	// kubectl's edit buffer starts with comment lines; YAML ignores them.
	obj := map[string]interface{}{}
	if err := yaml.Unmarshal(b, &obj); err != nil {
		fmt.Fprintln(os.Stderr, "labtest editor:", err)
		return 1
	}
	fields := strings.Split(path, ".")
	if _, found, _ := unstructured.NestedFieldNoCopy(obj, fields...); !found {
		fmt.Fprintf(os.Stderr, "labtest editor: %s not found in the object\n", path)
		return 1
	}
	if err := unstructured.SetNestedField(obj, value, fields...); err != nil {
		fmt.Fprintln(os.Stderr, "labtest editor:", err)
		return 1
	}
	out, err := yaml.Marshal(obj)
	if err != nil {
		fmt.Fprintln(os.Stderr, "labtest editor:", err)
		return 1
	}
	if err := os.WriteFile(file, out, 0o600); err != nil {
		fmt.Fprintln(os.Stderr, "labtest editor:", err)
		return 1
	}
	return 0
}
