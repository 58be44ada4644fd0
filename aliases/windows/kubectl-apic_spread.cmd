@echo off
rem kubectl runs kubectl-apic_spread for `kubectl apic-spread`: hand over to kubectl-apic-spread beside this file.
"%~dp0kubectl-apic-spread.exe" %*
