package datapower

import "context"

// The read-only commands every reader of a gateway member's peering runs (drr's pre-flight,
// switch-primary check and peering health, drr --status, status --peering).
const (
	// ShowPeeringStatus lists every peering object's members with primary, link and pending updates.
	ShowPeeringStatus = "show gateway-peering-status"
	// ShowPeeringManager names the peering objects and their owners (config mode).
	ShowPeeringManager = "show gateway-peering-manager"
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

// Peerings reads the peering objects of the current domain and their owners from
// `show gateway-peering-manager` in configuration mode, as IBM's must-gather tool does (DPGather
// getPeeringsForDomain), and returns to the level it started from.
func (s *Session) Peerings(ctx context.Context) ([]Peering, error) {
	start := s.Mode().Level
	if start != LevelConfig {
		if err := s.Config(ctx); err != nil {
			return nil, err
		}
	}
	out, err := s.Run(ctx, ShowPeeringManager)
	if err != nil {
		return nil, err
	}
	if start == LevelExec {
		if err := s.Top(ctx); err != nil {
			return nil, err
		}
	}
	return ParsePeerings(out)
}

// ReadGatewayService runs `show apic-gw-service` and parses it.
func (s *Session) ReadGatewayService(ctx context.Context) (GatewayService, error) {
	out, err := s.Run(ctx, ShowAPICGatewayService)
	if err != nil {
		return GatewayService{}, err
	}
	return ParseGatewayService(out)
}
