// Command latency benchmarks our commands under a round-trip time between the workstation and the
// sites' kube-apiservers (the lab's latency fault: hack/lab/latency.go), against kubectl doing the
// same reads:
//
//	go run ./hack/bench/latency [-rtt 100ms] [-sites dc1,dc2] [-runs 5] [-failover real|dry-run|none] [-only REGEXP]
//
// It starts the two-site lab (subsystem CRs, one 3-member gateway), builds kubectl-apic-status,
// -drr and -failover, puts the latency proxy in front of the -sites apiservers and runs every
// command first at a round-trip time of 0 (through the proxy, undelayed) and then at -rtt,
// alternating ours and kubectl pair by pair:
//
//   - status: kubectl-apic-status --context dc1 --peer-context dc2, against
//     kubectl get apiconnectcluster,mgmt,ptl,a7s,gw,dp,pods,nodes on each site (two kubectl runs);
//   - status --peering: the same, and every member's peering through pods/attach, against the
//     same kubectl get and, per site, kubectl get secret and kubectl attach -i to each member with
//     the console commands (login, show gateway-peering-status, exit);
//   - drr --status (read-only peering of dc1's members) against kubectl get gw, get pods and the
//     same console reads on dc1;
//   - drr (a whole DRR, ours only: there is no kubectl equivalent);
//   - failover --dry-run against kubectl get mgmt,ptl -o yaml on each site;
//   - failover dc1→dc2 and back (ours only) with -failover real.
//
// For each it prints the median wall time at both round-trip times, and at -rtt the HTTP requests
// (client-go's -v=6 request lines, kubectl's and ours alike; our attach streams are not among
// them), and what the proxy saw: connections (each a TCP and TLS handshake) and exchanges
// (request→response flights; requests sent together on one connection count once). The last
// column, (fastest wall at -rtt − fastest wall at 0) / rtt, is how many round trips the command
// waited for one after the other. README.md beside this file holds a run's figures.
//
// It needs the control plane (hack/control-plane.sh) and kubectl on PATH; it is a program, not a
// test.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	"github.com/kubectl-apic/kubectl-apic/internal/testenv"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// step is one process a user runs; stdin is what they would type (a console script).
type step struct {
	argv  []string
	stdin string
}

// scenario is one row pair: our command and kubectl's reads of the same information (nil: ours only).
type scenario struct {
	name   string
	ours   func(i int) []step
	theirs func(i int) []step
	runs   int // 0: -runs
	// noWarmup: the command changes the lab (a failover), so a warm-up run would too.
	noWarmup bool
}

// sample is one run of a scenario side.
type sample struct {
	wall     time.Duration
	requests int
	proxy    lab.LatencyStats
}

type bench struct {
	l       *lab.Lab
	sites   []string
	kubectl string
	debug   bool
}

