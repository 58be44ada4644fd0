// Package datapowertest is a fake DataPower console for the tests of pkg/datapower's users (drr,
// status --peering): a gateway peer group whose members' consoles print what real consoles print,
// taken from the transcripts in internal/fixtures (login, banner, `Global mode`, the
// gateway-peering-status table's header and column widths, show gateway-peering-manager,
// show apic-gw-service, Unknown command, logout). Commands whose output no public sample shows
// (gateway-peering-switch-primary, gateway-peering-flush) print nothing but their question: the
// client must verify their effect by reading state afterwards. It runs in memory over io.Pipes: no
// control plane, no lab. Test support only; nothing in the product imports it.
package datapowertest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kubectl-apic/kubectl-apic/internal/fixtures"
	"github.com/kubectl-apic/kubectl-apic/pkg/datapower"
)

// Peerings are API Connect's peering objects (IBM's Kubernetes gateway chart, gateway-peering.js).
var Peerings = []string{"api-probe", "gwd", "rate-limit", "subs", "tms"}

// Group is a fake gateway peer group: its members share the peering state.
type Group struct {
	// Domain is the API Connect application domain; default "apiconnect" (the fixtures').
	Domain string
	// FlushQuestion is what gateway-peering-flush asks ("%s" is the peering); "" flushes without
	// asking. No public sample shows it; the default is DataPower's documented confirmation shape
	// (write mem's).
	FlushQuestion string
	// StickyPrimary makes gateway-peering-switch-primary accept the command without moving the
	// primary (as when something else moves it back).
	StickyPrimary bool

	user, password string
	mu             sync.Mutex
	members        []*member
	primary        map[string]string // peering → pod
	flushed        map[string]bool
	faults         map[string]string // pod + " " + command prefix → message
	typed          map[string][]string
	shapes         shapes
}

type member struct {
	pod, ip string
	up      bool
	admin   string // apic-gw-service admin-state
	log     []string
}

// NewGroup is a group of pods (name → IP, in order) whose consoles accept user and password; the
// first pod is primary of every peering.
func NewGroup(user, password string, pods ...[2]string) *Group {
	g := &Group{Domain: "apiconnect", FlushQuestion: "Flush gateway peering %s? Yes/No [y/n]: ", user: user, password: password,
		primary: map[string]string{}, flushed: map[string]bool{}, faults: map[string]string{}, typed: map[string][]string{},
		shapes: loadShapes()}
	for _, p := range pods {
		g.members = append(g.members, &member{pod: p[0], ip: p[1], up: true, admin: "enabled"})
	}
	for _, p := range Peerings {
		if len(pods) > 0 {
			g.primary[p] = pods[0][0]
		}
	}
	return g
}

// SetUp takes a member's peering link up or down.
func (g *Group) SetUp(pod string, up bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if m := g.member(pod); m != nil {
		m.up = up
	}
}

// SetPassword changes the password the consoles accept (a rotated device password).
func (g *Group) SetPassword(pw string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.password = pw
}

// Fail makes commands starting with prefix on pod print `% msg`; an empty msg clears the fault.
func (g *Group) Fail(pod, prefix, msg string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if msg == "" {
		delete(g.faults, pod+" "+prefix)
		return
	}
	g.faults[pod+" "+prefix] = msg
}

// Primary is the pod that is primary of peering.
func (g *Group) Primary(peering string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.primary[peering]
}

// Flushed reports whether peering was flushed (the question was answered y).
func (g *Group) Flushed(peering string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.flushed[peering]
}

// AdminState is pod's apic-gw-service admin-state.
func (g *Group) AdminState(pod string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.member(pod).admin
}

// Typed is every line typed on pod's consoles, in order (the password included, for tests that
// check where it went).
func (g *Group) Typed(pod string) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.typed[pod])
}

func (g *Group) member(pod string) *member {
	for _, m := range g.members {
		if m.pod == pod {
			return m
		}
	}
	return nil
}

// Attach is a datapower.Opener's Attach: a console of target.Pod.
func (g *Group) Attach(_ context.Context, t datapower.AttachTarget) (datapower.Conn, error) {
	if g.member(t.Pod) == nil {
		return nil, fmt.Errorf("pods %q not found", t.Pod)
	}
	return g.Conn(t.Pod), nil
}

// Conn is a fresh console of pod, waiting for Enter as an attach does.
func (g *Group) Conn(pod string) *Conn {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	c := &Conn{in: inW, out: outR, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		con := &console{g: g, pod: pod, w: outW}
		con.serve(inR)
		_ = outW.Close()
	}()
	return c
}

// Conn is the client's end of a console.
type Conn struct {
	in   *io.PipeWriter
	out  *io.PipeReader
	done chan struct{}
	once sync.Once
}

