package lab_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	"github.com/kubectl-apic/kubectl-apic/hack/lab/labtest"
	"github.com/kubectl-apic/kubectl-apic/hack/lab/traffic"
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

// The gateway members' version and ConfigMaps, the never-ready and wrong-version faults, and
// peering through pod restarts: what `kubectl apic rollout` is tested against.

var peeringNames = []string{"gwd", "tms", "subs", "rate-limit", "api-probe"}

func gwPod(i int) string { return fmt.Sprintf("%s-%d", lab.GatewayName, i) }

// podState is a gateway pod's UID, productVersion annotation and Ready condition.
func podState(t *testing.T, l *lab.Lab, site, pod string) (uid types.UID, version string, ready bool, ok bool) {
	t.Helper()
	s, _ := l.Site(site)
	p, err := s.Kube.CoreV1().Pods(s.Namespace).Get(context.Background(), pod, metav1.GetOptions{})
	if err != nil || p.DeletionTimestamp != nil {
		return "", "", false, false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			ready = c.Status == corev1.ConditionTrue
		}
	}
	return p.UID, p.Annotations[lab.ProductVersionAnnotation], ready, p.Status.Phase == corev1.PodRunning
}

// memberAnswer GETs a member's own API address.
func memberAnswer(t *testing.T, l *lab.Lab, site, pod string) (traffic.Answer, http.Header, error) {
	t.Helper()
	s, _ := l.Site(site)
	url := s.Traffic().MemberURL(pod)
	if url == "" {
		return traffic.Answer{}, nil, fmt.Errorf("%s serves no API traffic", pod)
	}
	c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return traffic.Answer{}, nil, err
	}
	defer resp.Body.Close()
	var a traffic.Answer
	err = json.NewDecoder(resp.Body).Decode(&a)
	return a, resp.Header, err
}

// restartPod deletes a gateway pod and waits for its replacement (new UID) to run; wantReady waits
// for Ready too.
func restartPod(t *testing.T, l *lab.Lab, site, pod string, wantReady bool) time.Duration {
	t.Helper()
	uid, _, _, _ := podState(t, l, site, pod)
	start := time.Now()
	if err := l.DeletePod(context.Background(), site, pod); err != nil {
		t.Fatal(err)
	}
	labtest.Eventually(t, 30*time.Second, pod+" recreated", func() (bool, string) {
		nu, v, ready, running := podState(t, l, site, pod)
		_, runErr := l.MemberRun(site, pod)
		return nu != uid && nu != "" && running && runErr == nil && (ready || !wantReady),
			fmt.Sprintf("uid %s version %s ready %t running %t run %v", nu, v, ready, running, runErr)
	})
	return time.Since(start)
}

