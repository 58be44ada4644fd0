// Command spread benchmarks `kubectl apic spread check` against `kubectl get pods -A` on one lab
// site with 500 nodes in 3 zones and 5,000 API Connect pods bound to them. check lists the nodes
// (metadata only) and the namespace's API Connect pods once each, so it should take no longer than
// kubectl's own listing of every pod.
//
//	go run ./hack/bench/spread                  # start the lab, time both commands, print the ratio
//	go run ./hack/bench/spread -hold            # ... then keep the lab up and print how to time it yourself
//
// It runs the commands as subprocesses, alternately, and prints each one's median wall time.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	"github.com/kubectl-apic/kubectl-apic/internal/testenv"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run() error {
	nodes := flag.Int("nodes", 500, "nodes (in 3 zones)")
	pods := flag.Int("pods", 5000, "API Connect pods, bound round-robin to the nodes")
	runs := flag.Int("runs", 5, "timed runs of each command")
	hold := flag.Bool("hold", false, "keep the lab running after the benchmark until interrupted")
	kubectl := flag.String("kubectl", "/usr/bin/kubectl", "kubectl binary")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	assets, err := testenv.Assets()
	if err != nil {
		return err
	}
	root, err := testenv.ModuleRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "spread-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	bin := filepath.Join(dir, "kubectl-apic-spread")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/kubectl-apic-spread")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building the plugin: %w", err)
	}

	start := time.Now()
	l, err := lab.Start(ctx, lab.Config{Dir: dir, Assets: assets, Sites: []string{"dc1"}, Empty: true, NoBusyNodes: true,
		Nodes: lab.DefaultNodes(*nodes, "zone-a", "zone-b", "zone-c")})
	if err != nil {
		return err
	}
	defer l.Stop()
	fmt.Fprintf(os.Stderr, "lab with %d nodes up in %s\n", *nodes, time.Since(start).Round(time.Millisecond))
	s := l.Sites()[0]
	start = time.Now()
	if err := createPods(ctx, s.Kube, s.Namespace, *nodes, *pods); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%d pods created in %s\n", *pods, time.Since(start).Round(time.Millisecond))

	kc := l.Kubeconfig()
	ours := []string{bin, "check", "--subsystem", "all", "--kubeconfig", kc, "--context", "dc1", "-n", s.Namespace}
	theirs := []string{*kubectl, "get", "pods", "-A", "--kubeconfig", kc, "--context", "dc1"}
	// Warm up both (and show that check sees every pod).
	out, _ := exec.CommandContext(ctx, ours[0], append(ours[1:], "-o", "json")...).Output()
	fmt.Fprintf(os.Stderr, "check -o json: %d bytes\n", len(out))
	if _, err := exec.CommandContext(ctx, theirs[0], theirs[1:]...).Output(); err != nil {
		return fmt.Errorf("kubectl get pods -A: %w", err)
	}
	var a, b []time.Duration
	for i := 0; i < *runs; i++ {
		da, err := timeIt(ctx, ours)
		if err != nil {
			return err
		}
		db, err := timeIt(ctx, theirs)
		if err != nil {
			return err
		}
		a, b = append(a, da), append(b, db)
	}
	ma, mb := median(a), median(b)
	fmt.Printf("nodes=%d pods=%d runs=%d\n", *nodes, *pods, *runs)
	fmt.Printf("kubectl apic spread check   median %v  (all: %v)\n", ma.Round(time.Millisecond), rounded(a))
	fmt.Printf("kubectl get pods -A         median %v  (all: %v)\n", mb.Round(time.Millisecond), rounded(b))
	fmt.Printf("ratio check / get pods -A = %.2f\n", float64(ma)/float64(mb))

	if *hold {
		fmt.Printf("\nlab held; time it yourself:\n  %s\n  %s\nCtrl-C to stop\n", strings.Join(ours, " "), strings.Join(theirs, " "))
		<-ctx.Done()
	}
	return nil
}

// createPods creates n pods bound to the nodes round-robin: gateway peer groups of 3 (kind=datapower)
// and management microservices of 3 replicas, as API Connect's operator labels them.
func createPods(ctx context.Context, kube kubernetes.Interface, ns string, nodes, n int) error {
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for i := 0; i < n; i++ {
		g.Go(func() error {
			group := i / 3
			labels := map[string]string{apic.InstanceLabel: fmt.Sprintf("gw-%d", group), apic.KindLabel: apic.DataPowerKindValue}
			if group%2 == 1 {
				labels = map[string]string{apic.InstanceLabel: fmt.Sprintf("mgmt-%d", group), apic.KindLabel: string(apic.Management),
					"app.kubernetes.io/name": "apim"}
			}
			p := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-%d", i), Namespace: ns, Labels: labels},
				Spec: corev1.PodSpec{
					NodeName: fmt.Sprintf("node-%d", i%nodes+1),
					Containers: []corev1.Container{{Name: "c", Image: "sim.local/bench:1",
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1m")}}}},
				},
			}
			_, err := kube.CoreV1().Pods(ns).Create(gctx, p, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				err = nil
			}
			return err
		})
	}
	return g.Wait()
}

func timeIt(ctx context.Context, argv []string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() != 1 {
		err = nil // check's health codes (3 Degraded, 4 Critical) are results, not failures
	}
	if err != nil {
		return d, fmt.Errorf("%s: %w", strings.Join(argv[:2], " "), err)
	}
	return d, nil
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration{}, ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func rounded(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}
