@echo off
rem kubectl runs kubectl-apic_spread for `kubectl apic-spread`: hand over to kubectl-apic-spread beside this file,
rem telling it how it was invoked (for its usage lines).
setlocal
set "KUBECTL_APIC_INVOKED_AS=kubectl apic-spread"
"%~dp0kubectl-apic-spread.exe" %*
