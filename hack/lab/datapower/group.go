package datapower

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Defaults of GroupOptions.
const (
	DefaultDomain                = "apiconnect"
	DefaultGatewayServicePeering = "gwd"
	DefaultMaxLoginFailures      = 3
	// DefaultFirmware is the banner's version of a member whose version was not set.
	DefaultFirmware = "IDG.10.6.0.0"
	// APICGatewayServiceLog is the simulator's apic-gw-service debug log: the file of the gwd-log
	// target in IBM's Kubernetes gateway chart (_apiconnectGateway.tpl).
	APICGatewayServiceLog = "logtemp:///gwd-log.log"
)

// Log message ids. 0x88e000d7 is the id IBM shows for "Waiting for gateway service registration.";
// 0x00350014/0x00350015 are DataPower's operational-state ids; the others are the simulator's choice.
const (
	msgWaitingForRegistration = "0x88e000d7"
	msgRegistered             = "0x88e000d8"
	msgConfigSynchronized     = "0x88e000d9"
	msgOperationalUp          = "0x00350014"
	msgOperationalDown        = "0x00350015"
	msgPeeringFlushed         = "0x8a4000a1"
	msgPeeringPrimary         = "0x8a4000a2"
)

// ErrProcessExited is returned by Serve when the console received Ctrl-D (byte 0x04): on a real
// gateway pod that ends the DataPower process and so the pod. The lab should kill the pod.
var ErrProcessExited = errors.New("simulator: DataPower process exited (Ctrl-D on the console)")

// ErrLoginAttemptsExhausted is returned by Serve when the console session ended after
// GroupOptions.MaxLoginFailures wrong logins.
var ErrLoginAttemptsExhausted = errors.New("simulator: too many failed logins, console session ended")

// GroupOptions configures a simulated gateway peer group.
type GroupOptions struct {
	// Domain is the API Connect application domain (seed 000's <APIC_APP_DOMAIN>); default "apiconnect".
	Domain string
	// GatewayServicePeering is the name of the apic-gw-service peering object; default "gwd".
	GatewayServicePeering string
	// DomainPrompt makes login ask `Domain (? for all): ` after the password (reference: "optionally
	// a domain prompt").
	DomainPrompt bool
	// MaxLoginFailures ends the console session after this many wrong logins; default 3.
	MaxLoginFailures int
	// ConfigSummary describes the configuration the management server pushes at registration.
	ConfigSummary string
	// Clock stamps log lines; default time.Now.
	Clock func() time.Time
	// ConsoleLogs makes the consoles print asynchronous log lines (real lines from fixture
	// console/async-log-lines.log) at random points, as real consoles do; nil: none.
	ConsoleLogs *ConsoleLogs
}

// Credentials are the admin user and password a console accepts.
type Credentials struct {
	Username string
	Password string
}

// peeringObject is one gateway-peering object shared by the group (one primary, Redis-like offset).
type peeringObject struct {
	name    string
	port    int    // local-port; monitor-port is port + 10000 (IBM gateway chart)
	primary string // pod name; "" when none could be elected
	offset  int64
}

// managerOwner is one `<owner> <peering> [up]` line of `show gateway-peering-manager`.
type managerOwner struct {
	owner, peering string
	deprecated     bool
}

type fault struct {
	prefix  string
	message string
	once    bool
}

type member struct {
	pod string
	ip  string
	up  bool
	// version is the firmware the banner shows ("" for DefaultFirmware).
	version string
	// gwServiceEnabled is apic-gw-service admin-state on this member.
	gwServiceEnabled bool
	// waiting: apic-gw-service restarted after the flush and is waiting for registration.
	waiting bool
	pending map[string]int
	offset  map[string]int64
	log     []string
	faults  []fault
	console *console
}

// Group is the gateway-peering state of one GatewayCluster, shared by all its pods.
type Group struct {
	name string
	opts GroupOptions

	mu         sync.Mutex
	members    map[string]*member
	peerings   []*peeringObject
	owners     []managerOwner
	registered bool
	generation int
	summary    string
	tid        int
	// password, when set, is the admin password the device accepts instead of the one Serve is
	// given (the Secret's): a device whose password was changed without its Secret.
	password string
	noise    *noise
}

