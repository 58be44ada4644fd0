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
		g.loggedIn(m, c, t)
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
		g.loggedIn(m, c, t)
		return nil
	}

	if c.confirm != nil {
		conf := c.confirm
		c.confirm = nil
		out := conf.onNo
		if a := strings.ToLower(strings.TrimSpace(line)); a == "y" || a == "yes" {
			out = conf.onYes()
		}
		// write mem's log lines come between the answer and its result (fixture write-mem)
		t.print(g.noise.lines(m.pod, c.domain != "", g.opts.Clock()) + out)
	} else {
		c.queue = splitCommands(line)
	}
	for len(c.queue) > 0 && c.confirm == nil && c.stage == stageShell {
		cmd := c.queue[0]
		c.queue = c.queue[1:]
		g.runCommand(m, cmd, t)
	}
	if c.stage != stageShell {
		return nil
	}
	if c.confirm == nil {
		t.print(c.prompt())
	}
	// Log lines right after the prompt or the question, on its line: the prompt is lost on the
	// screen (fixtures login-kubectl-attach-2018, prompt-then-log-config).
	t.print(g.noise.lines(m.pod, c.domain != "", g.opts.Clock()))
	return nil
}

// runCommand runs one command, printing asynchronous log lines above its output and inside it
// (fixtures show-gateway-peering-status-blog, write-mem). Not around the display of a log file
// (`show file`): there a client cannot tell the console's lines from the file's, and the
// simulator's choice is to keep the file's display whole (docs/fidelity.md).
func (g *Group) runCommand(m *member, cmd string, t *terminal) {
	c := m.console
	if g.noise == nil || isShowFile(cmd) {
		g.command(m, cmd, t)
		return
	}
	var buf strings.Builder
	ct := &terminal{w: &buf}
	inDomain := c.domain != ""
	before := g.noise.lines(m.pod, inDomain, g.opts.Clock())
	g.command(m, cmd, ct)
	out := g.noise.insert(m.pod, c.domain != "", g.opts.Clock(), buf.String())
	t.print(before + out)
}

func isShowFile(cmd string) bool {
	f := strings.Fields(strings.ToLower(cmd))
	return len(f) >= 2 && (f[0] == "show" || f[0] == "sh") && f[1] == "file"
}

