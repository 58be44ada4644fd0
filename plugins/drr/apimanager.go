package drr

import (
	"context"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-apic/kubectl-apic/pkg/apimanager"
	pdrr "github.com/kubectl-apic/kubectl-apic/pkg/drr"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
)

// The keys of --api-manager-secret (our convention: the fields of API Manager's documented
// POST /api/token request, IBM/apiconnect-trawler GetToken). Credentials never come from argv.
var apiManagerKeys = []string{"username", "password", "realm", "client_id", "client_secret"}

// apiManager builds, from --api-manager-url, --api-manager-secret, --catalog and
// --gateway-service, the registration check (API Manager's configured-gateway-services:
// service_up_to_date) and, when the Secret also has key "token", the webhook trigger.
func (o *Options) apiManager(ctx context.Context, ns string) (pdrr.RegistrationCheck, func(context.Context) (string, error), error) {
	ref := ns + "/" + o.APIManagerSecret
	sec, err := o.site.Kube.CoreV1().Secrets(ns).Get(ctx, o.APIManagerSecret, metav1.GetOptions{})
	if err != nil {
		return nil, nil, exitcode.Newf(exitcode.Error, "reading --api-manager-secret %s: %v", ref, err)
	}
	val := func(k string) string { return strings.TrimSpace(string(sec.Data[k])) }
	var missing []string
	for _, k := range apiManagerKeys {
		if val(k) == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, nil, exitcode.Newf(exitcode.Error, "Secret %s lacks key(s) %s: the API Manager login (POST /api/token) needs %s",
			ref, strings.Join(missing, ", "), strings.Join(apiManagerKeys, ", "))
	}
	cfg := apimanager.Config{Server: o.APIManagerURL, Username: val("username"), Password: val("password"), Realm: val("realm"),
		ClientID: val("client_id"), ClientSecret: val("client_secret"), CA: sec.Data["ca.crt"]}
	// One HTTP client for the check and the webhook trigger: the Secret's CA (or the system roots),
	// the default transport's proxy and dial timeouts, a 30 s limit per call.
	hc := o.APIManagerHTTP
	if hc == nil {
		if hc, err = apimanager.HTTPClient(cfg); err != nil { // only a ca.crt without a certificate fails
			return nil, nil, exitcode.Newf(exitcode.Error, "Secret %s: key ca.crt holds no PEM certificate", ref)
		}
	}
	client, err := apimanager.New(cfg, hc)
	if err != nil {
		return nil, nil, exitcode.New(exitcode.Usage, err)
	}
	org, catalog, _ := strings.Cut(o.Catalog, "/")
	check := func(ctx context.Context) (bool, string, error) {
		return client.GatewayServiceUpToDate(ctx, org, catalog, o.GatewayService)
	}
	var trigger func(context.Context) (string, error)
	if t := val("token"); t != "" {
		trigger = (&pdrr.APIManager{URL: o.APIManagerURL, Token: t, Org: org, Catalog: catalog, Client: hc}).Trigger
	}
	return check, trigger, nil
}
