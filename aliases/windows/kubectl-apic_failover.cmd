@echo off
rem kubectl runs kubectl-apic_failover for `kubectl apic-failover`: hand over to kubectl-apic-failover beside this file.
"%~dp0kubectl-apic-failover.exe" %*
