package explain

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
)

var (
	mgmt   = apic.ManagementClusterKind.GVR()
	mgmtGR = mgmt.GroupResource()
	dp     = apic.DataPowerServiceKind.GVR()
	pods   = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
)

const apiURL = "https://127.0.0.1:6443/apis/management.apiconnect.ibm.com/v1beta1/namespaces/apic/managementclusters"

func urlErr(err error) error { return &url.Error{Op: "Get", URL: apiURL, Err: err} }

func dial(errno syscall.Errno) error {
	return urlErr(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)})
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// kubeconfigError is what clientcmd really returns for an unknown --context.
func kubeconfigError(t *testing.T, override string) error {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:6443"}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: "t"}
	cfg.Contexts["dc1"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	cfg.CurrentContext = "dc1"
	_, err := clientcmd.NewDefaultClientConfig(*cfg, &clientcmd.ConfigOverrides{CurrentContext: override}).ClientConfig()
	if err == nil {
		t.Fatal("clientcmd accepted an unknown context")
	}
	return err
}

func TestError(t *testing.T) {
	invalid := apierrors.NewInvalid(apic.ManagementClusterKind.GVK().GroupKind(), "mgmt", field.ErrorList{
		field.Required(field.NewPath("spec", "version"), ""),
		field.NotSupported(field.NewPath("spec", "multiSiteHA", "mode"), "both", []string{"active", "passive"}),
		field.Invalid(field.NewPath("spec", "a"), 1, "bad"),
		field.Invalid(field.NewPath("spec", "b"), 2, "bad"),
		field.Invalid(field.NewPath("spec", "c"), 3, "bad"),
	})
	tests := []struct {
		name string
		err  error
		site string
		gvr  schema.GroupVersionResource
		verb string
		code exitcode.Code
		msg  string // exact, or a prefix when it ends in "..."
	}{
		{name: "crd missing (404 without a Status body)", site: "dc2", gvr: mgmt, verb: "list",
			err:  apierrors.NewGenericServerResponse(404, "GET", mgmtGR, "", "404 page not found", 0, true),
			code: exitcode.Error,
			msg:  "API Connect CRDs not found in context dc2: is this an API Connect cluster? (no managementclusters.management.apiconnect.ibm.com)"},
		{name: "crd missing on a get by name", site: "dc2", gvr: mgmt, verb: "get",
			err:  apierrors.NewGenericServerResponse(404, "GET", mgmtGR, "mgmt", "404 page not found", 0, true),
			code: exitcode.Error,
			msg:  "API Connect CRDs not found in context dc2: is this an API Connect cluster? (no managementclusters.management.apiconnect.ibm.com)"},
		{name: "crd missing (discovery: no match)", site: "dc2", gvr: mgmt, verb: "get",
			err:  &meta.NoKindMatchError{GroupKind: apic.ManagementClusterKind.GVK().GroupKind(), SearchedVersions: []string{"v1beta1"}},
			code: exitcode.Error,
			msg:  "API Connect CRDs not found in context dc2: is this an API Connect cluster? (no managementclusters.management.apiconnect.ibm.com)"},
		{name: "datapower crd missing", site: "dc1", gvr: dp, verb: "list",
			err:  apierrors.NewGenericServerResponse(404, "GET", dp.GroupResource(), "", "", 0, true),
			code: exitcode.Error,
			msg:  "DataPower CRDs not found in context dc1: is the DataPower operator installed? (no datapowerservices.datapower.ibm.com)"},
		{name: "non-APIC resource missing", site: "dc1", gvr: schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}, verb: "list",
			err:  apierrors.NewGenericServerResponse(404, "GET", schema.GroupResource{Group: "batch", Resource: "jobs"}, "", "", 0, true),
			code: exitcode.Error,
			msg:  "context dc1 does not serve jobs.batch: check that its CRD or API is installed"},
		{name: "object missing", site: "dc1", gvr: mgmt, verb: "get",
			err:  apierrors.NewNotFound(mgmtGR, "mgmt"),
			code: exitcode.Error,
			msg:  `managementclusters.management.apiconnect.ibm.com "mgmt" not found in context dc1: list them with kubectl get managementclusters.management.apiconnect.ibm.com -A --context dc1`},
		{name: "forbidden (apiserver wording)", site: "dc1", gvr: mgmt, verb: "list",
			err:  apierrors.NewForbidden(mgmtGR, "", errors.New(`User "alice" cannot list resource "managementclusters" in API group "management.apiconnect.ibm.com" in the namespace "apic"`)),
			code: exitcode.Error,
			msg:  `forbidden in context dc1: user "alice" cannot list managementclusters.management.apiconnect.ibm.com in namespace "apic": ask for RBAC "list" on managementclusters`},
		{name: "forbidden, verb and resource from the message", site: "dc1",
			err:  apierrors.NewForbidden(mgmtGR, "mgmt", errors.New(`User "system:serviceaccount:ci:bot" cannot patch resource "managementclusters" in API group "management.apiconnect.ibm.com" in the namespace "apic"`)),
			code: exitcode.Error,
			msg:  `forbidden in context dc1: user "system:serviceaccount:ci:bot" cannot patch managementclusters.management.apiconnect.ibm.com in namespace "apic": ask for RBAC "patch" on managementclusters`},
		{name: "forbidden at cluster scope, no user", site: "dc1", gvr: pods, verb: "list",
			err:  apierrors.NewForbidden(pods.GroupResource(), "", errors.New(`cannot list resource "pods" in API group "" at the cluster scope`)),
			code: exitcode.Error,
			msg:  `forbidden in context dc1: cannot list pods at cluster scope: ask for RBAC "list" on pods`},
		{name: "admission webhook denial", site: "dc1", gvr: mgmt, verb: "patch",
			err:  apierrors.NewForbidden(mgmtGR, "mgmt", errors.New(`admission webhook "v.apic" denied the request: nope`)),
			code: exitcode.Error,
			msg:  `denied by an admission webhook in context dc1: managementclusters.management.apiconnect.ibm.com "mgmt" is forbidden: admission webhook "v.apic" denied the request: nope`},
		{name: "unauthorized", site: "dc1", gvr: mgmt, verb: "list",
			err:  apierrors.NewUnauthorized("Unauthorized"),
			code: exitcode.Error,
			msg:  "credentials rejected by context dc1 (Unauthorized): refresh your login for this context (e.g. oc login, or your kubeconfig's auth plugin) and retry"},
		{name: "conflict", site: "dc1", gvr: mgmt, verb: "update",
			err:  apierrors.NewConflict(mgmtGR, "mgmt", errors.New("the object has been modified")),
			code: exitcode.Error,
			msg:  `conflict in context dc1: managementclusters.management.apiconnect.ibm.com "mgmt" was changed by someone else meanwhile; re-run the command`},
		{name: "already exists", site: "dc1", gvr: pods, verb: "create",
			err:  apierrors.NewAlreadyExists(pods.GroupResource(), "p"),
			code: exitcode.Error,
			msg:  `pods "p" already exists in context dc1`},
		{name: "invalid lists three field errors", site: "dc1", gvr: mgmt, verb: "patch",
			err:  invalid,
			code: exitcode.Error,
			msg:  `context dc1 rejected managementclusters.management.apiconnect.ibm.com "mgmt" as invalid: spec.version: Required value; spec.multiSiteHA.mode: Unsupported value: "both": supported values: "active", "passive"; spec.a: Invalid value: 1: bad (and 2 more)`},
		{name: "server timeout", site: "dc1", gvr: mgmt, verb: "list",
			err:  apierrors.NewServerTimeout(mgmtGR, "list", 2),
			code: exitcode.Timeout,
			msg:  "the API server of context dc1 timed out (list managementclusters.management.apiconnect.ibm.com): retry (a longer --request-timeout gives the server longer too); the request may still complete on the server"},
		{name: "gateway timeout", site: "dc1", gvr: mgmt, verb: "list",
			err:  apierrors.NewTimeoutError("request did not complete", 1),
			code: exitcode.Timeout,
			msg:  "the API server of context dc1 timed out (list managementclusters.management.apiconnect.ibm.com): ..."},
		{name: "throttled", site: "dc1", gvr: mgmt, verb: "list",
			err:  apierrors.NewTooManyRequests("slow down", 1),
			code: exitcode.Error,
			msg:  "the API server of context dc1 is throttling requests (list managementclusters.management.apiconnect.ibm.com): retry later"},
		{name: "internal error", site: "dc1", gvr: mgmt, verb: "list",
			err:  apierrors.NewInternalError(errors.New("etcd\nunavailable")),
			code: exitcode.Error,
			msg:  "the API server of context dc1 failed (list managementclusters.management.apiconnect.ibm.com): Internal error occurred: etcd unavailable"},
		{name: "connection refused", site: "dc1", gvr: mgmt, verb: "list",
			err:  dial(syscall.ECONNREFUSED),
			code: exitcode.Unreachable,
			msg:  "context dc1 unreachable (https://127.0.0.1:6443): connection refused"},
		{name: "no route", site: "dc1", gvr: mgmt, verb: "list",
			err:  dial(syscall.EHOSTUNREACH),
			code: exitcode.Unreachable,
			msg:  "context dc1 unreachable (https://127.0.0.1:6443): no route to host"},
		{name: "dns", site: "dc3", gvr: mgmt, verb: "list",
			err:  urlErr(&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "api.dc3.example"}}),
			code: exitcode.Unreachable,
			msg:  "context dc3 unreachable (https://127.0.0.1:6443): cannot resolve api.dc3.example: no such host"},
		{name: "tls unknown authority", site: "dc1", gvr: mgmt, verb: "list",
			err:  urlErr(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}),
			code: exitcode.Unreachable,
			msg:  "context dc1 unreachable (https://127.0.0.1:6443): TLS: x509: certificate signed by unknown authority; check certificate-authority-data and server in the kubeconfig"},
		{name: "tls hostname", site: "dc1", gvr: mgmt, verb: "list",
			err:  urlErr(x509.HostnameError{Certificate: &x509.Certificate{}, Host: "10.0.0.9"}),
			code: exitcode.Unreachable,
			msg:  "context dc1 unreachable (https://127.0.0.1:6443): TLS: x509: ..."},
		{name: "network timeout", site: "dc1", gvr: mgmt, verb: "list",
			err:  urlErr(&net.OpError{Op: "dial", Net: "tcp", Err: timeoutErr{}}),
			code: exitcode.Unreachable,
			msg:  "context dc1 unreachable (https://127.0.0.1:6443): timed out connecting"},
		{name: "flattened text", site: "dc1", gvr: mgmt, verb: "list",
			err:  errors.New(`couldn't get resource list: Get "https://10.0.0.1:6443/api?timeout=32s": dial tcp 10.0.0.1:6443: connect: connection refused`),
			code: exitcode.Unreachable,
			msg:  "context dc1 unreachable (https://10.0.0.1:6443): connection refused"},
		{name: "our deadline", site: "dc1", gvr: mgmt, verb: "watch",
			err:  urlErr(context.DeadlineExceeded),
			code: exitcode.Timeout,
			msg:  "timed out waiting for context dc1 (watch managementclusters.management.apiconnect.ibm.com): retry, or allow more time (--request-timeout, when set, bounds each request)"},
		{name: "--request-timeout (http.Client.Timeout)", site: "dc1", gvr: mgmt, verb: "list",
			err:  urlErr(fmt.Errorf("net/http: request canceled (Client.Timeout exceeded while awaiting headers): %w", context.DeadlineExceeded)),
			code: exitcode.Timeout,
			msg:  "no answer from context dc1 within --request-timeout (list managementclusters.management.apiconnect.ibm.com): retry, or raise --request-timeout (e.g. --request-timeout=1m; 0 means no limit)"},
		{name: "--request-timeout, flattened", site: "dc1", gvr: mgmt, verb: "list",
			err:  errors.New(`Get "https://10.0.0.1:6443/apis": net/http: request canceled (Client.Timeout exceeded while awaiting headers)`),
			code: exitcode.Timeout,
			msg:  "no answer from context dc1 within --request-timeout (list managementclusters.management.apiconnect.ibm.com): ..."},
		{name: "cancelled", site: "dc1", gvr: mgmt, verb: "watch",
			err:  fmt.Errorf("wait: %w", context.Canceled),
			code: exitcode.Interrupted,
			msg:  "interrupted while waiting for context dc1 (watch managementclusters.management.apiconnect.ibm.com)"},
		{name: "unknown context (clientcmd)", site: "dc9",
			err:  kubeconfigError(t, "dc9"),
			code: exitcode.Usage,
			msg:  `context "dc9" not found in kubeconfig; see kubectl config get-contexts`},
		{name: "unknown context (text)", site: "x",
			err:  errors.New(`context "x" does not exist`),
			code: exitcode.Usage,
			msg:  `context "x" not found in kubeconfig; see kubectl config get-contexts`},
		{name: "empty kubeconfig",
			err:  clientcmd.ErrEmptyConfig,
			code: exitcode.Usage,
			msg:  "no kubeconfig found: set KUBECONFIG or pass --kubeconfig"},
		{name: "anything else keeps its text", gvr: mgmt, verb: "list",
			err:  errors.New("something odd"),
			code: exitcode.Error,
			msg:  "list managementclusters.management.apiconnect.ibm.com in the current context: something odd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Error(tt.err, tt.site, tt.gvr, tt.verb)
			var coded *exitcode.ExitError
			if !errors.As(got, &coded) {
				t.Fatalf("not an *exitcode.ExitError: %T %v", got, got)
			}
			if coded.Code != tt.code {
				t.Errorf("code %v, want %v (%v)", coded.Code, tt.code, got)
			}
			msg := got.Error()
			t.Logf("exit %d: %s", coded.Code, msg)
			if prefix, ok := strings.CutSuffix(tt.msg, "..."); ok {
				if !strings.HasPrefix(msg, prefix) {
					t.Errorf("message\n %q\nwant prefix\n %q", msg, prefix)
				}
			} else if msg != tt.msg {
				t.Errorf("message\n %q\nwant\n %q", msg, tt.msg)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("message spans lines: %q", msg)
			}
			if !errors.Is(got, tt.err) {
				t.Error("explained error lost its cause")
			}
		})
	}
}

func TestPassThrough(t *testing.T) {
	if Error(nil, "dc1", mgmt, "get") != nil {
		t.Error("nil must stay nil")
	}
	already := exitcode.Newf(exitcode.Refused, "dc2 is not ready for promotion")
	if got := Error(already, "dc1", mgmt, "get"); got != already {
		t.Errorf("coded error changed: %v", got)
	}
	wrapped := fmt.Errorf("failover: %w", already)
	if got := Error(wrapped, "dc1", mgmt, "get"); got != wrapped {
		t.Errorf("wrapped coded error changed: %v", got)
	}
	once := Error(apierrors.NewNotFound(mgmtGR, "mgmt"), "dc1", mgmt, "get")
	if twice := Error(once, "dc2", dp, "list"); twice != once {
		t.Errorf("explaining twice changed the message: %v", twice)
	}
	if !apierrors.IsNotFound(once) {
		t.Error("apierrors.IsNotFound must still see through the explanation")
	}
}