// NewGroup returns a registered peer group with no members.
func NewGroup(name string, opts GroupOptions) *Group {
	if opts.Domain == "" {
		opts.Domain = DefaultDomain
	}
	if opts.GatewayServicePeering == "" {
		opts.GatewayServicePeering = DefaultGatewayServicePeering
	}
	if opts.MaxLoginFailures <= 0 {
		opts.MaxLoginFailures = DefaultMaxLoginFailures
	}
	if opts.ConfigSummary == "" {
		opts.ConfigSummary = "simulator catalog sandbox: 3 APIs, 1 product"
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	g := &Group{name: name, opts: opts, members: map[string]*member{}, registered: true, generation: 1,
		summary: opts.ConfigSummary, tid: 2600}
	// API Connect's peering objects and ports (IBM gateway chart, gateway-peering.js: gwd
	// 15380/25380, tms 15381, api-probe 15382; rate-limit 15383 and subs 15384 from
	// apic-reference.md), and the gateway-peering manager's owners (fixture
	// show-gateway-peering-manager: IBM Support Q&A node 7118911, DPGather, terraform-provider-
	// datapower). tms has no manager owner (api-security-token-manager references it).
	for i, o := range []struct {
		name string
		port int
	}{{opts.GatewayServicePeering, 15380}, {"tms", 15381}, {"subs", 15384}, {"rate-limit", 15383}, {"api-probe", 15382}} {
		g.peerings = append(g.peerings, &peeringObject{name: o.name, port: o.port, offset: 5172229359 + int64(i)*7919})
	}
	g.owners = []managerOwner{{"apic-gw-service", opts.GatewayServicePeering, false}, {"rate-limit", "rate-limit", false},
		{"subscription", "subs", false}, {"apiprobe", "api-probe", true}, {"ratelimit-module", "rate-limit", false}}
	g.noise = newNoise(opts.ConsoleLogs, opts.Domain)
	return g
}

// Name is the GatewayCluster name.
func (g *Group) Name() string { return g.name }

// Domain is the API Connect application domain of the group.
func (g *Group) Domain() string { return g.opts.Domain }

// GatewayServicePeering is the apic-gw-service peering object's name.
func (g *Group) GatewayServicePeering() string { return g.opts.GatewayServicePeering }

// AddMember adds pod (or re-adds a restarted pod) with address ip. A restarted DataPower has a
// fresh console and, while the group is flushed, an apic-gw-service waiting for registration.
func (g *Group) AddMember(pod, ip string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	m := &member{pod: pod, ip: ip, up: true, gwServiceEnabled: true, pending: map[string]int{},
		offset: map[string]int64{}, console: newConsole()}
	if old, ok := g.members[pod]; ok {
		m.log, m.faults, m.version = old.log, old.faults, old.version
	}
	for _, p := range g.peerings {
		m.offset[p.name] = p.offset
	}
	g.members[pod] = m
	g.elect()
	if !g.registered {
		m.waiting = true
		g.logf(m, msgWaitingForRegistration, "apic-gw-service", "notice", "apic-gw-service(default)", "Waiting for gateway service registration.")
	}
}

// RemoveMember drops pod from the group (pods that go away drop out of peering).
func (g *Group) RemoveMember(pod string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.members, pod)
	for _, p := range g.peerings {
		if p.primary == pod {
			p.primary = ""
		}
	}
	g.elect()
}

// SetMemberUp marks pod reachable (up) or not for peering. A member coming back catches up on the
// updates it missed.
func (g *Group) SetMemberUp(pod string, up bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	m, ok := g.members[pod]
	if !ok {
		return
	}
	m.up = up
	if up {
		for _, p := range g.peerings {
			m.pending[p.name] = 0
			m.offset[p.name] = p.offset
		}
	}
	g.elect()
}

// SetMemberVersion sets the firmware pod's console banner shows (`Version: <version> build 0
// (simulator)`, e.g. IDG.10.0.8.0); "" restores DefaultFirmware. A restarted member keeps it until set again.
func (g *Group) SetMemberVersion(pod, version string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if m, ok := g.members[pod]; ok {
		m.version = version
	}
}

// MemberVersion is the firmware pod's banner shows.
func (g *Group) MemberVersion(pod string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if m, ok := g.members[pod]; ok && m.version != "" {
		return m.version
	}
	return DefaultFirmware
}

// Members returns the member pod names, sorted.
func (g *Group) Members() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.podsLocked()
}

// Primary returns the pod that is primary for peering ("" if none).
func (g *Group) Primary(peering string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if p := g.peering(peering); p != nil {
		return p.primary
	}
	return ""
}

// HasQuorum reports the documented quorum for peering: its primary is up and at least n/2+1 of the
// n members are active.
func (g *Group) HasQuorum(peering string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	p := g.peering(peering)
	return p != nil && g.quorumErr(p) == ""
}

// Registered reports whether the gateway service holds its configuration from the management server.
func (g *Group) Registered() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.registered
}

