package drr

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/apimanager/apimanagertest"
	"github.com/kubectl-apic/kubectl-apic/pkg/datapower"
	"github.com/kubectl-apic/kubectl-apic/pkg/datapower/datapowertest"
	pdrr "github.com/kubectl-apic/kubectl-apic/pkg/drr"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/kube"
)

// Unit tests of the command through its seams (NewSite, Attach, Confirm, Progress) over the
// DataPower fake: no control plane, they run under -short.

const unitPassword = "Unit-s3cret-77"

type unitEnv struct {
	site *kube.Site
	g    *datapowertest.Group
	apim *http.Client
}

// newUnitEnv is a 3-member GatewayCluster "gw" in namespace apic whose admin Secret "gw-admin"
// holds unitPassword under key, each pod with a sidecar before the datapower container.
func newUnitEnv(t *testing.T, key string) *unitEnv {
	t.Helper()
	gw := apic.New(apic.GatewayClusterKind, "apic", "gw")
	gw.U.Object["spec"] = map[string]interface{}{"adminUser": map[string]interface{}{"secretName": "gw-admin"}}
	objs := []runtime.Object{&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "gw-admin", Namespace: "apic"},
		Data: map[string][]byte{key: []byte(unitPassword)}}}
	var pods [][2]string
	for i := range 3 {
		name, ip := fmt.Sprintf("gw-%d", i), fmt.Sprintf("10.0.0.%d", i+1)
		pods = append(pods, [2]string{name, ip})
		objs = append(objs, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "apic",
				Labels: map[string]string{apic.KindLabel: apic.DataPowerKindValue, apic.InstanceLabel: "gw"}},
			Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "log-shipper"}, {Name: "datapower"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip,
				Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
				ContainerStatuses: []corev1.ContainerStatus{{Name: "log-shipper", Ready: true}, {Name: "datapower", Ready: true}}},
		})
	}
	lists := map[schema.GroupVersionResource]string{}
	for _, k := range apic.Kinds() {
		lists[k.GVR()] = k.Kind + "List"
	}
	return &unitEnv{
		site: &kube.Site{Name: "dc1", Namespace: "apic", Kube: kubefake.NewClientset(objs...),
			Dynamic: dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), lists, gw.U)},
		g: datapowertest.NewGroup("admin", unitPassword, pods...),
	}
}

type unitResult struct {
	out, errOut string
	err         error
}