func (c *Conn) Read(p []byte) (int, error) { return c.out.Read(p) }

func (c *Conn) Write(p []byte) (int, error) {
	if strings.ContainsRune(string(p), 0x04) {
		return 0, fmt.Errorf("datapowertest: the client wrote Ctrl-D, which ends the DataPower process")
	}
	return c.in.Write(p)
}

// Close detaches.
func (c *Conn) Close() error {
	c.once.Do(func() {
		_ = c.in.Close()
		go func() { _, _ = io.Copy(io.Discard, c.out) }()
		<-c.done
	})
	return nil
}

// shapes are the fixtures' texts the consoles print.
type shapes struct {
	login, password, banner, globalMode string
	statusHead                          []string // blank line, header, rule
	widths                              []int
	manager, service, goodbye           string
	waiting                             string
}

func loadShapes() shapes {
	var s shapes
	steps := mustSteps("console/login-and-switch.console")
	s.login, s.password = steps[0].Output, steps[1].Output
	s.banner = strings.TrimSuffix(steps[2].Output, "idg# ")
	s.globalMode = strings.SplitAfter(steps[3].Output, "\n")[0]
	table := output("console/show-gateway-peering-status-3-members.console", "show gateway-peering-status")
	lines := strings.Split(table, "\n")
	s.statusHead = lines[:3]
	for _, f := range strings.Fields(lines[2]) {
		s.widths = append(s.widths, len(f))
	}
	s.manager = output("console/show-gateway-peering-manager.console", "show gateway-peering-manager")
	s.service = output("console/show-apic-gw-service.console", "show apic-gw-service")
	s.goodbye = mustSteps("console/logout.console")[2].Output
	body, err := fixtures.Body("console/apic-gw-service-debug-log.log")
	if err != nil {
		panic(err)
	}
	s.waiting = strings.TrimSpace(string(body))
	return s
}

func mustSteps(name string) []fixtures.Step {
	f, err := fixtures.Get(name)
	if err != nil {
		panic(err)
	}
	steps, err := f.Steps()
	if err != nil {
		panic(err)
	}
	return steps
}

// output is what the fixture's console printed for input, without the prompt that follows.
func output(name, input string) string {
	for _, s := range mustSteps(name) {
		if s.Typed && s.Input == input {
			out := s.Output
			if i := strings.LastIndex(out, "\n"); i >= 0 {
				out = out[:i+1]
			}
			return out
		}
	}
	panic(fmt.Sprintf("fixture %s has no step typing %q", name, input))
}

// console is one attach session's CLI state.
type console struct {
	g       *Group
	pod     string
	w       io.Writer
	state   string // "wake", "login", "password", "shell"
	user    string
	domain  string
	level   string // "", "config", "diag", "config apic-gw-service"
	staged  string
	pending string // a question's peering
}

func (c *console) serve(in io.Reader) {
	c.state = "wake"
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		c.g.mu.Lock()
		c.g.typed[c.pod] = append(c.g.typed[c.pod], line)
		out := c.handle(line)
		c.g.mu.Unlock()
		if _, err := io.WriteString(c.w, out); err != nil {
			return
		}
	}
}

func (c *console) prompt() string {
	p := "idg"
	if c.domain != "" && c.domain != datapower.DefaultDomain {
		p += "[" + c.domain + "]"
	}
	if c.level != "" {
		p += "(" + c.level + ")"
	}
	return p + "# "
}

// handle answers one typed line; the group's lock is held.
func (c *console) handle(line string) string {
	sh := c.g.shapes
	switch c.state {
	case "wake":
		c.state = "login"
		return sh.login
	case "login":
		c.user, c.state = line, "password"
		return sh.password
	case "password":
		if c.user != c.g.user || line != c.g.password {
			// The message is the lab simulator's (docs/fidelity.md row 4); clients key on login:.
			c.state = "login"
			return "% Login failed: invalid user name or password.\n\n" + sh.login
		}
		c.state, c.domain = "shell", datapower.DefaultDomain
		return sh.banner + c.prompt()
	}
	if c.pending != "" {
		p := c.pending
		c.pending = ""
		if strings.EqualFold(strings.TrimSpace(line), "y") {
			c.g.flushed[p] = true
		}
		return c.prompt()
	}
	cmd := strings.TrimSpace(line)
	if cmd == "" {
		return c.prompt()
	}
	for k, msg := range c.g.faults {
		if pod, prefix, _ := strings.Cut(k, " "); pod == c.pod && strings.HasPrefix(cmd, prefix) {
			return "% " + msg + "\n" + c.prompt()
		}
	}
	out := c.command(cmd)
	if c.state != "shell" || c.pending != "" {
		return out // logged out (login:), or waiting at a question
	}
	return out + c.prompt()
}

