package kube

import (
	"context"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
)

// Contexts are the kubeconfig contexts of a command's sites: --context (or the current one, "")
// and, when given, --peer-context.
func Contexts(flags *genericclioptions.ConfigFlags, peer string) []string {
	contexts := []string{""}
	if flags.Context != nil {
		contexts[0] = *flags.Context
	}
	if peer != "" {
		contexts = append(contexts, peer)
	}
	return contexts
}

// CompleteNames lists the names of gvr in the site's namespace that start with prefix, for shell
// completion (nothing on any error: completion must not fail loudly).
func CompleteNames(ctx context.Context, site *Site, err error, gvr schema.GroupVersionResource, prefix string) []string {
	if err != nil || site == nil {
		return nil
	}
	if ctx == nil {
		ctx = context.Background()
	}
	list, err := site.Dynamic.Resource(gvr).Namespace(site.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	var out []string
	for _, u := range list.Items {
		if strings.HasPrefix(u.GetName(), prefix) {
			out = append(out, u.GetName())
		}
	}
	return out
}
