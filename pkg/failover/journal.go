package failover

import (
	"strings"

	coordinationv1 "k8s.io/api/coordination/v1"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

// The journal is a few annotations on the lock's Lease (on both sites): the direction of the last
// failover, whether it finished, and which router hooks ran. It is what lets a re-run tell "the
// failover dc1→dc2 I was running is half done" from "dc2 is active because someone else made it so",
// and it survives the lease's release and a crash of the run.
const (
	journalPrefix    = "failover.kubectl-apic.io/"
	JournalFrom      = journalPrefix + "from"
	JournalTo        = journalPrefix + "to"
	JournalState     = journalPrefix + "state"
	JournalStarted   = journalPrefix + "started"
	journalRouterPre = journalPrefix + "router-"
)

// Journal states.
const (
	JournalRunning   = "running"
	JournalSucceeded = "succeeded"
	JournalFailed    = "failed"
)

// JournalFromLeases reads the journal from the leases of the sites (any order); the most recently
// started record wins when they disagree.
func JournalFromLeases(leases ...*coordinationv1.Lease) Journal {
	var j Journal
	for _, le := range leases {
		if le == nil || le.Annotations[JournalFrom] == "" {
			continue
		}
		a := le.Annotations
		if j.From != "" && a[JournalStarted] < j.Started {
			continue
		}
		j = Journal{From: a[JournalFrom], To: a[JournalTo], State: a[JournalState], Started: a[JournalStarted],
			RouterDone: map[string]bool{}}
		for k, v := range a {
			if strings.HasPrefix(k, journalRouterPre) && v == "done" {
				j.RouterDone[strings.TrimPrefix(k, journalRouterPre)] = true
			}
		}
	}
	return j
}

// RouterKey is the journal's key for the router hook of one pair: the subsystem, then the CR name
// ("portal.production-ptl"), so that each of several portal services has its own record.
func RouterKey(sub apic.Subsystem, name string) string {
	if name == "" {
		return string(sub)
	}
	return string(sub) + "." + name
}

// journalStart is the record of a failover starting (fresh) or resuming. A fresh start removes the
// previous failover's router records (those in prev).
func journalStart(req Request, started string, fresh bool, prev Journal) map[string]string {
	kv := map[string]string{JournalFrom: req.From, JournalTo: req.To, JournalState: JournalRunning, JournalStarted: started}
	if fresh {
		for k := range prev.RouterDone {
			kv[journalRouterPre+k] = "" // removes a previous failover's record
		}
	}
	return kv
}

func journalRouterDone(sub apic.Subsystem, name string) map[string]string {
	return map[string]string{journalRouterPre + RouterKey(sub, name): "done"}
}
