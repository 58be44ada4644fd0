// Package kube is the client plumbing every command shares: one Site per kubeconfig context (two data
// centers are two contexts), clients built from cli-runtime's ConfigFlags, and the cluster identity
// that tells whether two contexts point at the same cluster.
package kube

import (
	"context"
	"os"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
)

// Client rate limits. client-go's defaults (5 QPS, burst 10) would serialise the parallel reads our
// commands make across both sites; these match what kubectl itself allows for discovery bursts.
const (
	defaultQPS   = 50
	defaultBurst = 100
)

// Site is one data center: a kubeconfig context with its clients.
type Site struct {
	// Name is the context name (resolved from the current context when none was given).
	Name string
	// Namespace is -n, or the context's namespace, or "default".
	Namespace string
	// ExplicitNamespace is true when the namespace came from -n.
	ExplicitNamespace bool
	// Server is the API server URL, for messages.
	Server string

	Flags    *genericclioptions.ConfigFlags
	Config   *rest.Config
	Dynamic  dynamic.Interface
	Kube     kubernetes.Interface
	Metadata metadata.Interface

	idOnce sync.Once
	id     string
	idErr  error
}

// ForContext returns a copy of base that selects context (all other flags kept). An empty context
// keeps base's own --context.
func ForContext(base *genericclioptions.ConfigFlags, context string) *genericclioptions.ConfigFlags {
	f := genericclioptions.NewConfigFlags(true)
	f.CacheDir, f.KubeConfig = base.CacheDir, base.KubeConfig
	f.ClusterName, f.AuthInfoName, f.Context, f.Namespace = base.ClusterName, base.AuthInfoName, base.Context, base.Namespace
	f.APIServer, f.TLSServerName, f.Insecure = base.APIServer, base.TLSServerName, base.Insecure
	f.CertFile, f.KeyFile, f.CAFile, f.BearerToken = base.CertFile, base.KeyFile, base.CAFile, base.BearerToken
	f.Impersonate, f.ImpersonateUID, f.ImpersonateGroup = base.Impersonate, base.ImpersonateUID, base.ImpersonateGroup
	f.ImpersonateUserExtra = base.ImpersonateUserExtra
	f.Username, f.Password, f.Timeout = base.Username, base.Password, base.Timeout
	f.DisableCompression, f.ProxyURL = base.DisableCompression, base.ProxyURL
	f.WrapConfigFn = base.WrapConfigFn
	if context != "" {
		c := context
		f.Context = &c
	}
	return f
}

// NewSite resolves flags into a Site. An unknown context is a usage error naming the fix.
func NewSite(flags *genericclioptions.ConfigFlags) (*Site, error) {
	loader := flags.ToRawKubeConfigLoader()
	raw, err := loader.RawConfig()
	if err != nil {
		return nil, exitcode.Newf(exitcode.Usage, "cannot load kubeconfig: %v", err)
	}
	name := raw.CurrentContext
	if flags.Context != nil && *flags.Context != "" {
		name = *flags.Context
	}
	explicitServer := flags.APIServer != nil && *flags.APIServer != ""
	if len(raw.Contexts) == 0 && !explicitServer {
		if err := missingKubeconfig(loader); err != nil {
			return nil, err
		}
	}
	if _, ok := raw.Contexts[name]; !ok && !explicitServer {
		if name == "" {
			return nil, exitcode.Newf(exitcode.Usage, "no current context in kubeconfig: pass --context (see kubectl config get-contexts)")
		}
		return nil, exitcode.Newf(exitcode.Usage, "context %q not found in kubeconfig: see kubectl config get-contexts", name)
	}
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return nil, exitcode.Newf(exitcode.Usage, "context %q: %v", name, err)
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = defaultQPS, defaultBurst
	ns, explicit, err := loader.Namespace()
	if err != nil {
		return nil, exitcode.Newf(exitcode.Usage, "context %q: %v", name, err)
	}
	s := &Site{Name: name, Namespace: ns, ExplicitNamespace: explicit, Server: cfg.Host, Flags: flags, Config: cfg}
	if s.Dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if s.Kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if s.Metadata, err = metadata.NewForConfig(cfg); err != nil {
		return nil, err
	}
	return s, nil
}

// NewSites builds one Site per context, sharing every other flag of base. Duplicate contexts are a
// usage error: two sites must be two contexts.
func NewSites(base *genericclioptions.ConfigFlags, contexts []string) ([]*Site, error) {
	seen := map[string]bool{}
	out := make([]*Site, 0, len(contexts))
	for _, c := range contexts {
		if seen[c] {
			return nil, exitcode.Newf(exitcode.Usage, "context %q given twice: a second site needs a different context", c)
		}
		seen[c] = true
		s, err := NewSite(ForContext(base, c))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// missingKubeconfig names the kubeconfig files that do not exist when none of them does: clientcmd
// skips missing files in KUBECONFIG (and a missing ~/.kube/config) silently, which would otherwise
// surface as "no current context".
func missingKubeconfig(loader clientcmd.ClientConfig) error {
	access := loader.ConfigAccess()
	if access == nil {
		return nil
	}
	files := access.GetLoadingPrecedence()
	if len(files) == 0 {
		return nil
	}
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			return nil
		}
	}
	from := "the default location"
	if access.IsExplicitFile() {
		from = "--kubeconfig"
	} else if v := os.Getenv(clientcmd.RecommendedConfigPathEnvVar); v != "" {
		from = clientcmd.RecommendedConfigPathEnvVar
	}
	return exitcode.Newf(exitcode.Usage, "kubeconfig file not found: %s (from %s): point KUBECONFIG or --kubeconfig at an existing kubeconfig",
		strings.Join(files, ", "), from)
}

// ClusterID is the UID of the kube-system namespace: stable for a cluster's life and different for
// every cluster, so two contexts with the same ID are the same cluster.
func (s *Site) ClusterID(ctx context.Context) (string, error) {
	s.idOnce.Do(func() {
		ns, err := s.Kube.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{})
		if err != nil {
			s.idErr = err
			return
		}
		s.id = string(ns.UID)
	})
	return s.id, s.idErr
}

// String is the site's name for messages.
func (s *Site) String() string { return s.Name }

// EachSite runs fn for every site in parallel and returns the errors by site index.
func EachSite(ctx context.Context, sites []*Site, fn func(ctx context.Context, s *Site) error) []error {
	errs := make([]error, len(sites))
	var g errgroup.Group // not WithContext: one site's error does not stop the others
	for i, s := range sites {
		g.Go(func() error {
			errs[i] = fn(ctx, s)
			return nil
		})
	}
	_ = g.Wait()
	return errs
}
