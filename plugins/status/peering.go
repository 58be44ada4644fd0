package status

import (
	"context"
	"errors"
	"fmt"
	"golang.org/x/sync/errgroup"
	"sort"
	"strings"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/datapower"
	pdrr "github.com/kubectl-apic/kubectl-apic/pkg/drr"
	"github.com/kubectl-apic/kubectl-apic/pkg/explain"
	"github.com/kubectl-apic/kubectl-apic/pkg/hastate"
	"github.com/kubectl-apic/kubectl-apic/pkg/inventory"
	"github.com/kubectl-apic/kubectl-apic/pkg/kube"
)

// Finding codes of --peering about kubectl apic drr.
const (
	FindingDRRUnfinished          = "DRRUnfinished"
	FindingGatewayServiceDisabled = "GatewayServiceDisabled"
	FindingDRRInProgress          = "DRRInProgress"
	FindingDRRUnknown             = "DRRJournalUnreadable"
)

// peeringCommandTimeout bounds each CLI step of --peering.
const peeringCommandTimeout = 20 * time.Second

// readMember opens one gateway member (attach to the container kubectl attach would pick, log in,
// switch to the peering domain: datapower.Opener), reads its gateway-peering status and its
// apic-gw-service admin-state (a member left disabled by a DRR), and detaches (never Ctrl-D). It
// changes nothing.
func readMember(ctx context.Context, open *datapower.Opener, target datapower.AttachTarget) PeeringRead {
	sess, err := open.Open(ctx, target)
	if err != nil {
		return PeeringRead{Err: err}
	}
	defer func() { _ = sess.Close() }()
	rd := PeeringRead{}
	if rd.Statuses, rd.Err = sess.ReadPeeringStatus(ctx); rd.Err != nil {
		return rd
	}
	if gs, err := sess.ReadGatewayService(ctx); err == nil {
		rd.AdminState = gs.AdminState
	}
	return rd
}

// DRRRead is a gateway's DRR journal (the lease kubectl apic drr keeps), or why it could not be read.
type DRRRead struct {
	Journal pdrr.Journal
	Err     error
}

// readPeering reads every member of every gateway in snap, peeringConcurrency consoles at a time.
// Of each gateway one member logs in first, as drr does: DataPower locks an account after a few
// failed logins, so a wrong Secret costs one failed login per gateway, not one per member.
func (o *Options) readPeering(ctx context.Context, s *kube.Site, snap *inventory.Snapshot, drr map[string]DRRRead) map[string]map[string]PeeringRead {
	out := map[string]map[string]PeeringRead{}
	var mu sync.Mutex
	set := func(key, pod string, rd PeeringRead) {
		mu.Lock()
		defer mu.Unlock()
		out[key][pod] = rd
	}
	gws := o.peeringTargets(ctx, s, snap, drr, func(key string) { out[key] = map[string]PeeringRead{} }, set)
	// Every gateway at once, its first member alone first (datapower.FirstThenRest); at most
	// peeringConcurrency consoles open over all gateways.
	slots := make(chan struct{}, peeringConcurrency)
	var g errgroup.Group
	for _, gw := range gws {
		g.Go(func() error {
			var first error // the first member's error: read(0) runs in this goroutine
			if !datapower.FirstThenRest(ctx, len(gw.targets), 0, func(ctx context.Context, i int) bool {
				slots <- struct{}{}
				defer func() { <-slots }()
				rd := readMember(ctx, gw.open, gw.targets[i])
				set(gw.key, gw.targets[i].Pod, rd)
				if i == 0 {
					first = rd.Err
				}
				return errors.Is(rd.Err, datapower.ErrLoginFailed)
			}) {
				for _, t := range gw.targets[1:] {
					set(gw.key, t.Pod, PeeringRead{Err: fmt.Errorf("not tried: the login was rejected on %s (%w)", gw.targets[0].Pod, first)})
				}
			}
			return nil
		})
	}
	_ = g.Wait()
	return out
}

// peeringTarget is a gateway whose members status --peering reads: how to open their consoles and
// which members are running.
type peeringTarget struct {
	key     string
	open    *datapower.Opener
	targets []datapower.AttachTarget
}

