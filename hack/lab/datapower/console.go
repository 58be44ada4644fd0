package datapower

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
)

type stage int

const (
	stageLogin stage = iota
	stagePassword
	stageDomain
	stageShell
)

type level int

const (
	levelExec level = iota
	levelConfig
	levelDiag
	levelGatewayService // (config apic-gw-service) sub-mode
)

// confirmation is a pending y/n question and what to do on "y".
type confirmation struct {
	onYes func() string
	onNo  string
}

// console is one pod's console state. It outlives an attach, as the console of a real pod does:
// whoever attaches next finds the same login state and mode.
type console struct {
	stage    stage
	user     string
	failures int
	domain   string // "" is the default domain
	level    level
	// staged apic-gw-service admin-state, applied on leaving the sub-mode.
	stagedEnabled *bool
	confirm       *confirmation
	queue         []string
}

func newConsole() *console { return &console{} }

func (c *console) prompt() string {
	p := "idg"
	if c.domain != "" {
		p += "[" + c.domain + "]"
	}
	switch c.level {
	case levelConfig:
		p += "(config)"
	case levelDiag:
		p += "(diag)"
	case levelGatewayService:
		p += "(config apic-gw-service)"
	}
	return p + "# "
}

// terminal writes console output; with a TTY the line discipline turns "\n" into "\r\n" and echoes
// input, as `kubectl attach -t` shows it.
type terminal struct {
	w   io.Writer
	tty bool
	err error
}

func (t *terminal) print(s string) {
	if t.err != nil {
		return
	}
	if t.tty {
		s = strings.ReplaceAll(s, "\n", "\r\n")
	}
	_, t.err = io.WriteString(t.w, s)
}

// Serve runs one attach to pod's console: it reads in until the stream ends (a detach: nil),
// Ctrl-P Ctrl-Q (a detach: nil), byte 0x04 (Ctrl-D: ErrProcessExited, the DataPower process ends,
// so the lab must kill the pod; we treat 0x04 so with or without a TTY, the conservative reading),
// MaxLoginFailures wrong logins (ErrLoginAttemptsExhausted) or ctx's end. creds are the admin
// credentials the console accepts (the GatewayCluster's adminUser Secret).
//
// Like `kubectl attach`, nothing is printed on attach ("If you don't see a command prompt, try
// pressing enter."): an empty line prints the current prompt again.
func (g *Group) Serve(ctx context.Context, pod string, in io.Reader, out io.Writer, tty bool, creds Credentials) error {
	g.mu.Lock()
	m, ok := g.members[pod]
	g.mu.Unlock()
	if !ok {
		return fmt.Errorf("simulator: pod %q is not a member of gateway peer group %q", pod, g.name)
	}
	t := &terminal{w: out, tty: tty}
	chunks := make(chan []byte)
	readErr := make(chan error, 1)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := in.Read(buf)
			if n > 0 {
				b := append([]byte(nil), buf[:n]...)
				select {
				case chunks <- b:
				case <-ctx.Done():
					return
				}
			}
			if err != nil {
				readErr <- err
				return
			}
		}
	}()

	var line []byte
	lastCR, ctrlP := false, false
	for {
		var chunk []byte
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-readErr:
			if err == io.EOF {
				return t.err // stream closed without Ctrl-D: a detach
			}
			return err
		case chunk = <-chunks:
		}
		for _, b := range chunk {
			switch {
			case b == 0x04:
				g.mu.Lock()
				m.console = newConsole() // the process restarts with the pod
				g.mu.Unlock()
				return ErrProcessExited
			case ctrlP && b == 0x11:
				return t.err // Ctrl-P Ctrl-Q: detach
			case b == 0x10:
				ctrlP = true
				continue
			case b == '\n' && lastCR:
				lastCR = false
				continue
			case b == '\r' || b == '\n':
				lastCR = b == '\r'
				ctrlP = false
				if err := g.input(m, string(line), t, creds); err != nil {
					return err
				}
				line = line[:0]
				if t.err != nil {
					return t.err
				}
				continue
			case b == 0x7f || b == 0x08:
				if len(line) > 0 {
					line = line[:len(line)-1]
				}
			default:
				line = append(line, b)
			}
			lastCR, ctrlP = false, false
		}
	}
}

