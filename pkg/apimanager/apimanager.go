// Package apimanager is a small client of API Connect's API Manager REST API (the platform API):
// it logs in with the documented password grant and reads the management side's own view of a
// gateway service's event delivery, which is the closest documented signal that the management
// server reaches a gateway service after an outage-less re-registration (DRR).
//
// The calls are the ones IBM's own tools make (IBM/apiconnect-trawler, nets/main.go GetToken and
// nets/manager/manager.go getWebhookStats) and IBM documents in "Reviewing a gateway's processing
// status":
//
//	POST <server>/api/token   {client_id, client_secret, username, password, realm, grant_type: "password"}
//	GET  <server>/api/catalogs/<org>/<catalog>/configured-gateway-services?fields=add(gateway_processing_status,events)
//
// Credentials never leave the request body: they are not in errors, logs or URLs.
package apimanager

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// Config says where API Manager is and how to log in. Server is the platform API endpoint
// (e.g. https://platform-api.apps.example.com, with or without a trailing /api); Realm has the
// documented form admin/<identity provider> or provider/<identity provider> (IBM "Logging in to a
// management server"). ClientID and ClientSecret are those of a registered client application
// (IBM Support "How to get and use the Bearer token for calling the REST APIs").
type Config struct {
	Server       string
	Username     string
	Password     string
	Realm        string
	ClientID     string
	ClientSecret string

	// CAFile, or CA (the same PEM held in memory, e.g. a Secret's ca.crt), is a bundle that
	// verifies the server's certificate (the system roots are not used when one is set). Insecure
	// skips verification altogether; it must be asked for explicitly.
	CAFile   string
	CA       []byte
	Insecure bool
}

// Validate reports a missing field (by name, never by value).
func (c Config) Validate() error {
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"server", c.Server}, {"username", c.Username}, {"password", c.Password},
		{"realm", c.Realm}, {"client id", c.ClientID}, {"client secret", c.ClientSecret},
	} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("API Manager: missing %s", strings.Join(missing, ", "))
	}
	u, err := url.Parse(c.Server)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("API Manager: server %q is not an http(s) URL", c.Server)
	}
	if (c.CAFile != "" || len(c.CA) > 0) && c.Insecure {
		return errors.New("API Manager: a CA file and insecure are exclusive")
	}
	return nil
}

// Client calls API Manager. It is safe for concurrent use; the bearer token is fetched once and
// renewed when it expires or the server answers 401.
type Client struct {
	cfg  Config
	base string // server URL without a trailing slash and without /api
	http *http.Client

	mu      sync.Mutex
	token   string
	expires time.Time
	now     func() time.Time
}

// New returns a client. A nil hc gets an *http.Client built from the TLS options of cfg (CAFile,
// Insecure) with a 30 s timeout; a non-nil hc is used as given (its transport decides TLS).
func New(cfg Config, hc *http.Client) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if hc == nil {
		var err error
		if hc, err = HTTPClient(cfg); err != nil {
			return nil, err
		}
	}
	return &Client{cfg: cfg, base: BaseURL(cfg.Server), http: hc, now: time.Now}, nil
}

// BaseURL is server without trailing slashes and without /api: the platform API's paths
// (/api/token, /api/catalogs/...) are appended to it, whichever of the two forms the user gave.
func BaseURL(server string) string {
	return strings.TrimSuffix(strings.TrimRight(server, "/"), "/api")
}

// HTTPClient builds the *http.Client New uses by default: TLS verified against CA or CAFile when set,
// against the system roots otherwise, not at all with Insecure.
func HTTPClient(cfg Config) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	switch {
	case cfg.Insecure:
		tc.InsecureSkipVerify = true //nolint:gosec // asked for explicitly (Config.Insecure)
	case len(cfg.CA) > 0:
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(cfg.CA) {
			return nil, errors.New("API Manager CA: no PEM certificate")
		}
		tc.RootCAs = pool
	case cfg.CAFile != "":
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("API Manager CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("API Manager CA file %s: no PEM certificate", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	tr.TLSClientConfig = tc
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, nil
}

// tokenRequest is the documented body of POST /api/token (grant_type password).
type tokenRequest struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	Username     string `json:"username"`
	Password     string `json:"password"`
	Realm        string `json:"realm"`
	GrantType    string `json:"grant_type"`
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

// StatusError is a non-2xx answer. Message is a short excerpt of the answer's body (API Manager
// answers errors as JSON with a message; the request, which holds the credentials, is never quoted).
type StatusError struct {
	Op      string // "log in", "read configured gateway services"
	Code    int
	Status  string
	Message string
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("API Manager: %s: %s", e.Op, e.Status)
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

func (c *Client) bearer(ctx context.Context, renew bool) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !renew && c.token != "" && c.now().Before(c.expires) {
		return c.token, nil
	}
	body, err := json.Marshal(tokenRequest{
		ClientID: c.cfg.ClientID, ClientSecret: c.cfg.ClientSecret,
		Username: c.cfg.Username, Password: c.cfg.Password, Realm: c.cfg.Realm, GrantType: "password",
	})
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/api/token", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	var tr tokenResponse
	if err := c.do(req, "log in", &tr); err != nil {
		return "", err
	}
	if tr.AccessToken == "" {
		return "", errors.New("API Manager: log in: the answer has no access_token")
	}
	c.token = tr.AccessToken
	ttl := time.Duration(tr.ExpiresIn) * time.Second
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	// renew a little early so that a call never carries a token that expires on the way
	c.expires = c.now().Add(ttl - ttl/10)
	return c.token, nil
}

func (c *Client) do(req *http.Request, op string, into any) error {
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is ours and holds no secret, but the path is said by op
		}
		return fmt.Errorf("API Manager: %s (%s): %w", op, c.base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("API Manager: %s: %w", op, err)
	}
	if resp.StatusCode/100 != 2 {
		return &StatusError{Op: op, Code: resp.StatusCode, Status: resp.Status, Message: errorMessage(raw)}
	}
	if err := json.Unmarshal(raw, into); err != nil {
		return fmt.Errorf("API Manager: %s: the answer is not the documented JSON: %w", op, err)
	}
	return nil
}

