package datapower

import (
	"errors"
	"strconv"
	"strings"
)

// ShowAPICGatewayService is the command printing the apic-gw-service object.
const ShowAPICGatewayService = "show apic-gw-service"

// GatewayService is `show apic-gw-service`: the object's header and its properties.
//
// IBM documents no sample of how a DataPower shows that its gateway service re-registered; the
// runbook says only to test the APIs. We read a `registration-state` property, our choice shared
// with the lab simulator (hack/lab/datapower): "Registered", "Waiting for gateway service
// registration." or a flushed state.
type GatewayService struct {
	// State is the operational state in the header, e.g. "up" in `apic-gw-service: default [up]`.
	State      string
	AdminState string
	Peering    string
	// RegistrationState is the registration-state property, "" when absent.
	RegistrationState string
	// ConfigurationGeneration counts configuration pushes; 0 when absent.
	ConfigurationGeneration int64
	// Properties holds every `name value` line.
	Properties map[string]string
}

// Registered reports whether the gateway service holds its configuration from the management server.
func (g GatewayService) Registered() bool {
	return strings.EqualFold(strings.TrimSuffix(g.RegistrationState, "."), "registered")
}

// Waiting reports whether the gateway service waits for registration (seed 000 step 7).
func (g GatewayService) Waiting() bool {
	return strings.Contains(strings.ToLower(g.RegistrationState), strings.ToLower(waitingText))
}

// ParseGatewayService parses `show apic-gw-service`:
//
//	apic-gw-service: default [up]
//	-----------------------------
//	 admin-state enabled
//	 gateway-peering gwd
//	 registration-state Registered
//
// Output without the `apic-gw-service:` header is an error.
func ParseGatewayService(out string) (GatewayService, error) {
	g := GatewayService{Properties: map[string]string{}}
	header := false
	for _, raw := range strings.Split(cleanText(out), "\n") {
		line := strings.TrimSpace(raw)
		if line == "" || strings.Trim(line, "-= ") == "" {
			continue
		}
		if !header {
			if rest, ok := strings.CutPrefix(line, APICGatewayServiceOwner+":"); ok {
				header = true
				if i, j := strings.LastIndex(rest, "["), strings.LastIndex(rest, "]"); i >= 0 && j > i {
					g.State = rest[i+1 : j]
				}
			}
			continue
		}
		name, value, _ := strings.Cut(line, " ")
		value = strings.TrimSpace(value)
		g.Properties[name] = value
		switch name {
		case "admin-state":
			g.AdminState = value
		case "gateway-peering":
			g.Peering = value
		case "registration-state":
			g.RegistrationState = value
		case "configuration-generation":
			if n, err := strconv.ParseInt(value, 10, 64); err == nil {
				g.ConfigurationGeneration = n
			}
		}
	}
	if !header {
		return GatewayService{}, errors.New("datapower: no apic-gw-service object in output")
	}
	return g, nil
}