func patchGateway(t *testing.T, l *lab.Lab, site string, patch map[string]interface{}) {
	t.Helper()
	s, _ := l.Site(site)
	b, _ := json.Marshal(patch)
	if _, err := s.Dynamic.Resource(apic.GatewayClusterKind.GVR()).Namespace(s.Namespace).Patch(context.Background(),
		lab.GatewayName, types.MergePatchType, b, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

var bannerVersion = regexp.MustCompile(`Version: (\S+) build 0 \(simulator\)`)

// Every gateway pod carries productVersion = spec.version; its API answer (headers and body) and its
// console banner report it.
func TestGatewayMembersReportVersion(t *testing.T) {
	l := labtest.Require(t, env)
	for i := range 3 {
		pod := gwPod(i)
		_, v, _, _ := podState(t, l, "dc1", pod)
		if v != lab.Version {
			t.Errorf("%s productVersion %q, want %q", pod, v, lab.Version)
		}
		a, h, err := memberAnswer(t, l, "dc1", pod)
		if err != nil || a.Version != lab.Version || h.Get(lab.VersionHeader) != lab.Version {
			t.Errorf("%s answer %+v headers %v err %v", pod, a, h, err)
		}
	}
	out := labtest.Attach(t, l, "dc1", gwPod(1), append(labtest.Login(t, l, "dc1"), "exit")...)
	if m := bannerVersion.FindStringSubmatch(out); m == nil || m[1] != "IDG."+lab.Version {
		t.Errorf("banner version %v, want IDG.%s", m, lab.Version)
	}
}

// A ConfigMap named in spec.additionalDomainConfig reaches a member only when it restarts.
func TestConfigMapReachesMemberOnRestart(t *testing.T) {
	l := labtest.Require(t, env)
	ctx := context.Background()
	s, _ := l.Site("dc1")
	cms := s.Kube.CoreV1().ConfigMaps(s.Namespace)
	const name = "lab-test-domain-config"
	cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name},
		Data: map[string]string{"auto-startup.cfg": "top; co; # first\n"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		patchGateway(t, l, "dc1", map[string]interface{}{"spec": map[string]interface{}{"additionalDomainConfig": nil}})
		_ = cms.Delete(context.Background(), name, metav1.DeleteOptions{})
		restartPod(t, l, "dc1", gwPod(2), true) // back to no ConfigMaps, as the lab was
		waitLabReady(t, l)
	})
	patchGateway(t, l, "dc1", map[string]interface{}{"spec": map[string]interface{}{"additionalDomainConfig": []interface{}{
		map[string]interface{}{"name": "apiconnect", "dpApp": map[string]interface{}{"config": []interface{}{name}}}}}})
	if _, h, err := memberAnswer(t, l, "dc1", gwPod(2)); err != nil || h.Get(lab.ConfigHeader) != "" {
		t.Fatalf("a running member reports ConfigMaps it never read: %q (%v)", h.Get(lab.ConfigHeader), err)
	}
	took := restartPod(t, l, "dc1", gwPod(2), true)
	t.Logf("pod restart took %s", took.Round(time.Millisecond))
	if took > 10*time.Second {
		t.Errorf("a gateway pod restart took %s in the lab, want a few seconds", took)
	}
	want := name + "=" + cm.ResourceVersion
	a, h, err := memberAnswer(t, l, "dc1", gwPod(2))
	if err != nil || h.Get(lab.ConfigHeader) != want || a.Config != want {
		t.Fatalf("after restart: header %q body %q (%v), want %q", h.Get(lab.ConfigHeader), a.Config, err, want)
	}
	cm.Data["auto-startup.cfg"] = "top; co; # second\n"
	cm, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if _, h, _ := memberAnswer(t, l, "dc1", gwPod(2)); h.Get(lab.ConfigHeader) != want {
		t.Errorf("a running member followed a ConfigMap edit: %q", h.Get(lab.ConfigHeader))
	}
	restartPod(t, l, "dc1", gwPod(2), true)
	if run, err := l.MemberRun("dc1", gwPod(2)); err != nil || run.ConfigString() != name+"="+cm.ResourceVersion {
		t.Errorf("after the second restart: %+v %v, want %s=%s", run, err, name, cm.ResourceVersion)
	}
}

// never-ready: the recreated pod runs but stays unready and down in peering until clear-faults.
func TestNeverReadyFault(t *testing.T) {
	l := labtest.Require(t, env)
	pod := gwPod(2)
	t.Cleanup(func() {
		_ = l.ClearDataPowerFaults("dc1", lab.GatewayName)
		waitLabReady(t, l)
	})
	fault(t, l, "never-ready", "dc1", pod)
	if _, _, ready, _ := podState(t, l, "dc1", pod); !ready {
		t.Fatal("the running incarnation lost its readiness")
	}
	restartPod(t, l, "dc1", pod, false)
	g, _ := l.Gateway("dc1", lab.GatewayName)
	time.Sleep(3 * time.Second) // well past the readiness delay
	if _, _, ready, running := podState(t, l, "dc1", pod); ready || !running {
		t.Fatalf("under never-ready: ready %t running %t, want running, not ready", ready, running)
	}
	out := labtest.Attach(t, l, "dc1", gwPod(0), append(labtest.Login(t, l, "dc1"), "show gateway-peering-status", "exit")...)
	if lines := peeringLine.FindAllStringSubmatch(out, -1); len(lines) != 3 || countLink(lines, "down") != 1 {
		t.Errorf("want 3 gwd members, one down:\n%s", out)
	}
	if !g.HasQuorum("gwd") {
		t.Error("2 of 3 up lost quorum")
	}
	fault(t, l, "clear-faults", "dc1", lab.GatewayName)
	labtest.Eventually(t, 20*time.Second, pod+" Ready after clear-faults", func() (bool, string) {
		_, _, ready, _ := podState(t, l, "dc1", pod)
		return ready, ""
	})
}

