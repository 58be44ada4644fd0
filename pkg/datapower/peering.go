package datapower

import "context"

// The read-only commands every reader of a gateway member's peering runs (drr's pre-flight,
// switch-primary check and peering health, drr --status, status --peering).
const (
	// ShowPeeringStatus lists every peering object's members with primary, link and pending updates.
	ShowPeeringStatus = "show gateway-peering-status"
)

// ReadPeeringStatus runs `show gateway-peering-status` in the session's domain and parses it: the
// one reader of a member's gateway-peering status.
func (s *Session) ReadPeeringStatus(ctx context.Context) ([]PeeringStatus, error) {
	out, err := s.Run(ctx, ShowPeeringStatus)
	if err != nil {
		return nil, err
	}
	return ParsePeeringStatus(out)
}

// ReadGatewayService runs `show apic-gw-service` and parses it.
func (s *Session) ReadGatewayService(ctx context.Context) (GatewayService, error) {
	out, err := s.Run(ctx, ShowAPICGatewayService)
	if err != nil {
		return GatewayService{}, err
	}
	return ParseGatewayService(out)
}
