package failover

import (
	"cmp"
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/explain"
	"github.com/kubectl-apic/kubectl-apic/pkg/kube"
	"github.com/kubectl-apic/kubectl-apic/pkg/podstate"
)

// Pre-flight checks of the warm-standby that read the cluster (Assess judges haMode and haStatus
// only). IBM: "Do not proceed with failover if you suspect the warm-standby data center also has
// problems" (IBM: Failing over to the warm-standby, About this task). A warm-standby whose
// haStatus says its database is ready can still have most of its pods down (a zone lost): then the
// demotion would delete the active site's management data while nothing can take over. Each check
// is named; every problem of every check is reported in one refusal.

// PreflightCheck is one named check of the sites before any change.
type PreflightCheck struct {
	Name string
	// Run returns the problems found, one line each; none when the check passes.
	Run func(ctx context.Context, c CheckInput) ([]string, error)
}

// CheckInput is what a check looks at: the assessed subjects and the warm-standby's site.
type CheckInput struct {
	Req      Request
	Subjects []Subject
	To       *kube.Site
}

// PreflightChecks are the checks of the warm-standby, in the order their problems are listed.
func PreflightChecks() []PreflightCheck {
	return []PreflightCheck{
		{Name: "warm-standby phase", Run: checkTargetPhase},
		{Name: "warm-standby ready count", Run: checkTargetReadyCount},
		{Name: "warm-standby pods", Run: checkTargetPods},
	}
}

var pods = schema.GroupVersionResource{Version: "v1", Resource: "pods"}

// fresh are the subjects not yet started: only those are checked (a resumed failover has already
// demoted --from; refusing then would leave no site active).
func (c CheckInput) fresh() []Subject {
	var out []Subject
	for _, s := range c.Subjects {
		if s.Situation == Fresh {
			out = append(out, s)
		}
	}
	return out
}

// checkTargetPhase: the warm-standby's status.phase must be Running (IBM's `kubectl get mgmt`
// shows "n/n Running" on both sites when all is well). With --from fenced the peer is down on
// purpose, so Warning because of PeerNotReachable is expected.
func checkTargetPhase(_ context.Context, c CheckInput) ([]string, error) {
	var out []string
	for _, s := range c.fresh() {
		phase := s.To.Phase
		if phase == "Running" {
			continue
		}
		if c.Req.Fenced && phase == "Warning" && s.To.HAStatus.Type == apic.HAStatusPeerNotReachable {
			continue
		}
		msg := s.To.Status.Message()
		if msg != "" {
			msg = ": " + msg
		}
		out = append(out, fmt.Sprintf("%s %s on %s is phase %s, not Running%s", s.Subsystem, s.To.Name(), c.Req.To, cmp.Or(phase, "(none)"), msg))
	}
	return out, nil
}

// checkTargetReadyCount: status.ready ("7/23", the READY column) must be complete.
func checkTargetReadyCount(_ context.Context, c CheckInput) ([]string, error) {
	var out []string
	for _, s := range c.fresh() {
		ready, desired, ok := parseReady(s.To.Status.Ready())
		if ok && ready < desired {
			out = append(out, fmt.Sprintf("%s %s on %s has %d/%d ready (READY column)", s.Subsystem, s.To.Name(), c.Req.To, ready, desired))
		}
	}
	return out, nil
}

func parseReady(s string) (ready, desired int, ok bool) {
	a, b, found := strings.Cut(s, "/")
	if !found {
		return 0, 0, false
	}
	r, err1 := strconv.Atoi(strings.TrimSpace(a))
	d, err2 := strconv.Atoi(strings.TrimSpace(b))
	return r, d, err1 == nil && err2 == nil
}

// checkTargetPods: every pod of the warm-standby's subsystem (label crd.apiconnect.ibm.com/instance
// = the subsystem CR's name) must be scheduled, Running and Ready.
func checkTargetPods(ctx context.Context, c CheckInput) ([]string, error) {
	var out []string
	for _, s := range c.fresh() {
		sel := apic.InstanceLabel + "=" + s.To.Name()
		list, err := c.To.Kube.CoreV1().Pods(c.To.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return nil, explain.Error(err, c.To.Name, pods, "list")
		}
		var bad []string
		for i := range list.Items {
			if why := podProblem(&list.Items[i]); why != "" {
				bad = append(bad, list.Items[i].Name+" ("+why+")")
			}
		}
		if len(bad) == 0 {
			continue
		}
		sort.Strings(bad)
		shown := bad
		more := ""
		if len(shown) > 6 {
			shown, more = shown[:6], fmt.Sprintf(" and %d more", len(bad)-6)
		}
		out = append(out, fmt.Sprintf("%d of %d pods of %s %s on %s are not ready: %s%s (kubectl --context %s -n %s get pods -l %s)",
			len(bad), len(list.Items), s.Subsystem, s.To.Name(), c.Req.To, strings.Join(shown, ", "), more, c.Req.To, c.To.Namespace, sel))
	}
	return out, nil
}

// podProblem is why a pod is not serving, or "".
func podProblem(p *corev1.Pod) string {
	if p.Status.Phase == corev1.PodSucceeded { // a finished job's pod is not a member
		return ""
	}
	return podstate.Problem(p)
}

// runPreflightChecks runs every check and returns one refusal listing every problem, or nil.
func runPreflightChecks(ctx context.Context, in CheckInput) error {
	var problems []string
	for _, c := range PreflightChecks() {
		got, err := c.Run(ctx, in)
		if err != nil {
			return fmt.Errorf("pre-flight check %q: %w", c.Name, err)
		}
		for _, p := range got {
			problems = append(problems, c.Name+": "+p)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return refusal("the warm-standby %s is not ready to take over, so %s is not demoted (demotion deletes its management data). IBM: do not fail over if you suspect the warm-standby also has problems (IBM: Failing over to the warm-standby, About this task). Fix these first, then re-run:\n  - %s\nNothing was changed",
		in.Req.To, in.Req.From, strings.Join(problems, "\n  - "))
}
