package datapower

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// APICGatewayServiceOwner is the owner `show gateway-peering-manager` names for the apic-gw-service
// peering (`apic-gw-service gwd [up]`).
const APICGatewayServiceOwner = "apic-gw-service"

// APICGatewayServiceLog is the default file of the apic-gw-service debug log: IBM's DRR page says
// the debug log target is in logtemp:///, and IBM's Kubernetes gateway chart names that target
// gwd-log with local-file logtemp:///gwd-log.log (drr --gw-service-log overrides it).
const APICGatewayServiceLog = "logtemp:///gwd-log.log"

// ShowFile is the command printing a file such as the apic-gw-service debug log.
func ShowFile(file string) string { return "show file " + file }

// ErrNoPeeringStatus: the output holds no gateway-peering-status table.
var ErrNoPeeringStatus = errors.New("datapower: no gateway-peering-status table in output")

// PeeringStatus is one line of `show gateway-peering-status`: one member of one peering object.
type PeeringStatus struct {
	Address           string
	ConfigurationName string
	PendingUpdates    int64
	ReplicationOffset int64
	LinkStatus        string
	Primary           bool
}

// LinkOK reports whether the member's link status is ok.
func (p PeeringStatus) LinkOK() bool { return strings.EqualFold(p.LinkStatus, "ok") }

var (
	statusHeaderRE = regexp.MustCompile(`(?i)^address\s+configuration\s+name\s+pending\s+updates\s+replication\s+offset\s+link\s+status\s+primary$`)
	// A DataPower log line; in an application domain the domain's tag comes before the message id
	// (`[apiconnect][0x80e0027d][system][error] : tid(17680): ...`, fixture async-log-lines.log).
	logLineRE = regexp.MustCompile(`^(\d{8}T\d{6}(?:\.\d+)?Z) (?:\[([^\]\s]+)\])?\[(0x[0-9a-fA-F]+)\]\[([^\]]*)\]\[([^\]]*)\] (.*)$`)
	// "tid(17680): " or, with the client that caused it, "tid(17696)[192.168.99.1]: ".
	tidRE = regexp.MustCompile(`^tid\((\d+)\)(?:\[([^\]]*)\])?: ?`)
)

// ParsePeeringStatus parses `show gateway-peering-status` (apic-reference.md):
//
//	Address       Configuration name Pending updates Replication offset Link status Primary
//	172.16.53.39  gwd                0               5172229359         ok          yes
//
// Blank lines, the echoed command, prompts, separator and log lines are skipped. A line of six
// fields whose numbers or yes/no do not parse is an error; output with neither header nor rows is
// ErrNoPeeringStatus. Output with a header and no rows is an empty table.
func ParsePeeringStatus(out string) ([]PeeringStatus, error) {
	var rows []PeeringStatus
	header := false
	for i, raw := range strings.Split(cleanText(out), "\n") {
		line := strings.TrimSpace(raw)
		if line == "" || strings.Trim(line, "-= ") == "" || logLineRE.MatchString(line) {
			continue
		}
		if statusHeaderRE.MatchString(strings.Join(strings.Fields(line), " ")) {
			header = true
			continue
		}
		f := strings.Fields(line)
		if len(f) != 6 {
			continue
		}
		row, err := parseStatusRow(f)
		if err != nil {
			if !header {
				continue // not the table yet (e.g. other command output)
			}
			return nil, fmt.Errorf("datapower: gateway-peering-status line %d %q: %w", i+1, line, err)
		}
		rows = append(rows, row)
	}
	if !header && len(rows) == 0 {
		return nil, ErrNoPeeringStatus
	}
	if rows == nil {
		rows = []PeeringStatus{}
	}
	return rows, nil
}

func parseStatusRow(f []string) (PeeringStatus, error) {
	pending, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil || pending < 0 {
		return PeeringStatus{}, fmt.Errorf("pending updates %q is not a count", f[2])
	}
	offset, err := strconv.ParseInt(f[3], 10, 64)
	if err != nil || offset < 0 {
		return PeeringStatus{}, fmt.Errorf("replication offset %q is not a number", f[3])
	}
	var primary bool
	switch strings.ToLower(f[5]) {
	case "yes":
		primary = true
	case "no":
	default:
		return PeeringStatus{}, fmt.Errorf("primary %q is not yes or no", f[5])
	}
	return PeeringStatus{Address: f[0], ConfigurationName: f[1], PendingUpdates: pending,
		ReplicationOffset: offset, LinkStatus: f[4], Primary: primary}, nil
}

