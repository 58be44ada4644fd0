@echo off
rem kubectl runs kubectl-apic_status for `kubectl apic-status`: hand over to kubectl-apic-status beside this file.
"%~dp0kubectl-apic-status.exe" %*