// ConfigGeneration counts configuration pushes from the management server (registrations and BAU
// webhooks); 0 while flushed.
func (g *Group) ConfigGeneration() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.registered {
		return 0
	}
	return g.generation
}

// Log returns pod's apic-gw-service debug log lines.
func (g *Group) Log(pod string) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if m, ok := g.members[pod]; ok {
		return append([]string(nil), m.log...)
	}
	return nil
}

// Heartbeat simulates the management server's heartbeat (every five minutes, seed 000): if the group
// lost its configuration and apic-gw-service waits for registration on every active member, it
// triggers the DRR. It reports whether a re-registration happened.
func (g *Group) Heartbeat() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.registered || !g.drrReady() {
		return false
	}
	g.register("heartbeat")
	return true
}

// Webhook simulates a BAU webhook event (seed 000 step 9: a catalog settings edit). On a registered
// group it pushes a new configuration generation; on a flushed group ready for registration it
// triggers the DRR, which it reports.
func (g *Group) Webhook() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.registered {
		g.generation++
		g.replicate(g.peering(g.opts.GatewayServicePeering))
		return false
	}
	if !g.drrReady() {
		return false
	}
	g.register("webhook")
	return true
}

// SetDevicePassword makes every member's console accept password instead of the credentials
// Serve is given (the Secret's), as when someone changes the DataPower admin password without
// updating the Secret; "" makes the consoles follow the Secret again.
func (g *Group) SetDevicePassword(password string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.password = password
}

// FailCommand makes every command on pod that starts with commandPrefix print message (a DataPower
// error; "% " is prepended unless present) instead of running, until ClearFaults.
func (g *Group) FailCommand(pod, commandPrefix, message string) {
	g.addFault(pod, fault{prefix: commandPrefix, message: message})
}

// FailCommandOnce is FailCommand for the next matching command only.
func (g *Group) FailCommandOnce(pod, commandPrefix, message string) {
	g.addFault(pod, fault{prefix: commandPrefix, message: message, once: true})
}

// ClearFaults removes every injected fault.
func (g *Group) ClearFaults() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, m := range g.members {
		m.faults = nil
	}
}

func (g *Group) addFault(pod string, f fault) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if m, ok := g.members[pod]; ok {
		if !strings.HasPrefix(f.message, "%") {
			f.message = "% " + f.message
		}
		m.faults = append(m.faults, f)
	}
}

// takeFault returns the message of the first fault matching cmd on m, consuming one-shot faults.
func (m *member) takeFault(cmd string) (string, bool) {
	for i, f := range m.faults {
		if strings.HasPrefix(cmd, f.prefix) {
			if f.once {
				m.faults = append(m.faults[:i:i], m.faults[i+1:]...)
			}
			return f.message, true
		}
	}
	return "", false
}

func (g *Group) podsLocked() []string {
	pods := make([]string, 0, len(g.members))
	for pod := range g.members {
		pods = append(pods, pod)
	}
	sort.Strings(pods)
	return pods
}

func (g *Group) peering(name string) *peeringObject {
	for _, p := range g.peerings {
		if p.name == name {
			return p
		}
	}
	return nil
}

func (g *Group) active() int {
	n := 0
	for _, m := range g.members {
		if m.up {
			n++
		}
	}
	return n
}

// quorumErr explains why p has no quorum, "" when it has: the primary must be up and at least
// n/2+1 members active (apic-reference.md, Quorum).
func (g *Group) quorumErr(p *peeringObject) string {
	n, active, need := len(g.members), g.active(), len(g.members)/2+1
	pm, ok := g.members[p.primary]
	switch {
	case !ok:
		return fmt.Sprintf("no primary (%d of %d members active, %d needed)", active, n, need)
	case !pm.up:
		return fmt.Sprintf("primary %s is down (%d of %d members active, %d needed)", pm.ip, active, n, need)
	case active < need:
		return fmt.Sprintf("%d of %d members active, %d needed", active, n, need)
	}
	return ""
}

// elect replaces a missing or down primary when a majority is active, as the peering's sentinels
// would; without a majority the old primary stays (down) and peering is read-only.
func (g *Group) elect() {
	if g.active() < len(g.members)/2+1 {
		return
	}
	for _, p := range g.peerings {
		if m, ok := g.members[p.primary]; ok && m.up {
			continue
		}
		for _, pod := range g.podsLocked() {
			if g.members[pod].up {
				p.primary = pod
				break
			}
		}
	}
}

