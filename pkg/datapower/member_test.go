package datapower

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubefake "k8s.io/client-go/kubernetes/fake"
)

func TestContainerFor(t *testing.T) {
	pod := func(ann string, names ...string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "gw-0", Annotations: map[string]string{}}}
		if ann != "" {
			p.Annotations["kubectl.kubernetes.io/default-container"] = ann
		}
		for _, n := range names {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: n})
		}
		return p
	}
	for _, tt := range []struct {
		name string
		pod  *corev1.Pod
		want string
		err  string
	}{
		{"only container", pod("", "gateway"), "gateway", ""},
		{"sidecar first", pod("", "istio-proxy", "datapower"), "datapower", ""},
		{"annotation wins", pod("dp", "istio-proxy", "dp", "datapower"), "dp", ""},
		{"first without datapower", pod("", "a", "b"), "a", ""},
		{"annotation names no container", pod("nosuch", "datapower"), "", "container nosuch is not valid"},
		{"no containers", pod(""), "", "does not have any containers"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ContainerFor(tt.pod)
			if got != tt.want || (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("ContainerFor = %q, %v; want %q, %q", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestReadAdminCredentials(t *testing.T) {
	kube := kubefake.NewClientset(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "gw-admin", Namespace: "apic"},
		Data: map[string][]byte{"password": []byte("pw1"), "dp-password": []byte("pw2"), "user": []byte("apic-admin")}})
	sec := func(name string, keys AdminKeys) AdminSecret {
		return AdminSecret{Namespace: "apic", Name: name, Gateway: "gw", Keys: keys}
	}
	for _, tt := range []struct {
		name     string
		a        AdminSecret
		want     Credentials
		errMatch string
	}{
		{"defaults", sec("gw-admin", NewAdminKeys()), Credentials{"admin", "pw1"}, ""},
		{"password key", sec("gw-admin", AdminKeys{User: "admin", PasswordKey: "dp-password"}), Credentials{"admin", "pw2"}, ""},
		{"user key", sec("gw-admin", AdminKeys{UserKey: "user", PasswordKey: "password"}), Credentials{"apic-admin", "pw1"}, ""},
		{"missing key", sec("gw-admin", AdminKeys{User: "admin", PasswordKey: "nope"}), Credentials{}, `Secret apic/gw-admin has no "nope" key`},
		{"missing user key", sec("gw-admin", AdminKeys{UserKey: "nope", PasswordKey: "password"}), Credentials{}, `no "nope" key (--admin-user-key)`},
		{"missing secret", sec("gone", NewAdminKeys()), Credentials{}, "Secret apic/gone (spec.adminUser.secretName of GatewayCluster gw) not found"},
		{"no secret name", sec("", NewAdminKeys()), Credentials{}, "has no spec.adminUser.secretName"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadAdminCredentials(context.Background(), kube, "dc1", tt.a)
			if got != tt.want || (err == nil) != (tt.errMatch == "") || (err != nil && !strings.Contains(err.Error(), tt.errMatch)) {
				t.Errorf("got %+v, %v; want %+v, %q", got, err, tt.want, tt.errMatch)
			}
			if err != nil && strings.Contains(err.Error(), "pw") {
				t.Errorf("error carries Secret data: %v", err)
			}
		})
	}
	msg := sec("gw-admin", AdminKeys{User: "admin", PasswordKey: "dp-password"}).LoginFailureMessage()
	for _, want := range []string{`user "admin"`, "Secret apic/gw-admin", `key "dp-password"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("LoginFailureMessage %q lacks %q", msg, want)
		}
	}
}

// Both user flags given is a usage error, also when --admin-user names the default user; the
// default user with --admin-user-key is not.
func TestAdminKeysValidate(t *testing.T) {
	for _, tt := range []struct {
		args     []string
		errMatch string
	}{
		{nil, ""},
		{[]string{"--admin-user-key", "user"}, ""},
		{[]string{"--admin-user", "sre"}, ""},
		{[]string{"--admin-user", "admin", "--admin-user-key", "user"}, "exclude each other"},
		{[]string{"--admin-user", "sre", "--admin-user-key", "user"}, "exclude each other"},
		{[]string{"--admin-user", ""}, "--admin-user must not be empty"},
		{[]string{"--admin-password-key", ""}, "--admin-password-key must not be empty"},
	} {
		k := NewAdminKeys()
		f := pflag.NewFlagSet("test", pflag.ContinueOnError)
		k.AddFlags(f)
		if err := f.Parse(tt.args); err != nil {
			t.Fatal(err)
		}
		if err := k.Validate(); (err == nil) != (tt.errMatch == "") || (err != nil && !strings.Contains(err.Error(), tt.errMatch)) {
			t.Errorf("%q: %v, want %q", tt.args, err, tt.errMatch)
		}
	}
}

// The first member is read alone; a rejected first login leaves the others unread.
func TestFirstThenRest(t *testing.T) {
	for _, reject := range []bool{false, true} {
		var mu sync.Mutex
		var order []int
		all := FirstThenRest(context.Background(), 4, 2, func(_ context.Context, i int) bool {
			mu.Lock()
			defer mu.Unlock()
			order = append(order, i)
			return reject && i == 0
		})
		if all == reject || order[0] != 0 || len(order) != map[bool]int{false: 4, true: 1}[reject] {
			t.Errorf("reject %v: read %v, all %v", reject, order, all)
		}
	}
	if !FirstThenRest(context.Background(), 0, 0, func(context.Context, int) bool { t.Error("read"); return true }) {
		t.Error("no members: want true")
	}
}
