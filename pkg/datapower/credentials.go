package datapower

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/explain"
)

// Defaults of AdminKeys. IBM's docs show the GatewayCluster's spec.adminUser.secretName but no
// contract for the Secret's keys: "password" (the key the DataPower operator's user Secrets use)
// for the user "admin" is our convention; the flags change both.
const (
	DefaultAdminUser   = "admin"
	DefaultPasswordKey = "password"
)

// AdminKeys says where in the admin Secret the credentials are: the password under PasswordKey,
// the user either User or, when UserKey is set, the Secret's value under UserKey.
type AdminKeys struct {
	User        string
	UserKey     string
	PasswordKey string
	// flags is the flag set AddFlags added to: Validate tells a --admin-user given from the default.
	flags *pflag.FlagSet
}

// NewAdminKeys returns the defaults.
func NewAdminKeys() AdminKeys {
	return AdminKeys{User: DefaultAdminUser, PasswordKey: DefaultPasswordKey}
}

// AddFlags adds --admin-user, --admin-user-key and --admin-password-key.
func (k *AdminKeys) AddFlags(f *pflag.FlagSet) {
	k.flags = f
	f.StringVar(&k.User, "admin-user", k.User, "DataPower user whose password is in the GatewayCluster's spec.adminUser.secretName Secret")
	f.StringVar(&k.UserKey, "admin-user-key", k.UserKey, "Key of that Secret holding the DataPower user name (instead of --admin-user)")
	f.StringVar(&k.PasswordKey, "admin-password-key", k.PasswordKey, "Key of that Secret holding the DataPower password")
}

// Validate checks the keys. --admin-user and --admin-user-key both given is an error, also when
// --admin-user names the default user (without flags: a User other than the default).
func (k AdminKeys) Validate() error {
	userGiven := k.User != "" && k.User != DefaultAdminUser
	if k.flags != nil {
		userGiven = k.flags.Changed("admin-user")
	}
	switch {
	case k.PasswordKey == "":
		return exitcode.UsageErrorf("--admin-password-key must not be empty")
	case k.UserKey != "" && userGiven:
		return exitcode.UsageErrorf("--admin-user and --admin-user-key exclude each other")
	case k.UserKey == "" && k.User == "":
		return exitcode.UsageErrorf("--admin-user must not be empty")
	}
	return nil
}

// AdminSecret is the Secret named by a GatewayCluster's spec.adminUser.secretName.
type AdminSecret struct {
	Namespace string
	Name      string
	// Gateway is the GatewayCluster's name, for messages.
	Gateway string
	Keys    AdminKeys
}

// Ref is "namespace/name".
func (a AdminSecret) Ref() string { return a.Namespace + "/" + a.Name }

// user is the user name for messages.
func (a AdminSecret) user() string {
	if a.Keys.UserKey != "" {
		return fmt.Sprintf("named by key %q", a.Keys.UserKey)
	}
	return fmt.Sprintf("%q", a.Keys.User)
}

// ReadAdminCredentials reads the DataPower admin credentials from the Secret, whose Keys passed
// AdminKeys.Validate. site names the kubeconfig context in errors. Errors name the Secret and the
// key, never its data.
func ReadAdminCredentials(ctx context.Context, kube kubernetes.Interface, site string, a AdminSecret) (Credentials, error) {
	if a.Name == "" {
		return Credentials{}, exitcode.Newf(exitcode.Error,
			"GatewayCluster %s/%s has no spec.adminUser.secretName: cannot find the DataPower admin credentials", a.Namespace, a.Gateway)
	}
	sec, err := kube.CoreV1().Secrets(a.Namespace).Get(ctx, a.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Credentials{}, exitcode.Newf(exitcode.Error,
			"Secret %s (spec.adminUser.secretName of GatewayCluster %s) not found: it holds the DataPower admin password", a.Ref(), a.Gateway)
	}
	if err != nil {
		return Credentials{}, explain.Error(err, site, corev1.SchemeGroupVersion.WithResource("secrets"), "get")
	}
	keys := a.Keys
	pw := sec.Data[keys.PasswordKey]
	if len(pw) == 0 {
		return Credentials{}, exitcode.Newf(exitcode.Error,
			"Secret %s has no %q key: the DataPower password of user %s is read from it (--admin-password-key names another key)",
			a.Ref(), keys.PasswordKey, a.user())
	}
	user := keys.User
	if keys.UserKey != "" {
		u := sec.Data[keys.UserKey]
		if len(u) == 0 {
			return Credentials{}, exitcode.Newf(exitcode.Error, "Secret %s has no %q key (--admin-user-key): the DataPower user name is read from it",
				a.Ref(), keys.UserKey)
		}
		user = string(u)
	}
	return Credentials{Username: user, Password: string(pw)}, nil
}

// LoginFailureMessage is what a rejected login says: which Secret, key and user were tried, and
// how to fix it.
func (a AdminSecret) LoginFailureMessage() string {
	return fmt.Sprintf("the DataPower console rejected user %s with the password in Secret %s (key %q): put that user's DataPower password in the Secret, or pass --admin-user for the user it belongs to",
		a.user(), a.Ref(), a.Keys.PasswordKey)
}