func countLink(lines [][]string, link string) int {
	n := 0
	for _, m := range lines {
		if m[4] == link {
			n++
		}
	}
	return n
}

// wrong-version: the next incarnation's productVersion is patched and it reports that version.
func TestWrongVersionFault(t *testing.T) {
	l := labtest.Require(t, env)
	pod := gwPod(1)
	const wrong = "10.0.7.0"
	t.Cleanup(func() {
		_ = l.ClearDataPowerFaults("dc1", lab.GatewayName)
		restartPod(t, l, "dc1", pod, true)
		waitLabReady(t, l)
	})
	fault(t, l, "wrong-version", "dc1", pod, wrong)
	if a, _, _ := memberAnswer(t, l, "dc1", pod); a.Version != lab.Version {
		t.Errorf("the running incarnation changed version: %s", a.Version)
	}
	restartPod(t, l, "dc1", pod, true)
	labtest.Eventually(t, 10*time.Second, "productVersion patched", func() (bool, string) {
		_, v, _, _ := podState(t, l, "dc1", pod)
		return v == wrong, v
	})
	a, h, err := memberAnswer(t, l, "dc1", pod)
	if err != nil || a.Version != wrong || h.Get(lab.VersionHeader) != wrong {
		t.Errorf("answer %+v headers %v (%v), want version %s", a, h, err, wrong)
	}
	out := labtest.Attach(t, l, "dc1", pod, append(labtest.Login(t, l, "dc1"), "exit")...)
	if m := bannerVersion.FindStringSubmatch(out); m == nil || m[1] != "IDG."+wrong {
		t.Errorf("banner version %v, want IDG.%s", m, wrong)
	}
	// The StatefulSet's template still says the right version: the CR is right, the pod is not.
	s, _ := l.Site("dc1")
	sts, err := s.Kube.AppsV1().StatefulSets(s.Namespace).Get(context.Background(), lab.GatewayName, metav1.GetOptions{})
	if err != nil || sts.Spec.Template.Annotations[lab.ProductVersionAnnotation] != lab.Version {
		t.Errorf("StatefulSet template productVersion: %v %v", sts.Spec.Template.Annotations, err)
	}
}

// Deleting the primary member's pod moves every peering object's primary to another up member;
// with two of three members down quorum is lost, and show gateway-peering-status shows it.
func TestPeeringThroughPodRestarts(t *testing.T) {
	l := labtest.Require(t, env)
	g, err := l.Gateway("dc1", lab.GatewayName)
	if err != nil {
		t.Fatal(err)
	}
	primary := g.Primary("gwd")
	for _, p := range peeringNames {
		if g.Primary(p) != primary {
			t.Fatalf("peering %s primary %s, gwd's %s: the lab does not start as expected", p, g.Primary(p), primary)
		}
	}
	t.Cleanup(func() {
		_ = l.ClearDataPowerFaults("dc1", lab.GatewayName)
		waitLabReady(t, l)
		// Leave the primaries where the lab starts them (pod -0, the preferred primary).
		cmds := []string{"sw apiconnect", "co"}
		for _, p := range peeringNames {
			cmds = append(cmds, "gateway-peering-switch-primary "+p)
		}
		labtest.Attach(t, l, "dc1", primary, append(labtest.Login(t, l, "dc1"), append(cmds, "exit", "exit")...)...)
	})

	t.Run("primary deleted", func(t *testing.T) {
		if err := l.DeletePod(context.Background(), "dc1", primary); err != nil {
			t.Fatal(err)
		}
		labtest.Eventually(t, 20*time.Second, "every primary off "+primary, func() (bool, string) {
			var desc []string
			ok := true
			for _, p := range peeringNames {
				now := g.Primary(p)
				desc = append(desc, p+"="+now)
				ok = ok && now != "" && now != primary
			}
			return ok, strings.Join(desc, " ")
		})
		for _, p := range peeringNames {
			if now := g.Primary(p); !g.HasQuorum(p) {
				t.Errorf("peering %s: primary %s without quorum", p, now)
			}
		}
		waitLabReady(t, l)
	})

	t.Run("two of three down", func(t *testing.T) {
		survivor := g.Primary("gwd")
		var down []string
		for i := range 3 {
			if gwPod(i) != survivor {
				down = append(down, gwPod(i))
			}
		}
		for _, pod := range down {
			fault(t, l, "never-ready", "dc1", pod)
			restartPod(t, l, "dc1", pod, false)
		}
		labtest.Eventually(t, 10*time.Second, "quorum lost", func() (bool, string) { return !g.HasQuorum("gwd"), "" })
		out := labtest.Attach(t, l, "dc1", survivor, append(labtest.Login(t, l, "dc1"),
			"sw apiconnect", "co", "show gateway-peering-status", "show gateway-peering", "gateway-peering-switch-primary gwd", "exit", "exit")...)
		lines := peeringLine.FindAllStringSubmatch(out, -1)
		if len(lines) != 3 || countLink(lines, "down") != 2 {
			t.Errorf("want 3 gwd members, 2 down:\n%s", out)
		}
		for _, want := range []string{"gateway-peering: gwd [down]", "no quorum"} {
			if !strings.Contains(out, want) {
				t.Errorf("console lacks %q:\n%s", want, out)
			}
		}
		fault(t, l, "clear-faults", "dc1", lab.GatewayName)
		labtest.Eventually(t, 20*time.Second, "quorum back", func() (bool, string) { return g.HasQuorum("gwd"), "" })
	})
}

