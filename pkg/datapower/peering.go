package datapower

import (
	"context"
	"errors"
)

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

// Peerings reads the peering objects of the current domain and their owners in configuration
// mode, as IBM's tools do: `show gateway-peering-manager` for the owners, then
// `show gateway-peering` for every object (also those no owner names). Started at the top level, it
// returns there; started in any other mode it is left in configuration mode. A device without a
// gateway-peering manager (v5-compatible mode) still yields the objects, without owners; an error
// is returned only when neither command shows any, or at once when the session ended (IsStreamEnded).
func (s *Session) Peerings(ctx context.Context) ([]Peering, error) {
	start := s.Mode().Level
	if start != LevelConfig {
		if err := s.Config(ctx); err != nil {
			return nil, err
		}
	}
	var all string
	var errs []error
	for _, cmd := range []string{ShowGatewayPeeringManager, ShowGatewayPeering} {
		out, err := s.Run(ctx, cmd)
		if err != nil {
			if IsStreamEnded(err) {
				return nil, err
			}
			errs = append(errs, err)
			continue
		}
		all += out + "\n"
	}
	if start == LevelExec {
		if err := s.Top(ctx); err != nil {
			return nil, err
		}
	}
	ps, err := ParsePeerings(all)
	if err != nil {
		return nil, errors.Join(append(errs, err)...)
	}
	return ps, nil
}