// input handles one line typed on the console.
func (g *Group) input(m *member, line string, t *terminal, creds Credentials) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := m.console
	if t.tty {
		if c.stage == stagePassword {
			t.print("\n") // DataPower turns echo off for the password
		} else {
			t.print(line + "\n")
		}
	}
	switch c.stage {
	case stageLogin:
		user := strings.TrimSpace(line)
		if user == "" {
			t.print("login: ")
			return nil
		}
		c.user, c.stage = user, stagePassword
		t.print("Password: ")
		return nil
	case stagePassword:
		password := creds.Password
		if g.password != "" {
			password = g.password
		}
		if c.user != creds.Username || line != password {
			c.failures++
			c.stage, c.user = stageLogin, ""
			// IBM documents no sample of a failed console login; we print this line and
			// prompt for the login again (as IBM's DPGather tool expects).
			t.print("% Login failed: invalid user name or password.\n\n")
			if c.failures >= g.opts.MaxLoginFailures {
				c.failures = 0
				return ErrLoginAttemptsExhausted
			}
			t.print("login: ")
			return nil
		}
		c.failures = 0
		if g.opts.DomainPrompt {
			c.stage = stageDomain
			t.print("Domain (? for all): ")
			return nil
		}
		c.domain = ""
		g.loggedIn(c, t)
		return nil
	case stageDomain:
		d := strings.TrimSpace(line)
		switch d {
		case "?":
			t.print("default\n" + g.opts.Domain + "\nDomain (? for all): ")
			return nil
		case "", "default":
			c.domain = ""
		case g.opts.Domain:
			c.domain = d
		default:
			c.stage, c.user = stageLogin, ""
			t.print("% Unknown domain '" + d + "'.\n\nlogin: ")
			return nil
		}
		g.loggedIn(c, t)
		return nil
	}

	if c.confirm != nil {
		conf := c.confirm
		c.confirm = nil
		if a := strings.ToLower(strings.TrimSpace(line)); a == "y" || a == "yes" {
			t.print(conf.onYes())
		} else {
			t.print(conf.onNo)
		}
	} else {
		c.queue = splitCommands(line)
	}
	for len(c.queue) > 0 && c.confirm == nil && c.stage == stageShell {
		cmd := c.queue[0]
		c.queue = c.queue[1:]
		g.command(m, cmd, t)
	}
	if c.confirm != nil || c.stage != stageShell {
		return nil
	}
	t.print(c.prompt())
	return nil
}

// loggedIn prints DataPower's console banner (shape of the real one; version marked simulator).
func (g *Group) loggedIn(c *console, t *terminal) {
	c.stage, c.level = stageShell, levelExec
	t.print("\nWelcome to IBM DataPower Gateway console configuration. \n" +
		"Copyright IBM Corporation 1999, 2024 \n\n" +
		"Version: IDG.10.6.0.0 build 0 (simulator)\n" +
		"Delivery type: CD\n" +
		"Serial number: 0000001\n\n" + c.prompt())
}

// splitCommands splits a line on ";" as the DataPower CLI does (seed 000 runs
// "config; apic-gw-service; admin-state disabled; exit" on one line); quotes protect ";".
func splitCommands(line string) []string {
	var cmds []string
	var cur strings.Builder
	quote := rune(0)
	for _, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'':
			quote = r
		case r == ';':
			if s := strings.TrimSpace(cur.String()); s != "" {
				cmds = append(cmds, s)
			}
			cur.Reset()
			continue
		}
		cur.WriteRune(r)
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		cmds = append(cmds, s)
	}
	return cmds
}