// Peering is one peering object as DataPower shows it: from `show gateway-peering-manager`, one
// `<owner> <peering> [<state>]` line (`apic-gw-service gwd [up]`, a deprecated owner as
// `apiprobe (deprecated) api-probe [up]`); from `show gateway-peering`, one
// `gateway-peering: <name> [<state>]` block, which names no owner (Owner is then "").
type Peering struct {
	Owner      string
	Name       string
	State      string
	Deprecated bool
}

// Up reports whether the peering's state is up.
func (p Peering) Up() bool { return strings.EqualFold(p.State, "up") }

// Commands that show peering objects, in configuration mode as IBM's tools run them (DPGather
// getPeeringsForDomain: `sw <domain>; config; show gateway-peering-manager`; switchPrimary.sh:
// `sw <domain>`, `co`, `show gateway-peering`).
const (
	ShowGatewayPeeringManager = "show gateway-peering-manager"
	ShowGatewayPeering        = "show gateway-peering"
)

// blockHeaderRE is the header of a `show <object>` block: `<type>: <name> [<state>]` (named
// objects) or `<type> [<state>]` (singletons, `web-mgmt [up]`), optionally `(modified)` after.
var blockHeaderRE = regexp.MustCompile(`^([A-Za-z0-9_-]+)(?:: (\S+))? \[([a-z-]+)\](?: \(\w+\))?$`)

// ParsePeerings parses either real shape (also both in one output):
//
//	gateway-peering-manager: default [up]      gateway-peering: gwd [up]
//	--------------------------------           --------------------
//	 admin-state enabled                        admin-state enabled
//	 apic-gw-service gwd [up]                   local-port 15380
//	 apiprobe (deprecated) api-probe [up]       ...
//
// Owners come from the manager's `<owner> <peering> [<state>]` lines (the IBM Support Q&A
// "Gateway Peering best practices", DPGather); `gateway-peering:` blocks add peering objects no
// owner names (tms, which api-security-token-manager references). Property lines inside a
// gateway-peering block (` ssl-key peering_key  [up]`) are not owners. Lines before any header are
// read as owner lines. Log lines and prompts are skipped.
func ParsePeerings(out string) ([]Peering, error) {
	var ps []Peering
	block := ""
	for _, raw := range strings.Split(cleanText(out), "\n") {
		line := strings.TrimSpace(raw)
		if line == "" || strings.Trim(line, "-") == "" || logLineRE.MatchString(line) {
			continue
		}
		if h := blockHeaderRE.FindStringSubmatch(line); h != nil {
			block = h[1]
			if block == "gateway-peering" && h[2] != "" {
				ps = append(ps, Peering{Name: h[2], State: h[3]})
			}
			continue
		}
		if block != "" && block != "gateway-peering-manager" {
			continue
		}
		f := strings.Fields(line)
		p := Peering{}
		switch {
		case len(f) == 3:
			p.Owner, p.Name = f[0], f[1]
		case len(f) == 4 && f[1] == "(deprecated)":
			p.Owner, p.Name, p.Deprecated = f[0], f[2], true
		default:
			continue
		}
		st := f[len(f)-1]
		if len(st) < 3 || st[0] != '[' || st[len(st)-1] != ']' || strings.HasSuffix(p.Owner, ":") {
			continue
		}
		p.State = st[1 : len(st)-1]
		ps = append(ps, p)
	}
	if len(ps) == 0 {
		return nil, errors.New("datapower: no gateway-peering-manager owners or gateway-peering objects in output")
	}
	return mergePeerings(ps), nil
}

// mergePeerings drops an ownerless entry whose peering an owner line already names, keeping the
// order of first appearance.
func mergePeerings(ps []Peering) []Peering {
	owned := map[string]bool{}
	for _, p := range ps {
		if p.Owner != "" {
			owned[p.Name] = true
		}
	}
	out := ps[:0:0]
	seen := map[string]bool{}
	for _, p := range ps {
		key := p.Owner + " " + p.Name
		if (p.Owner == "" && owned[p.Name]) || seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, p)
	}
	return out
}

// PeeringNames returns the distinct peering object names of ps, sorted.
func PeeringNames(ps []Peering) []string {
	var names []string
	for _, p := range ps {
		if !slices.Contains(names, p.Name) {
			names = append(names, p.Name)
		}
	}
	slices.Sort(names)
	return names
}

// GatewayServicePeering returns the name of the apic-gw-service peering object.
func GatewayServicePeering(ps []Peering) (string, bool) {
	for _, p := range ps {
		if p.Owner == APICGatewayServiceOwner {
			return p.Name, true
		}
	}
	return "", false
}

