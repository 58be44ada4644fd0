package apimanager_test

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubectl-apic/kubectl-apic/pkg/apimanager"
	"github.com/kubectl-apic/kubectl-apic/pkg/apimanager/apimanagertest"
)

func config(s *apimanagertest.Server) apimanager.Config {
	c := s.Credentials()
	return apimanager.Config{
		Server: s.URL, Username: c["username"], Password: c["password"], Realm: c["realm"],
		ClientID: c["client_id"], ClientSecret: c["client_secret"],
	}
}

func TestGatewayServiceUpToDate(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		setup      func(*apimanagertest.Server)
		service    string
		want       bool
		wantDetail string
		wantErr    string
		wantErrIs  error
		wantTokenN int
	}{
		{name: "fixture: up to date", want: true, wantDetail: "service_up_to_date true, 0 outstanding sent and 0 queued events, service_state ok (API Manager, catalog org1/sandbox", wantTokenN: 1},
		{name: "events outstanding", setup: func(s *apimanagertest.Server) { s.SetUpToDate("org1", "sandbox", false, 3) },
			want: false, wantDetail: "service_up_to_date false, 3 outstanding sent", wantTokenN: 1},
		{name: "other catalog unaffected", setup: func(s *apimanagertest.Server) { s.SetUpToDate("org1", "prod", false, 3) },
			want: true, wantDetail: "service_up_to_date true", wantTokenN: 1},
		{name: "no processing status", setup: func(s *apimanagertest.Server) {
			s.SetServices("org1", "sandbox", []map[string]any{{"name": "apigateway-service"}})
		}, want: false, wantDetail: "returned no gateway_processing_status.service_up_to_date", wantTokenN: 1},
		{name: "not configured", service: "other-gw", wantErr: "other-gw in catalog org1/sandbox (configured: apigateway-service)", wantErrIs: apimanager.ErrNotConfigured, wantTokenN: 1},
		{name: "expired token: one new log in", setup: func(s *apimanagertest.Server) { s.FailNext("configured-gateway-services", http.StatusUnauthorized) },
			want: true, wantDetail: "service_up_to_date true", wantTokenN: 2},
		{name: "log in refused", setup: func(s *apimanagertest.Server) { s.FailNext("token", http.StatusUnauthorized) },
			wantErr: "API Manager: log in: 401 Unauthorized: Unauthorized", wantTokenN: 1},
		{name: "server error", setup: func(s *apimanagertest.Server) {
			s.FailNext("configured-gateway-services", http.StatusInternalServerError)
		},
			wantErr: "read configured gateway services of catalog org1/sandbox: 500", wantTokenN: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := apimanagertest.New(t)
			if tt.setup != nil {
				tt.setup(s)
			}
			c, err := apimanager.New(config(s), s.Client())
			if err != nil {
				t.Fatal(err)
			}
			name := tt.service
			if name == "" {
				name = s.GatewayServiceName()
			}
			ok, detail, err := c.GatewayServiceUpToDate(ctx, "org1", "sandbox", name)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				if tt.wantErrIs != nil && !errors.Is(err, tt.wantErrIs) {
					t.Fatalf("err = %v, want errors.Is %v", err, tt.wantErrIs)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if ok != tt.want || !strings.Contains(detail, tt.wantDetail) {
				t.Fatalf("got %t %q, want %t and %q", ok, detail, tt.want, tt.wantDetail)
			}
			if got := s.Calls("token"); got != tt.wantTokenN {
				t.Fatalf("token calls = %d, want %d", got, tt.wantTokenN)
			}
			for _, secret := range []string{config(s).Password, config(s).ClientSecret} {
				if err != nil && strings.Contains(err.Error(), secret) {
					t.Fatalf("error %q holds a secret", err)
				}
			}
		})
	}
}

func TestTokenReused(t *testing.T) {
	s := apimanagertest.New(t)
	c, err := apimanager.New(config(s), s.Client())
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, _, err := c.GatewayServiceUpToDate(context.Background(), "org1", "sandbox", s.GatewayServiceName()); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.Calls("token"); got != 1 {
		t.Fatalf("token calls = %d, want 1", got)
	}
}

func TestWrongCredentials(t *testing.T) {
	s := apimanagertest.New(t)
	cfg := config(s)
	cfg.Password = "wrong-password-value"
	c, err := apimanager.New(cfg, s.Client())
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.GatewayServiceUpToDate(context.Background(), "org1", "sandbox", s.GatewayServiceName())
	var se *apimanager.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusUnauthorized {
		t.Fatalf("err = %v, want a 401 StatusError", err)
	}
	if strings.Contains(err.Error(), cfg.Password) {
		t.Fatalf("error %q holds the password", err)
	}
}

func TestTLS(t *testing.T) {
	s := apimanagertest.New(t)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tt := range []struct {
		name    string
		mod     func(*apimanager.Config)
		wantErr string
	}{
		{name: "system roots refuse the test CA", mod: func(*apimanager.Config) {}, wantErr: "certificate"},
		{name: "CA file", mod: func(c *apimanager.Config) { c.CAFile = ca }},
		{name: "insecure", mod: func(c *apimanager.Config) { c.Insecure = true }},
		{name: "server with /api suffix", mod: func(c *apimanager.Config) { c.CAFile = ca; c.Server += "/api/" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config(s)
			tt.mod(&cfg)
			c, err := apimanager.New(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = c.GatewayServiceUpToDate(ctx, "org1", "sandbox", s.GatewayServiceName())
			if tt.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	good := apimanager.Config{Server: "https://platform.example.com", Username: "u", Password: "p", Realm: "admin/default-idp-1", ClientID: "c", ClientSecret: "s"}
	for _, tt := range []struct {
		name    string
		mod     func(*apimanager.Config)
		wantErr string
	}{
		{name: "good", mod: func(*apimanager.Config) {}},
		{name: "missing", mod: func(c *apimanager.Config) { c.Password, c.Realm = "", "" }, wantErr: "missing password, realm"},
		{name: "not a URL", mod: func(c *apimanager.Config) { c.Server = "platform.example.com" }, wantErr: "not an http(s) URL"},
		{name: "CA and insecure", mod: func(c *apimanager.Config) { c.CAFile, c.Insecure = "/ca", true }, wantErr: "exclusive"},
		{name: "unreadable CA", mod: func(c *apimanager.Config) { c.CAFile = "/nonexistent/ca.pem" }, wantErr: "CA file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.mod(&c)
			_, err := apimanager.New(c, nil)
			if (err != nil) != (tt.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestBaseURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://mgmt.example.com":       "https://mgmt.example.com",
		"https://mgmt.example.com/":      "https://mgmt.example.com",
		"https://mgmt.example.com/api":   "https://mgmt.example.com",
		"https://mgmt.example.com/api/":  "https://mgmt.example.com",
		"https://mgmt.example.com/apis/": "https://mgmt.example.com/apis",
	} {
		if got := apimanager.BaseURL(in); got != want {
			t.Errorf("BaseURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHTTPClientCA(t *testing.T) {
	if _, err := apimanager.HTTPClient(apimanager.Config{CA: []byte("not a certificate")}); err == nil {
		t.Fatal("a CA without a PEM certificate was accepted")
	}
}
