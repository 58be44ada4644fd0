package failover

import (
	"fmt"
	"strings"

	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
	"github.com/kubectl-apic/kubectl-apic/pkg/hastate"
)

// identityCheck is how the run told the two contexts apart. The cluster identity is the UID of
// namespace kube-system; a user who may not read it is compared by API server URL only, which
// cannot tell one cluster served under two URLs (a load balancer and a node address, a DNS alias)
// from two clusters. Then failover says it cannot tell, rather than calling the one cluster's
// single active site a split-brain.
type identityCheck struct {
	req Request
	// unknown are the sites whose cluster identity could not be read.
	unknown []string
	servers [2]string // from, to
}

func (c identityCheck) known() bool { return len(c.unknown) == 0 }

// howToCheck says how to let failover read the cluster identity.
func (c identityCheck) howToCheck() string {
	return fmt.Sprintf("to let failover check, grant the user of %s get on namespace kube-system (kubectl create clusterrole apic-cluster-id --verb=get --resource=namespaces --resource-name=kube-system; kubectl create clusterrolebinding apic-cluster-id --clusterrole=apic-cluster-id --user=<user>), then re-run",
		strings.Join(c.unknown, " and "))
}

func (c identityCheck) cannotTell() string {
	return fmt.Sprintf("failover cannot tell whether contexts %s (%s) and %s (%s) are one cluster: reading the cluster identity (namespace kube-system) is forbidden on %s",
		c.req.From, c.servers[0], c.req.To, c.servers[1], strings.Join(c.unknown, " and "))
}

// sameObjects refuses when the identity is unknown and both contexts show the same object (the same
// UID): UIDs are unique per cluster, so the two contexts reach one cluster, and what looks like two
// active sites is one.
func (c identityCheck) sameObjects(pairs []hastate.Pair) error {
	if c.known() {
		return nil
	}
	for _, p := range pairs {
		from, ok1 := p.Member(c.req.From)
		to, ok2 := p.Member(c.req.To)
		if !ok1 || !ok2 || from.Status.U == nil || to.Status.U == nil {
			continue
		}
		if uid := from.Status.U.GetUID(); uid != "" && uid == to.Status.U.GetUID() {
			return exitcode.Newf(exitcode.Refused, "%s. Both show %s with the same UID (%s), which only one cluster can: they are most likely ONE cluster under two URLs, not two data centers, and not a split-brain: do not set a site passive because of it. A failover needs the contexts of two data centers. Nothing was changed; %s",
				c.cannotTell(), from.Status.Ref(), uid, c.howToCheck())
		}
	}
	return nil
}

// note adds to a split-brain refusal that failover could not confirm the contexts are two clusters.
func (c identityCheck) note(err error) error {
	if c.known() || err == nil || !strings.Contains(err.Error(), "active on both") && !strings.Contains(err.Error(), "split-brain") {
		return err
	}
	return exitcode.Newf(exitcode.FromError(err), "%v. Before acting on it: %s; if they are one cluster, this is not a split-brain; %s", err, c.cannotTell(), c.howToCheck())
}