// command runs one command in the shell. g.mu is held.
func (g *Group) command(m *member, cmd string, t *terminal) {
	c := m.console
	fields := strings.Fields(cmd)
	verb := strings.ToLower(fields[0])
	args := fields[1:]
	if msg, ok := m.takeFault(cmd); ok {
		t.print(msg + "\n")
		return
	}
	unknown := func() { t.print("Unknown command or macro (" + cmd + ")\n") }
	usage := func(s string) { t.print("% Incomplete command; usage: " + s + "\n") }

	// Commands valid in every shell mode.
	switch verb {
	case "show":
		g.show(m, args, t)
		return
	case "top":
		g.leaveSubMode(m)
		c.level = levelExec
		return
	case "exit":
		switch c.level {
		case levelGatewayService:
			g.leaveSubMode(m)
			c.level = levelConfig
		case levelConfig, levelDiag:
			c.level = levelExec
		default:
			// exit at the top level logs out; the console returns to its login prompt.
			*c = console{}
			t.print("Goodbye.\n\nlogin: ")
		}
		return
	case "cancel":
		if c.level == levelGatewayService {
			c.stagedEnabled = nil
			c.level = levelConfig
		}
		return
	}

	if c.level == levelGatewayService {
		// apic-gw-service sub-mode: admin-state is staged and applied on exit.
		if verb == "admin-state" && len(args) == 1 && (args[0] == "enabled" || args[0] == "disabled") {
			v := args[0] == "enabled"
			c.stagedEnabled = &v
			return
		}
		if verb == "admin-state" {
			usage("admin-state enabled|disabled")
			return
		}
		unknown()
		return
	}

	switch verb {
	case "switch", "sw":
		if c.level == levelDiag {
			unknown()
			return
		}
		if len(args) != 1 {
			usage("switch <domain>")
			return
		}
		switch args[0] {
		case "default":
			c.domain = ""
		case g.opts.Domain:
			c.domain = args[0]
		default:
			// IBM publishes no sample; our error line.
			t.print("% Domain '" + args[0] + "' does not exist.\n")
		}
	case "config", "co", "configure":
		// DataPower prints "Global mode" on entering configuration mode. We also accept it from diag,
		// as seed 000 chains "config; ...; diag; ..." without an exit.
		c.level = levelConfig
		t.print("Global mode\n")
	case "diag":
		c.level = levelDiag
	case "gateway-peering-switch-primary":
		if c.level != levelConfig {
			unknown()
			return
		}
		p, ok := g.peeringArg(c, args, "gateway-peering-switch-primary <name>", t)
		if !ok {
			return
		}
		if err := g.switchPrimary(m, p); err != nil {
			t.print(err.Error() + "\n")
			return
		}
		// IBM publishes no sample of switch-primary output; we choose this line.
		t.print("Gateway peering " + p.name + ": primary is now " + m.ip + ".\n")
	case "gateway-peering-flush":
		if c.level != levelDiag {
			unknown()
			return
		}
		p, ok := g.peeringArg(c, args, "gateway-peering-flush <name>", t)
		if !ok {
			return
		}
		// IBM documents that flush asks for confirmation but not its text or output; ours:
		t.print("Flushing gateway peering " + p.name + " removes its data on all members. Continue? Yes/No [y/n]: ")
		c.confirm = &confirmation{
			onYes: func() string {
				if err := g.flush(m, p); err != nil {
					return err.Error() + "\n"
				}
				return "Gateway peering " + p.name + " flushed.\n"
			},
			onNo: "Flush of gateway peering " + p.name + " cancelled.\n",
		}
	case "apic-gw-service":
		if c.level != levelConfig {
			unknown()
			return
		}
		if c.domain != g.opts.Domain {
			t.print("% Cannot find configuration object 'apic-gw-service' in domain " + c.domainName() + ".\n")
			return
		}
		c.level = levelGatewayService
		t.print("Modify API Connect Gateway Service configuration\n\n")
	case "write":
		if c.level != levelConfig || len(args) != 1 || (args[0] != "mem" && args[0] != "memory") {
			unknown()
			return
		}
		// apic-reference.md: write mem asks "Overwrite previously saved configuration? Yes/No [y/n]:".
		t.print("Overwrite previously saved configuration? Yes/No [y/n]: ")
		c.confirm = &confirmation{
			onYes: func() string { return "Configuration saved successfully.\n" },
			onNo:  "",
		}
	default:
		unknown()
	}
}

func (c *console) domainName() string {
	if c.domain == "" {
		return "default"
	}
	return c.domain
}

// peeringArg resolves the peering object named by args in the current domain; peering objects live
// in the API Connect domain only.
func (g *Group) peeringArg(c *console, args []string, syntax string, t *terminal) (*peeringObject, bool) {
	if len(args) != 1 {
		t.print("% Incomplete command; usage: " + syntax + "\n")
		return nil, false
	}
	p := g.peering(args[0])
	if p == nil || c.domain != g.opts.Domain {
		t.print("% Cannot find configuration object 'gateway-peering " + args[0] + "' in domain " + c.domainName() + ".\n")
		return nil, false
	}
	return p, true
}