// errorMessage takes API Manager's {"message": [...]} or {"message": "..."} from an error body,
// else a short excerpt of the text.
func errorMessage(raw []byte) string {
	var m struct {
		Message json.RawMessage `json:"message"`
	}
	if json.Unmarshal(raw, &m) == nil && len(m.Message) > 0 {
		var one string
		if json.Unmarshal(m.Message, &one) == nil {
			return clip(one)
		}
		var many []string
		if json.Unmarshal(m.Message, &many) == nil {
			return clip(strings.Join(many, "; "))
		}
	}
	return clip(strings.TrimSpace(string(raw)))
}

func clip(s string) string {
	const max = 200
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

// GatewayServiceStatus is one configured gateway service of a catalog as API Manager sees it
// (IBM "Reviewing a gateway's processing status").
type GatewayServiceStatus struct {
	Name             string `json:"name"`
	ServiceVersion   string `json:"service_version,omitempty"`
	ServiceState     string `json:"service_state,omitempty"`
	ProcessingStatus *struct {
		ServiceUpToDate                 *bool `json:"service_up_to_date"`
		NumberOfOutstandingSentEvents   int   `json:"number_of_outstanding_sent_events"`
		NumberOfOutstandingQueuedEvents int   `json:"number_of_outstanding_queued_events"`
	} `json:"gateway_processing_status,omitempty"`
}

// UpToDate reports gateway_processing_status.service_up_to_date ("If true then all outstanding
// events have been processed by the Gateway service") and says what was read.
func (s GatewayServiceStatus) UpToDate() (bool, string) {
	p := s.ProcessingStatus
	if p == nil || p.ServiceUpToDate == nil {
		return false, fmt.Sprintf("gateway service %s: API Manager returned no gateway_processing_status.service_up_to_date", s.Name)
	}
	d := fmt.Sprintf("gateway service %s: service_up_to_date %t, %d outstanding sent and %d queued events",
		s.Name, *p.ServiceUpToDate, p.NumberOfOutstandingSentEvents, p.NumberOfOutstandingQueuedEvents)
	if s.ServiceState != "" {
		d += ", service_state " + s.ServiceState
	}
	return *p.ServiceUpToDate, d
}

type configuredGatewayServices struct {
	TotalResults int                    `json:"total_results"`
	Results      []GatewayServiceStatus `json:"results"`
}

// ConfiguredGatewayServices lists the gateway services configured in catalog org/catalog with
// their processing status.
func (c *Client) ConfiguredGatewayServices(ctx context.Context, org, catalog string) ([]GatewayServiceStatus, error) {
	if org == "" || catalog == "" {
		return nil, errors.New("API Manager: an organization and a catalog are needed")
	}
	u := c.base + "/api/catalogs/" + url.PathEscape(org) + "/" + url.PathEscape(catalog) +
		"/configured-gateway-services?fields=add(gateway_processing_status,events)"
	op := fmt.Sprintf("read configured gateway services of catalog %s/%s", org, catalog)
	var out configuredGatewayServices
	for attempt := 0; ; attempt++ {
		tok, err := c.bearer(ctx, attempt > 0)
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		err = c.do(req, op, &out)
		var se *StatusError
		if attempt == 0 && errors.As(err, &se) && se.Code == http.StatusUnauthorized {
			continue // the token expired early or was revoked: log in again once
		}
		if err != nil {
			return nil, err
		}
		return out.Results, nil
	}
}

// ErrNotConfigured is returned (wrapped) when the catalog has no configured gateway service of
// that name.
var ErrNotConfigured = errors.New("gateway service not configured in the catalog")

// GatewayServiceUpToDate reports whether API Manager says the configured gateway service called
// name in catalog org/catalog is up to date (service_up_to_date), with a detail string for the user
// that says what API Manager returned and where it was read.
func (c *Client) GatewayServiceUpToDate(ctx context.Context, org, catalog, name string) (bool, string, error) {
	list, err := c.ConfiguredGatewayServices(ctx, org, catalog)
	if err != nil {
		return false, "", err
	}
	where := fmt.Sprintf(" (API Manager, catalog %s/%s, configured-gateway-services)", org, catalog)
	for _, s := range list {
		if s.Name == name {
			ok, d := s.UpToDate()
			return ok, d + where, nil
		}
	}
	names := make([]string, 0, len(list))
	for _, s := range list {
		names = append(names, s.Name)
	}
	return false, "", fmt.Errorf("API Manager: %w: %s in catalog %s/%s (configured: %s)",
		ErrNotConfigured, name, org, catalog, strings.Join(names, ", "))
}
