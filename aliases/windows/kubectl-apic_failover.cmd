@echo off
rem kubectl runs kubectl-apic_failover for `kubectl apic-failover`: hand over to kubectl-apic-failover beside this file,
rem telling it how it was invoked (for its usage lines).
setlocal
set "KUBECTL_APIC_INVOKED_AS=kubectl apic-failover"
"%~dp0kubectl-apic-failover.exe" %*