// replicate records a write on p: active members follow the offset, down members queue it.
func (g *Group) replicate(p *peeringObject) {
	p.offset += 4096
	for _, m := range g.members {
		if m.up {
			m.offset[p.name] = p.offset
		} else {
			m.pending[p.name]++
		}
	}
}

// drrReady: the group was flushed and apic-gw-service was disabled and re-enabled on every active
// member since (seed 000 step 6, "for every member"), so each waits for registration.
func (g *Group) drrReady() bool {
	ready := false
	for _, m := range g.members {
		if !m.up {
			continue
		}
		if !m.gwServiceEnabled || !m.waiting {
			return false
		}
		ready = true
	}
	return ready
}

func (g *Group) register(trigger string) {
	g.registered = true
	g.generation++
	g.summary = g.opts.ConfigSummary
	g.replicate(g.peering(g.opts.GatewayServicePeering))
	for _, pod := range g.podsLocked() {
		m := g.members[pod]
		if !m.up {
			continue
		}
		m.waiting = false
		g.logf(m, msgRegistered, "apic-gw-service", "notice", "apic-gw-service(default)",
			fmt.Sprintf("Gateway service registration received from the management server (%s).", trigger))
		g.logf(m, msgConfigSynchronized, "apic-gw-service", "notice", "apic-gw-service(default)",
			fmt.Sprintf("Configuration generation %d synchronized: %s.", g.generation, g.summary))
	}
}

// flush is `gateway-peering-flush <name>` run on m. Its preconditions are the simulator's reading of
// seed 000: the runbook makes the member primary first, so flushing from a non-primary fails.
func (g *Group) flush(m *member, p *peeringObject) error {
	if why := g.quorumErr(p); why != "" {
		return fmt.Errorf("%% Gateway peering %s is read-only, no quorum: %s", p.name, why)
	}
	if p.primary != m.pod {
		return fmt.Errorf("%% Gateway peering %s: this member (%s) is not the primary (%s); run gateway-peering-switch-primary %s first",
			p.name, m.ip, g.members[p.primary].ip, p.name)
	}
	g.replicate(p)
	for _, pod := range g.podsLocked() {
		if mm := g.members[pod]; mm.up {
			g.logf(mm, msgPeeringFlushed, "gateway-peering", "notice", "gateway-peering("+p.name+")", "All data flushed.")
		}
	}
	if p.name == g.opts.GatewayServicePeering {
		g.registered = false
		g.summary = ""
		for _, mm := range g.members {
			mm.waiting = false
		}
	}
	return nil
}

// switchPrimary is `gateway-peering-switch-primary <name>` run on m.
func (g *Group) switchPrimary(m *member, p *peeringObject) error {
	if why := g.quorumErr(p); why != "" {
		return fmt.Errorf("%% Gateway peering %s is read-only, no quorum: %s", p.name, why)
	}
	if p.primary != m.pod {
		p.primary = m.pod
		g.replicate(p)
		for _, pod := range g.podsLocked() {
			if mm := g.members[pod]; mm.up {
				g.logf(mm, msgPeeringPrimary, "gateway-peering", "notice", "gateway-peering("+p.name+")",
					"Primary switched to "+m.ip+".")
			}
		}
	}
	return nil
}

// setGatewayService applies apic-gw-service admin-state on m (on leaving the sub-mode, as DataPower
// applies object changes). Enabling it while the group is flushed makes it wait for registration,
// which the runbook checks for in the debug log (seed 000 step 7).
func (g *Group) setGatewayService(m *member, enabled bool) {
	if m.gwServiceEnabled == enabled {
		return
	}
	m.gwServiceEnabled = enabled
	if !enabled {
		m.waiting = false
		g.logf(m, msgOperationalDown, "mgmt", "notice", "apic-gw-service(default)", "Operational state down")
		return
	}
	g.logf(m, msgOperationalUp, "mgmt", "notice", "apic-gw-service(default)", "Operational state up")
	if !g.registered {
		m.waiting = true
		g.logf(m, msgWaitingForRegistration, "apic-gw-service", "notice", "apic-gw-service(default)", "Waiting for gateway service registration.")
	}
}

// logf appends a line shaped like IBM's sample to m's apic-gw-service debug log:
// 20200618T232339.332Z [0x88e000d7][apic-gw-service][notice] apic-gw-service(default): tid(2653): Waiting for gateway service registration.
func (g *Group) logf(m *member, id, category, level, object, text string) {
	g.tid++
	ts := g.opts.Clock().UTC().Format("20060102T150405.000Z")
	m.log = append(m.log, fmt.Sprintf("%s [%s][%s][%s] %s: tid(%d): %s", ts, id, category, level, object, g.tid, text))
}