func run() error {
	rtt := flag.Duration("rtt", 100*time.Millisecond, "round-trip time between the workstation and each of -sites")
	sitesFlag := flag.String("sites", "dc1,dc2", "sites behind the latency proxy")
	runs := flag.Int("runs", 5, "measured pairs per command and round-trip time")
	failover := flag.String("failover", "real", "real: fail over dc1→dc2 and back; dry-run: only the --dry-run row; none")
	debug := flag.Bool("debug", false, "print each run's request lines")
	only := flag.String("only", "", "run only the commands whose row name matches this regular expression")
	flag.Parse()
	if *failover != "real" && *failover != "dry-run" && *failover != "none" {
		return fmt.Errorf("-failover must be real, dry-run or none")
	}

	env, err := testenv.NewBench("apic-bench-latency-", "kubectl-apic-status", "kubectl-apic-drr", "kubectl-apic-failover")
	if err != nil {
		return err
	}
	defer env.Close()

	ctx := context.Background()
	start := time.Now()
	l, err := lab.Start(ctx, lab.Config{Dir: filepath.Join(env.Dir, "lab"), Assets: env.Assets})
	if err != nil {
		return err
	}
	defer l.Stop()
	fmt.Fprintf(os.Stderr, "lab up in %s\n", time.Since(start).Round(time.Millisecond))
	b := &bench{l: l, sites: strings.Split(*sitesFlag, ","), kubectl: env.Kubectl, debug: *debug}
	for _, s := range b.sites {
		if err := l.SetLatency(s, 0); err != nil {
			return err
		}
	}
	scenarios, err := b.scenarios(env.Bin, *failover)
	if err != nil {
		return err
	}
	if *only != "" {
		re, err := regexp.Compile(*only)
		if err != nil {
			return fmt.Errorf("-only: %w", err)
		}
		scenarios = slices.DeleteFunc(scenarios, func(sc scenario) bool { return !re.MatchString(sc.name) })
	}

	type row struct {
		name, side string
		at         map[time.Duration][]sample
	}
	var rows []*row
	for _, sc := range scenarios {
		ours := &row{name: sc.name, side: "ours", at: map[time.Duration][]sample{}}
		rows = append(rows, ours)
		var theirs *row
		if sc.theirs != nil {
			theirs = &row{name: sc.name, side: "kubectl", at: map[time.Duration][]sample{}}
			rows = append(rows, theirs)
		}
		n := sc.runs
		if n == 0 {
			n = *runs
		}
		for _, d := range []time.Duration{0, *rtt} {
			for _, s := range b.sites {
				if err := l.SetLatency(s, d); err != nil {
					return err
				}
			}
			first := 1
			if sc.noWarmup {
				first = 0
			}
			for i := first - 1; i < n; i++ {
				a, err := b.measure(sc.name+" (ours)", sc.ours(i))
				if err != nil {
					return err
				}
				if i >= 0 {
					ours.at[d] = append(ours.at[d], a)
				}
				if theirs == nil {
					continue
				}
				k, err := b.measure(sc.name+" (kubectl)", sc.theirs(i))
				if err != nil {
					return err
				}
				if i >= 0 {
					theirs.at[d] = append(theirs.at[d], k)
				}
			}
			fmt.Fprintf(os.Stderr, "%s at rtt %s: done\n", sc.name, d)
		}
	}

	fmt.Printf("Round-trip time %s to %s (one-way delay %s each direction); medians of %d runs (failover: one each way);\n"+
		"round trips waited: (fastest wall at %[1]s - fastest at 0) / %[1]s.\n\n",
		*rtt, strings.Join(b.sites, " and "), *rtt/2, *runs)
	// A Markdown table, as README.md quotes it.
	fmt.Printf("| command | by | wall rtt=0 | wall rtt=%s | HTTP requests | connections | exchanges | round trips waited |\n", *rtt)
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		z, d := r.at[0], r.at[*rtt]
		wz, wd := medianWall(z), medianWall(d)
		// The least disturbed runs (the fastest) give the delay's cost on a shared machine.
		mz, md := minWall(z), minWall(d)
		fmt.Printf("| %s | %s | %s | %s | %d | %d | %d | %.1f |\n", r.name, r.side, wz.Round(time.Millisecond), wd.Round(time.Millisecond),
			medianInt(d, func(s sample) int64 { return int64(s.requests) }),
			medianInt(d, func(s sample) int64 { return s.proxy.Connections }),
			medianInt(d, func(s sample) int64 { return s.proxy.Exchanges }),
			float64(md-mz)/float64(*rtt))
	}
	return nil
}

// scenarios are the rows, with the lab's names.
func (b *bench) scenarios(bins map[string]string, failover string) ([]scenario, error) {
	kc := b.l.Kubeconfig()
	ns := "apic"
	kubectl := func(site string, args ...string) step {
		return step{argv: append([]string{b.kubectl, "--kubeconfig", kc, "--context", site, "-n", ns}, args...)}
	}
	ours := func(bin string, args ...string) step {
		return step{argv: append([]string{bins[bin], "--kubeconfig", kc}, args...)}
	}
	one := func(s ...step) func(int) []step { return func(int) []step { return s } }

	// consoleReads is what a user runs to read a site's gateway peering by hand: the admin
	// password from the Secret, then at each member's console (kubectl attach -i) a login,
	// show gateway-peering-status and exit.
	consoleReads := func(site string) ([]step, error) {
		g, err := b.l.Gateway(site, lab.GatewayName)
		if err != nil {
			return nil, err
		}
		s, err := b.l.Site(site)
		if err != nil {
			return nil, err
		}
		console := strings.Join([]string{"admin", s.AdminPassword, "switch apiconnect", "show gateway-peering-status", "exit"}, "\n") + "\n"
		steps := []step{kubectl(site, "get", "secret", lab.AdminSecretName, "-o", "jsonpath={.data.password}")}
		for _, m := range g.Members() {
			a := kubectl(site, "attach", "-i", m)
			a.stdin = console
			steps = append(steps, a)
		}
		return steps, nil
	}
	dc1Console, err := consoleReads("dc1")
	if err != nil {
		return nil, err
	}
	dc2Console, err := consoleReads("dc2")
	if err != nil {
		return nil, err
	}
	drrReads := append([]step{kubectl("dc1", "get", "gw", lab.GatewayName), kubectl("dc1", "get", "pods")}, dc1Console...)
	get := "apiconnectcluster,mgmt,ptl,a7s,gw,dp,pods,nodes"
	out := []scenario{
		{name: "status", ours: one(ours("kubectl-apic-status", "--context", "dc1", "--peer-context", "dc2")),
			theirs: one(kubectl("dc1", "get", get), kubectl("dc2", "get", get))},
		{name: "status --peering", ours: one(ours("kubectl-apic-status", "--context", "dc1", "--peer-context", "dc2", "--peering")),
			theirs: one(slices.Concat([]step{kubectl("dc1", "get", get), kubectl("dc2", "get", get)}, dc1Console, dc2Console)...)},
		{name: "drr --status", ours: one(ours("kubectl-apic-drr", "--context", "dc1", "-n", ns, lab.GatewayName, "--status")),
			theirs: one(drrReads...)},
		{name: "drr (whole)", ours: one(ours("kubectl-apic-drr", "--context", "dc1", "-n", ns, lab.GatewayName, "--yes",
			"--poll-interval", "50ms", "--registration-timeout", "30s"))},
	}
	if failover != "none" {
		out = append(out, scenario{name: "failover --dry-run",
			ours:   one(ours("kubectl-apic-failover", "--from", "dc1", "--to", "dc2", "--dry-run")),
			theirs: one(kubectl("dc1", "get", "mgmt,ptl", "-o", "yaml"), kubectl("dc2", "get", "mgmt,ptl", "-o", "yaml"))})
	}
	if failover == "real" {
		out = append(out, scenario{name: "failover (real)", runs: 2, noWarmup: true, ours: func(i int) []step {
			from, to := "dc1", "dc2"
			if i%2 == 1 {
				from, to = to, from
			}
			return []step{ours("kubectl-apic-failover", "--from", from, "--to", to, "--yes", "--progress=plain")}
		}})
	}
	return out, nil
}