// loggedIn prints DataPower's console banner (shape of the real one; version marked simulator): the
// member's firmware (SetMemberVersion). Called with g.mu held.
func (g *Group) loggedIn(m *member, c *console, t *terminal) {
	c.stage, c.level = stageShell, levelExec
	version := m.version
	if version == "" {
		version = DefaultFirmware
	}
	t.print("\nWelcome to IBM DataPower Gateway console configuration. \n" +
		"Copyright IBM Corporation 1999, 2024 \n\n" +
		"Version: " + version + " build 0 (simulator)\n" +
		"Delivery type: CD\n" +
		"Serial number: 0000001\n\n" + c.prompt())
	// the login's audit lines after the first prompt (fixture login-kubectl-attach-2018)
	t.print(g.noise.lines(m.pod, c.domain != "", g.opts.Clock()))
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

// show implements the show commands the runbook needs, in the real shapes (fixtures
// show-gateway-peering-status-*, show-gateway-peering-manager, show-gateway-peering,
// show-apic-gw-service). `show` works at every level (IBM's tools run these in config mode; IBM's
// DRR page runs show gateway-peering-status at exec level).
func (g *Group) show(m *member, args []string, t *terminal) {
	c := m.console
	what := strings.ToLower(strings.Join(args, " "))
	inAPIC := c.domain == g.opts.Domain
	notHere := func(object string) {
		t.print("% Cannot find configuration object '" + object + "' in domain " + c.domainName() + ".\n")
	}
	switch {
	case what == "gateway-peering-status" || what == "gateway-peering-st":
		t.print(g.renderPeeringStatus(inAPIC))
	case what == "gateway-peering-manager":
		if !inAPIC {
			notHere("gateway-peering-manager")
			return
		}
		t.print(g.renderManager())
	case what == "gateway-peering":
		if !inAPIC {
			notHere("gateway-peering")
			return
		}
		t.print(g.renderPeerings(m))
	case what == "apic-gw-service":
		if !inAPIC {
			notHere("apic-gw-service")
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

// block renders a `show <object>` block: a blank line, the header, a rule as long as the header
// without its state, one property a line with a leading space, and a blank line (fixtures
// show-apic-gw-service, show-gateway-peering-manager, login-and-switch's `show key`).
func block(header, state string, props []string) string {
	var b strings.Builder
	b.WriteString("\n" + header + " [" + state + "]\n" + strings.Repeat("-", len(header)) + "\n")
	for _, p := range props {
		b.WriteString(" " + p + "\n")
	}
	return b.String()
}

// statusColumns are the column titles of `show gateway-peering-status`.
var statusColumns = []string{"Address", "Configuration name", "Pending updates", "Replication offset", "Link status", "Primary"}

// renderPeeringStatus prints `show gateway-peering-status` as IBM's page and the 2021 post show it
// (fixtures show-gateway-peering-status-*): a blank line, every line starting with a space, each
// column padded to its width and followed by a space, a dashed rule per column, one row per
// (member address, peering object) sorted by address then name, a blank line. Outside the API
// Connect domain there are no peering objects: the header and rule only (our choice).
func (g *Group) renderPeeringStatus(inAPIC bool) string {
	type row struct{ addr, name, pending, offset, link, primary string }
	var rows []row
	if inAPIC {
		for _, pod := range g.podsLocked() {
			mm := g.members[pod]
			for _, p := range g.peerings {
				link, primary := "ok", "no"
				if !mm.up {
					link = "down"
				}
				if p.primary == pod {
					primary = "yes"
				}
				rows = append(rows, row{mm.ip, p.name, fmt.Sprint(mm.pending[p.name]), fmt.Sprint(mm.offset[p.name]), link, primary})
			}
		}
		sort.Slice(rows, func(i, j int) bool {
			if rows[i].addr != rows[j].addr {
				return rows[i].addr < rows[j].addr
			}
			return rows[i].name < rows[j].name
		})
	}
	width := make([]int, len(statusColumns))
	for i, c := range statusColumns {
		width[i] = len(c)
	}
	cells := func(r row) []string { return []string{r.addr, r.name, r.pending, r.offset, r.link, r.primary} }
	for _, r := range rows {
		for i, v := range cells(r) {
			width[i] = max(width[i], len(v))
		}
	}
	var b strings.Builder
	line := func(vals []string) {
		for i, v := range vals {
			fmt.Fprintf(&b, " %-*s", width[i], v)
		}
		b.WriteString(" \n")
	}
	b.WriteString("\n")
	line(statusColumns)
	rule := make([]string, len(width))
	for i, w := range width {
		rule[i] = strings.Repeat("-", w)
	}
	line(rule)
	for _, r := range rows {
		line(cells(r))
	}
	b.WriteString("\n")
	return b.String()
}

// peeringState is [up], or [down] for a peering without quorum (DPGather reads both).
func (g *Group) peeringState(p *peeringObject) string {
	if p == nil || g.quorumErr(p) != "" {
		return "down"
	}
	return "up"
}

// renderManager prints `show gateway-peering-manager` (fixture show-gateway-peering-manager):
// `<owner> <peering> [up]` lines, a deprecated owner as `<owner> (deprecated) <peering> [up]`.
func (g *Group) renderManager() string {
	props := []string{"admin-state enabled"}
	for _, o := range g.owners {
		dep := ""
		if o.deprecated {
			dep = "(deprecated) "
		}
		props = append(props, fmt.Sprintf("%s %s%s [%s]", o.owner, dep, o.peering, g.peeringState(g.peering(o.peering))))
	}
	return block("gateway-peering-manager: default", "up", props) + "\n"
}

// renderPeerings prints `show gateway-peering` on member m: one `gateway-peering: <name> [up]`
// block per object, sorted by name, with the properties IBM's gateway chart configures
// (fixture show-gateway-peering: priority 1 + pod ordinal, a peer line per other member).
func (g *Group) renderPeerings(m *member) string {
	names := make([]string, 0, len(g.peerings))
	for _, p := range g.peerings {
		names = append(names, p.name)
	}
	sort.Strings(names)
	var peers []string
	for _, pod := range g.podsLocked() {
		if pod != m.pod {
			peers = append(peers, "peer "+g.members[pod].ip)
		}
	}
	var b strings.Builder
	for _, name := range names {
		p := g.peering(name)
		props := []string{"admin-state enabled", "local-address eth0_ipv4_1", fmt.Sprintf("local-port %d", p.port),
			fmt.Sprintf("monitor-port %d", p.port+10000), fmt.Sprintf("priority %d", 1+ordinal(m.pod))}
		props = append(props, peers...)
		props = append(props, "enable-ssl on", "ssl-key peering_key  [up]", "ssl-cert peering_cert  [up]",
			"persistence memory", "enable-peer-group on", "log-level internal")
		b.WriteString(block("gateway-peering: "+name, g.peeringState(p), props))
	}
	return b.String() + "\n"
}

// ordinal is a StatefulSet pod's ordinal (the digits after its last "-"), 0 when it has none.
func ordinal(pod string) int {
	n := 0
	if i := strings.LastIndex(pod, "-"); i >= 0 {
		if _, err := fmt.Sscanf(pod[i+1:], "%d", &n); err != nil {
			return 0
		}
	}
	return n
}

// renderGatewayService prints `show apic-gw-service` with the only properties a public sample
// shows (fixture show-apic-gw-service, IBM Support Q&A node 7118911). No property reports
// registration with the management server: the real object has none. A disabled service shows
// `[down]` (our choice: the operational state of a disabled object).
func (g *Group) renderGatewayService(m *member) string {
	state, admin := "up", "enabled"
	if !m.gwServiceEnabled {
		state, admin = "down", "disabled"
	}
	return block("apic-gw-service: default", state, []string{"admin-state " + admin, "local-address 0.0.0.0", "local-port 3007"}) + "\n"
}
