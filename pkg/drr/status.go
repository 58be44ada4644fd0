package drr

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/kubectl-apic/kubectl-apic/pkg/datapower"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
)

// Status reads `show gateway-peering-status` (and `show gateway-peering`, for the owners) on every
// member in parallel; read-only. Each member contributes its own row of every peering object. Only
// cfg's Gateway, Namespace, Context, Domain, Members, Open and MaxConcurrency are used. A member
// that cannot be read is listed in Errors; a rejected login is an error.
func Status(ctx context.Context, cfg Config) (*StatusReport, error) {
	rep := &StatusReport{Gateway: cfg.Gateway, Namespace: cfg.Namespace, Context: cfg.Context, Domain: cfg.Domain,
		Rows: []StatusRow{}, Quorum: []PeeringQuorum{}}
	r := New(cfg)
	defer r.Close()
	type view struct {
		rows   []datapower.PeeringStatus
		owners map[string]string
		err    error
	}
	views := make([]view, len(cfg.Members))
	r.each(ctx, len(cfg.Members), cfg.MaxConcurrency, func(ctx context.Context, i int) {
		m := cfg.Members[i]
		v := &views[i]
		s, err := cfg.Open(ctx, m)
		if err != nil {
			v.err = err
			return
		}
		r.mu.Lock()
		r.sessions[m.Pod] = s
		r.mu.Unlock()
		if v.err = s.Switch(ctx, cfg.Domain); v.err != nil {
			return
		}
		v.owners = map[string]string{}
		if out, err := s.Run(ctx, "show gateway-peering"); err == nil {
			if ps, err := datapower.ParsePeerings(out); err == nil {
				for _, p := range ps {
					v.owners[p.Name] = p.Owner
				}
			}
		}
		out, err := s.Run(ctx, "show gateway-peering-status")
		if err != nil {
			v.err = err
			return
		}
		v.rows, v.err = datapower.ParsePeeringStatus(out)
	})
	var quorumRows []datapower.PeeringStatus
	for i, v := range views {
		m := cfg.Members[i]
		if v.err != nil {
			if errors.Is(v.err, datapower.ErrLoginFailed) {
				return nil, exitcode.Newf(exitcode.Error, "member %s: %v", m.Pod, v.err)
			}
			rep.Errors = append(rep.Errors, fmt.Sprintf("member %s: %v", m.Pod, v.err))
			continue
		}
		if quorumRows == nil {
			quorumRows = v.rows
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

// Healthy reports whether every member answered and every peering object has quorum.
func (s *StatusReport) Healthy() bool {
	if len(s.Errors) > 0 {
		return false
	}
	for _, q := range s.Quorum {
		if !q.HasQuorum {
			return false
		}
	}
	return true
}
