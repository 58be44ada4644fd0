package drr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kubectl-apic/kubectl-apic/pkg/datapower"
)

// switchPrimary makes m primary (seed 000 step 4). No public sample shows what
// gateway-peering-switch-primary prints, so its output decides nothing: the step passes when
// show gateway-peering-status, read back within --log-timeout, shows m as the only primary.
func (r *Runner) switchPrimary(ctx context.Context, s *datapower.Session, m Member) (string, error) {
	if err := s.Config(ctx); err != nil {
		return "", err
	}
	if _, err := s.Run(ctx, "gateway-peering-switch-primary "+r.peering); err != nil {
		return "", err
	}
	if err := s.Top(ctx); err != nil {
		return "", err
	}
	var q datapower.QuorumInfo
	err := wait.PollUntilContextTimeout(ctx, r.cfg.PollInterval/4+10*time.Millisecond, r.cfg.LogTimeout, true, func(ctx context.Context) (bool, error) {
		rows, err := s.ReadPeeringStatus(ctx)
		if err != nil {
			return false, err
		}
		q = datapower.Quorum(rows, r.peering)
		return q.Primary == m.IP && q.Primaries == 1, nil
	})
	if err != nil {
		if wait.Interrupted(err) && ctx.Err() == nil {
			return "", fmt.Errorf("after gateway-peering-switch-primary %s the primary is %q, not %s (read back from %s within %s)",
				r.peering, q.Primary, m.IP, datapower.ShowPeeringStatus, r.cfg.LogTimeout)
		}
		return "", err
	}
	return fmt.Sprintf("primary of %s is now %s (read back from %s)", r.peering, m.IP, datapower.ShowPeeringStatus), nil
}

// flush flushes the peering (seed 000 step 5: "When prompted, confirm the operation"). No public
// sample shows the question or what follows, so the step passes when the command asked a question
// and it was answered y; a flush that asks nothing is a failure (nothing shows that it flushed).
func (r *Runner) flush(ctx context.Context, s *datapower.Session, _ Member) (string, error) {
	if err := s.Diag(ctx); err != nil {
		return "", err
	}
	_, q, err := s.RunAnswer(ctx, "gateway-peering-flush "+r.peering, true)
	if err != nil {
		return "", err
	}
	if err := s.Top(ctx); err != nil {
		return "", err
	}
	if q == "" {
		return "", fmt.Errorf("gateway-peering-flush %s asked no confirmation (IBM: \"When prompted, confirm the operation\"): nothing shows that it flushed", r.peering)
	}
	return fmt.Sprintf("asked %q, answered y", q), nil
}

// cycle disables and enables apic-gw-service (seed 000 step 6). It returns the debug log as it
// was before, so the waiting line that follows can be told from older ones.
func (r *Runner) cycle(ctx context.Context, s *datapower.Session) ([]string, error) {
	before, err := s.Run(ctx, datapower.ShowFile(r.cfg.LogFile))
	var cmdErr *datapower.CommandError
	if err != nil && !errors.As(err, &cmdErr) {
		return nil, err // a missing log file is fine: nothing logged yet
	}
	if err != nil {
		before = ""
	}
	if err := s.Config(ctx); err != nil {
		return nil, err
	}
	for _, state := range []string{"disabled", "enabled"} {
		if _, err := s.Run(ctx, datapower.APICGatewayServiceOwner); err != nil {
			return nil, err
		}
		if m := s.Mode(); m.Level != datapower.LevelSubConfig || m.Object != datapower.APICGatewayServiceOwner {
			return nil, fmt.Errorf("%s: prompt shows %s mode %q, want the apic-gw-service sub-mode", datapower.APICGatewayServiceOwner, m.Level, m.Object)
		}
		if _, err := s.Run(ctx, "admin-state "+state); err != nil {
			return nil, err
		}
		// DataPower applies the object's change on leaving its sub-mode.
		if err := s.Exit(ctx); err != nil {
			return nil, err
		}
	}
	if err := s.Top(ctx); err != nil {
		return nil, err
	}
	return logLines(before), nil
}

// waitingLog polls the apic-gw-service debug log for a "Waiting for gateway service registration."
// line written after baseline (seed 000 step 7).
func (r *Runner) waitingLog(ctx context.Context, s *datapower.Session, baseline []string) (string, error) {
	var found datapower.LogLine
	err := wait.PollUntilContextTimeout(ctx, r.cfg.PollInterval/4+10*time.Millisecond, r.cfg.LogTimeout, true, func(ctx context.Context) (bool, error) {
		out, err := s.Run(ctx, datapower.ShowFile(r.cfg.LogFile))
		if err != nil {
			return false, err
		}
		l, ok := datapower.FindWaitingForRegistration(strings.Join(newLines(baseline, logLines(out)), "\n"), time.Time{})
		found = l
		return ok, nil
	})
	if err != nil {
		if wait.Interrupted(err) && ctx.Err() == nil {
			return "", fmt.Errorf("no \"Waiting for gateway service registration.\" line in %s within %s",
				r.cfg.LogFile, r.cfg.LogTimeout)
		}
		return "", err
	}
	return fmt.Sprintf("%s [%s] %s", found.Time.Format("15:04:05.000Z"), found.ID, found.Message), nil
}

func logLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(strings.ReplaceAll(out, "\r", ""), "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	return lines
}

// newLines is lines less the ones already in baseline, counted as a multiset: a log that was
// rotated, cleared or interleaved with console messages (which a console may print inside any
// output) still yields only what was written since, so an older "Waiting for gateway service
// registration." line never counts for this cycle. Log lines carry a millisecond timestamp, so a
// repeated message is a new line.
func newLines(baseline, lines []string) []string {
	seen := make(map[string]int, len(baseline))
	for _, l := range baseline {
		seen[l]++
	}
	var out []string
	for _, l := range lines {
		if seen[l] > 0 {
			seen[l]--
			continue
		}
		out = append(out, l)
	}
	return out
}

func (r *Runner) health(ctx context.Context, s *datapower.Session, m Member) (string, error) {
	rows, err := s.ReadPeeringStatus(ctx)
	if err != nil {
		return "", err
	}
	q := datapower.Quorum(rows, r.peering)
	if !q.HasQuorum {
		return "", fmt.Errorf("gateway peering %s has no quorum: %s", r.peering, q.Reason)
	}
	for _, row := range rows {
		if row.ConfigurationName == r.peering && row.Address == m.IP {
			if !row.LinkOK() {
				return "", fmt.Errorf("link status %s in gateway peering %s", row.LinkStatus, r.peering)
			}
			return fmt.Sprintf("link ok, %d/%d members active", q.Active, q.Members), nil
		}
	}
	return "", fmt.Errorf("member %s is not in gateway peering %s", m.IP, r.peering)
}
