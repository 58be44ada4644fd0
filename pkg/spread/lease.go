package spread

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

// LeasePrefix starts the name of every Lease spread takes.
const LeasePrefix = "apic-spread-"

// LeaseName is the coordination.k8s.io Lease that serialises spread apply and remove on one CR, in
// the CR's namespace: apic-spread-<kind>-<name>, e.g. apic-spread-gw-production-gw. Names too long
// for a Lease end in a hash of the full name instead.
func LeaseName(o apic.Object) string {
	n := LeasePrefix + strings.ToLower(o.Kind.Display()) + "-" + o.Name()
	if len(n) <= 253 {
		return n
	}
	sum := sha256.Sum256([]byte(n))
	return strings.TrimRight(n[:253-17], "-.") + "-" + hex.EncodeToString(sum[:])[:16]
}
