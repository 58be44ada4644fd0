@echo off
rem kubectl runs kubectl-apic_drr for `kubectl apic-drr`: hand over to kubectl-apic-drr beside this file,
rem telling it how it was invoked (for its usage lines).
setlocal
set "KUBECTL_APIC_INVOKED_AS=kubectl apic-drr"
"%~dp0kubectl-apic-drr.exe" %*
