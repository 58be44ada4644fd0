package status

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubectl-apic/kubectl-apic/pkg/cli"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
)

// kubeconfig writes a kubeconfig with one context per name → server.
func kubeconfig(t *testing.T, servers map[string]string) string {
	cfg := clientcmdapi.NewConfig()
	for name, server := range servers {
		cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server}
		cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{}
		cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name, Namespace: "apic"}
		cfg.CurrentContext = name
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

func execute(t *testing.T, args ...string) (string, string, exitcode.Code) {
	var out, errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	cmd := NewCommand("kubectl apic status", streams)
	cmd.SetArgs(args)
	code := exitcode.Code(cli.Execute(context.Background(), cmd, streams))
	return out.String(), errOut.String(), code
}

func TestNoAPIConnectCRDs(t *testing.T) {
	notAPIConnect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.Contains(r.URL.Path, "ibm.com") {
			w.WriteHeader(404)
			_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404,"message":"the server could not find the requested resource"}`))
			return
		}
		_, _ = w.Write([]byte(`{"kind":"List","apiVersion":"v1","metadata":{},"items":[]}`))
	}))
	defer notAPIConnect.Close()
	kc := kubeconfig(t, map[string]string{"dc2": notAPIConnect.URL})
	_, errOut, code := execute(t, "--kubeconfig", kc, "--context", "dc2")
	if code != exitcode.Error || !strings.Contains(errOut, "error: API Connect CRDs not found in context dc2: is this an API Connect cluster?") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

func TestUsageErrors(t *testing.T) {
	kc := kubeconfig(t, map[string]string{"dc1": "https://127.0.0.1:1", "dc2": "https://127.0.0.1:2"})
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--context", "nope"}, `context "nope" not found in kubeconfig`},
		{[]string{"--context", "dc1", "--peer-context", "dc1"}, `context "dc1" given twice`},
		{[]string{"--context", "dc1", "-o", "xml"}, `unknown output format "xml"`},
		{[]string{"--context", "dc1", "--stuck-after", "0s"}, "--stuck-after must be positive"},
		{[]string{"--context", "dc1", "-n", "apic", "-A"}, "-n and -A together"},
	} {
		_, errOut, code := execute(t, append([]string{"--kubeconfig", kc}, c.args...)...)
		if code != exitcode.Usage || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want usage error %q", c.args, code, errOut, c.want)
		}
	}
}

func TestHelpAndCompletion(t *testing.T) {
	out, _, code := execute(t, "--help")
	for _, want := range []string{"--peer-context", "--context", "--watch", "--stuck-after", "--peering", "Examples:", "kubectl apic status --context dc1 --peer-context dc2"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	if code != exitcode.OK {
		t.Errorf("--help exit %d", code)
	}
	kc := kubeconfig(t, map[string]string{"dc1": "https://127.0.0.1:1", "dc2": "https://127.0.0.1:2"})
	out, _, _ = execute(t, "__complete", "--kubeconfig", kc, "--peer-context", "")
	if !strings.Contains(out, "dc1\ndc2\n") {
		t.Errorf("completion of --peer-context: %q", out)
	}
	_ = os.Remove(kc)
}
