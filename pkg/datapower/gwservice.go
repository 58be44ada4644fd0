package datapower

import (
	"errors"
	"strings"
)

// ShowAPICGatewayService is the command printing the apic-gw-service object.
const ShowAPICGatewayService = "show apic-gw-service"

// GatewayService is `show apic-gw-service`: the object's header and its properties.
//
// No property of the object reports registration with the management server (IBM Support Q&A node
// 7118911, terraform-provider-datapower's object model): whether a DRR re-registered is checked on
// the management side (pkg/drr RegistrationCheck), never read here.
type GatewayService struct {
	// State is the operational state in the header, e.g. "up" in `apic-gw-service: default [up]`.
	State      string
	AdminState string
	Peering    string
	// Properties holds every `name value` line.
	Properties map[string]string
}

// ParseGatewayService parses `show apic-gw-service`:
//
//	apic-gw-service: default [up]
//	-----------------------------
//	 admin-state enabled
//	 local-address 0.0.0.0
//	 local-port 3007
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
		}
	}
	if !header {
		return GatewayService{}, errors.New("datapower: no apic-gw-service object in output")
	}
	return g, nil
}