// peeringTargets finds, for every gateway in snap, its admin credentials and the members that can be
// read; set records why the others cannot (no Secret, not running, no datapower container).
func (o *Options) peeringTargets(ctx context.Context, s *kube.Site, snap *inventory.Snapshot, drr map[string]DRRRead,
	newGateway func(key string), set func(key, pod string, rd PeeringRead)) []peeringTarget {
	var gws []peeringTarget
	for _, gw := range snap.ObjectsOf(apic.GatewayClusterKind) {
		key := gw.Namespace() + "/" + gw.Name()
		newGateway(key)
		if drr[key].Journal.InProgress() {
			continue // a DRR drives these consoles now: typing into them would interleave with it
		}
		secret := datapower.AdminSecret{Namespace: gw.Namespace(), Name: gw.AdminSecretName(), Gateway: gw.Name(), Keys: o.Admin}
		creds, err := datapower.ReadAdminCredentials(ctx, s.Kube, s.Name, secret)
		open := &datapower.Opener{
			Attach: func(ctx context.Context, t datapower.AttachTarget) (datapower.Conn, error) {
				return o.Attach(ctx, s, t)
			},
			Credentials: creds, Domain: o.PeeringDomain,
			Options: datapower.Options{CommandTimeout: peeringCommandTimeout, LoginFailureMessage: secret.LoginFailureMessage()},
		}
		var targets []datapower.AttachTarget
		for _, p := range gatewayPods(snap, gw) {
			switch container, cerr := datapower.ContainerFor(&p); {
			case err != nil:
				set(key, p.Name, PeeringRead{Err: err})
			case p.Status.Phase != corev1.PodRunning:
				set(key, p.Name, PeeringRead{Err: fmt.Errorf("pod is %s", p.Status.Phase)})
			case cerr != nil:
				set(key, p.Name, PeeringRead{Err: cerr})
			default:
				targets = append(targets, datapower.AttachTarget{Namespace: p.Namespace, Pod: p.Name, Container: container})
			}
		}
		if len(targets) > 0 {
			gws = append(gws, peeringTarget{key, open, targets})
		}
	}
	return gws
}

// peeringConcurrency bounds the consoles status --peering has open at once.
const peeringConcurrency = 8

func gatewayPods(snap *inventory.Snapshot, gw apic.Object) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range snap.PodsOfInstance(gw.Namespace(), gw.Name()) {
		if p.Labels[apic.KindLabel] == apic.DataPowerKindValue {
			out = append(out, p)
		}
	}
	return out
}

// readDRR reads the DRR journal of every gateway in snap (kubectl apic drr's lease).
func readDRR(ctx context.Context, s *kube.Site, snap *inventory.Snapshot, now time.Time) map[string]DRRRead {
	out := map[string]DRRRead{}
	for _, gw := range snap.ObjectsOf(apic.GatewayClusterKind) {
		j, err := pdrr.ReadJournal(ctx, s.Kube, gw.Namespace(), gw.Name(), now)
		if err != nil {
			err = explain.Error(err, s.Name, coordinationv1.SchemeGroupVersion.WithResource("leases"), "get")
		}
		out[gw.Namespace()+"/"+gw.Name()] = DRRRead{Journal: j, Err: err}
	}
	return out
}

// drrFindings reports a gateway left mid-DRR: the journal says a DRR flushed its peering and did
// not finish, or a member's apic-gw-service is disabled; and a DRR running now.
func drrFindings(site string, gw apic.Object, d DRRRead, reads map[string]PeeringRead) []hastate.Finding {
	var fs []hastate.Finding
	fix := pdrr.FinishCommand(gw.Name(), gw.Namespace(), site)
	if d.Err != nil {
		fs = append(fs, hastate.Finding{Severity: hastate.Info, Code: FindingDRRUnknown, Subsystem: apic.Gateway, Site: site,
			Message: fmt.Sprintf("%s: cannot read lease %s (kubectl apic drr's journal), so an unfinished DRR would not be seen: %v", gw.Ref(), pdrr.LeaseName(gw.Name()), d.Err)})
	}
	j := d.Journal
	if j.InProgress() {
		return append(fs, hastate.Finding{Severity: hastate.Warning, Code: FindingDRRInProgress, Subsystem: apic.Gateway, Site: site,
			Message: fmt.Sprintf("%s: a DRR is running (%s holds lease %s): its members' consoles were not read; look again when it ends", gw.Ref(), j.Holder, pdrr.LeaseName(gw.Name()))})
	}
	if j.Unfinished() {
		fs = append(fs, hastate.Finding{Severity: hastate.Critical, Code: FindingDRRUnfinished, Subsystem: apic.Gateway, Site: site,
			Message: fmt.Sprintf("%s was left mid-DRR: %s; the run recorded flushing gateway peering %s (before sending it) and no run finished the DRR since, so the gateway service may hold no configuration from the management server",
				gw.Ref(), j.Describe(), j.Peering),
			Fix: fix})
	}
	pods := make([]string, 0, len(reads))
	for p := range reads {
		pods = append(pods, p)
	}
	sort.Strings(pods)
	for _, p := range pods {
		if strings.EqualFold(reads[p].AdminState, "disabled") {
			fs = append(fs, hastate.Finding{Severity: hastate.Warning, Code: FindingGatewayServiceDisabled, Subsystem: apic.Gateway, Site: site,
				Message: fmt.Sprintf("%s member %s: apic-gw-service admin-state is disabled (show apic-gw-service): it is not registered with the management server", gw.Ref(), p),
				Fix:     fix})
		}
	}
	return fs
}

// attachMember is the default Options.Attach: pods/attach, as kubectl attach.
func attachMember(ctx context.Context, s *kube.Site, t datapower.AttachTarget) (datapower.Conn, error) {
	return datapower.Attach(ctx, s.Config, s.Kube, t)
}
