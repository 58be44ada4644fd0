package drr

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/kubectl-apic/kubectl-apic/pkg/datapower"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
)

// Status reads `show gateway-peering-status` (and, in config mode, `show gateway-peering-manager`
// for the owners) on every member in parallel; read-only. Each member contributes its own row of
// every peering object. Only cfg's Gateway, Namespace, Context, Domain, Members, Open and
// MaxConcurrency are used. A member that cannot be read is listed in Errors; a rejected login is an
// error.
func Status(ctx context.Context, cfg Config) (*StatusReport, error) {
	r := New(cfg)
	defer r.Close()
	views := make([]statusView, len(cfg.Members))
	// One member first: a rejected login stops there (failed logins count against the account).
	if !datapower.FirstThenRest(ctx, len(cfg.Members), cfg.MaxConcurrency, func(ctx context.Context, i int) bool {
		views[i] = r.statusMember(ctx, cfg.Members[i])
		return errors.Is(views[i].err, datapower.ErrLoginFailed)
	}) {
		return nil, exitcode.Newf(exitcode.Refused, "member %s: %v", cfg.Members[0].Pod, views[0].err)
	}
	return statusReport(cfg, views)
}

// statusView is what one member showed.
type statusView struct {
	rows    []datapower.PeeringStatus
	owners  map[string]string
	service *datapower.GatewayService
	err     error
}

// statusMember opens m and reads its peerings' owners, its gateway-peering status and its
// apic-gw-service (a member left disabled by a DRR).
func (r *Runner) statusMember(ctx context.Context, m Member) statusView {
	var v statusView
	s, err := r.open(ctx, m)
	if err != nil {
		v.err = err
		return v
	}
	v.owners = map[string]string{}
	if ps, err := s.Peerings(ctx); err == nil {
		for _, p := range ps {
			if o := v.owners[p.Name]; o != "" && p.Owner != "" {
				v.owners[p.Name] = o + ", " + p.Owner // rate-limit and ratelimit-module share one
			} else if o == "" {
				v.owners[p.Name] = p.Owner
			}
		}
	} else if datapower.IsStreamEnded(err) {
		v.err = err
		return v
	}
	if v.rows, v.err = s.ReadPeeringStatus(ctx); v.err != nil {
		return v
	}
	if gs, err := s.ReadGatewayService(ctx); err == nil {
		v.service = &gs
	}
	return v
}

// statusReport assembles the members' views: each member's own rows, the quorum of every peering
// object as the first readable member sees it, and what could not be read.
func statusReport(cfg Config, views []statusView) (*StatusReport, error) {
	rep := &StatusReport{Gateway: cfg.Gateway, Namespace: cfg.Namespace, Context: cfg.Context, Domain: cfg.Domain,
		Rows: []StatusRow{}, Quorum: []PeeringQuorum{}, Services: []ServiceState{}}
	var quorumRows []datapower.PeeringStatus
	for i, v := range views {
		m := cfg.Members[i]
		if v.err != nil {
			if errors.Is(v.err, datapower.ErrLoginFailed) {
				return nil, exitcode.Newf(exitcode.Refused, "member %s: %v", m.Pod, v.err)
			}
			rep.Errors = append(rep.Errors, fmt.Sprintf("member %s: %v", m.Pod, v.err))
			continue
		}
		if quorumRows == nil {
			quorumRows = v.rows
		}
		if v.service != nil {
			rep.Services = append(rep.Services, ServiceState{Member: m.Pod, AdminState: v.service.AdminState,
				State: v.service.State})
		}
		own := 0
		for _, row := range v.rows {
			if row.Address != m.IP {
				continue
			}
			own++
			rep.Rows = append(rep.Rows, StatusRow{Member: m.Pod, Address: row.Address, Peering: row.ConfigurationName,
				Owner: v.owners[row.ConfigurationName], PendingUpdates: row.PendingUpdates,
				ReplicationOffset: row.ReplicationOffset, LinkStatus: row.LinkStatus, Primary: row.Primary})
		}
		if own == 0 {
			rep.Errors = append(rep.Errors, fmt.Sprintf("member %s: its address %s is in no gateway-peering-status row", m.Pod, m.IP))
		}
	}
	names := map[string]bool{}
	for _, row := range quorumRows {
		names[row.ConfigurationName] = true
	}
	for name := range names {
		q := datapower.Quorum(quorumRows, name)
		rep.Quorum = append(rep.Quorum, PeeringQuorum{Peering: name, QuorumState: QuorumState{Members: q.Members,
			Active: q.Active, Needed: q.Needed, Primary: q.Primary, HasQuorum: q.HasQuorum, Reason: q.Reason}})
	}
	sort.Slice(rep.Quorum, func(i, j int) bool { return rep.Quorum[i].Peering < rep.Quorum[j].Peering })
	sort.SliceStable(rep.Rows, func(i, j int) bool {
		if rep.Rows[i].Peering != rep.Rows[j].Peering {
			return rep.Rows[i].Peering < rep.Rows[j].Peering
		}
		return rep.Rows[i].Member < rep.Rows[j].Member
	})
	return rep, nil
}

// Judge fills LeftBehind and Fix from the journal (set DRR first) and the members' apic-gw-service.
func (s *StatusReport) Judge() {
	admin := map[string]string{}
	var members []string
	for _, sv := range s.Services {
		admin[sv.Member] = sv.AdminState
		members = append(members, sv.Member)
	}
	s.LeftBehind = Left(s.DRR, admin, members)
	if len(s.LeftBehind) > 0 {
		s.Fix = FinishCommand(s.Gateway, s.Namespace, s.Context)
	}
}

// Healthy reports whether every member answered, every peering object has quorum and no DRR was
// left unfinished.
func (s *StatusReport) Healthy() bool {
	if len(s.Errors) > 0 || len(s.LeftBehind) > 0 {
		return false
	}
	for _, q := range s.Quorum {
		if !q.HasQuorum {
			return false
		}
	}
	return true
}
