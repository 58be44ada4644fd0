// Package testenv starts the real control plane integration tests run against: kube-apiserver and etcd
// built by hack/control-plane.sh (cached outside the work tree), driven by controller-runtime's envtest,
// with our API Connect CRDs installed. One control plane per test package, started in TestMain:
//
//	var env *testenv.Env
//	func TestMain(m *testing.M) { os.Exit(testenv.Run(m, &env)) }
//	func TestSomething(t *testing.T) { e := testenv.Require(t, env); ... }
//
// With -short (make test-unit) no control plane starts and integration tests skip, saying so. Without
// -short a control plane that cannot start fails every integration test: they never skip silently.
package testenv

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic/crds"
)

// Env is a running control plane.
type Env struct {
	Config  *rest.Config
	Kube    kubernetes.Interface
	Dynamic dynamic.Interface
	// Kubeconfig is the path of an admin kubeconfig (context "envtest") for /usr/bin/kubectl and our
	// commands.
	Kubeconfig string
	// Assets is the directory with the control-plane binaries.
	Assets string

	env      *envtest.Environment
	dir      string
	startErr error
}

// Options tune the control plane.
type Options struct {
	// APIServerFlags are extra kube-apiserver flags (name without dashes → value).
	APIServerFlags map[string]string
}

// Run starts a control plane (unless -short), runs the package's tests and stops it.
func Run(m *testing.M, env **Env) int { return RunWith(m, env, Options{}) }

// RunWith is Run with options.
func RunWith(m *testing.M, env **Env, opts Options) int {
	flag.Parse()
	if testing.Short() {
		return m.Run()
	}
	e, err := Start(opts)
	if err != nil {
		// Keep running so every integration test reports the failure instead of skipping.
		*env = &Env{startErr: err}
		return m.Run()
	}
	*env = e
	code := m.Run()
	if err := e.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "testenv: stopping control plane: %v\n", err)
	}
	return code
}

// Require returns the package's control plane or ends the test: a skip (with the reason) under
// -short, a failure when it could not start.
func Require(t testing.TB, env *Env) *Env {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs the real control plane (skipped with -short; run make test)")
	}
	if env == nil {
		t.Fatal("testenv: control plane not started: call testenv.Run from TestMain")
	}
	if env.startErr != nil {
		t.Fatalf("testenv: control plane failed to start: %v", env.startErr)
	}
	return env
}

// Start builds (if needed) and starts a control plane with our CRDs.
func Start(opts Options) (*Env, error) {
	assets, err := Assets()
	if err != nil {
		return nil, err
	}
	defs, err := CRDs()
	if err != nil {
		return nil, err
	}
	te := &envtest.Environment{
		BinaryAssetsDirectory:    assets,
		CRDs:                     defs,
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: 60 * time.Second,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	api := te.ControlPlane.GetAPIServer()
	for k, v := range opts.APIServerFlags {
		api.Configure().Set(k, v)
	}
	cfg, err := te.Start()
	if err != nil {
		return nil, fmt.Errorf("starting kube-apiserver and etcd from %s: %w", assets, err)
	}
	e := &Env{Config: cfg, Assets: assets, env: te}
	if err := e.init(); err != nil {
		_ = te.Stop()
		return nil, err
	}
	return e, nil
}

func (e *Env) init() error {
	var err error
	if e.Kube, err = kubernetes.NewForConfig(e.Config); err != nil {
		return err
	}
	if e.Dynamic, err = dynamic.NewForConfig(e.Config); err != nil {
		return err
	}
	if e.dir, err = os.MkdirTemp("", "kubectl-apic-testenv-"); err != nil {
		return err
	}
	user, err := e.env.AddUser(envtest.User{Name: "envtest-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return err
	}
	// envtest names its context "envtest" already; keep it, it reads well in messages.
	e.Kubeconfig = filepath.Join(e.dir, "kubeconfig")
	return os.WriteFile(e.Kubeconfig, kc, 0o600)
}

// Stop stops the control plane and removes temporary files.
func (e *Env) Stop() error {
	if e.dir != "" {
		defer os.RemoveAll(e.dir)
	}
	if e.env == nil {
		return nil
	}
	return e.env.Stop()
}

// AddUser creates a user with no permissions beyond what the caller grants with RBAC, and returns
// the path of a kubeconfig for it (for forbidden-path tests).
func (e *Env) AddUser(name string, groups ...string) (string, *rest.Config, error) {
	user, err := e.env.AddUser(envtest.User{Name: name, Groups: groups}, nil)
	if err != nil {
		return "", nil, err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return "", nil, err
	}
	path := filepath.Join(e.dir, "kubeconfig-"+name)
	return path, user.Config(), os.WriteFile(path, kc, 0o600)
}

// Namespace creates a fresh namespace for one test and deletes it when the test ends.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "apic-test-"}}
	got, err := e.Kube.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	t.Cleanup(func() {
		_ = e.Kube.CoreV1().Namespaces().Delete(context.Background(), got.Name, metav1.DeleteOptions{})
	})
	return got.Name
}

// Kubectl runs /usr/bin/kubectl (or $KUBECTL) against this control plane and returns its stdout.
func (e *Env) Kubectl(t testing.TB, args ...string) string {
	t.Helper()
	out, errOut, err := RunKubectl(e.Kubeconfig, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// RunKubectl runs kubectl with a kubeconfig.
func RunKubectl(kubeconfig string, args ...string) (stdout, stderr string, err error) {
	bin := os.Getenv("KUBECTL")
	if bin == "" {
		bin = "/usr/bin/kubectl"
	}
	cmd := exec.Command(bin, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	var o, eb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &eb
	err = cmd.Run()
	return o.String(), eb.String(), err
}

// CRDs are our API Connect CRDs as typed objects for envtest.
func CRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	us, err := crds.Unstructured()
	if err != nil {
		return nil, err
	}
	out := make([]*apiextensionsv1.CustomResourceDefinition, 0, len(us))
	for _, u := range us {
		c := &apiextensionsv1.CustomResourceDefinition{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, c); err != nil {
			return nil, fmt.Errorf("%s: %w", u.GetName(), err)
		}
		out = append(out, c)
	}
	return out, nil
}

// Assets returns the directory of the control-plane binaries: $KUBEBUILDER_ASSETS, else the output
// of hack/control-plane.sh (instant when cached; a cold build takes about ten minutes).
func Assets() (string, error) {
	if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" {
		return d, nil
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(filepath.Join(root, "hack", "control-plane.sh"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/control-plane.sh: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// ModuleRoot finds the repository root (the directory with go.mod) from the working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}
