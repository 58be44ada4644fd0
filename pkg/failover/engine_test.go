package failover

import (
	"bytes"
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/kube"
	"github.com/kubectl-apic/kubectl-apic/pkg/progress"
)

// The data-deletion confirmation is removed (and said so) once its demotion is complete; nothing
// happens when it is not there.
func TestRemoveConfirmation(t *testing.T) {
	o := mgmt("dc1", "passive", "passive", "Ready").Objects[0]
	o.U.SetAnnotations(map[string]string{apic.DataDeletionConfirmationAnnotation: "true", "keep": "me"})
	scheme := runtime.NewScheme()
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme,
		map[schema.GroupVersionResource]string{apic.ManagementClusterKind.GVR(): "ManagementClusterList"}, o.U)
	site := &kube.Site{Name: "dc1", Namespace: "apic", Dynamic: client}
	var progressOut bytes.Buffer
	e := &Engine{Reporter: progress.New(&progressOut, progress.Options{})}
	msg, err := e.removeConfirmation(context.Background(), Step{Name: "management: verify dc1"}, site, o)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "removed the annotation "+apic.DataDeletionConfirmationAnnotation+" from mgmt/production-mgmt on dc1") ||
		!strings.Contains(progressOut.String(), msg) {
		t.Errorf("message %q, progress %q", msg, progressOut.String())
	}
	got, err := client.Resource(apic.ManagementClusterKind.GVR()).Namespace("apic").Get(context.Background(), "production-mgmt", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.GetAnnotations()[apic.DataDeletionConfirmationAnnotation]; ok || got.GetAnnotations()["keep"] != "me" {
		t.Errorf("annotations after removal: %v", got.GetAnnotations())
	}
	if msg, err := e.removeConfirmation(context.Background(), Step{}, site, o); err != nil || msg != "" {
		t.Errorf("second removal: %q %v", msg, err)
	}
}
