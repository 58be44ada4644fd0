@echo off
rem kubectl runs kubectl-apic_drr for `kubectl apic-drr`: hand over to kubectl-apic-drr beside this file.
"%~dp0kubectl-apic-drr.exe" %*