func (g *Group) leaveSubMode(m *member) {
	c := m.console
	if c.level == levelGatewayService && c.stagedEnabled != nil {
		g.setGatewayService(m, *c.stagedEnabled)
	}
	c.stagedEnabled = nil
}

// show implements the show commands the runbook needs.
func (g *Group) show(m *member, args []string, t *terminal) {
	c := m.console
	what := strings.ToLower(strings.Join(args, " "))
	inAPIC := c.domain == g.opts.Domain
	switch {
	case what == "gateway-peering-status":
		t.print(g.renderPeeringStatus(inAPIC))
	case what == "gateway-peering" || what == "gateway-peering-manager":
		if !inAPIC {
			t.print("% Cannot find configuration object 'gateway-peering-manager' in domain " + c.domainName() + ".\n")
			return
		}
		t.print(g.renderPeerings())
	case what == "apic-gw-service":
		if !inAPIC {
			t.print("% Cannot find configuration object 'apic-gw-service' in domain " + c.domainName() + ".\n")
			return
		}
		t.print(g.renderGatewayService(m))
	case strings.HasPrefix(what, "file "):
		name := strings.TrimSpace(strings.TrimPrefix(what, "file "))
		if name != APICGatewayServiceLog || !inAPIC {
			t.print("% No such file or directory: " + name + "\n")
			return
		}
		for _, l := range m.log {
			t.print(l + "\n")
		}
	default:
		t.print("Unknown command or macro (show " + strings.Join(args, " ") + ")\n")
	}
}

// renderPeeringStatus prints `show gateway-peering-status` with apic-reference.md's columns, one line
// per member per peering object; outside the API Connect domain there are no peering objects.
func (g *Group) renderPeeringStatus(inAPIC bool) string {
	width := len("Address")
	pods := g.podsLocked()
	for _, pod := range pods {
		width = max(width, len(g.members[pod].ip))
	}
	width += 2
	var b strings.Builder
	fmt.Fprintf(&b, "%-*s%-19s%-16s%-19s%-12s%s\n", width, "Address", "Configuration name", "Pending updates",
		"Replication offset", "Link status", "Primary")
	if !inAPIC {
		return b.String()
	}
	names := make([]string, 0, len(g.peerings))
	for _, p := range g.peerings {
		names = append(names, p.name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := g.peering(name)
		for _, pod := range pods {
			mm := g.members[pod]
			link, primary := "ok", "no"
			if !mm.up {
				link = "down"
			}
			if p.primary == pod {
				primary = "yes"
			}
			fmt.Fprintf(&b, "%-*s%-19s%-16d%-19d%-12s%s\n", width, mm.ip, p.name, mm.pending[p.name], mm.offset[p.name], link, primary)
		}
	}
	return b.String()
}

// renderPeerings prints the gateway-peering-manager with its peering objects as
// `<owner> <peering> [up]` (apic-reference.md); a peering without quorum shows [down].
func (g *Group) renderPeerings() string {
	var b strings.Builder
	b.WriteString("gateway-peering-manager: default [up]\n-------------------------------------\n admin-state enabled\n")
	for _, p := range g.peerings {
		state := "up"
		if g.quorumErr(p) != "" {
			state = "down"
		}
		fmt.Fprintf(&b, " %s %s [%s]\n", p.owner, p.name, state)
	}
	return b.String()
}

// renderGatewayService prints apic-gw-service with its registration state (simulator fields).
func (g *Group) renderGatewayService(m *member) string {
	state, admin := "up", "enabled"
	if !m.gwServiceEnabled {
		state, admin = "down", "disabled"
	}
	reg := "Registered"
	switch {
	case g.registered:
	case m.waiting:
		reg = "Waiting for gateway service registration."
	default:
		reg = "Flushed (disable and enable apic-gw-service to wait for registration)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "apic-gw-service: default [%s]\n-----------------------------\n", state)
	fmt.Fprintf(&b, " admin-state %s\n gateway-peering %s\n registration-state %s\n", admin, g.opts.GatewayServicePeering, reg)
	if g.registered {
		fmt.Fprintf(&b, " configuration-generation %d\n configuration-summary %s\n", g.generation, g.summary)
	}
	return b.String()
}
