package drr

import "github.com/kubectl-apic/kubectl-apic/pkg/exitcode"

// loginRefusal is the refusal of a run whose login (or input) was rejected on a member: one line,
// nothing changed. The session's error already names the Secret, the user and the fix.
func loginRefusal(views []memberView) error {
	for _, v := range views {
		if v.fatal {
			return exitcode.Newf(exitcode.Refused, "member %s: %v; nothing was changed", v.state.Pod, v.err)
		}
	}
	return nil
}
