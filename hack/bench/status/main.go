// Command status benchmarks `kubectl apic status` on a large lab site against kubectl itself:
//
//	go run ./hack/bench/status [-runs 5] [-pods 5000] [-nodes 500]
//
// It starts a lab whose sites have 500 nodes (3 zones), bulk-creates 5,000 extra pods (spec.nodeName
// set, in namespace "bench") on dc1, builds cmd/kubectl-apic-status, then runs, alternating pair by
// pair so machine drift hits both alike:
//
//   - kubectl-apic-status --context dc1 -A  vs  kubectl get mgmt,ptl,gw,a7s,pods -A --context dc1:
//     wall time (ratio must be ≤ 1) and peak RSS of ours (must be < 80 MB);
//   - kubectl-apic-status --help  vs  kubectl version --client: startup (ratio must be ≤ 0.6).
//
// Wall time is measured around the child; peak RSS is /usr/bin/time's %M (ru_maxrss). It prints the
// medians and ratios and exits 1 if a bound is missed. It needs the control plane
// (hack/control-plane.sh) and kubectl on PATH; it is a program, not a test, so CI runs it on purpose.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	"github.com/kubectl-apic/kubectl-apic/internal/testenv"
)

// Bounds from the issue.
const (
	maxWallRatio    = 1.0
	maxRSSBytes     = 80 << 20
	maxStartupRatio = 0.6
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type sample struct {
	wall time.Duration
	rss  int64 // bytes
}

func run() error {
	runs := flag.Int("runs", 5, "measured pairs for the read benchmark")
	startupRuns := flag.Int("startup-runs", 20, "measured pairs for the --help startup benchmark")
	pods := flag.Int("pods", 5000, "extra pods to create on dc1")
	nodes := flag.Int("nodes", 500, "nodes per site")
	flag.Parse()

	env, err := testenv.NewBench("apic-bench-status-", "kubectl-apic-status")
	if err != nil {
		return err
	}
	defer env.Close()
	dir, bin, kubectl := env.Dir, env.Bin["kubectl-apic-status"], env.Kubectl

	ctx := context.Background()
	start := time.Now()
	l, err := lab.Start(ctx, lab.Config{Dir: filepath.Join(dir, "lab"), Assets: env.Assets,
		Nodes: lab.DefaultNodes(*nodes, "zone-a", "zone-b", "zone-c")})
	if err != nil {
		return err
	}
	defer l.Stop()
	fmt.Printf("lab with %d nodes per site up in %s\n", *nodes, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	if err := createPods(ctx, l.Sites()[0], *pods, *nodes); err != nil {
		return err
	}
	fmt.Printf("%d extra pods created on dc1 in %s\n", *pods, time.Since(start).Round(time.Millisecond))

	kc := l.Kubeconfig()
	ours := []string{bin, "--kubeconfig", kc, "--context", "dc1", "-A"}
	theirs := []string{kubectl, "--kubeconfig", kc, "--context", "dc1", "get", "mgmt,ptl,gw,a7s,pods", "-A"}
	a, b, err := pairs(*runs, ours, theirs)
	if err != nil {
		return err
	}
	help := []string{bin, "--help"}
	version := []string{kubectl, "version", "--client"}
	h, v, err := pairs(*startupRuns, help, version)
	if err != nil {
		return err
	}

	wallRatio := medianRatio(a, b)
	startupRatio := medianRatio(h, v)
	rss := maxRSS(a)
	fmt.Printf("\n%-58s %10s %10s\n", "command", "wall p50", "max RSS")
	fmt.Printf("%-58s %10s %8.1fMB\n", "kubectl-apic-status --context dc1 -A", median(a).Round(time.Millisecond), mb(rss))
	fmt.Printf("%-58s %10s %8.1fMB\n", "kubectl get mgmt,ptl,gw,a7s,pods -A --context dc1", median(b).Round(time.Millisecond), mb(maxRSS(b)))
	fmt.Printf("%-58s %10s %8.1fMB\n", "kubectl-apic-status --help", median(h).Round(time.Millisecond), mb(maxRSS(h)))
	fmt.Printf("%-58s %10s %8.1fMB\n", "kubectl version --client", median(v).Round(time.Millisecond), mb(maxRSS(v)))
	fmt.Println()
	ok := true
	check := func(name string, pass bool, format string, args ...any) {
		verdict := "PASS"
		if !pass {
			verdict, ok = "FAIL", false
		}
		fmt.Printf("%-4s %-34s %s\n", verdict, name, fmt.Sprintf(format, args...))
	}
	check("wall vs kubectl get", wallRatio <= maxWallRatio, "median ratio %.2f (bound %.2f)", wallRatio, maxWallRatio)
	check("peak RSS", rss < maxRSSBytes, "%.1f MB (bound %d MB)", mb(rss), maxRSSBytes>>20)
	check("--help vs kubectl version --client", startupRatio <= maxStartupRatio, "median ratio %.2f (bound %.2f)", startupRatio, maxStartupRatio)
	if !ok {
		return fmt.Errorf("a bound was missed")
	}
	return nil
}

// createPods bulk-creates n pods pinned to the lab's nodes (spec.nodeName), 32 at a time.
func createPods(ctx context.Context, s *lab.Site, n, nodes int) error {
	const ns = "bench"
	if _, err := s.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	work := make(chan int)
	errs := make(chan error, 32)
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				p := &corev1.Pod{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-%05d", i), Namespace: ns,
						Labels: map[string]string{"app.kubernetes.io/name": "bench"}},
					Spec: corev1.PodSpec{NodeName: fmt.Sprintf("node-%d", i%nodes+1),
						Containers: []corev1.Container{{Name: "c", Image: "sim.local/bench:1"}}},
				}
				if _, err := s.Kube.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// pairs runs a and b alternately, one warm-up pair first.
func pairs(n int, a, b []string) ([]sample, []sample, error) {
	var as, bs []sample
	for i := 0; i <= n; i++ {
		sa, err := measure(a)
		if err != nil {
			return nil, nil, err
		}
		sb, err := measure(b)
		if err != nil {
			return nil, nil, err
		}
		if i > 0 {
			as, bs = append(as, sa), append(bs, sb)
		}
	}
	return as, bs, nil
}

// measure runs argv under /usr/bin/time with output discarded; exit codes 0-7 are verdicts of our
// command, not failures. Peak RSS comes from /usr/bin/time (%M, the grandchild's ru_maxrss): the
// child's own getrusage would be wrong here, since Linux carries the parent's RSS high-water mark
// across the vfork+exec Go uses, and this process hosts the lab.
func measure(argv []string) (sample, error) {
	f, err := os.CreateTemp("", "bench-rss-")
	if err != nil {
		return sample{}, err
	}
	f.Close()
	defer os.Remove(f.Name())
	cmd := exec.Command("/usr/bin/time", append([]string{"-f", "%M", "-o", f.Name()}, argv...)...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	if err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() > 7 {
			return sample{}, fmt.Errorf("%v: %w", argv, err)
		}
	}
	out, err := os.ReadFile(f.Name())
	if err != nil {
		return sample{}, err
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	kb, err := strconv.ParseInt(strings.TrimSpace(lines[len(lines)-1]), 10, 64)
	if err != nil {
		return sample{}, fmt.Errorf("/usr/bin/time output %q: %w", out, err)
	}
	return sample{wall: wall, rss: kb * 1024}, nil
}

func median(s []sample) time.Duration {
	d := make([]time.Duration, len(s))
	for i, x := range s {
		d[i] = x.wall
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2]
}

// medianRatio is the median of the pairwise ratios a[i]/b[i].
func medianRatio(a, b []sample) float64 {
	r := make([]float64, len(a))
	for i := range a {
		r[i] = float64(a[i].wall) / float64(b[i].wall)
	}
	sort.Float64s(r)
	return r[len(r)/2]
}

func maxRSS(s []sample) int64 {
	var m int64
	for _, x := range s {
		m = max(m, x.rss)
	}
	return m
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }
