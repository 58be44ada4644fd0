// Command probe benchmarks pkg/probe itself: its CPU (share of one core) and memory at a given
// request rate, and the precision of its failure count against the ground truth (what the server
// sent) and against a plain client loop.
//
//	go run ./hack/bench/probe                          # 50 and 500 requests/s, 20 s each
//	go run ./hack/bench/probe -rates 50 -duration 60s
//
// The server runs in a child process (this binary, re-executed with -serve) so that the CPU this
// process uses is the probe's (and the plain loop's, which runs only in the precision phase). The
// server answers after 5 ms; it answers 503 to one request in 20 and cuts the connection of one in
// 50 without answering, and counts both per client (header X-Bench-Client).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/kubectl-apic/kubectl-apic/pkg/probe"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run() error {
	serve := flag.Bool("serve", false, "run the benchmark's server (internal)")
	rates := flag.String("rates", "50,500", "request rates to measure, comma-separated")
	duration := flag.Duration("duration", 20*time.Second, "how long each rate is measured")
	flag.Parse()
	if *serve {
		return runServer()
	}
	srv, url, counts, err := startServer()
	if err != nil {
		return err
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	fmt.Printf("probe benchmark: %s per rate, server %s (5 ms answers, 1/20 503, 1/50 cut), GOMAXPROCS %d\n\n",
		*duration, url, runtime.GOMAXPROCS(0))
	fmt.Printf("%-8s %-10s %-10s %-12s %-12s %-10s %-10s %-10s\n", "RATE", "REQUESTS", "CPU/CORE", "HEAP(MAX)", "RSS(MAX)", "FAILED", "SERVER", "PRECISION")
	for _, f := range strings.Split(*rates, ",") {
		rate, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return fmt.Errorf("-rates %q: %w", f, err)
		}
		if err := measure(rate, *duration, url, counts); err != nil {
			return err
		}
	}
	fmt.Println()
	return precision(url, counts, *duration)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func maxRSS() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss * 1024
}

// measure runs the probe alone at rate and prints its cost and its count against the server's.
func measure(rate float64, d time.Duration, url string, counts func(client string) (int64, int64)) error {
	client := fmt.Sprintf("probe-%g", rate)
	o := probe.Options{URLs: []string{url}, Rate: rate, ExpectStatus: 200, Timeout: 2 * time.Second,
		Headers: []string{"X-Bench-Client: " + client}, MaxErrorRate: -1}
	var maxHeap atomic.Uint64
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > maxHeap.Load() {
				maxHeap.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	startCPU, start := cpuTime(), time.Now()
	p, err := probe.Start(context.Background(), o, probe.Config{})
	if err != nil {
		return err
	}
	p.Phase("bench", "run")
	time.Sleep(d)
	sum := p.Stop()
	cpu, wall := cpuTime()-startCPU, time.Since(start)
	close(stop)
	total, failed := 0, 0
	for _, r := range sum.Rows {
		total += r.Requests
		failed += r.Failed
	}
	_, serverFailed := counts(client)
	fmt.Printf("%-8g %-10d %-10s %-12s %-12s %-10d %-10d %-10s\n", rate, total,
		fmt.Sprintf("%.1f%%", 100*cpu.Seconds()/wall.Seconds()), mib(maxHeap.Load()), mib(uint64(maxRSS())),
		failed, serverFailed, ratio(failed, serverFailed))
	return nil
}

// precision runs the probe and a plain client loop side by side at the same rate.
func precision(url string, counts func(string) (int64, int64), d time.Duration) error {
	const rate = 50
	o := probe.Options{URLs: []string{url}, Rate: rate, ExpectStatus: 200, Timeout: 2 * time.Second,
		Headers: []string{"X-Bench-Client: probe-side"}, MaxErrorRate: -1}
	p, err := probe.Start(context.Background(), o, probe.Config{})
	if err != nil {
		return err
	}
	var loopReq, loopFailed atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		t := time.NewTicker(time.Second / rate)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("X-Bench-Client", "loop-side")
			loopReq.Add(1)
			resp, err := c.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			if err != nil || resp.StatusCode != 200 {
				loopFailed.Add(1)
			}
		}
	}()
	time.Sleep(d)
	close(done)
	wg.Wait()
	sum := p.Stop()
	pf, pr := 0, 0
	for _, r := range sum.Rows {
		pr += r.Requests
		pf += r.Failed
	}
	_, sp := counts("probe-side")
	_, sl := counts("loop-side")
	fmt.Printf("side by side at %d requests/s for %s:\n", rate, d)
	fmt.Printf("  probe:      %d requests, %d failed; server failed %d of them (precision %s)\n", pr, pf, sp, ratio(pf, sp))
	fmt.Printf("  plain loop: %d requests, %d failed; server failed %d of them (precision %s)\n", loopReq.Load(), loopFailed.Load(), sl, ratio(int(loopFailed.Load()), sl))
	return nil
}

func ratio(counted int, truth int64) string {
	if truth == 0 {
		return "-"
	}
	return fmt.Sprintf("%.4f", float64(counted)/float64(truth))
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// startServer re-executes this binary as the server and returns a function reading its counts.
func startServer() (*exec.Cmd, string, func(string) (int64, int64), error) {
	self, err := os.Executable()
	if err != nil {
		return nil, "", nil, err
	}
	cmd := exec.Command(self, "-serve")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return nil, "", nil, fmt.Errorf("server: %w", err)
	}
	url := strings.TrimSpace(line)
	counts := func(client string) (int64, int64) {
		resp, err := http.Get(url + "/counts?client=" + client)
		if err != nil {
			return -1, -1
		}
		defer resp.Body.Close()
		var c [2]int64
		_ = json.NewDecoder(resp.Body).Decode(&c)
		return c[0], c[1]
	}
	return cmd, url, counts, nil
}

func runServer() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	var mu sync.Mutex
	seen, failed := map[string]int64{}, map[string]int64{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/counts" {
			c := r.URL.Query().Get("client")
			mu.Lock()
			_ = json.NewEncoder(w).Encode([2]int64{seen[c], failed[c]})
			mu.Unlock()
			return
		}
		c := r.Header.Get("X-Bench-Client")
		time.Sleep(5 * time.Millisecond)
		n := rand.IntN(100)
		mu.Lock()
		seen[c]++
		if n < 7 {
			failed[c]++
		}
		mu.Unlock()
		switch {
		case n < 2: // cut: close the connection without an answer
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					_ = conn.Close()
					return
				}
			}
			w.WriteHeader(http.StatusBadGateway)
		case n < 7:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	fmt.Println("http://" + ln.Addr().String())
	return (&http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}).Serve(ln)
}
