package status

import (
	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/printers"
)

// ObjectRefs makes -o name print the API Connect custom resources the report covers, kubectl's way
// (managementcluster.management.apiconnect.ibm.com/production-mgmt), in site order, each once: the
// two sites of a 2DCDR pair usually name their resources alike.
func (r Report) ObjectRefs() []printers.ObjectRef {
	var out []printers.ObjectRef
	seen := map[printers.ObjectRef]bool{}
	for _, s := range r.Sites {
		for _, sub := range s.Subsystems {
			k, ok := apic.KindFor(sub.Kind)
			if !ok {
				continue
			}
			ref := printers.ObjectRef{APIVersion: k.APIVersion(), Kind: k.Kind, Namespace: sub.Namespace, Name: sub.Name}
			if !seen[ref] {
				seen[ref] = true
				out = append(out, ref)
			}
		}
	}
	return out
}
