@echo off
rem kubectl runs kubectl-apic_status for `kubectl apic-status`: hand over to kubectl-apic-status beside this file,
rem telling it how it was invoked (for its usage lines).
setlocal
set "KUBECTL_APIC_INVOKED_AS=kubectl apic-status"
"%~dp0kubectl-apic-status.exe" %*