// LogLine is one DataPower log line:
// 20200618T232339.332Z [0x88e000d7][apic-gw-service][notice] apic-gw-service(default): tid(2653): Waiting for gateway service registration.
type LogLine struct {
	Time time.Time
	// Domain is the application domain's tag, "" when the line has none (the default domain).
	Domain   string
	ID       string
	Category string
	Level    string
	Object   string
	TID      int64
	// Client is what follows tid in brackets (a client address, "scheduled"), "" when absent.
	Client  string
	Message string
}

// ParseLogLine parses one DataPower log line.
func ParseLogLine(line string) (LogLine, bool) {
	m := logLineRE.FindStringSubmatch(strings.TrimSpace(cleanText(line)))
	if m == nil {
		return LogLine{}, false
	}
	t, err := time.Parse("20060102T150405.999999999Z", m[1])
	if err != nil {
		return LogLine{}, false
	}
	l := LogLine{Time: t, Domain: m[2], ID: m[3], Category: m[4], Level: m[5]}
	rest := m[6]
	// "<object>: tid(<n>): <message>" — object and tid are optional (e.g. ": User ... logged in").
	if i := strings.Index(rest, ": "); i >= 0 && !strings.Contains(rest[:i], " ") {
		l.Object, rest = rest[:i], rest[i+2:]
	} else {
		rest = strings.TrimPrefix(rest, ": ")
	}
	if tm := tidRE.FindStringSubmatch(rest); tm != nil {
		if n, err := strconv.ParseInt(tm[1], 10, 64); err == nil {
			l.TID, l.Client, rest = n, tm[2], rest[len(tm[0]):]
		}
	}
	l.Message = rest
	return l, true
}

// waitingText is IBM's message once the apic-gw-service is flushed and restarted (seed 000 step 7).
const waitingText = "Waiting for gateway service registration"

// IsWaitingForRegistration reports whether l is the apic-gw-service's "Waiting for gateway service
// registration." message.
func (l LogLine) IsWaitingForRegistration() bool {
	return strings.EqualFold(l.Category, APICGatewayServiceOwner) && strings.Contains(l.Message, waitingText)
}

// FindWaitingForRegistration returns the last "Waiting for gateway service registration." line of
// out stamped at or after since (zero since: any).
func FindWaitingForRegistration(out string, since time.Time) (LogLine, bool) {
	var found LogLine
	ok := false
	for _, raw := range strings.Split(cleanText(out), "\n") {
		l, parsed := ParseLogLine(raw)
		if parsed && l.IsWaitingForRegistration() && !l.Time.Before(since) {
			found, ok = l, true
		}
	}
	return found, ok
}

// QuorumInfo is the documented quorum of one peering object: its primary is up and at least
// n/2+1 of its n members are active (apic-reference.md).
type QuorumInfo struct {
	Peering   string
	Members   int
	Active    int
	Needed    int
	Primary   string // address of the primary; "" if none is shown
	PrimaryUp bool
	// Primaries counts members claiming primary; more than one is a split brain.
	Primaries int
	HasQuorum bool
	Reason    string // why there is no quorum
}

// Quorum computes peering's quorum from gateway-peering-status rows.
func Quorum(statuses []PeeringStatus, peering string) QuorumInfo {
	q := QuorumInfo{Peering: peering}
	seen := map[string]bool{}
	for _, s := range statuses {
		if s.ConfigurationName != peering || seen[s.Address] {
			continue
		}
		seen[s.Address] = true
		q.Members++
		if s.LinkOK() {
			q.Active++
		}
		if s.Primary {
			q.Primaries++
			q.Primary, q.PrimaryUp = s.Address, s.LinkOK()
		}
	}
	q.Needed = q.Members/2 + 1
	switch {
	case q.Members == 0:
		q.Reason = fmt.Sprintf("no members of gateway peering %s", peering)
	case q.Primaries == 0:
		q.Reason = "no primary"
	case q.Primaries > 1:
		q.Reason = fmt.Sprintf("%d members claim primary", q.Primaries)
		q.PrimaryUp = false
	case !q.PrimaryUp:
		q.Reason = fmt.Sprintf("primary %s is down", q.Primary)
	case q.Active < q.Needed:
		q.Reason = fmt.Sprintf("%d of %d members active, %d needed", q.Active, q.Members, q.Needed)
	default:
		q.HasQuorum = true
	}
	return q
}
