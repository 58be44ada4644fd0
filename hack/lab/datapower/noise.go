package datapower

import (
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/kubectl-apic/kubectl-apic/internal/fixtures"
)

// ConsoleLogs configures the asynchronous log lines the simulated consoles print. Real consoles
// print log messages at any moment (fixtures login-kubectl-attach-2018, prompt-then-log-config,
// write-mem, show-gateway-peering-status-blog; IBM's DPGather turns the console log target off
// "to avoid it messing up the CLI commands outputs"): right after a prompt on its line (the prompt
// is then lost on the screen until Enter), above a command's output, and inside it.
type ConsoleLogs struct {
	// Seed makes the points and lines repeatable: the same seed and the same input print the same
	// lines at the same points on a member's console.
	Seed uint64
	// Rate is the chance of log lines at each point (after a prompt, above an output, inside an
	// output); default DefaultConsoleLogRate.
	Rate float64
}

// DefaultConsoleLogRate is ConsoleLogs.Rate's default.
const DefaultConsoleLogRate = 0.2

// noise holds the real log lines a console prints and each member's random source.
type noise struct {
	rate float64
	seed uint64
	// plain: lines of the default domain; tagged: lines carrying an application domain's tag,
	// rewritten to the group's domain.
	plain, tagged []string
	mu            sync.Mutex
	rngs          map[string]*rand.Rand
}

// fixtureLogLines is the fixture's real lines, without the one the DRR looks for ("Waiting for
// gateway service registration." is an event, which the simulator logs when it happens).
func fixtureLogLines() []string {
	b, err := fixtures.Body("console/async-log-lines.log")
	if err != nil {
		panic(err) // embedded: cannot fail unless the fixture is removed
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.Contains(l, "Waiting for gateway service registration") {
			out = append(out, l)
		}
	}
	return out
}

func newNoise(c *ConsoleLogs, domain string) *noise {
	if c == nil {
		return nil
	}
	n := &noise{rate: c.Rate, seed: c.Seed, rngs: map[string]*rand.Rand{}}
	if n.rate <= 0 {
		n.rate = DefaultConsoleLogRate
	}
	for _, l := range fixtureLogLines() {
		// "<timestamp> [apiconnect][0x...]": the real tag is the API Connect domain's.
		ts, rest, _ := strings.Cut(l, " ")
		if strings.HasPrefix(rest, "[apiconnect]") {
			n.tagged = append(n.tagged, ts+" ["+domain+"]"+strings.TrimPrefix(rest, "[apiconnect]"))
		} else {
			n.plain = append(n.plain, l)
		}
	}
	return n
}

func (n *noise) rng(pod string) *rand.Rand {
	r, ok := n.rngs[pod]
	if !ok {
		h := fnv.New64a()
		_, _ = h.Write([]byte(pod))
		r = rand.New(rand.NewPCG(n.seed, h.Sum64()))
		n.rngs[pod] = r
	}
	return r
}

// lines returns "" or 1-2 log lines, each ending in a line end, stamped now: the tagged ones only in
// the application domain.
func (n *noise) lines(pod string, inDomain bool, now time.Time) string {
	if n == nil {
		return ""
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	r := n.rng(pod)
	if r.Float64() >= n.rate {
		return ""
	}
	pool := n.plain
	if inDomain {
		pool = append(append([]string(nil), n.plain...), n.tagged...)
	}
	var b strings.Builder
	ts := now.UTC().Format("20060102T150405.000Z")
	for range 1 + r.IntN(2) {
		l := pool[r.IntN(len(pool))]
		_, rest, _ := strings.Cut(l, " ")
		b.WriteString(ts + " " + rest + "\n")
	}
	return b.String()
}

// insert puts log lines (maybe none) at a random line boundary inside out, never before its first
// line nor after its last (those are the other two points).
func (n *noise) insert(pod string, inDomain bool, now time.Time, out string) string {
	if n == nil || strings.Count(out, "\n") < 2 {
		return out
	}
	logs := n.lines(pod, inDomain, now)
	if logs == "" {
		return out
	}
	n.mu.Lock()
	ends := []int{}
	for i := 0; i < len(out)-1; i++ {
		if out[i] == '\n' {
			ends = append(ends, i+1)
		}
	}
	at := ends[n.rng(pod).IntN(len(ends))]
	n.mu.Unlock()
	return out[:at] + logs + out[at:]
}