func (c *console) command(cmd string) string {
	sh := c.g.shapes
	f := strings.Fields(cmd)
	unknown := "Unknown command or macro (" + cmd + ")\n"
	me := c.g.member(c.pod)
	switch {
	case f[0] == "top":
		c.level = ""
	case f[0] == "co" || f[0] == "config" || f[0] == "configure":
		c.level = "config"
		return sh.globalMode
	case f[0] == "diag":
		c.level = "diag"
	case f[0] == "exit":
		switch c.level {
		case "config apic-gw-service":
			c.level = "config"
			if c.staged != "" {
				c.apply(me, c.staged)
				c.staged = ""
			}
		case "config", "diag":
			c.level = ""
		default:
			c.state = "login"
			return sh.goodbye
		}
	case (f[0] == "switch" || f[0] == "sw") && len(f) == 2:
		if f[1] != c.g.Domain && f[1] != datapower.DefaultDomain {
			return "% Domain '" + f[1] + "' does not exist.\n"
		}
		c.domain, c.level = f[1], ""
	case cmd == datapower.ShowPeeringStatus:
		return c.statusTable()
	case cmd == "show gateway-peering-manager" && c.level == "config":
		return sh.manager
	case cmd == datapower.ShowAPICGatewayService:
		state := "up"
		if me.admin != "enabled" {
			state = "down"
		}
		out := strings.Replace(sh.service, "admin-state enabled", "admin-state "+me.admin, 1)
		return strings.Replace(out, "[up]", "["+state+"]", 1)
	case cmd == datapower.ShowFile(datapower.APICGatewayServiceLog):
		if len(me.log) == 0 {
			return "% No such file or directory: " + datapower.APICGatewayServiceLog + "\n"
		}
		return strings.Join(me.log, "\n") + "\n"
	case f[0] == "gateway-peering-switch-primary" && len(f) == 2 && c.level == "config":
		if !c.quorum(f[1]) {
			return "% Gateway peering " + f[1] + " has no quorum.\n"
		}
		if !c.g.StickyPrimary {
			c.g.primary[f[1]] = c.pod
		}
		return "" // no public sample shows what it prints
	case f[0] == "gateway-peering-flush" && len(f) == 2 && c.level == "diag":
		if c.g.FlushQuestion == "" {
			c.g.flushed[f[1]] = true
			return ""
		}
		c.pending = f[1]
		return fmt.Sprintf(c.g.FlushQuestion, f[1])
	case f[0] == datapower.APICGatewayServiceOwner && c.level == "config" && c.domain == c.g.Domain:
		c.level = "config apic-gw-service"
		return "Modify API Connect Gateway Service configuration\n\n"
	case f[0] == "admin-state" && len(f) == 2 && c.level == "config apic-gw-service":
		c.staged = f[1]
	default:
		return unknown
	}
	return ""
}

// apply takes an admin-state change effect on leaving the sub-mode.
func (c *console) apply(me *member, state string) {
	was := me.admin
	me.admin = state
	if was == "disabled" && state == "enabled" && c.g.flushed["gwd"] {
		ts := time.Now().UTC().Format("20060102T150405.000Z")
		_, rest, _ := strings.Cut(c.g.shapes.waiting, " ")
		me.log = append(me.log, ts+" "+rest)
	}
}

func (c *console) quorum(peering string) bool {
	up := 0
	for _, m := range c.g.members {
		if m.up {
			up++
		}
	}
	p := c.g.member(c.g.primary[peering])
	return p != nil && p.up && up >= len(c.g.members)/2+1
}

// statusTable renders the group in the 3-member fixture's layout: its header and rule, the same
// column widths, rows grouped by address then configuration name, a blank line after.
func (c *console) statusTable() string {
	sh := c.g.shapes
	if c.domain != c.g.Domain {
		return strings.Join(sh.statusHead, "\n") + "\n\n"
	}
	var b strings.Builder
	b.WriteString(strings.Join(sh.statusHead, "\n") + "\n")
	ms := slices.Clone(c.g.members)
	slices.SortFunc(ms, func(a, b *member) int { return strings.Compare(a.ip, b.ip) })
	for _, m := range ms {
		for _, p := range Peerings {
			link, pending, primary := "ok", "0", "no"
			if !m.up {
				link, pending = "down", "2"
			}
			if c.g.primary[p] == m.pod {
				primary = "yes"
			}
			cells := []string{m.ip, p, pending, "5172229359", link, primary}
			b.WriteString(" ")
			for i, cell := range cells {
				b.WriteString(fmt.Sprintf("%-*s ", sh.widths[i], cell))
			}
			b.WriteString("\n")
		}
	}
	b.WriteString("\n")
	return b.String()
}