func (e *unitEnv) run(t *testing.T, args ...string) unitResult {
	t.Helper()
	var out, errOut bytes.Buffer
	o := NewOptions(genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	o.NewSite = func(*genericclioptions.ConfigFlags) (*kube.Site, error) { return e.site, nil }
	o.Attach = func(ctx context.Context, _ *kube.Site, t datapower.AttachTarget) (datapower.Conn, error) {
		if t.Container != datapower.Container {
			return nil, fmt.Errorf("attached to container %q of %s, not datapower", t.Container, t.Pod)
		}
		return e.g.Attach(ctx, t)
	}
	o.Confirm = func(context.Context, genericiooptions.IOStreams, string) error { return nil }
	o.APIManagerHTTP = e.apim
	cmd := NewCommandWithOptions("kubectl apic drr", o)
	cmd.SetArgs(append([]string{"gw", "--poll-interval", "10ms", "--command-timeout", "2s"}, args...))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	return unitResult{out: out.String(), errOut: errOut.String(), err: err}
}

// The safety rule: without quorum nothing is changed (exit 5) and the refusal says why.
func TestUnitRefusesOnLostQuorum(t *testing.T) {
	e := newUnitEnv(t, "password")
	e.g.SetUp("gw-1", false)
	e.g.SetUp("gw-2", false)
	r := e.run(t, "--yes")
	if got := exitcode.FromError(r.err); got != exitcode.Refused {
		t.Fatalf("exit %s, want %s: %v\n%s%s", got, exitcode.Refused, r.err, r.out, r.errOut)
	}
	if !strings.Contains(r.err.Error(), "has no quorum") || !strings.Contains(r.err.Error(), "nothing was changed") {
		t.Errorf("refusal %q does not say the quorum is lost and nothing changed", r.err)
	}
	if e.g.Flushed("gwd") {
		t.Error("the peering was flushed without quorum")
	}
	for _, pod := range []string{"gw-0", "gw-1", "gw-2"} {
		for _, line := range e.g.Typed(pod) {
			if strings.HasPrefix(line, "gateway-peering-") || strings.HasPrefix(line, "admin-state") {
				t.Errorf("%s: a change was typed before the refusal: %q", pod, line)
			}
		}
	}
}

// A rejected login refuses (exit 5) naming the Secret and its key, after one member only.
func TestUnitWrongCredentialsNameTheSecret(t *testing.T) {
	e := newUnitEnv(t, "password")
	e.g.SetPassword("rotated-on-the-device")
	r := e.run(t, "--yes")
	if got := exitcode.FromError(r.err); got != exitcode.Refused {
		t.Fatalf("exit %s, want %s: %v", got, exitcode.Refused, r.err)
	}
	for _, want := range []string{"Secret apic/gw-admin", `key "password"`, "--admin-user"} {
		if !strings.Contains(r.err.Error(), want) {
			t.Errorf("error %q lacks %q", r.err, want)
		}
	}
	if n := len(e.g.Typed("gw-1")) + len(e.g.Typed("gw-2")); n != 0 {
		t.Errorf("a rejected login was tried on more members (%d lines typed on gw-1, gw-2)", n)
	}
}

// Non-default Secret keys: the password is read from --admin-password-key; a missing key names it.
func TestUnitAdminPasswordKey(t *testing.T) {
	e := newUnitEnv(t, "admin-password")
	if r := e.run(t, "--status"); !strings.Contains(fmt.Sprint(r.err), `no "password" key`) {
		t.Errorf("default key: %v", r.err)
	}
	if r := e.run(t, "--status", "--admin-password-key", "admin-password"); r.err != nil {
		t.Errorf("--admin-password-key: %v\n%s", r.err, r.errOut)
	}
}

// The password is never printed: not on stdout, stderr, in errors or in the transcript, on a full
// DRR nor on a rejected login.
func TestUnitPasswordNeverPrinted(t *testing.T) {
	for _, tt := range []struct {
		name  string
		setup func(*unitEnv)
		code  exitcode.Code
	}{
		{"full DRR", func(*unitEnv) {}, exitcode.OK},
		{"rejected login", func(e *unitEnv) { e.g.SetPassword("other") }, exitcode.Refused},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newUnitEnv(t, "password")
			tt.setup(e)
			dir := t.TempDir()
			r := e.run(t, "--yes", "--transcript", dir, "-o", "json")
			if got := exitcode.FromError(r.err); got != tt.code {
				t.Fatalf("exit %s, want %s: %v", got, tt.code, r.err)
			}
			texts := map[string]string{"stdout": r.out, "stderr": r.errOut, "error": fmt.Sprint(r.err)}
			files, _ := filepath.Glob(filepath.Join(dir, "*.txt"))
			if len(files) == 0 {
				t.Fatal("no transcript written")
			}
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				texts["transcript "+filepath.Base(f)] = string(b)
			}
			for where, text := range texts {
				if strings.Contains(text, unitPassword) {
					t.Errorf("the password is in %s", where)
				}
			}
			if !strings.Contains(texts["transcript gw-0.txt"], "********") {
				t.Error("the transcript does not show the redacted password line")
			}
		})
	}
}

