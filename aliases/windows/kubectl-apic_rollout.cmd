@echo off
rem kubectl runs kubectl-apic_rollout for `kubectl apic-rollout`: hand over to kubectl-apic-rollout beside
rem this file, telling it how it was invoked (for its usage lines).
setlocal
set "KUBECTL_APIC_INVOKED_AS=kubectl apic-rollout"
"%~dp0kubectl-apic-rollout.exe" %*