// requestLine matches client-go's -v=6 request lines: kubectl 1.32's `GET https://... 200 OK in
// 3 milliseconds` and the structured `"Response" verb="GET" url=...` of newer client-go.
var requestLine = regexp.MustCompile(`round_trippers\.go:\d+\] (?:(?:GET|POST|PUT|PATCH|DELETE|HEAD) https?://|"Response" verb=)`)

// measure runs the steps one after the other with -v=6 and returns their total wall time, their
// request lines and what the proxies counted meanwhile. Exit codes 0-7 are our commands' verdicts.
func (b *bench) measure(name string, steps []step) (sample, error) {
	before, err := b.proxyStats()
	if err != nil {
		return sample{}, err
	}
	var s sample
	for _, st := range steps {
		cmd := exec.Command(st.argv[0], append(st.argv[1:], "-v=6")...)
		cmd.Stdin = strings.NewReader(st.stdin)
		var errOut bytes.Buffer
		cmd.Stderr = &errOut
		begin := time.Now()
		err := cmd.Run()
		s.wall += time.Since(begin)
		if err != nil {
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() > 7 {
				return sample{}, fmt.Errorf("%s: %s: %w\n%s", name, filepath.Base(st.argv[0]), err, tailLines(errOut.String(), 20))
			}
		}
		lines := requestLine.FindAllString(errOut.String(), -1)
		s.requests += len(lines)
		if b.debug {
			fmt.Fprintf(os.Stderr, "%s %s %v: %d requests, %s\n", name, filepath.Base(st.argv[0]), st.argv[3:], len(lines), time.Since(begin).Round(time.Millisecond))
			for _, l := range strings.Split(errOut.String(), "\n") {
				if requestLine.MatchString(l) {
					fmt.Fprintln(os.Stderr, "   ", l)
				}
			}
		}
	}
	after, err := b.proxyStats()
	if err != nil {
		return sample{}, err
	}
	s.proxy = after.Sub(before)
	return s, nil
}

// proxyStats sums the proxies' counters.
func (b *bench) proxyStats() (lab.LatencyStats, error) {
	var sum lab.LatencyStats
	for _, site := range b.sites {
		st, err := b.l.LatencyStats(site)
		if err != nil {
			return sum, err
		}
		sum.Connections += st.Connections
		sum.Exchanges += st.Exchanges
		sum.BytesUp += st.BytesUp
		sum.BytesDown += st.BytesDown
	}
	return sum, nil
}

func medianWall(s []sample) time.Duration {
	return time.Duration(medianInt(s, func(x sample) int64 { return int64(x.wall) }))
}

func minWall(s []sample) time.Duration {
	if len(s) == 0 {
		return 0
	}
	m := s[0].wall
	for _, x := range s[1:] {
		m = min(m, x.wall)
	}
	return m
}

func medianInt(s []sample, f func(sample) int64) int64 {
	if len(s) == 0 {
		return 0
	}
	v := make([]int64, len(s))
	for i, x := range s {
		v[i] = f(x)
	}
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	return v[len(v)/2]
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
