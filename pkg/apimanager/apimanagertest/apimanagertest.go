// Package apimanagertest is a fake API Manager for tests: an HTTPS server that answers the two
// calls package apimanager makes with the documented responses from internal/fixtures/apim
// (token-request.json is the request it accepts, token-response.json its answer,
// configured-gateway-services.json the catalog's gateway services).
package apimanagertest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/kubectl-apic/kubectl-apic/internal/fixtures"
)

// Server is the fake. Credentials are the ones of fixture apim/token-request.json unless changed
// with SetCredentials; every catalog serves fixture apim/configured-gateway-services.json unless
// changed with SetUpToDate or SetServices.
type Server struct {
	*httptest.Server

	mu       sync.Mutex
	creds    map[string]string
	token    string
	tokenRaw []byte
	services []map[string]any            // the fixture's results
	catalogs map[string][]map[string]any // "org/catalog" → results
	calls    map[string]int
	failNext map[string]int // path kind → status to answer once
}

// New starts the fake over TLS; it is closed when the test ends. Use s.Client() as the
// apimanager http.Client, or write s.Certificate() to a CA file.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{catalogs: map[string][]map[string]any{}, calls: map[string]int{}, failNext: map[string]int{}}
	if err := json.Unmarshal(body(t, "apim/token-request.json"), &s.creds); err != nil {
		t.Fatal(err)
	}
	s.tokenRaw = body(t, "apim/token-response.json")
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(s.tokenRaw, &tr); err != nil {
		t.Fatal(err)
	}
	s.token = tr.AccessToken
	var cgs struct {
		Results []map[string]any `json:"results"`
	}
	if err := json.Unmarshal(body(t, "apim/configured-gateway-services.json"), &cgs); err != nil {
		t.Fatal(err)
	}
	s.services = cgs.Results
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func body(t testing.TB, name string) []byte {
	t.Helper()
	b, err := fixtures.Body(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Credentials returns the credentials the fake accepts (username, password, realm, client_id,
// client_secret, grant_type).
func (s *Server) Credentials() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for k, v := range s.creds {
		out[k] = v
	}
	return out
}

// GatewayServiceName is the name of the fixture's gateway service.
func (s *Server) GatewayServiceName() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, _ := s.services[0]["name"].(string)
	return n
}

// SetUpToDate sets service_up_to_date and the outstanding sent events of the fixture's gateway
// service in catalog org/catalog.
func (s *Server) SetUpToDate(org, catalog string, upToDate bool, outstanding int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var res []map[string]any
	for _, r := range s.resultsLocked(org, catalog) {
		c := clone(r)
		ps, _ := c["gateway_processing_status"].(map[string]any)
		ps = clone(ps)
		ps["service_up_to_date"] = upToDate
		ps["number_of_outstanding_sent_events"] = outstanding
		c["gateway_processing_status"] = ps
		res = append(res, c)
	}
	s.catalogs[org+"/"+catalog] = res
}

// SetServices replaces the results of catalog org/catalog (nil: no configured gateway service).
func (s *Server) SetServices(org, catalog string, results []map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if results == nil {
		results = []map[string]any{}
	}
	s.catalogs[org+"/"+catalog] = results
}

// FailNext makes the next call of kind ("token" or "configured-gateway-services") answer code.
func (s *Server) FailNext(kind string, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext[kind] = code
}

// Calls returns how many calls of kind were answered.
func (s *Server) Calls(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[kind]
}

func (s *Server) resultsLocked(org, catalog string) []map[string]any {
	if r, ok := s.catalogs[org+"/"+catalog]; ok {
		return r
	}
	return s.services
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kind := ""
	switch {
	case r.URL.Path == "/api/token":
		kind = "token"
	case strings.HasPrefix(r.URL.Path, "/api/catalogs/") && strings.HasSuffix(r.URL.Path, "/configured-gateway-services"):
		kind = "configured-gateway-services"
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"status": 404, "message": []string{"Not found"}})
		return
	}
	s.calls[kind]++
	if code := s.failNext[kind]; code != 0 {
		delete(s.failNext, kind)
		writeJSON(w, code, map[string]any{"status": code, "message": []string{http.StatusText(code)}})
		return
	}
	switch kind {
	case "token":
		var got map[string]string
		if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&got) != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"status": 400, "message": []string{"Bad request"}})
			return
		}
		for k, v := range s.creds {
			if got[k] != v {
				writeJSON(w, http.StatusUnauthorized, map[string]any{"status": 401, "message": []string{"Invalid credentials"}})
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(s.tokenRaw)
	case "configured-gateway-services":
		if r.Header.Get("Authorization") != "Bearer "+s.token {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"status": 401, "message": []string{"Unauthorized"}})
			return
		}
		if r.URL.Query().Get("fields") != "add(gateway_processing_status,events)" {
			writeJSON(w, http.StatusBadRequest, map[string]any{"status": 400, "message": []string{"fields"}})
			return
		}
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/api/catalogs/"), "/")
		if len(parts) != 3 {
			writeJSON(w, http.StatusNotFound, map[string]any{"status": 404, "message": []string{"Not found"}})
			return
		}
		res := s.resultsLocked(parts[0], parts[1])
		writeJSON(w, http.StatusOK, map[string]any{"total_results": len(res), "results": res})
	}
}