// A version patch of the GatewayCluster rolls the StatefulSet through the real controller, highest
// ordinal first; each new pod's productVersion (and what it reports) is the new version.
func TestVersionPatchRollsGateway(t *testing.T) {
	l := labtest.Require(t, env)
	s, _ := l.Site("dc1")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel) // after the cleanup below, which rolls back with ctx
	roll := func(version string) []string {
		sel := apic.InstanceLabel + "=" + lab.GatewayName + "," + apic.KindLabel + "=" + apic.DataPowerKindValue
		list, err := s.Kube.CoreV1().Pods(s.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			t.Fatal(err)
		}
		// From the list's revision: only pods created from now on are Added.
		w, err := s.Kube.CoreV1().Pods(s.Namespace).Watch(ctx, metav1.ListOptions{LabelSelector: sel, ResourceVersion: list.ResourceVersion})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		start := time.Now()
		patchGateway(t, l, "dc1", map[string]interface{}{"spec": map[string]interface{}{"version": version}})
		var order []string
		seen := map[string]bool{}
		for len(order) < 3 {
			select {
			case <-ctx.Done():
				t.Fatalf("rolling to %s: only %v recreated", version, order)
			case ev := <-w.ResultChan():
				p, ok := ev.Object.(*corev1.Pod)
				if !ok || ev.Type != watch.Added || seen[p.Name] {
					continue
				}
				if v := p.Annotations[lab.ProductVersionAnnotation]; v != version {
					t.Errorf("new pod %s created with productVersion %q, want %q", p.Name, v, version)
				}
				seen[p.Name] = true
				order = append(order, p.Name)
			}
		}
		waitLabReady(t, l)
		t.Logf("rolled to %s in %s: %v", version, time.Since(start).Round(time.Millisecond), order)
		return order
	}
	t.Cleanup(func() { roll(lab.Version) })
	const next = "10.0.9.0"
	order := roll(next)
	if want := []string{gwPod(2), gwPod(1), gwPod(0)}; strings.Join(order, " ") != strings.Join(want, " ") {
		t.Errorf("pods recreated in order %v, want %v (highest ordinal first)", order, want)
	}
	for i := range 3 {
		pod := gwPod(i)
		labtest.Eventually(t, 10*time.Second, pod+" reports "+next, func() (bool, string) {
			run, err := l.MemberRun("dc1", pod)
			_, h, herr := memberAnswer(t, l, "dc1", pod)
			return err == nil && run.Version == next && herr == nil && h.Get(lab.VersionHeader) == next,
				fmt.Sprintf("%+v %v %v %v", run, err, h, herr)
		})
	}
}
