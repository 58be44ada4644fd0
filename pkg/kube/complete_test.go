package kube

import (
	"reflect"
	"testing"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/utils/ptr"
)

func TestContexts(t *testing.T) {
	for _, tc := range []struct {
		context *string
		peer    string
		want    []string
	}{
		{nil, "", []string{""}},
		{ptr.To("dc1"), "", []string{"dc1"}},
		{ptr.To("dc1"), "dc2", []string{"dc1", "dc2"}},
		{nil, "dc2", []string{"", "dc2"}},
	} {
		f := genericclioptions.NewConfigFlags(false)
		f.Context = tc.context
		if got := Contexts(f, tc.peer); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Contexts(%v, %q) = %q, want %q", tc.context, tc.peer, got, tc.want)
		}
	}
}
