package drr

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/kubectl-apic/kubectl-apic/pkg/apimanager"
)

// APIManager forces the re-registration the way seed 000 step 9 documents: a catalog settings edit
// in API Manager makes the management server send a webhook event to the gateway service, which
// triggers the DRR without waiting for the heartbeat.
//
// IBM documents the step in the API Manager UI (Catalog > Settings > Edit, change Summary, Save).
// We make the same edit through the platform REST API: GET /api/catalogs/{org}/{catalog}, then
// PATCH its "summary" with a marker appended, then PATCH it back, so the catalog ends as it was
// (each save sends a webhook). The lab has no API Manager: this path is tested against a fake
// HTTP server only, never on the lab.
type APIManager struct {
	// URL is the platform API base, e.g. https://platform-api.example.com.
	URL string
	// Token is a bearer token of a user allowed to edit the catalog.
	Token   string
	Org     string
	Catalog string
	Client  *http.Client
}

// Trigger edits and restores the catalog summary.
func (a *APIManager) Trigger(ctx context.Context) (string, error) {
	client := a.Client
	if client == nil {
		client = http.DefaultClient
	}
	u := apimanager.BaseURL(a.URL) + "/api/catalogs/" + url.PathEscape(a.Org) + "/" + url.PathEscape(a.Catalog)
	var cat struct {
		Summary string `json:"summary"`
	}
	if err := a.do(ctx, client, http.MethodGet, u, nil, &cat); err != nil {
		return "", err
	}
	for _, summary := range []string{cat.Summary + " (kubectl apic drr)", cat.Summary} {
		body, err := json.Marshal(map[string]string{"summary": summary})
		if err != nil {
			return "", err
		}
		if err := a.do(ctx, client, http.MethodPatch, u, body, nil); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("webhook triggered by editing catalog %s/%s in API Manager", a.Org, a.Catalog), nil
}

func (a *APIManager) do(ctx context.Context, client *http.Client, method, u string, body []byte, into any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.Token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("API Manager %s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("API Manager %s %s: %s", method, u, resp.Status)
	}
	if into != nil {
		if err := json.Unmarshal(data, into); err != nil {
			return fmt.Errorf("API Manager %s %s: %w", method, u, err)
		}
	}
	return nil
}