// REGISTRATION: UNVERIFIED with the hint without an API Manager check; PASSED only when the fake
// API Manager (fixture apim/configured-gateway-services.json) says service_up_to_date; a gateway
// service not up to date fails the step (exit 23) at --registration-timeout.
func TestUnitRegistrationCheck(t *testing.T) {
	for _, tt := range []struct {
		name     string
		apim     bool
		upToDate bool
		code     exitcode.Code
		status   string
		message  string
	}{
		{name: "no API Manager", code: exitcode.OK, status: pdrr.Unverified, message: "configured-gateway-services?fields=add(gateway_processing_status,events)"},
		{name: "up to date", apim: true, upToDate: true, code: exitcode.OK, status: pdrr.Passed, message: "configured-gateway-services"},
		{name: "not up to date", apim: true, code: exitcode.DRRRegistrationFailed, status: pdrr.Failed, message: "not re-registered within"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newUnitEnv(t, "password")
			args := []string{"--yes", "-o", "json", "--registration-timeout", "300ms"}
			if tt.apim {
				srv := apimanagertest.New(t)
				srv.SetUpToDate("org", "sandbox", tt.upToDate, 3)
				data := map[string][]byte{}
				for k, v := range srv.Credentials() {
					data[k] = []byte(v)
				}
				if _, err := e.site.Kube.CoreV1().Secrets("apic").Create(context.Background(), &corev1.Secret{
					ObjectMeta: metav1.ObjectMeta{Name: "apim-login", Namespace: "apic"}, Data: data}, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
				args = append(args, "--api-manager-url", srv.URL, "--api-manager-secret", "apim-login", "--catalog", "org/sandbox",
					"--gateway-service", srv.GatewayServiceName())
				e.apim = srv.Client()
			}
			r := e.run(t, args...)
			if got := exitcode.FromError(r.err); got != tt.code {
				t.Fatalf("exit %s, want %s: %v\n%s", got, tt.code, r.err, r.errOut)
			}
			var rep pdrr.Report
			if err := json.Unmarshal([]byte(r.out), &rep); err != nil {
				t.Fatalf("%v\n%s", err, r.out)
			}
			for _, pod := range []string{"gw-0", "gw-1", "gw-2"} {
				s, _ := rep.Result(pod, pdrr.StepRegistration)
				if s.Status != tt.status || !strings.Contains(s.Message, tt.message) {
					t.Errorf("%s registration %s %q, want %s with %q", pod, s.Status, s.Message, tt.status, tt.message)
				}
			}
			for where, text := range map[string]string{"stdout": r.out, "stderr": r.errOut, "error": fmt.Sprint(r.err)} {
				if tt.apim && strings.Contains(text, "client_secret\":\"") {
					t.Errorf("API Manager credentials in %s", where)
				}
			}
		})
	}
}

// --gw-service-log: the waiting-log step reads the file given (IBM's chart default otherwise), and a
// value that is not a DataPower file URL is a usage error (exit 2) before anything is read.
func TestUnitGatewayServiceLog(t *testing.T) {
	e := newUnitEnv(t, "password")
	r := e.run(t, "--yes", "--gw-service-log", "gwd-log.log")
	if got := exitcode.FromError(r.err); got != exitcode.Usage {
		t.Fatalf("exit %s, want %s: %v", got, exitcode.Usage, r.err)
	}
	if n := len(e.g.Typed("gw-0")); n != 0 {
		t.Errorf("%d lines typed on gw-0 before a usage error", n)
	}
	r = e.run(t, "--dry-run", "--gw-service-log", "logtemp:///my-gwd.log")
	if r.err != nil {
		t.Fatalf("dry run: %v\n%s", r.err, r.errOut)
	}
	if !strings.Contains(r.out, "show file logtemp:///my-gwd.log") {
		t.Errorf("the plan does not read the file given:\n%s", r.out)
	}
}

// A failed run's hint says what the journal says: left mid-DRR only once the flush was recorded
// (and so may have been sent), else nothing was flushed, even when the flush step is the one that
// failed (its record failed before the flush was sent).
func TestUnitLeftHint(t *testing.T) {
	o := &Options{site: &kube.Site{Name: "dc1"}}
	gw := &pdrr.Gateway{Name: "gw", Namespace: "apic"}
	r := &pdrr.Report{Peering: "gwd", FailedStep: pdrr.StepFlush}
	if err := o.leftHint(nil, gw, r, true); err != nil {
		t.Errorf("success: %v", err)
	}
	if err := o.leftHint(fmt.Errorf("recording the flush failed"), gw, r, false); !strings.Contains(err.Error(), "Nothing was flushed") {
		t.Errorf("not flushed: %v", err)
	}
	if err := o.leftHint(fmt.Errorf("cycle failed"), gw, r, true); !strings.Contains(err.Error(), "left mid-DRR (peering gwd may be flushed") {
		t.Errorf("flushed: %v", err)
	}
}
